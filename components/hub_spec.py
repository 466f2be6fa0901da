"""Helm values for the JupyterHub and BinderHub charts, built from the config (pure).

Secrets come in as opaque values (`HubSecrets`): strings in tests, Pulumi secret
Outputs in the program, so the builders never need to know which.

Routing: one host name. In binderhub mode BinderHub answers at `/` and JupyterHub at
`/jupyter/` (its `hub.baseUrl`); in jupyterhub mode JupyterHub answers at `/`. TLS
ends at the Traefik ingress with a cert-manager certificate, so both chart services
are ClusterIP.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import charts, practices_spec, repos_spec, sleep_spec
from .charts import merge
from .cluster_spec import BUILD_NODES, GPU_LABEL, GPU_TOLERATION, NODE_PURPOSE, SPOT_TOLERATION, USER_TOLERATIONS
from .dataset_spec import user_pod_storage
from .ingress_spec import INGRESS_CLASS
from .naming import BINDER_HUB_PATH, hub_base_url, hub_url, site_url
from .quantities import kubernetes_memory

if TYPE_CHECKING:
    from .config import StackConfig

CLOUD_METADATA_IP = "169.254.169.254"
# Address ranges no untrusted pod may reach: link-local (cloud metadata), the private
# ranges (cluster, VNet, other tenants' services) and carrier-grade NAT.
NON_PUBLIC_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16"]
# Azure's platform address (DNS, health probes, the VM agent's wireserver).
AZURE_PLATFORM_IP = "168.63.129.16/32"
HUB_DB_STORAGE_CLASS = "hub-db-retain"
# Pods that run untrusted build steps: repo2docker's build pods and the dind daemons.
BUILD_POD_COMPONENTS = ["binderhub-build", "image-builder", "dind"]
# In-cluster address of JupyterHub's proxy Service (z2jh names it proxy-public).
PROXY_SERVICE = "http://proxy-public"
BINDER_OAUTH_CLIENT = "service-binderhub"
# The credential key container runtimes use for Docker Hub images (also BinderHub's default).
DOCKER_HUB_AUTH_URL = "https://index.docker.io/v1/"  # the name BinderHub's authentication docs use
# What the build daemon (one per build node) requests, shared by every build on that node.
DIND_REQUESTS = {"cpu": "0.5", "memory": "1Gi"}


@dataclass(frozen=True)
class HubSecrets:
    """Chart secrets set explicitly, so that no render regenerates them."""

    proxy_token: Any
    cookie_secret: Any
    crypt_key: Any
    binder_api_token: Any = None
    build_token: Any = None
    auth_client_secret: Any = None
    sleep_api_token: Any = None  # the sleep schedule's hub service (components/sleep_spec.py)
    repo_tokens: repos_spec.RepoTokens = field(default_factory=repos_spec.RepoTokens)
    """BinderHub's repository tokens (githubToken, gitlabToken, githubEnterpriseToken)."""


@dataclass(frozen=True)
class RegistryWiring:
    """Where BinderHub pushes images and with which credential."""

    url: str | None
    """`https://<acr>.azurecr.io`; None for Docker Hub (the chart's default)."""
    username: Any
    password: Any
    image_prefix: Any
    token_url: str | None = None
    """An explicit `DockerRegistry.token_url`, a plain string (never a Pulumi Output: it is
    tested for truth when the values are built). None lets BinderHub follow the registry's
    `WWW-Authenticate` challenge, which is what ACR needs (see `acr_wiring`)."""


def issuer_name(cfg: StackConfig) -> str:
    return f"letsencrypt-{cfg.lets_encrypt}"


def tls_secret_name(cfg: StackConfig) -> str:
    return f"{cfg.institution}-tls"


def acr_wiring(cfg: StackConfig, login_server: str, username: Any, password: Any) -> RegistryWiring:
    """ACR: images under `<login server>/<imagePrefix>`.

    No `DockerRegistry.token_url` on purpose (jupyterhub/binderhub#1620). At the pinned
    BinderHub commit (af9ca8b1, `binderhub/registry.py`, `get_image_manifest`) a set
    `token_url` is called with `service=container_registry` appended, so ACR's token endpoint
    gets a wrong (or, with `?service=` in the URL, a second) service and refuses: BinderHub
    never finds its images and rebuilds on every launch. With `token_url` unset (its default
    for a registry that is neither Docker Hub nor gcr.io is empty), BinderHub asks for the
    manifest with basic auth and, on ACR's 401, follows the `WWW-Authenticate: Bearer
    realm=...,service=<login server>,scope=repository:<image>:pull` challenge: a token from the
    realm with exactly that service and scope, then the manifest with the bearer token.
    tests/test_acr_token_flow.py replays that request sequence against a fake ACR."""
    path = cfg.registry.image_prefix or f"binder/{cfg.institution}-"
    return RegistryWiring(
        url=f"https://{login_server}", username=username, password=password,
        image_prefix=f"{login_server}/{path}",
    )


def dockerhub_wiring(cfg: StackConfig, token: Any) -> RegistryWiring:
    """Docker Hub: the chart's default registry URL, the user's access token."""
    return RegistryWiring(
        url=None, username=cfg.registry.username, password=token,
        image_prefix=cfg.registry.image_prefix or f"{cfg.registry.username}/binder-",
    )


def _ingress(cfg: StackConfig, with_certificate: bool) -> dict[str, Any]:
    """An ingress block; only one of the two ingresses on the host asks cert-manager for the
    certificate, both serve it (same namespace, same Secret)."""
    block: dict[str, Any] = {"enabled": True, "ingressClassName": INGRESS_CLASS, "hosts": [cfg.host]}
    if cfg.https:
        if with_certificate:
            block["annotations"] = {"cert-manager.io/cluster-issuer": issuer_name(cfg)}
        block["tls"] = [{"hosts": [cfg.host], "secretName": tls_secret_name(cfg)}]
    return block


def authenticator_config(cfg: StackConfig, secrets: HubSecrets) -> dict[str, Any]:
    """`hub.config` entries for the chosen login."""
    auth = cfg.auth
    if auth.type == "none":
        return {}
    callback = f"{hub_url(cfg)}hub/oauth_callback"
    common: dict[str, Any] = {
        "client_id": auth.client_id,
        "client_secret": secrets.auth_client_secret,
        "oauth_callback_url": callback,
    }
    authenticator: dict[str, Any] = {"admin_users": list(auth.admins)}
    if auth.allowed_users:
        authenticator["allowed_users"] = list(auth.allowed_users)
    if cfg.allow_all:
        authenticator["allow_all"] = True
    if auth.type == "github":
        github = dict(common)
        if auth.allowed_organizations:
            github["allowed_organizations"] = list(auth.allowed_organizations)
            # Team membership ("org:team") and private org membership need this scope.
            github["scope"] = ["read:org"]
        return {"JupyterHub": {"authenticator_class": "github"}, "GitHubOAuthenticator": github,
                "Authenticator": authenticator}
    entra = {**common, "tenant_id": auth.tenant_id, "username_claim": "preferred_username"}
    return {"JupyterHub": {"authenticator_class": "azuread"}, "AzureAdOAuthenticator": entra,
            "Authenticator": authenticator}


def jupyterhub_values(cfg: StackConfig, secrets: HubSecrets) -> dict[str, Any]:
    """Values of the JupyterHub chart: standalone (jupyterhub mode) or BinderHub's `jupyterhub:` block."""
    limits = cfg.limits
    user_affinity = {"nodeAffinity": {"matchNodePurpose": "require"}}
    hub_config: dict[str, Any] = {"CryptKeeper": {"keys": [secrets.crypt_key]}}
    hub_config = merge(hub_config, authenticator_config(cfg, secrets))
    singleuser: dict[str, Any] = {
        "memory": {"limit": limits.memory, "guarantee": limits.memory},
        "cpu": {"limit": limits.cpu, "guarantee": round(limits.cpu / 4, 3)},
        # The chart's default, stated so that a merge can't drop it: user pods must not
        # reach the Azure instance metadata service (it hands out the node's identity).
        "cloudMetadata": {"blockWithIptables": cfg.security.block_cloud_metadata, "ip": CLOUD_METADATA_IP},
        # z2jh's user-pod egress policy, stated in full: DNS, and the public internet through the
        # stack's own rule instead of z2jh's `nonPrivateIPs` (see user_egress_rules).
        "networkPolicy": {"enabled": True, "egressAllowRules": {
            "cloudMetadataServer": not cfg.security.block_cloud_metadata,
            "privateIPs": False,
            "nonPrivateIPs": False,
            "dnsPortsCloudMetadataServer": False,  # a GKE convenience; Azure DNS is not there
            "dnsPortsKubeSystemNamespace": True,
            "dnsPortsPrivateIPs": True,
        }, "egress": user_egress_rules()},
    }
    singleuser["defaultUrl"] = cfg.default_url
    if cfg.datasets:
        singleuser["storage"] = user_pod_storage(cfg)
    if cfg.cluster.user_pool.spot:
        singleuser["extraTolerations"] = [SPOT_TOLERATION]
    if cfg.profiles:
        singleuser["profileList"] = [_profile(cfg, profile) for profile in cfg.profiles]
    values: dict[str, Any] = {
        "hub": {
            "baseUrl": hub_base_url(cfg),
            "cookieSecret": secrets.cookie_secret,
            "config": hub_config,
            # The hub's database lives on a disk that outlives its claim (Retain).
            "db": {"type": "sqlite-pvc", "pvc": {"storageClassName": HUB_DB_STORAGE_CLASS, "storage": "1Gi"}},
        },
        "proxy": {
            "secretToken": secrets.proxy_token,
            "service": {"type": "ClusterIP"},
        },
        "ingress": _ingress(cfg, with_certificate=not cfg.binder),
        "singleuser": singleuser,
        "scheduling": {
            "userPods": user_affinity,
            "corePods": {"nodeAffinity": {"matchNodePurpose": "require"}},
            "userScheduler": {"enabled": cfg.speed.user_scheduler},
            "userPlaceholder": {"enabled": cfg.speed.placeholders > 0, "replicas": cfg.speed.placeholders},
        },
        "cull": {
            "enabled": True,
            "timeout": cfg.cull_idle_minutes * 60,
            "every": min(600, max(60, cfg.cull_idle_minutes * 30)),
            "maxAge": int(cfg.max_age_hours * 3600),
        },
    }
    if cfg.speed.placeholders > 0:
        values["scheduling"]["userPlaceholder"] |= placeholder_values(cfg)
    if cfg.monitoring.enabled:
        values = merge(values, _hub_metrics_values())
    if not cfg.binder:
        pull = cfg.speed.pre_puller
        values["prePuller"] = {"hook": {"enabled": pull}, "continuous": {"enabled": pull}}
    if cfg.binder:
        values["hub"]["services"] = {"binder": {"apiToken": secrets.binder_api_token}}
        if cfg.auth.type != "none":
            values = merge(values, _binder_auth_jupyterhub(cfg))
    if cfg.schedule is not None:  # announce the awake hours; stop servers before a sleep
        values = merge(values, sleep_spec.hub_values(cfg.schedule, secrets.sleep_api_token))
    # Core priority and resources, kernel culling, pod hardening, home storage.
    chart = charts.BINDERHUB_JUPYTERHUB if cfg.binder else charts.JUPYTERHUB
    values = merge(values, practices_spec.jupyterhub_practices(cfg, chart))
    return values


def _profile(cfg: StackConfig, profile: Any) -> dict[str, Any]:
    """A KubeSpawner profile: its image and limits, and for GPU profiles one GPU on a GPU node."""
    memory = profile.memory or cfg.limits.memory
    cpu = profile.cpu or cfg.limits.cpu
    override: dict[str, Any] = {
        "image": profile.image,
        "mem_limit": memory,
        "mem_guarantee": memory,
        "cpu_limit": cpu,
        "cpu_guarantee": round(cpu / 4, 3),
    }
    if profile.default_url:
        override["default_url"] = profile.default_url
    if profile.gpu:
        override["extra_resource_limits"] = {"nvidia.com/gpu": "1"}
        override["node_selector"] = dict(GPU_LABEL)
        # An override replaces the tolerations z2jh would give, so restate those too.
        tolerations = [*USER_TOLERATIONS, GPU_TOLERATION]
        if cfg.cluster.user_pool.spot:
            tolerations.append(SPOT_TOLERATION)
        override["tolerations"] = tolerations
    entry: dict[str, Any] = {"display_name": profile.display_name, "description": profile.description,
                             "kubespawner_override": override}
    if profile.default:
        entry["default"] = True
    return entry


def placeholder_values(cfg: StackConfig) -> dict[str, Any]:
    """`scheduling.userPlaceholder` beyond enabled/replicas: each placeholder requests exactly
    what a user server requests, and has the stack's placeholder priority class.

    Without `resources`, z2jh copies `singleuser.memory.guarantee` ("2G") into the placeholder's
    pod spec, where Kubernetes reads 2*10^9 bytes, while KubeSpawner gives the user pod 2 GiB
    (JupyterHub's ByteSpecification): each placeholder would hold 7 % less room than the user
    who takes it needs. So the request is written in Kubernetes' own units here.

    The class is given through `extraPodSpec`, like the core class, not through z2jh's
    `scheduling.podPriority`: that would also write the chart's `priorityClassName` into the hub,
    proxy and user-scheduler pod specs (z2jh 4.4.0 templates/hub/deployment.yaml,
    proxy/deployment.yaml, scheduling/user-scheduler/deployment.yaml), next to the core class of
    their `extraPodSpec`: a key twice in one pod spec, which works only because the decoder keeps
    the last. (z2jh's NOTES then warn about placeholders without pod priority; the stack's class
    is what that warning asks for.)"""
    limits = cfg.limits
    memory = kubernetes_memory(limits.memory)
    return {
        "resources": {"requests": {"cpu": round(limits.cpu / 4, 3), "memory": memory},
                      "limits": {"cpu": limits.cpu, "memory": memory}},
        "extraPodSpec": {"priorityClassName": practices_spec.USER_PLACEHOLDER_PRIORITY_CLASS},
    }


def _hub_metrics_values() -> dict[str, Any]:
    """Let the monitoring Prometheus read /hub/metrics: no token needed (the numbers are
    aggregate counts, and anyone can then read them), and the hub's network policy admits
    labelled pods from other namespaces."""
    return {"hub": {"authenticatePrometheus": False, "networkPolicy": {"interNamespaceAccessLabels": "accept"}}}


def _binder_auth_jupyterhub(cfg: StackConfig) -> dict[str, Any]:
    """JupyterHub side of an authenticated BinderHub: binder is an OAuth client of the hub,
    and users may access it."""
    return {
        "hub": {
            "redirectToServer": False,
            "config": {"BinderSpawner": {"auth_enabled": True}},
            "loadRoles": {"user": {"scopes": ["self", "access:services!service=binder"]}},
            "services": {"binder": {
                "oauth_no_confirm": True,
                "oauth_redirect_uri": f"{site_url(cfg)}oauth_callback",
                "oauth_client_id": BINDER_OAUTH_CLIENT,
            }},
        },
        # Logged-in users keep their identity: cull servers, not users.
        "cull": {"users": False},
        # Authenticated servers start through JupyterHub's single-user entry point.
        "singleuser": {"cmd": "jupyterhub-singleuser"},
    }


def binder_hub_image() -> dict[str, str]:
    """`jupyterhub.hub.image` of the BinderHub chart: the hub image of the JupyterHub chart that
    jupyterhub mode installs, instead of the older one the BinderHub chart bundles.

    The pinned BinderHub chart (jupyterhub/binderhub af9ca8b1, helm-chart/binderhub/Chart.yaml)
    depends on the JupyterHub chart 4.2.0, whose hub image runs JupyterHub 5.3.0
    (zero-to-jupyterhub-k8s 4.2.0, images/hub/requirements.txt). JupyterHub fixed three
    advisories after that (z2jh docs/source/changelog.md; pins.json `images.binderhub-hub`):
    CVE-2026-33709 (z2jh 4.3.3, JupyterHub 5.4.4), CVE-2026-40864 (4.3.4, 5.4.5) and
    GHSA-p43p-whwx-q52h (4.4.0, 5.5.0).

    A newer BinderHub chart would not bring them: binderhub main, as far as checked (b9fad995,
    April 2026), still depends on the JupyterHub chart 4.2.0, and mybinder.org, on BinderHub
    chart 1.0.0-0.dev.git.3983.h383374de, sets no hub image (mybinder.org-deploy
    mybinder/values.yaml at 95860dbc), so it runs the hub that chart bundles. Setting the subchart's `hub.image` is what
    2i2c does to give its hubs their own image (2i2c-org/infrastructure helm-charts/chartpress.yaml,
    `valuesPath: jupyterhub.hub.image`). So we keep the BinderHub chart and give its hub z2jh
    4.4.0's image (JupyterHub 5.5.0, KubeSpawner 7.0.0 as in 4.2.0, OAuthenticator 17.4.0; its
    Dockerfile is 4.2.0's, only the package pins differ): the chart's z2jh 4.2.0
    jupyterhub_config.py and BinderSpawner code run on it, which tests/test_hub_config_loads.py
    checks by loading them with those packages.

    Only the hub image carries JupyterHub. The 4.2.0 chart's other images (configurable-http-proxy
    4.6.3, network-tools, image-awaiter, secret-sync) keep their tags: no advisory above concerns
    them, and the proxy's next version (5.x, z2jh 4.3.0) is a major one. `helmValues.jupyterhub.hub.image`
    still overrides this."""
    return {"name": charts.BINDERHUB_HUB_IMAGE, "tag": charts.BINDERHUB_HUB_TAG}


def binderhub_values(cfg: StackConfig, secrets: HubSecrets, registry: RegistryWiring) -> dict[str, Any]:
    """Values of the BinderHub chart (binderhub mode), its JupyterHub included."""
    # Builds run on the build pool when there is one (always with a spot user pool: spot nodes
    # carry a taint that the pinned BinderHub's build pods cannot tolerate), else on the user
    # pool; never on the system node. `build_node_selector` places the build pods (as
    # KubernetesBuildExecutor.node_selector) and the dind and image-cleaner DaemonSets.
    build_nodes = dict(BUILD_NODES) if cfg.build_pool else {NODE_PURPOSE: "user"}
    binder_config: dict[str, Any] = {
        "hub_url": hub_url(cfg),
        # Talk to JupyterHub inside the cluster, not through the load balancer.
        "hub_url_local": f"{PROXY_SERVICE}{BINDER_HUB_PATH}",
        "use_registry": True,
        "image_prefix": registry.image_prefix,
        "build_node_selector": build_nodes,
        "per_repo_quota": cfg.limits.per_repo_quota,
        "build_token_secret": secrets.build_token,
        "auth_enabled": cfg.auth.type != "none",
    }
    config: dict[str, Any] = {
        "BinderHub": binder_config,
        # The repo2docker pod only drives the build; the build itself runs in the dind
        # daemon, whose own limit (below) bounds its memory.
        "KubernetesBuildExecutor": {"build_image": charts.REPO2DOCKER_IMAGE, "resources": {
            "requests": {"cpu": "100m", "memory": "512Mi"},
            "limits": {"cpu": "1", "memory": "2G", "ephemeral-storage": "2G"},
        }},
    }
    if cfg.limits.total_quota:
        # `BinderHub.pod_quota` is a deprecated alias at the pinned commit (binderhub/app.py).
        config["LaunchQuota"] = {"total_quota": cfg.limits.total_quota}
    repos: dict[str, Any] = {}
    if cfg.security.banned_repos:
        repos["banned_specs"] = list(cfg.security.banned_repos)
    if cfg.security.allowed_repos:
        repos["allowed_specs"] = list(cfg.security.allowed_repos)
    if repos:
        config["RepoProvider"] = repos
    if registry.token_url is not None and not isinstance(registry.token_url, str):
        # An Output is always true: testing it would set a token URL whatever it resolves to.
        raise TypeError("RegistryWiring.token_url must be a plain string or None")
    if registry.token_url:
        config["DockerRegistry"] = {"token_url": registry.token_url}
    registry_values: dict[str, Any] = {"username": registry.username, "password": registry.password}
    if registry.url:
        registry_values["url"] = registry.url
    dind: dict[str, Any] = {
        "daemonset": {"image": {"tag": charts.DIND_IMAGE_TAG}},
        "resources": {
            "requests": dict(DIND_REQUESTS),
            # limits.buildMemory means what JupyterHub's sizes mean (2G = 2 GiB); Kubernetes reads
            # "2G" as 10^9 bytes, so it gets the same bytes written its way ("2Gi").
            "limits": {"memory": kubernetes_memory(cfg.limits.build_memory)},
        },
        # The chart's defaults, stated: the image cleaner reads these in dind mode
        # (templates/image-cleaner.yaml at af9ca8b1), never `imageCleaner.host.*`.
        "hostSocketDir": "/var/run/dind",
        "hostLibDir": "/var/lib/dind",
    }
    values: dict[str, Any] = {
        "service": {"type": "ClusterIP"},
        "registry": registry_values,
        "config": config,
        # AKS nodes run containerd and have no /var/run/docker.sock: build with a
        # Docker-in-Docker daemon per build node instead of the host's socket.
        "imageBuilderType": "dind",
        "dind": dind,
        "ingress": _ingress(cfg, with_certificate=True),
        "jupyterhub": merge(jupyterhub_values(cfg, secrets), {"hub": {"image": binder_hub_image()}}),
    }
    # Core priority, site texts, build timeout, image cleaner thresholds, launch events.
    values = merge(values, practices_spec.binderhub_practices(cfg))
    # Repository providers, their tokens (secret values) and CORS.
    values = merge(values, repos_spec.binder_repo_values(cfg, secrets.repo_tokens))
    if cfg.uses_dockerhub:
        values["jupyterhub"]["imagePullSecret"] = dockerhub_pull_secret(registry)
    return values


def dockerhub_pull_secret(registry: RegistryWiring) -> dict[str, Any]:
    """z2jh's `imagePullSecret` from the Docker Hub token the stack already has: the chart makes
    a pull secret and (automaticReferenceInjection, z2jh 4.2.0 jupyterhub_config.py) gives it to
    every user pod, so Binder images are pulled as that account, not anonymously under the
    per-IP limit that the whole cluster's single outbound IP would share. The token stays a
    Pulumi secret (the release's values become secret)."""
    return {
        "create": True,
        "automaticReferenceInjection": True,
        "registry": DOCKER_HUB_AUTH_URL,
        "username": registry.username,
        "password": registry.password,
    }


PUBLIC_INTERNET = {"ipBlock": {"cidr": "0.0.0.0/0", "except": [*NON_PUBLIC_RANGES, AZURE_PLATFORM_IP]}}


def user_egress_rules() -> list[dict[str, Any]]:
    """`singleuser.networkPolicy.egress`: user servers may reach public addresses on any port,
    never private ranges, link-local addresses (the metadata service) or Azure's platform address.

    It replaces z2jh's `egressAllowRules.nonPrivateIPs`, which excepts only 10/8, 172.16/12,
    192.168/16 and the metadata address (z2jh 4.4.0 templates/_helpers-netpol.tpl), so it lets user
    code reach 168.63.129.16. NetworkPolicies only add what they allow, so that rule must go, not
    be narrowed by another. z2jh renders `egress` after its allow rules, as given; the DNS rules
    (`dnsPortsKubeSystemNamespace`, `dnsPortsPrivateIPs`) stay, so names still resolve through
    CoreDNS. No `ports` on purpose: every port, to these addresses only (the peer list is never empty).
    `helmValues.jupyterhub.singleuser.networkPolicy.egress` replaces this list (Helm replaces lists),
    which is how a hub narrows its users' egress further."""
    return [{"to": [PUBLIC_INTERNET]}]


def build_pod_network_policy(cfg: StackConfig, namespace: str) -> dict[str, Any]:
    """A NetworkPolicy for image builds, which the BinderHub chart does not ship: builds run
    code from the internet, so they may reach DNS and public addresses on the allowed ports,
    never the metadata service, Azure's platform address or private ranges.

    An empty `ports` list would allow every port (a rule's ports are "all" when empty), so the
    public rule is left out rather than written without ports (the config refuses an empty
    `security.buildEgressPorts` before this runs)."""
    egress: list[dict[str, Any]] = [
        {"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}]
    ports = [{"protocol": "TCP", "port": port} for port in cfg.security.build_egress_ports]
    if ports:
        egress.append({"to": [PUBLIC_INTERNET], "ports": ports})
    spec = {
        "podSelector": {"matchExpressions": [{"key": "component", "operator": "In", "values": BUILD_POD_COMPONENTS}]},
        "policyTypes": ["Egress"],
        "egress": egress,
    }
    wider = practices_spec.network_policy_widenings(spec)
    if wider:
        raise ValueError(f"binder-build-egress would allow more than meant: {'; '.join(wider)}")
    return {"metadata": {"name": "binder-build-egress", "namespace": namespace}, "spec": spec}


def hub_db_storage_class() -> dict[str, Any]:
    """Azure managed disk (StandardSSD) whose disk is kept when its claim is deleted."""
    return {
        "metadata": {"name": HUB_DB_STORAGE_CLASS},
        "provisioner": "disk.csi.azure.com",
        "parameters": {"skuName": "StandardSSD_LRS"},
        "reclaim_policy": "Retain",
        "allow_volume_expansion": True,
        "volume_binding_mode": "WaitForFirstConsumer",
    }


def release_values(cfg: StackConfig, secrets: HubSecrets, registry: RegistryWiring | None) -> dict[str, Any]:
    """The complete values of the hub release, with the user's `helmValues` merged last."""
    if cfg.binder:
        assert registry is not None
        values = binderhub_values(cfg, secrets, registry)
        values = merge(values, cfg.helm_values.binderhub)
        user_jh = cfg.helm_values.jupyterhub
        if user_jh:
            values["jupyterhub"] = merge(values["jupyterhub"], user_jh)
        return values
    return merge(jupyterhub_values(cfg, secrets), cfg.helm_values.jupyterhub)


def chart_value_problems(cfg: StackConfig) -> list[str]:
    """Schema violations that the user's `helmValues` cause, one line each naming the key.

    The release values are rendered with stand-in secrets and registry, coalesced with the
    chart defaults and checked against the chart schema, as Helm will do at install time.
    """
    if not (cfg.helm_values.jupyterhub or cfg.helm_values.binderhub):
        return []
    stand_in = "0" * 64
    secrets = HubSecrets(stand_in, stand_in, stand_in, stand_in, stand_in, stand_in)
    wiring = None
    if cfg.uses_acr:
        wiring = acr_wiring(cfg, "registry.azurecr.io", "user", stand_in)
    elif cfg.uses_dockerhub:
        wiring = dockerhub_wiring(cfg, stand_in)
    values = release_values(cfg, secrets, wiring)
    chart = charts.BINDERHUB if cfg.binder else charts.JUPYTERHUB
    problems = []
    for error in charts.schema_errors(chart, values):
        path, _, message = error.partition(": ")
        if cfg.binder and path.startswith("jupyterhub"):
            key = path  # BinderHub's `jupyterhub:` block is helmValues.jupyterhub
        else:
            block = "binderhub" if cfg.binder else "jupyterhub"
            key = block if path == "(root)" else f"{block}.{path}"
        problems.append(f"binderhub-azure:helmValues.{key} breaks the {chart.name} {chart.version} chart "
                        f"schema: {message}")
    return problems
