"""The stack configuration contract: every key a `Pulumi.<stack>.yaml` may set.

This module is pure: it turns the raw key/value pairs Pulumi hands a program
(strings, with structured values as JSON) into one typed, validated
`StackConfig`, or raises `ConfigError` with one line per problem, each naming the
full config key and what is allowed. Nothing here touches Pulumi's engine, so a
bad stack fails before a single resource is registered.

The field descriptions are the reference documentation of the keys: the README's
config table is generated from them (`python -m components.config --markdown`).
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator
from pydantic.alias_generators import to_camel

PROJECT = "binderhub-azure"
LOCATION_KEY = "azure-native:location"

# Keys that hold secrets. They never enter the typed model: the program reads them
# with `pulumi.Config.require_secret`, the model only records that they are set.
SECRET_KEYS = ("authClientSecret", "dockerHubToken")

# Keys whose value is a structured (YAML/JSON) object.
_OBJECT_KEYS = ("cluster", "registry", "auth", "limits", "security", "speed", "profiles", "datasets",
                "vm", "monitoring", "budget", "helmValues", "binderSite", "storage")

# Every pattern is used with `fullmatch`: `$` alone would let a trailing newline through
# (a YAML block scalar `key: |` gives one).
_SLUG = re.compile(r"[a-z][a-z0-9-]{1,14}[a-z0-9]")
_DNS_LABEL = re.compile(r"[a-z][a-z0-9-]{1,61}[a-z0-9]")
_HOST_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[a-zA-Z]{2,}")
_REGION = re.compile(r"[a-z][a-z0-9]{2,}")
_K8S_VERSION = re.compile(r"1\.\d{2}")
# Azure VM size names: Standard_<family><vCPUs>[-<constrained>]<features>[_<accelerator>][_v<n>],
# e.g. Standard_D4s_v5, Standard_E4-2ads_v5, Standard_NC24ads_A100_v4, Standard_B2ms.
_VM_SIZE = re.compile(r"Standard_[A-Z]{1,3}[0-9]{1,3}(-[0-9]{1,3})?[a-z]*(_[A-Z][0-9]+[a-z]*)?(_v[0-9]+)?")
_MEMORY = re.compile(r"[0-9]+(\.[0-9]+)?[KMGT]")
_SSH_KEY = re.compile(r"(ssh-(rsa|ed25519)|ecdsa-sha2-nistp\d+) [A-Za-z0-9+/=]+( .*)?")
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_DOCKERHUB_PREFIX = re.compile(r"[a-z0-9]+([._-][a-z0-9]+)*/[a-z0-9]*([._-][a-z0-9]*)*")
_ACR_PREFIX = re.compile(r"([a-z0-9]+([._-][a-z0-9]+)*/)*[a-z0-9]*([._-][a-z0-9]*)*")


_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")
# A local URL path for defaultUrl: not `//host` (a link to another site) and no `..`.
_LOCAL_PATH = re.compile(r"/(?!/)[A-Za-z0-9._~/-]*")
_DATA_DIR = Path(__file__).resolve().parent


def _load_data(name: str) -> dict[str, Any]:
    """A dated data file shipped next to this module (regions, AKS versions)."""
    data: dict[str, Any] = json.loads((_DATA_DIR / name).read_text())
    return data


AZURE_REGIONS: frozenset[str] = frozenset(_load_data("azure_regions.json")["regions"])
AKS_VERSIONS: tuple[str, ...] = tuple(_load_data("aks_versions.json")["supported"])

# Memory a user server may be given: below this a Jupyter server does not start; above it
# no Azure VM size has the memory (the largest M-series sizes have about 30 TiB).
MIN_MEMORY_BYTES = 128 * 1024**2
MAX_MEMORY_BYTES = 32 * 1024**4
_MEMORY_FACTORS = {"K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def memory_bytes(value: str) -> float:
    """'2G' -> 2 GiB in bytes (JupyterHub reads K/M/G/T as powers of 1024)."""
    return float(value[:-1]) * _MEMORY_FACTORS[value[-1]]


def _check_memory(value: str) -> str:
    if not _MEMORY.fullmatch(value):
        raise ValueError(f"must be a size such as '2G' or '512M' (got {value!r})")
    if not MIN_MEMORY_BYTES <= memory_bytes(value) <= MAX_MEMORY_BYTES:
        raise ValueError(f"must be from 128M to 32T: no server runs in less, and no Azure VM has more "
                         f"(got {value!r})")
    return value


def _check_local_url(value: str) -> str:
    if not _LOCAL_PATH.fullmatch(value) or ".." in value.split("/"):
        raise ValueError(f"must be a path on the server such as /lab, /tree or /rstudio, not a URL and "
                         f"without '..' (got {value!r})")
    return value


# Directories a dataset must not be mounted over (or inside): the system's own files.
_SYSTEM_DIRS = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/root",
                "/run", "/sbin", "/sys", "/usr", "/var", "/tmp", "/opt/conda", "/srv/conda")
# Directories a dataset must not replace (mounting inside them is fine).
_KEEP_DIRS = ("/", "/home", "/home/jovyan", "/opt", "/srv", "/mnt", "/media")


class ConfigError(Exception):
    """The stack config is wrong. `problems` holds one self-contained line per mistake."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=False, frozen=True
    )

    @field_validator("*", mode="before")
    @classmethod
    def _one_line(cls, value: Any) -> Any:
        """No string key takes a newline or another control character (a block scalar
        `key: |` would otherwise carry one into resource names and URLs)."""
        items = value if isinstance(value, list) else [value]
        for i, item in enumerate(items):
            if isinstance(item, str) and _CONTROL.search(item):
                where = f"item {i} " if isinstance(value, list) else ""
                raise ValueError(f"{where}must be one line of text without control characters such as a "
                                 f"newline (got {item!r})")
        return value


def _check_vm_size(value: str) -> str:
    if not _VM_SIZE.fullmatch(value):
        raise ValueError(
            f"must be an Azure VM size name such as 'Standard_D4s_v5' (got {value!r})"
        )
    return value


def _check_cidrs(values: list[str]) -> list[str]:
    """IPv4 networks without host bits; a bare address becomes its /32."""
    normalised = []
    for i, value in enumerate(values):
        try:
            net = ipaddress.IPv4Network(value, strict=True)
        except ValueError:
            raise ValueError(f"item {i} must be an IPv4 CIDR such as '203.0.113.0/24' (got {value!r})") from None
        normalised.append(str(net))
    return normalised


class SystemPool(_Model):
    """The AKS system node pool: runs the hub, proxy, ingress and cert-manager."""

    vm_size: str = Field(
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

    _vm = field_validator("vm_size")(_check_vm_size)


class UserPool(_Model):
    """The autoscaled node pool for users' notebook servers (and Binder image builds)."""

    vm_size: str = Field(
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

    _vm = field_validator("vm_size")(_check_vm_size)


class GpuPool(_Model):
    """An optional autoscaled pool of NVIDIA GPU nodes, tainted so only GPU servers land there."""

    vm_size: str = Field(
        "Standard_NC4as_T4_v3", description="GPU VM size (an N-series size).", examples=["Standard_NC4as_T4_v3"]
    )
    min_count: int = Field(0, ge=0, le=100, description="Fewest GPU nodes; 0 scales to zero.", examples=[0])
    max_count: int = Field(1, ge=1, le=100, description="Most GPU nodes.", examples=[2])

    @field_validator("vm_size")
    @classmethod
    def _gpu_size(cls, value: str) -> str:
        _check_vm_size(value)
        if not value.startswith("Standard_N"):
            raise ValueError(f"must be an N-series (GPU) VM size such as 'Standard_NC4as_T4_v3' (got {value!r})")
        return value


class BuildPool(_Model):
    """A pool of its own for Binder image builds (binderhub mode): on-demand VMs (never spot),
    autoscaled from zero, so untrusted builds never share the system node with the hub."""

    vm_size: str = Field("Standard_D4s_v5", description="VM size of the build nodes.",
                         examples=["Standard_D4s_v5"])
    max_count: int = Field(1, ge=1, le=100, description="Most build nodes; the pool scales to zero when idle.",
                           examples=[2])

    _vm = field_validator("vm_size")(_check_vm_size)


class ClusterConfig(_Model):
    """The AKS cluster."""

    kubernetes_version: str = Field(
        "1.34",
        description="Kubernetes minor version ('1.34' style); patch releases arrive through the "
        "cluster's automatic 'patch' upgrade channel. Check `az aks get-versions -l <region>`.",
        examples=["1.34"],
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
    authorized_ip_ranges: list[str] = Field(
        default_factory=list,
        description="CIDRs allowed to reach the Kubernetes API server; empty means any address "
        "(the API still requires credentials).",
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
        description="Entra ID group object IDs whose members are cluster admins. Setting it turns on Entra "
        "ID integration with Azure RBAC for Kubernetes; the identity running `pulumi up` is also made "
        "cluster admin so the stack can still manage the cluster.",
        examples=[["00000000-0000-0000-0000-000000000000"]],
    )
    disable_local_accounts: bool = Field(
        False,
        description="Turn off the cluster's static admin credentials (requires entraAdminGroupIds). Pulumi "
        "then reaches the cluster through `kubelogin` with your `az login` (install kubelogin first).",
        examples=[True],
    )

    @field_validator("entra_admin_group_ids")
    @classmethod
    def _guids(cls, values: list[str]) -> list[str]:
        for i, value in enumerate(values):
            if not _GUID.fullmatch(value):
                raise ValueError(f"item {i} must be a group object ID (a GUID) (got {value!r})")
        return values

    @field_validator("kubernetes_version")
    @classmethod
    def _k8s(cls, value: str) -> str:
        if not _K8S_VERSION.fullmatch(value):
            raise ValueError(
                f"must be a Kubernetes minor version such as '1.34', without the patch "
                f"(got {value!r})"
            )
        if value not in AKS_VERSIONS:
            raise ValueError(f"must be a version AKS supports: {', '.join(AKS_VERSIONS)} (components/"
                             f"aks_versions.json; check `az aks get-versions -l <region>`) (got {value!r})")
        return value

    _cidrs = field_validator("authorized_ip_ranges")(_check_cidrs)


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

    memory: str = Field(
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
    build_memory: str = Field(
        "4G", description="Memory limit of the build daemon (Docker-in-Docker) on each build node, which all "
        "Binder image builds on that node share (binderhub only).", examples=["8G"]
    )
    per_repo_quota: int = Field(
        100, ge=0, le=100000,
        description="Most simultaneous Binder servers of one repository; 0 means unlimited (binderhub only).",
        examples=[50],
    )

    _memories = field_validator("memory", "build_memory")(_check_memory)

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
    image: str = Field(description="Container image, name:tag.", examples=["rocker/binder:4.4.1"])
    default: bool = Field(False, description="Preselected choice.", examples=[True])
    default_url: str | None = Field(None, description="Interface to open, e.g. /lab or /rstudio.",
                                    examples=["/rstudio"])
    memory: str | None = Field(None, description="Memory limit, default limits.memory.", examples=["8G"])
    cpu: float | None = Field(None, gt=0, le=64, description="CPU limit, default limits.cpu.", examples=[4])
    gpu: bool = Field(False, description="Request one GPU (needs cluster.gpuPool).", examples=[False])

    @field_validator("memory")
    @classmethod
    def _memory(cls, value: str | None) -> str | None:
        return None if value is None else _check_memory(value)

    @field_validator("default_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else _check_local_url(value)

    @field_validator("image")
    @classmethod
    def _image(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z0-9][a-z0-9._/-]*(:[A-Za-z0-9._-]+)?", value) or ":" not in value.rsplit("/", 1)[-1]:
            raise ValueError(f"must be an image name with a tag, such as 'quay.io/jupyter/scipy-notebook:latest' "
                             f"(got {value!r})")
        return value


class SecurityConfig(_Model):
    """Defences of a public service. The defaults are the safe ones."""

    build_egress_ports: list[int] = Field(
        default_factory=lambda: [80, 443],
        description="TCP ports Binder image builds may reach on the public internet (DNS is always "
        "allowed; the cloud metadata address and private ranges never are).",
        examples=[[80, 443, 9418]],
    )
    block_cloud_metadata: bool = Field(
        True,
        description="Keep user servers and image builds away from the Azure instance metadata service "
        "(169.254.169.254), which hands out the node's credentials.",
        examples=[True],
    )
    banned_repos: list[str] = Field(
        default_factory=list,
        description="Regular expressions of Binder specs that may not be launched (binderhub only).",
        examples=[["^evil-org/.*"]],
    )
    allowed_repos: list[str] = Field(
        default_factory=list,
        description="If set, only Binder specs matching one of these regular expressions may be launched "
        "(binderhub only).",
        examples=[["^my-university/.*"]],
    )

    pod_hardening: bool = Field(
        True,
        description="What mybinder.org sets on user servers: no privilege escalation, no Kubernetes service "
        "links (environment variables naming every Service), and no container restarts (a crashed server "
        "stays stopped, for the user to start again). Costs nothing, needs no privileges.",
        examples=[True],
    )
    cryptnono: bool = Field(
        False,
        description="Install cryptnono (the crypto-mining detector mybinder.org runs): a privileged DaemonSet "
        "on every node that kills processes matching known miners (binderhub only; off by default because "
        "it needs privileged pods).",
        examples=[True],
    )
    egress_bandwidth: str | None = Field(
        None,
        description="Per-pod egress bandwidth limit for user servers, as the `kubernetes.io/egress-bandwidth` "
        "annotation (e.g. '10M'). Only enforced where the network plugin runs a bandwidth manager; AKS's "
        "managed Cilium does not expose one, so on AKS it is recorded on the pod but not enforced.",
        examples=["10M"],
    )

    @field_validator("egress_bandwidth")
    @classmethod
    def _bandwidth(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[1-9][0-9]*[KMG]", value):
            raise ValueError(f"must be a rate such as '10M' (bits per second, K/M/G suffix) (got {value!r})")
        return value

    @field_validator("build_egress_ports")
    @classmethod
    def _ports(cls, values: list[int]) -> list[int]:
        for i, port in enumerate(values):
            if not 1 <= port <= 65535:
                raise ValueError(f"item {i} must be a TCP port from 1 to 65535 (got {port!r})")
        return values

    @field_validator("banned_repos", "allowed_repos")
    @classmethod
    def _regexes(cls, values: list[str]) -> list[str]:
        for i, value in enumerate(values):
            try:
                re.compile(value)
            except re.error as err:
                raise ValueError(f"item {i} must be a regular expression ({err}) (got {value!r})") from None
        return values


class DatasetConfig(_Model):
    """A read-only dataset in Azure Blob storage or Azure Files, mounted into every user server."""

    name: str = Field(description="Short name, [a-z0-9-]; names the Kubernetes volume.", examples=["census"])
    storage_account: str = Field(description="Storage account name (3-24 lowercase letters and digits).",
                                 examples=["myunidatasets"])
    container: str | None = Field(None, description="Blob container to mount (or set share).", examples=["census"])
    share: str | None = Field(None, description="Azure Files share to mount (or set container).", examples=["census"])
    mount_path: str = Field(description="Where it appears in user servers.", examples=["/home/jovyan/data/census"])
    resource_group: str | None = Field(
        None, description="Resource group of an existing storage account (required unless create is true).",
        examples=["rg-research-data"],
    )
    create: bool = Field(
        False, description="Create the account and the container or share in the stack's resource group "
        "(then upload the data yourself).",
        examples=[False],
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z][a-z0-9-]{0,30}[a-z0-9]", value):
            raise ValueError(f"must be 2-32 characters of [a-z0-9-], starting with a letter (got {value!r})")
        return value

    @field_validator("storage_account")
    @classmethod
    def _account(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z0-9]{3,24}", value):
            raise ValueError(f"must be 3-24 lowercase letters and digits (got {value!r})")
        return value

    @field_validator("mount_path")
    @classmethod
    def _path(cls, value: str) -> str:
        parts = value.split("/")
        if not value.startswith("/") or value.endswith("/") or any(p in ("", ".", "..") for p in parts[1:]) \
                or not re.fullmatch(r"[A-Za-z0-9._/-]+", value):
            raise ValueError(f"must be an absolute path without '..', '.', '//' or a trailing '/', such as "
                             f"'/home/jovyan/data/census' (got {value!r})")
        if value in _KEEP_DIRS or any(value == d or value.startswith(d + "/") for d in _SYSTEM_DIRS):
            raise ValueError(f"must not replace a system or home directory ({', '.join(_SYSTEM_DIRS[:6])}, "
                             f"... or {', '.join(_KEEP_DIRS)} itself); use e.g. '/home/jovyan/data/<name>' "
                             f"(got {value!r})")
        return value


class MonitoringConfig(_Model):
    """Prometheus (metrics of JupyterHub, BinderHub and the cluster) and Grafana dashboards."""

    enabled: bool = Field(
        False, description="Install Prometheus and Grafana; Grafana is served at <site>/grafana/ behind "
        "its own login (user admin, password in the `grafanaAdminPassword` secret output).",
        examples=[True],
    )
    retention_days: int = Field(15, ge=1, le=365, description="How long Prometheus keeps metrics.", examples=[30])


class VmConfig(_Model):
    """The single VM of `mode: tljh`."""

    size: str = Field("Standard_D4s_v5", description="VM size (4 vCPU / 16 GiB serves a class of a few dozen).",
                      examples=["Standard_E4s_v5"])
    disk_size_gb: int = Field(
        128, ge=16, le=4096,
        description="Size of the managed data disk mounted at /home; it is kept when the VM is replaced.",
        examples=[256],
    )
    admin_username: str = Field("tljhadmin", description="Linux administrator account (SSH key login only).",
                                examples=["tljhadmin"])
    ssh_public_key: str | None = Field(
        None, description="OpenSSH public key of the administrator (required in tljh mode).",
        examples=["ssh-ed25519 AAAAC3... rse@myuni"],
    )
    ssh_allowed_cidrs: list[str] = Field(
        default_factory=list,
        description="Addresses allowed to SSH in (port 22); empty keeps SSH closed.",
        examples=[["203.0.113.0/24"]],
    )

    _vm = field_validator("size")(_check_vm_size)

    @field_validator("admin_username")
    @classmethod
    def _admin(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z_][a-z0-9_-]{0,31}", value) or value in ("root", "admin", "jovyan"):
            raise ValueError(f"must be a Linux user name ([a-z_][a-z0-9_-], not root/admin) (got {value!r})")
        return value

    @field_validator("ssh_public_key")
    @classmethod
    def _key(cls, value: str | None) -> str | None:
        if value is not None and not _SSH_KEY.fullmatch(value):
            raise ValueError("must be an OpenSSH public key line such as 'ssh-ed25519 AAAA... you@host' "
                             "(the .pub file, not the private key)")
        return value

    _cidrs = field_validator("ssh_allowed_cidrs")(_check_cidrs)


class BudgetConfig(_Model):
    """A monthly Azure budget on the stack's resource group, with email alerts."""

    monthly_amount: float = Field(
        gt=0, le=10_000_000,
        description="Budget per month in the billing currency; alerts at 80 % and 100 % of actual spend. "
        "`python -m tools.cost` suggests a value.",
        examples=[400],
    )
    contact_emails: list[str] = Field(
        min_length=1, description="Who gets the alerts.", examples=[["rse-team@myuni.example"]]
    )

    @field_validator("contact_emails")
    @classmethod
    def _emails(cls, values: list[str]) -> list[str]:
        for i, value in enumerate(values):
            if not _EMAIL.fullmatch(value):
                raise ValueError(f"item {i} must be an email address (got {value!r})")
        return values


class BinderSiteConfig(_Model):
    """The Binder site: what its pages say, how builds behave, what it records (binderhub only)."""

    banner_message: str = Field(
        "", description="HTML shown at the top of every Binder page, e.g. where to get help.",
        examples=["Help: <a href=\"mailto:rse@myuni.example\">rse@myuni.example</a>"],
    )
    about_message: str = Field(
        "", description="HTML of the Binder about page, e.g. who runs the service and its terms of use.",
        examples=["Run by MyUni RSE. Terms: https://myuni.example/binder-terms"],
    )
    build_timeout_minutes: int = Field(
        60, ge=5, le=1440,
        description="Image builds still running after this long are stopped (BinderHub's build cleaner).",
        examples=[60],
    )
    require_environment: bool = Field(
        False,
        description="Refuse to build repositories without an environment file (requirements.txt, "
        "environment.yml, ...), as mybinder.org does; false builds them with repo2docker's default "
        "Python environment.",
        examples=[True],
    )
    image_cleaner_high_gi: int = Field(
        40, ge=5, le=4000,
        description="When built images on a build node exceed this many GiB, the image cleaner deletes the "
        "oldest (an absolute threshold, as mybinder.org uses).",
        examples=[40],
    )
    image_cleaner_low_gi: int = Field(
        10, ge=1, le=4000,
        description="The image cleaner deletes images until this many GiB are left.",
        examples=[10],
    )
    launch_events: bool = Field(
        True,
        description="Write BinderHub's launch events (one JSON line per launch: repository, ref, status) to a "
        "file on a small Azure Files share mounted in the binder pod; `python -m tools.ops launches` "
        "counts them.",
        examples=[True],
    )


class StorageConfig(_Model):
    """Users' home directories (jupyterhub mode)."""

    type: Literal["shared", "perUserDisk", "none"] | None = Field(
        None,
        description="'shared': one Azure Files NFS share (Premium) for every home, a directory per user (what "
        "2i2c runs); 'perUserDisk': an Azure managed disk per user (z2jh's default; at most as many users per "
        "node as the VM size may attach data disks); 'none': no persistent home. Default 'shared' in "
        "jupyterhub mode, 'none' in binderhub mode (the only choice there).",
        examples=["shared"],
    )
    size_gi: int = Field(
        100, ge=100, le=102400,
        description="shared: provisioned size of the share in GiB (Premium Azure Files bills the provisioned "
        "size; 100 is the minimum).",
        examples=[200],
    )
    per_user_gi: int = Field(
        10, ge=1, le=4096, description="perUserDisk: size of each user's disk in GiB.", examples=[10],
    )
    expected_users: int = Field(
        100, ge=0, le=1000000,
        description="Users expected to log in over the stack's life (registered, not concurrent): the cost "
        "estimate counts one disk each with perUserDisk.",
        examples=[250],
    )


class HelmValuesConfig(_Model):
    """Raw chart values, deep-merged last over what the product renders (power users)."""

    jupyterhub: dict[str, Any] = Field(
        default_factory=dict,
        description="Merged into the JupyterHub chart values (in binderhub mode: its `jupyterhub:` block).",
        examples=[{"singleuser": {"image": {"name": "quay.io/jupyter/scipy-notebook"}}}],
    )
    binderhub: dict[str, Any] = Field(
        default_factory=dict, description="Merged into the BinderHub chart values (binderhub mode only).",
        examples=[{"config": {"BinderHub": {"banner_message": "Hello"}}}],
    )


class StackConfig(_Model):
    """One institution's stack."""

    location: str = Field(
        description="Azure region short name (set as `azure-native:location`).", examples=["westeurope"]
    )
    institution: str = Field(
        description="Short slug: lowercase letter first, then [a-z0-9-], 3-16 characters. Used in "
        "resource names and the default DNS label.",
        examples=["myuni"],
    )
    contact_email: str | None = Field(
        None, description="Let's Encrypt account email; required unless `https` is false.",
        examples=["rse-team@myuni.example"],
    )
    mode: Literal["binderhub", "jupyterhub", "tljh"] = Field(
        "binderhub",
        description="'binderhub' (BinderHub with its JupyterHub), 'jupyterhub' (a plain JupyterHub on AKS, "
        "no image builds) or 'tljh' (The Littlest JupyterHub on one VM).",
        examples=["binderhub"],
    )
    domain: str | None = Field(
        None,
        description="Public host name to serve on (you create its DNS A record). Without it the site "
        "is at <dnsLabel>.<location>.cloudapp.azure.com.",
        examples=["binder.myuni.example"],
    )
    dns_label: str | None = Field(
        None,
        description="Azure DNS label used when `domain` is absent; default '<institution>-binder' or "
        "'<institution>-hub'. Must be unique in the region.",
        examples=["myuni-binder"],
    )
    https: bool = Field(True, description="Serve over HTTPS with a Let's Encrypt certificate.", examples=[True])
    lets_encrypt: Literal["production", "staging"] = Field(
        "production",
        description="Let's Encrypt environment; 'staging' gives untrusted test certificates without "
        "the production rate limits, for first tries.",
        examples=["staging"],
    )
    preflight: bool = Field(
        True,
        description="Check the subscription (providers, VM sizes, vCPU quotas) at the start of `pulumi "
        "preview`/`up` when Azure credentials are present; false skips it.",
        examples=[True],
    )
    protect_resources: bool = Field(
        True,
        description="Mark the cluster and registry protected so Pulumi refuses to delete or replace "
        "them; set false (and `pulumi up`) before `pulumi destroy`.",
        examples=[True],
    )
    cluster: ClusterConfig = Field(default_factory=ClusterConfig, description="AKS cluster settings.")
    registry: RegistryConfig = Field(default_factory=RegistryConfig, description="Image registry (binderhub).")
    auth: AuthConfig = Field(default_factory=AuthConfig, description="Login.")
    limits: LimitsConfig = Field(default_factory=LimitsConfig, description="Per-user limits and culling.")
    security: SecurityConfig = Field(default_factory=SecurityConfig, description="Abuse defences.")
    speed: SpeedConfig = Field(default_factory=SpeedConfig, description="Launch speed.")
    datasets: list[DatasetConfig] = Field(
        default_factory=list,
        description="Read-only datasets mounted into every user server, set with the keys below.",
    )
    vm: VmConfig = Field(default_factory=VmConfig, description="The VM (tljh mode only).")
    monitoring: MonitoringConfig = Field(default_factory=MonitoringConfig, description="Metrics and dashboards.")
    budget: BudgetConfig | None = Field(
        None, description="Optional cost budget with email alerts, set with the keys below; absent means none."
    )
    default_url: str = Field(
        "/lab", description="Interface a new server opens: /lab (JupyterLab), /tree (classic) or /rstudio.",
        examples=["/lab"],
    )
    profiles: list[ProfileConfig] = Field(
        default_factory=list,
        description="Server options users choose from (jupyterhub mode), e.g. Python and RStudio images.",
        examples=[[{"displayName": "Python", "image": "quay.io/jupyter/scipy-notebook:latest", "default": True}]],
    )
    helm_values: HelmValuesConfig = Field(
        default_factory=HelmValuesConfig, description="Chart values overrides for power users."
    )
    binder_site: BinderSiteConfig = Field(
        default_factory=BinderSiteConfig, description="Binder pages, builds and launch events (binderhub)."
    )
    storage: StorageConfig = Field(default_factory=StorageConfig, description="Home directories (jupyterhub).")

    # Set by `parse_config`, not by users: which secret keys the stack holds.
    _secrets_set: frozenset[str] = PrivateAttr(default=frozenset())

    @property
    def secrets_set(self) -> frozenset[str]:
        return self._secrets_set

    @field_validator("location")
    @classmethod
    def _region(cls, value: str) -> str:
        if not _REGION.fullmatch(value):
            raise ValueError(
                f"must be an Azure region short name such as 'westeurope' or 'uksouth' (got {value!r})"
            )
        if value not in AZURE_REGIONS:
            close = difflib.get_close_matches(value, sorted(AZURE_REGIONS), n=1, cutoff=0.6)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise ValueError(f"is not an Azure region: {hint}(`az account list-locations -o table` lists them; "
                             f"components/azure_regions.json) (got {value!r})")
        return value

    @field_validator("default_url")
    @classmethod
    def _default_url(cls, value: str) -> str:
        return _check_local_url(value)

    @field_validator("institution")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _SLUG.fullmatch(value) or "--" in value:
            raise ValueError(
                "must be 3-16 characters of [a-z0-9-], start with a lowercase letter and not end "
                f"with '-' (got {value!r})"
            )
        return value

    @field_validator("contact_email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL.fullmatch(value):
            raise ValueError(f"must be an email address such as 'rse@myuni.example' (got {value!r})")
        return value

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if "://" in value or "/" in value:
            raise ValueError(
                f"must be a bare host name such as 'binder.myuni.example', without scheme or path (got {value!r})"
            )
        labels = value.split(".")
        if len(value) > 253 or len(labels) < 2 or not all(_HOST_LABEL.fullmatch(x) for x in labels) \
                or labels[-1].isdigit():
            raise ValueError(
                "must be a lowercase DNS host name such as 'binder.myuni.example' "
                f"(labels of [a-z0-9-], at most 63 characters each) (got {value!r})"
            )
        return value

    @field_validator("dns_label")
    @classmethod
    def _label(cls, value: str | None) -> str | None:
        if value is not None and not _DNS_LABEL.fullmatch(value):
            raise ValueError(
                "must be 3-63 characters of [a-z0-9-], start with a letter and end with a letter or "
                f"digit (got {value!r})"
            )
        return value

    # ---- derived settings, one place for every default that depends on another key ----

    @property
    def binder(self) -> bool:
        return self.mode == "binderhub"

    @property
    def build_pool(self) -> BuildPool | None:
        """Where Binder builds run, if not on the user pool: `cluster.buildPool`, and always with a
        spot user pool (builds must never land on the system node)."""
        if not self.binder:
            return None
        if self.cluster.build_pool is not None:
            return self.cluster.build_pool
        return BuildPool() if self.cluster.user_pool.spot else None

    @property
    def effective_dns_label(self) -> str:
        return self.dns_label or f"{self.institution}-{'binder' if self.binder else 'hub'}"

    @property
    def host(self) -> str:
        """The public host name the site is served on."""
        return self.domain or f"{self.effective_dns_label}.{self.location}.cloudapp.azure.com"

    @property
    def scheme(self) -> str:
        return "https" if self.https else "http"

    @property
    def cull_idle_minutes(self) -> int:
        if self.limits.cull_idle_minutes is not None:
            return self.limits.cull_idle_minutes
        return 10 if self.binder else 60

    @property
    def max_age_hours(self) -> float:
        if self.limits.max_age_hours is not None:
            return self.limits.max_age_hours
        return 6 if self.binder else 0

    @property
    def allow_all(self) -> bool:
        if self.auth.allow_all is not None:
            return self.auth.allow_all
        return self.auth.type == "entra" and not self.auth.allowed_users

    @property
    def tljh(self) -> bool:
        return self.mode == "tljh"

    @property
    def uses_acr(self) -> bool:
        return self.binder and self.registry.type == "acr"

    @property
    def uses_dockerhub(self) -> bool:
        return self.binder and self.registry.type == "dockerhub"

    @property
    def home_storage(self) -> str:
        """'shared', 'perUserDisk' or 'none': where users' home directories live."""
        if self.storage.type is not None:
            return self.storage.type
        return "shared" if self.mode == "jupyterhub" else "none"


# ---------------------------------------------------------------------------
# Parsing raw Pulumi config into the model
# ---------------------------------------------------------------------------


def full_key(loc: tuple[Any, ...]) -> str:
    """`('cluster', 'userPool', 'maxCount')` -> `binderhub-azure:cluster.userPool.maxCount`."""
    if loc and loc[0] == "location":
        return LOCATION_KEY + _path(loc[1:])
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return f"{PROJECT}:{text}"


def _path(loc: tuple[Any, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class that holds the field at `loc`'s parent, for "did you mean" hints."""
    model: type[BaseModel] | None = StackConfig
    for part in loc[:-1]:
        if isinstance(part, int) or model is None:
            continue
        field = next((f for f in model.model_fields.values() if f.alias == part), None)
        if field is None:
            return None
        model = _model_class(field.annotation)
    return model


def _model_class(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) is not None:
        for arg in get_args(annotation):
            found = _model_class(arg)
            if found:
                return found
    return None


# Hints for keys people put in the wrong place.
_MISPLACED = {
    "clientSecret": f"the OAuth client secret goes in the secret key {PROJECT}:authClientSecret "
    "(pulumi config set --secret authClientSecret ...)",
    "token": f"the Docker Hub token goes in the secret key {PROJECT}:dockerHubToken "
    "(pulumi config set --secret dockerHubToken ...)",
    "password": f"registry credentials go in the secret key {PROJECT}:dockerHubToken (Docker Hub); "
    "ACR credentials are managed by the stack",
    "location": f"the region is set as {LOCATION_KEY} (pulumi config set azure-native:location westeurope)",
}


def _message(err: Mapping[str, Any]) -> str:
    loc = tuple(err["loc"])
    key = full_key(loc)
    kind = err["type"]
    got = err.get("input")
    if kind == "missing":
        return f"{key} is required"
    if kind == "extra_forbidden":
        name = str(loc[-1])
        if loc[-2:] == ("systemPool", "spot"):
            return (f"{key} is not allowed: AKS system pools cannot run on Spot VMs; "
                    f"set {PROJECT}:cluster.userPool.spot instead")
        if name in _MISPLACED:
            return f"{key} is not a known key: {_MISPLACED[name]}"
        model = _model_at(loc)
        known = [str(f.alias) for f in model.model_fields.values()] if model else []
        if model is StackConfig:
            known.remove("location")
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        hint = f"; did you mean '{close[0]}'?" if close else (f"; known keys: {', '.join(known)}" if known else "")
        return f"{key} is not a known key{hint}"
    if kind == "literal_error":
        return f"{key} must be one of {err['ctx']['expected']} (got {got!r})"
    if kind == "value_error":
        return f"{key} {str(err['msg']).removeprefix('Value error, ')}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"{key} must be an object with keys (got {type(got).__name__} {got!r})"
    if kind in ("bool_parsing", "bool_type"):
        return f"{key} must be true or false (got {got!r})"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"{key} must be a whole number (got {got!r})"
    if kind in ("float_parsing", "float_type"):
        return f"{key} must be a number (got {got!r})"
    if kind == "string_type":
        return f"{key} must be a string (got {got!r})"
    bounds = {"greater_than_equal": (">=", "ge"), "greater_than": (">", "gt"),
              "less_than_equal": ("<=", "le"), "less_than": ("<", "lt")}
    if kind in bounds:
        op, name = bounds[kind]
        return f"{key} must be {op} {err['ctx'][name]} (got {got!r})"
    if kind == "list_type":
        return f"{key} must be a list (got {type(got).__name__} {got!r})"
    msg = str(err["msg"])
    return f"{key}: {msg[:1].lower()}{msg[1:]} (got {got!r})"


def _decode(key: str, value: Any, problems: list[str]) -> Any:
    """Structured config arrives from Pulumi as JSON text; decode it."""
    if key in _OBJECT_KEYS and isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            problems.append(
                f"{PROJECT}:{key} must be an object (a YAML mapping in Pulumi.<stack>.yaml, or "
                f"`pulumi config set --path {key}.<field> ...`) (got {value!r})"
            )
            return None
    return value


# Namespaces a key may live in: the project's own, the provider whose stack config this
# program uses (its default provider), and Pulumi's own settings (`pulumi:tags`, ...).
# The Kubernetes and random providers are created explicitly, so their stack config would
# be ignored: a key there is refused rather than silently doing nothing.
KNOWN_NAMESPACES = (PROJECT, "azure-native", "pulumi")
_IGNORED_NAMESPACES = {
    "kubernetes": "the stack's Kubernetes provider is configured from the cluster it creates, so "
    "kubernetes:* settings would be ignored",
    "random": "the random provider takes no settings",
    "azure": "this stack uses the azure-native provider, not azure (classic); use azure-native:*",
}
# Settings of the azure-native provider (its `config` module, pulumi-azure-native 3.29.0).
AZURE_NATIVE_KEYS = (
    "auxiliaryTenantIds", "clientCertificatePassword", "clientCertificatePath", "clientId", "clientSecret",
    "disableInstanceDiscovery", "disablePulumiPartnerId", "environment", "location", "metadataHost", "msiEndpoint",
    "oidcRequestToken", "oidcRequestUrl", "oidcToken", "oidcTokenFilePath", "partnerId", "subscriptionId",
    "tenantId", "useDefaultAzureCredential", "useMsi", "useOidc",
)
# azure-native provider settings that are credentials: only as secrets.
_PROVIDER_SECRETS = ("azure-native:clientSecret", "azure-native:clientCertificatePassword",
                     "azure-native:oidcToken", "azure-native:oidcRequestToken")


def namespace_problems(key: str) -> list[str]:
    """A key outside the project's namespace: fine for a known provider, else one line (with
    "did you mean" for a near miss such as `binderhub-azuer:auth`)."""
    if ":" not in key:
        return [f"{key} has no namespace: write it as {PROJECT}:{key}"]
    namespace, _, name = key.partition(":")
    if namespace == "azure-native" and name not in AZURE_NATIVE_KEYS:
        close = difflib.get_close_matches(name, AZURE_NATIVE_KEYS, n=1, cutoff=0.6)
        hint = f"did you mean azure-native:{close[0]}?" if close else "see the azure-native provider's settings"
        return [f"{key} is not a setting of the azure-native provider and would be ignored; {hint}"]
    if namespace in KNOWN_NAMESPACES:
        return []
    if namespace in _IGNORED_NAMESPACES:
        return [f"{key} is not used: {_IGNORED_NAMESPACES[namespace]}"]
    close = difflib.get_close_matches(namespace, [*KNOWN_NAMESPACES, *_IGNORED_NAMESPACES], n=1, cutoff=0.6)
    if close:
        return [f"{key} is in an unknown namespace '{namespace}' and would be ignored; did you mean "
                f"{close[0]}:{name}?"]
    return [f"{key} is in namespace '{namespace}', which this stack does not read; keys go in "
            f"{', '.join(n + ':' for n in KNOWN_NAMESPACES)}"]


def parse_config(raw: Mapping[str, Any], secret_keys: set[str] | frozenset[str] = frozenset()) -> StackConfig:
    """Validate a stack's raw config (keys `ns:key`) and return the typed model.

    Raises `ConfigError` listing every problem found; nothing else is raised.
    """
    problems: list[str] = []
    data: dict[str, Any] = {}
    secrets_set: set[str] = set()
    wrongly_secret: set[str] = set()
    prefix = f"{PROJECT}:"
    for key, value in raw.items():
        if key == LOCATION_KEY:
            if key in secret_keys:
                problems.append(f"{key} is stored as a secret but is not one: pulumi config rm --secret {key} "
                                f"&& pulumi config set {key} <region>")
                wrongly_secret.add("location")
                continue
            data["location"] = value
            continue
        if key in _PROVIDER_SECRETS and key not in secret_keys:
            problems.append(f"{key} must be stored as a secret: pulumi config rm {key} && "
                            f"pulumi config set --secret {key} <value>")
            continue
        if not key.startswith(prefix):
            problems.extend(namespace_problems(key))
            continue
        name = key[len(prefix):]
        if name == "location":
            problems.append(f"{key} is not a key of this stack: the region is set once, as {LOCATION_KEY} "
                            f"(pulumi config rm location && pulumi config set {LOCATION_KEY} <region>)")
            continue
        if name in SECRET_KEYS:
            if key not in secret_keys:
                problems.append(
                    f"{key} must be stored as a secret: pulumi config rm {name} && "
                    f"pulumi config set --secret {name} <value>"
                )
                secrets_set.add(name)  # reported once, here, not again as missing
            elif value not in (None, ""):
                secrets_set.add(name)
            continue
        if key in secret_keys:
            # The plaintext is unknown offline and must not be printed under `pulumi up`.
            problems.append(f"{key} is stored as a secret but is not one: pulumi config rm {name} && "
                            f"pulumi config set {name} <value> (without --secret)")
            wrongly_secret.add(name)
            continue
        decoded = _decode(name, value, problems)
        if decoded is not None:
            data[name] = decoded

    model: StackConfig | None = None
    try:
        model = StackConfig.model_validate(data)
        model._secrets_set = frozenset(secrets_set)
    except ValidationError as exc:
        for err in exc.errors():
            if err["type"] == "missing" and err["loc"] and err["loc"][0] in wrongly_secret:
                continue  # already reported as a misplaced secret
            if err["type"] == "missing" and tuple(err["loc"]) == ("location",):
                problems.append(f"{LOCATION_KEY} is required: pulumi config set azure-native:location westeurope")
            else:
                problems.append(_message(err))
    if model is not None:
        # A key refused as a misplaced secret is not reported a second time as missing.
        missing = tuple(f"{PROJECT}:{name} is required" for name in wrongly_secret)
        problems.extend(line for line in cross_checks(model) if not line.startswith(missing) or not missing)
        if not problems:
            from .hub_values import chart_value_problems  # the values builders need a valid model

            problems.extend(chart_value_problems(model))
    if problems:
        # One line per problem, whatever a value held.
        raise ConfigError([" ".join(line.split("\n")) if "\n" in line else line for line in problems])
    assert model is not None
    return model


def cross_checks(cfg: StackConfig) -> list[str]:
    """Rules that involve more than one key. Each problem is one line naming a key."""
    p = PROJECT
    problems: list[str] = []
    user = cfg.cluster.user_pool
    system = cfg.cluster.system_pool
    if system.os_disk_type == "Ephemeral":
        from .vm_sizes import ephemeral_os_problem

        why = ephemeral_os_problem(system.vm_size, system.os_disk_size_gb)
        if why:
            problems.append(f"{p}:cluster.systemPool.osDiskType Ephemeral is not possible: {why}")
    if user.max_count < user.min_count:
        problems.append(
            f"{p}:cluster.userPool.maxCount must be >= minCount (got {user.max_count} < {user.min_count})"
        )
    if cfg.https and not cfg.contact_email:
        problems.append(
            f"{p}:contactEmail is required when https is on (Let's Encrypt account email), "
            "or set https: false"
        )
    if cfg.domain and cfg.dns_label:
        problems.append(f"{p}:dnsLabel is only used without domain; remove one of domain and dnsLabel")
    auth = cfg.auth
    if auth.type == "none":
        if not cfg.binder:
            problems.append(
                f"{p}:auth.type must be 'github' or 'entra' when mode is {cfg.mode} "
                "(a JupyterHub without login would be open to anyone)"
            )
        for name, value in (("clientId", auth.client_id), ("tenantId", auth.tenant_id),
                            ("allowedUsers", auth.allowed_users),
                            ("allowedOrganizations", auth.allowed_organizations), ("admins", auth.admins)):
            if value:
                problems.append(f"{p}:auth.{name} is set but auth.type is 'none'; set auth.type to github or entra")
    else:
        if not auth.client_id:
            problems.append(f"{p}:auth.clientId is required when auth.type is {auth.type!r}")
        if "authClientSecret" not in cfg.secrets_set:
            problems.append(
                f"{p}:authClientSecret is required when auth.type is {auth.type!r}: "
                "pulumi config set --secret authClientSecret <client secret>"
            )
    if auth.type == "entra":
        if not auth.tenant_id:
            problems.append(f"{p}:auth.tenantId is required when auth.type is 'entra'")
        elif not _GUID.fullmatch(auth.tenant_id):
            problems.append(f"{p}:auth.tenantId must be a GUID such as "
                            f"'00000000-0000-0000-0000-000000000000' (got {auth.tenant_id!r})")
        if auth.allowed_organizations:
            problems.append(f"{p}:auth.allowedOrganizations is only for auth.type 'github'")
    if auth.type == "github":
        if auth.tenant_id:
            problems.append(f"{p}:auth.tenantId is only for auth.type 'entra'")
        if not (auth.allowed_users or auth.allowed_organizations or cfg.allow_all):
            problems.append(
                f"{p}:auth.allowedUsers or auth.allowedOrganizations must list who may log in with "
                "GitHub (or set auth.allowAll: true to admit every GitHub user)"
            )
    if cfg.cluster.disable_local_accounts and not cfg.cluster.entra_admin_group_ids:
        problems.append(
            f"{p}:cluster.disableLocalAccounts needs cluster.entraAdminGroupIds (without Entra ID "
            "integration nobody could reach the cluster)"
        )
    reg = cfg.registry
    if cfg.binder and reg.type == "dockerhub":
        if not reg.username:
            problems.append(f"{p}:registry.username is required when registry.type is 'dockerhub'")
        if "dockerHubToken" not in cfg.secrets_set:
            problems.append(
                f"{p}:dockerHubToken is required when registry.type is 'dockerhub': "
                "pulumi config set --secret dockerHubToken <Docker Hub access token>"
            )
        if reg.image_prefix is not None and not _DOCKERHUB_PREFIX.fullmatch(reg.image_prefix):
            problems.append(f"{p}:registry.imagePrefix must look like '<user-or-org>/<name>-' for Docker Hub "
                            f"(got {reg.image_prefix!r})")
    if reg.type == "acr" and reg.image_prefix is not None and not _ACR_PREFIX.fullmatch(reg.image_prefix):
        problems.append(f"{p}:registry.imagePrefix must be a lowercase repository path such as 'binder/myuni-' "
                        f"(got {reg.image_prefix!r})")
    if reg.type == "acr" and reg.username:
        problems.append(f"{p}:registry.username is only for registry.type 'dockerhub'")
    gpu = cfg.cluster.gpu_pool
    if gpu and gpu.max_count < gpu.min_count:
        problems.append(
            f"{p}:cluster.gpuPool.maxCount must be >= minCount (got {gpu.max_count} < {gpu.min_count})"
        )
    registry_values: Any = cfg.helm_values.binderhub.get("config")
    for key in ("DockerRegistry", "token_url"):
        registry_values = registry_values.get(key) if isinstance(registry_values, dict) else None
    if cfg.uses_acr and registry_values:
        problems.append(f"{p}:helmValues.binderhub.config.DockerRegistry.token_url must be left out with ACR: "
                        "BinderHub then follows ACR's token challenge; a token URL makes every launch rebuild "
                        "(jupyterhub/binderhub#1620)")
    if cfg.cluster.build_pool is not None and not cfg.binder:
        problems.append(f"{p}:cluster.buildPool is only used when mode is binderhub (image builds)")
    if cfg.profiles and cfg.binder:
        problems.append(f"{p}:profiles is only used when mode is jupyterhub (Binder launches the repository's "
                        "own image)")
    if sum(profile.default for profile in cfg.profiles) > 1:
        problems.append(f"{p}:profiles may mark at most one entry default: true")
    for i, profile in enumerate(cfg.profiles):
        if profile.gpu and not gpu:
            problems.append(f"{p}:profiles[{i}].gpu needs cluster.gpuPool")
    seen: set[str] = set()
    for i, data in enumerate(cfg.datasets):
        key = f"{p}:datasets[{i}]"
        if (data.container is None) == (data.share is None):
            problems.append(f"{key} needs exactly one of container (Blob) and share (Azure Files)")
        if not data.create and not data.resource_group:
            problems.append(f"{key}.resourceGroup is required for an existing storage account (or set create: true)")
        if data.create and data.resource_group:
            problems.append(f"{key}.resourceGroup must be left out with create: true (the stack's group is used)")
        if data.name in seen:
            problems.append(f"{key}.name {data.name!r} is used twice")
        seen.add(data.name)
    problems.extend(_tljh_checks(cfg) if cfg.tljh else _vm_unused(cfg))
    if not cfg.binder and cfg.helm_values.binderhub:
        problems.append(f"{p}:helmValues.binderhub is only used when mode is binderhub")
    if auth.type == "entra" and auth.allow_all is False and not (auth.allowed_users or auth.admins):
        problems.append(f"{p}:auth.allowAll is false but neither auth.allowedUsers nor auth.admins names anyone, "
                        "so nobody could log in: list users, or set allowAll: true to admit the whole tenant")
    problems.extend(_binder_only(cfg))
    problems.extend(_memory_fits(cfg))
    from .helm_guard import helm_values_problems  # the deny-list of weakening helmValues

    problems.extend(helm_values_problems(cfg))
    problems.extend(_practice_checks(cfg))
    from .azure_names import name_problems  # it needs the naming module, which needs this one

    problems.extend(name_problems(cfg, p))
    return problems


def _practice_checks(cfg: StackConfig) -> list[str]:
    """Rules of the binderSite, storage and registry retention keys."""
    p = PROJECT
    problems = []
    site = cfg.binder_site
    if "binder_site" in cfg.model_fields_set and cfg.mode == "jupyterhub":
        problems.append(f"{p}:binderSite is only used when mode is binderhub")
    if site.image_cleaner_low_gi >= site.image_cleaner_high_gi:
        problems.append(f"{p}:binderSite.imageCleanerLowGi must be below imageCleanerHighGi "
                        f"(got {site.image_cleaner_low_gi} >= {site.image_cleaner_high_gi})")
    if cfg.binder and cfg.storage.type not in (None, "none"):
        problems.append(f"{p}:storage.type must be 'none' when mode is binderhub (Binder servers are "
                        f"temporary) (got {cfg.storage.type!r})")
    if cfg.security.cryptnono and cfg.mode == "jupyterhub":
        problems.append(f"{p}:security.cryptnono is only used when mode is binderhub")
    if cfg.registry.type == "dockerhub" and "retention_days" in cfg.registry.model_fields_set:
        problems.append(f"{p}:registry.retentionDays is only for registry.type 'acr' (Docker Hub has its own "
                        "retention policy)")
    return problems


# Keys that only BinderHub reads: (block, field names), as model attribute names.
_BINDER_ONLY = (
    ("limits", ("total_quota", "per_repo_quota", "build_memory")),
    ("security", ("banned_repos", "allowed_repos", "build_egress_ports")),
)


def _binder_only(cfg: StackConfig) -> list[str]:
    """BinderHub-only keys set in jupyterhub or tljh mode would silently do nothing."""
    if cfg.binder:
        return []
    p = PROJECT
    problems = []
    if "registry" in cfg.model_fields_set and not cfg.tljh:  # tljh reports the whole block
        problems.append(f"{p}:registry is only used when mode is binderhub (it is where Binder pushes images)")
    for block, names in _BINDER_ONLY:
        if block not in cfg.model_fields_set or (cfg.tljh and block == "security"):
            continue
        sub = getattr(cfg, block)
        for name in names:
            if name in sub.model_fields_set:
                problems.append(f"{p}:{block}.{to_camel(name)} is only used when mode is binderhub "
                                f"(this stack is {cfg.mode})")
    return problems


def _memory_fits(cfg: StackConfig) -> list[str]:
    """A memory limit larger than the node that would run it: no server could ever start."""
    from .vm_sizes import SIZES  # published sizes (vCPUs, GiB); unknown sizes are not judged

    VM_SIZES = {name: (s.vcpus, s.memory_gib) for name, s in SIZES.items()}  # noqa: N806

    p = PROJECT
    problems = []
    size = cfg.vm.size if cfg.tljh else cfg.cluster.user_pool.vm_size
    node = VM_SIZES.get(size)
    where = "vm.size" if cfg.tljh else "cluster.userPool.vmSize"
    if node and memory_bytes(cfg.limits.memory) > node[1] * 1024**3:
        problems.append(f"{p}:limits.memory {cfg.limits.memory} is more than a {size} node has ({node[1]:g} GiB, "
                        f"{where}); no server could start")
    gpu = cfg.cluster.gpu_pool
    for i, profile in enumerate(cfg.profiles):
        pool_size = gpu.vm_size if (profile.gpu and gpu) else size
        pool_node = VM_SIZES.get(pool_size)
        if profile.memory and pool_node and memory_bytes(profile.memory) > pool_node[1] * 1024**3:
            problems.append(f"{p}:profiles[{i}].memory {profile.memory} is more than a {pool_size} node has "
                            f"({pool_node[1]:g} GiB); no server could start")
    return problems


# Keys that configure the Kubernetes modes and mean nothing for a single TLJH VM.
_KUBERNETES_ONLY = ("cluster", "registry", "speed", "profiles", "datasets", "monitoring", "helm_values", "security",
                    "binder_site", "storage")


def _tljh_checks(cfg: StackConfig) -> list[str]:
    p = PROJECT
    problems = [
        f"{p}:{to_camel(name)} is not used when mode is tljh (it configures the Kubernetes modes)"
        for name in _KUBERNETES_ONLY if name in cfg.model_fields_set
    ]
    if not cfg.vm.ssh_public_key:
        problems.append(f"{p}:vm.sshPublicKey is required when mode is tljh (the VM allows SSH keys only): "
                        "pulumi config set --path vm.sshPublicKey \"$(cat ~/.ssh/id_ed25519.pub)\"")
    if not cfg.auth.admins:
        problems.append(f"{p}:auth.admins must name at least one JupyterHub admin when mode is tljh")
    return problems


def _vm_unused(cfg: StackConfig) -> list[str]:
    if "vm" in cfg.model_fields_set:
        return [f"{PROJECT}:vm is only used when mode is tljh"]
    return []


# ---------------------------------------------------------------------------
# Reference documentation generated from the model
# ---------------------------------------------------------------------------


def _doc_rows(model: type[BaseModel], prefix: str) -> list[tuple[str, str, str, str]]:
    rows = []
    for field in model.model_fields.values():
        alias = field.alias or ""
        key = LOCATION_KEY if (not prefix and alias == "location") else (f"{prefix}.{alias}" if prefix else alias)
        sub = _model_class(field.annotation)
        if sub is not None:
            is_list = get_origin(field.annotation) is list
            if is_list or field.default is None:  # an optional block: say what leaving it out means
                rows.append((key, "[]" if is_list else "—", field.description or "", ""))
            rows.extend(_doc_rows(sub, f"{key}[]" if is_list else key))
            continue
        if field.is_required():
            default = "required"
        else:
            value = field.get_default(call_default_factory=True)
            default = "—" if value is None else json.dumps(value)
        example = json.dumps(field.examples[0]) if field.examples else ""
        rows.append((key, default, field.description or "", example))
    return rows


def reference_markdown() -> str:
    """The config reference table, as in the README."""
    lines = ["| key | default | meaning | example |", "|---|---|---|---|"]
    for key, default, desc, example in _doc_rows(StackConfig, ""):
        desc = desc.replace("<", "&lt;").replace(">", "&gt;")
        lines.append(f"| `{key}` | {default} | {desc} | " + (f"`{example}`" if example else "") + " |")
    lines.append(
        "| `authClientSecret` | — (secret) | OAuth client secret; required when `auth.type` is not "
        "`none`. Set with `pulumi config set --secret authClientSecret ...`. | |"
    )
    lines.append(
        "| `dockerHubToken` | — (secret) | Docker Hub access token; required when `registry.type` is "
        "`dockerhub`. Set with `pulumi config set --secret dockerHubToken ...`. | |"
    )
    return "\n".join(lines)



def raw_pulumi_config() -> dict[str, Any]:
    """Every config key of the running stack, as the Pulumi runtime holds it."""
    from pulumi.runtime import config as runtime_config

    return {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}


def load_from_pulumi() -> StackConfig:
    """Read and validate the running stack's config from the Pulumi runtime.

    Raises `pulumi.RunError` (shown to the user without a traceback) before any
    resource is registered when the config is wrong.
    """
    import pulumi
    from pulumi.runtime import config as runtime_config

    raw = raw_pulumi_config()
    env_secret = set(runtime_config.get_config_secret_keys_env())
    secret = {k for k in raw if k in env_secret or runtime_config.is_config_secret(k)}
    try:
        return parse_config(raw, secret)
    except ConfigError as err:
        raise pulumi.RunError("invalid stack config:\n" + str(err)) from None


if __name__ == "__main__":  # pragma: no cover - documentation helper
    if sys.argv[1:] == ["--markdown"]:
        print(reference_markdown())
    else:
        print("usage: python -m components.config --markdown", file=sys.stderr)
        sys.exit(2)
