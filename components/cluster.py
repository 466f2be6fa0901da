"""The AKS cluster: system pool inline, autoscaled user pool, and a Kubernetes provider."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime
from typing import TypedDict

import pulumi
import pulumi_kubernetes as k8s
import yaml
from pulumi_azure_native import authorization, containerservice

from . import charts, cluster_spec, naming, roles
from .config import StackConfig
from .release import helm_release


class AksClusterArgs(TypedDict):
    config: StackConfig
    """The validated stack config."""
    resource_group_name: pulumi.Input[str]
    """Resource group that holds the cluster."""


def _decode_kubeconfig(creds: containerservice.ListManagedClusterUserCredentialsResult) -> str:
    return base64.b64decode(creds.kubeconfigs[0].value).decode()


def _azure_cli_kubeconfig(creds: containerservice.ListManagedClusterUserCredentialsResult) -> str:
    text = _decode_kubeconfig(creds)
    return yaml.safe_dump(cluster_spec.kubeconfig_for_azure_cli(yaml.safe_load(text)), sort_keys=False)


async def _after_rbac_settles(kubeconfig: str, created_on: list[str | None]) -> str:
    """The kubeconfig, once every admin role assignment is old enough for AKS to honour it."""
    wait = max((roles.settle_seconds(c, datetime.now(UTC)) for c in created_on), default=0.0)
    if wait > 0:
        pulumi.log.info(f"waiting {wait:.0f} s for the new cluster-admin role assignments to reach the cluster "
                        "(Azure RBAC takes up to five minutes)")
        await asyncio.sleep(wait)
    return kubeconfig


class AksCluster(pulumi.ComponentResource):
    """An AKS cluster sized by `cluster` in the stack config."""

    cluster_name: pulumi.Output[str]
    """Azure name of the managed cluster."""
    kubelet_object_id: pulumi.Output[str]
    """Object ID of the kubelet identity (pulls images, e.g. from ACR)."""
    principal_id: pulumi.Output[str]
    """Object ID of the cluster's own (control plane) identity, which manages load balancers."""
    kubeconfig: pulumi.Output[str]
    """User kubeconfig, a secret: it grants access to the cluster."""
    provider: k8s.Provider
    """Kubernetes provider for everything installed on this cluster."""

    def __init__(self, name: str, args: AksClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("binderhub-azure:cluster:AksCluster", name, None, opts)
        cfg = args["config"]
        child = pulumi.ResourceOptions(parent=self)

        cluster = containerservice.ManagedCluster(
            f"{name}-aks",
            resource_group_name=args["resource_group_name"],
            **cluster_spec.cluster_args(cfg),
            opts=child.merge(pulumi.ResourceOptions(
                protect=cfg.protect_resources,
                # Creation usually takes minutes but has been seen to take over 20.
                custom_timeouts=pulumi.CustomTimeouts(create="60m", update="60m", delete="60m"),
            )),
        )

        pools = {"user": cluster_spec.user_pool_args(cfg), "gpu": cluster_spec.gpu_pool_args(cfg),
                 "build": cluster_spec.build_pool_args(cfg)}
        for suffix, pool_args in pools.items():
            if pool_args is None:
                continue
            containerservice.AgentPool(
                f"{name}-{suffix}",
                resource_group_name=args["resource_group_name"],
                resource_name_=cluster.name,
                **pool_args,
                tags=naming.tags(cfg),
                opts=child.merge(pulumi.ResourceOptions(
                    # A version bump upgrades the control plane first, then this pool.
                    depends_on=[cluster],
                    # The autoscaler owns the node count once the pool exists.
                    ignore_changes=["count"],
                    custom_timeouts=pulumi.CustomTimeouts(create="45m", update="45m", delete="45m"),
                )),
            )

        # Which kubeconfig Pulumi uses: without Entra ID, the user credential (a certificate);
        # with Entra ID and local accounts, the static admin credential (works without
        # kubelogin); with local accounts disabled, an Entra ID token from `az login`
        # through kubelogin. It is also the `kubeconfig` output for humans.
        lookup = {"resource_group_name": args["resource_group_name"], "resource_name": cluster.name,
                  "opts": pulumi.InvokeOutputOptions(parent=self)}
        entra = bool(cfg.cluster.entra_admin_group_ids)
        if not entra:
            kubeconfig = containerservice.list_managed_cluster_user_credentials_output(**lookup).apply(
                _decode_kubeconfig)
        elif not cfg.cluster.disable_local_accounts:
            kubeconfig = containerservice.list_managed_cluster_admin_credentials_output(**lookup).apply(
                _decode_kubeconfig)
        else:
            kubeconfig = containerservice.list_managed_cluster_user_credentials_output(
                format="exec", **lookup).apply(_azure_cli_kubeconfig)
        # What every Kubernetes resource must wait for: with Entra ID, the cluster-admin role
        # assignments (before they exist the API server answers 403).
        self.ready: list[pulumi.Resource] = []
        admins: list[authorization.RoleAssignment] = []
        if entra:
            # Admin access is explicit: the configured principals (and AKS's admin groups). An
            # assignment to "whoever runs pulumi up" would follow the last runner, so a laptop and
            # CI taking turns would delete and recreate it and lock each other out.
            for principal in cfg.cluster.admin_principals:
                admins.append(roles.assign_role(
                    f"{name}-admin-{principal.object_id.lower()}", role=roles.AKS_RBAC_CLUSTER_ADMIN,
                    principal_id=principal.object_id, principal_type=principal.type, scope=cluster.id, parent=self))
            for principal in cfg.cluster.reader_principals:
                roles.assign_role(
                    f"{name}-reader-{principal.object_id.lower()}", role=roles.AKS_RBAC_READER,
                    principal_id=principal.object_id, principal_type=principal.type, scope=cluster.id, parent=self)
            self.ready.extend(admins)
        # The invokes' results are not marked secret by the provider; the kubeconfig holds a
        # credential, so it is wrapped before it reaches the provider or a stack output.
        self.kubeconfig = pulumi.Output.secret(kubeconfig)
        # Every Kubernetes resource uses this provider, and the engine creates a provider only
        # after its dependencies: so nothing reaches the API server before `ready`. A new admin
        # assignment also needs time to reach AKS's authorizer (up to five minutes): the provider
        # gets its kubeconfig only once the newest one is that old, so the first `pulumi up` of
        # a cluster waits instead of failing with 403. Older assignments add no wait.
        provider_kubeconfig = self.kubeconfig
        if admins:
            provider_kubeconfig = pulumi.Output.all(self.kubeconfig, *[a.created_on for a in admins]).apply(
                lambda values: _after_rbac_settles(values[0], values[1:]))
        # deleteUnreachable lets `pulumi destroy` finish when the cluster is already gone. With a
        # sleep schedule the API server is off most nights, and the provider cannot tell asleep from
        # gone: a refresh then (CI's `up` refreshes first, before the program's awake check) would
        # drop every Kubernetes object from the state (pulumi-kubernetes provider.go, Read). So a
        # sleeping stack's refresh fails instead; PULUMI_K8S_DELETE_UNREACHABLE=true still applies.
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=provider_kubeconfig,
            delete_unreachable=None if cfg.schedule else True,
            opts=child.merge(pulumi.ResourceOptions(depends_on=self.ready)),
        )
        if cfg.cluster.gpu_pool:
            helm_release(f"{name}-nvidia-device-plugin", "nvidia-device-plugin", charts.NVIDIA_DEVICE_PLUGIN,
                         "kube-system", cluster_spec.device_plugin_values(), parent=self, provider=self.provider)
        self.cluster_name = cluster.name
        self.cluster_id = cluster.id  # what a sleep schedule starts and stops
        self.kubelet_object_id = cluster.identity_profile.apply(
            lambda profile: (profile or {})["kubeletidentity"].object_id
        )
        self.principal_id = cluster.identity.apply(lambda identity: identity.principal_id if identity else "")
        self.register_outputs({
            "clusterName": self.cluster_name,
            "kubeletObjectId": self.kubelet_object_id,
            "kubeconfig": self.kubeconfig,
        })
