"""Config blocks of the cluster and what runs on it: node pools, registry, login, per-user
limits, image pre-pulling and server profiles.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from . import aks_versions, azure_limits, image_ref
from .config_fields import (
    _K8S_VERSION,
    GUID,
    Cidrs,
    Memory,
    VmSize,
    _check_local_url,
    _Model,
)


class SystemPool(_Model):
    """The AKS system node pool: runs the hub, proxy, ingress and cert-manager."""

    vm_size: VmSize = Field(
        "Standard_D2as_v5",
        description="VM size of the system nodes (2 vCPU / 8 GiB is enough for the hub services; the AMD "
        "as_v5 sizes cost about 10 % less than the Intel s_v5 ones).",
        examples=["Standard_D2s_v5"],
    )
    node_count: int = Field(
        1, ge=1, le=10, description="Number of system nodes (fixed; 1 keeps idle cost low).", examples=[1]
    )
    os_disk_size_gb: int = Field(
        32, ge=30, le=2048,
        description="OS disk of each system node, in GiB (AKS's minimum is 30). 32 GiB is billed as a Premium "
        "SSD P4 (AKS's default of 128 GiB is a P10, about $15 a month more); the system node only holds the "
        "node image and the hub services' images.",
        examples=[64],
    )
    os_disk_type: Literal["Managed", "Ephemeral"] = Field(
        "Managed",
        description="Managed (a billed Premium SSD) or Ephemeral (free, on the VM's cache or temp disk; only on "
        "sizes whose local disk holds osDiskSizeGb, such as Standard_D2ads_v5 with 75 GiB).",
        examples=["Ephemeral"],
    )



class UserPool(_Model):
    """The autoscaled node pool for users' notebook servers (and Binder image builds)."""

    vm_size: VmSize = Field(
        "Standard_D4s_v5", description="VM size of the user nodes.", examples=["Standard_E4s_v5"]
    )
    min_count: int = Field(
        0, ge=0, le=100, description="Fewest user nodes; 0 lets the pool scale to zero when idle.", examples=[0]
    )
    max_count: int = Field(
        3, ge=1, le=100, description="Most user nodes the autoscaler may add.", examples=[5]
    )
    spot: bool = Field(
        False,
        description="Use Azure Spot VMs (much cheaper, may be evicted at any time).",
        examples=[True],
    )



class GpuPool(_Model):
    """An optional autoscaled pool of NVIDIA GPU nodes, tainted so only GPU servers land there."""

    vm_size: VmSize = Field(
        "Standard_NC4as_T4_v3", description="GPU VM size (an N-series size).", examples=["Standard_NC4as_T4_v3"]
    )
    min_count: int = Field(0, ge=0, le=100, description="Fewest GPU nodes; 0 scales to zero.", examples=[0])
    max_count: int = Field(1, ge=1, le=100, description="Most GPU nodes.", examples=[2])

    @field_validator("vm_size")
    @classmethod
    def _gpu_size(cls, value: str) -> str:
        # Runs after VmSize's own check, so the value is a VM size name.
        if not value.startswith("Standard_N"):
            raise ValueError(f"must be an N-series (GPU) VM size such as 'Standard_NC4as_T4_v3' (got {value!r})")
        return value


class BuildPool(_Model):
    """A pool of its own for Binder image builds (binderhub mode): on-demand VMs (never spot),
    autoscaled from zero, so untrusted builds never share the system node with the hub."""

    vm_size: VmSize = Field("Standard_D4s_v5", description="VM size of the build nodes.",
                         examples=["Standard_D4s_v5"])
    max_count: int = Field(1, ge=1, le=100, description="Most build nodes; the pool scales to zero when idle.",
                           examples=[2])



class ClusterPrincipal(_Model):
    """A Microsoft Entra identity given a role on the cluster through Azure RBAC."""

    object_id: str = Field(
        description="Object ID of the user, group or service principal (for an app registration, the object ID "
        "of its service principal, `az ad sp show --id <client-id> --query id -o tsv`; for a managed identity, "
        "its principal ID).",
        examples=["00000000-0000-0000-0000-000000000000"],
    )
    type: Literal["User", "Group", "ServicePrincipal"] = Field(
        description="What the object ID is: 'User', 'Group' or 'ServicePrincipal' (app registrations and "
        "managed identities).",
        examples=["ServicePrincipal"],
    )

    @field_validator("object_id")
    @classmethod
    def _guid(cls, value: str) -> str:
        if not GUID.fullmatch(value):
            raise ValueError(f"must be an object ID (a GUID) (got {value!r})")
        return value


class ClusterConfig(_Model):
    """The AKS cluster."""

    kubernetes_version: str = Field(
        aks_versions.DEFAULT,
        description="Kubernetes minor version ('1.36' style) of the control plane and every node pool; patch "
        "releases arrive through the cluster's automatic 'patch' upgrade channel. Versions past AKS's end of "
        "life (components/aks_versions.json) are refused; a version newer than that file is accepted and "
        "checked against the region by the pre-flight. Raise it one minor at a time.",
        examples=[aks_versions.DEFAULT],
    )
    system_pool: SystemPool = Field(default_factory=SystemPool, description="System node pool.")
    user_pool: UserPool = Field(default_factory=UserPool, description="Autoscaled user node pool.")
    gpu_pool: GpuPool | None = Field(
        None, description="Optional GPU node pool, set with the keys below; absent means no GPUs."
    )
    build_pool: BuildPool | None = Field(
        None,
        description="Separate pool for Binder image builds (binderhub mode), set with the keys below. Always "
        "used with a spot user pool (with these defaults when absent); otherwise builds run on the user pool "
        "unless this is set.",
    )
    authorized_ip_ranges: Cidrs = Field(
        default_factory=list,
        description="CIDRs allowed to reach the Kubernetes API server; empty means any address "
        "(the API still requires credentials). `pulumi up` and `pulumi preview` reach the API server too, so "
        "list the addresses they run from: GitHub-hosted runners use changing addresses from large shared "
        "ranges, so a stack deployed by the shipped workflow needs a self-hosted runner inside a listed range, "
        "or no ranges.",
        examples=[["203.0.113.0/24"]],
    )
    network_policy: Literal["cilium", "calico"] = Field(
        "cilium",
        description="Network policy engine that enforces NetworkPolicies (Azure CNI overlay "
        "with Cilium dataplane, or Calico).",
        examples=["cilium"],
    )
    tier: Literal["Free", "Standard"] = Field(
        "Free",
        description="AKS control-plane tier: Free (no uptime SLA) or Standard (SLA, billed hourly).",
        examples=["Free"],
    )

    entra_admin_group_ids: list[str] = Field(
        default_factory=list,
        description="Entra ID group object IDs whose members are cluster admins (AKS's admin groups). Setting it "
        "turns on Entra ID integration with Azure RBAC for Kubernetes. The identity that runs `pulumi up` must "
        "then be a cluster admin too: a member of one of these groups, or listed in cluster.adminPrincipals.",
        examples=[["00000000-0000-0000-0000-000000000000"]],
    )
    admin_principals: list[ClusterPrincipal] = Field(
        default_factory=list,
        description="Identities made cluster admins through Azure RBAC ('Azure Kubernetes Service RBAC Cluster "
        "Admin' on the cluster; needs entraAdminGroupIds). List here every identity that runs `pulumi up`: the "
        "CI deploy identity, and each person who deploys from a laptop (unless they are in an admin group). "
        "Nobody else gets admin by running `pulumi up`.",
        examples=[[{"objectId": "00000000-0000-0000-0000-000000000000", "type": "ServicePrincipal"}]],
    )
    reader_principals: list[ClusterPrincipal] = Field(
        default_factory=list,
        description="Identities that may read the cluster ('Azure Kubernetes Service RBAC Reader': most "
        "objects, never Secrets; needs entraAdminGroupIds), such as the CI preview identity, which "
        "`pulumi preview` uses to read the cluster.",
        examples=[[{"objectId": "00000000-0000-0000-0000-000000000000", "type": "ServicePrincipal"}]],
    )
    disable_local_accounts: bool = Field(
        False,
        description="Turn off the cluster's static admin credentials (requires entraAdminGroupIds). Pulumi "
        "then reaches the cluster through `kubelogin` with your `az login` (install kubelogin first); the "
        "shipped CI workflow installs kubelogin and switches it to workload identity (AAD_LOGIN_METHOD).",
        examples=[True],
    )

    @field_validator("entra_admin_group_ids")
    @classmethod
    def _guids(cls, values: list[str]) -> list[str]:
        for i, value in enumerate(values):
            if not GUID.fullmatch(value):
                raise ValueError(f"item {i} must be a group object ID (a GUID) (got {value!r})")
        return values

    @field_validator("authorized_ip_ranges")
    @classmethod
    def _at_most_200(cls, values: list[str]) -> list[str]:
        if len(values) > azure_limits.AUTHORIZED_IP_RANGES_MAX:
            raise ValueError(f"lists {len(values)} ranges; AKS takes at most {azure_limits.AUTHORIZED_IP_RANGES_MAX} "
                             "(merge neighbouring ranges into wider CIDRs)")
        return values

    @field_validator("kubernetes_version")
    @classmethod
    def _k8s(cls, value: str) -> str:
        if not _K8S_VERSION.fullmatch(value):
            raise ValueError(
                f"must be a Kubernetes minor version such as '{aks_versions.DEFAULT}', without the patch "
                f"(got {value!r})"
            )
        problem = aks_versions.problem(value, aks_versions.today())
        if problem:
            raise ValueError(problem)
        return value



class RegistryConfig(_Model):
    """Where BinderHub pushes the images it builds."""

    type: Literal["acr", "dockerhub"] = Field(
        "acr",
        description="'acr' creates an Azure Container Registry in the stack; 'dockerhub' pushes "
        "to Docker Hub with `dockerHubToken`.",
        examples=["acr"],
    )
    sku: Literal["Basic", "Standard", "Premium"] = Field(
        "Basic", description="ACR pricing tier (acr only).", examples=["Standard"]
    )
    username: str | None = Field(
        None, description="Docker Hub user or organisation that owns the images (dockerhub only).",
        examples=["myuni"],
    )
    image_prefix: str | None = Field(
        None,
        description="Image name prefix. acr: the path inside the registry, default "
        "'binder/<institution>-'; dockerhub: '<user-or-org>/<name>-', default '<username>/binder-'.",
        examples=["binder/myuni-"],
    )
    retention_days: int = Field(
        30, ge=0, le=3650,
        description="acr only: a scheduled ACR task (`acr purge`, daily) deletes built images last changed more "
        "than this many days ago, and untagged manifests; 0 turns the purge off. A purged image is rebuilt "
        "on its next launch.",
        examples=[14],
    )
    expected_storage_gi: float = Field(
        10, ge=0, le=100000,
        description="Registry storage the cost estimate assumes, in GiB (repo2docker images are typically "
        "1-3 GB but share their base layers; about the images built within retentionDays). The default, "
        "10, fits a small Binder whose daily purge keeps a few dozen images; set it from the registry's "
        "usage once it runs. Only storage beyond the tier's included "
        "amount (Basic 10, Standard 100, Premium 500 GiB) is billed.",
        examples=[50],
    )


class AuthConfig(_Model):
    """Who may log in."""

    type: Literal["none", "github", "entra"] = Field(
        "none",
        description="'none' (anonymous Binder, binderhub mode only), 'github' (GitHub OAuth) or "
        "'entra' (Microsoft Entra ID). The OAuth client secret goes in `authClientSecret`.",
        examples=["github"],
    )
    client_id: str | None = Field(None, description="OAuth application (client) ID.", examples=["Iv1.0123abcd"])
    tenant_id: str | None = Field(
        None, description="Entra ID tenant (directory) ID, a GUID (entra only).",
        examples=["00000000-0000-0000-0000-000000000000"],
    )
    allowed_users: list[str] = Field(
        default_factory=list, description="User names allowed to log in.", examples=[["alice", "bob"]]
    )
    allowed_organizations: list[str] = Field(
        default_factory=list,
        description="GitHub organisations (or 'org:team') whose members may log in (github only).",
        examples=[["my-university"]],
    )
    admins: list[str] = Field(
        default_factory=list, description="User names with JupyterHub admin rights.", examples=[["alice"]]
    )
    allow_all: bool | None = Field(
        None,
        description="Let everyone who can authenticate log in. Default: true for entra without "
        "allowedUsers (the tenant is the boundary), false for github.",
        examples=[False],
    )


class LimitsConfig(_Model):
    """Per-user resources and how long servers live. Empty fields take the mode's default."""

    memory: Memory = Field(
        "2G", description="Memory limit (and guarantee) of each user server, K/M/G/T suffix.", examples=["4G"]
    )
    cpu: float = Field(1.0, gt=0, le=64, description="CPU limit of each user server, in cores.", examples=[2])
    cull_idle_minutes: int | None = Field(
        None, ge=1, le=10080,
        description="Stop servers idle this long. Default 10 (binderhub) or 60 (jupyterhub).", examples=[30],
    )
    max_age_hours: float | None = Field(
        None, ge=0, le=720,
        description="Stop servers this old even if busy; 0 means never. Default 6 (binderhub) or 0 "
        "(jupyterhub).",
        examples=[6],
    )
    total_quota: int = Field(
        200, ge=0, le=100000,
        description="Most simultaneous Binder servers in all; 0 means unlimited (binderhub only).",
        examples=[100],
    )
    build_memory: Memory = Field(
        "4G", description="Memory limit of the build daemon (Docker-in-Docker) on each build node, which all "
        "Binder image builds on that node share (binderhub only).", examples=["8G"]
    )
    per_repo_quota: int = Field(
        100, ge=0, le=100000,
        description="Most simultaneous Binder servers of one repository; 0 means unlimited (binderhub only).",
        examples=[50],
    )


    @field_validator("max_age_hours")
    @classmethod
    def _max_age(cls, value: float | None) -> float | None:
        if value is not None and 0 < value * 3600 < 60:
            raise ValueError(f"must be 0 (never) or at least one minute (0.017 hours); shorter rounds to 0, "
                             f"which means never (got {value!r})")
        return value


class SpeedConfig(_Model):
    """How quickly servers start, and what that costs."""

    user_scheduler: bool = Field(
        True,
        description="Pack user servers onto the fewest nodes, so empty nodes can be removed sooner.",
        examples=[True],
    )
    placeholders: int = Field(
        0, ge=0, le=100,
        description="Placeholder pods of one user's size that hold room for new users; each keeps a "
        "share of a user node running (and paid for), so the default 0 lets the pool scale to zero.",
        examples=[2],
    )
    pre_puller: bool = Field(
        True,
        description="Pull the user image onto every user node ahead of time (jupyterhub mode; Binder "
        "images are built per repository, so there is no common image to pull).",
        examples=[True],
    )


class ProfileConfig(_Model):
    """One choice on the JupyterHub server options page (jupyterhub mode)."""

    display_name: str = Field(description="Name shown to users.", examples=["RStudio"])
    description: str = Field("", description="One line under the name.", examples=["R 4.4 with RStudio"])
    image: str = Field(description="Container image with a tag or digest (name:tag, name@sha256:..., a registry with a "
                       "port is fine).", examples=["rocker/binder:4.4.1"])
    default: bool = Field(False, description="Preselected choice.", examples=[True])
    default_url: str | None = Field(None, description="Interface to open, e.g. /lab or /rstudio.",
                                    examples=["/rstudio"])
    memory: Memory | None = Field(None, description="Memory limit, default limits.memory.", examples=["8G"])
    cpu: float | None = Field(None, gt=0, le=64, description="CPU limit, default limits.cpu.", examples=[4])
    gpu: bool = Field(False, description="Request one GPU (needs cluster.gpuPool).", examples=[False])

    @field_validator("default_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else _check_local_url(value)

    @field_validator("image")
    @classmethod
    def _image(cls, value: str) -> str:
        why = image_ref.image_problem(value)
        if why:
            raise ValueError(f"{why} (got {value!r})")
        return value
