"""The cost model: node sizes and capacity (users per node), the itemised monthly estimate of a
stack at idle and at peak, from prices given by cost_prices.
"""

from __future__ import annotations

import datetime
import math
import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from components import fit as node_fit
from components.config import StackConfig
from components.hub_spec import DIND_REQUESTS
from components.quantities import GIB, jupyterhub_bytes, kubernetes_quantity
from components.vm_sizes import SIZES

from .cost_prices import (
    _AKS_OS_DISK,
    _DISK_NUMBERS,
    _DISK_SIZES,
    _MEMORY_UNITS,
    _TLJH_OVERHEAD_GIB,
    ACR_INCLUDED_GIB,
    FILES_PREMIUM,
    HOURS_PER_MONTH,
    HUB_DB_GIB,
    MAX_DATA_DISKS,
    PRICES_API,
    PROMETHEUS_GIB,
    TLJH_OS_DISK,
    VM_SIZES,
    Fetch,
    Price,
    _LivePrices,
    _TablePrices,
    container_apps_meter,
    http_fetch,
)
from .cost_prices import (
    ACR_STORAGE as ACR_STORAGE,
)
from .cost_prices import (
    AKS_STANDARD as AKS_STANDARD,
)
from .cost_prices import (
    LOAD_BALANCER as LOAD_BALANCER,
)
from .cost_prices import (
    NO_LIVE_ROW as NO_LIVE_ROW,
)
from .cost_prices import (
    PUBLIC_IP as PUBLIC_IP,
)
from .cost_prices import (
    UNITS_PER_MONTH as UNITS_PER_MONTH,
)
from .cost_prices import (
    UNKNOWN as UNKNOWN,
)
from .cost_prices import (
    Meter as Meter,
)
from .cost_prices import (
    PriceFetchError as PriceFetchError,
)
from .cost_prices import (
    acr_meter as acr_meter,
)
from .cost_prices import (
    disk_meter as disk_meter,
)
from .cost_prices import (
    fetch_rows as fetch_rows,
)
from .cost_prices import (
    load_price_table as load_price_table,
)
from .cost_prices import (
    price_query_url as price_query_url,
)
from .cost_prices import (
    price_unit as price_unit,
)
from .cost_prices import (
    select_price_row as select_price_row,
)
from .cost_prices import (
    vm_meter as vm_meter,
)

# ---------------------------------------------------------------------------
# Sizes and capacity
# ---------------------------------------------------------------------------


def parse_memory_gib(text: str) -> float:
    """'2G' -> 2.0, '512M' -> 0.5 (K/M/G/T, powers of 1024 as JupyterHub reads them)."""
    match = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)([KMGT])", text.strip())
    if not match:
        raise ValueError(f"not a memory size such as '2G': {text!r}")
    return float(match.group(1)) * _MEMORY_UNITS[match.group(2)]


def disk_tier(kind: str, size_gib: float) -> tuple[str, int]:
    """The billed tier of a managed disk: kind 'P' (Premium SSD) or 'E' (Standard SSD)."""
    for number, size in zip(_DISK_NUMBERS, _DISK_SIZES, strict=True):
        if size_gib <= size:
            return f"{kind}{number}", size
    raise ValueError(f"a {size_gib} GiB disk is larger than any managed disk tier")


def aks_os_disk(vm_size: str) -> tuple[str, int] | None:
    """The default managed OS disk AKS gives a node of this size, or None for sizes not in
    VM_SIZES (the tier depends on the vCPU count)."""
    if vm_size not in VM_SIZES:
        return None
    vcpus = VM_SIZES[vm_size][0]
    return next((tier, size) for min_vcpus, tier, size in _AKS_OS_DISK if vcpus >= min_vcpus)


def aks_node_overhead_gib(memory_gib: float, *, build_node: bool) -> float:
    """Memory of an AKS user node that user servers cannot have: AKS's kube-reserved memory and
    eviction threshold, the allowance for its own pods (components/fit.py), and the build
    daemon's request on a node where builds run."""
    memory = memory_gib * GIB
    kept = node_fit.kube_reserved_memory(memory) + node_fit.EVICTION_THRESHOLD + node_fit.AKS_OWN_PODS_MEMORY
    if build_node:
        kept += kubernetes_quantity(DIND_REQUESTS["memory"])
    return float(kept) / GIB


def users_per_node(memory_gib: float, overhead_gib: float, per_user_gib: float) -> int:
    """Whole user servers that fit, by their memory guarantee (z2jh sets it to the limit here)."""
    # The epsilon keeps an exact fit (10 GiB / 2 GiB) from flooring to one less after float error.
    return max(0, math.floor((memory_gib - overhead_gib) / per_user_gib + 1e-9))


# ---------------------------------------------------------------------------
# The estimate
# ---------------------------------------------------------------------------


def _item(name: str, price: Price | None, idle_qty: float, busy_qty: float, *,
          unit: str, unknown_text: str) -> dict[str, Any]:
    if price is None:
        return {"name": name, "quantity": busy_qty, "idleQuantity": idle_qty, "unitPrice": None, "unit": unit,
                "idleMonthly": None, "busyMonthly": None, "source": unknown_text}
    per_month = price.unit_price * UNITS_PER_MONTH[price.unit]
    return {"name": name, "quantity": busy_qty, "idleQuantity": idle_qty,
            "unitPrice": round(price.unit_price, 6), "unit": price.unit,
            "idleMonthly": round(per_month * idle_qty, 2), "busyMonthly": round(per_month * busy_qty, 2),
            "source": price.source}


class _Builder:
    def __init__(self, prices: _LivePrices | _TablePrices):
        self.prices = prices
        self.items: list[dict[str, Any]] = []

    def add(self, name: str, meter: Meter | None, idle_qty: float, busy_qty: float, *, unit: str,
            unknown_text: str | None = None) -> Price | None:
        """Price `meter` (None: its price cannot be looked up, `unknown_text` says why)."""
        price = self.prices.price(meter) if meter is not None else None
        self.items.append(_item(name, price, idle_qty, busy_qty, unit=unit,
                                unknown_text=unknown_text or self.prices.unknown_text))
        return price

    def fixed(self, name: str, price: Price, quantity: float) -> None:
        self.items.append(_item(name, price, quantity, quantity, unit=price.unit, unknown_text=""))


class NodePool(NamedTuple):
    """One node pool of the cluster as the estimate and the simulator see it."""

    key: str  # short name in documents: system, user, gpu, ...
    label: str  # "System nodes", ...
    vm_size: str
    idle: int  # nodes running with nobody using the hub
    busy: int  # the most nodes the pool can have
    spot: bool = False
    # None: AKS's default managed OS disk for the size; an int: a managed disk of that many
    # GiB; "Ephemeral": on the VM's local disk, free.
    os_disk: int | str | None = None
    autoscaled: bool = False
    users_per_node: int | None = None
    min_count: int = 0  # the autoscaler's floor (idle can be more: placeholders keep nodes)
    # Whose servers run here, for the simulator: "users", "gpuUsers" or None (a pool the
    # simulator keeps at min_count, e.g. one for image builds).
    serves: str | None = None


def node_pools(cfg: StackConfig, user_fit: int | None, idle_users: int) -> list[NodePool]:
    """Every node pool of a cluster stack, in a fixed order. A new pool is one more entry here."""
    cluster = cfg.cluster
    system, user, gpu = cluster.system_pool, cluster.user_pool, cluster.gpu_pool
    pools = [
        NodePool("system", "System nodes", system.vm_size, system.node_count, system.node_count,
                 min_count=system.node_count,
                 os_disk="Ephemeral" if system.os_disk_type == "Ephemeral" else system.os_disk_size_gb),
        NodePool("user", "User nodes", user.vm_size, idle_users, user.max_count, spot=user.spot, autoscaled=True,
                 users_per_node=user_fit, min_count=user.min_count, serves="users"),
    ]
    if gpu is not None:
        # A GPU server asks for one GPU (hub_spec._profile); a size vm_sizes.json does not know counts as one.
        gpus = SIZES[gpu.vm_size].gpus if gpu.vm_size in SIZES else 1
        pools.append(NodePool("gpu", "GPU nodes", gpu.vm_size, gpu.min_count, gpu.max_count, autoscaled=True,
                              users_per_node=gpus or 1, min_count=gpu.min_count, serves="gpuUsers"))
    build = cfg.build_pool
    if build is not None:
        # Binder builds on their own on-demand pool, scaled from zero by waiting builds (hub_spec.py).
        pools.append(NodePool("build", "Build nodes", build.vm_size, 0, build.max_count, autoscaled=True))
    return pools


def os_disk_meter(pool: NodePool) -> tuple[str, Meter | None, str | None]:
    """(description, meter, unknown reason) of one node's OS disk in `pool`."""
    if pool.os_disk == "Ephemeral":
        return "ephemeral, on the VM's local disk", None, None
    if isinstance(pool.os_disk, int):
        tier, _ = disk_tier("P", pool.os_disk)
        return f"{pool.os_disk} GiB Premium SSD {tier} each", disk_meter(tier), None
    disk = aks_os_disk(pool.vm_size)
    if disk is None:
        return "", None, f"unknown: {pool.vm_size} is not in the size table, so its OS disk tier is unknown"
    tier, size = disk
    return f"{size} GiB Premium SSD {tier} each", disk_meter(tier), None


def _node_pool_disks(builder: _Builder, pool: NodePool) -> Price | None:
    label = pool.label if pool.label[:2].isupper() else pool.label[0].lower() + pool.label[1:]
    text, meter, unknown = os_disk_meter(pool)
    if pool.os_disk == "Ephemeral":
        free = Price(0.0, "month", "ephemeral OS disks are not billed")
        builder.items.append(_item(f"OS disks, {label} ({text})", free, pool.idle, pool.busy, unit="month",
                                   unknown_text=""))
        return free
    if meter is None:
        builder.add(f"OS disks, {label}", None, pool.idle, pool.busy, unit="month", unknown_text=unknown)
        return None
    return builder.add(f"OS disks, {label} ({text})", meter, pool.idle, pool.busy, unit="month")


def _kubernetes_items(cfg: StackConfig, builder: _Builder, notes: list[str]) -> dict[str, Any]:
    cluster = cfg.cluster
    user = cluster.user_pool
    per_user_gib = parse_memory_gib(cfg.limits.memory)
    size = VM_SIZES.get(user.vm_size)
    node: dict[str, Any] = {"vmSize": user.vm_size, "spot": user.spot, "memoryPerUserGiB": round(per_user_gib, 3)}
    fit: int | None = None
    room = node_fit.user_room(cfg)
    if size is not None and room is not None:
        # What the node offers user servers, from the pods the stack renders for it (components/fit.py):
        # the build daemon runs there unless there is a build pool.
        overhead = size[1] - float(room.memory) / GIB
        fit = node_fit.users_per_node(room, jupyterhub_bytes(cfg.limits.memory))
        node |= {"vcpus": size[0], "memoryGiB": size[1], "systemOverheadGiB": round(overhead, 2)}
    else:
        notes.append(f"Users per node: {user.vm_size} is not in the size table ({', '.join(VM_SIZES)}).")

    idle_users = user.min_count
    if cfg.speed.placeholders:
        # Placeholder pods hold room for new users, so they keep user nodes running when idle.
        needed = math.ceil(cfg.speed.placeholders / fit) if fit else 1
        idle_users = min(user.max_count, max(user.min_count, needed))
        notes.append(f"speed.placeholders: {cfg.speed.placeholders} placeholders keep {idle_users} user node(s) "
                     "running when idle.")

    pools = node_pools(cfg, fit, idle_users)
    node_prices: dict[str, Price | None] = {}
    for pool in pools:
        name = f"{pool.label} ({pool.vm_size}{', spot' if pool.spot else ''})"
        node_prices[pool.key] = builder.add(name, vm_meter(pool.vm_size, spot=pool.spot), pool.idle, pool.busy,
                                            unit="hour")
    disk_prices = {pool.key: _node_pool_disks(builder, pool) for pool in pools}
    user_price = node_prices["user"]
    builder.add("Load balancer (Standard, first 5 rules)", LOAD_BALANCER, 1, 1, unit="hour")
    builder.add("Public IPv4 address (Standard, static)", PUBLIC_IP, 1, 1, unit="hour")
    # AKS's own outbound IP in the node resource group (outbound type loadBalancer, no outbound IPs named).
    builder.add("Public IPv4 address for AKS outbound traffic (Standard, static)", PUBLIC_IP, 1, 1, unit="hour")
    if cfg.uses_acr:
        builder.add(f"Container registry (ACR {cfg.registry.sku})", acr_meter(cfg.registry.sku), 1, 1, unit="day")
    tier, tier_gib = disk_tier("E", HUB_DB_GIB)
    builder.add(f"Hub database disk ({HUB_DB_GIB} GiB, billed as Standard SSD {tier} {tier_gib} GiB)",
                disk_meter(tier), 1, 1, unit="month")
    if cfg.monitoring.enabled:
        tier, tier_gib = disk_tier("E", PROMETHEUS_GIB)
        builder.add(f"Prometheus disk ({PROMETHEUS_GIB} GiB Standard SSD {tier})", disk_meter(tier), 1, 1,
                    unit="month")
    fit = _practice_items(cfg, builder, notes, fit)
    if cluster.tier == "Standard":
        builder.add("AKS control plane (Standard tier)", AKS_STANDARD, 1, 1, unit="hour")
    else:
        builder.fixed("AKS control plane (Free tier)", Price(0.0, "hour", "AKS Free tier: no charge"), 1)

    notes.append("OS disks: the system pool's are cluster.systemPool.osDiskSizeGb/osDiskType; the autoscaled "
                 "pools get AKS's default managed OS disk by vCPU count (P10 128 GiB for 1-7 vCPUs, P15 256 GiB "
                 "for 8-15, P20 512 GiB for 16-63, P30 1 TiB above); sizes with a large local disk may get a free "
                 "ephemeral OS disk instead, and then that line overstates.")
    if size is not None:
        notes.append("Users per node: (node memory - system overhead) / limits.memory, where the overhead is AKS's "
                     "kube-reserved memory (the smaller of 20 MiB x 250 pods + 50 MiB and 25 % of the node), the "
                     "100 MiB eviction threshold, 0.5 GiB for AKS's own pods"
                     + (" and the 1 GiB build daemon" if node_fit.builds_on_user_pool(cfg) else "")
                     + " (components/fit.py); profiles with their own memory fit differently.")
    return {"fit": fit, "node": node, "price": user_price,
            "pools": [_pool_doc(pool, node_prices[pool.key], disk_prices[pool.key]) for pool in pools]}


def _pool_doc(pool: NodePool, price: Price | None, disk: Price | None) -> dict[str, Any]:
    """What the simulator needs of a pool: its counts, users per node and price per node-hour
    (the VM and its OS disk, both billed while the node exists)."""
    per_hour = None
    if price is not None and disk is not None:
        per_hour = round(price.unit_price * UNITS_PER_MONTH[price.unit] / HOURS_PER_MONTH
                         + disk.unit_price * UNITS_PER_MONTH[disk.unit] / HOURS_PER_MONTH, 6)
    return {"pool": pool.key, "vmSize": pool.vm_size, "spot": pool.spot, "autoscaled": pool.autoscaled,
            "idleCount": pool.idle, "minCount": pool.min_count, "maxCount": pool.busy,
            "usersPerNode": pool.users_per_node, "serves": pool.serves,
            "nodeHourPrice": per_hour}


def _practice_items(cfg: StackConfig, builder: _Builder, notes: list[str], fit: int | None) -> int | None:
    """Registry storage beyond the tier's included GiB, and home directories; returns users
    per node, capped by the data disks a node may attach when every user has a disk."""
    if cfg.uses_acr:
        included = ACR_INCLUDED_GIB[cfg.registry.sku]
        extra = max(0.0, cfg.registry.expected_storage_gi - included)
        builder.add(f"Registry storage beyond the {included} GiB included ({cfg.registry.expected_storage_gi:g} GiB "
                    "expected, registry.expectedStorageGi), GiB", ACR_STORAGE, extra, extra, unit="month")
        if cfg.registry.retention_days:
            notes.append(f"registry.retentionDays: a daily ACR task purges images older than "
                         f"{cfg.registry.retention_days} days; its run time is billed per second (minutes a day), "
                         "not included.")
    homes = cfg.home_storage
    if homes == "shared":
        size = cfg.storage.size_gi
        builder.add(f"Home directories: one Azure Files Premium NFS share, {size} GiB provisioned",
                    FILES_PREMIUM, size, size, unit="month")
    elif homes == "perUserDisk":
        users, size = cfg.storage.expected_users, cfg.storage.per_user_gi
        tier, tier_gib = disk_tier("E", size)
        builder.add(f"Home directories: a {size} GiB disk per registered user (storage.expectedUsers), billed as "
                    f"Standard SSD {tier} {tier_gib} GiB", disk_meter(tier), users, users, unit="month")
        disks = MAX_DATA_DISKS.get(cfg.cluster.user_pool.vm_size)
        if disks is not None and fit is not None and disks < fit:
            notes.append(f"storage.type perUserDisk: a {cfg.cluster.user_pool.vm_size} node attaches at most {disks} "
                         f"data disks, so at most {disks} users per node (memory alone would fit {fit}).")
            fit = disks
    if cfg.binder and cfg.binder_site.launch_events:
        notes.append("Launch events: a 1 GiB Azure Files (standard) share, billed by the bytes stored (cents), "
                     "not included.")
    return fit


def _tljh_items(cfg: StackConfig, builder: _Builder, notes: list[str]) -> dict[str, Any]:
    vm = cfg.vm
    per_user_gib = parse_memory_gib(cfg.limits.memory)
    size = VM_SIZES.get(vm.size)
    node: dict[str, Any] = {"vmSize": vm.size, "spot": False, "memoryPerUserGiB": round(per_user_gib, 3)}
    fit: int | None = None
    if size is not None:
        fit = users_per_node(size[1], _TLJH_OVERHEAD_GIB, per_user_gib)
        node |= {"vcpus": size[0], "memoryGiB": size[1], "systemOverheadGiB": _TLJH_OVERHEAD_GIB}
        notes.append(f"Users per VM: (VM memory - {_TLJH_OVERHEAD_GIB:g} GiB for the OS and JupyterHub) / "
                     "limits.memory.")
    else:
        notes.append(f"Users per VM: {vm.size} is not in the size table ({', '.join(VM_SIZES)}).")
    # The one VM runs all the time: idle and busy cost the same.
    price = builder.add(f"VM ({vm.size})", vm_meter(vm.size), 1, 1, unit="hour")
    os_tier, os_gib = TLJH_OS_DISK
    builder.add(f"OS disk ({os_gib} GiB Premium SSD {os_tier})", disk_meter(os_tier), 1, 1, unit="month")
    tier, tier_gib = disk_tier("E", vm.disk_size_gb)
    builder.add(f"/home data disk ({vm.disk_size_gb} GiB, billed as Standard SSD {tier} {tier_gib} GiB)",
                disk_meter(tier), 1, 1, unit="month")
    builder.add("Public IPv4 address (Standard, static)", PUBLIC_IP, 1, 1, unit="hour")
    notes.append("Key Vault is billed per operation (a few a day here), not included.")
    return {"fit": fit, "node": node, "price": price}


# The monthly free grant of Azure Container Apps, per subscription (learn.microsoft.com/azure/container-apps/billing).
CONTAINER_APPS_FREE = {"vCPU-seconds": 180_000, "GiB-seconds": 360_000, "requests": 2_000_000}


def _federation_items(cfg: StackConfig, builder: _Builder, notes: list[str]) -> dict[str, Any]:
    """The redirector: one always-on Consumption replica. Idle, it is billed at the idle rate
    (health checks of the members are outbound and tiny); busy, every second at the active rate."""
    from components import federation_spec as fed

    cpu, memory = fed.CPU * fed.REPLICAS, fed.MEMORY_GIB * fed.REPLICAS
    size = f"{fed.REPLICAS} replica of {fed.CPU:g} vCPU and {fed.MEMORY_GIB:g} GiB, always on"
    builder.add(f"Redirector vCPU at the active rate (Container Apps, {size}), vCPU",
                container_apps_meter("vCPU Active"), 0, cpu, unit="hour")
    builder.add(f"Redirector vCPU at the idle rate ({size}), vCPU", container_apps_meter("vCPU Idle"), cpu, 0,
                unit="hour")
    builder.add(f"Redirector memory ({size}), GiB", container_apps_meter("Memory Active"), memory, memory,
                unit="hour")
    builder.fixed("Container Apps environment (Consumption only) and managed certificate",
                  Price(0.0, "month", "Consumption-only environments and managed certificates are not billed"), 1)
    seconds = HOURS_PER_MONTH * 3600
    cpu_share = CONTAINER_APPS_FREE["vCPU-seconds"] / (cpu * seconds)
    memory_share = CONTAINER_APPS_FREE["GiB-seconds"] / (memory * seconds)
    notes.append(f"Container Apps' free monthly grant per subscription ({CONTAINER_APPS_FREE['vCPU-seconds']:,} "
                 f"vCPU-seconds, {CONTAINER_APPS_FREE['GiB-seconds']:,} GiB-seconds, "
                 f"{CONTAINER_APPS_FREE['requests']:,} requests) is not deducted: other container apps of the "
                 f"subscription share it. Alone there, it covers {cpu_share:.0%} of the redirector's vCPU-seconds "
                 f"and {memory_share:.0%} of its GiB-seconds.")
    notes.append("Idle: the replica billed at Container Apps' idle rate all month (under 0.01 vCPU, under 1,000 "
                 "bytes/s in, no request); busy: at the active rate all month. The members' own stacks are not "
                 "included: `./run python -m tools.cost --stack <member>` for each.")
    return {"fit": None, "node": {"vmSize": None, "spot": False, "memoryPerUserGiB": 0}, "price": None}


def _build(cfg: StackConfig, prices: _LivePrices | _TablePrices, table: Mapping[str, Any],
           notes: list[str]) -> dict[str, Any]:
    builder = _Builder(prices)
    items_of = _tljh_items if cfg.tljh else _federation_items if cfg.federated else _kubernetes_items
    capacity = items_of(cfg, builder, notes)
    items = builder.items
    known = [item for item in items if item["unitPrice"] is not None]
    unknown = [item["name"] for item in items if item["unitPrice"] is None]
    idle = round(sum(item["idleMonthly"] for item in known), 2)
    busy = round(sum(item["busyMonthly"] for item in known), 2)

    fit, price = capacity["fit"], capacity["price"]
    per_user_hour = None
    if fit and price is not None and price.unit == "hour":
        per_user_hour = round(price.unit_price / fit, 4)

    if cfg.federated:
        notes.append(f"Not included: HTTP requests beyond the free {CONTAINER_APPS_FREE['requests']:,} a month "
                     "(billed per million), outbound data transfer.")
    else:
        notes.append("Not included: outbound data transfer, load balancer data processed, disk operations"
                     + ("" if cfg.uses_acr or not cfg.binder else ", registry storage beyond the SKU's included amount")
                     + (", dataset storage" if cfg.datasets else "") + ".")
    if isinstance(prices, _TablePrices) and prices.usage:
        notes.append("Billed by use, for reference (offline table, " + prices.region + "): "
                     + "; ".join(f"{key.split('/')[0]} ${entry['unitPrice']:g} per {entry['per']}"
                                 for key, entry in prices.usage.items()) + ".")
    if unknown:
        notes.append(f"Totals exclude {len(unknown)} item(s) of unknown price: {'; '.join(unknown)}.")
    if isinstance(prices, _TablePrices):
        prices_region = prices.region
        if cfg.location != prices_region:
            notes.append(f"The offline table has no {cfg.location} prices: these are its reference region's, "
                         f"{prices_region}; {cfg.location} differs by a few to ~20 %.")
        source, date = str(table.get("source", "")), str(table.get("date", ""))
    else:
        prices_region = cfg.location
        source = (f"Azure Retail Prices API ({PRICES_API}), {cfg.location}, USD list pay-as-you-go (Consumption) "
                  "prices, Linux")
        date = datetime.datetime.now(datetime.UTC).date().isoformat()
    return {
        "currency": "USD",
        "region": cfg.location,
        "hoursPerMonth": HOURS_PER_MONTH,
        "idleMonthly": idle,
        "busyMonthly": busy,
        "excludesUnknown": bool(unknown),
        "unknownItems": unknown,
        # A budget (budget.monthlyAmount) at the busy total plus 10 % for the usage-billed extras.
        "suggestedBudget": None if unknown else int(math.ceil(busy * 1.1 / 10) * 10),
        "items": items,
        "priceSource": source,
        "priceDate": date,
        "offline": prices.offline,
        "usersPerNode": fit if fit is not None else "unknown",
        "costPerUserHour": per_user_hour,
        "userNode": capacity["node"],
        "pricesRegion": prices_region,
        "pools": capacity.get("pools", []),
        "notes": notes,
    }


def estimate(cfg: StackConfig, *, offline: bool = False, fetch: Fetch | None = None) -> dict[str, Any]:
    """The cost document of a validated stack config (see the module docstring for its keys).

    Asks the Azure Retail Prices API (through `fetch(url) -> dict`, by default an HTTPS GET)
    unless `offline`; on any network error the whole estimate comes from the shipped table
    instead, so one document never mixes live and table prices."""
    table = load_price_table()
    notes: list[str] = []
    if not offline:
        try:
            return _build(cfg, _LivePrices(cfg.location, fetch or http_fetch), table, notes)
        except PriceFetchError as err:
            notes = [f"The Azure Retail Prices API could not be reached ({err}); prices are from the offline table."]
    return _build(cfg, _TablePrices(table, cfg.location), table, notes)
