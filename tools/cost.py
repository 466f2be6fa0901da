"""Monthly cost estimate of a stack, before any Azure call.

    python -m tools.cost --stack dev [--json] [--offline]
    python -m tools.cost --config-file path/to/Pulumi.myuni.yaml [--json] [--offline]
    python -m tools.cost --stack dev --usage PROFILE [--weeks N] [--json] [--plot FILE]

With --usage, a month of use is simulated hour by hour (tools/simulate.py; profiles in
tools/usage.py) instead of printing the itemised estimate.

Prices are USD list pay-as-you-go prices (Linux) from the public Azure Retail Prices API
for the stack's region. Without network, or with --offline, they come from the shipped
table `tools/prices.json` (keyed by region; indicative list prices of its reference
region, East US, used for any region it lacks, each figure with its source and date);
what that table lacks is reported as unknown and left out of the totals, never guessed.

"Idle" is the stack with nobody using it (system nodes, `userPool.minCount` user nodes and
the fixed resources) for a whole month; "busy" is every user node up to `userPool.maxCount`
running all month, the most the stack can cost. Real months fall in between. Exit 0 on
success, 2 with one line per problem on stderr when the stack file or config is wrong.

The JSON document (`--json`, and `estimate()`):

    currency, region, hoursPerMonth, idleMonthly, busyMonthly, excludesUnknown, unknownItems,
    suggestedBudget, items, priceSource, priceDate, offline, usersPerNode, costPerUserHour,
    userNode, pricesRegion (whose prices these are), pools (per node pool: pool, vmSize, spot,
    autoscaled, idleCount, minCount, maxCount, usersPerNode, nodeHourPrice), notes

and each item: name, quantity (when busy), idleQuantity, unitPrice, unit (hour, day or
month), idleMonthly, busyMonthly, source.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import math
import os
import re
import sys
import textwrap
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from components.config import PROJECT, SECRET_KEYS, ConfigError, StackConfig
from components.config_load import parse_config
from components.vm_sizes import SIZES

from .stackfile import SECRET, PlanError, add_stack_arguments, read_stack_file, stack_from_args

PRICES_API = "https://prices.azure.com/api/retail/prices"
PRICES_FILE = Path(__file__).with_name("prices.json")
HOURS_PER_MONTH = 730
# Per-day meters (the container registry) over the same 730-hour month as hourly ones.
UNITS_PER_MONTH = {"hour": HOURS_PER_MONTH, "day": HOURS_PER_MONTH / 24, "month": 1}
UNKNOWN = "unknown, run with network"
NO_LIVE_ROW = "unknown: no matching price in the Azure Retail Prices API"
FETCH_TIMEOUT_SECONDS = 10
# The API returns 100 rows a page; the queries here match a few dozen at most, so many
# pages means something is wrong (a loop of links): stop rather than hang.
MAX_PAGES = 20

Fetch = Callable[[str], Mapping[str, Any]]

# Published Azure sizes: (vCPUs, memory GiB), from vm_sizes.py. Only used for users per node
# and the OS disk tier; a size missing here is reported as unknown for those, not estimated
# from its name.
VM_SIZES: dict[str, tuple[int, float]] = {name: (size.vcpus, size.memory_gib) for name, size in SIZES.items()}

# AKS's default managed OS disk grows with the node's vCPUs (Premium SSD tier, GiB), for
# node pools that do not set an OS disk size, as this stack's pools do not.
_AKS_OS_DISK = ((64, "P30", 1024), (16, "P20", 512), (8, "P15", 256), (1, "P10", 128))
TLJH_OS_DISK = ("P6", 64)  # components/tljh.py: a 64 GiB Premium_LRS OS disk
HUB_DB_GIB = 1  # the hub's sqlite database claim (hub_values.py), on StandardSSD_LRS
PROMETHEUS_GIB = 8  # monitoring_values.py, on the cluster's default StandardSSD class

# Managed disks are billed by the smallest tier that holds the provisioned size.
_DISK_SIZES = (4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32767)
_DISK_NUMBERS = (1, 2, 3, 4, 6, 10, 15, 20, 30, 40, 50, 60, 70, 80)

# Memory the node keeps from user servers (AKS 1.29+ node reservations): kube-reserved is the
# smaller of 20 MiB per pod slot + 50 MiB and 25 % of the node's memory, with Azure CNI
# Overlay's default of 250 pod slots per node; the kubelet evicts below 100 MiB free; and an
# allowance for the DaemonSets every node runs (Cilium, CSI drivers, the image puller).
_MAX_PODS = 250
_EVICTION_GIB = 100 / 1024
_DAEMONSET_GIB = 0.5
# BinderHub's build daemon (dind) requests 1 GiB on each build node (hub_values.py).
_DIND_REQUEST_GIB = 1.0
# On the single TLJH VM: the OS, JupyterHub and its proxy.
_TLJH_OVERHEAD_GIB = 1.0

# JupyterHub reads "2G" as 2 GiB: its byte suffixes are powers of 1024.
_MEMORY_UNITS = {"K": 1 / 1024**2, "M": 1 / 1024, "G": 1.0, "T": 1024.0}


class PriceFetchError(Exception):
    """The Retail Prices API could not be reached or answered something unreadable."""


class Price(NamedTuple):
    unit_price: float
    unit: str  # "hour", "day" or "month"
    source: str


@dataclass(frozen=True)
class Meter:
    """One price to look up: how to ask the Retail Prices API for it, and its offline-table key."""

    key: str
    service: str
    filters: tuple[tuple[str, str], ...]
    meter_name: str | None = None
    spot: bool = False
    # The load balancer's meters are listed under armRegionName 'Global', not the region.
    global_fallback: bool = False


def vm_meter(vm_size: str, *, spot: bool = False) -> Meter:
    return Meter(f"vm-spot/{vm_size}" if spot else f"vm/{vm_size}", "Virtual Machines",
                 (("armSkuName", vm_size),), spot=spot)


def disk_meter(tier: str) -> Meter:
    name = f"{tier} LRS Disk"
    return Meter(f"disk/{tier}", "Storage", (("meterName", name),), meter_name=name)


def acr_meter(sku: str) -> Meter:
    name = f"{sku} Registry Unit"
    return Meter(f"acr/{sku}", "Container Registry", (("meterName", name),), meter_name=name)


LOAD_BALANCER = Meter("load-balancer/Standard", "Load Balancer", (("skuName", "Standard"),),
                      meter_name="Standard Included LB Rules and Outbound Rules", global_fallback=True)
PUBLIC_IP = Meter("public-ip/Standard", "Virtual Network", (("meterName", "Standard IPv4 Static Public IP"),),
                  meter_name="Standard IPv4 Static Public IP")
AKS_STANDARD = Meter("aks/Standard", "Azure Kubernetes Service", (("meterName", "Standard Uptime SLA"),),
                     meter_name="Standard Uptime SLA")
# Storage priced per GiB-month (a quantity in GiB): registry storage beyond the tier's
# included amount, and provisioned Premium Azure Files (the shared home share).
ACR_STORAGE = Meter("acr-storage/GiB", "Container Registry", (("meterName", "Data Stored"),),
                    meter_name="Data Stored")
FILES_PREMIUM = Meter("files-premium/GiB", "Storage", (("meterName", "Premium LRS Provisioned"),),
                      meter_name="Premium LRS Provisioned")
# Storage each ACR tier includes (GiB); beyond it, storage is billed per GiB-month.
ACR_INCLUDED_GIB = {"Basic": 10, "Standard": 100, "Premium": 500}
# Data disks a VM size may attach (Azure's size pages: 2 per vCPU on these D/E/B sizes, up
# to 32); with a disk per user this caps users per node.
MAX_DATA_DISKS = {"Standard_D2s_v5": 4, "Standard_D4s_v5": 8, "Standard_D8s_v5": 16, "Standard_D16s_v5": 32,
                  "Standard_E4s_v5": 8, "Standard_E8s_v5": 16, "Standard_E16s_v5": 32,
                  "Standard_D2s_v3": 4, "Standard_D4s_v3": 8, "Standard_B2ms": 4}


# ---------------------------------------------------------------------------
# The Retail Prices API: pure query building and row selection
# ---------------------------------------------------------------------------


def _odata_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def price_query_url(service: str, region: str, filters: Iterable[tuple[str, str]] = ()) -> str:
    """The Retail Prices API URL for one service in one region, consumption (pay-as-you-go)
    prices only, with further `field eq 'value'` conditions (armSkuName, meterName, ...)."""
    terms = [("serviceName", service), ("armRegionName", region), *filters, ("priceType", "Consumption")]
    odata = " and ".join(f"{field} eq {_odata_string(value)}" for field, value in terms)
    # Spaces and the rest are percent-encoded; the OData quotes stay readable, as in Azure's examples.
    return f"{PRICES_API}?$filter=" + urllib.parse.quote(odata, safe="'")


def price_unit(unit_of_measure: str) -> str | None:
    """'1 Hour' / '1/Hour' -> 'hour', '1/Day' -> 'day', '1/Month' -> 'month'; other units
    (per GB, per 10K operations) are not a price this estimate can use."""
    # Per GiB-month storage meters ('1 GB/Month') price a quantity given in GiB.
    match = re.fullmatch(r"\s*1\s*(?:GiB|GB)?\s*[ /]\s*(hour|day|month)s?\s*", unit_of_measure or "",
                         re.IGNORECASE)
    return match.group(1).lower() if match else None


def _spot_or_low_priority(row: Mapping[str, Any]) -> tuple[bool, bool]:
    names = f"{row.get('skuName', '')} {row.get('meterName', '')}"
    return "Spot" in names, "Low Priority" in names


def select_price_row(rows: Iterable[Mapping[str, Any]], *, spot: bool = False,
                     meter_name: str | None = None) -> Mapping[str, Any] | None:
    """The Linux pay-as-you-go row among one query's rows, or None.

    Skips Windows rows (their price includes the licence), reservations and Dev/Test rates,
    rows priced per GB or per operation, and Spot and Low Priority rows unless `spot` is
    wanted, when only the Spot row qualifies (Low Priority is the retired Batch/VMSS tier).
    """
    candidates = []
    for row in rows:
        if row.get("type") != "Consumption" or row.get("reservationTerm"):
            continue
        if "Windows" in str(row.get("productName", "")):
            continue
        is_spot, is_low = _spot_or_low_priority(row)
        if is_low or is_spot != spot:
            continue
        if meter_name is not None and str(row.get("meterName", "")).lower() != meter_name.lower():
            continue
        if price_unit(str(row.get("unitOfMeasure", ""))) is None:
            continue
        if not isinstance(row.get("retailPrice"), (int, float)) or row["retailPrice"] < 0:
            continue
        candidates.append(row)
    if not candidates:
        return None
    # Several rows can survive (a secondary meter region, a new effective date): prefer the
    # first price tier, the primary meter region, then the newest price.
    return min(candidates, key=lambda r: (float(r.get("tierMinimumUnits") or 0),
                                          not r.get("isPrimaryMeterRegion", True),
                                          _negated_date(str(r.get("effectiveStartDate", "")))))


def _negated_date(text: str) -> float:
    try:
        return -datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def http_fetch(url: str) -> Mapping[str, Any]:
    """GET one page of the Retail Prices API (no authentication), with a short timeout."""
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_SECONDS) as response:
        return json.load(response)


def fetch_rows(url: str, fetch: Fetch) -> list[Mapping[str, Any]]:
    """Every row of a query, following NextPageLink. Raises PriceFetchError on any network
    or format error."""
    rows: list[Mapping[str, Any]] = []
    next_url: str | None = url
    for _ in range(MAX_PAGES):
        if next_url is None:
            return rows
        if urllib.parse.urlsplit(next_url).hostname != urllib.parse.urlsplit(PRICES_API).hostname:
            raise PriceFetchError(f"unexpected next page link {next_url!r}")
        try:
            page = fetch(next_url)
        except (OSError, ValueError, http.client.HTTPException) as err:  # URLError, timeouts, bad JSON
            raise PriceFetchError(f"{type(err).__name__}: {err}") from None
        items = page.get("Items") if isinstance(page, Mapping) else None
        if not isinstance(items, list):
            raise PriceFetchError("the answer has no Items list")
        rows.extend(row for row in items if isinstance(row, Mapping))
        next_url = page.get("NextPageLink") or None
    raise PriceFetchError(f"more than {MAX_PAGES} pages of prices for {url}")


# ---------------------------------------------------------------------------
# Where prices come from: the live API or the shipped table
# ---------------------------------------------------------------------------


class _LivePrices:
    offline = False
    unknown_text = NO_LIVE_ROW

    def __init__(self, region: str, fetch: Fetch):
        self.region = region
        self.fetch = fetch
        self._pages: dict[str, list[Mapping[str, Any]]] = {}  # one request per distinct query

    def _rows(self, url: str) -> list[Mapping[str, Any]]:
        if url not in self._pages:
            self._pages[url] = fetch_rows(url, self.fetch)
        return self._pages[url]

    def price(self, meter: Meter) -> Price | None:
        regions = [self.region, "Global"] if meter.global_fallback else [self.region]
        for region in regions:
            row = select_price_row(self._rows(price_query_url(meter.service, region, meter.filters)),
                                   spot=meter.spot, meter_name=meter.meter_name)
            if row is not None:
                unit = price_unit(str(row["unitOfMeasure"]))
                assert unit is not None  # select_price_row keeps only usable units
                return Price(float(row["retailPrice"]), unit,
                             f"Azure Retail Prices API: {row.get('meterName')} ({row.get('productName')}), "
                             f"{row.get('armRegionName')}")
        return None


class _TablePrices:
    """The shipped table: the stack's region if the table has it, else its reference region
    (`region` says which one the prices are of)."""

    offline = True
    unknown_text = UNKNOWN

    def __init__(self, table: Mapping[str, Any], region: str | None = None):
        regions: Mapping[str, Any] = table.get("regions", {})
        reference = str(table.get("referenceRegion", "eastus"))
        self.region = region if region in regions else reference
        self.prices: Mapping[str, Any] = regions.get(self.region, {}).get("prices", {})
        self.sources: Mapping[str, Any] = table.get("sources", {})
        self.usage: Mapping[str, Any] = regions.get(self.region, {}).get("usagePrices", {})

    def price(self, meter: Meter) -> Price | None:
        entry = self.prices.get(meter.key)
        if entry is None:
            return None
        ref = self.sources.get(entry.get("ref", ""), {})
        details = [f"{self.region}"]
        if ref:
            details.append(f"{ref.get('text')}, {ref.get('date')}")
        if entry.get("basis"):
            details.append(str(entry["basis"]))
        return Price(float(entry["unitPrice"]), entry["unit"], "offline table (" + "; ".join(details) + ")")


def load_price_table(path: Path = PRICES_FILE) -> dict[str, Any]:
    return json.loads(path.read_text())


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
    """Memory of an AKS user node that user servers cannot have (see the constants above)."""
    kube_reserved = min((20 * _MAX_PODS + 50) / 1024, 0.25 * memory_gib)
    return kube_reserved + _EVICTION_GIB + _DAEMONSET_GIB + (_DIND_REQUEST_GIB if build_node else 0.0)


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
        # Every GPU size in vm_sizes.py has one GPU, and a GPU server asks for one.
        pools.append(NodePool("gpu", "GPU nodes", gpu.vm_size, gpu.min_count, gpu.max_count, autoscaled=True,
                              users_per_node=1, min_count=gpu.min_count, serves="gpuUsers"))
    build = cfg.build_pool
    if build is not None:
        # Binder builds on their own on-demand pool, scaled from zero by waiting builds (hub_values.py).
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
    if size is not None:
        # Binder image builds run on the user nodes unless there is a build pool (hub_values.py).
        overhead = aks_node_overhead_gib(size[1], build_node=cfg.binder and cfg.build_pool is None)
        fit = users_per_node(size[1], overhead, per_user_gib)
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
                     "100 MiB eviction threshold, 0.5 GiB for DaemonSets"
                     + (" and the 1 GiB build daemon" if cfg.binder and cfg.build_pool is None else "")
                     + "; profiles with their own memory fit differently.")
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


def _build(cfg: StackConfig, prices: _LivePrices | _TablePrices, table: Mapping[str, Any],
           notes: list[str]) -> dict[str, Any]:
    builder = _Builder(prices)
    capacity = (_tljh_items if cfg.tljh else _kubernetes_items)(cfg, builder, notes)
    items = builder.items
    known = [item for item in items if item["unitPrice"] is not None]
    unknown = [item["name"] for item in items if item["unitPrice"] is None]
    idle = round(sum(item["idleMonthly"] for item in known), 2)
    busy = round(sum(item["busyMonthly"] for item in known), 2)

    fit, price = capacity["fit"], capacity["price"]
    per_user_hour = None
    if fit and price is not None and price.unit == "hour":
        per_user_hour = round(price.unit_price / fit, 4)

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


# ---------------------------------------------------------------------------
# Text output
# ---------------------------------------------------------------------------


_WRAP = 100


def _money(value: float | None) -> str:
    return "unknown" if value is None else f"${value:,.2f}"


def _unit_price(item: Mapping[str, Any]) -> str:
    if item["unitPrice"] is None:
        return UNKNOWN if item["source"] == UNKNOWN else "unknown"
    if item["unitPrice"] == 0:
        return "free"
    return f"${item['unitPrice']:g}/{item['unit']}"


def _qty(value: float) -> str:
    return f"{value:g}"


def _capacity_line(doc: Mapping[str, Any]) -> str:
    node = doc["userNode"]
    per_user = f"{node['memoryPerUserGiB']:g} GiB each"
    if doc["usersPerNode"] == "unknown":
        return f"Users per node: unknown ({node['vmSize']} is not in the size table)"
    line = f"Users per node: {doc['usersPerNode']} ({node['vmSize']}, {node['memoryGiB']:g} GiB, " \
           f"{node['systemOverheadGiB']:g} GiB overhead, {per_user})"
    if doc["costPerUserHour"] is not None:
        line += f"; at full use ${doc['costPerUserHour']:g} per user-hour"
    return line


def _totals_line(doc: Mapping[str, Any]) -> str:
    excluded = f" (excludes {len(doc['unknownItems'])} item(s) of unknown price)" if doc["excludesUnknown"] else ""
    return f"idle {_money(doc['idleMonthly'])}, busy {_money(doc['busyMonthly'])} a month{excluded}"


def summary(doc: Mapping[str, Any]) -> str:
    """A few lines for other summaries (the offline plan's)."""
    lines = [f"Cost estimate (USD, list pay-as-you-go): {_totals_line(doc)}"]
    if doc["excludesUnknown"]:
        hint = " (run `python -m tools.cost` with network)" if doc["offline"] else ""
        lines.append(f"  unknown: {'; '.join(doc['unknownItems'])}{hint}")
    lines.append(f"  {_capacity_line(doc)}")
    if doc["offline"]:
        lines.append(f"  Prices: offline table of {doc['priceDate']}, indicative {doc['pricesRegion']} list prices"
                     + ("" if doc["pricesRegion"] == doc["region"] else f" (none for {doc['region']})")
                     + "; regions differ by a few to ~20%")
    else:
        lines.append(f"  Prices: Azure Retail Prices API, {doc['region']}, {doc['priceDate']}")
    return "\n".join(lines)


def render_table(doc: Mapping[str, Any], title: str) -> str:
    """The readable itemised estimate the command prints."""
    header = ("item", "qty idle/busy", "unit price", "idle/month", "busy/month")
    rows = [(item["name"], f"{_qty(item['idleQuantity'])} / {_qty(item['quantity'])}", _unit_price(item),
             _money(item["idleMonthly"]), _money(item["busyMonthly"])) for item in doc["items"]]
    total = ("Total" + (" (excludes unknown items)" if doc["excludesUnknown"] else ""), "", "",
             _money(doc["idleMonthly"]), _money(doc["busyMonthly"]))
    widths = [max(len(row[i]) for row in [header, *rows, total]) for i in range(len(header))]

    def fmt(row: tuple[str, ...]) -> str:
        cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1]), row[2].ljust(widths[2]),
                 row[3].rjust(widths[3]), row[4].rjust(widths[4])]
        return "  ".join(cells).rstrip()

    rule = "-" * len(fmt(header))
    lines = [title, f"USD, {doc['hoursPerMonth']} hours a month; idle: nobody using it, busy: every user node "
                    "running all month", "", fmt(header), rule, *map(fmt, rows), rule, fmt(total), "",
             _capacity_line(doc)]
    if doc["suggestedBudget"] is not None:
        lines.append(f"Suggested budget.monthlyAmount: {doc['suggestedBudget']} (busy total + 10 %)")
    lines += ["", *textwrap.wrap(f"Prices: {doc['priceSource']} Date: {doc['priceDate']}.", _WRAP), "Notes:"]
    for note in doc["notes"]:
        lines += textwrap.wrap(note, _WRAP, initial_indent="  - ", subsequent_indent="    ")
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.cost", description=__doc__.split("\n")[0])
    add_stack_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the estimate as one JSON document")
    parser.add_argument("--offline", action="store_true",
                        help="use the shipped price table only (no request to the Azure Retail Prices API)")
    parser.add_argument("--usage", metavar="PROFILE",
                        help="simulate a month of use: a CSV of concurrent users per hour (hour,users) or a built-in "
                             "profile (workshop, course, public-binder)")
    parser.add_argument("--weeks", type=int, default=4, metavar="N",
                        help="weeks a weekly profile is repeated in the simulation (default 4)")
    parser.add_argument("--plot", metavar="FILE", help="with --usage: write a PNG of users, nodes and cost")
    args = parser.parse_args(argv)
    if (args.plot or args.weeks != 4) and not args.usage:
        parser.error("--plot and --weeks need --usage")
    if not 1 <= args.weeks <= 104:
        parser.error("--weeks must be between 1 and 104")

    try:
        path, stack = stack_from_args(args)
        raw, secret = read_stack_file(path)
        # Secrets do not change the price: estimate before the OAuth app or token exists.
        for name in SECRET_KEYS:
            key = f"{PROJECT}:{name}"
            if key not in raw:
                raw[key], secret = SECRET, secret | {key}
        cfg = parse_config(raw, secret)
        profile = None
        if args.usage:
            from .usage import UsageError, load_profile

            try:
                profile = load_profile(args.usage)
            except UsageError as err:
                print(f"error: --usage {err}", file=sys.stderr)
                return 2
        doc = estimate(cfg, offline=args.offline)
        if profile is not None:
            return _simulate(cfg, doc, profile, args, stack)
    except (PlanError, ConfigError) as err:
        print(str(err), file=sys.stderr)
        return 2
    except Exception as err:  # a bug, not bad input: one line, traceback on request
        if os.environ.get("BINDERHUB_AZURE_DEBUG"):
            raise
        print(f"error: the cost estimate failed: {type(err).__name__}: {err} "
              "(set BINDERHUB_AZURE_DEBUG=1 for a traceback)", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print(render_table(doc, f"Monthly cost estimate of stack '{stack}' ({cfg.mode}, {cfg.location})"))
    return 0


def _simulate(cfg: StackConfig, doc: dict[str, Any], profile: Any, args: argparse.Namespace, stack: str) -> int:
    from . import simulate

    # Alternatives are priced like the stack itself: live prices only if those worked.
    def estimate_of(other: StackConfig) -> dict[str, Any]:
        return estimate(other, offline=bool(doc["offline"]))

    try:
        result = simulate.run(cfg, doc, profile, args.weeks, estimate_of)
    except simulate.SimulationError as err:
        print(f"error: cannot simulate stack '{stack}': {err}", file=sys.stderr)
        return 2
    title = f"Simulated month of stack '{stack}' ({cfg.mode}, {cfg.location}), usage {profile.name}"
    if args.plot:
        try:
            simulate.plot(result, args.plot, title)
        except OSError as err:
            print(f"error: --plot {args.plot}: cannot be written ({err.strerror or err})", file=sys.stderr)
            return 2
    public = {key: value for key, value in result.items() if not key.startswith("_")}
    if args.json:
        print(json.dumps(public, indent=2))
    else:
        print(simulate.render(public, title))
    return 0


if __name__ == "__main__":
    sys.exit(main())
