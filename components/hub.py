"""The hub release: BinderHub with its JupyterHub, or JupyterHub alone, with stable secrets."""

from __future__ import annotations

from typing import TypedDict

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from . import charts, hub_spec, naming, practices_spec
from .config import StackConfig
from .hub_spec import HubSecrets, RegistryWiring
from .release import helm_release
from .repos_spec import RepoTokens

# Installing the hub pulls large images and may wait for a new user node: be patient.
HUB_TIMEOUT = 1800  # seconds


class HubArgs(TypedDict):
    config: StackConfig
    """The validated stack config."""
    registry: RegistryWiring | None
    """Where BinderHub pushes images (binderhub mode), None in jupyterhub mode."""
    auth_client_secret: pulumi.Input[str] | None
    """The OAuth client secret (a Pulumi secret), when login is on."""
    repo_tokens: RepoTokens
    """BinderHub's repository tokens (Pulumi secrets), those the stack holds."""
    depends_on: list[pulumi.Resource]
    """Ingress controller and issuers, installed first."""


class Hub(pulumi.ComponentResource):
    """The JupyterHub or BinderHub Helm release and the secrets it needs."""

    site_url: pulumi.Output[str]
    """Where users go: the Binder launch page, or the JupyterHub login."""
    hub_url: pulumi.Output[str]
    """The JupyterHub URL (in binderhub mode, below the Binder site)."""
    release: k8s.helm.v3.Release
    """The hub's Helm release (it creates the namespace)."""
    namespace: str
    """Namespace of the hub and its users' pods."""

    def __init__(self, name: str, args: HubArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("binderhub-azure:hub:Hub", name, None, opts)
        cfg = args["config"]

        def token(purpose: str) -> pulumi.Output[str]:
            # 32 random bytes as hex, the form JupyterHub expects for its cookie secret and
            # CryptKeeper keys. Created once and kept in state, so an update never rotates it.
            generated = random.RandomBytes(f"{name}-{purpose}", length=32,
                                           opts=pulumi.ResourceOptions(parent=self))
            return pulumi.Output.secret(generated.hex)

        secrets = HubSecrets(
            proxy_token=token("proxy-token"),
            cookie_secret=token("cookie-secret"),
            crypt_key=token("crypt-key"),
            binder_api_token=token("binder-api-token") if cfg.binder else None,
            build_token=token("build-token") if cfg.binder else None,
            auth_client_secret=args["auth_client_secret"],
            sleep_api_token=token("sleep-api-token") if cfg.schedule else None,
            repo_tokens=args["repo_tokens"],
        )
        self.sleep_api_token = secrets.sleep_api_token
        on_cluster = pulumi.ResourceOptions(parent=self)  # the cluster provider comes from `providers=`
        storage = k8s.storage.v1.StorageClass(
            f"{name}-db-storage", **hub_spec.hub_db_storage_class(),
            opts=on_cluster.merge(pulumi.ResourceOptions(protect=cfg.protect_resources)),
        )
        values = hub_spec.release_values(cfg, secrets, args["registry"])
        chart = charts.BINDERHUB if cfg.binder else charts.JUPYTERHUB
        first: list[pulumi.Resource] = [*args["depends_on"], storage]
        if cfg.binder and cfg.binder_site.launch_events:
            # The binder pod mounts the launch-events claim, so claim (and namespace) come first.
            namespace = k8s.core.v1.Namespace(f"{name}-namespace", metadata={"name": cfg.mode}, opts=on_cluster)
            claim = practices_spec.events_claim(cfg.mode)
            first.append(k8s.core.v1.PersistentVolumeClaim(
                f"{name}-events-claim", metadata=claim["metadata"], spec=claim["spec"],
                opts=on_cluster.merge(pulumi.ResourceOptions(depends_on=[namespace])),
            ))
        release = helm_release(f"{name}-release", cfg.mode, chart, cfg.mode, values, parent=self,
                               timeout=HUB_TIMEOUT, depends_on=first)
        if cfg.home_storage == "shared":
            # One NFS share for every home; user servers (not the release) mount it.
            home_class = k8s.storage.v1.StorageClass(
                f"{name}-home-nfs", **practices_spec.home_storage_class(),
                opts=on_cluster.merge(pulumi.ResourceOptions(protect=cfg.protect_resources)))
            claim = practices_spec.home_claim(cfg, cfg.mode)
            k8s.core.v1.PersistentVolumeClaim(
                f"{name}-home-nfs-claim", metadata=claim["metadata"], spec=claim["spec"],
                opts=on_cluster.merge(pulumi.ResourceOptions(depends_on=[release, home_class],
                                                             protect=cfg.protect_resources)),
            )
        self.release = release
        self.namespace = cfg.mode
        if cfg.binder:
            policy = hub_spec.build_pod_network_policy(cfg, cfg.mode)
            k8s.networking.v1.NetworkPolicy(
                f"{name}-build-egress", metadata=policy["metadata"], spec=policy["spec"],
                opts=on_cluster.merge(pulumi.ResourceOptions(depends_on=[release])),
            )

        self.site_url = pulumi.Output.from_input(naming.site_url(cfg))
        self.hub_url = pulumi.Output.from_input(naming.hub_url(cfg))
        self.register_outputs({"siteUrl": self.site_url, "hubUrl": self.hub_url})
