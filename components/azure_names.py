"""Azure's naming rules for every resource the stack names, and a check of the names a config
generates (pure).

Source: learn.microsoft.com, "Naming rules and restrictions for Azure resources"
(azure-resource-manager/management/resource-name-rules), read 2026; AKS agent pool and DNS
prefix limits from the AKS API reference (Microsoft.ContainerService managedClusters/agentPools).
Each rule: length, allowed characters (as a pattern for `re.fullmatch`) and the scope in which
the name must be unique. `generated_names` lists what one config would create, with the config
key that changes each name, so that `config.cross_checks` can refuse a name Azure would refuse
at `pulumi up`, at plan time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import naming

if TYPE_CHECKING:
    from .config import StackConfig


@dataclass(frozen=True)
class NameRule:
    resource: str
    """Azure resource type, as users see it."""
    min_length: int
    max_length: int
    pattern: str
    """What the whole name must match (re.fullmatch)."""
    characters: str
    """The pattern in words, for the error message."""
    scope: str
    """Where the name must be unique."""
    no_double_hyphen: bool = False


_ALNUM_UNDERSCORE_PERIOD_HYPHEN = r"[A-Za-z0-9][A-Za-z0-9_.-]*[A-Za-z0-9_]|[A-Za-z0-9]"

RESOURCE_GROUP = NameRule(
    "resource group (Microsoft.Resources/resourceGroups)", 1, 90, r"[-\w.()]*[-\w()]",
    "letters, digits, underscores, parentheses, hyphens and periods, not ending in a period", "subscription")
# The node resource group AKS creates follows the resource group rules.
NODE_RESOURCE_GROUP = RESOURCE_GROUP
AKS_CLUSTER = NameRule(
    "AKS cluster (Microsoft.ContainerService/managedClusters)", 1, 63,
    r"[A-Za-z0-9]([A-Za-z0-9_-]*[A-Za-z0-9])?",
    "letters, digits, underscores and hyphens, starting and ending with a letter or digit", "resource group")
AKS_DNS_PREFIX = NameRule(
    "AKS DNS prefix (managedClusters dnsPrefix)", 1, 54, r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?",
    "letters, digits and hyphens, starting and ending with a letter or digit", "region (part of the API server name)")
AGENT_POOL = NameRule(
    "AKS node pool, Linux (managedClusters/agentPools)", 1, 12, r"[a-z][a-z0-9]*",
    "lowercase letters and digits, starting with a letter", "cluster")
CONTAINER_REGISTRY = NameRule(
    "container registry (Microsoft.ContainerRegistry/registries)", 5, 50, r"[A-Za-z0-9]+",
    "letters and digits", "global")
REGISTRY_TASK = NameRule(
    "container registry task (Microsoft.ContainerRegistry/registries/tasks)", 5, 50, r"[A-Za-z0-9_-]+",
    "letters, digits, hyphens and underscores", "registry")
STORAGE_ACCOUNT = NameRule(
    "storage account (Microsoft.Storage/storageAccounts)", 3, 24, r"[a-z0-9]+",
    "lowercase letters and digits", "global")
# learn.microsoft.com/rest/api/storageservices/naming-and-referencing-containers--blobs--and-metadata:
# "Container names must start or end with a letter or number ... Every hyphen (-) character must be
# immediately preceded and followed by a letter or number" (so no trailing '-', no '--').
BLOB_CONTAINER = NameRule(
    "blob container (storageAccounts/blobServices/containers)", 3, 63, r"[a-z0-9]([a-z0-9-]*[a-z0-9])?",
    "lowercase letters, digits and hyphens, starting and ending with a letter or digit, no '--'", "storage account",
    no_double_hyphen=True)
FILE_SHARE = NameRule(
    "file share (storageAccounts/fileServices/shares)", 3, 63, r"[a-z0-9]([a-z0-9-]*[a-z0-9])?",
    "lowercase letters, digits and hyphens, starting and ending with a letter or digit, no '--'",
    "storage account", no_double_hyphen=True)
KEY_VAULT = NameRule(
    "Key Vault (Microsoft.KeyVault/vaults)", 3, 24, r"[A-Za-z]([A-Za-z0-9-]*[A-Za-z0-9])?",
    "letters, digits and hyphens, starting with a letter, ending with a letter or digit, no '--'", "global",
    no_double_hyphen=True)
PUBLIC_IP = NameRule(
    "public IP address (Microsoft.Network/publicIPAddresses)", 1, 80, _ALNUM_UNDERSCORE_PERIOD_HYPHEN,
    "letters, digits, underscores, periods and hyphens, starting with a letter or digit, ending with a "
    "letter, digit or underscore", "resource group")
DNS_LABEL = NameRule(
    "public IP DNS label (dnsSettings.domainNameLabel)", 3, 63, r"[a-z][a-z0-9-]*[a-z0-9]",
    "lowercase letters, digits and hyphens, starting with a letter, ending with a letter or digit",
    "region (<label>.<region>.cloudapp.azure.com)")
NETWORK_SECURITY_GROUP = NameRule(
    "network security group (Microsoft.Network/networkSecurityGroups)", 1, 80, _ALNUM_UNDERSCORE_PERIOD_HYPHEN,
    PUBLIC_IP.characters, "resource group")
VIRTUAL_NETWORK = NameRule(
    "virtual network (Microsoft.Network/virtualNetworks)", 2, 64, _ALNUM_UNDERSCORE_PERIOD_HYPHEN,
    PUBLIC_IP.characters, "resource group")
SUBNET = NameRule(
    "subnet (virtualNetworks/subnets)", 1, 80, _ALNUM_UNDERSCORE_PERIOD_HYPHEN, PUBLIC_IP.characters,
    "virtual network")
NETWORK_INTERFACE = NameRule(
    "network interface (Microsoft.Network/networkInterfaces)", 1, 80, _ALNUM_UNDERSCORE_PERIOD_HYPHEN,
    PUBLIC_IP.characters, "resource group")
MANAGED_DISK = NameRule(
    "managed disk (Microsoft.Compute/disks)", 1, 80, r"[A-Za-z0-9_-]*[A-Za-z0-9_]",
    "letters, digits, underscores and hyphens, ending with a letter, digit or underscore", "resource group")
VIRTUAL_MACHINE = NameRule(
    "Linux virtual machine (Microsoft.Compute/virtualMachines)", 1, 64, r"[A-Za-z0-9][A-Za-z0-9.-]*[A-Za-z0-9]|\w",
    "letters, digits, periods and hyphens (no spaces or other symbols), not ending in a period or hyphen",
    "resource group")
COMPUTER_NAME = NameRule(
    "Linux VM computer name (osProfile.computerName)", 1, 64, r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?",
    "letters, digits and hyphens, starting and ending with a letter or digit", "none (host name inside the VM)")
BUDGET = NameRule(
    "budget (Microsoft.Consumption/budgets)", 1, 63, r"[A-Za-z0-9_-]+",
    "letters, digits, underscores and hyphens", "the budget's scope (here the resource group)")
ROLE_ASSIGNMENT = NameRule(
    "role assignment (Microsoft.Authorization/roleAssignments)", 36, 36,
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
    "a GUID (the provider generates one per assignment)", "the assignment's scope")

ALL_RULES = (RESOURCE_GROUP, AKS_CLUSTER, AKS_DNS_PREFIX, AGENT_POOL, CONTAINER_REGISTRY, REGISTRY_TASK,
             STORAGE_ACCOUNT, BLOB_CONTAINER, FILE_SHARE, KEY_VAULT, PUBLIC_IP, DNS_LABEL, NETWORK_SECURITY_GROUP,
             VIRTUAL_NETWORK, SUBNET, NETWORK_INTERFACE, MANAGED_DISK, VIRTUAL_MACHINE, COMPUTER_NAME, BUDGET,
             ROLE_ASSIGNMENT)

# Stands in for the program's random suffix (lowercase letters and digits) at plan time.
SUFFIX_PLACEHOLDER = "x" * naming.RANDOM_SUFFIX_LENGTH


def violation(rule: NameRule, name: str) -> str | None:
    """Why Azure would refuse `name` for `rule`, or None."""
    if not rule.min_length <= len(name) <= rule.max_length:
        return f"is {len(name)} characters; Azure allows {rule.min_length}-{rule.max_length}"
    if not re.fullmatch(rule.pattern, name):
        return f"must be {rule.characters}"
    if rule.no_double_hyphen and "--" in name:
        return "must not contain '--'"
    return None


def generated_names(cfg: StackConfig) -> list[tuple[NameRule, str, str]]:
    """Every Azure name this config creates: (rule, name, the config key that changes it).
    Registry and Key Vault names carry the random suffix, counted at its full length."""
    names: list[tuple[NameRule, str, str]] = [
        (RESOURCE_GROUP, naming.resource_group(cfg), "institution"),
        (PUBLIC_IP, naming.public_ip(cfg), "institution"),
        (DNS_LABEL, cfg.effective_dns_label, "dnsLabel" if cfg.dns_label else "institution (or set dnsLabel)"),
    ]
    if cfg.budget:
        names.append((BUDGET, naming.budget(cfg), "institution"))
    if cfg.tljh:
        names += [
            (NETWORK_SECURITY_GROUP, naming.network_security_group(cfg), "institution"),
            (VIRTUAL_NETWORK, naming.virtual_network(cfg), "institution"),
            (SUBNET, "tljh", "institution"),
            (NETWORK_INTERFACE, naming.network_interface(cfg), "institution"),
            (KEY_VAULT, naming.key_vault_prefix(cfg) + SUFFIX_PLACEHOLDER, "institution"),
            (MANAGED_DISK, naming.home_disk(cfg), "institution"),
            (VIRTUAL_MACHINE, naming.vm(cfg), "institution"),
            (COMPUTER_NAME, naming.computer_name(cfg), "institution"),
        ]
        return names
    names += [
        (AKS_CLUSTER, naming.cluster(cfg), "institution"),
        (AKS_DNS_PREFIX, naming.dns_prefix(cfg), "institution"),
        (NODE_RESOURCE_GROUP, naming.node_resource_group(cfg), "institution"),
        (AGENT_POOL, naming.SYSTEM_POOL, "institution"),
        (AGENT_POOL, naming.USER_POOL, "institution"),
    ]
    if cfg.cluster.gpu_pool:
        names.append((AGENT_POOL, naming.GPU_POOL, "cluster.gpuPool"))
    if cfg.build_pool is not None:
        names.append((AGENT_POOL, naming.BUILD_POOL, "cluster.buildPool"))
    if cfg.uses_acr:
        names.append((CONTAINER_REGISTRY, naming.registry_prefix(cfg) + SUFFIX_PLACEHOLDER, "institution"))
        from .practices_spec import purge_task_args  # the registry's image purge (registry.retentionDays)

        purge = purge_task_args(cfg)
        if purge is not None:
            names.append((REGISTRY_TASK, purge["task_name"], "registry.retentionDays"))
    for i, data in enumerate(cfg.datasets):
        if data.create:
            names.append((STORAGE_ACCOUNT, data.storage_account, f"datasets[{i}].storageAccount"))
        if data.container is not None:
            names.append((BLOB_CONTAINER, data.container, f"datasets[{i}].container"))
        if data.share is not None:
            names.append((FILE_SHARE, data.share, f"datasets[{i}].share"))
    return names


def name_problems(cfg: StackConfig, project: str) -> list[str]:
    """One line per generated name Azure would refuse, naming the key to change."""
    problems = []
    for rule, name, key in generated_names(cfg):
        why = violation(rule, name)
        if why:
            problems.append(f"{project}:{key} gives the {rule.resource} name {name!r}, which {why} "
                            f"(unique per {rule.scope})")
    return problems
