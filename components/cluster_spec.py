"""What the AKS cluster looks like, as plain data derived from the config (pure).

`cluster.py` turns these dicts into resources; tests check them without Pulumi.
Keys are the pulumi-azure-native argument names (snake_case).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import naming
from .config import StackConfig

# Node labels z2jh's scheduling settings look for (scheduling.*.nodeAffinity.matchNodePurpose).
NODE_PURPOSE = "hub.jupyter.org/node-purpose"
# AKS adds this taint to every spot node; pods that may run there must tolerate it.
SPOT_TAINT_KEY = "kubernetes.azure.com/scalesetpriority"
SPOT_TOLERATION = {"key": SPOT_TAINT_KEY, "operator": "Equal", "value": "spot", "effect": "NoSchedule"}
# z2jh's user pods, placeholders, image pullers and BinderHub's build daemons tolerate this
# taint; everything else stays off user nodes, so an idle user node can be removed.
USER_TAINT = "hub.jupyter.org/dedicated=user:NoSchedule"
# The tolerations z2jh gives user pods for it (both spellings of the key).
USER_TOLERATIONS = [
    {"key": key, "operator": "Equal", "value": "user", "effect": "NoSchedule"}
    for key in ("hub.jupyter.org/dedicated", "hub.jupyter.org_dedicated")
]
# GPU nodes also carry this taint, so only servers that asked for a GPU land there.
GPU_TAINT_KEY = "sku"
GPU_TAINT = f"{GPU_TAINT_KEY}=gpu:NoSchedule"
GPU_TOLERATION = {"key": GPU_TAINT_KEY, "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}
GPU_LABEL = {"accelerator": "nvidia"}
# Binder builds (build pods, dind and image-cleaner DaemonSets) select nodes with this label.
BUILD_NODES = {NODE_PURPOSE: "build"}

# Azure CNI in overlay mode: pods get addresses from this private range, not the VNet.
POD_CIDR = "10.244.0.0/16"


# How a `kubernetesVersion` bump reaches every node (decided from AKS's rules and reports):
# - Through the managed-cluster API, AKS takes pools' `orchestratorVersion` "all specified or all
#   unspecified; if all specified, unchanged or the same as the control plane" (its error
#   NotAllAgentPoolOrchestratorVersionSpecifiedAndUnchanged, pulumi/pulumi-azure-native#2094).
# - Left unspecified, a pool stays behind when only `kubernetesVersion` changes: the inline system
#   pool did with `orchestrator_version = null` (Azure/terraform-azurerm-aks#301), and every pool
#   did in Azure/ARO-HCP (commit 8f2e93f7, July 2026), which now runs `az aks upgrade` separately.
# - Microsoft's verified module sets every pool to `kubernetes_version`
#   (Azure/terraform-azurerm-avm-res-containerservice-managedcluster#267, July 2026).
# So every pool carries the same minor version as the control plane: the cluster's PUT upgrades
# the control plane and the system pool together ("the same as the control plane"), then each
# separate pool's own PUT upgrades it (they depend on the cluster). A minor alias ("1.36") never
# fights the patch channel: AKS does not treat the same minor as a change. And no stack ever
# declares a version past end of life (config), so AKS's forced upgrade of such a cluster is never
# undone by a PUT that asks for the old version.


def orchestrator_version(cfg: StackConfig) -> str:
    """The version every node pool runs: the control plane's minor version."""
    return cfg.cluster.kubernetes_version


def system_pool_profile(cfg: StackConfig) -> dict[str, Any]:
    """The system pool, inline in the cluster. Never autoscaled, never spot: AKS requires
    a system pool to exist at all times, and changing it in place later is limited."""
    pool = cfg.cluster.system_pool
    return {
        "name": naming.SYSTEM_POOL,
        "mode": "System",
        "orchestrator_version": orchestrator_version(cfg),
        "vm_size": pool.vm_size,
        "count": pool.node_count,
        "os_disk_size_gb": pool.os_disk_size_gb,
        "os_disk_type": pool.os_disk_type,
        "os_type": "Linux",
        "type": "VirtualMachineScaleSets",
        "node_labels": {NODE_PURPOSE: "core"},
    }


def _autoscaled_pool(name: str, vm_size: str, min_count: int, max_count: int, labels: dict[str, str],
                     taints: list[str], cfg: StackConfig) -> dict[str, Any]:
    """A User-mode pool the cluster autoscaler sizes between min and max, created at min."""
    return {
        "agent_pool_name": name,
        "mode": "User",
        # Separate pools do not follow the cluster's version by themselves (see above).
        "orchestrator_version": orchestrator_version(cfg),
        "vm_size": vm_size,
        "os_type": "Linux",
        "type": "VirtualMachineScaleSets",
        "enable_auto_scaling": True,
        "min_count": min_count,
        "max_count": max_count,
        "count": min_count,
        "node_labels": labels,
        "node_taints": taints,
    }


def user_pool_args(cfg: StackConfig) -> dict[str, Any]:
    """The autoscaled user pool, a separate AgentPool resource so that the autoscaler's
    count changes never show up as drift on the cluster."""
    pool = cfg.cluster.user_pool
    args = _autoscaled_pool(naming.USER_POOL, pool.vm_size, pool.min_count, pool.max_count, {NODE_PURPOSE: "user"},
                            [USER_TAINT], cfg)
    if pool.spot:
        args |= {
            "scale_set_priority": "Spot",
            "scale_set_eviction_policy": "Delete",
            "spot_max_price": -1,  # pay up to the on-demand price, never evicted for price
        }
    return args


def gpu_pool_args(cfg: StackConfig) -> dict[str, Any] | None:
    """The optional GPU pool: autoscaled from zero, tainted for GPU servers only."""
    pool = cfg.cluster.gpu_pool
    if pool is None:
        return None
    args = _autoscaled_pool(naming.GPU_POOL, pool.vm_size, pool.min_count, pool.max_count,
                            {NODE_PURPOSE: "user", **GPU_LABEL}, [USER_TAINT, GPU_TAINT], cfg)
    # AKS installs the NVIDIA driver; the device plugin comes from its own chart.
    args["gpu_profile"] = {"driver": "Install"}
    return args


def build_pool_args(cfg: StackConfig) -> dict[str, Any] | None:
    """The Binder build pool: on-demand VMs, autoscaled from zero by pending build pods.

    Labelled `node-purpose: build`, so user servers (which require `node-purpose: user`) never
    land there, and tainted with the user taint, the one taint the pinned BinderHub's build pods
    (`KubernetesBuildExecutor`, tolerations fixed in code) and its dind and image-cleaner
    DaemonSets (chart templates) tolerate; core pods tolerate none of it, so they stay away."""
    pool = cfg.build_pool
    if pool is None:
        return None
    return _autoscaled_pool(naming.BUILD_POOL, pool.vm_size, 0, pool.max_count, dict(BUILD_NODES), [USER_TAINT], cfg)


def device_plugin_values() -> dict[str, Any]:
    """NVIDIA device plugin on the GPU nodes only. Its default affinity wants labels that
    AKS nodes lack, and Helm replaces lists, so the default tolerations are restated."""
    return {
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": key, "operator": "In", "values": [value]}
                                  for key, value in GPU_LABEL.items()]}]}}},
        "tolerations": [
            {"key": "CriticalAddonsOnly", "operator": "Exists"},
            {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
            GPU_TOLERATION,
            *USER_TOLERATIONS,
        ],
    }


def network_profile(cfg: StackConfig) -> dict[str, Any]:
    """Azure CNI overlay with a policy engine that enforces (egress) NetworkPolicies."""
    profile: dict[str, Any] = {
        "network_plugin": "azure",
        "network_plugin_mode": "overlay",
        "pod_cidr": POD_CIDR,
        "load_balancer_sku": "standard",
        "network_policy": cfg.cluster.network_policy,
    }
    if cfg.cluster.network_policy == "cilium":
        profile["network_dataplane"] = "cilium"
    return profile


def cluster_args(cfg: StackConfig) -> dict[str, Any]:
    """Arguments of the ManagedCluster, apart from the resource group."""
    args: dict[str, Any] = {
        "resource_name_": naming.cluster(cfg),
        "location": cfg.location,
        "dns_prefix": naming.dns_prefix(cfg),
        "kubernetes_version": cfg.cluster.kubernetes_version,
        "node_resource_group": naming.node_resource_group(cfg),
        "identity": {"type": "SystemAssigned"},
        "enable_rbac": True,
        "sku": {"name": "Base", "tier": cfg.cluster.tier},
        "auto_upgrade_profile": {"upgrade_channel": "patch", "node_os_upgrade_channel": "NodeImage"},
        "agent_pool_profiles": [system_pool_profile(cfg)],
        "network_profile": network_profile(cfg),
        "tags": naming.tags(cfg),
    }
    if any(d.container for d in cfg.datasets):
        # Blob datasets need the Blob CSI driver, which AKS leaves off by default.
        args["storage_profile"] = {"blob_csi_driver": {"enabled": True}}
    if cfg.cluster.entra_admin_group_ids:
        args["aad_profile"] = {
            "managed": True,
            "enable_azure_rbac": True,
            "admin_group_object_ids": list(cfg.cluster.entra_admin_group_ids),
        }
        args["disable_local_accounts"] = cfg.cluster.disable_local_accounts
    if cfg.cluster.authorized_ip_ranges:
        args["api_server_access_profile"] = {"authorized_ip_ranges": list(cfg.cluster.authorized_ip_ranges)}
    return args


# The Entra ID application that fronts every AKS API server (the same in every tenant).
AKS_ENTRA_SERVER_ID = "6dae42f8-4368-4678-94ff-3960e28e3630"


# kubelogin takes its login mode from this variable over the kubeconfig's `--login` flag
# (Azure/kubelogin v0.2.19, pkg/internal/token/options.go `UpdateFromEnv`, run after the flags are
# parsed). With `workloadidentity` inside a GitHub Actions job (ACTIONS_ID_TOKEN_REQUEST_URL and
# _TOKEN set) it asks GitHub for a fresh OIDC token at every exchange (provider.go ->
# githubactionscredential.go), reading the client and tenant from AZURE_CLIENT_ID and
# AZURE_TENANT_ID. So the kubeconfig keeps `--login azurecli` for people, and CI switches the mode
# with the environment: the provider's kubeconfig is the same wherever `pulumi up` runs (no diff
# when a laptop and CI take turns), and CI never depends on `az`'s session, whose OIDC assertion
# expires after about ten minutes and cannot be renewed (Azure/azure-cli#28708), while the
# provider is first needed after a 10-20 minute cluster create.
KUBELOGIN_LOGIN_ENV = "AAD_LOGIN_METHOD"
KUBELOGIN_CI_LOGIN = "workloadidentity"


def ci_login_problem(environ: Mapping[str, str], kubelogin_found: bool) -> str | None:
    """Why this GitHub Actions job could not keep reaching a cluster without local accounts
    (Pulumi's kubeconfig runs kubelogin), or None. Outside a job with an OIDC token (a laptop's
    `az login`, the test job, the offline plan) there is nothing to check."""
    if not environ.get("ACTIONS_ID_TOKEN_REQUEST_URL"):
        return None
    if environ.get(KUBELOGIN_LOGIN_ENV) != KUBELOGIN_CI_LOGIN:
        return (f"cluster.disableLocalAccounts in a GitHub Actions job needs {KUBELOGIN_LOGIN_ENV}="
                f"{KUBELOGIN_CI_LOGIN} in the job's environment (got {environ.get(KUBELOGIN_LOGIN_ENV)!r}): "
                "kubelogin's azurecli login expires with az's ten-minute OIDC token, before the cluster is "
                "ready; the shipped .github/workflows/pulumi.yml sets it")
    missing = [name for name in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID") if not environ.get(name)]
    if missing:
        return (f"cluster.disableLocalAccounts in a GitHub Actions job needs {' and '.join(missing)} in the "
                "job's environment: kubelogin's workload identity login reads them")
    if not kubelogin_found:
        return ("cluster.disableLocalAccounts needs kubelogin on the PATH of the job that runs Pulumi (GitHub's "
                "runners do not ship it, actions/runner-images#7098); the shipped workflow installs it")
    return None


def kubeconfig_for_azure_cli(kubeconfig: dict[str, Any]) -> dict[str, Any]:
    """Make an Entra ID kubeconfig (`kubelogin` exec plugin) log in non-interactively with the
    Azure CLI's session, so Pulumi can use it without a device-code prompt (and CI switches it to
    workload identity through KUBELOGIN_LOGIN_ENV)."""
    converted = dict(kubeconfig)
    users = []
    for entry in kubeconfig.get("users", []):
        user = dict(entry.get("user") or {})
        if "exec" in user:
            user["exec"] = {
                **user["exec"],
                "command": "kubelogin",
                "args": ["get-token", "--login", "azurecli", "--server-id", AKS_ENTRA_SERVER_ID],
            }
        users.append({**entry, "user": user})
    converted["users"] = users
    return converted
