"""What an operator should know about a valid stack before deploying it (pure).

Notes never block: a config that fails a rule raises a ConfigError instead. The offline plan
prints them under "Notes", and `pulumi preview`/`up` show them as warnings.
"""

from __future__ import annotations

from datetime import date

from . import aks_versions, helm_guard, repos_spec, vm_sizes
from .config import StackConfig


def _vm_sizes(cfg: StackConfig) -> list[tuple[str, str]]:
    """(config key, VM size) of every VM the stack makes."""
    if cfg.tljh:
        return [("vm.size", cfg.vm.size)]
    cluster = cfg.cluster
    sizes = [("cluster.systemPool.vmSize", cluster.system_pool.vm_size),
             ("cluster.userPool.vmSize", cluster.user_pool.vm_size)]
    if cluster.gpu_pool is not None:
        sizes.append(("cluster.gpuPool.vmSize", cluster.gpu_pool.vm_size))
    if cfg.build_pool is not None:
        sizes.append(("cluster.buildPool.vmSize", cfg.build_pool.vm_size))
    return sizes


def stack_notes(cfg: StackConfig, on: date) -> list[str]:
    """One line each, in config order."""
    if cfg.federated:
        return _federation_notes(cfg)
    notes = []
    if not cfg.tljh:
        note = aks_versions.note(cfg.cluster.kubernetes_version, on)
        if note:
            notes.append(note)
    if not cfg.tljh and cfg.cluster.entra_admin_group_ids and not cfg.cluster.admin_principals:
        notes.append("cluster.adminPrincipals is empty: only members of cluster.entraAdminGroupIds are cluster "
                     "admins, so the identity that runs `pulumi up` (a CI service principal too) must be one, or "
                     "Kubernetes resources fail with 403; list it in cluster.adminPrincipals otherwise")
    for key, size in _vm_sizes(cfg):
        if size not in vm_sizes.SIZES:
            notes.append(f"{key} {size} is not in components/vm_sizes.json ({vm_sizes.RECORDED}): its vCPUs, memory "
                         "and price are unknown offline; the pre-flight asks Azure whether the region offers it")
    notes.extend(_repo_token_notes(cfg))
    # helmValues paths the stack took responsibility for (helmValues.uncheckedPaths).
    notes.extend(helm_guard.unchecked_notes(cfg))
    return notes


def _federation_notes(cfg: StackConfig) -> list[str]:
    members = cfg.federation.members
    if members and not any(m.prime for m in members):
        return [f"federation.members: none is prime: true, so the first, {members[0].label}, gets the launches "
                "when no member is healthy"]
    return []


def _repo_token_notes(cfg: StackConfig) -> list[str]:
    """What a repository token may read when repos.privateRepositories is off: the stack cannot see a
    token's scopes, and BinderHub clones with it."""
    held = [key for key in repos_spec.TOKEN_KEYS.values() if key in cfg.secrets_set]
    if not cfg.binder or not held:
        return []
    if cfg.repos.private_repositories:
        return [f"repos.privateRepositories is on: everyone who can log in can launch, and so read, every repository "
                f"{', '.join(held)} can read (BinderHub clones with the token, not as the user); the token also "
                "reaches every image build pod as its git credential (GIT_CREDENTIAL_ENV)"]
    which = "this token" if len(held) == 1 else "these tokens"
    return [f"{', '.join(held)}: repos.privateRepositories is false, so give {which} read access to public "
            "repositories only (a GitHub token with no scopes; for GitLab or GitHub Enterprise, a token of an account "
            "that can read nothing private): BinderHub clones with it, so anyone who can use this Binder can launch "
            "whatever it can read"]
