"""Pre-flight check: can this Azure subscription hold the stack, before `pulumi up` tries?

    ./run python -m tools.preflight --stack NAME [--subscription ID] [--json]
    ./run python -m tools.preflight --config-file path/to/Pulumi.myuni.yaml [--subscription ID] [--json]

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
  kubernetes version    the region offers cluster.kubernetesVersion for new clusters (not only
                        as a preview), as `az aks get-versions -l <region>` lists them
  cluster power         when the stack's cluster exists and is stopped (its sleep schedule, or
                        `az aks stop`): FAIL, which also stops `pulumi preview`/`up` before they
                        wait on an API server that is off, with the way to wake it
  cluster version       when the stack's cluster exists: it runs cluster.kubernetesVersion or
                        the minor before it (a lower config asks for a downgrade; a jump of two
                        minors is refused by AKS); WARN when the version it runs is near or past
                        AKS's end of life (with the way up), or a pool lags the control plane
  acr tasks             with ACR and a purge (registry.retentionDays > 0): WARN when the
                        subscription runs on free credits, where ACR Tasks do not run and the
                        purge would never delete an image (tools/preflight_registry.py)

A federation stack (Azure Container Apps, Consumption plan) has no VM, pool, vCPU quota or cluster:
its checks are the subscription, `provider Microsoft.App` (plus Microsoft.Consumption with a
budget; no Microsoft.OperationalInsights, since its environment stores no logs), and `container
apps region`: the provider list offers `managedEnvironments` in the stack's region (FAIL, which
also stops `pulumi up`, when it does not).

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

Exit status: 0 when every check is OK or WARN; 1 when any check FAILs (the report says why); 2 with
one line on stderr when the checks cannot run, saying what failed: the stack file or config, no
subscription, the network (the host, and DNS, a timeout or a failed connection), the credentials
(none found: az login; or expired), the rights (a 403: the action and scope refused; Reader on
the subscription covers every read here), or another Azure error.
`--json` prints `{"subscription", "location", "checks": [{"name", "ok", "detail"}], "ok",
"missingSecrets"}` (secrets the stack needs and does not set yet; the checks do not need them).

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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)

from components import aks_versions, naming
from components.config import ConfigError, StackConfig
from components.config_fields import GUID
from components.config_load import parse_config
from components.practices_spec import purge_task_args
from components.sleep_spec import COMPUTE_API_VERSION

from .outputs import unexpected
from .preflight_checks import (
    Check,
    Clients,
    Pool,
    ProviderState,
    Usage,
    VmSku,
    check_cluster_awake,
    check_container_apps_region,
    check_kubernetes_version,
    check_providers,
    check_quotas,
    check_running_cluster,
    check_vm_awake,
    check_vm_size,
    index_skus,
    parse_cluster,
    parse_kubernetes_versions,
    parse_provider,
    parse_sku,
    parse_usage,
    pools_of,
    render_report,
    report_json,
    required_providers,
)
from .preflight_registry import SUBSCRIPTIONS_API_VERSION, check_acr_tasks, parse_subscription
from .stackfile import (
    SECRET,
    PlanError,
    add_stack_arguments,
    missing_secrets,
    missing_secrets_lines,
    read_stack_file,
    stack_from_args,
    stand_in_secrets,
)

# Re-exported: callers (and the tests) use this module as the command's public face.
__all__ = [
    "Check",
    "Clients",
    "Pool",
    "ProviderState",
    "Usage",
    "VmSku",
    "check_providers",
    "check_quotas",
    "check_vm_size",
    "index_skus",
    "parse_provider",
    "parse_sku",
    "parse_usage",
    "pools_of",
    "required_providers",
]

SKIP_ENV = "BINDERHUB_AZURE_SKIP_PREFLIGHT"
SUBSCRIPTION_KEY = "azure-native:subscriptionId"
SUBSCRIPTION_ENV = ("AZURE_SUBSCRIPTION_ID", "ARM_SUBSCRIPTION_ID")
NO_CREDENTIALS = ("no Azure credentials: run az login (or set AZURE_CLIENT_ID, AZURE_TENANT_ID and "
                  "AZURE_CLIENT_SECRET for a service principal, or run where a managed identity is available)")
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


# The managed clusters API version pulumi-azure-native 3.29 uses (its ManagedCluster resource).
AKS_API_VERSION = "2025-09-01"


class AksApi:
    """The two AKS reads, as REST calls through the resource client's pipeline (its credential,
    retries and transport): no AKS management package is needed for them."""

    def __init__(self, resources: Any, subscription_id: str):
        self.resources = resources
        self.base = f"/subscriptions/{subscription_id}"

    def _get(self, path: str, api_version: str = AKS_API_VERSION) -> dict[str, Any] | None:
        from azure.core.rest import HttpRequest

        response = self.resources.send_request(HttpRequest("GET", f"{self.base}{path}",
                                                           params={"api-version": api_version}))
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            body = response.json() if response.text() else {}
            error = (body or {}).get("error") or {}
            raise HttpResponseError(message=f"{error.get('code', '')}: {error.get('message', '')}".strip(": "),
                                    response=response)
        doc: dict[str, Any] = response.json()
        return doc

    def kubernetes_versions(self, location: str) -> dict[str, Any]:
        return self._get(f"/providers/Microsoft.ContainerService/locations/{location}/kubernetesVersions") or {}

    def subscription(self) -> dict[str, Any]:
        """`GET /subscriptions/{id}`: its offer (`subscriptionPolicies`), for the ACR Tasks check."""
        return self._get("", SUBSCRIPTIONS_API_VERSION) or {}

    def managed_cluster(self, resource_group: str, name: str) -> dict[str, Any] | None:
        path = f"/resourceGroups/{resource_group}/providers/Microsoft.ContainerService/managedClusters/{name}"
        return self._get(path)

    def vm_instance_view(self, resource_group: str, name: str) -> dict[str, Any] | None:
        """The TLJH VM's instance view (its `PowerState/...` status); None when it does not exist."""
        path = f"/resourceGroups/{resource_group}/providers/Microsoft.Compute/virtualMachines/{name}/instanceView"
        return self._get(path, COMPUTE_API_VERSION)


def build_clients(subscription_id: str, credential: Any = None, **client_kwargs: Any) -> Clients:
    """The SDK clients, with DefaultAzureCredential unless a credential is given. Nothing is
    called yet: the credential fetches a token on the first request. `client_kwargs` go to both
    clients (tests pass a `transport`)."""
    from azure.identity import DefaultAzureCredential
    from azure.mgmt.compute import ComputeManagementClient
    from azure.mgmt.resource.resources import ResourceManagementClient

    credential = credential or DefaultAzureCredential()
    resources = ResourceManagementClient(credential, subscription_id, **client_kwargs)
    return Clients(subscription_id, resources, ComputeManagementClient(credential, subscription_id, **client_kwargs),
                   credential, AksApi(resources, subscription_id))


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _http_detail(err: HttpResponseError) -> str:
    error = getattr(err, "error", None)
    code = getattr(error, "code", None) or ""
    message = getattr(error, "message", None) or str(err.message or err).split("\n")[0]
    status = f"HTTP {err.status_code}" if err.status_code else "error"
    return _one_line(f"{status} {code}: {message}" if code else f"{status}: {message}")


# What failed, read from the text of the error: DefaultAzureCredential gathers every credential's
# failure into one ClientAuthenticationError, and the Azure CLI's own (printed to stderr, which
# azure-identity passes on) names the network error: "HTTPSConnectionPool(host='login.microsoftonline.com',
# port=443): Max retries exceeded ... Temporary failure in name resolution" (Azure/azure-cli#24841).
_DNS = re.compile(r"Failed to resolve|Name or service not known|name resolution|getaddrinfo failed|"
                  r"nodename nor servname|Name does not resolve|No address associated|NameResolutionError", re.I)
_TIMEOUT = re.compile(r"timed out|timeout", re.I)
_REFUSED = re.compile(r"Connection refused|Connection reset|Network is unreachable|No route to host|"
                      r"Failed to establish a new connection|Max retries exceeded|RemoteDisconnected|"
                      r"Connection aborted|ProxyError|SSLError|CERTIFICATE_VERIFY_FAILED", re.I)
# The host a network error names, best first: the name that did not resolve, the connection's
# host, then a URL's (not the troubleshooting links azure-identity adds to its messages).
_HOSTS = (re.compile(r"Failed to resolve '([^']+)'"), re.compile(r"host='([^']+)'"),
          re.compile(r"https://((?!aka\.ms\b)[A-Za-z0-9.-]+)"))
# Entra ID codes of a login that was there and has lapsed (learn.microsoft.com/entra/identity-platform/
# reference-error-codes): refresh token expired (700082, 70043), revoked or password changed (50173,
# 50133), and the CLI's own "Interactive authentication is needed" when it cannot renew.
_EXPIRED = re.compile(r"AADSTS(700082|70043|50173|50133|50078|50076)\b|expired|Interactive authentication is needed",
                      re.I)
_ACTION = re.compile(r"perform action '([^']+)' over scope '([^']+)'")
READER_HINT = ("the pre-flight only reads: the Reader role on the subscription covers it (Contributor and Owner "
               "include it)")


def network_problem(text: str) -> str | None:
    """'<host>: <what>' when the error text is a network failure, else None."""
    kind = ("the name does not resolve (DNS)" if _DNS.search(text) else "the connection timed out"
            if _TIMEOUT.search(text) else "the connection failed" if _REFUSED.search(text) else None)
    if kind is None:
        return None
    host = next((m.group(1) for pattern in _HOSTS for m in pattern.finditer(text)), None)
    return f"{host}: {kind}" if host else kind


def _network_line(where: str, login: bool) -> str:
    what = "Azure's login endpoint" if login else "Azure"
    return _one_line(f"could not reach {what} ({where}): check the network, VPN or proxy, then run again; "
                     "nothing was checked" + (", and the credentials were not the problem" if login else ""))


def error_message(err: BaseException) -> str | None:
    """The one line to show for an Azure error `run_checks` raised, or None for anything else. It
    says what failed: the network (which host, DNS or connection), the credentials (none found,
    or expired: az login), or the rights (a 403: which action on which scope)."""
    if isinstance(err, ClientAuthenticationError):
        if err.status_code:  # Azure answered 401: a token, but not one this subscription accepts
            return _one_line(f"Azure rejected the credentials ({_http_detail(err)}): run az login, with "
                             "--tenant <the subscription's tenant> if it is in another directory")
        text = str(err.message or err)
        network = network_problem(text)
        if network:
            return _network_line(network, login=True)
        if _EXPIRED.search(text):
            code = re.search(r"AADSTS\d+", text)
            return _one_line(f"Azure credentials were found but have expired{f' ({code.group(0)})' if code else ''}: "
                             "run az login again (or renew the service principal's secret)")
        return NO_CREDENTIALS
    if isinstance(err, HttpResponseError) and err.status_code == 403:
        action = _ACTION.search(str(err.message or err))
        what = (f"may not perform {action.group(1)} on {action.group(2)}" if action
                else f"may not make a read the pre-flight needs ({_http_detail(err)})")
        return _one_line(f"not allowed: the identity you are logged in as {what}; {READER_HINT}")
    if isinstance(err, HttpResponseError):
        return f"an Azure request failed: {_http_detail(err)}"
    if isinstance(err, (ServiceRequestError, ServiceResponseError)):
        text = str(err.message or err)
        network = network_problem(text)
        return _network_line(network, login=False) if network else _one_line(
            f"could not reach Azure: {text.split(chr(10))[0]}")
    if isinstance(err, AzureError):
        return _one_line(f"Azure error: {err}")
    return None


# ---------------------------------------------------------------------------
# Asking Azure
# ---------------------------------------------------------------------------


def run_checks(cfg: StackConfig, clients: Clients, stack: str | None = None) -> list[Check]:
    """Every check, in report order. Raises the SDK's exceptions (`azure.core.exceptions`) when
    there are no credentials or a request fails; `error_message` words them."""
    subscription = clients.subscription_id
    # Reachability: the provider list is a read on the subscription itself, so it fails when the
    # subscription does not exist, is in another tenant, or the identity may not read it; and it
    # is needed anyway. (The Subscriptions API lives in a client this project does not install.)
    try:
        listed = list(clients.resources.providers.list())
        providers = [parse_provider(p) for p in listed]
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
    if cfg.federated:
        # Azure Container Apps on the Consumption plan: no VM size, vCPU quota or cluster to check.
        region = check_container_apps_region(listed, cfg.location)
        return [*checks, *([region] if region else [])]

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
    if not cfg.tljh and clients.aks is not None:
        checks += kubernetes_checks(cfg, clients.aks, stack)
    if cfg.tljh and cfg.schedule is not None and clients.aks is not None:
        asleep = check_vm_awake(clients.aks.vm_instance_view(naming.resource_group(cfg), naming.vm(cfg)), stack)
        checks += [asleep] if asleep else []
    if clients.aks is not None and purge_task_args(cfg) is not None and hasattr(clients.aks, "subscription"):
        acr = check_acr_tasks(cfg, parse_subscription(clients.aks.subscription()))
        checks += [acr] if acr else []
    return checks


def kubernetes_checks(cfg: StackConfig, aks: Any, stack: str | None = None) -> list[Check]:
    """The configured version against the region's list, and against the cluster if it exists;
    a stopped (sleeping) cluster stops `pulumi up` before it waits on an API server that is off."""
    version = cfg.cluster.kubernetes_version
    offered = parse_kubernetes_versions(aks.kubernetes_versions(cfg.location))
    running = aks.managed_cluster(naming.resource_group(cfg), naming.cluster(cfg))
    asleep = check_cluster_awake(running, stack)
    checks = [check_kubernetes_version(version, offered, cfg.location), *([asleep] if asleep else [])]
    return checks + check_running_cluster(version, parse_cluster(running) if running else None, aks_versions.today())


def _close(clients: Clients) -> None:
    for thing in (clients.resources, clients.compute, clients.credential):
        close = getattr(thing, "close", None)
        if callable(close):
            close()


def main(argv: Sequence[str] | None = None, *, clients: Clients | None = None,
         out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    parser = argparse.ArgumentParser(prog="./run python -m tools.preflight", description=__doc__.split("\n")[0])
    add_stack_arguments(parser)
    parser.add_argument("--subscription", help="subscription ID; default: AZURE_SUBSCRIPTION_ID, ARM_SUBSCRIPTION_ID, "
                        "the stack's azure-native:subscriptionId, then az account show")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON document")
    args = parser.parse_args(argv)

    try:
        path, stack = stack_from_args(args)
        # Secrets do not change what Azure is asked: check before they are set, and say so.
        raw, secret, stand_ins = stand_in_secrets(*read_stack_file(path))
        cfg = parse_config(raw, secret)
        missing = missing_secrets(cfg, stand_ins)
    except (PlanError, ConfigError) as exc:
        print(str(exc), file=err)
        return 2
    except Exception as exc:  # a bug, not bad input: one line, traceback on request
        return unexpected(exc, doing="the stack config could not be checked", stream=err, status=2)
    if clients is not None:
        subscription, where = clients.subscription_id, "as given"
    else:
        found = resolve_subscription(args.subscription, raw)
        if found is None:
            print("no Azure subscription: run az login (or pass --subscription, or set AZURE_SUBSCRIPTION_ID)",
                  file=err)
            return 2
        subscription, where = found
        if not GUID.fullmatch(subscription):
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
            checks = run_checks(cfg, active, stack)
        finally:
            if built:
                _close(active)
    except AzureError as exc:
        print(error_message(exc), file=err)
        return 2

    if args.json:
        print(json.dumps({**report_json(checks, subscription, cfg.location), "missingSecrets": missing}, indent=2),
              file=out)
    else:
        print(render_report(checks, subscription, where, cfg.location), file=out)
        if missing:
            print("\n".join(["", *missing_secrets_lines(missing)]), file=out)
    return 0 if all(c.ok for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())


def sleep_hint(stack: str, tljh: bool = False) -> str:
    """The warning when a stack with a sleep schedule cannot learn whether its cluster (or VM) is awake."""
    if tljh:
        return ("this stack has a sleep schedule; if the VM is asleep, Azure refuses to update its reconfigure "
                f"extension and pulumi up fails half-way: ./run python -m tools.ops wake --stack {stack}")
    return ("this stack has a sleep schedule; if the cluster is asleep the preview will hang on the Kubernetes API: "
            f"./run python -m tools.ops wake --stack {stack}")


def awake_checks(cfg: StackConfig, clients: Clients, stack: str | None) -> list[Check]:
    """Only the cluster's (or TLJH VM's) power state: one ARM read, no quota or size reads."""
    group = naming.resource_group(cfg)
    if cfg.tljh:
        asleep = check_vm_awake(clients.aks.vm_instance_view(group, naming.vm(cfg)), stack)
        return [asleep] if asleep else [Check("vm power", True, "the VM is not deallocated (or not created yet)")]
    asleep = check_cluster_awake(clients.aks.managed_cluster(group, naming.cluster(cfg)), stack)
    return [asleep] if asleep else [Check("cluster power", True, "the cluster is not stopped (or not created yet)")]


def check_during_pulumi(cfg: StackConfig, raw_config: Mapping[str, str],
                        warn: Callable[[str], None]) -> list[Check] | None:
    """The checks at the start of `pulumi preview`/`up` (see `__main__.py`), when Azure
    credentials look present and BINDERHUB_AZURE_SKIP_PREFLIGHT is not set. Problems become
    warnings, not errors: on a stack that already runs, its own nodes count against the free
    quota, so a tight quota could fail an update falsely. If the checks cannot run, one warning
    says why and the deployment goes on.

    A stopped cluster is the exception: it stops the run, since the Kubernetes provider would
    wait on its API server. So with a sleep schedule (Kubernetes modes) the power check runs
    even with `preflight: false` (alone then: one ARM read), and when it cannot run the warning
    says how to wake the cluster. BINDERHUB_AZURE_SKIP_PREFLIGHT (the offline plan) skips it too."""
    sleeps = cfg.schedule is not None and not cfg.federated
    if (not cfg.preflight and not sleeps) or os.environ.get(SKIP_ENV):
        return None
    import pulumi

    # The way to wake a sleeping cluster names this stack.
    stack = pulumi.get_stack() or "<stack>"
    hint = f"; {sleep_hint(stack, cfg.tljh)}" if sleeps else ""
    if not should_run_in_pulumi_up():
        if sleeps:
            warn(f"the sleep schedule's awake check cannot run: no Azure credentials found (az login){hint}")
        return None
    found = resolve_subscription(None, raw_config)
    if found is None:
        warn(f"pre-flight checks skipped: no subscription ID found (set azure-native:subscriptionId){hint}")
        return None
    subscription, source = found
    clients = None
    try:
        clients = build_clients(subscription)
        checks = run_checks(cfg, clients) if cfg.preflight else awake_checks(cfg, clients, stack)
    except Exception as err:  # never block a deployment because the checks could not run
        warn(f"pre-flight checks skipped: {error_message(err) or type(err).__name__}{hint}")
        return None
    finally:
        if clients is not None:
            _close(clients)
    checks = [replace(c, detail=c.detail.replace("--stack <stack>", f"--stack {stack}")) for c in checks]
    if not all(c.ok and not c.warning for c in checks):
        warn(render_report(checks, subscription, source, cfg.location)
             + ("\n(set binderhub-azure:preflight false to skip these checks)" if cfg.preflight else ""))
    stops = [c for c in checks if not c.ok and c.stops_up]
    if stops:
        raise pulumi.RunError("pre-flight: Azure would refuse this:\n" + "\n".join(
            f"{c.name}: {' '.join(c.detail.split(chr(10)))}" for c in stops))
    return checks
