"""Day-two operations on a deployed stack: what it serves, whether it is healthy, its logs.

    ./run python -m tools.ops info   [--stack NAME] [--outputs-json PATH|-]
    ./run python -m tools.ops status [--stack NAME] [--kubeconfig PATH] [--outputs-json PATH|-]
    ./run python -m tools.ops logs COMPONENT [--tail N] [--follow] [--previous]
                                 [--stack NAME] [--kubeconfig PATH] [--outputs-json PATH|-]
    ./run python -m tools.ops check [--repo SPEC] [--timeout S] [--ca-bundle PATH] [--follow] [--stack NAME]
    ./run python -m tools.ops launches [--days N] [--stack NAME] [--kubeconfig PATH] [--outputs-json PATH|-]
    ./run python -m tools.ops wake|sleep [--no-wait] [--subscription ID] [--stack NAME] [--outputs-json PATH|-]

A federation stack (mode federation) has no cluster: `info` lists its members and the schedule
of the redirector's health checks, `status` reads the redirector's own /health, `check` verifies
that a launch is redirected to a healthy member (tools/federation_ops.py); `logs`, `launches`,
`wake` and `sleep` say what to use instead.

`wake` starts the stack's AKS cluster (or VM) now and `sleep` stops (deallocates) it, whatever
the sleep schedule says; the schedule's next run still applies (tools/sleep_ops.py).

COMPONENT is one of hub, proxy, binder, ingress, cert-manager, user-scheduler.

The stack outputs come from `pulumi stack output --json --show-secrets`, or from a file
holding that JSON (`-` reads it from stdin). The cluster is reached with the `kubeconfig`
output (or `--kubeconfig PATH`). Nothing secret is ever printed: only the known public
outputs are shown, and the kubeconfig lives in a 0600 temporary file for as long as the
command runs.

Exit status: 0 when everything is ready (status) or the command worked; 1 when status finds
something not ready; 2 with a one-line message when the check cannot run (stack not
deployed, cluster unreachable, unknown component).

Layers: pure functions turn Kubernetes objects into rows and text (`pod_row`,
`component_status`, `certificate_row`, `log_targets`, `render_status`, ...);
`collect_status`, `print_logs` and `follow_logs` ask the cluster through an `Apis` pair
(built by `make_apis`; tests pass fakes); `main` wires the command line, the Pulumi runner
and the API factory together.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import urllib3
from kubernetes.client.exceptions import ApiException
from kubernetes.config import ConfigException

from . import federation_ops, launches, sleep_ops, smoke, smoke_report
from .outputs import (
    OpsError,
    Runner,
    exported_mode,
    https_hint,
    hub_namespace,
    kubeconfig_file,
    kubeconfig_text,
    mode_hint,
    read_outputs,
    redact,
    run_pulumi,
    secret_fragments,
    unexpected,
)
from .purge_status import PurgeLookup
from .stackfile import stack_name_argument
from .status import (
    ACME_GROUP,
    ACME_VERSION,
    BINDER_SERVICE,
    CERT_GROUP,
    CERT_PLURAL,
    CERT_VERSION,
    CHALLENGE_PLURAL,
    LOG_COMPONENTS,
    ORDER_PLURAL,
    CertificateRow,
    StatusReport,
    _short,
    certificate_row,
    challenge_row,
    component,
    component_status,
    components_for,
    detect_mode,
    pod_row,
    render_info,
    render_status,
    with_order_reasons,
)

# Re-exported: callers (and the tests) use this module as the command's public face.
__all__ = [
    "OpsError",
    "certificate_row",
    "component",
    "component_status",
    "components_for",
    "detect_mode",
    "mode_hint",
    "pod_row",
    "redact",
    "secret_fragments",
]

# Connect quickly or not at all: a stopped cluster or an IP allow-list that excludes this
# machine otherwise hangs until the operating system's TCP timeout (minutes).
CONNECT_TIMEOUT = 10
READ_TIMEOUT = 30
REQUEST_TIMEOUT = (CONNECT_TIMEOUT, READ_TIMEOUT)


# --------------------------------------------------------------------------- stack outputs


# --------------------------------------------------------------------------- cluster access


@dataclass(frozen=True)
class Apis:
    """The two Kubernetes APIs this module uses: `core` like `kubernetes.client.CoreV1Api`
    (list_namespace, list_namespaced_pod, read_namespaced_pod_log), `custom` like
    `CustomObjectsApi` (list_namespaced_custom_object). Tests pass fakes."""

    core: Any
    custom: Any


ApiFactory = Callable[[str], Apis]
CertificateLookup = Callable[[dict[str, Any]], "list[CertificateRow] | None"]


def make_apis(kubeconfig_path: str) -> Apis:
    """Clients for the cluster in this kubeconfig, on their own configuration object (the
    library's global default is left alone)."""
    from kubernetes import client, config

    configuration = client.Configuration()
    # persist_config=False: never write refreshed tokens back into a user's --kubeconfig file.
    config.load_kube_config(config_file=kubeconfig_path, client_configuration=configuration, persist_config=False)
    # One retry, not urllib3's three: an unreachable API server should be reported quickly.
    configuration.retries = 1
    api_client = client.ApiClient(configuration)
    return Apis(core=client.CoreV1Api(api_client), custom=client.CustomObjectsApi(api_client))


def _not_found(err: ApiException) -> bool:
    return err.status == 404


def _list_custom(apis: Apis, group: str, version: str, namespace: str, plural: str) -> list[dict[str, Any]] | None:
    """Objects of a custom kind, or None when the kind is not installed (cert-manager absent)."""
    try:
        found = apis.custom.list_namespaced_custom_object(group, version, namespace, plural,
                                                          _request_timeout=REQUEST_TIMEOUT)
    except ApiException as err:
        if _not_found(err):
            return None
        raise
    return list((found or {}).get("items") or [])


def collect_status(apis: Apis, outputs: dict[str, Any], outputs_note: str = "") -> StatusReport:
    """Ask the cluster about every component and the certificate."""
    namespaces = [ns.metadata.name for ns in apis.core.list_namespace(_request_timeout=REQUEST_TIMEOUT).items]
    mode = exported_mode(outputs) or detect_mode(namespaces, mode_hint(outputs))
    hub_ns = hub_namespace(outputs, mode)
    https = https_hint(outputs)
    statuses = []
    for comp in components_for(mode, https):
        namespace = comp.namespace or hub_ns
        pods = apis.core.list_namespaced_pod(namespace, label_selector=comp.selector,
                                             _request_timeout=REQUEST_TIMEOUT).items
        statuses.append(component_status(comp, namespace, pods))
    if https is None and any(s.component.name == "cert-manager" and s.pods for s in statuses):
        # No outputs to say so, but a running cert-manager means the stack serves HTTPS.
        https = True
    report = StatusReport(outputs=outputs, mode=mode, https=https, components=statuses, outputs_note=outputs_note,
                          hub_namespace_output=outputs.get("hubNamespace") or None)
    if mode == "binderhub":
        report.github_quota = read_github_quota(apis, hub_ns)
    if https:
        certificates = _list_custom(apis, CERT_GROUP, CERT_VERSION, hub_ns, CERT_PLURAL)
        if certificates is not None:
            report.certificates = sorted((certificate_row(c) for c in certificates), key=lambda c: c.name)
            if not all(c.ok for c in report.certificates):
                challenges = _list_custom(apis, ACME_GROUP, ACME_VERSION, hub_ns, CHALLENGE_PLURAL) or []
                report.challenges = [challenge_row(c) for c in challenges]
                orders = _list_custom(apis, ACME_GROUP, ACME_VERSION, hub_ns, ORDER_PLURAL) or []
                report.certificates = with_order_reasons(report.certificates, orders)
    return report


def read_github_quota(apis: Apis, namespace: str) -> str:
    """BinderHub's `binderhub_github_rate_limit_remaining`, read through the Kubernetes API's proxy to
    the binder Service (the cluster's view, which works before DNS and HTTPS do; `ops check`
    reads the same metrics from outside). A refusal is reported, never a failed status."""
    try:
        text = apis.core.connect_get_namespaced_service_proxy_with_path(
            BINDER_SERVICE, namespace, "metrics", _request_timeout=REQUEST_TIMEOUT)
    except ApiException as err:
        return (f"unknown: the Kubernetes API's proxy to service {BINDER_SERVICE} in {namespace} answered "
                f"{_api_message(err)}")
    remaining = smoke_report.metric_value(str(text or ""), smoke_report.GITHUB_QUOTA_METRIC)
    if remaining is None:
        return f"unknown: BinderHub's /metrics has no {smoke_report.GITHUB_QUOTA_METRIC}"
    return smoke_report.github_quota_detail(remaining)


@dataclass(frozen=True)
class LogTarget:
    namespace: str
    pod: str
    container: str

    @property
    def label(self) -> str:
        return f"{self.namespace}/{self.pod} ({self.container})"


def log_targets(pods: Iterable[Any]) -> list[LogTarget]:
    """Every container of every pod (cert-manager has three pods; naming the container avoids
    the API's "a container name must be specified" for pods with more than one)."""
    targets = []
    for pod in sorted(pods, key=lambda p: p.metadata.name):
        containers = [c.name for c in (pod.spec.containers if pod.spec else None) or []]
        if not containers:
            containers = [s.name for s in (pod.status.container_statuses or [])] if pod.status else []
        targets += [LogTarget(pod.metadata.namespace, pod.metadata.name, name) for name in containers]
    return targets


def _api_message(err: ApiException) -> str:
    """The Kubernetes Status message of an API error, or its HTTP reason."""
    with contextlib.suppress(TypeError, ValueError, AttributeError):
        message = json.loads(err.body).get("message")
        if message:
            return _short(message)
    return f"{err.status} {err.reason or ''}".strip()


def print_logs(apis: Apis, targets: list[LogTarget], *, tail: int, previous: bool, out: TextIO) -> None:
    """The last lines of each container, each under a header naming it."""
    for target in targets:
        out.write(f"==> {target.label} <==\n")
        try:
            text = apis.core.read_namespaced_pod_log(target.pod, target.namespace, container=target.container,
                                                     tail_lines=tail, previous=previous or None,
                                                     _request_timeout=REQUEST_TIMEOUT)
        except ApiException as err:
            if err.status not in (400, 404):
                raise
            # 400: the container has not started yet, or has no previous instance.
            out.write(f"(no logs: {_api_message(err)})\n")
            continue
        text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text or "")
        out.write(text if text.endswith("\n") or not text else text + "\n")
    out.flush()


def follow_logs(apis: Apis, targets: list[LogTarget], *, tail: int, out: TextIO) -> None:
    """Stream every container's log as it grows, one thread per container, each line prefixed
    with its pod when there are several. Returns when every stream ends."""
    lock = threading.Lock()
    errors: list[BaseException] = []
    several = len(targets) > 1

    def pump(target: LogTarget) -> None:
        try:
            # _preload_content=False returns the raw HTTP response, read line by line as the
            # API server sends it; no read timeout, since a quiet pod is not a dead connection.
            response = apis.core.read_namespaced_pod_log(
                target.pod, target.namespace, container=target.container, follow=True, tail_lines=tail,
                _preload_content=False, _request_timeout=(CONNECT_TIMEOUT, None))
            try:
                for raw in response:
                    line = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
                    with lock:
                        out.write((f"[{target.pod}] " if several else "") + line
                                  + ("" if line.endswith("\n") else "\n"))
                        out.flush()
            finally:
                release = getattr(response, "release_conn", None)
                if release is not None:
                    release()
        except BaseException as err:  # handed to the main thread, which reports it
            errors.append(err)

    # Daemon threads: Ctrl-C in the main thread ends the command without waiting for streams.
    threads = [threading.Thread(target=pump, args=(t,), daemon=True) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(0.5)
    if errors:
        raise errors[0]


# --------------------------------------------------------------------------- errors


def _unreachable_message(err: BaseException, outputs: dict[str, Any]) -> str:
    cluster = outputs.get("clusterName") or "the cluster"
    group = outputs.get("resourceGroup")
    reason = getattr(err, "reason", None)
    if isinstance(err, ApiException):
        # Status 0 is the client's own wrapper (TLS failures); 5xx comes from the API's front end.
        cause = (str(reason).splitlines() or [""])[0] if not err.status else f"HTTP {err.status} {reason or ''}"
        cause = cause.strip() or "ApiException"
    else:
        cause = type(reason).__name__ if isinstance(reason, BaseException) else type(err).__name__
    host = getattr(getattr(err, "pool", None), "host", None)
    where = f"{host}, {cause}" if host else cause
    start = f" (az aks start -g {group} -n {cluster})" if group and outputs.get("clusterName") else ""
    if outputs.get("sleepSchedule"):
        start = " by its sleep schedule (./run python -m tools.ops wake starts it)"
    return (f"cannot reach the Kubernetes API server of {cluster} ({where}): the cluster may be stopped{start}, "
            "or its authorized IP ranges (cluster.authorizedIpRanges) may exclude this machine's address")


def cluster_error_message(err: BaseException, outputs: dict[str, Any]) -> str:
    """One line for an error from the Kubernetes client."""
    if isinstance(err, ApiException):
        if err.status == 401:
            return ("the cluster rejected the credentials (401 Unauthorized): the kubeconfig may be out of date; "
                    "run `pulumi refresh` and `pulumi up`, or pass a current --kubeconfig")
        if err.status == 403:
            return (f"the cluster refused access (403 Forbidden: {_api_message(err)}): with Entra ID, "
                    "`az login` as a member of cluster.entraAdminGroupIds")
        if not err.status or err.status >= 500:
            return _unreachable_message(err, outputs)
        return f"the Kubernetes API answered {_api_message(err)}"
    return _unreachable_message(err, outputs)


# Connection failures surface as urllib3 errors (MaxRetryError wrapping NewConnectionError or
# ConnectTimeoutError, ProtocolError) or as OSError from the socket layer.
CONNECTION_ERRORS = (urllib3.exceptions.HTTPError, OSError)


# --------------------------------------------------------------------------- command line


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--stack", type=stack_name_argument,
                        help="Pulumi stack name (default: the selected stack)")
    common.add_argument("--kubeconfig", metavar="PATH", help="kubeconfig file to use instead of the stack output")
    common.add_argument("--outputs-json", metavar="PATH",
                        help="file with the output of `pulumi stack output --json --show-secrets` "
                             "(- reads stdin) instead of running pulumi")
    parser = argparse.ArgumentParser(prog="./run python -m tools.ops",
                                     description="Day-two operations on a deployed binderhub-azure stack.")
    commands = parser.add_subparsers(dest="command", required=True,
                                     metavar="{status,logs,info,check,launches,wake,sleep}")
    commands.add_parser("status", parents=[common], help="components, pods and certificate; exit 0 when all ready")
    logs = commands.add_parser("logs", parents=[common], help="tail the logs of a component's pods")
    logs.add_argument("component", metavar="COMPONENT", help=", ".join(LOG_COMPONENTS))
    logs.add_argument("--tail", type=int, default=100, metavar="N", help="lines per container (default 100)")
    logs.add_argument("--follow", "-f", action="store_true", help="keep streaming new lines")
    logs.add_argument("--previous", action="store_true",
                      help="the previous (crashed) instance of each container")
    commands.add_parser("info", parents=[common], help="URLs, IP, DNS name, Azure names and the next step")
    check = commands.add_parser("check", parents=[common],
                                help="smoke test over HTTPS: certificate, hub health, a Binder launched twice")

    smoke.add_arguments(check, stack_options=False)
    launches = commands.add_parser("launches", parents=[common],
                                   help="Binder launches per repository over the last days (binderhub)")
    launches.add_argument("--days", type=int, default=7, metavar="N", help="how many days back (default 7)")
    for name, text in (("wake", "start the cluster (or VM) now and wait until it runs"),
                       ("sleep", "stop the cluster (deallocate the VM) now and wait until it is stopped")):
        power = commands.add_parser(name, parents=[common], help=text)
        power.add_argument("--no-wait", action="store_true", help="return once Azure accepted the request")
        power.add_argument("--subscription", help="subscription ID (default: as tools.preflight finds it)")
    return parser


def _launches(args: argparse.Namespace, runner: Runner, api_factory: ApiFactory, out: TextIO,
              secrets: list[str], now: datetime.datetime | None = None) -> int:
    """Read the launch-event file from the binder pod and print the counts per repository."""

    if args.days < 1:
        raise OpsError("--days must be at least 1")
    outputs = {} if args.kubeconfig else read_outputs(args.stack, args.outputs_json, runner)
    _not_for_federation(outputs, "launches")
    secrets.extend(secret_fragments(outputs))
    with _cluster(args, outputs, api_factory) as apis:
        text = launches.read_event_file(apis.core, "binderhub", request_timeout=REQUEST_TIMEOUT)
    if text is None:
        raise OpsError("no running binder pod in namespace binderhub (launch events exist only in binderhub mode "
                       "with binderSite.launchEvents on); see `./run python -m tools.ops status`")
    events, skipped = launches.parse_events(text.splitlines())
    now = now or datetime.datetime.now(datetime.UTC)
    rows = launches.count_launches(events, now=now, days=args.days)
    out.write(launches.render_launches(rows, now=now, days=args.days, skipped=skipped) + "\n")
    return 0


def _status(args: argparse.Namespace, runner: Runner, api_factory: ApiFactory, out: TextIO,
            secrets: list[str], purge_lookup: PurgeLookup | None = None) -> int:
    note = ""
    try:
        outputs = read_outputs(args.stack, args.outputs_json, runner)
    except OpsError as err:
        if args.kubeconfig is None:
            raise
        # The cluster can still be checked; only the URLs are unknown.
        outputs, note = {}, str(err)
    secrets.extend(secret_fragments(outputs))
    if federation_ops.is_federation(outputs):
        # No cluster: the redirector's own /health says how each member is seen.
        federation = federation_ops.read_status(outputs, federation_ops.make_openers()[0], args.stack)
        out.write(federation_ops.render_status(federation, datetime.datetime.now(datetime.UTC)) + "\n")
        return 0 if federation.ok else 1
    with _cluster(args, outputs, api_factory) as apis:
        report = collect_status(apis, outputs, note)
    if purge_lookup is not None and report.mode == "binderhub":
        report.purge = purge_lookup(outputs)
    out.write(render_status(report) + "\n")
    out.write("".join(line + "\n" for line in sleep_ops.schedule_lines(outputs, datetime.datetime.now(datetime.UTC))))
    return 0 if report.ok else 1


def _logs(args: argparse.Namespace, runner: Runner, api_factory: ApiFactory, out: TextIO, err: TextIO,
          secrets: list[str]) -> int:
    comp = component(args.component)
    if args.tail < 1:
        raise OpsError("--tail must be at least 1")
    if args.follow and args.previous:
        raise OpsError("--previous and --follow do not go together: a crashed container's log no longer grows")
    # With --kubeconfig the outputs are not needed: the cluster tells the mode.
    outputs = {} if args.kubeconfig else read_outputs(args.stack, args.outputs_json, runner)
    _not_for_federation(outputs, "logs")
    secrets.extend(secret_fragments(outputs))
    with _cluster(args, outputs, api_factory) as apis:
        names = [ns.metadata.name for ns in apis.core.list_namespace(_request_timeout=REQUEST_TIMEOUT).items]
        mode = exported_mode(outputs) or detect_mode(names, mode_hint(outputs))
        if comp.binder_only and mode != "binderhub":
            raise OpsError(f"{args.component} runs only in binderhub mode; this stack is {mode}")
        namespace = comp.namespace or hub_namespace(outputs, mode)
        pods = apis.core.list_namespaced_pod(namespace, label_selector=comp.selector,
                                             _request_timeout=REQUEST_TIMEOUT).items
        targets = log_targets(pods)
        if not targets:
            err.write(f"no {args.component} pods in namespace {namespace} (selector {comp.selector}); "
                      "see `./run python -m tools.ops status`\n")
            return 1
        if args.follow:
            follow_logs(apis, targets, tail=args.tail, out=out)
        else:
            print_logs(apis, targets, tail=args.tail, previous=args.previous, out=out)
    return 0


def _not_for_federation(outputs: dict[str, Any], command: str) -> None:
    """`logs`, `launches`, `wake` and `sleep` act on a cluster or VM, which a federation has not."""
    if not federation_ops.is_federation(outputs):
        return
    app, group = federation_ops.app_name(outputs) or "<app>", outputs.get("resourceGroup") or "<resource group>"
    instead = {
        "logs": f"its log is the container app's: az containerapp logs show -g {group} -n {app} --follow",
        "launches": "launches happen on the members: run it with --stack <member stack>; "
                    "`./run python -m tools.ops status` shows what the redirector sent to each",
    }.get(command, "its container app runs always (one replica, so a launch never waits); the members sleep by "
                   "their own schedules")
    raise OpsError(f"`{command}` is not for a federation stack, which has no cluster or VM: {instead}")


@contextlib.contextmanager
def _cluster(args: argparse.Namespace, outputs: dict[str, Any], api_factory: ApiFactory) -> Iterator[Apis]:
    """The APIs for the cluster, with the kubeconfig from --kubeconfig or the stack output (in a
    temporary file that is gone when the block ends). Client errors become one-line OpsErrors."""
    with contextlib.ExitStack() as stack:
        if args.kubeconfig:
            if not Path(args.kubeconfig).is_file():
                raise OpsError(f"no such kubeconfig file: {args.kubeconfig}")
            path = args.kubeconfig
        else:
            path = stack.enter_context(kubeconfig_file(kubeconfig_text(outputs, args.stack)))
        try:
            apis = api_factory(path)
        except ConfigException as err:
            raise OpsError(f"cannot use the kubeconfig: {_short(str(err))}") from None
        except Exception as err:  # e.g. YAML errors; their text may quote the file, so only the kind
            raise OpsError(f"cannot use the kubeconfig ({type(err).__name__})") from None
        try:
            yield apis
        except BrokenPipeError:
            raise  # our reader closed the pipe; the cluster is fine
        except (ApiException, *CONNECTION_ERRORS) as err:
            raise OpsError(cluster_error_message(err, outputs)) from None


ArmFactory = Callable[[argparse.Namespace], "tuple[sleep_ops.Arm, str]"]


def _arm(args: argparse.Namespace) -> tuple[sleep_ops.Arm, str]:
    return sleep_ops.make_arm(args.subscription, {})


def _power(args: argparse.Namespace, runner: Runner, out: TextIO, arm_factory: ArmFactory) -> int:
    """`wake` or `sleep`: start or stop the stack's cluster or VM now."""
    outputs = read_outputs(args.stack, args.outputs_json, runner)
    _not_for_federation(outputs, args.command)
    arm, subscription = arm_factory(args)
    target = sleep_ops.target_of(outputs, subscription)

    def say(line: str) -> None:
        out.write(line + "\n")
        out.flush()

    from azure.core.exceptions import AzureError

    from .preflight import error_message

    try:
        return sleep_ops.act(arm, target, args.command, wait=not args.no_wait, out=say)
    except AzureError as problem:  # no credentials, a refused token, no network: one line
        raise OpsError(error_message(problem) or type(problem).__name__) from None


def main(argv: Sequence[str] | None = None, *, runner: Runner = run_pulumi, api_factory: ApiFactory = make_apis,
         out: TextIO | None = None, err: TextIO | None = None, purge_lookup: PurgeLookup | None = None,
         certificates: CertificateLookup | None = None, arm_factory: ArmFactory = _arm) -> int:
    """Run one command; returns the exit status (0 ok, 1 not ready, 2 cannot check). `purge_lookup`
    reads the registry purge's last run from Azure (`status`); `certificates` reads the cluster's
    certificates for the smoke test (`check`); the command line passes the real ones."""
    out = out or sys.stdout
    err = err or sys.stderr
    args = _parser().parse_args(list(argv) if argv is not None else None)
    secrets: list[str] = []
    with _terminate_like_interrupt():
        return _main(args, runner, api_factory, out, err, secrets, purge_lookup, certificates, arm_factory)


class Terminated(BaseException):
    """SIGTERM arrived: unwind like Ctrl-C, so the temporary kubeconfig is removed."""


@contextlib.contextmanager
def _terminate_like_interrupt() -> Iterator[None]:
    """While a command runs, SIGTERM (a CI job cancelled, `kill`, a closed terminal session)
    raises `Terminated`; every `finally` runs, so the kubeconfig file is deleted as on SIGINT."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _raise(signum: int, frame: Any) -> None:
        raise Terminated(signum)

    before = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


def _main(args: argparse.Namespace, runner: Runner, api_factory: ApiFactory, out: TextIO, err: TextIO,
          secrets: list[str], purge_lookup: PurgeLookup | None = None,
          certificates: CertificateLookup | None = None, arm_factory: ArmFactory = _arm) -> int:
    try:
        if args.command == "info":
            outputs = read_outputs(args.stack, args.outputs_json, runner)
            if federation_ops.is_federation(outputs):
                out.write(federation_ops.render_info(outputs) + "\n")
                return 0
            out.write(render_info(outputs) + "\n")
            out.write("".join(line + "\n" for line in sleep_ops.schedule_lines(outputs, datetime.datetime.now(
                datetime.UTC))))
            return 0
        if args.command in ("wake", "sleep"):
            return _power(args, runner, out, arm_factory)
        if args.command == "status":
            return _status(args, runner, api_factory, out, secrets, purge_lookup)
        if args.command == "check":
            return smoke.run(args, out=out, err=err, runner=runner, certificates=certificates,
                             federation=federation_ops.smoke_checks)
        if args.command == "launches":
            return _launches(args, runner, api_factory, out, secrets)
        return _logs(args, runner, api_factory, out, err, secrets)
    except OpsError as problem:
        err.write(f"error: {redact(str(problem), secrets)}\n")
        return 2
    except UnicodeDecodeError:
        err.write("error: the outputs are not UTF-8 text (expected the output of "
                  "`pulumi stack output --json --show-secrets`)\n")
        return 2
    except RecursionError:
        err.write("error: the outputs nest too deeply to be stack outputs\n")
        return 2
    except KeyboardInterrupt:
        return 130
    except Terminated:
        return 143
    except BrokenPipeError:
        # The reader went away (`logs hub | head`): not an error. Point stdout at devnull so
        # that the interpreter's final flush does not complain either.
        if out is sys.stdout:
            with contextlib.suppress(OSError, ValueError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as problem:  # a bug, not a state of the cluster: one line, traceback on request
        return unexpected(problem, detail=redact(_short(str(problem)), secrets), stream=err, status=2)


def cluster_certificates(args: argparse.Namespace, api_factory: ApiFactory = make_apis) -> CertificateLookup:
    """The hub's certificates as `status` reads them, for the smoke test to say why HTTPS fails;
    None when the cluster cannot be asked (the smoke test then goes on without)."""

    def lookup(outputs: dict[str, Any]) -> list[CertificateRow] | None:
        if not outputs.get("kubeconfig") and not args.kubeconfig:
            return None
        try:
            with _cluster(args, outputs, api_factory) as apis:
                listed = apis.core.list_namespace(_request_timeout=REQUEST_TIMEOUT).items
                mode = exported_mode(outputs) or detect_mode([ns.metadata.name for ns in listed], mode_hint(outputs))
                hub_ns = hub_namespace(outputs, mode)
                found = _list_custom(apis, CERT_GROUP, CERT_VERSION, hub_ns, CERT_PLURAL)
                if found is None:
                    return None
                rows = [certificate_row(c) for c in found]
                if not all(r.ok for r in rows):
                    rows = with_order_reasons(rows, _list_custom(apis, ACME_GROUP, ACME_VERSION, hub_ns,
                                                                 ORDER_PLURAL) or [])
                return rows
        except (OpsError, ApiException, *CONNECTION_ERRORS):
            return None

    return lookup


def _cli() -> int:
    args = _parser().parse_args()
    from .purge_status import make_purge_lookup

    return main(purge_lookup=make_purge_lookup(), certificates=cluster_certificates(args))


if __name__ == "__main__":
    raise SystemExit(_cli())
