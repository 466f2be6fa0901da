"""The cost estimate: price queries, row selection from recorded API answers, the offline
table, the items a stack pays for, users per node, and the command."""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
import urllib.error
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from components.config_load import parse_config
from tests.helpers import TEST_SSH_KEY, raw_config
from tools import cost

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data" / "prices"
EMPTY = {"BillingCurrency": "USD", "CustomerEntityId": "Default", "CustomerEntityType": "Retail",
         "Items": [], "NextPageLink": None, "Count": 0}

DOC_KEYS = {"currency", "region", "hoursPerMonth", "idleMonthly", "busyMonthly", "excludesUnknown", "unknownItems",
            "suggestedBudget", "items", "priceSource", "priceDate", "offline", "usersPerNode", "costPerUserHour",
            "userNode", "notes", "pricesRegion", "pools"}
ITEM_KEYS = {"name", "quantity", "idleQuantity", "unitPrice", "unit", "idleMonthly", "busyMonthly", "source"}

GITHUB = {"auth": {"type": "github", "clientId": "gh-client", "allowedUsers": ["alice"]},
          "secrets": {"authClientSecret": "s3cret"}}


def load(name: str) -> dict[str, Any]:
    return json.loads((DATA / name).read_text())


# Binder with monitoring needs more than the default system node (components/fit.py).
CORE_WITH_MONITORING = {"systemPool": {"vmSize": "Standard_E2s_v5"}}


def config(**keys: Any):
    secrets = keys.pop("secrets", None)
    return parse_config(*raw_config(secrets, **keys))


def url(meter: cost.Meter, region: str = "westeurope") -> str:
    return cost.price_query_url(meter.service, region, meter.filters)


class RecordedApi:
    """A fake `fetch`: answers the queries the recorded files were written for (and their
    NextPageLink), an empty answer to any other query, and records every request."""

    def __init__(self) -> None:
        page1 = load("vm-D4s_v5-westeurope-page1.json")
        self.pages: dict[str, dict[str, Any]] = {
            url(cost.vm_meter("Standard_D4s_v5")): page1,
            page1["NextPageLink"]: load("vm-D4s_v5-westeurope-page2.json"),
            url(cost.vm_meter("Standard_D2s_v5")): load("vm-D2s_v5-westeurope.json"),
            url(cost.LOAD_BALANCER): load("lb-westeurope.json"),
            url(cost.LOAD_BALANCER, "Global"): load("lb-global.json"),
            url(cost.PUBLIC_IP): load("ip-westeurope.json"),
            url(cost.disk_meter("P10")): load("disk-P10-westeurope.json"),
            url(cost.disk_meter("E1")): load("disk-E1-westeurope.json"),
            url(cost.acr_meter("Basic")): load("acr-Basic-westeurope.json"),
            url(cost.AKS_STANDARD): load("aks-Standard-westeurope.json"),
        }
        self.requested: list[str] = []

    def __call__(self, address: str) -> dict[str, Any]:
        self.requested.append(address)
        return self.pages.get(address, EMPTY)


def by_name(doc: dict[str, Any], start: str) -> dict[str, Any]:
    found = [item for item in doc["items"] if item["name"].startswith(start)]
    assert len(found) == 1, f"expected one item starting {start!r}, got {[i['name'] for i in doc['items']]}"
    return found[0]


def no_network(address: str) -> dict[str, Any]:
    raise AssertionError(f"--offline must not fetch {address}")


# ---- the query ----


def test_query_url_filters_service_region_sku_and_consumption():
    address = cost.price_query_url("Virtual Machines", "westeurope", [("armSkuName", "Standard_D4s_v5")])
    assert address == ("https://prices.azure.com/api/retail/prices?$filter=serviceName%20eq%20'Virtual%20Machines'"
                       "%20and%20armRegionName%20eq%20'westeurope'%20and%20armSkuName%20eq%20'Standard_D4s_v5'"
                       "%20and%20priceType%20eq%20'Consumption'")
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(address).query)
    assert query["$filter"] == ["serviceName eq 'Virtual Machines' and armRegionName eq 'westeurope' and "
                                "armSkuName eq 'Standard_D4s_v5' and priceType eq 'Consumption'"]


def test_query_url_doubles_quotes_in_odata_strings():
    address = cost.price_query_url("Storage", "eastus", [("meterName", "it's")])
    assert "meterName eq 'it''s'" in urllib.parse.unquote(address)


def test_meters_ask_the_right_service():
    assert cost.vm_meter("Standard_E4s_v5").filters == (("armSkuName", "Standard_E4s_v5"),)
    assert cost.vm_meter("Standard_E4s_v5", spot=True).key == "vm-spot/Standard_E4s_v5"
    assert cost.disk_meter("P10").filters == (("meterName", "P10 LRS Disk"),)
    assert cost.acr_meter("Premium").meter_name == "Premium Registry Unit"
    assert cost.LOAD_BALANCER.global_fallback and not cost.PUBLIC_IP.global_fallback


@pytest.mark.parametrize(("text", "unit"), [("1 Hour", "hour"), ("1/Hour", "hour"), ("1/Day", "day"),
                                            ("1/Month", "month"), ("1 GB", None), ("10K", None), ("", None)])
def test_price_unit(text, unit):
    assert cost.price_unit(text) == unit


# ---- choosing the row ----


def test_linux_pay_as_you_go_row_is_on_the_second_page():
    api = RecordedApi()
    first = url(cost.vm_meter("Standard_D4s_v5"))
    rows = cost.fetch_rows(first, api)
    assert api.requested == [first, load("vm-D4s_v5-westeurope-page1.json")["NextPageLink"]]
    assert len(rows) == 9
    row = cost.select_price_row(rows)
    assert row is not None
    # Not Windows, not Spot or Low Priority, not the reservation's term total, not the older
    # row of a non-primary meter region.
    assert (row["retailPrice"], row["productName"], row["skuName"]) == (0.216, "Virtual Machines Dsv5 Series",
                                                                       "D4s v5")
    assert row["isPrimaryMeterRegion"] is True


def test_first_page_alone_has_no_usable_on_demand_row():
    rows = load("vm-D4s_v5-westeurope-page1.json")["Items"]
    assert {r["type"] for r in rows} == {"Consumption", "Reservation", "DevTestConsumption"}
    assert any("Windows" in r["productName"] for r in rows)
    assert cost.select_price_row(rows) is None


def test_spot_takes_the_linux_spot_row():
    rows = load("vm-D4s_v5-westeurope-page1.json")["Items"] + load("vm-D4s_v5-westeurope-page2.json")["Items"]
    row = cost.select_price_row(rows, spot=True)
    assert row is not None
    assert (row["skuName"], row["retailPrice"]) == ("D4s v5 Spot", 0.0475)
    assert "Windows" not in row["productName"]


def test_reservation_rows_are_never_chosen():
    rows = [r for r in load("vm-D2s_v5-westeurope.json")["Items"] if r["type"] == "Reservation"]
    assert rows and rows[0]["reservationTerm"] == "1 Year"
    assert cost.select_price_row(rows) is None
    assert cost.select_price_row(load("vm-D2s_v5-westeurope.json")["Items"])["retailPrice"] == 0.108


def test_meter_name_picks_the_included_rules_meter():
    rows = load("lb-global.json")["Items"]
    row = cost.select_price_row(rows, meter_name="Standard Included LB Rules and Outbound Rules")
    assert row is not None and row["retailPrice"] == 0.025 and row["armRegionName"] == "Global"


def test_newest_row_wins_among_equals():
    base = load("ip-westeurope.json")["Items"][0]
    old = {**base, "retailPrice": 0.004, "effectiveStartDate": "2020-01-01T00:00:00Z"}
    new = {**base, "retailPrice": 0.005, "effectiveStartDate": "2024-02-01T00:00:00Z"}
    assert cost.select_price_row([old, new], meter_name=base["meterName"])["retailPrice"] == 0.005
    assert cost.select_price_row([new, old], meter_name=base["meterName"])["retailPrice"] == 0.005


def test_fetch_errors_become_price_fetch_errors():
    def down(address: str) -> dict[str, Any]:
        raise urllib.error.URLError("no route to host")

    with pytest.raises(cost.PriceFetchError, match="URLError"):
        cost.fetch_rows(url(cost.PUBLIC_IP), down)
    with pytest.raises(cost.PriceFetchError, match="no Items"):
        cost.fetch_rows(url(cost.PUBLIC_IP), lambda address: {"error": "throttled"})


def test_next_page_link_must_stay_on_the_prices_host():
    page = {**EMPTY, "NextPageLink": "https://example.invalid/api/retail/prices?$skip=100"}
    with pytest.raises(cost.PriceFetchError, match="unexpected next page link"):
        cost.fetch_rows(url(cost.PUBLIC_IP), lambda address: page if "example" not in address else EMPTY)


def test_endless_paging_stops():
    looping = {**EMPTY, "NextPageLink": url(cost.PUBLIC_IP)}
    with pytest.raises(cost.PriceFetchError, match="pages"):
        cost.fetch_rows(url(cost.PUBLIC_IP), lambda address: looping)


# ---- live estimate from recorded answers ----


# The recorded API answers hold D2s_v5 and P10, so the live tests name that system pool.
OLD_SYSTEM = {"systemPool": {"vmSize": "Standard_D2s_v5", "osDiskSizeGb": 128}}


def acr_storage_page() -> dict[str, Any]:
    """Constructed for these tests, not recorded: one row in the API's shape for ACR storage
    beyond the included amount, at the noted list price of $0.10 per GiB-month."""
    row = {"currencyCode": "USD", "tierMinimumUnits": 0.0, "retailPrice": 0.1, "unitPrice": 0.1,
           "armRegionName": "westeurope", "meterName": "Data Stored", "productName": "Container Registry",
           "skuName": "Standard", "serviceName": "Container Registry", "unitOfMeasure": "1 GB/Month",
           "type": "Consumption", "isPrimaryMeterRegion": True, "armSkuName": ""}
    return {"Items": [row], "NextPageLink": None, "Count": 1}


def test_live_estimate_of_the_default_binderhub_stack():
    api = RecordedApi()
    api.pages[url(cost.ACR_STORAGE)] = acr_storage_page()
    doc = cost.estimate(config(cluster=OLD_SYSTEM), fetch=api)
    assert set(doc) == DOC_KEYS
    assert all(set(item) == ITEM_KEYS for item in doc["items"])
    assert doc["offline"] is False and not doc["excludesUnknown"] and doc["unknownItems"] == []
    assert doc["priceSource"].startswith("Azure Retail Prices API") and "westeurope" in doc["priceSource"]
    assert doc["pricesRegion"] == "westeurope"
    assert doc["priceDate"] == datetime.datetime.now(datetime.UTC).date().isoformat()
    assert doc["currency"] == "USD" and doc["hoursPerMonth"] == 730

    system = by_name(doc, "System nodes (Standard_D2s_v5)")
    assert system["unitPrice"] == 0.108 and system["idleMonthly"] == round(0.108 * 730, 2)
    users = by_name(doc, "User nodes (Standard_D4s_v5)")
    assert (users["idleQuantity"], users["quantity"], users["unitPrice"]) == (0, 3, 0.216)
    assert users["idleMonthly"] == 0 and users["busyMonthly"] == round(3 * 0.216 * 730, 2)
    assert users["source"] == "Azure Retail Prices API: D4s v5 (Virtual Machines Dsv5 Series), westeurope"
    # The load balancer is found under Global after the region's empty answer.
    lb = by_name(doc, "Load balancer")
    assert lb["unitPrice"] == 0.025 and lb["source"].endswith("Global")
    assert url(cost.LOAD_BALANCER) in api.requested and url(cost.LOAD_BALANCER, "Global") in api.requested
    acr = by_name(doc, "Container registry (ACR Basic)")
    assert (acr["unit"], acr["idleMonthly"]) == ("day", round(0.1666 * 730 / 24, 2))
    assert by_name(doc, "Hub database disk")["unitPrice"] == 0.33
    assert by_name(doc, "OS disks, user nodes (128 GiB Premium SSD P10 each)")["busyMonthly"] == round(3 * 21.68, 2)
    assert by_name(doc, "AKS control plane (Free tier)")["idleMonthly"] == 0

    idle = sum(item["idleMonthly"] for item in doc["items"])
    busy = sum(item["busyMonthly"] for item in doc["items"])
    assert doc["idleMonthly"] == round(idle, 2) and doc["busyMonthly"] == round(busy, 2)
    assert doc["busyMonthly"] > doc["idleMonthly"] > 0
    # One request per distinct query: the two P10 lines share one.
    assert len(api.requested) == len(set(api.requested))
    assert doc["suggestedBudget"] >= doc["busyMonthly"] and doc["suggestedBudget"] % 10 == 0
    assert doc["usersPerNode"] == 5 and doc["costPerUserHour"] == round(0.216 / 5, 4)
    # Both public IPs (the ingress's and AKS's outbound one) at the recorded IP price.
    assert by_name(doc, "Public IPv4 address for AKS outbound")["unitPrice"] == \
        by_name(doc, "Public IPv4 address (Standard")["unitPrice"]


def test_live_spot_and_on_demand():
    on_demand = cost.estimate(config(cluster=OLD_SYSTEM), fetch=RecordedApi())
    spot = cost.estimate(config(cluster={**OLD_SYSTEM, "userPool": {"spot": True}}), fetch=RecordedApi())
    assert by_name(on_demand, "User nodes")["unitPrice"] == 0.216
    item = by_name(spot, "User nodes (Standard_D4s_v5, spot)")
    assert item["unitPrice"] == 0.0475 and "D4s v5 Spot" in item["source"]
    assert spot["costPerUserHour"] < on_demand["costPerUserHour"]


def test_live_price_missing_from_the_api_is_unknown_not_guessed():
    doc = cost.estimate(config(cluster={**OLD_SYSTEM, "userPool": {"vmSize": "Standard_E4s_v5"}}),
                        fetch=RecordedApi())
    users = by_name(doc, "User nodes (Standard_E4s_v5)")
    assert users["unitPrice"] is None and users["source"] == cost.NO_LIVE_ROW
    assert doc["excludesUnknown"] and users["name"] in doc["unknownItems"]
    assert doc["suggestedBudget"] is None


def test_network_error_falls_back_to_the_offline_table():
    def down(address: str) -> dict[str, Any]:
        raise TimeoutError("timed out")

    doc = cost.estimate(config(), fetch=down)
    table = cost.load_price_table()
    assert doc["offline"] is True
    assert doc["priceSource"] == table["source"] and doc["priceDate"] == table["date"]
    assert any("could not be reached" in note and "TimeoutError" in note for note in doc["notes"])
    assert by_name(doc, "User nodes")["unitPrice"] == 0.192
    assert by_name(doc, "User nodes")["source"].startswith("offline table")


# ---- the offline table ----


def test_offline_table_says_where_its_prices_come_from():
    table = cost.load_price_table()
    assert "Regions differ by a few to ~20%" in table["source"] and "not fetched" in table["source"]
    datetime.date.fromisoformat(table["date"])
    assert table["currency"] == "USD" and table["referenceRegion"] == "eastus"
    assert table["referenceRegion"] in table["regions"]
    for source in table["sources"].values():
        datetime.date.fromisoformat(source["date"])
        assert source["text"]
    for region in table["regions"].values():
        for key, entry in region["prices"].items():
            assert entry["unit"] in cost.UNITS_PER_MONTH, key
            assert isinstance(entry["unitPrice"], (int, float)) and entry["unitPrice"] >= 0, key
            # Every figure names its source (and so its date); derived ones say how.
            assert entry["ref"] in table["sources"], key
            assert entry["ref"] != "derived-2026-11-29" or entry.get("basis"), key


def test_offline_never_fetches_and_shows_the_reference_region():
    doc = cost.estimate(config(), offline=True, fetch=no_network)
    assert doc["offline"] is True and doc["pricesRegion"] == "eastus" and doc["region"] == "westeurope"
    system = by_name(doc, "System nodes (Standard_D2as_v5)")
    assert system["unitPrice"] == 0.086 and system["idleMonthly"] == round(0.086 * 730, 2)
    assert system["source"].startswith("offline table (eastus; Azure pricing pages")
    users = by_name(doc, "User nodes (Standard_D4s_v5)")
    assert users["unitPrice"] == 0.192 and users["busyMonthly"] == round(3 * 0.192 * 730, 2)
    assert any("no westeurope prices: these are its reference region's, eastus" in note for note in doc["notes"])
    assert "indicative eastus list prices (none for westeurope)" in cost.summary(doc)


def test_usage_billed_services_are_noted_with_their_table_price():
    notes = cost.estimate(config(), offline=True)["notes"]
    (note,) = [n for n in notes if n.startswith("Billed by use")]
    assert "keyvault $0.03 per 10,000 operations" in note and "blob-hot-lrs $0.02 per GiB-month" in note
    assert "acr-storage" not in note  # billed as its own line item (registry.expectedStorageGi)
    doc = cost.estimate(config(**{"binderhub-azure:registry": {"type": "acr", "expectedStorageGi": 30}}), offline=True)
    item = next(i for i in doc["items"] if i["name"].startswith("Registry storage beyond the 10 GiB"))
    assert item["unitPrice"] == 0.10 and item["idleMonthly"] == round(20 * 0.10, 2)


def test_a_region_in_the_table_is_used_as_such():
    doc = cost.estimate(config(**{"azure-native:location": "eastus"}), offline=True)
    assert doc["pricesRegion"] == "eastus"
    assert not any("reference region" in note for note in doc["notes"])


def test_unknown_offline_price_is_unknown_not_guessed():
    doc = cost.estimate(config(cluster={"userPool": {"vmSize": "Standard_E16s_v5"}}), offline=True)
    users = by_name(doc, "User nodes (Standard_E16s_v5)")
    assert users["unitPrice"] is None and users["source"] == "unknown, run with network"
    assert doc["excludesUnknown"] and users["name"] in doc["unknownItems"]
    assert any(note.startswith("Totals exclude") and users["name"] in note for note in doc["notes"])
    known = [item for item in doc["items"] if item["unitPrice"] is not None]
    assert doc["idleMonthly"] == round(sum(item["idleMonthly"] for item in known), 2)


def test_default_public_binder_idle_is_complete_and_at_most_100():
    """The default stack: one system node, user pool at zero, registry, load balancer, two IPs, disks."""
    doc = cost.estimate(config(), offline=True)
    assert doc["unknownItems"] == [] and not doc["excludesUnknown"]
    idle = {item["name"]: item["idleMonthly"] for item in doc["items"] if item["idleMonthly"]}
    assert idle == {
        "System nodes (Standard_D2as_v5)": 62.78,
        "OS disks, system nodes (32 GiB Premium SSD P4 each)": 5.28,
        "Load balancer (Standard, first 5 rules)": 18.25,
        "Public IPv4 address (Standard, static)": 3.65,
        "Public IPv4 address for AKS outbound traffic (Standard, static)": 3.65,
        "Container registry (ACR Basic)": 5.08,
        "Hub database disk (1 GiB, billed as Standard SSD E1 4 GiB)": 0.30,
    }
    assert doc["idleMonthly"] == 98.99 <= 100
    assert not doc["pools"][0]["vmSize"].startswith("Standard_B")  # no burstable system node


@pytest.mark.parametrize("example", sorted((ROOT / "examples").glob("Pulumi.*.yaml")), ids=lambda p: p.stem)
def test_examples_have_no_unknown_item_offline(example):
    from tools.stackfile import read_stack_file

    raw, secret = read_stack_file(example)
    for name in ("authClientSecret", "dockerHubToken"):
        raw.setdefault(f"binderhub-azure:{name}", "[secret]")
        secret = secret | {f"binderhub-azure:{name}"}
    doc = cost.estimate(parse_config(raw, secret), offline=True)
    assert doc["unknownItems"] == []


def test_ephemeral_system_os_disk_is_free():
    doc = cost.estimate(config(cluster={"systemPool": {"vmSize": "Standard_D2ads_v5", "osDiskSizeGb": 64,
                                                       "osDiskType": "Ephemeral"}}), offline=True)
    disk = by_name(doc, "OS disks, system nodes (ephemeral")
    assert disk["unitPrice"] == 0 and disk["idleMonthly"] == 0
    assert by_name(doc, "System nodes (Standard_D2ads_v5)")["unitPrice"] is None  # no sourced price offline


def test_offline_spot_and_on_demand():
    spot = cost.estimate(config(cluster={"userPool": {"spot": True}}), offline=True)
    on_demand = cost.estimate(config(), offline=True)
    assert by_name(spot, "User nodes")["unitPrice"] == 0.05
    assert by_name(on_demand, "User nodes")["unitPrice"] == 0.192
    # Spot pools do not host the build daemon, so a node holds more users.
    assert spot["userNode"]["systemOverheadGiB"] < on_demand["userNode"]["systemOverheadGiB"]


def test_offline_spot_price_is_not_borrowed_from_another_size():
    doc = cost.estimate(config(cluster={"userPool": {"vmSize": "Standard_D2s_v3", "spot": True}}), offline=True)
    assert by_name(doc, "User nodes")["unitPrice"] is None


# ---- what the stack pays for ----


def test_no_registry_for_docker_hub():
    cfg = config(registry={"type": "dockerhub", "username": "testuni"}, secrets={"dockerHubToken": "t0ken"})
    names = [item["name"] for item in cost.estimate(cfg, offline=True)["items"]]
    assert not any("registry" in name.lower() for name in names)


def test_no_registry_in_jupyterhub_mode():
    cfg = config(mode="jupyterhub", **GITHUB)
    doc = cost.estimate(cfg, offline=True)
    assert not any("registry" in item["name"].lower() for item in doc["items"])
    assert doc["userNode"]["systemOverheadGiB"] == pytest.approx(4 + 100 / 1024 + 0.5, abs=0.01)  # no build daemon


@pytest.mark.parametrize(("sku", "per_day"), [("Basic", 0.167), ("Standard", 0.667), ("Premium", 1.667)])
def test_registry_sku_is_priced_per_day(sku, per_day):
    item = by_name(cost.estimate(config(registry={"type": "acr", "sku": sku}), offline=True),
                   f"Container registry (ACR {sku})")
    assert (item["unit"], item["unitPrice"]) == ("day", per_day)
    assert item["idleMonthly"] == round(per_day * 730 / 24, 2)


def test_standard_tier_control_plane():
    standard = cost.estimate(config(cluster={"tier": "Standard"}), offline=True)
    item = by_name(standard, "AKS control plane (Standard tier)")
    assert item["unitPrice"] == 0.10 and item["idleMonthly"] == 73.0
    live = cost.estimate(config(cluster={"tier": "Standard"}), fetch=RecordedApi())
    assert by_name(live, "AKS control plane (Standard tier)")["source"].endswith("Standard Uptime SLA "
                                                                                 "(Azure Kubernetes Service), "
                                                                                 "westeurope")
    free = by_name(cost.estimate(config(), offline=True), "AKS control plane (Free tier)")
    assert free["unitPrice"] == 0 and free["idleMonthly"] == 0 and free["busyMonthly"] == 0


def test_unknown_vm_size_is_unknown_not_guessed():
    doc = cost.estimate(config(cluster={"userPool": {"vmSize": "Standard_D96s_v5"}}), offline=True)
    users = by_name(doc, "User nodes (Standard_D96s_v5)")
    assert users["unitPrice"] is None and users["source"] == cost.UNKNOWN
    disks = by_name(doc, "OS disks, user nodes")
    assert disks["unitPrice"] is None and "not in the size table" in disks["source"]
    assert doc["usersPerNode"] == "unknown" and doc["costPerUserHour"] is None
    assert "memoryGiB" not in doc["userNode"]


def test_os_disk_tier_follows_vcpus():
    doc = cost.estimate(config(cluster={"userPool": {"vmSize": "Standard_D16s_v5"}}), offline=True)
    disks = by_name(doc, "OS disks, user nodes (512 GiB Premium SSD P20 each)")
    assert disks["unitPrice"] == 73.22
    assert cost.aks_os_disk("Standard_D2s_v5") == ("P10", 128)
    assert cost.aks_os_disk("Standard_D8s_v5") == ("P15", 256)
    assert cost.aks_os_disk("Standard_E16s_v5") == ("P20", 512)
    assert cost.aks_os_disk("Standard_D96s_v5") is None


def test_gpu_pool_and_monitoring_add_their_items():
    doc = cost.estimate(config(cluster={"gpuPool": {"minCount": 0, "maxCount": 2}, **CORE_WITH_MONITORING},
                               monitoring={"enabled": True}),
                        offline=True)
    gpu = by_name(doc, "GPU nodes (Standard_NC4as_T4_v3)")
    assert (gpu["idleQuantity"], gpu["quantity"], gpu["unitPrice"]) == (0, 2, 0.526)
    assert [pool["pool"] for pool in doc["pools"]] == ["system", "user", "gpu"]
    assert doc["pools"][2]["nodeHourPrice"] == round(0.526 + 19.71 / 730, 6)
    assert by_name(doc, "OS disks, GPU nodes")["quantity"] == 2
    assert by_name(doc, "Prometheus disk (8 GiB Standard SSD E2)")["unit"] == "month"


def test_placeholders_keep_user_nodes_running():
    doc = cost.estimate(config(speed={"placeholders": 6}), offline=True)
    users = by_name(doc, "User nodes")
    assert doc["usersPerNode"] == 5 and users["idleQuantity"] == 2  # 6 placeholders need 2 nodes of 5
    assert users["idleMonthly"] == round(2 * 0.192 * 730, 2)
    assert by_name(doc, "OS disks, user nodes")["idleQuantity"] == 2


def test_tljh_is_one_vm_running_all_the_time():
    cfg = config(mode="tljh", auth={"type": "github", "clientId": "gh", "allowedUsers": ["alice"], "admins": ["alice"]},
                 vm={"sshPublicKey": TEST_SSH_KEY,
                     "diskSizeGb": 256},
                 secrets={"authClientSecret": "s3cret"})
    doc = cost.estimate(cfg, offline=True)
    names = [item["name"] for item in doc["items"]]
    assert names == ["VM (Standard_D4s_v5)", "OS disk (64 GiB Premium SSD P6)",
                     "/home data disk (256 GiB, billed as Standard SSD E15 256 GiB)",
                     "Public IPv4 address (Standard, static)"]
    assert doc["idleMonthly"] == doc["busyMonthly"]
    assert doc["usersPerNode"] == 7  # (16 GiB - 1 GiB) / 2 GiB
    assert doc["costPerUserHour"] == round(0.192 / 7, 4)


# ---- users per node ----


@pytest.mark.parametrize(("text", "gib"), [("2G", 2.0), ("512M", 0.5), ("1.5G", 1.5), ("1T", 1024.0),
                                           ("1048576K", 1.0)])
def test_parse_memory(text, gib):
    assert cost.parse_memory_gib(text) == pytest.approx(gib)


def test_parse_memory_rejects_other_units():
    with pytest.raises(ValueError, match="2Gi"):
        cost.parse_memory_gib("2Gi")


def test_node_overhead_and_users_per_node():
    # 16 GiB: kube-reserved is 25 % (4 GiB), less than 20 MiB x 250 + 50 MiB.
    overhead = cost.aks_node_overhead_gib(16, build_node=True)
    assert overhead == pytest.approx(4 + 100 / 1024 + 0.5 + 1)
    assert cost.users_per_node(16, overhead, 2) == 5
    # 64 GiB: kube-reserved is 5050 MiB, less than 25 %.
    overhead = cost.aks_node_overhead_gib(64, build_node=False)
    assert overhead == pytest.approx(5050 / 1024 + 100 / 1024 + 0.5)
    assert cost.users_per_node(64, overhead, 4) == 14
    assert cost.users_per_node(8, 7.5, 1) == 0
    assert cost.users_per_node(10, 2, 2) == 4  # exact fits count


def test_users_per_node_in_the_document():
    doc = cost.estimate(config(cluster={"userPool": {"vmSize": "Standard_E8s_v5"}}, limits={"memory": "4G"}),
                        offline=True)
    assert doc["usersPerNode"] == 14  # (64 - 5050/1024 - 100/1024 - 0.5 - 1) / 4 = 14.4
    assert doc["userNode"] == {"vmSize": "Standard_E8s_v5", "spot": False, "memoryPerUserGiB": 4.0, "vcpus": 8,
                               "memoryGiB": 64, "systemOverheadGiB": 6.53}
    assert doc["costPerUserHour"] == round(0.504 / 14, 4)


def test_disk_tiers():
    assert cost.disk_tier("E", 1) == ("E1", 4)
    assert cost.disk_tier("E", 8) == ("E2", 8)
    assert cost.disk_tier("P", 128) == ("P10", 128)
    assert cost.disk_tier("P", 129) == ("P15", 256)
    assert cost.disk_tier("E", 32767) == ("E80", 32767)


# ---- text ----


def test_summary_has_totals_exclusions_and_capacity():
    text = cost.summary(cost.estimate(config(), offline=True))
    lines = text.splitlines()
    assert 3 <= len(lines) <= 5
    assert lines[0].startswith("Cost estimate (USD, list pay-as-you-go): idle $")
    assert "excludes" not in lines[0] and "idle $98.99" in lines[0]
    assert "Users per node: 5" in text and "per user-hour" in text
    assert "indicative eastus list prices" in text
    unknown = cost.summary(cost.estimate(config(cluster={"userPool": {"vmSize": "Standard_E16s_v5"}}), offline=True))
    assert "excludes 1 item(s) of unknown price" in unknown and "User nodes (Standard_E16s_v5)" in unknown


def test_table_lists_every_item():
    doc = cost.estimate(config(), offline=True)
    text = cost.render_table(doc, "title")
    for item in doc["items"]:
        assert item["name"] in text
    assert "unknown, run with network" not in text and "excludes unknown" not in text
    assert "free" in text  # the Free tier control plane
    doc = cost.estimate(config(cluster={"userPool": {"vmSize": "Standard_E16s_v5"}}), offline=True)
    text = cost.render_table(doc, "title")
    assert "unknown, run with network" in text and "Total (excludes unknown items)" in text


# ---- the command ----


def write_stack(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "Pulumi.trial.yaml"
    path.write_text(text)
    return path


GOOD_STACK = """config:
  azure-native:location: westeurope
  binderhub-azure:institution: trial
  binderhub-azure:contactEmail: rse@trial.example
  binderhub-azure:cluster:
    userPool:
      vmSize: Standard_D4s_v5
      spot: true
      maxCount: 4
"""


def test_cli_json_offline(tmp_path, capsys):
    path = write_stack(tmp_path, GOOD_STACK)
    assert cost.main(["--config-file", str(path), "--json", "--offline"]) == 0
    out = capsys.readouterr()
    doc = json.loads(out.out)
    assert set(doc) == DOC_KEYS | {"missingSecrets"} and out.err == ""
    assert all(set(item) == ITEM_KEYS for item in doc["items"])
    assert doc["offline"] is True
    assert by_name(doc, "User nodes (Standard_D4s_v5, spot)")["quantity"] == 4


def test_cli_table(tmp_path, capsys):
    path = write_stack(tmp_path, GOOD_STACK)
    assert cost.main(["--config-file", str(path), "--offline"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Monthly cost estimate of stack 'trial' (binderhub, westeurope)")
    assert "Users per node:" in out and "Prices:" in out


BAD_STACKS = [
    (GOOD_STACK.replace("maxCount: 4", "maxCount: 0"), "binderhub-azure:cluster.userPool.maxCount must be >= 1"),
    (GOOD_STACK.replace("vmSize: Standard_D4s_v5", "vmSize: d4s"), "binderhub-azure:cluster.userPool.vmSize"),
    ("config:\n  binderhub-azure:institution: trial\n", "azure-native:location is required"),
    ("config: [\n", "not valid YAML"),
]


@pytest.mark.parametrize(("text", "message"), BAD_STACKS)
def test_cli_bad_config_exits_2_naming_the_key(tmp_path, capsys, text, message):
    path = write_stack(tmp_path, text)
    assert cost.main(["--config-file", str(path), "--offline"]) == 2
    out = capsys.readouterr()
    assert out.out == ""
    assert message in out.err and "Traceback" not in out.err
    assert all(line.strip() for line in out.err.strip().splitlines())


def test_cli_missing_stack_exits_2(capsys):
    assert cost.main(["--stack", "no-such-stack-here", "--offline"]) == 2
    assert "no such stack file" in capsys.readouterr().err


def test_module_runs_as_a_command():
    proc = subprocess.run([sys.executable, "-m", "tools.cost", "--stack", "dev", "--json", "--offline"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert set(doc) == DOC_KEYS | {"missingSecrets"} and doc["offline"] is True and proc.stderr == ""


def test_cost_needs_no_secrets(tmp_path, capsys):
    """An estimate comes before the OAuth app exists: missing secrets do not stop it."""
    from tools.cost import main as cost_main

    path = tmp_path / "Pulumi.hub.yaml"
    path.write_text(
        "config:\n  azure-native:location: westeurope\n  binderhub-azure:institution: hubuni\n"
        "  binderhub-azure:contactEmail: a@b.example\n  binderhub-azure:mode: jupyterhub\n"
        "  binderhub-azure:auth:\n    type: github\n    clientId: abc\n    allowedUsers: [alice]\n"
    )
    assert cost_main(["--config-file", str(path), "--offline", "--json"]) == 0
    assert '"currency": "USD"' in capsys.readouterr().out
