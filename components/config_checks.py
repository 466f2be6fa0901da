"""Rules that involve more than one config key (or the values builders) and so cannot live
inside one block's model. Each problem is one line naming a key.
"""

from __future__ import annotations

from typing import Any

from pydantic.alias_generators import to_camel

from . import repos_spec, tljh_spec
from . import schedule as sleep_schedule
from .azure_names import name_problems
from .config import StackConfig
from .config_fields import (
    _ACR_PREFIX,
    _DOCKERHUB_PREFIX,
    GUID,
    PROJECT,
    memory_bytes,
)
from .config_limits import limit_problems
from .federation_checks import federation_problems, federation_unused
from .fit import gpu_size_problems
from .helm_guard import helm_values_problems
from .vm_sizes import SIZES, ephemeral_os_problem


def cross_checks(cfg: StackConfig) -> list[str]:
    """Rules that involve more than one key. Each problem is one line naming a key."""
    if cfg.federated:
        return federation_problems(cfg)  # no hub, cluster or VM: none of the rules below apply
    p = PROJECT
    problems: list[str] = federation_unused(cfg)
    user = cfg.cluster.user_pool
    system = cfg.cluster.system_pool
    if system.os_disk_type == "Ephemeral":
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
        problems.extend(_missing_secret(cfg, "authClientSecret"))
    if auth.type == "entra":
        if not auth.tenant_id:
            problems.append(f"{p}:auth.tenantId is required when auth.type is 'entra'")
        elif not GUID.fullmatch(auth.tenant_id):
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
    for key, principals in (("adminPrincipals", cfg.cluster.admin_principals),
                            ("readerPrincipals", cfg.cluster.reader_principals)):
        if principals and not cfg.cluster.entra_admin_group_ids:
            problems.append(f"{p}:cluster.{key} needs cluster.entraAdminGroupIds (roles through Azure RBAC "
                            "need Entra ID integration)")
        seen = [x.object_id.lower() for x in principals]
        for object_id in sorted({x for x in seen if seen.count(x) > 1}):
            problems.append(f"{p}:cluster.{key} lists {object_id} more than once")
    reg = cfg.registry
    if cfg.binder and reg.type == "dockerhub":
        if not reg.username:
            problems.append(f"{p}:registry.username is required when registry.type is 'dockerhub'")
        problems.extend(_missing_secret(cfg, "dockerHubToken"))
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
    problems.extend(_memory_fits(cfg) if cfg.tljh else gpu_size_problems(cfg))

    problems.extend(helm_values_problems(cfg))
    problems.extend(_practice_checks(cfg))
    problems.extend(repo_problems(cfg))

    problems.extend(_schedule_checks(cfg))
    problems.extend(name_problems(cfg, p))
    problems.extend(limit_problems(cfg))
    return problems


def _schedule_checks(cfg: StackConfig) -> list[str]:
    """A sleep schedule: not for a Binder; its windows must fit a stop and a start."""
    if cfg.schedule is None:
        return []
    if cfg.binder:
        return [f"{PROJECT}:schedule is not available when mode is binderhub: a Binder's links are shared and "
                "opened at any hour, so it must answer at any hour (use mode jupyterhub or tljh for a course hub "
                "that sleeps)"]
    return sleep_schedule.problems(cfg.schedule, f"{PROJECT}:schedule", tljh=cfg.tljh)


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
    """tljh: a memory limit larger than the VM; no server could ever start. (The Kubernetes
    modes are checked against what a node offers pods, in components/fit.py.)"""
    p = PROJECT
    size = SIZES.get(cfg.vm.size)
    if size and memory_bytes(cfg.limits.memory) > size.memory_gib * 1024**3:
        return [f"{p}:limits.memory {cfg.limits.memory} is more than a {cfg.vm.size} node has ({size.memory_gib:g} "
                "GiB, vm.size); no server could start"]
    return []


# Keys that configure the Kubernetes modes and mean nothing for a single TLJH VM.
_KUBERNETES_ONLY = ("cluster", "registry", "speed", "profiles", "datasets", "monitoring", "helm_values", "security",
                    "binder_site", "storage", "repos")


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
    if cfg.default_url not in tljh_spec.DEFAULT_APPS:
        problems.append(f"{p}:defaultUrl must be {' or '.join(tljh_spec.DEFAULT_APPS)} when mode is tljh (TLJH's "
                        f"user_environment.default_app: JupyterLab or the classic interface) (got {cfg.default_url!r})")
    # Names tljh-config would store as numbers, booleans or null (tljh_spec.reads_as_text), each
    # with what to do instead.
    auth = cfg.auth
    instead = {"clientId": "a GitHub or Entra ID client ID has letters or dashes: check the value",
               "allowedUsers": "admit that account in TLJH's admin panel after installation",
               "admins": "make that account an admin in TLJH's admin panel after installation",
               "allowedOrganizations": "list its members in auth.allowedUsers"}
    for key, names in (("clientId", [auth.client_id or ""]), ("allowedUsers", auth.allowed_users),
                       ("admins", auth.admins), ("allowedOrganizations", auth.allowed_organizations)):
        for name in names:
            if name and not tljh_spec.reads_as_text(name):
                problems.append(f"{p}:auth.{key} {name!r} cannot be given to TLJH: tljh-config reads it as a "
                                f"number, a boolean or null, not as text; {instead[key]}")
    return problems


def _vm_unused(cfg: StackConfig) -> list[str]:
    if "vm" in cfg.model_fields_set:
        return [f"{PROJECT}:vm is only used when mode is tljh"]
    return []


# ---------------------------------------------------------------------------
# Reference documentation generated from the model
# ---------------------------------------------------------------------------


def needed_secrets(cfg: StackConfig) -> dict[str, tuple[str, str]]:
    """The secret keys this stack needs, each with (when it is needed, what it holds). The one
    place that says so: the config check and the offline tools' stand-ins both ask here."""
    needed: dict[str, tuple[str, str]] = {}
    if cfg.auth.type != "none":
        needed["authClientSecret"] = (f"auth.type is {cfg.auth.type!r}", "client secret")
    if cfg.binder and cfg.registry.type == "dockerhub":
        needed["dockerHubToken"] = ("registry.type is 'dockerhub'", "Docker Hub access token")
    return needed


def _missing_secret(cfg: StackConfig, key: str) -> list[str]:
    """A secret the stack needs and does not have, with the command that sets it."""
    need = needed_secrets(cfg).get(key)
    if need is None or key in cfg.secrets_set:
        return []
    when, what = need
    # Without a value on the command line `pulumi config set` asks for it, so the secret stays
    # out of the shell's history.
    return [f"{PROJECT}:{key} is required when {when}: pulumi config set --secret {key} (it asks for the {what})"]


# ---------------------------------------------------------------------------
# Repository providers, their tokens and CORS (binderhub)
# ---------------------------------------------------------------------------

# Provider id -> (repos key of its host, secret key of its token).
_HOSTED = {"gitlab": ("gitlabHost", "gitlabToken"), "ghe": ("githubEnterpriseHost", "githubEnterpriseToken")}


def repo_problems(cfg: StackConfig) -> list[str]:
    """Rules of `repos`, the repository tokens and `binderSite.corsAllowOrigins`. The tokens
    themselves are refused in plain text by the loader (SECRET_KEYS)."""
    p = PROJECT
    tokens = [key for key in repos_spec.TOKEN_KEYS.values() if key in cfg.secrets_set]
    if not cfg.binder:
        problems = [f"{p}:{key} is only used when mode is binderhub (BinderHub's repository providers)"
                    for key in tokens]
        if "repos" in cfg.model_fields_set and cfg.mode == "jupyterhub":  # tljh reports the whole block
            problems.append(f"{p}:repos is only used when mode is binderhub")
        return problems
    problems = []
    repos = cfg.repos
    ids = repos_spec.enabled_providers(cfg)
    hosts = {"gitlab": repos.gitlab_host, "ghe": repos.github_enterprise_host}
    for pid, (host_key, token_key) in _HOSTED.items():
        if pid in ids and not hosts[pid]:
            problems.append(f"{p}:repos.providers lists {pid} but repos.{host_key} is not set (the host of that "
                            "provider)")
        if hosts[pid] and pid not in ids:
            problems.append(f"{p}:repos.{host_key} is set but repos.providers does not list {pid}: add it, or "
                            f"remove repos.{host_key}")
        if token_key in tokens and not hosts[pid]:
            problems.append(f"{p}:{token_key} is set but repos.{host_key} is not: the token is for that host; set "
                            f"it, or pulumi config rm {token_key}")
    if "githubToken" in tokens and not {"gh", "gist"} & set(ids):
        problems.append(f"{p}:githubToken is set but repos.providers offers neither gh nor gist, the providers "
                        "that use it; add one, or pulumi config rm githubToken")
    if repos.private_repositories:
        if cfg.auth.type == "none":
            problems.append(f"{p}:repos.privateRepositories needs login (auth.type github or entra): BinderHub "
                            "clones with the stack's token, so on a Binder without login anyone on the internet "
                            "could launch, and read, every repository the token can read")
        elif cfg.auth.type == "github" and cfg.allow_all:
            problems.append(f"{p}:repos.privateRepositories needs a login that admits only your people: auth.allowAll "
                            "admits every GitHub account, so anyone with one could launch, and read, every "
                            "repository the token can read; list auth.allowedOrganizations or allowedUsers instead")
        if not tokens:
            problems.append(f"{p}:repos.privateRepositories needs a token that can read them: githubToken, "
                            "gitlabToken or githubEnterpriseToken (pulumi config set --secret <key>)")
    if cfg.binder_site.cors_allow_origins and cfg.auth.type != "none":
        problems.append(f"{p}:binderSite.corsAllowOrigins works only on a Binder without login (auth.type none): "
                        "BinderSpawner sets CORS only on anonymous servers (binderspawner_mixin.py get_args), and "
                        "a login-protected BinderHub needs the user's own cookie, which it does not allow other "
                        "sites to send (no Access-Control-Allow-Credentials)")
    return problems
