"""Prices for the cost estimate: the meters it needs, the Azure Retail Prices API (query,
paging, row selection) and the shipped price table used offline; with the published sizes and
the fixed quantities the estimate counts.
"""

from __future__ import annotations

import datetime
import http.client
import json
import re
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from components.vm_sizes import SIZES

PRICES_API = "https://prices.azure.com/api/retail/prices"
PRICES_FILE = Path(__file__).with_name("prices.json")
HOURS_PER_MONTH = 730
# Per-day meters (the container registry) over the same 730-hour month as hourly ones.
UNITS_PER_MONTH = {"hour": HOURS_PER_MONTH, "day": HOURS_PER_MONTH / 24, "month": 1,
                   # Per-second meters (Azure Container Apps' vCPU and memory).
                   "second": HOURS_PER_MONTH * 3600}
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
HUB_DB_GIB = 1  # the hub's sqlite database claim (hub_spec.py), on StandardSSD_LRS
PROMETHEUS_GIB = 8  # monitoring_spec.py, on the cluster's default StandardSSD class

# Managed disks are billed by the smallest tier that holds the provisioned size.
_DISK_SIZES = (4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32767)
_DISK_NUMBERS = (1, 2, 3, 4, 6, 10, 15, 20, 30, 40, 50, 60, 70, 80)

# What an AKS node keeps from user servers is components/fit.py's (AKS's published reservations).
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


def container_apps_meter(what: str) -> Meter:
    """Azure Container Apps, Consumption plan, per second: `what` is 'vCPU Active', 'vCPU Idle',
    'Memory Active' or 'Memory Idle' (memory per GiB). A replica is billed at the idle rate while
    it uses under 0.01 vCPU, receives under 1,000 bytes a second and serves no request, at the
    active rate otherwise (learn.microsoft.com/azure/container-apps/billing)."""
    name = f"Standard {what} Usage"
    key = "container-apps/" + what.lower().replace(" ", "-")
    return Meter(key, "Azure Container Apps", (("meterName", name),), meter_name=name)


def meter_for_key(key: str) -> Meter | None:
    """The meter behind an offline-table key ('vm/Standard_D4s_v5', 'disk/P10', ...)."""
    kind, _, name = key.partition("/")
    builders: dict[str, Callable[[str], Meter]] = {
        "vm": vm_meter, "vm-spot": lambda size: vm_meter(size, spot=True), "disk": disk_meter, "acr": acr_meter}
    if kind in builders:
        return builders[kind](name)
    if kind == "container-apps":
        return container_apps_meter(" ".join(word if word == "vCPU" else word.capitalize()
                                             for word in name.replace("vcpu", "vCPU").split("-")))
    fixed = {m.key: m for m in (LOAD_BALANCER, PUBLIC_IP, AKS_STANDARD, ACR_STORAGE, FILES_PREMIUM)}
    return fixed.get(key)


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
    match = re.fullmatch(r"\s*1\s*(?:GiB|GB)?\s*[ /]?\s*(second|hour|day|month)s?\s*", unit_of_measure or "",
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


def live_prices(region: str, fetch: Fetch) -> _LivePrices:
    """Prices of `region` from the Retail Prices API (one request per distinct query)."""
    return _LivePrices(region, fetch)


def load_price_table(path: Path = PRICES_FILE) -> dict[str, Any]:
    return json.loads(path.read_text())
