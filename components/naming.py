"""Names of the Azure resources a stack creates, derived from its config (pure).

Azure names that humans see in the portal are set explicitly so that they read well
and stay stable; names that must be globally unique (the container registry) get a
random suffix from the program.
"""

from __future__ import annotations

import re

from .config import StackConfig

# Where BinderHub mounts its JupyterHub (one host name serves both).
BINDER_HUB_PATH = "/jupyter/"


def tags(cfg: StackConfig) -> dict[str, str]:
    """Tags on every Azure resource, so costs can be told apart per institution."""
    return {"app": "binderhub-azure", "institution": cfg.institution, "mode": cfg.mode}


def hub_base_url(cfg: StackConfig) -> str:
    return BINDER_HUB_PATH if cfg.binder else "/"


def site_url(cfg: StackConfig) -> str:
    """The address users open: BinderHub's front page, or JupyterHub's."""
    return f"{cfg.scheme}://{cfg.host}/"


def hub_url(cfg: StackConfig) -> str:
    """JupyterHub's address (below /jupyter/ in binderhub mode)."""
    return f"{cfg.scheme}://{cfg.host}{hub_base_url(cfg)}"


def resource_group(cfg: StackConfig) -> str:
    return f"rg-{cfg.institution}-{cfg.mode}"


def cluster(cfg: StackConfig) -> str:
    return f"aks-{cfg.institution}"


def node_resource_group(cfg: StackConfig) -> str:
    """AKS puts the cluster's VMs, disks and load balancer here."""
    return f"rg-{cfg.institution}-{cfg.mode}-nodes"


def dns_prefix(cfg: StackConfig) -> str:
    return cfg.institution


def registry_prefix(cfg: StackConfig) -> str:
    """ACR names are 5-50 lowercase alphanumerics and globally unique; the program adds a
    random 6-character suffix to this prefix."""
    return re.sub(r"[^a-z0-9]", "", cfg.institution) + "binder"


def public_ip(cfg: StackConfig) -> str:
    return f"pip-{cfg.institution}-ingress"


def key_vault_prefix(cfg: StackConfig) -> str:
    """Key Vault names are 3-24 characters and global: `kv-<institution>-` plus the program's
    random 6-character suffix. The institution is cut to 14 characters so the whole name fits
    in 24 (a 16-character institution used to give 26); shorter ones keep their old name."""
    return f"kv-{cfg.institution[:14].rstrip('-')}-"


def network_security_group(cfg: StackConfig) -> str:
    return f"nsg-{cfg.institution}-tljh"


def virtual_network(cfg: StackConfig) -> str:
    return f"vnet-{cfg.institution}-tljh"


def network_interface(cfg: StackConfig) -> str:
    return f"nic-{cfg.institution}-tljh"


def home_disk(cfg: StackConfig) -> str:
    return f"disk-{cfg.institution}-home"


def vm(cfg: StackConfig) -> str:
    return f"vm-{cfg.institution}-tljh"


def computer_name(cfg: StackConfig) -> str:
    """The VM's host name inside Linux."""
    return f"{cfg.institution}-tljh"


def budget(cfg: StackConfig) -> str:
    return f"{cfg.institution}-{cfg.mode}-monthly"


RANDOM_SUFFIX_LENGTH = 6
"""Length of the random lowercase suffix the program appends to registry and Key Vault names."""

USER_POOL = "user"
SYSTEM_POOL = "system"
GPU_POOL = "gpu"
BUILD_POOL = "build"
