"""Post-deploy smoke test: does the deployed site work when reached from outside, as a user does?

    ./run python -m tools.ops check [--stack NAME] [--outputs-json PATH|-] [--repo SPEC]
                                   [--timeout SECONDS] [--ca-bundle PATH] [--follow]

Checks, one line each, OK, FAIL or SKIP, with a hint line under a failure where one helps:

  site        `<url>` answers; over HTTPS its certificate must verify against the system trust
              store (or only the CAs in --ca-bundle) and match the host name
  jupyterhub  `<hubUrl>hub/health` answers 200 and `<hubUrl>hub/api` gives JupyterHub's version
  binderhub   binderhub mode: `<url>health` reports `"ok": true`
  launch      binderhub mode: `GET <url>build/<repo>` (an event stream) builds or finds the image
              and starts a server
  relaunch    binderhub mode: the same repository again starts without building; a rebuild is
              the registry problem of jupyterhub/binderhub#1620
  github-quota  binderhub mode: GitHub API requests BinderHub has left this hour, from its public
              `<url>metrics` (binderhub_github_rate_limit_remaining); information, OK or SKIP

A federation stack (`mode` output `federation`) gets its own checks instead: the front page, the
redirector's /health, a launch whose redirect must name a healthy member with path and query
kept, that member's BinderHub /health, and with `--follow` a launch on it (tools/federation_ops.py).

Mode: the `mode` output. A stack deployed before that output existed: binderhub when the
`hubUrl` output differs from `url`, since only BinderHub moves its JupyterHub to `<url>jupyter/`
(hub_spec.py); jupyterhub and tljh stacks export one address for both. Without a `hubUrl`
output either, the resource group's name decides (`rg-<institution>-binderhub`,
`outputs.mode_hint`), with the hub then assumed at `<url>jupyter/`.
`registryLoginServer` is not used: a binderhub stack that pushes to Docker Hub has none.

Launches are anonymous. With a login configured (`auth.type` github or entra) BinderHub refuses
them, and the launch checks are skipped with a note. Each test server that starts is stopped
again through its own `POST <server>api/shutdown` with its token; a failure there is reported
but is not a failed check (the idle culler removes the server later). `--timeout` bounds each
launch (default 900 s, time enough for a first build of the default repository).

Exit status: 0 when every check is OK (or skipped), 1 when any check FAILs, 2 with one line when
the test cannot run (stack not deployed, no `url` output, bad option). The launch token and the
stack's secret outputs are never printed.

Layers, as in ops.py: pure functions parse the event stream (`parse_sse`, `parse_events`),
summarise and judge a launch (`summarize_launch`, `judge_launch`), word connection and
certificate errors (`classify_error`) and render the report (`render_report`); the HTTP layer
(`check_site`, `check_jupyterhub`, `check_binderhub`, `launch`, `stop_server`, `run_checks`)
goes through an `urllib.request.OpenerDirector` that tests replace to reach local fake servers.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import ssl
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote, urljoin, urlsplit

from . import outputs as stack_outputs
from .outputs import (
    OpsError,
)
from .smoke_report import (
    FAIL,
    FAILED_PHASES,
    GITHUB_QUOTA_METRIC,
    NETWORK_ERRORS,
    OK,
    REBUILD_HINT,
    SKIP,
    STATUS_HINT,
    Check,
    LaunchResult,
    Site,
    _one_line,
    _slash,
    classify_error,
    github_quota_detail,
    judge_launch,
    metric_value,
    parse_events,
    parse_sse,
    render_report,
    site_from_outputs,
    summarize_launch,
    with_certificate_state,
    with_note,
)
from .stackfile import stack_name_argument

# Re-exported: callers (and the tests) use this module as the command's public face.
__all__ = [
    "REBUILD_HINT",
    "Check",
    "LaunchResult",
    "Site",
    "classify_error",
    "judge_launch",
    "parse_events",
    "parse_sse",
    "render_report",
    "site_from_outputs",
    "summarize_launch",
]

DEFAULT_REPO = "gh/binder-examples/requirements/HEAD"
DEFAULT_TIMEOUT = 900.0
# Plain requests (health, API, shutdown): the hub answers these in well under a second, so a
# slow answer is itself a symptom, and a dropped packet should not hang the report.
HTTP_TIMEOUT = 20.0
# BinderHub writes a keepalive comment every 25 s while a build is quiet, so a minute without
# a single byte means the stream is dead rather than slow.
STREAM_READ_TIMEOUT = 60.0
MAX_BODY = 256 * 1024  # of a health or API answer; they are tiny
MAX_LINE = 1024 * 1024  # of one event-stream line; build logs are short lines
USER_AGENT = "binderhub-azure-smoke-test"



# --------------------------------------------------------------------------- HTTP


def make_opener(ca_bundle: str | None = None) -> urllib.request.OpenerDirector:
    """An opener that verifies certificates against the system trust store, or against only the
    CAs in `ca_bundle` (a PEM file)."""
    try:
        context = ssl.create_default_context(cafile=ca_bundle)
    except (OSError, ssl.SSLError) as err:
        raise OpsError(f"cannot use --ca-bundle {ca_bundle}: {getattr(err, 'strerror', None) or err}") from None
    return urllib.request.build_opener(urllib.request.HTTPSHandler(context=context))


@dataclass(frozen=True)
class Answer:
    status: int
    url: str
    """After redirects."""
    content_type: str
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None


def _request(url: str, *, accept: str = "*/*", headers: dict[str, str] | None = None) -> urllib.request.Request:
    return urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Accept": accept, **(headers or {})})


def _open(opener: urllib.request.OpenerDirector, request: urllib.request.Request, timeout: float) -> Any:
    """The response, also for HTTP error statuses (whose body still says what is wrong: BinderHub's
    /health is JSON with a 503); connection problems raise."""
    try:
        return opener.open(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.fp is None:
            raise
        return err


def fetch(opener: urllib.request.OpenerDirector, url: str, *, timeout: float = HTTP_TIMEOUT) -> Answer:
    """GET `url`; any HTTP status is an answer."""
    response = _open(opener, _request(url), timeout)
    with contextlib.closing(response):
        body = response.read(MAX_BODY)
        return Answer(status=response.status, url=response.geturl() or url,
                      content_type=response.headers.get("Content-Type", ""), body=body)


def _status_hint(status: int) -> str:
    if status in (502, 503, 504):
        return f"the ingress has no ready service behind this address ({STATUS_HINT})"
    if status == 404:
        return f"nothing is routed to this path: the hub's ingress may be missing ({STATUS_HINT})"
    return ""


def check_site(opener: urllib.request.OpenerDirector, url: str, *, trust: str,
               public_ip: str | None = None) -> tuple[Check, bool]:
    """The site answers (over HTTPS: with a certificate that verifies and matches). Also says
    whether it answered at all, so that the other checks need not repeat a connection error."""
    try:
        answer = fetch(opener, url)
    except NETWORK_ERRORS as err:
        return Check("site", FAIL, classify_error(err, url, timeout=HTTP_TIMEOUT, public_ip=public_ip)), False
    if urlsplit(url).scheme == "https":
        how = f"over HTTPS; certificate valid for the host ({trust})"
    else:
        how = "over plain HTTP (https is off: no certificate to check)"
    if answer.status >= 400:
        return Check("site", FAIL, f"{url} answered HTTP {answer.status} {how}", _status_hint(answer.status)), True
    return Check("site", OK, f"{url} answers HTTP {answer.status} {how}"), True


def check_jupyterhub(opener: urllib.request.OpenerDirector, hub_url: str) -> Check:
    """JupyterHub's health endpoint answers 200, and its API root its version."""
    health, api = f"{hub_url}hub/health", f"{hub_url}hub/api"
    try:
        answer = fetch(opener, health)
        if answer.status != 200:
            return Check("jupyterhub", FAIL, f"{health} answered HTTP {answer.status}",
                         _status_hint(answer.status) or "./run python -m tools.ops logs hub")
        answer = fetch(opener, api)
    except NETWORK_ERRORS as err:
        return Check("jupyterhub", FAIL, classify_error(err, hub_url, timeout=HTTP_TIMEOUT))
    data = answer.json()
    version = data.get("version") if isinstance(data, dict) else None
    if answer.status != 200 or not version:
        kind = answer.content_type.split(";")[0] or "no content type"
        return Check("jupyterhub", FAIL, f"{api} did not give JupyterHub's version (HTTP {answer.status}, {kind})",
                     "is JupyterHub at the hubUrl output's address? (./run python -m tools.ops info)")
    return Check("jupyterhub", OK, f"JupyterHub {_one_line(version, 40)}: {health} 200")


# BinderHub's /health names its checks by service; what to look at when one is not ok.
SERVICE_HINTS = {
    "Docker registry": "BinderHub cannot query its image registry: the registry credentials or ACR token URL",
    "JupyterHub API": "BinderHub cannot reach JupyterHub inside the cluster (proxy-public, the hub pod)",
}


def _describe_service(check: dict[str, Any]) -> str:
    extra = {k: v for k, v in check.items() if k not in ("service", "ok") and not str(k).startswith("_")}
    details = ", ".join(f"{k}={v}" for k, v in extra.items())
    return f"{check.get('service', '?')} not ok" + (f" ({details})" if details else "")


def check_binderhub(opener: urllib.request.OpenerDirector, url: str) -> Check:
    """BinderHub's /health: `{"ok": bool, "checks": [{"service": ..., "ok": ...}, ...]}`, 503 when
    not ok. Checks marked `_ignore_failure` (the pod quota) are information, not failures."""
    health = f"{url}health"
    try:
        answer = fetch(opener, health)
    except NETWORK_ERRORS as err:
        return Check("binderhub", FAIL, classify_error(err, url, timeout=HTTP_TIMEOUT))
    data = answer.json()
    if not isinstance(data, dict) or "ok" not in data:
        return Check("binderhub", FAIL, f"{health} answered HTTP {answer.status} without BinderHub's health report",
                     _status_hint(answer.status) or f"is BinderHub at the url output's address? ({STATUS_HINT})")
    checks = [c for c in data.get("checks") or [] if isinstance(c, dict)]
    if data["ok"] is True:
        services = ", ".join(str(c.get("service", "?")) for c in checks)
        return Check("binderhub", OK, f"{health}: ok" + (f" ({services})" if services else ""))
    bad = [c for c in checks if not c.get("ok") and not c.get("_ignore_failure")]
    hints = [SERVICE_HINTS[str(c.get("service"))] for c in bad if str(c.get("service")) in SERVICE_HINTS]
    return Check("binderhub", FAIL, f"{health}: not ok: " + ("; ".join(_describe_service(c) for c in bad)
                                                             or "no failing check named"),
                 "; ".join([*hints, "./run python -m tools.ops logs binder"]))


def check_github_quota(opener: urllib.request.OpenerDirector, url: str) -> Check:
    """BinderHub's remaining GitHub API quota from its `/metrics` (public: the ingress sends every
    path of the site to BinderHub, and BinderHub serves metrics without login). Information,
    never a failure: the launch checks fail when the quota is gone."""
    metrics = f"{url}metrics"
    try:
        answer = fetch(opener, metrics)
    except NETWORK_ERRORS as err:
        return Check("github-quota", SKIP, f"{metrics}: {classify_error(err, url, timeout=HTTP_TIMEOUT)}")
    if answer.status != 200:
        return Check("github-quota", SKIP, f"{metrics} answered HTTP {answer.status}: no quota to report")
    remaining = metric_value(answer.body.decode("utf-8", "replace"), GITHUB_QUOTA_METRIC)
    if remaining is None:
        return Check("github-quota", SKIP, f"{metrics} has no {GITHUB_QUOTA_METRIC}")
    return Check("github-quota", OK, github_quota_detail(remaining))


def _stream_lines(response: Any, deadline: float, clock: Callable[[], float]) -> Iterator[str]:
    while True:
        if clock() > deadline:
            raise TimeoutError("launch deadline")
        raw = response.readline(MAX_LINE)
        if not raw:
            return
        yield raw.decode("utf-8", "replace")


def launch(opener: urllib.request.OpenerDirector, url: str, spec: str, *, timeout: float,
           clock: Callable[[], float] = time.monotonic) -> LaunchResult:
    """Launch `spec` through BinderHub's build API and follow its event stream until the server is
    ready, the launch fails, or `timeout` seconds pass. Connection errors raise."""
    build_url = f"{url}build/{quote(spec, safe='/%:@')}"
    # BinderHub answers 400 to a build request that does not accept an event stream.
    request = _request(build_url, accept="text/event-stream", headers={"Cache-Control": "no-cache"})
    start = clock()
    # The socket timeout bounds each read, so the deadline is overrun by at most one read.
    read_timeout = min(STREAM_READ_TIMEOUT, timeout)
    response = _open(opener, request, read_timeout)
    with contextlib.closing(response):
        content_type = response.headers.get("Content-Type", "")
        if not content_type.startswith("text/event-stream"):
            final = response.geturl() or build_url
            if "login" in urlsplit(final).path or "oauth" in urlsplit(final).path:
                return LaunchResult("login", seconds=clock() - start)
            return LaunchResult("error", message=f"{build_url} answered HTTP {response.status} with "
                                f"{content_type.split(';')[0] or 'no content type'} instead of an event stream",
                                seconds=clock() - start)
        events: list[dict[str, Any]] = []
        timed_out = False
        try:
            for event in parse_events(_stream_lines(response, start + timeout, clock)):
                events.append(event)
                if event.get("phase") == "ready" or event.get("phase") in FAILED_PHASES:
                    break
        except TimeoutError:
            timed_out = True
            if clock() - start < timeout:
                events.append({"message": f"no data for {read_timeout:g} s, although BinderHub sends a "
                                          "keepalive every 25 s"})
        except (OSError, http.client.HTTPException) as err:
            # The stream broke mid-way: report what arrived, and how it ended.
            events.append({"message": classify_error(err, build_url)})
    return summarize_launch(events, timed_out=timed_out, seconds=clock() - start)


def stop_server(opener: urllib.request.OpenerDirector, server_url: str, token: str) -> str | None:
    """Stop a launched test server through its own shutdown endpoint; None when it answered,
    otherwise why not (never containing the token)."""
    shutdown = f"{_slash(server_url)}api/shutdown"
    request = urllib.request.Request(shutdown, data=b"", method="POST",
                                     headers={"User-Agent": USER_AGENT, "Authorization": f"token {token}"})
    try:
        with contextlib.closing(opener.open(request, timeout=HTTP_TIMEOUT)) as response:
            final = response.geturl() or shutdown
    except urllib.error.HTTPError as err:
        return f"HTTP {err.code}"
    except NETWORK_ERRORS as err:
        return classify_error(err, shutdown, timeout=HTTP_TIMEOUT)
    if final != shutdown:
        # A server that does not accept the token redirects to the hub's login page, which
        # answers 200: that is no shutdown.
        return f"redirected to {urlsplit(final).path}: the token was not accepted"
    return None


def _launch_and_stop(opener: urllib.request.OpenerDirector, site: Site, spec: str, *, timeout: float,
                     again: bool, secrets: list[str]) -> tuple[Check, LaunchResult]:
    name = "relaunch" if again else "launch"
    try:
        result = launch(opener, site.url, spec, timeout=timeout)
    except NETWORK_ERRORS as err:
        return Check(name, FAIL, f"{spec}: {classify_error(err, site.url, timeout=STREAM_READ_TIMEOUT)}"), \
            LaunchResult("error")
    if result.token:
        secrets.append(result.token)
    check = judge_launch(result, spec, again=again)
    if result.outcome != "ready":
        return check, result
    if not (result.server_url and result.token):
        return with_note(check, "the ready event has no server url or token: the test server was not stopped"), \
            result
    problem = stop_server(opener, urljoin(site.url, result.server_url), result.token)
    note = ("test server stopped" if problem is None
            else f"could not stop the test server ({problem}); the idle culler will")
    return with_note(check, note), result


def run_checks(site: Site, opener: urllib.request.OpenerDirector, *, repo: str = DEFAULT_REPO,
               timeout: float = DEFAULT_TIMEOUT, trust: str = "system trust store",
               public_ip: str | None = None, secrets: list[str] | None = None,
               certificates: Callable[[], Sequence[Any] | None] | None = None) -> list[Check]:
    """Every check for this site, in order. `secrets` collects the launch tokens, for redaction;
    `certificates` reads cert-manager's view of the certificate when HTTPS fails."""
    secrets = secrets if secrets is not None else []
    site_check, reachable = check_site(opener, site.url, trust=trust, public_ip=public_ip)
    if site_check.failed and urlsplit(site.url).scheme == "https":
        host = urlsplit(site.url).hostname or ""
        site_check = with_certificate_state(site_check, host, certificates() if certificates else None)
    checks = [site_check]
    names = ["jupyterhub", *(["binderhub", "launch", "relaunch", "github-quota"] if site.binder else [])]
    if not reachable:
        # Every other request would fail the same way: one diagnosis is enough.
        return [*checks, *(Check(name, SKIP, "the site does not answer (see above)") for name in names)]
    checks.append(check_jupyterhub(opener, site.hub_url))
    if not site.binder:
        return checks
    checks.append(check_binderhub(opener, site.url))
    first_check, first = _launch_and_stop(opener, site, repo, timeout=timeout, again=False, secrets=secrets)
    checks.append(first_check)
    if first.outcome == "ready":
        checks.append(_launch_and_stop(opener, site, repo, timeout=timeout, again=True, secrets=secrets)[0])
    elif first.outcome == "login":
        checks.append(Check("relaunch", SKIP, "BinderHub requires a login (see above)"))
    else:
        checks.append(Check("relaunch", SKIP, "not tried: the first launch did not start a server"))
    # After the launches: a GitHub launch has just set the gauge.
    checks.append(check_github_quota(opener, site.url))
    return checks


# A federation stack's checks (tools/federation_ops.py, which builds on this module's HTTP layer):
# (args, outputs, opener, secrets) -> (site, checks), or None when the stack is no federation.
FederationChecks = Callable[[argparse.Namespace, dict[str, Any], "urllib.request.OpenerDirector | None", list[str]],
                            "tuple[Site, list[Check]] | None"]


# --------------------------------------------------------------------------- command line


def add_arguments(parser: argparse.ArgumentParser, *, stack_options: bool = True) -> None:
    """The options of `check`; `stack_options=False` when the parser already has --stack and
    --outputs-json (ops.py's common parent parser)."""
    if stack_options:
        parser.add_argument("--stack", type=stack_name_argument,
                            help="Pulumi stack name (default: the selected stack)")
        parser.add_argument("--outputs-json", metavar="PATH",
                            help="file with the output of `pulumi stack output --json --show-secrets` "
                                 "(- reads stdin) instead of running pulumi")
    parser.add_argument("--repo", default=DEFAULT_REPO, metavar="SPEC",
                        help=f"BinderHub spec to launch twice, provider/...; default {DEFAULT_REPO}")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                        help=f"longest wait for each launch (default {DEFAULT_TIMEOUT:g}, for a first build)")
    parser.add_argument("--ca-bundle", metavar="PATH",
                        help="PEM file of the CAs to trust instead of the system trust store")
    parser.add_argument("--follow", action="store_true",
                        help="federation: also launch --repo on the member the redirect names (it builds there "
                             "if that member has no image yet); without it the redirect is checked, not followed")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="./run python -m tools.ops check",
                                     description="Smoke test of a deployed stack, from outside: HTTPS, "
                                                 "JupyterHub, BinderHub and two launches of a repository.")
    add_arguments(parser)
    return parser


def run(args: argparse.Namespace, *, outputs: dict[str, Any] | None = None,
        opener: urllib.request.OpenerDirector | None = None, out: TextIO, err: TextIO,
        runner: stack_outputs.Runner = stack_outputs.run_pulumi,
        certificates: Callable[[dict[str, Any]], Sequence[Any] | None] | None = None,
        federation: FederationChecks | None = None) -> int:
    """Run the smoke test for parsed options; returns the exit status (0 ok, 1 a check failed,
    2 cannot run). `certificates(outputs)` reads the cluster's certificates (`ops check`);
    `federation(args, outputs, opener, secrets)` gives a federation stack's site and checks, None
    for any other stack (`ops check` passes tools/federation_ops.smoke_checks)."""
    secrets: list[str] = []
    try:
        if not args.timeout > 0:
            raise OpsError("--timeout must be a positive number of seconds")
        spec = args.repo.strip().strip("/")
        if "/" not in spec:
            raise OpsError(f"--repo {args.repo!r} is not a BinderHub spec like {DEFAULT_REPO}")
        if args.ca_bundle and not Path(args.ca_bundle).is_file():
            raise OpsError(f"no such --ca-bundle file: {args.ca_bundle}")
        if outputs is None:
            outputs = stack_outputs.read_outputs(args.stack, args.outputs_json, runner)
        secrets.extend(stack_outputs.secret_fragments(outputs))
        federated = federation(args, outputs, opener, secrets) if federation is not None else None
        if federated is not None:
            site, checks = federated
            out.write(stack_outputs.redact(render_report(site, checks), secrets) + "\n")
            out.flush()
            return 1 if any(c.failed for c in checks) else 0
        site = site_from_outputs(outputs, args.stack)
        if opener is None:
            opener = make_opener(args.ca_bundle)
        trust = f"--ca-bundle {args.ca_bundle}" if args.ca_bundle else "system trust store"
        public_ip = outputs.get("publicIp")
        known = outputs
        checks = run_checks(site, opener, repo=spec, timeout=args.timeout, trust=trust,
                            public_ip=public_ip if isinstance(public_ip, str) else None, secrets=secrets,
                            certificates=(lambda: certificates(known)) if certificates else None)
        out.write(stack_outputs.redact(render_report(site, checks), secrets) + "\n")
        out.flush()
        return 1 if any(c.failed for c in checks) else 0
    except OpsError as problem:
        err.write(f"error: {stack_outputs.redact(str(problem), secrets)}\n")
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as problem:  # a bug, not a state of the site: one line, traceback on request
        return stack_outputs.unexpected(problem, detail=stack_outputs.redact(_one_line(problem), secrets), stream=err,
                                        status=2)


def main(argv: Sequence[str] | None = None, *, outputs: dict[str, Any] | None = None,
         opener: urllib.request.OpenerDirector | None = None, out: TextIO | None = None,
         err: TextIO | None = None) -> int:
    """`check` from the command line; `outputs` and `opener` replace the stack outputs and the
    HTTP layer (tests)."""
    args = _parser().parse_args(list(argv) if argv is not None else None)
    return run(args, outputs=outputs, opener=opener, out=out or sys.stdout, err=err or sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
