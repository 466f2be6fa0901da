"""The pre-flight rules, as pure functions of what Azure answered: the resource providers a
stack needs, each pool's VM size offered and unrestricted in the region, the vCPU quotas; and
the report.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from components import aks_versions
from components.config import StackConfig
from components.sleep_spec import vm_power_state

FREE_TRIAL_NOTE = "Free Trial subscriptions are limited to 4 vCPUs per region: upgrade to pay-as-you-go first"

# Resource providers the stack's resources belong to. Authorization: role assignments (AcrPull,
# cluster admin, Key Vault); ManagedIdentity: the cluster's kubelet identity; Storage: the
# datasets' storage accounts.
KUBERNETES_PROVIDERS = ("Microsoft.ContainerService", "Microsoft.Network", "Microsoft.Compute", "Microsoft.Storage",
                        "Microsoft.Authorization", "Microsoft.ManagedIdentity")
TLJH_PROVIDERS = ("Microsoft.Compute", "Microsoft.Network", "Microsoft.KeyVault", "Microsoft.Authorization")
# A federation: only the Container Apps environment, app and managed certificate (all Microsoft.App;
# components/federation.py). Its environment stores no logs (no appLogsConfiguration, so no Log
# Analytics workspace and no Microsoft.OperationalInsights), and it has no VM, cluster or vCPU quota.
FEDERATION_PROVIDERS = ("Microsoft.App",)
CONTAINER_APPS = ("Microsoft.App", "managedEnvironments")

# Usage names of the two regional quotas (the rest are per-family, named as the SKU's `family`).
CORES = "cores"
SPOT_CORES = "lowPriorityCores"


@dataclass(frozen=True)
class Check:
    """One line of the report. `detail` may hold more lines: how to fix a failure. A `warning`
    passes (ok) but is shown as WARN. A failed check with `stops_up` also stops `pulumi up`
    (where the pre-flight otherwise only warns): Azure would refuse the change for certain."""

    name: str
    ok: bool
    detail: str
    warning: bool = False
    stops_up: bool = False


@dataclass(frozen=True)
class Pool:
    """A set of VMs the stack may run: `nodes` is the most it can have at once."""

    name: str
    vm_size: str
    nodes: int
    spot: bool = False


@dataclass(frozen=True)
class ProviderState:
    namespace: str
    state: str


@dataclass(frozen=True)
class Restriction:
    type: str  # "Location" or "Zone"
    reason_code: str  # "NotAvailableForSubscription" or "QuotaId"
    locations: tuple[str, ...]
    zones: tuple[str, ...]


@dataclass(frozen=True)
class VmSku:
    name: str
    family: str
    vcpus: int | None
    low_priority_capable: bool | None
    restrictions: tuple[Restriction, ...]


@dataclass(frozen=True)
class Usage:
    name: str
    current: int
    limit: int


@dataclass(frozen=True)
class Clients:
    """What `run_checks` calls: `resources.providers.list()`, `compute.resource_skus.list(filter=...)`
    and `compute.usage.list(location)`, as on the SDK's ResourceManagementClient and
    ComputeManagementClient; and `aks.kubernetes_versions(location)` and
    `aks.managed_cluster(resource_group, name)` (REST JSON, None for a cluster that does not exist)."""

    subscription_id: str
    resources: Any
    compute: Any
    credential: Any = None
    aks: Any = None


@dataclass(frozen=True)
class OfferedVersion:
    """A Kubernetes minor version a region offers for new clusters."""

    minor: str
    preview: bool
    patches: tuple[str, ...]
    # Offered with AKS's standard support plan; False: only with long-term support (Premium tier).
    official: bool = True


@dataclass(frozen=True)
class RunningCluster:
    """The stack's cluster as Azure runs it now: its version and each pool's."""

    version: str  # currentKubernetesVersion, e.g. "1.35.7"
    pools: tuple[tuple[str, str], ...]  # (pool name, its current version)


# ---------------------------------------------------------------------------
# What the stack needs (pure)
# ---------------------------------------------------------------------------


def required_providers(cfg: StackConfig) -> list[str]:
    """Resource provider namespaces the stack's resources belong to."""
    if cfg.federated:
        needed = list(FEDERATION_PROVIDERS)
        return [*needed, "Microsoft.Consumption"] if cfg.budget is not None else needed
    needed = list(TLJH_PROVIDERS if cfg.tljh else KUBERNETES_PROVIDERS)
    if cfg.uses_acr:
        needed.insert(1, "Microsoft.ContainerRegistry")
    if cfg.budget is not None:
        needed.append("Microsoft.Consumption")  # the cost budget
    return needed


def pools_of(cfg: StackConfig) -> list[Pool]:
    """The stack's VMs, each pool at the most nodes it may have."""
    if cfg.tljh:
        return [Pool("vm", cfg.vm.size, 1)]
    cluster = cfg.cluster
    pools = [Pool("system", cluster.system_pool.vm_size, cluster.system_pool.node_count),
             Pool("user", cluster.user_pool.vm_size, cluster.user_pool.max_count, spot=cluster.user_pool.spot)]
    if cluster.gpu_pool is not None:
        pools.append(Pool("gpu", cluster.gpu_pool.vm_size, cluster.gpu_pool.max_count))
    if cfg.build_pool is not None:
        pools.append(Pool("build", cfg.build_pool.vm_size, cfg.build_pool.max_count))
    return pools


# ---------------------------------------------------------------------------
# Reading the responses (pure). Each takes one item of a list response, in its REST JSON shape.
# ---------------------------------------------------------------------------


def _str(value: Any) -> str:
    # The SDK hands back some enum fields as str-based enums; their value is the REST string.
    return str(getattr(value, "value", value) or "")


def parse_provider(item: Mapping[str, Any]) -> ProviderState:
    """An item of `GET /subscriptions/{id}/providers`."""
    return ProviderState(_str(item.get("namespace")), _str(item.get("registrationState")))


def parse_sku(item: Mapping[str, Any]) -> VmSku | None:
    """An item of `GET .../providers/Microsoft.Compute/skus`; None unless it is a VM size."""
    if _str(item.get("resourceType")).lower() != "virtualmachines":
        return None
    capabilities = {_str(c.get("name")): _str(c.get("value")) for c in item.get("capabilities") or []}
    try:
        vcpus: int | None = int(capabilities["vCPUs"])
    except (KeyError, ValueError):
        vcpus = None
    capable = capabilities.get("LowPriorityCapable")
    restrictions = []
    for r in item.get("restrictions") or []:
        info = r.get("restrictionInfo") or {}
        # For a Location restriction `values` lists the locations; restrictionInfo repeats them.
        locations = {*(info.get("locations") or []), *(r.get("values") if _str(r.get("type")) == "Location" else [])}
        restrictions.append(Restriction(_str(r.get("type")), _str(r.get("reasonCode")),
                                        tuple(sorted(str(x) for x in locations)),
                                        tuple(str(z) for z in info.get("zones") or [])))
    return VmSku(name=_str(item.get("name")), family=_str(item.get("family")), vcpus=vcpus,
                 low_priority_capable=None if capable is None else capable.lower() == "true",
                 restrictions=tuple(restrictions))


def parse_usage(item: Mapping[str, Any]) -> Usage:
    """An item of `GET .../providers/Microsoft.Compute/locations/{location}/usages`."""
    name = item.get("name") or {}
    return Usage(_str(name.get("value")), int(item.get("currentValue") or 0), int(item.get("limit") or 0))


def resource_type_locations(item: Mapping[str, Any], resource_type: str) -> list[str] | None:
    """The regions (`az account list-locations` names: `West Europe` -> `westeurope`) where an item
    of `GET /subscriptions/{id}/providers` offers `resource_type`; None when the answer does not list
    that type's locations."""
    for rt in item.get("resourceTypes") or []:
        if _str(rt.get("resourceType")).lower() == resource_type.lower():
            locations = rt.get("locations")
            if not locations:
                return None
            return [_str(x).replace(" ", "").lower() for x in locations]
    return None


def check_container_apps_region(items: Iterable[Mapping[str, Any]], location: str) -> Check | None:
    """The region offers Container Apps environments; None when the provider list does not say."""
    namespace, kind = CONTAINER_APPS
    item = next((i for i in items if _str(i.get("namespace")).lower() == namespace.lower()), None)
    offered = resource_type_locations(item, kind) if item is not None else None
    if offered is None:
        return None
    if location.replace(" ", "").lower() in offered:
        return Check("container apps region", True, f"{namespace}/{kind} is offered in {location}")
    return Check("container apps region", False,
                 f"{namespace}/{kind} is not offered in {location}\nfix: pick a region that offers it "
                 f"(az provider show --namespace {namespace} --query "
                 f"\"resourceTypes[?resourceType=='{kind}'].locations\")", stops_up=True)


def index_skus(skus: Iterable[VmSku | None]) -> dict[str, VmSku]:
    """VM sizes by lower-cased name (Azure compares size names case-insensitively)."""
    return {sku.name.lower(): sku for sku in skus if sku is not None}


# ---------------------------------------------------------------------------
# The checks (pure)
# ---------------------------------------------------------------------------


def check_providers(providers: Iterable[ProviderState], required: Sequence[str]) -> list[Check]:
    states = {p.namespace.lower(): p.state for p in providers}
    checks = []
    for namespace in required:
        state = states.get(namespace.lower())
        if state == "Registered":
            checks.append(Check(f"provider {namespace}", True, "Registered"))
        elif state is None:
            checks.append(Check(f"provider {namespace}", False,
                                "not offered to this subscription (not in its provider list)"))
        else:
            wait = " (under way: wait a few minutes and run again)" if state == "Registering" else ""
            checks.append(Check(f"provider {namespace}", False,
                                f"{state}{wait}\nfix: az provider register --namespace {namespace}"))
    return checks


def _blocking(sku: VmSku, location: str) -> Restriction | None:
    """A restriction that stops the size being deployed in the region at all. Zone restrictions
    do not: the stack's pools and VM use no availability zones, so Azure picks any zone."""
    for r in sku.restrictions:
        if r.type == "Location" and (not r.locations or location.lower() in {x.lower() for x in r.locations}):
            return r
    return None


def check_vm_size(pool: Pool, skus: Mapping[str, VmSku], location: str) -> Check:
    name = f"vm size {pool.name}"
    sku = skus.get(pool.vm_size.lower())
    other = f"pick another size or region (az vm list-skus --location {location} --resource-type virtualMachines " \
            "--output table lists them)"
    if sku is None:
        # Azure refuses a pool of a size the region does not list (a misspelt or retired size, too):
        # stop `pulumi up` before it creates anything, rather than fail halfway at the node pool.
        return Check(name, False, f"{pool.vm_size} is not offered in {location}\nfix: {other}", stops_up=True)
    restriction = _blocking(sku, location)
    if restriction is not None:
        if restriction.reason_code == "QuotaId":
            why = "not available to this subscription's offer type (reasonCode QuotaId; e.g. Free Trial or student)"
            fix = f"{other}, or use a pay-as-you-go subscription"
        else:
            why = f"restricted for this subscription (reasonCode {restriction.reason_code or 'unknown'})"
            fix = f"{other}, or ask for access: Help + support > Create a support request (Service and " \
                  "subscription limits (quotas))"
        return Check(name, False, f"{pool.vm_size} is {why} in {location}\nfix: {fix}", stops_up=True)
    if sku.vcpus is None:
        return Check(name, False, f"{pool.vm_size}: its SKU has no vCPUs capability, so its quota cannot be counted")
    if pool.spot and sku.low_priority_capable is False:
        return Check(name, False, f"{pool.vm_size} cannot run as Spot (LowPriorityCapable is False)\n"
                                  "fix: pick another size, or set cluster.userPool.spot false", stops_up=True)
    kind = "Spot " if pool.spot else ""
    return Check(name, True, f"{pool.vm_size}: {sku.vcpus} vCPUs, family {sku.family or '(none)'}; "
                             f"up to {pool.nodes} {kind}node{'s' if pool.nodes != 1 else ''}")


def _breakdown(parts: list[tuple[Pool, int]]) -> str:
    terms = " + ".join(f"{pool.name} {pool.nodes} x {pool.vm_size} ({vcpus})" for pool, vcpus in parts)
    return f"{terms} = {sum(pool.nodes * vcpus for pool, vcpus in parts)}"


def _raise_quota(usage_name: str, limit: int, location: str, subscription_id: str, resource_type: str) -> str:
    """How to get a higher limit: the CLI's quota extension, the portal, or a support request."""
    scope = f"/subscriptions/{subscription_id}/providers/Microsoft.Compute/locations/{location}"
    return (f"fix: az quota update --resource-name {usage_name} --scope {scope} --limit-object value={limit} "
            f"--resource-type {resource_type}\n"
            f"     or the portal's Quotas page (Compute, {location}), or Help + support > Create a support request. "
            + FREE_TRIAL_NOTE)


def _quota_check(usage_name: str, label: str, parts: list[tuple[Pool, int]], usages: Mapping[str, Usage],
                 location: str, subscription_id: str, *, resource_type: str, note: str = "") -> Check:
    needed = sum(pool.nodes * vcpus for pool, vcpus in parts)
    name = f"quota {usage_name}"
    usage = usages.get(usage_name.lower())
    if usage is None:
        return Check(name, False, f"{label}: {needed} vCPUs needed, but {location} lists no such quota for this "
                                  f"subscription\nneeded: {_breakdown(parts)}\n"
                                  + _raise_quota(usage_name, needed, location, subscription_id, resource_type))
    free = usage.limit - usage.current
    numbers = f"{needed} vCPUs needed, {max(free, 0)} free (limit {usage.limit} - {usage.current} in use)"
    if needed <= free:
        return Check(name, True, f"{label}: {numbers}{note}")
    return Check(name, False, f"{label}: {numbers}, short by {needed - free}{note}\n"
                              f"needed: {_breakdown(parts)}\n"
                              + _raise_quota(usage_name, usage.current + needed, location, subscription_id,
                                             resource_type))


def check_quotas(pools: Sequence[Pool], skus: Mapping[str, VmSku], usages: Iterable[Usage], location: str,
                 subscription_id: str) -> list[Check]:
    """Regional, per-family and Spot vCPU quotas against the pools at their maximum."""
    by_name = {u.name.lower(): u for u in usages}
    on_demand: list[tuple[Pool, int]] = []
    spot: list[tuple[Pool, int]] = []
    families: dict[str, list[tuple[Pool, int]]] = {}
    uncounted = []
    for pool in pools:
        sku = skus.get(pool.vm_size.lower())
        if sku is None or sku.vcpus is None or _blocking(sku, location) is not None:
            uncounted.append(pool.vm_size)  # already a FAIL of its vm size check
            continue
        if pool.spot:
            spot.append((pool, sku.vcpus))
        else:
            on_demand.append((pool, sku.vcpus))
            families.setdefault(sku.family, []).append((pool, sku.vcpus))
    note = f" (not counted: {', '.join(uncounted)}, see its vm size check)" if uncounted else ""
    checks = []
    if on_demand:
        checks.append(_quota_check(CORES, "regional vCPUs", on_demand, by_name, location, subscription_id,
                                   resource_type="dedicated", note=note))
    for family, parts in families.items():
        if not family:
            continue  # a SKU without a family: only the regional quota applies
        checks.append(_quota_check(family, "family vCPUs", parts, by_name, location, subscription_id,
                                   resource_type="dedicated"))
    if spot:
        checks.append(_quota_check(SPOT_CORES, "Spot vCPUs", spot, by_name, location, subscription_id,
                                   resource_type="lowPriority"))
    return checks


# ---------------------------------------------------------------------------
# Kubernetes versions (pure): offered in the region, and the running cluster against the config
# ---------------------------------------------------------------------------


def _minor_of(version: str) -> str:
    """'1.35.7' or '1.35' -> '1.35'."""
    return ".".join(version.split(".")[:2])


def parse_kubernetes_versions(doc: Mapping[str, Any]) -> dict[str, OfferedVersion]:
    """`GET .../providers/Microsoft.ContainerService/locations/{location}/kubernetesVersions`."""
    offered = {}
    for item in doc.get("values") or []:
        minor = _str(item.get("version"))
        plans = (item.get("capabilities") or {}).get("supportPlan")
        offered[minor] = OfferedVersion(minor, bool(item.get("isPreview")),
                                        tuple(sorted((item.get("patchVersions") or {}), key=_patch_key)),
                                        plans is None or "KubernetesOfficial" in plans)
    return offered


def _patch_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def parse_cluster(doc: Mapping[str, Any]) -> RunningCluster:
    """`GET .../Microsoft.ContainerService/managedClusters/{name}`: every pool is listed there,
    also those made as separate agent pool resources."""
    props = doc.get("properties") or {}
    pools = tuple((_str(p.get("name")), _str(p.get("currentOrchestratorVersion") or p.get("orchestratorVersion")))
                  for p in props.get("agentPoolProfiles") or [])
    return RunningCluster(_str(props.get("currentKubernetesVersion") or props.get("kubernetesVersion")), pools)


def check_kubernetes_version(version: str, offered: Mapping[str, OfferedVersion], location: str) -> Check:
    """The configured minor version is one the region offers for new clusters, not as a preview."""
    name = "kubernetes version"
    ga = sorted((v.minor for v in offered.values() if not v.preview and v.official), key=_patch_key)
    found = offered.get(version)
    if found is not None and not found.preview and found.official:
        newest = found.patches[-1] if found.patches else version
        return Check(name, True, f"{version} is offered in {location} (newest patch {newest})")
    why = ("only as a preview" if found.preview else "only with long-term support (Premium tier)") if found else "not"
    return Check(name, False, f"{version} is offered {why} in {location}; it offers {', '.join(ga) or 'none'}\n"
                 "fix: set binderhub-azure:cluster.kubernetesVersion to one of those", stops_up=True)


def check_cluster_awake(doc: Mapping[str, Any] | None, stack: str | None) -> Check | None:
    """A cluster stopped by its sleep schedule (or by hand) has no API server to answer: `pulumi
    preview`/`up` would wait on it. Stop them with the way to wake it; None for a running cluster."""
    props = (doc or {}).get("properties") or {}
    power = ((props.get("powerState") or {}).get("code") or "").lower()
    state = str(props.get("provisioningState") or "").lower()
    wake = f"./run python -m tools.ops wake --stack {stack or '<stack>'}"
    if state in ("stopping", "starting"):
        return Check("cluster power", False, f"the cluster is {state} (its sleep schedule or an operator): wait until "
                     f"it is running ({wake} waits for it), then retry", stops_up=True)
    if power == "stopped":
        return Check("cluster power", False, f"the cluster is asleep (stopped by the schedule): run {wake}, then "
                     "retry", stops_up=True)
    return None


def check_vm_awake(instance_view: Mapping[str, Any] | None, stack: str | None) -> Check | None:
    """The TLJH VM deallocated by its sleep schedule (or by hand): Azure refuses to change its
    reconfigure extension while it is not running ("Cannot modify extensions in the VM when the VM
    is not running"), so `pulumi up` would fail half-way. Stop it first with the way to wake it;
    None for a running VM, or one not created yet."""
    power = vm_power_state(instance_view)
    wake = f"./run python -m tools.ops wake --stack {stack or '<stack>'}"
    if power in ("starting", "deallocating", "stopping"):
        return Check("vm power", False, f"the VM is {power} (its sleep schedule or an operator): wait until it is "
                     f"running ({wake} waits for it), then retry", stops_up=True)
    if power in ("deallocated", "stopped"):
        return Check("vm power", False, f"the VM is asleep ({power}, by the schedule or by hand): run {wake}, then "
                     "retry", stops_up=True)
    return None


def check_running_cluster(version: str, running: RunningCluster | None, on: date) -> list[Check]:
    """The stack's cluster, if it exists: the configured version must be the one it runs or the
    next minor (AKS upgrades one minor at a time and refuses downgrades); a running version near
    or past its end of life, or a pool behind the control plane, is a warning with the way up."""
    name = "cluster version"
    if running is None:
        return [Check(name, True, f"no cluster yet: pulumi up creates it at {version}")]
    current = _minor_of(running.version)
    target, now = aks_versions.minor(version), aks_versions.minor(current)
    checks = []
    if target < now:
        checks.append(Check(name, False, f"the cluster runs {running.version} (AKS upgraded it, or someone did); "
                            f"cluster.kubernetesVersion {version} would ask AKS for a downgrade, which it refuses\n"
                            f"fix: set binderhub-azure:cluster.kubernetesVersion to {current}", stops_up=True))
    elif target > now + 1 and aks_versions.problem(current, on) is None:
        path = aks_versions.upgrade_path(current, version)
        checks.append(Check(name, False, f"the cluster runs {running.version}; AKS upgrades a supported version one "
                            f"minor at a time\nfix: set binderhub-azure:cluster.kubernetesVersion to {path[0]}, "
                            f"pulumi up, then each of {', '.join(path[1:])} in turn", stops_up=True))
    elif target > now:  # the next minor, or a version past its end of life to the lowest supported
        checks.append(Check(name, True, f"the cluster runs {running.version}: pulumi up upgrades the control plane "
                            f"and system pool to {version}, then each other pool"))
    else:
        checks.append(Check(name, True, f"the cluster runs {running.version}"))
    known = aks_versions.VERSIONS.get(current)
    if known is not None and known.end_of_life - on <= aks_versions.NEAR_END:
        left = "left" if known.end_of_life < on else "leaves"
        up = aks_versions.name_of(now + 1)
        checks.append(Check("cluster support", True, f"{current} {left} AKS support on {known.end_of_life.isoformat()} "
                            f"(AKS upgrades clusters that fall further behind)\nway up: set "
                            f"binderhub-azure:cluster.kubernetesVersion to {up} and pulumi up, one minor version "
                            "at a time; every pool follows", warning=True))
    behind = [f"{pool} ({pool_version})" for pool, pool_version in running.pools
              if pool_version and _patch_key(_minor_of(pool_version)) < _patch_key(current)]
    if behind:
        checks.append(Check("pool versions", True, f"behind the control plane ({running.version}): {', '.join(behind)}"
                            f"\npulumi up sets every pool to cluster.kubernetesVersion ({version})", warning=True))
    return checks


# ---------------------------------------------------------------------------
# Report (pure)
# ---------------------------------------------------------------------------


def render_report(checks: Sequence[Check], subscription_id: str, source: str, location: str) -> str:
    lines = [f"Pre-flight check of subscription {subscription_id} ({source}) for region {location}", ""]
    width = max((len(c.name) for c in checks), default=0)
    for c in checks:
        first, *rest = c.detail.split("\n")
        status = "FAIL" if not c.ok else "WARN" if c.warning else "OK"
        lines.append(f"  {status:<4}  {c.name:<{width}}  {first}")
        lines.extend(f"        {' ' * width}  {line}" for line in rest)
    failed = sum(not c.ok for c in checks)
    lines += ["", f"{failed} of {len(checks)} checks failed." if failed else f"All {len(checks)} checks passed."]
    return "\n".join(lines)


def report_json(checks: Sequence[Check], subscription_id: str, location: str) -> dict[str, Any]:
    return {"subscription": subscription_id, "location": location,
            "checks": [{"name": c.name, "ok": c.ok, "warning": c.warning, "detail": c.detail} for c in checks],
            "ok": all(c.ok for c in checks)}
