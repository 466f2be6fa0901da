"""Names of the Azure resources a stack creates, derived from its config (pure).

Azure names that humans see in the portal are set explicitly so that they read well
and stay stable; names that must be globally unique (the container registry) get a
random suffix from the program.
"""

from __future__ import annotations

import re

from .config import StackConfig


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


USER_POOL = "user"
SYSTEM_POOL = "system"
GPU_POOL = "gpu"
