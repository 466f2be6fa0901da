"""What an operator should know about a valid stack before deploying it (pure).

Notes never block: a config that fails a rule raises a ConfigError instead. The offline plan
prints them under "Notes", and `pulumi preview`/`up` show them as warnings.
"""

from __future__ import annotations

from datetime import date

from . import aks_versions, helm_guard, vm_sizes
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
    # helmValues paths the stack took responsibility for (helmValues.uncheckedPaths).
    notes.extend(helm_guard.unchecked_notes(cfg))
    return notes


def _federation_notes(cfg: StackConfig) -> list[str]:
    members = cfg.federation.members
    if members and not any(m.prime for m in members):
        return [f"federation.members: none is prime: true, so the first, {members[0].label}, gets the launches "
                "when no member is healthy"]
    return []
