"""The stack configuration contract: every key a `Pulumi.<stack>.yaml` may set, as one typed
model, `StackConfig`.

Pure: `config_load.parse_config` turns the raw key/value pairs Pulumi hands a program
(strings, with structured values as JSON) into a validated `StackConfig`, or raises
`ConfigError` with one line per problem, each naming the full config key and what is allowed.
Nothing here touches Pulumi's engine, so a bad stack fails before a single resource is
registered.

The field descriptions are the reference documentation of the keys: docs/config.md is
generated from them (`./run python -m tools.config_reference > docs/config.md`).

The model is split by job: field types and shared patterns in `config_fields`, the blocks in
`config_cluster` and `config_site`, the stack model here; cross-field rules in `config_checks`,
one-line error messages in `config_messages`, parsing and loading in `config_load`.
"""

from __future__ import annotations

import difflib
from typing import Literal

from pydantic import Field, PrivateAttr, field_validator

from . import letsencrypt
from .config_cluster import (
    AuthConfig,
    BuildPool,
    ClusterConfig,
    GpuPool,
    LimitsConfig,
    ProfileConfig,
    RegistryConfig,
    SpeedConfig,
    SystemPool,
    UserPool,
)
from .config_federation import FederationConfig, FederationMember, HealthChecks
from .config_fields import (
    _DNS_LABEL,
    _EMAIL,
    _HOST_LABEL,
    _REGION,
    _SLUG,
    AZURE_REGIONS,
    LOCATION_KEY,
    MAX_MEMORY_BYTES,
    MIN_MEMORY_BYTES,
    PROJECT,
    SECRET_KEYS,
    ConfigError,
    _check_local_url,
    _Model,
    memory_bytes,
)
from .config_schedule import ScheduleConfig
from .config_site import (
    BinderSiteConfig,
    BudgetConfig,
    DatasetConfig,
    HelmValuesConfig,
    MonitoringConfig,
    ReposConfig,
    SecurityConfig,
    StorageConfig,
    VmConfig,
)


class StackConfig(_Model):
    """One institution's stack."""

    location: str = Field(
        description="Azure region short name (set as `azure-native:location`). Any region with AKS works: pick "
        "the one nearest your users. The examples use swedencentral, a large EU region for which the AKS issue "
        "tracker shows no refusals of new clusters, unlike West Europe (AKSCapacityError: Azure/AKS#4185, #4301).",
        examples=["swedencentral"],
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
    mode: Literal["binderhub", "jupyterhub", "tljh", "federation"] = Field(
        "binderhub",
        description="'binderhub' (BinderHub with its JupyterHub), 'jupyterhub' (a plain JupyterHub on AKS, "
        "no image builds), 'tljh' (The Littlest JupyterHub on one VM) or 'federation' (one launch address "
        "in front of several BinderHubs, on Azure Container Apps; see `federation`).",
        examples=["binderhub"],
    )
    domain: str | None = Field(
        None,
        description="Public host name to serve on (you create its DNS A record). Without it the site "
        "is at <dnsLabel>.<location>.cloudapp.azure.com. In federation mode: a CNAME to the container app's "
        "address and a TXT record asuid.<domain> (see README, \"A federation of Binders\").",
        examples=["binder.myuni.example"],
    )
    dns_label: str | None = Field(
        None,
        description="Azure DNS label used when `domain` is absent; default '<institution>-binder' or "
        "'<institution>-hub'. Must be unique in the region. In federation mode: the container app's name, "
        "the first label of its Azure address (at most 32 characters).",
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
        "/lab", description="Interface a new server opens: /lab (JupyterLab), /tree (classic) or /rstudio "
        "(tljh: /lab or /tree).",
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
    schedule: ScheduleConfig | None = Field(
        None, description="Optional sleep schedule (jupyterhub and tljh modes), set with the keys below: outside "
        "its awake windows the cluster is stopped (or the VM deallocated) and compute is not billed. Absent: "
        "always on.",
    )
    federation: FederationConfig = Field(
        default_factory=FederationConfig,
        description="The federation's members, redirector image and health checks (federation mode only).",
    )
    repos: ReposConfig = Field(
        default_factory=ReposConfig, description="Repository providers and their tokens (binderhub)."
    )

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
                f"must be an Azure region short name such as 'swedencentral' or 'uksouth' (got {value!r})"
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
        why = letsencrypt.contact_email_problem(value) if value is not None else None
        if why:  # the Let's Encrypt account's address (components/letsencrypt.py)
            raise ValueError(f"{why} (got {value!r})")
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
        if letsencrypt.under_azure_dns_label_zone(value):
            raise ValueError(f"must be a name you own: {letsencrypt.AZURE_DNS_LABEL_ZONE} is Azure's zone for DNS "
                             f"labels; for an address there leave domain out and set dnsLabel (got {value!r})")
        why = letsencrypt.domain_problem(value)
        if why:
            raise ValueError(f"{why} (got {value!r})")
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
    def federated(self) -> bool:
        """federation mode: a redirector in front of other BinderHubs, no cluster of its own."""
        return self.mode == "federation"

    @property
    def effective_dns_label(self) -> str:
        return self.dns_label or f"{self.institution}-{'binder' if self.binder or self.federated else 'hub'}"

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


__all__ = [
    "AZURE_REGIONS",
    "LOCATION_KEY",
    "MAX_MEMORY_BYTES",
    "MIN_MEMORY_BYTES",
    "PROJECT",
    "SECRET_KEYS",
    "AuthConfig",
    "BinderSiteConfig",
    "BudgetConfig",
    "BuildPool",
    "ClusterConfig",
    "ConfigError",
    "DatasetConfig",
    "FederationConfig",
    "FederationMember",
    "GpuPool",
    "HealthChecks",
    "HelmValuesConfig",
    "LimitsConfig",
    "MonitoringConfig",
    "ProfileConfig",
    "RegistryConfig",
    "ReposConfig",
    "ScheduleConfig",
    "SecurityConfig",
    "SpeedConfig",
    "StackConfig",
    "StorageConfig",
    "SystemPool",
    "UserPool",
    "VmConfig",
    "memory_bytes",
]
