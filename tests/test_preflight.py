"""The subscription pre-flight check (`tools/preflight.py`), offline.

No Azure account is involved: the responses in tests/data/azure are crafted in the documented
REST shapes (see its README). The pure checks read them directly; the CLI gets fake clients
that return the SDK's own model objects built from them; and one path runs the real SDK
clients over a fake HTTP adapter that serves the same files, so the SDK's URLs, paging and
error mapping are exercised too.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import urllib3
import yaml
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.core.pipeline.transport import RequestsTransport
from azure.identity import CredentialUnavailableError, EnvironmentCredential
from azure.mgmt.compute.models import ResourceSku
from azure.mgmt.compute.models import Usage as SdkUsage
from azure.mgmt.resource.resources.models import Provider

from components import aks_versions
from components.config_load import parse_config
from tests.helpers import TEST_SSH_KEY, raw_config
from tools import preflight
from tools.preflight import Check, Clients, Pool
from tools.preflight_checks import RunningCluster

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data" / "azure"
SUB = "11111111-2222-3333-4444-555555555555"
LOCATION = "westeurope"
BASE = {"azure-native:location": LOCATION, "binderhub-azure:institution": "testuni",
        "binderhub-azure:contactEmail": "rse@testuni.example"}


def load(name: str) -> dict[str, Any]:
    return json.loads((DATA / f"{name}.json").read_text())


def providers_doc(**states: str) -> dict[str, Any]:
    """The recorded provider list with every provider Registered, then `states` applied
    (keys are namespaces with '.' written as '_')."""
    doc = load("providers")
    for item in doc["value"]:
        item["registrationState"] = states.get(item["namespace"].replace(".", "_"), "Registered")
    return doc


def cfg_of(**keys: Any):
    # The recorded SKU list holds Standard_D2s_v5, not the default system size (D2as_v5).
    if keys.get("mode") != "tljh":
        cluster = dict(keys.get("cluster") or {})
        cluster["systemPool"] = {"vmSize": "Standard_D2s_v5", **cluster.get("systemPool", {})}
        keys = {**keys, "cluster": cluster}
    raw, secret = raw_config(**keys)
    return parse_config(raw, secret)


SKUS = preflight.index_skus(preflight.parse_sku(item) for item in load("resource_skus_westeurope")["value"])
PAYG = [preflight.parse_usage(item) for item in load("usages_westeurope")["value"]]
TRIAL = [preflight.parse_usage(item) for item in load("usages_westeurope_free_trial")["value"]]


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


# --------------------------------------------------------------------------- what the stack needs


def test_required_providers_follow_the_mode():
    assert preflight.required_providers(cfg_of()) == [
        "Microsoft.ContainerService", "Microsoft.ContainerRegistry", "Microsoft.Network", "Microsoft.Compute",
        "Microsoft.Storage", "Microsoft.Authorization", "Microsoft.ManagedIdentity"]
    hub = preflight.required_providers(cfg_of(mode="jupyterhub", auth={"type": "github", "clientId": "x",
                                                                      "allowedUsers": ["alice"]},
                                              secrets={"authClientSecret": "s"}))
    assert "Microsoft.ContainerRegistry" not in hub and "Microsoft.ContainerService" in hub
    docker = preflight.required_providers(cfg_of(registry={"type": "dockerhub", "username": "testuni"},
                                                 secrets={"dockerHubToken": "t"}))
    assert "Microsoft.ContainerRegistry" not in docker
    budget = cfg_of(budget={"monthlyAmount": 300, "contactEmails": ["rse@testuni.example"]})
    assert preflight.required_providers(budget)[-1] == "Microsoft.Consumption"


def test_pools_at_their_maximum():
    cfg = cfg_of(cluster={"systemPool": {"nodeCount": 2}, "userPool": {"vmSize": "Standard_E4s_v5", "minCount": 1,
                                                                      "maxCount": 5, "spot": True},
                          "gpuPool": {"maxCount": 2}})
    assert preflight.pools_of(cfg) == [Pool("system", "Standard_D2s_v5", 2),
                                       Pool("user", "Standard_E4s_v5", 5, spot=True),
                                       Pool("gpu", "Standard_NC4as_T4_v3", 2),
                                       # A spot user pool brings the on-demand build pool (from zero).
                                       Pool("build", "Standard_D4s_v5", 1)]


# --------------------------------------------------------------------------- reading the responses


def test_sku_list_keeps_vm_sizes_only_with_vcpus_and_family():
    assert "premium_lrs" not in SKUS and "aligned" not in SKUS
    d4 = SKUS["standard_d4s_v5"]
    assert (d4.vcpus, d4.family, d4.low_priority_capable, d4.restrictions) == (4, "standardDSv5Family", True, ())
    e4 = SKUS["standard_e4s_v5"].restrictions[0]
    assert (e4.type, e4.reason_code, e4.locations) == ("Location", "NotAvailableForSubscription", ("westeurope",))


def test_sdk_models_read_like_the_json():
    """What the clients return (the SDK's models) parses as the recorded JSON does."""
    for item in load("resource_skus_westeurope")["value"]:
        assert preflight.parse_sku(ResourceSku(item)) == preflight.parse_sku(item)
    for item in load("usages_westeurope")["value"]:
        assert preflight.parse_usage(SdkUsage(item)) == preflight.parse_usage(item)
    for item in load("providers")["value"]:
        assert preflight.parse_provider(Provider(item)) == preflight.parse_provider(item)


# --------------------------------------------------------------------------- the checks


def test_providers_not_registered_say_how_to_register():
    providers = [preflight.parse_provider(p) for p in load("providers")["value"]]
    checks = by_name(preflight.check_providers(providers, preflight.required_providers(cfg_of())))
    bad = checks.pop("provider Microsoft.ContainerService")
    assert not bad.ok
    assert bad.detail.startswith("NotRegistered")
    assert "az provider register --namespace Microsoft.ContainerService" in bad.detail
    assert all(c.ok for c in checks.values()) and len(checks) == 6


def test_provider_missing_from_the_list_or_registering():
    providers = [preflight.ProviderState("microsoft.network", "Registered"),
                 preflight.ProviderState("Microsoft.Storage", "Registering")]
    checks = by_name(preflight.check_providers(providers, ["Microsoft.Network", "Microsoft.Storage", "Microsoft.Foo"]))
    assert checks["provider Microsoft.Network"].ok  # namespaces compare case-insensitively
    assert "wait a few minutes" in checks["provider Microsoft.Storage"].detail
    assert "not offered to this subscription" in checks["provider Microsoft.Foo"].detail


def test_vm_size_ok_reports_vcpus_and_family():
    check = preflight.check_vm_size(Pool("user", "Standard_D4s_v5", 3), SKUS, LOCATION)
    assert check == Check("vm size user", True, "Standard_D4s_v5: 4 vCPUs, family standardDSv5Family; up to 3 nodes")


@pytest.mark.parametrize(("size", "expected"), [
    ("Standard_E4s_v5", "restricted for this subscription (reasonCode NotAvailableForSubscription)"),
    ("Standard_NV6ads_A10_v5", "not available to this subscription's offer type (reasonCode QuotaId"),
    ("Standard_NC24ads_A100_v4", "is not offered in westeurope"),
])
def test_vm_size_restricted_or_missing(size, expected):
    check = preflight.check_vm_size(Pool("gpu", size, 1), SKUS, LOCATION)
    assert not check.ok
    assert expected in check.detail
    assert "az vm list-skus --location westeurope" in check.detail
    # Azure would refuse the pool for certain: `pulumi up` stops before creating anything.
    assert check.stops_up


def test_a_size_the_region_does_not_offer_stops_pulumi_up(monkeypatch):
    """A size vm_sizes.json does not know (a note offline) that the region does not offer either."""
    import pulumi

    monkeypatch.setattr(preflight, "should_run_in_pulumi_up", lambda: True)
    monkeypatch.setattr(preflight, "build_clients", lambda sub: fake_clients())
    cfg = cfg_of(cluster={"userPool": {"vmSize": "Standard_D4s_v9"}})
    with pytest.raises(pulumi.RunError) as err:
        preflight.check_during_pulumi(cfg, {"azure-native:subscriptionId": SUB}, lambda line: None)
    assert "vm size user: Standard_D4s_v9 is not offered in westeurope" in str(err.value)


def test_zone_restrictions_and_other_regions_do_not_block():
    assert preflight.check_vm_size(Pool("gpu", "Standard_NC4as_T4_v3", 1), SKUS, LOCATION).ok
    assert preflight.check_vm_size(Pool("user", "standard_f2s_v2", 1), SKUS, LOCATION).ok


def test_spot_pool_needs_a_low_priority_capable_size():
    skus = dict(SKUS)
    skus["standard_d4s_v5"] = preflight.VmSku("Standard_D4s_v5", "standardDSv5Family", 4, False, ())
    check = preflight.check_vm_size(Pool("user", "Standard_D4s_v5", 3, spot=True), skus, LOCATION)
    assert not check.ok and "cannot run as Spot" in check.detail


def test_quotas_cover_the_default_stack():
    checks = by_name(preflight.check_quotas(preflight.pools_of(cfg_of()), SKUS, PAYG, LOCATION, SUB))
    assert set(checks) == {"quota cores", "quota standardDSv5Family"}
    assert checks["quota cores"] == Check(
        "quota cores", True, "regional vCPUs: 14 vCPUs needed, 92 free (limit 100 - 8 in use)")
    assert checks["quota standardDSv5Family"].ok


def test_free_trial_shortfall_prints_the_numbers_and_how_to_ask():
    checks = by_name(preflight.check_quotas(preflight.pools_of(cfg_of()), SKUS, TRIAL, LOCATION, SUB))
    cores = checks["quota cores"]
    assert not cores.ok
    lines = cores.detail.split("\n")
    assert lines[0] == "regional vCPUs: 14 vCPUs needed, 4 free (limit 4 - 0 in use), short by 10"
    assert lines[1] == "needed: system 1 x Standard_D2s_v5 (2) + user 3 x Standard_D4s_v5 (4) = 14"
    assert lines[2].startswith("fix: az quota update")
    assert "Quotas page" in lines[3] and "Help + support" in lines[3]
    assert (f"az quota update --resource-name cores --scope /subscriptions/{SUB}/providers/Microsoft.Compute/"
            "locations/westeurope --limit-object value=14 --resource-type dedicated") in cores.detail
    assert "Free Trial subscriptions are limited to 4 vCPUs" in cores.detail
    family = checks["quota standardDSv5Family"]
    assert not family.ok and "14 vCPUs needed, 4 free" in family.detail


def test_current_usage_is_subtracted():
    usages = [preflight.Usage("cores", 90, 100), preflight.Usage("standardDSv5Family", 0, 100)]
    checks = by_name(preflight.check_quotas(preflight.pools_of(cfg_of()), SKUS, usages, LOCATION, SUB))
    assert checks["quota cores"].detail.startswith(
        "regional vCPUs: 14 vCPUs needed, 10 free (limit 100 - 90 in use), short by 4")
    assert "--limit-object value=104" in checks["quota cores"].detail  # in use + needed
    assert checks["quota standardDSv5Family"].ok


def test_spot_pool_counts_against_low_priority_cores_only():
    cfg = cfg_of(cluster={"userPool": {"maxCount": 5, "spot": True}})
    checks = by_name(preflight.check_quotas(preflight.pools_of(cfg), SKUS, PAYG, LOCATION, SUB))
    # The system pool and the on-demand build pool that a spot user pool brings (2 + 4).
    assert checks["quota cores"].detail.startswith("regional vCPUs: 6 vCPUs needed")
    assert checks["quota standardDSv5Family"].detail.startswith("family vCPUs: 6 vCPUs needed")
    spot = checks["quota lowPriorityCores"]
    assert spot.detail.startswith("Spot vCPUs: 20 vCPUs needed, 20 free (limit 20 - 0 in use)")
    assert spot.ok


def test_spot_on_a_free_trial_fails_with_the_spot_command():
    cfg = cfg_of(cluster={"userPool": {"maxCount": 1, "spot": True}})
    checks = by_name(preflight.check_quotas(preflight.pools_of(cfg), SKUS, TRIAL, LOCATION, SUB))
    spot = checks["quota lowPriorityCores"]
    assert not spot.ok
    assert spot.detail.startswith("Spot vCPUs: 4 vCPUs needed, 0 free (limit 0 - 0 in use), short by 4")
    assert "--resource-name lowPriorityCores" in spot.detail and "--resource-type lowPriority" in spot.detail


def test_gpu_family_without_quota_and_missing_sizes():
    cfg = cfg_of(cluster={"gpuPool": {"maxCount": 2}})
    checks = by_name(preflight.check_quotas(preflight.pools_of(cfg), SKUS, PAYG, LOCATION, SUB))
    gpu = checks["quota standardNCASv3_T4Family"]
    assert not gpu.ok and gpu.detail.startswith("family vCPUs: 8 vCPUs needed, 0 free (limit 0 - 0 in use)")
    assert checks["quota cores"].detail.startswith("regional vCPUs: 22 vCPUs needed")

    missing = cfg_of(cluster={"gpuPool": {"vmSize": "Standard_NC24ads_A100_v4"}})
    checks = by_name(preflight.check_quotas(preflight.pools_of(missing), SKUS, PAYG, LOCATION, SUB))
    assert "not counted: Standard_NC24ads_A100_v4" in checks["quota cores"].detail

    restricted = cfg_of(cluster={"userPool": {"vmSize": "Standard_E4s_v5"}})
    checks = by_name(preflight.check_quotas(preflight.pools_of(restricted), SKUS, PAYG, LOCATION, SUB))
    assert "quota standardESv5Family" not in checks  # a size that cannot be used is not counted
    assert "not counted: Standard_E4s_v5" in checks["quota cores"].detail

    no_entry = cfg_of(cluster={"userPool": {"vmSize": "Standard_F2s_v2"}})
    checks = by_name(preflight.check_quotas(preflight.pools_of(no_entry), SKUS, TRIAL[:2], LOCATION, SUB))
    assert not checks["quota standardFSv2Family"].ok
    assert "lists no such quota" in checks["quota standardFSv2Family"].detail


def test_tljh_checks_its_one_vm():
    cfg = cfg_of(mode="tljh", vm={"size": "Standard_D4s_v5", "sshPublicKey": TEST_SSH_KEY},
                 auth={"type": "github", "clientId": "x", "admins": ["alice"], "allowedUsers": ["alice"]},
                 secrets={"authClientSecret": "s"})
    assert preflight.pools_of(cfg) == [Pool("vm", "Standard_D4s_v5", 1)]
    assert "Microsoft.KeyVault" in preflight.required_providers(cfg)
    assert "Microsoft.ContainerService" not in preflight.required_providers(cfg)


# --------------------------------------------------------------------------- subscription and credentials


def test_subscription_order():
    env = {"AZURE_SUBSCRIPTION_ID": "env-azure", "ARM_SUBSCRIPTION_ID": "env-arm"}
    raw = {"azure-native:subscriptionId": "from-stack"}

    def az() -> str:
        return "from-az"

    assert preflight.resolve_subscription("opt", raw, environ=env, az=az) == ("opt", "from --subscription")
    assert preflight.resolve_subscription(None, raw, environ=env, az=az) == ("env-azure", "from AZURE_SUBSCRIPTION_ID")
    assert preflight.resolve_subscription(None, raw, environ={"ARM_SUBSCRIPTION_ID": "env-arm"}, az=az)[0] == "env-arm"
    assert preflight.resolve_subscription(None, raw, environ={}, az=az)[0] == "from-stack"
    assert preflight.resolve_subscription(None, {}, environ={}, az=az) == ("from-az", "from az account show")
    assert preflight.resolve_subscription(None, {"azure-native:subscriptionId": "[secret]"}, environ={},
                                          az=az)[0] == "from-az"
    assert preflight.resolve_subscription(None, {}, environ={}, az=lambda: None) is None


def test_should_run_in_pulumi_up(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert not preflight.should_run_in_pulumi_up({"AZURE_CONFIG_DIR": str(empty)})
    sp = {"AZURE_CONFIG_DIR": str(empty), "AZURE_CLIENT_ID": "c", "AZURE_TENANT_ID": "t", "AZURE_CLIENT_SECRET": "s"}
    assert preflight.should_run_in_pulumi_up(sp)
    assert not preflight.should_run_in_pulumi_up({**sp, "BINDERHUB_AZURE_SKIP_PREFLIGHT": "1"})
    assert not preflight.should_run_in_pulumi_up({"AZURE_CONFIG_DIR": str(empty), "AZURE_CLIENT_ID": "c"})

    logged_in = tmp_path / "azure"
    logged_in.mkdir()
    # As the CLI writes it after `az login`: with a byte order mark; after `az logout` the list is empty.
    (logged_in / "azureProfile.json").write_text(
        json.dumps({"installationId": "x", "subscriptions": [{"id": SUB, "isDefault": True}]}), encoding="utf-8-sig")
    assert preflight.should_run_in_pulumi_up({"AZURE_CONFIG_DIR": str(logged_in)})
    (logged_in / "azureProfile.json").write_text(json.dumps({"subscriptions": []}), encoding="utf-8-sig")
    assert not preflight.should_run_in_pulumi_up({"AZURE_CONFIG_DIR": str(logged_in)})


# --------------------------------------------------------------------------- the CLI with fake clients


class FakeList:
    """One list operation: returns SDK model objects, or raises."""

    def __init__(self, items: list[Any] | None = None, error: Exception | None = None):
        self.items = items or []
        self.error = error
        self.calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def list(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append((args, kwargs))
        if self.error is not None:
            raise self.error
        return iter(self.items)


class FakeAks:
    """The two AKS reads, answering from the recorded files."""

    def __init__(self, cluster: dict[str, Any] | None = None):
        self.cluster = cluster
        self.calls: list[tuple[str, ...]] = []

    def kubernetes_versions(self, location: str) -> dict[str, Any]:
        self.calls.append(("versions", location))
        return load("aks_kubernetes_versions_westeurope")  # the crafted list stands for every region

    def managed_cluster(self, resource_group: str, name: str) -> dict[str, Any] | None:
        self.calls.append(("cluster", resource_group, name))
        return self.cluster


def fake_clients(providers: dict[str, Any] | None = None, usages: str = "usages_westeurope",
                 error: Exception | None = None, cluster: dict[str, Any] | None = None) -> Clients:
    providers = providers if providers is not None else providers_doc()
    return Clients(
        SUB,
        SimpleNamespace(providers=FakeList([Provider(p) for p in providers["value"]], error)),
        SimpleNamespace(resource_skus=FakeList([ResourceSku(s) for s in load("resource_skus_westeurope")["value"]]),
                        usage=FakeList([SdkUsage(u) for u in load(usages)["value"]])),
        aks=FakeAks(cluster),
    )


def stack_file(tmp_path: Path, **config: Any) -> str:
    path = tmp_path / "Pulumi.test.yaml"
    # The recorded SKU list holds Standard_D2s_v5, not the default system size (D2as_v5).
    system = {"binderhub-azure:cluster": {"systemPool": {"vmSize": "Standard_D2s_v5"}}}
    path.write_text(yaml.safe_dump({"config": {**BASE, **system, **config}}))
    return str(path)


def test_cli_all_ok(tmp_path, capsys):
    clients = fake_clients()
    assert preflight.main(["--config-file", stack_file(tmp_path)], clients=clients) == 0
    out = capsys.readouterr().out
    assert f"subscription {SUB}" in out and "All 14 checks passed." in out
    assert "OK    kubernetes version" in out and "1.36 is offered in westeurope (newest patch 1.36.6)" in out
    assert "no cluster yet: pulumi up creates it at 1.36" in out
    assert clients.aks.calls == [("versions", "westeurope"), ("cluster", "rg-testuni-binderhub", "aks-testuni")]
    assert "FAIL" not in out
    for line in ("OK    subscription", "OK    provider Microsoft.ContainerRegistry", "OK    vm size system",
                 "OK    quota standardDSv5Family"):
        assert line in out
    assert clients.compute.resource_skus.calls == [((), {"filter": "location eq 'westeurope'"})]
    assert clients.compute.usage.calls == [(("westeurope",), {})]


def test_cli_free_trial_shortfall_exits_1_with_numbers(tmp_path, capsys):
    code = preflight.main(["--config-file", stack_file(tmp_path)], clients=fake_clients(
        providers_doc(Microsoft_ContainerService="NotRegistered"), usages="usages_westeurope_free_trial"))
    assert code == 1
    out = capsys.readouterr().out
    assert "FAIL  quota cores" in out and "14 vCPUs needed, 4 free (limit 4 - 0 in use), short by 10" in out
    assert "az provider register --namespace Microsoft.ContainerService" in out
    assert "Free Trial subscriptions are limited to 4 vCPUs" in out
    assert "3 of 14 checks failed." in out
    assert len(out.splitlines()) < 40  # one screen


def test_cli_json_shape(tmp_path, capsys):
    code = preflight.main(["--config-file", stack_file(tmp_path), "--json"],
                          clients=fake_clients(usages="usages_westeurope_free_trial"))
    assert code == 1
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == {"subscription", "location", "checks", "ok", "missingSecrets"}
    assert (doc["subscription"], doc["location"], doc["ok"]) == (SUB, "westeurope", False)
    for check in doc["checks"]:
        assert set(check) == {"name", "ok", "warning", "detail"}
        assert isinstance(check["ok"], bool) and isinstance(check["detail"], str)
    assert [c["name"] for c in doc["checks"] if not c["ok"]] == ["quota cores", "quota standardDSv5Family"]


@pytest.mark.parametrize("error", [
    CredentialUnavailableError(message="EnvironmentCredential authentication unavailable."),
    ClientAuthenticationError(message="DefaultAzureCredential failed to retrieve a token from the included "
                                      "credentials.\nAttempted credentials:\n\tEnvironmentCredential: ..."),
])
def test_cli_without_credentials_exits_2_with_one_line(tmp_path, capsys, error):
    code = preflight.main(["--config-file", stack_file(tmp_path)], clients=fake_clients(error=error))
    assert code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == preflight.NO_CREDENTIALS + "\n"
    assert captured.err.startswith("no Azure credentials: run az login (or set AZURE_CLIENT_ID")


def test_cli_http_error_exits_2_with_one_line(tmp_path, capsys):
    clients = fake_clients()
    clients.compute.resource_skus.error = HttpResponseError(message="Service unavailable")
    assert preflight.main(["--config-file", stack_file(tmp_path)], clients=clients) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert captured.err.startswith("an Azure request failed: ")


def test_cli_bad_config_exits_2(tmp_path, capsys):
    path = stack_file(tmp_path, **{"binderhub-azure:cluster": {"userPool": {"maxCount": 0}},
                                   "binderhub-azure:institution": "Bad!"})
    assert preflight.main(["--config-file", path], clients=fake_clients()) == 2
    err = capsys.readouterr().err
    assert "binderhub-azure:institution must be" in err
    assert "binderhub-azure:cluster.userPool.maxCount must be >= 1" in err


def test_cli_missing_stack_exits_2(capsys):
    assert preflight.main(["--stack", "no-such-stack"], clients=fake_clients()) == 2
    assert "no such stack file" in capsys.readouterr().err


def test_cli_dev_stack(capsys):
    code = preflight.main(["--stack", "dev"], clients=fake_clients())
    assert code in (0, 1)  # the dev stack's sizes may change; it must run the checks either way
    assert "vm size user" in capsys.readouterr().out


def test_cli_without_a_subscription_exits_2(tmp_path, capsys, monkeypatch):
    for var in preflight.SUBSCRIPTION_ENV:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(preflight, "az_account_subscription", lambda: None)
    assert preflight.main(["--config-file", stack_file(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith("no Azure subscription: run az login")


def test_cli_rejects_a_subscription_that_is_not_a_guid(tmp_path, capsys):
    assert preflight.main(["--config-file", stack_file(tmp_path), "--subscription", "my-sub"]) == 2
    assert "must be a GUID" in capsys.readouterr().err


# --------------------------------------------------------------------------- the real SDK clients, fake HTTP


class RecordedAdapter(requests.adapters.BaseAdapter):
    """Answers Azure Resource Manager requests from the recorded files; no network."""

    def __init__(self, routes: dict[str, tuple[int, dict[str, Any]]]):
        super().__init__()
        self.routes = routes
        self.seen: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.seen.append(request)
        path = urlsplit(request.url).path
        status, body = next(v for suffix, v in self.routes.items() if path.endswith(suffix))
        content = json.dumps(body).encode()
        raw = urllib3.HTTPResponse(body=io.BytesIO(content), status=status, preload_content=False,
                                   headers={"Content-Type": "application/json", "Content-Length": str(len(content))})
        response = requests.Response()
        response.status_code = status
        response.raw = raw
        response.headers = requests.structures.CaseInsensitiveDict(raw.headers)
        response.url = request.url
        response.request = request
        response.reason = "OK" if status == 200 else "Error"
        return response

    def close(self) -> None:
        pass


class FakeCredential:
    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("fake-token", int(time.time()) + 3600)


def sdk_clients(routes: dict[str, tuple[int, dict[str, Any]]], credential: Any = None
                ) -> tuple[Clients, RecordedAdapter]:
    adapter = RecordedAdapter(routes)
    session = requests.Session()
    session.mount("https://", adapter)
    clients = preflight.build_clients(SUB, credential or FakeCredential(),
                                      transport=RequestsTransport(session=session), retry_total=0)
    return clients, adapter


ROUTES = {
    f"/subscriptions/{SUB}/providers": (200, providers_doc()),
    "/providers/Microsoft.Compute/skus": (200, load("resource_skus_westeurope")),
    "/providers/Microsoft.Compute/locations/westeurope/usages": (200, load("usages_westeurope")),
    "/locations/westeurope/kubernetesVersions": (200, load("aks_kubernetes_versions_westeurope")),
    "/managedClusters/aks-testuni": (404, {"error": {"code": "ResourceNotFound", "message": "not found"}}),
    f"/subscriptions/{SUB}": (200, load("subscription_pay_as_you_go")),
}


def test_real_sdk_clients_over_recorded_http(tmp_path, capsys):
    clients, adapter = sdk_clients(ROUTES)
    assert preflight.main(["--config-file", stack_file(tmp_path), "--json"], clients=clients) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is True and len(doc["checks"]) == 15
    assert [urlsplit(r.url).path for r in adapter.seen] == [
        f"/subscriptions/{SUB}/providers",
        f"/subscriptions/{SUB}/providers/Microsoft.Compute/skus",
        f"/subscriptions/{SUB}/providers/Microsoft.Compute/locations/westeurope/usages",
        f"/subscriptions/{SUB}/providers/Microsoft.ContainerService/locations/westeurope/kubernetesVersions",
        f"/subscriptions/{SUB}/resourceGroups/rg-testuni-binderhub/providers/Microsoft.ContainerService/"
        "managedClusters/aks-testuni",
        f"/subscriptions/{SUB}"]
    assert parse_qs(urlsplit(adapter.seen[3].url).query)["api-version"] == [preflight.AKS_API_VERSION]
    assert parse_qs(urlsplit(adapter.seen[1].url).query)["$filter"] == ["location eq 'westeurope'"]
    assert all(r.headers["Authorization"] == "Bearer fake-token" for r in adapter.seen)


def test_real_sdk_unknown_subscription_is_a_failed_check(tmp_path, capsys):
    clients, _ = sdk_clients({**ROUTES, f"/subscriptions/{SUB}/providers": (404, load("error_subscription_not_found"))})
    assert preflight.main(["--config-file", stack_file(tmp_path)], clients=clients) == 1
    out = capsys.readouterr().out
    assert "FAIL  subscription" in out and "HTTP 404 SubscriptionNotFound" in out
    assert "1 of 1 checks failed." in out


def test_real_sdk_forbidden_call_exits_2(tmp_path, capsys):
    clients, _ = sdk_clients({**ROUTES, "/providers/Microsoft.Compute/skus": (403, load("error_authorization_failed"))})
    assert preflight.main(["--config-file", stack_file(tmp_path)], clients=clients) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert captured.err.startswith("not allowed: the identity you are logged in as may not perform "
                                   "Microsoft.Compute/skus/read")


def test_real_sdk_token_for_another_tenant_exits_2(tmp_path, capsys):
    body = {"error": {"code": "InvalidAuthenticationTokenTenant",
                      "message": "The access token is from the wrong issuer."}}
    clients, _ = sdk_clients({**ROUTES, f"/subscriptions/{SUB}/providers": (401, body)})
    assert preflight.main(["--config-file", stack_file(tmp_path)], clients=clients) == 2
    err = capsys.readouterr().err
    assert err.startswith("Azure rejected the credentials (HTTP 401 InvalidAuthenticationTokenTenant")
    assert "az login" in err


def test_real_sdk_without_credentials_exits_2(tmp_path, capsys, monkeypatch):
    for var in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH",
                "AZURE_USERNAME", "AZURE_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    clients, adapter = sdk_clients(ROUTES, credential=EnvironmentCredential())
    assert preflight.main(["--config-file", stack_file(tmp_path)], clients=clients) == 2
    assert capsys.readouterr().err == preflight.NO_CREDENTIALS + "\n"
    assert adapter.seen == []  # no token, so no request left


def test_command_line_without_credentials_no_traceback(tmp_path):
    """The real command, as a user runs it: DefaultAzureCredential limited (through azure-identity's own
    AZURE_TOKEN_CREDENTIALS switch) to environment variables, which are absent, so nothing touches
    the network."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "ARM_", "MSI_", "IDENTITY_"))}
    env["AZURE_TOKEN_CREDENTIALS"] = "environmentcredential"
    proc = subprocess.run([sys.executable, "-m", "tools.preflight", "--config-file", stack_file(tmp_path),
                           "--subscription", SUB], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr == preflight.NO_CREDENTIALS + "\n"
    assert proc.stdout == ""


def test_command_line_bad_config_no_traceback(tmp_path):
    path = tmp_path / "Pulumi.bad.yaml"
    path.write_text("config:\n  binderhub-azure:institution: demo\n")
    proc = subprocess.run([sys.executable, "-m", "tools.preflight", "--config-file", str(path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "azure-native:location is required" in proc.stderr and "Traceback" not in proc.stderr


def test_recorded_files_are_valid_and_documented():
    readme = (DATA / "README.md").read_text()
    assert "crafted" in readme and "not captured from a live subscription" in readme
    for path in DATA.glob("*.json"):
        assert path.name in readme
        json.loads(path.read_text())


def test_compute_not_registered_skips_the_compute_calls(tmp_path, capsys):
    clients = fake_clients(providers_doc(Microsoft_Compute="NotRegistered"))
    assert preflight.main(["--config-file", stack_file(tmp_path)], clients=clients) == 1
    out = capsys.readouterr().out
    assert "FAIL  vm sizes and quotas" in out and "Microsoft.Compute is not registered" in out
    assert clients.compute.resource_skus.calls == [] and clients.compute.usage.calls == []


def test_network_errors_are_one_line():
    from azure.core.exceptions import ServiceRequestError

    message = preflight.error_message(ServiceRequestError("Connection refused\nmore detail"))
    assert message == ("could not reach Azure (the connection failed): check the network, VPN or proxy, then run "
                       "again; nothing was checked")
    assert preflight.error_message(ValueError("a bug")) is None


class TestDuringPulumi:
    """`check_during_pulumi`, which `__main__.py` calls at the start of preview/up."""

    @staticmethod
    def _cfg(**keys):
        from tests.helpers import raw_config

        return parse_config(*raw_config(**keys))

    def test_skipped_without_credentials_or_when_turned_off(self, monkeypatch):
        from tools import preflight

        warnings: list[str] = []
        monkeypatch.setattr(preflight, "should_run_in_pulumi_up", lambda: False)
        assert preflight.check_during_pulumi(self._cfg(), {}, warnings.append) is None
        monkeypatch.setattr(preflight, "should_run_in_pulumi_up", lambda: True)
        assert preflight.check_during_pulumi(self._cfg(preflight=False), {}, warnings.append) is None
        assert warnings == []

    def test_problems_become_warnings(self, monkeypatch):
        from tools import preflight

        warnings: list[str] = []
        monkeypatch.setattr(preflight, "should_run_in_pulumi_up", lambda: True)
        monkeypatch.setattr(preflight, "build_clients", lambda sub: None)
        monkeypatch.setattr(preflight, "run_checks", lambda cfg, clients: [
            preflight.Check("subscription", True, "answers"),
            preflight.Check("quota cores", False, "needs 14 vCPUs, 4 free")])
        raw = {"azure-native:subscriptionId": "00000000-0000-0000-0000-000000000000"}
        checks = preflight.check_during_pulumi(self._cfg(), raw, warnings.append)
        assert checks is not None and len(warnings) == 1
        assert "needs 14 vCPUs, 4 free" in warnings[0] and "preflight false" in warnings[0]

    def test_a_check_that_cannot_run_never_blocks(self, monkeypatch):
        from tools import preflight

        warnings: list[str] = []
        monkeypatch.setattr(preflight, "should_run_in_pulumi_up", lambda: True)

        def broken(sub):
            raise RuntimeError("no network")

        monkeypatch.setattr(preflight, "build_clients", broken)
        raw = {"azure-native:subscriptionId": "00000000-0000-0000-0000-000000000000"}
        assert preflight.check_during_pulumi(self._cfg(), raw, warnings.append) is None
        assert warnings and warnings[0].startswith("pre-flight checks skipped")

    def test_the_offline_plan_never_runs_it(self, monkeypatch):
        from tools import plan, preflight

        monkeypatch.delenv("BINDERHUB_AZURE_SKIP_PREFLIGHT", raising=False)
        monkeypatch.setenv("AZURE_CLIENT_ID", "x")  # credentials that would make it run
        calls = []
        monkeypatch.setattr(preflight, "build_clients", lambda sub: calls.append(sub))
        from tests.helpers import raw_config

        plan.build_plan(*raw_config(), "test")
        assert calls == []


# --------------------------------------------------------------------------- Kubernetes versions


OFFERED = preflight.parse_kubernetes_versions(load("aks_kubernetes_versions_westeurope"))
RUNNING = preflight.parse_cluster(load("aks_managed_cluster_1_35"))
DEC_2026 = date(2026, 12, 5)


def test_offered_versions_read_preview_and_support_plan():
    assert OFFERED["1.36"].patches == ("1.36.4", "1.36.6") and not OFFERED["1.36"].preview
    assert OFFERED["1.38"].preview and not OFFERED["1.34"].official
    assert OFFERED["1.35"].patches[-1] == "1.35.10"  # numeric order, not text order


@pytest.mark.parametrize(("version", "ok", "expected"), [
    ("1.36", True, "1.36 is offered in westeurope (newest patch 1.36.6)"),
    ("1.38", False, "1.38 is offered only as a preview in westeurope; it offers 1.35, 1.36, 1.37"),
    ("1.34", False, "1.34 is offered only with long-term support (Premium tier)"),
    ("1.39", False, "1.39 is offered not in westeurope"),
])
def test_kubernetes_version_against_the_region(version, ok, expected):
    check = preflight.check_kubernetes_version(version, OFFERED, "westeurope")
    assert check.ok is ok and expected in check.detail
    assert check.stops_up is (not ok)
    if not ok:
        assert "fix: set binderhub-azure:cluster.kubernetesVersion" in check.detail


def test_a_running_cluster_newer_than_the_config_is_a_downgrade_that_stops_up():
    (check,) = [c for c in preflight.check_running_cluster("1.34", RUNNING, DEC_2026) if c.name == "cluster version"]
    assert not check.ok and check.stops_up
    assert "runs 1.35.10" in check.detail and "downgrade" in check.detail
    assert check.detail.endswith("set binderhub-azure:cluster.kubernetesVersion to 1.35")


def test_the_next_minor_is_an_upgrade_two_is_refused():
    checks = {c.name: c for c in preflight.check_running_cluster("1.36", RUNNING, DEC_2026)}
    assert checks["cluster version"].ok and "upgrades the control plane and system pool to 1.36" in \
        checks["cluster version"].detail
    jump = {c.name: c for c in preflight.check_running_cluster("1.37", RUNNING, DEC_2026)}["cluster version"]
    assert not jump.ok and jump.stops_up and "set binderhub-azure:cluster.kubernetesVersion to 1.36" in jump.detail


def test_a_pool_behind_the_control_plane_is_a_warning_that_up_fixes():
    checks = {c.name: c for c in preflight.check_running_cluster("1.35", RUNNING, DEC_2026)}
    pools = checks["pool versions"]
    assert pools.ok and pools.warning and "user (1.34.12)" in pools.detail and "system" not in pools.detail


def test_a_running_version_near_its_end_of_life_warns_with_the_date_and_way_up():
    checks = {c.name: c for c in preflight.check_running_cluster("1.35", RUNNING, date(2027, 2, 20))}
    support = checks["cluster support"]
    assert support.ok and support.warning
    assert "1.35 leaves AKS support on 2027-03-31" in support.detail
    assert "set binderhub-azure:cluster.kubernetesVersion to 1.36" in support.detail
    assert "cluster support" not in {c.name for c in preflight.check_running_cluster("1.35", RUNNING, DEC_2026)}


def test_a_cluster_past_end_of_life_may_jump_to_the_lowest_supported():
    """AKS lets an unsupported version go straight to the lowest supported one (AKS docs FAQ)."""
    old = RunningCluster("1.33.9", (("system", "1.33.9"),))
    checks = {c.name: c for c in preflight.check_running_cluster("1.35", old, DEC_2026)}
    assert checks["cluster version"].ok and "upgrades the control plane and system pool to 1.35" in \
        checks["cluster version"].detail
    support = checks["cluster support"]
    assert support.warning and "1.33 left AKS support on 2026-07-31" in support.detail


def test_warnings_show_as_warn_and_do_not_fail(tmp_path, capsys):
    clients = fake_clients(cluster=load("aks_managed_cluster_1_35"))
    assert preflight.main(["--config-file", stack_file(tmp_path)], clients=clients) == 0
    out = capsys.readouterr().out
    assert "WARN  pool versions" in out and "OK    cluster version" in out


def test_during_pulumi_up_a_certain_refusal_stops_the_program(monkeypatch):
    import pulumi

    warnings: list[str] = []
    monkeypatch.setattr(preflight, "should_run_in_pulumi_up", lambda: True)
    monkeypatch.setattr(preflight, "build_clients", lambda sub: fake_clients(cluster=load("aks_managed_cluster_1_35")))
    monkeypatch.setattr(aks_versions, "today", lambda: date(2026, 11, 1))  # 1.34 still in the file's window
    cfg = cfg_of(cluster={"kubernetesVersion": "1.34"})
    raw = {"azure-native:subscriptionId": SUB}
    with pytest.raises(pulumi.RunError) as err:
        preflight.check_during_pulumi(cfg, raw, warnings.append)
    assert "cluster version: the cluster runs 1.35.10" in str(err.value) and warnings


# --------------------------------------------------------------------------- a federation (Container Apps)


FEDERATION = {"binderhub-azure:mode": "federation", "binderhub-azure:federation": {
    "image": "ghcr.io/myuni/binderhub-azure/redirector@sha256:" + "ab" * 32,
    "members": [{"url": "https://binder.one.example/"}, {"stack": "organization/binderhub-azure/public-binder"}]}}


def federation_file(tmp_path: Path, **config: Any) -> str:
    path = tmp_path / "Pulumi.fed.yaml"
    path.write_text(yaml.safe_dump({"config": {**BASE, **FEDERATION, **config}}))
    return str(path)


def federation_cfg(**keys: Any):
    raw, secret = raw_config(mode="federation", federation=FEDERATION["binderhub-azure:federation"], **keys)
    return parse_config(raw, secret)


def test_a_federation_needs_only_the_container_apps_provider():
    # Its environment stores no logs (no Log Analytics workspace): not Microsoft.OperationalInsights.
    assert preflight.required_providers(federation_cfg()) == ["Microsoft.App"]
    budget = federation_cfg(budget={"monthlyAmount": 30, "contactEmails": ["rse@testuni.example"]})
    assert preflight.required_providers(budget) == ["Microsoft.App", "Microsoft.Consumption"]


def test_cli_federation_checks_the_provider_and_region_and_nothing_of_aks(tmp_path, capsys):
    clients = fake_clients(providers_doc(Microsoft_OperationalInsights="NotRegistered"))
    assert preflight.main(["--config-file", federation_file(tmp_path)], clients=clients) == 0
    out = capsys.readouterr().out
    assert "OK    provider Microsoft.App" in out
    assert "Microsoft.App/managedEnvironments is offered in westeurope" in out and "OK    container apps region" in out
    assert "All 3 checks passed." in out
    for absent in ("Microsoft.ContainerService", "Microsoft.Compute", "Microsoft.OperationalInsights", "vm size",
                   "quota", "kubernetes"):
        assert absent not in out
    # Not one VM size, quota or AKS question was asked.
    assert clients.compute.resource_skus.calls == [] and clients.compute.usage.calls == []
    assert clients.aks.calls == []


def test_cli_federation_with_container_apps_not_registered(tmp_path, capsys):
    clients = fake_clients(providers_doc(Microsoft_App="NotRegistered"))
    assert preflight.main(["--config-file", federation_file(tmp_path)], clients=clients) == 1
    out = capsys.readouterr().out
    assert "FAIL  provider Microsoft.App" in out and "az provider register --namespace Microsoft.App" in out
    assert "1 of 3 checks failed." in out


def test_a_region_without_container_apps_stops_pulumi_up(tmp_path, capsys):
    clients = fake_clients()
    code = preflight.main(["--config-file", federation_file(tmp_path, **{"azure-native:location": "eastus"})],
                          clients=clients)
    assert code == 1
    out = capsys.readouterr().out
    assert "FAIL  container apps region" in out and "Microsoft.App/managedEnvironments is not offered in eastus" in out
    cfg = federation_cfg()
    region = preflight.check_container_apps_region(providers_doc()["value"], "eastus")
    assert region is not None and region.stops_up and not region.ok
    assert preflight.check_container_apps_region(providers_doc()["value"], cfg.location).ok
    # A provider list without the type's locations says nothing either way.
    assert preflight.check_container_apps_region([{"namespace": "Microsoft.App"}], "eastus") is None


def test_pulumi_up_of_a_federation_runs_its_preflight(monkeypatch):
    """`__main__.py` calls the pre-flight for a federation as for the hub modes (warnings, and a
    stop for a region without Container Apps)."""
    from tests.helpers import raw_config
    from tools.plan import run_program

    calls: list[Any] = []
    monkeypatch.setattr(preflight, "check_during_pulumi", lambda *args: calls.append(args))
    run_program(*raw_config(mode="federation", federation=FEDERATION["binderhub-azure:federation"]), "test")
    (cfg, _, _), = calls
    assert cfg.federated
