"""Pre-flight check: can this Azure subscription hold the stack, before `pulumi up` tries?

    python -m tools.preflight --stack NAME [--subscription ID] [--json]
    python -m tools.preflight --config-file path/to/Pulumi.myuni.yaml [--subscription ID] [--json]

A first `pulumi up` that runs into a missing quota fails after many minutes, half-way through,
with an error about a node pool. This command asks Azure the same questions up front, with
read-only calls, and prints one line per check, OK or FAIL, with what to do under each failure:

  subscription          the subscription answers: its resource provider list can be read. That
                        call is the probe because check 2 needs it anyway, and it is a read on
                        the subscription itself, so it fails when the ID is unknown, belongs to
                        another tenant, or the identity may not read it (the Subscriptions API
                        is in a client package this project does not install)
  provider <namespace>  each resource provider the stack uses is Registered; if not, the fix
                        is `az provider register --namespace <namespace>`
  vm size <pool>        each pool's VM size is offered in the region and not restricted for
                        this subscription; its vCPUs and quota family are read from the SKU
  quota cores           the regional vCPU quota covers every on-demand pool at its maximum
  quota <family>        each VM family's vCPU quota covers that family's pools at their maximum
  quota lowPriorityCores  the regional Spot vCPU quota covers a Spot user pool at its maximum

When Microsoft.Compute itself is not registered, its SKU and usage APIs cannot be asked: one
FAIL line, `vm sizes and quotas`, says so instead of the size and quota lines.

Pools at their maximum: the system pool's nodeCount, the user and GPU pools' maxCount (in tljh
mode, the one VM). On-demand pools count against `cores` and their family's quota, Spot pools
against `lowPriorityCores` only, as Azure counts them. Free quota is the limit minus what is in
use now, so a stack that is already deployed counts its own nodes twice: there the check errs
on the safe side. Nodes added for a moment during upgrades (surge) are not counted.

Which subscription (first found wins):
  1. --subscription
  2. the environment: AZURE_SUBSCRIPTION_ID, then ARM_SUBSCRIPTION_ID (the one Pulumi's
     azure-native provider reads)
  3. the stack config key `azure-native:subscriptionId`, when the stack file sets it
  4. `az account show`: the Azure CLI's current subscription, the one `az login` selected
     and the one azure-native uses when nothing above is set

Credentials: `azure.identity.DefaultAzureCredential`, which tries, among others, environment
variables (AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET or a certificate, or
workload identity), a managed identity and the Azure CLI's `az login`.

Exit status: 0 when every check is OK; 1 when any check FAILs (the report says why); 2 with
one line on stderr when the checks cannot run: bad stack config, no subscription, no
credentials, or an Azure request failing for another reason (HTTP or network error).
`--json` prints `{"subscription", "location", "checks": [{"name", "ok", "detail"}], "ok"}`.

Layers:
  - pure: `required_providers`, `pools_of`, `parse_provider`, `parse_sku`, `parse_usage`,
    `check_providers`, `check_vm_size`, `check_quotas`, `render_report`, `report_json`.
    The parse functions take one list item in its REST JSON shape, as the recorded responses
    in tests/data/azure hold it, and return small dataclasses the checks take. The SDK's
    models (azure-mgmt-compute 39, azure-mgmt-resource 26) are mappings over that same JSON,
    so what the clients return goes in unchanged.
  - Azure: `build_clients` (DefaultAzureCredential and the two management clients),
    `run_checks(cfg, clients)`, which makes three list calls, and `main(argv, clients=...)`,
    where tests pass fake clients.

In `pulumi up`: `should_run_in_pulumi_up()` says whether to run the checks from the program
(`__main__.py`), cheaply and without a network call: True when Azure credentials look present
(the environment variables above, a managed identity endpoint, or an `az login` profile with
a subscription) and BINDERHUB_AZURE_SKIP_PREFLIGHT is not set to a non-empty value. The
stack's own `preflight: false` turns the checks off as well; the caller checks that. A caller
there would use `run_checks(cfg, build_clients(subscription))` and `error_message(exc)`
for the one-line messages of the Azure errors it raises.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from azure.core.exceptions import AzureError, ClientAuthenticationError, HttpResponseError, ServiceRequestError

from components.config import ConfigError, StackConfig
from components.config_load import parse_config

from .stackfile import SECRET, PlanError, add_stack_arguments, read_stack_file, stack_from_args

SKIP_ENV = "BINDERHUB_AZURE_SKIP_PREFLIGHT"
SUBSCRIPTION_KEY = "azure-native:subscriptionId"
SUBSCRIPTION_ENV = ("AZURE_SUBSCRIPTION_ID", "ARM_SUBSCRIPTION_ID")
NO_CREDENTIALS = ("no Azure credentials: run az login (or set AZURE_CLIENT_ID, AZURE_TENANT_ID and "
                  "AZURE_CLIENT_SECRET for a service principal, or run where a managed identity is available)")
FREE_TRIAL_NOTE = "Free Trial subscriptions are limited to 4 vCPUs per region: upgrade to pay-as-you-go first"

# Resource providers the stack's resources belong to. Authorization: role assignments (AcrPull,
# cluster admin, Key Vault); ManagedIdentity: the cluster's kubelet identity; Storage: the
# datasets' storage accounts.
KUBERNETES_PROVIDERS = ("Microsoft.ContainerService", "Microsoft.Network", "Microsoft.Compute", "Microsoft.Storage",
                        "Microsoft.Authorization", "Microsoft.ManagedIdentity")
TLJH_PROVIDERS = ("Microsoft.Compute", "Microsoft.Network", "Microsoft.KeyVault", "Microsoft.Authorization")

_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# Usage names of the two regional quotas (the rest are per-family, named as the SKU's `family`).
CORES = "cores"
SPOT_CORES = "lowPriorityCores"


@dataclass(frozen=True)
class Check:
    """One line of the report. `detail` may hold more lines: how to fix a failure."""

    name: str
    ok: bool
    detail: str


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
    ComputeManagementClient."""

    subscription_id: str
    resources: Any
    compute: Any
    credential: Any = None


# ---------------------------------------------------------------------------
# What the stack needs (pure)
# ---------------------------------------------------------------------------


def required_providers(cfg: StackConfig) -> list[str]:
    """Resource provider namespaces the stack's resources belong to."""
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
        return Check(name, False, f"{pool.vm_size} is not offered in {location}\nfix: {other}")
    restriction = _blocking(sku, location)
    if restriction is not None:
        if restriction.reason_code == "QuotaId":
            why = "not available to this subscription's offer type (reasonCode QuotaId; e.g. Free Trial or student)"
            fix = f"{other}, or use a pay-as-you-go subscription"
        else:
            why = f"restricted for this subscription (reasonCode {restriction.reason_code or 'unknown'})"
            fix = f"{other}, or ask for access: Help + support > Create a support request (Service and " \
                  "subscription limits (quotas))"
        return Check(name, False, f"{pool.vm_size} is {why} in {location}\nfix: {fix}")
    if sku.vcpus is None:
        return Check(name, False, f"{pool.vm_size}: its SKU has no vCPUs capability, so its quota cannot be counted")
    if pool.spot and sku.low_priority_capable is False:
        return Check(name, False, f"{pool.vm_size} cannot run as Spot (LowPriorityCapable is False)\n"
                                  "fix: pick another size, or set cluster.userPool.spot false")
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
# Report (pure)
# ---------------------------------------------------------------------------


def render_report(checks: Sequence[Check], subscription_id: str, source: str, location: str) -> str:
    lines = [f"Pre-flight check of subscription {subscription_id} ({source}) for region {location}", ""]
    width = max((len(c.name) for c in checks), default=0)
    for c in checks:
        first, *rest = c.detail.split("\n")
        lines.append(f"  {'OK' if c.ok else 'FAIL':<4}  {c.name:<{width}}  {first}")
        lines.extend(f"        {' ' * width}  {line}" for line in rest)
    failed = sum(not c.ok for c in checks)
    lines += ["", f"{failed} of {len(checks)} checks failed." if failed else f"All {len(checks)} checks passed."]
    return "\n".join(lines)


def report_json(checks: Sequence[Check], subscription_id: str, location: str) -> dict[str, Any]:
    return {"subscription": subscription_id, "location": location,
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in checks],
            "ok": all(c.ok for c in checks)}


# ---------------------------------------------------------------------------
# Credentials and subscription
# ---------------------------------------------------------------------------


def az_account_subscription() -> str | None:
    """The Azure CLI's current subscription, or None without the CLI or a login."""
    az = shutil.which("az")  # resolves az.cmd on Windows too
    if az is None:
        return None
    try:
        proc = subprocess.run([az, "account", "show", "--query", "id", "--output", "tsv"],
                              capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    value = proc.stdout.strip()
    return value if proc.returncode == 0 and value else None


def resolve_subscription(option: str | None, raw_config: Mapping[str, str], *,
                         environ: Mapping[str, str] | None = None,
                         az: Callable[[], str | None] | None = None) -> tuple[str, str] | None:
    """(subscription ID, where it came from), in the documented order, or None."""
    env = os.environ if environ is None else environ
    az = az or az_account_subscription
    if option:
        return option, "from --subscription"
    for var in SUBSCRIPTION_ENV:
        if env.get(var):
            return env[var], f"from {var}"
    configured = raw_config.get(SUBSCRIPTION_KEY)
    if configured and configured != SECRET:  # a secure value cannot be read offline
        return configured, f"from the stack's {SUBSCRIPTION_KEY}"
    current = az()
    return (current, "from az account show") if current else None


def credentials_look_present(environ: Mapping[str, str] | None = None) -> bool:
    """Whether DefaultAzureCredential is likely to find credentials, judged without a network
    call or a subprocess: a service principal or workload identity in the environment, a
    managed identity endpoint, or an Azure CLI profile that lists a subscription (`az login`
    writes them there; `az logout` removes them)."""
    env = os.environ if environ is None else environ
    if env.get("AZURE_CLIENT_ID") and env.get("AZURE_TENANT_ID") and any(
            env.get(k) for k in ("AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_FEDERATED_TOKEN_FILE")):
        return True
    if env.get("IDENTITY_ENDPOINT") or env.get("MSI_ENDPOINT"):  # App Service, Functions, Arc, Cloud Shell
        return True
    config_dir = Path(env["AZURE_CONFIG_DIR"]) if env.get("AZURE_CONFIG_DIR") else Path.home() / ".azure"
    try:
        # The CLI writes this file with a byte order mark.
        profile = json.loads((config_dir / "azureProfile.json").read_text(encoding="utf-8-sig"))
    except (OSError, ValueError):
        return False
    return isinstance(profile, dict) and bool(profile.get("subscriptions"))


def should_run_in_pulumi_up(environ: Mapping[str, str] | None = None) -> bool:
    """Run the checks at the start of `pulumi preview`/`up`? True when credentials look present
    and BINDERHUB_AZURE_SKIP_PREFLIGHT is unset or empty. Cheap: no network, no subprocess."""
    env = os.environ if environ is None else environ
    return not env.get(SKIP_ENV) and credentials_look_present(env)


def build_clients(subscription_id: str, credential: Any = None, **client_kwargs: Any) -> Clients:
    """The SDK clients, with DefaultAzureCredential unless a credential is given. Nothing is
    called yet: the credential fetches a token on the first request. `client_kwargs` go to both
    clients (tests pass a `transport`)."""
    from azure.identity import DefaultAzureCredential
    from azure.mgmt.compute import ComputeManagementClient
    from azure.mgmt.resource.resources import ResourceManagementClient

    credential = credential or DefaultAzureCredential()
    return Clients(subscription_id, ResourceManagementClient(credential, subscription_id, **client_kwargs),
                   ComputeManagementClient(credential, subscription_id, **client_kwargs), credential)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _http_detail(err: HttpResponseError) -> str:
    error = getattr(err, "error", None)
    code = getattr(error, "code", None) or ""
    message = getattr(error, "message", None) or str(err.message or err).split("\n")[0]
    status = f"HTTP {err.status_code}" if err.status_code else "error"
    return _one_line(f"{status} {code}: {message}" if code else f"{status}: {message}")


def error_message(err: BaseException) -> str | None:
    """The one line to show for an Azure error `run_checks` raised, or None for anything else."""
    if isinstance(err, ClientAuthenticationError):
        if err.status_code:  # Azure answered 401: a token, but not one this subscription accepts
            return _one_line(f"Azure rejected the credentials ({_http_detail(err)}): run az login, with "
                             "--tenant <the subscription's tenant> if it is in another directory")
        return NO_CREDENTIALS
    if isinstance(err, HttpResponseError):
        return f"an Azure request failed: {_http_detail(err)}"
    if isinstance(err, ServiceRequestError):
        return _one_line(f"could not reach Azure: {str(err).split(chr(10))[0]}")
    if isinstance(err, AzureError):
        return _one_line(f"Azure error: {err}")
    return None


# ---------------------------------------------------------------------------
# Asking Azure
# ---------------------------------------------------------------------------


def run_checks(cfg: StackConfig, clients: Clients) -> list[Check]:
    """Every check, in report order. Raises the SDK's exceptions (`azure.core.exceptions`) when
    there are no credentials or a request fails; `error_message` words them."""
    subscription = clients.subscription_id
    # Reachability: the provider list is a read on the subscription itself, so it fails when the
    # subscription does not exist, is in another tenant, or the identity may not read it; and it
    # is needed anyway. (The Subscriptions API lives in a client this project does not install.)
    try:
        providers = [parse_provider(p) for p in clients.resources.providers.list()]
    except ClientAuthenticationError:
        raise
    except HttpResponseError as err:
        if err.status_code not in (400, 403, 404):
            raise
        return [Check("subscription", False,
                      f"{subscription} cannot be read: {_http_detail(err)}\n"
                      "fix: check the ID (az account list --output table) and log in as someone who may read "
                      "it (az login); the other checks need the subscription and did not run")]
    checks = [Check("subscription", True, f"{subscription} answers ({len(providers)} resource providers listed)")]
    checks += check_providers(providers, required_providers(cfg))

    pools = pools_of(cfg)
    if not any(c.ok for c in checks if c.name == "provider Microsoft.Compute"):
        # Compute's own APIs refuse callers whose subscription has not registered it.
        return [*checks, Check("vm sizes and quotas", False,
                               "not checked: Microsoft.Compute is not registered (register it, then run again)")]
    skus = index_skus(parse_sku(s) for s in
                      clients.compute.resource_skus.list(filter=f"location eq '{cfg.location}'"))
    checks += [check_vm_size(pool, skus, cfg.location) for pool in pools]
    usages = [parse_usage(u) for u in clients.compute.usage.list(cfg.location)]
    checks += check_quotas(pools, skus, usages, cfg.location, subscription)
    return checks


def _close(clients: Clients) -> None:
    for thing in (clients.resources, clients.compute, clients.credential):
        close = getattr(thing, "close", None)
        if callable(close):
            close()


def main(argv: Sequence[str] | None = None, *, clients: Clients | None = None,
         out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    parser = argparse.ArgumentParser(prog="python -m tools.preflight", description=__doc__.split("\n")[0])
    add_stack_arguments(parser)
    parser.add_argument("--subscription", help="subscription ID; default: AZURE_SUBSCRIPTION_ID, ARM_SUBSCRIPTION_ID, "
                        "the stack's azure-native:subscriptionId, then az account show")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON document")
    args = parser.parse_args(argv)

    try:
        path, _ = stack_from_args(args)
        raw, secret = read_stack_file(path)
        cfg = parse_config(raw, secret)
    except (PlanError, ConfigError) as exc:
        print(str(exc), file=err)
        return 2
    except Exception as exc:  # a bug, not bad input: one line, traceback on request
        if os.environ.get("BINDERHUB_AZURE_DEBUG"):
            raise
        print(_one_line(f"error: the stack config could not be checked: {type(exc).__name__}: {exc} "
                        "(set BINDERHUB_AZURE_DEBUG=1 for a traceback)"), file=err)
        return 2

    if clients is not None:
        subscription, where = clients.subscription_id, "as given"
    else:
        found = resolve_subscription(args.subscription, raw)
        if found is None:
            print("no Azure subscription: run az login (or pass --subscription, or set AZURE_SUBSCRIPTION_ID)",
                  file=err)
            return 2
        subscription, where = found
        if not _GUID.fullmatch(subscription):
            print(f"the subscription ID must be a GUID (got {subscription!r} {where})", file=err)
            return 2
    built = clients is None
    if built:
        # azure-identity logs each credential it tried as a warning; with no logging set up Python
        # would print those to stderr, around the one line this command promises.
        azure_logger = logging.getLogger("azure")
        if not any(isinstance(h, logging.NullHandler) for h in azure_logger.handlers):
            azure_logger.addHandler(logging.NullHandler())
    try:
        active = clients or build_clients(subscription)
    except ValueError as exc:  # DefaultAzureCredential refuses a bad AZURE_TOKEN_CREDENTIALS value
        print(_one_line(f"Azure credentials are misconfigured: {exc}"), file=err)
        return 2
    try:
        try:
            checks = run_checks(cfg, active)
        finally:
            if built:
                _close(active)
    except AzureError as exc:
        print(error_message(exc), file=err)
        return 2

    if args.json:
        print(json.dumps(report_json(checks, subscription, cfg.location), indent=2), file=out)
    else:
        print(render_report(checks, subscription, where, cfg.location), file=out)
    return 0 if all(c.ok for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())


def check_during_pulumi(cfg: StackConfig, raw_config: Mapping[str, str],
                        warn: Callable[[str], None]) -> list[Check] | None:
    """The checks at the start of `pulumi preview`/`up` (see `__main__.py`), when Azure
    credentials look present and neither `preflight: false` nor BINDERHUB_AZURE_SKIP_PREFLIGHT
    says otherwise. Problems become warnings, not errors: on a stack that already runs, its own
    nodes count against the free quota, so a tight quota could fail an update falsely. If the
    checks cannot run, one warning says why and the deployment goes on."""
    if not cfg.preflight or not should_run_in_pulumi_up():
        return None
    found = resolve_subscription(None, raw_config)
    if found is None:
        warn("pre-flight checks skipped: no subscription ID found (set azure-native:subscriptionId)")
        return None
    subscription, source = found
    clients = None
    try:
        clients = build_clients(subscription)
        checks = run_checks(cfg, clients)
    except Exception as err:  # never block a deployment because the checks could not run
        warn(f"pre-flight checks skipped: {error_message(err) or type(err).__name__}")
        return None
    finally:
        if clients is not None:
            _close(clients)
    if not all(c.ok for c in checks):
        warn(render_report(checks, subscription, source, cfg.location)
             + "\n(set binderhub-azure:preflight false to skip these checks)")
    return checks
