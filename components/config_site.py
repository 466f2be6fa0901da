"""Config blocks of the site around the hub: security, datasets, monitoring, the TLJH VM,
the budget, the Binder front page, storage and extra Helm values.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator

from . import azure_limits
from .config_fields import (
    _EMAIL,
    _HOST_LABEL,
    _KEEP_DIRS,
    _SYSTEM_DIRS,
    Cidrs,
    VmSize,
    _Model,
)

# A web origin as browsers send it (RFC 6454 serialisation): scheme, host, optional port; no path.
_ORIGIN = re.compile(r"https?://(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*(:[0-9]{1,5})?")


class SecurityConfig(_Model):
    """Defences of a public service. The defaults are the safe ones."""

    build_egress_ports: list[int] = Field(
        default_factory=lambda: [80, 443],
        description="TCP ports Binder image builds may reach on the public internet, at least one (DNS is always "
        "allowed; the cloud metadata address, Azure's platform address and private ranges never are).",
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
        if not values:
            # The list becomes a NetworkPolicy rule's `ports`, where empty means every port.
            raise ValueError("must list at least one TCP port (such as [80, 443]): builds fetch repositories and "
                             "packages from the internet, and an empty port list in a NetworkPolicy means every port")
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

    size: VmSize = Field("Standard_D4s_v5", description="VM size (4 vCPU / 16 GiB serves a class of a few dozen).",
                      examples=["Standard_E4s_v5"])
    disk_size_gb: int = Field(
        128, ge=16, le=4096,
        description="Size of the managed data disk mounted at /home; it is kept when the VM is replaced.",
        examples=[256],
    )
    admin_username: str = Field("tljhadmin", description="Linux administrator account (SSH key login only).",
                                examples=["tljhadmin"])
    ssh_public_key: str | None = Field(
        None, description="OpenSSH public key of the administrator (required in tljh mode): RSA of at least 2048 "
        "bits or Ed25519, as Azure takes (not ECDSA).",
        examples=["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFPMzQlYzpUgP3p42/QgAirjHhvq0yDWQnI/CrtCPdGL rse@myuni"],
    )
    ssh_allowed_cidrs: Cidrs = Field(
        default_factory=list,
        description="Addresses allowed to SSH in (port 22); empty keeps SSH closed.",
        examples=[["203.0.113.0/24"]],
    )


    @field_validator("admin_username")
    @classmethod
    def _admin(cls, value: str) -> str:
        why = azure_limits.admin_username_problem(value)
        if why:
            raise ValueError(why)
        return value

    @field_validator("ssh_public_key")
    @classmethod
    def _key(cls, value: str | None) -> str | None:
        why = azure_limits.ssh_key_problem(value) if value is not None else None
        if why:  # never echo the value: a pasted private key would land in the output
            raise ValueError(why)
        return value



class BudgetConfig(_Model):
    """A monthly Azure budget on the stack's resource group, with email alerts."""

    monthly_amount: float = Field(
        gt=0, le=10_000_000,
        description="Budget per month in the billing currency; alerts at 80 % and 100 % of actual spend. "
        "`./run python -m tools.cost` suggests a value.",
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
        "file on a small Azure Files share mounted in the binder pod; `./run python -m tools.ops launches` "
        "counts them.",
        examples=[True],
    )
    cors_allow_origins: list[str] = Field(
        default_factory=list,
        description="Web pages on other sites that may start servers on this Binder (Jupyter Book, thebe): "
        "empty (off), ['*'] (any site, as mybinder.org) or one origin such as 'https://book.myuni.example'. "
        "Rendered as BinderHub.cors_allow_origin and BinderSpawner.cors_allow_origin, which take one origin "
        "or '*' (BinderHub at the pinned commit sends a single Access-Control-Allow-Origin value); only "
        "on a Binder without login (BinderSpawner applies it to anonymous servers only).",
        examples=[["https://book.myuni.example"]],
    )

    @field_validator("cors_allow_origins")
    @classmethod
    def _origins(cls, values: list[str]) -> list[str]:
        for i, value in enumerate(values):
            if value != "*" and not _ORIGIN.fullmatch(value):
                raise ValueError(f"item {i} must be '*' or an origin: scheme://host[:port] with scheme http or "
                                 f"https, a lowercase host name and no path, e.g. 'https://book.myuni.example' "
                                 f"(got {value!r})")
            if value != "*" and (port := value.rpartition(":")[2]).isdigit() and not 1 <= int(port) <= 65535:
                raise ValueError(f"item {i} has a port outside 1-65535 (got {value!r})")
        if "*" in values and len(values) > 1:
            raise ValueError("'*' already allows every origin: give ['*'] alone or one origin")
        if len(values) > 1:
            raise ValueError("may name one origin only: BinderHub and BinderSpawner take a single "
                             "cors_allow_origin value (binderhub app.py and binderspawner_mixin.py at the pinned "
                             "commit send it as the one Access-Control-Allow-Origin header); use '*' for "
                             f"pages on several sites (got {len(values)} origins)")
        return values


# BinderHub's repository providers and their front-page ids (binderhub/app.py `repo_providers`
# at the pinned commit), in BinderHub's order; `gitlab` and `ghe` are the stack's own providers
# for `repos.gitlabHost` and `repos.githubEnterpriseHost` (components/repos_spec.py).
BINDERHUB_PROVIDERS = ("gh", "gist", "git", "gl", "zenodo", "figshare", "hydroshare", "dataverse", "ckan")
HOST_PROVIDERS = ("gitlab", "ghe")
RepoProviderId = Literal["gh", "gist", "git", "gl", "zenodo", "figshare", "hydroshare", "dataverse", "ckan",
                         "gitlab", "ghe"]


class ReposConfig(_Model):
    """Where Binder may take repositories from, and with which tokens (binderhub only). The tokens are
    the secret keys githubToken, gitlabToken and githubEnterpriseToken."""

    providers: list[RepoProviderId] | None = Field(
        None,
        description="Repository providers offered on the front page and accepted in launch links, by "
        "BinderHub's ids: gh (GitHub), gist, git (any git URL), gl (gitlab.com), zenodo, figshare, hydroshare, "
        "dataverse, ckan, plus gitlab (repos.gitlabHost) and ghe (repos.githubEnterpriseHost). Unset: "
        "BinderHub's default (all nine) plus the hosts configured here.",
        examples=[["gitlab", "git"]],
    )
    gitlab_host: str | None = Field(
        None,
        description="Host name of the institution's own GitLab, offered as provider `gitlab` (launch links "
        "/v2/gitlab/<url-escaped group/project>/<ref>); its token is the secret key gitlabToken (optional for "
        "public projects).",
        examples=["gitlab.myuni.example"],
    )
    github_enterprise_host: str | None = Field(
        None,
        description="Host name of a GitHub Enterprise Server, offered as provider `ghe` (its API at "
        "https://<host>/api/v3); its token is the secret key githubEnterpriseToken.",
        examples=["github.myuni.example"],
    )
    private_repositories: bool = Field(
        False,
        description="The tokens may read private repositories. BinderHub clones with the token, so anyone who "
        "can use this Binder can launch whatever the token can read: allowed only with login on (auth.type "
        "github without allowAll, or entra), and then every user who can log in can launch them. False: give "
        "tokens that read public repositories only (a GitHub token with no scopes).",
        examples=[True],
    )

    @field_validator("gitlab_host", "github_enterprise_host")
    @classmethod
    def _host(cls, value: str | None) -> str | None:
        if value is None:
            return value
        labels = value.split(".")
        if len(value) > 253 or len(labels) < 2 or not all(_HOST_LABEL.fullmatch(x) for x in labels) \
                or labels[-1].isdigit():
            raise ValueError("must be a lowercase host name such as 'gitlab.myuni.example', without scheme, port "
                             f"or path (got {value!r})")
        if value in ("github.com", "gitlab.com", "gist.github.com"):
            raise ValueError(f"{value} is already one of BinderHub's own providers (gh, gist, gl): list it in "
                             "repos.providers instead")
        return value

    @field_validator("providers")
    @classmethod
    def _providers(cls, values: list[str] | None) -> list[str] | None:
        if values is None:
            return values
        if not values:
            raise ValueError("must name at least one provider (BinderHub refuses an empty repo_providers); leave "
                             "it out for BinderHub's default")
        twice = sorted({v for v in values if values.count(v) > 1})
        if twice:
            raise ValueError(f"names {', '.join(twice)} more than once")
        return values


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
    unchecked_paths: list[str] = Field(
        default_factory=list,
        description="helmValues paths you take responsibility for. The gate accepts a short list of paths whose "
        "effect it checks (README \"Security model\"); any other path is refused unless listed here, as "
        "'jupyterhub.<path>', 'binderhub.<path>' or 'binderhub.jupyterhub.<path>' (`*` is any one key; an entry "
        "covers everything below it). Listed paths are shown as unchecked in every plan and `pulumi up`; the "
        "invariants on the merged values (login, quotas, culling, limits, network policies, service accounts, "
        "privilege, priorities) and the secret check still apply to them.",
        examples=[["jupyterhub.hub.extraConfig.myconfig", "jupyterhub.singleuser.extraContainers"]],
    )
