"""Post-deploy smoke test: does the deployed site work when reached from outside, as a user does?

    python -m tools.ops check [--stack NAME] [--outputs-json PATH|-] [--repo SPEC]
                                   [--timeout SECONDS] [--ca-bundle PATH]

Checks, one line each, OK, FAIL or SKIP, with a hint line under a failure where one helps:

  site        `<url>` answers; over HTTPS its certificate must verify against the system trust
              store (or only the CAs in --ca-bundle) and match the host name
  jupyterhub  `<hubUrl>hub/health` answers 200 and `<hubUrl>hub/api` gives JupyterHub's version
  binderhub   binderhub mode: `<url>health` reports `"ok": true`
  launch      binderhub mode: `GET <url>build/<repo>` (an event stream) builds or finds the image
              and starts a server
  relaunch    binderhub mode: the same repository again starts without building; a rebuild is
              the registry problem of jupyterhub/binderhub#1620

Mode: the `mode` output. A stack deployed before that output existed: binderhub when the
`hubUrl` output differs from `url`, since only BinderHub moves its JupyterHub to `<url>jupyter/`
(hub_values.py); jupyterhub and tljh stacks export one address for both. Without a `hubUrl`
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
import os
import socket
import ssl
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote, urljoin, urlsplit

from . import outputs as stack_outputs
from .outputs import OpsError

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
MAX_DETAIL = 200
USER_AGENT = "binderhub-azure-smoke-test"

OK, FAIL, SKIP = "OK", "FAIL", "SKIP"
# A launch's events carry BinderHub's own phases (waiting, built, launching, ready, failed) and,
# during a build, those of repo2docker's log lines (fetching, building, pushing, failed).
# Only a build emits these; "built" is not among them because BinderHub also sends it when it
# finds the image in the registry ("Found built image, launching..."), and "waiting" because it
# also announces a retry with HEAD for a deleted default branch.
BUILD_PHASES = frozenset({"fetching", "building", "pushing"})
FAILED_PHASES = frozenset({"failed", "failure"})  # BinderHub treats both as a failed build
REBUILD_HINT = ("BinderHub rebuilt an image it had pushed: it cannot see its own images in the registry "
                "(with ACR, jupyterhub/binderhub#1620: a DockerRegistry.token_url set through helmValues "
                "brings it back); check the binder pod's logs "
                "(python -m tools.ops logs binder)")
STATUS_HINT = "python -m tools.ops status"

# OpenSSL verification codes (X509_V_ERR_*) that mean "no trusted root behind this certificate".
UNTRUSTED_CODES = frozenset({2, 19, 20, 21, 27})
SELF_SIGNED_CODE = 18
EXPIRED_CODE = 10
HOST_MISMATCH_CODES = frozenset({62, 64})  # host name, IP address

# Everything a request can raise short of an HTTP answer.
NETWORK_ERRORS = (urllib.error.URLError, OSError, http.client.HTTPException)


# --------------------------------------------------------------------------- results (pure)


@dataclass(frozen=True)
class Check:
    """One line of the report."""

    name: str
    status: str
    """OK, FAIL or SKIP."""
    detail: str
    hint: str = ""

    @property
    def failed(self) -> bool:
        return self.status == FAIL


@dataclass(frozen=True)
class Site:
    """Where the stack serves, from its outputs."""

    url: str
    hub_url: str
    mode: str
    """binderhub or jupyterhub (tljh stacks are checked as jupyterhub)."""

    @property
    def binder(self) -> bool:
        return self.mode == "binderhub"


def _slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def _one_line(text: Any, limit: int = MAX_DETAIL) -> str:
    flat = " ".join(str(text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def site_from_outputs(outputs: dict[str, Any], stack: str | None = None) -> Site:
    """The site's URLs and mode (see the module docstring for the rule); OpsError without a
    usable `url` output."""
    url = outputs.get("url")
    if not isinstance(url, str) or not url.strip():
        label = f"stack {stack!r}" if stack else "the selected stack"
        raise OpsError(f"{label} has no url output: it has not been deployed yet, or `pulumi up` did not "
                       "finish (run `pulumi up`)")
    url = _slash(url.strip())
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
        raise OpsError(f"the url output {url!r} is not an http(s) address")
    hub = outputs.get("hubUrl")
    exported = stack_outputs.exported_mode(outputs)
    if isinstance(hub, str) and hub.strip():
        hub_url = _slash(hub.strip())
        mode = exported or ("binderhub" if hub_url != url else "jupyterhub")
    else:
        mode = "binderhub" if stack_outputs.mode_hint(outputs) == "binderhub" else "jupyterhub"
        hub_url = url + "jupyter/" if mode == "binderhub" else url
    return Site(url=url, hub_url=hub_url, mode=mode)


# --------------------------------------------------------------------------- event stream (pure)


def parse_sse(lines: Iterable[str]) -> Iterator[str]:
    """The data of each event in a text/event-stream: `data:` lines joined by newlines, an event
    ending at a blank line; comments (BinderHub's `:keepalive`) and other fields are skipped."""
    data: list[str] = []
    for raw in lines:
        line = raw.rstrip("\n").rstrip("\r")
        if not line:
            if data:
                yield "\n".join(data)
                data = []
            continue
        if line.startswith(":"):
            continue
        field, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if field == "data":
            data.append(value)
    # A stream cut after an event's last data line but before its blank line: the standard
    # drops that event, but it may be the one that says why the launch failed.
    if data:
        yield "\n".join(data)


def parse_events(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    """BinderHub's events: each data payload is a JSON object; other payloads become a message."""
    for payload in parse_sse(lines):
        try:
            event = json.loads(payload)
        except json.JSONDecodeError:
            event = {"message": payload}
        if isinstance(event, dict):
            yield event


@dataclass(frozen=True)
class LaunchResult:
    """What one `build/<spec>` request came to."""

    outcome: str
    """ready, failed, login (BinderHub wants a logged-in user), timeout, ended (the stream
    stopped before ready or failed) or error (no event stream at all)."""
    phases: tuple[str, ...] = ()
    """The phases in order, repeats collapsed (a build sends hundreds of `building` events)."""
    built: bool = False
    """This launch built the image (a fetching, building or pushing phase occurred)."""
    message: str = ""
    """Why it failed, or the last message before it stopped."""
    server_url: str | None = None
    token: str | None = None
    seconds: float = 0.0

    @property
    def last_phase(self) -> str:
        return self.phases[-1] if self.phases else "none"


def summarize_launch(events: Iterable[dict[str, Any]], *, timed_out: bool = False,
                     seconds: float = 0.0) -> LaunchResult:
    """Read events up to the first ready or failed one. `timed_out`: the events stop because
    the time ran out, not because the stream ended."""
    phases: list[str] = []
    built = False
    last_message = ""
    for event in events:
        phase = str(event.get("phase") or "")
        message = _one_line(event.get("message"))
        if phase and (not phases or phases[-1] != phase):
            phases.append(phase)
        built = built or phase in BUILD_PHASES
        if phase == "ready":
            url, token = event.get("url"), event.get("token")
            return LaunchResult("ready", tuple(phases), built, message,
                                server_url=url if isinstance(url, str) and url else None,
                                token=token if isinstance(token, str) and token else None, seconds=seconds)
        if phase in FAILED_PHASES:
            # BinderHub answers a GET on build/ from a user who is not logged in with a 403 as a
            # failed event whose message is just the HTTP reason (its redirect to the login page
            # is turned off, since an EventSource cannot follow it).
            if event.get("status_code") == 403 and message in ("", "Forbidden"):
                return LaunchResult("login", tuple(phases), built, message, seconds=seconds)
            # The build pod's failure comes without a message; the log line before it says why.
            return LaunchResult("failed", tuple(phases), built, message or last_message, seconds=seconds)
        if message:
            last_message = message
    return LaunchResult("timeout" if timed_out else "ended", tuple(phases), built, last_message, seconds=seconds)


def judge_launch(result: LaunchResult, spec: str, *, again: bool = False) -> Check:
    """The report line for a launch; `again`: the second launch of the same spec, which must
    find the image the first one pushed."""
    name = "relaunch" if again else "launch"
    took = f"{result.seconds:.0f} s"
    if result.outcome == "ready":
        if again and result.built:
            return Check(name, FAIL, f"{spec}: built the image again ({took}) instead of finding it",
                         REBUILD_HINT)
        if again:
            return Check(name, OK, f"{spec}: found the image in the registry, no rebuild; server ready in {took}")
        how = "built the image" if result.built else "found the image (built before)"
        return Check(name, OK, f"{spec}: {how}; server ready in {took}")
    if result.outcome == "failed":
        return Check(name, FAIL, f"{spec}: failed after phase {result.last_phase}: "
                     f"{result.message or 'no message'}",
                     "the build or launch log is in the binder pod's logs (python -m tools.ops logs binder)")
    if result.outcome == "login":
        return Check(name, SKIP, f"{spec}: BinderHub requires a login (auth.type is not none), so no anonymous "
                     "test launch; launch it twice in a browser instead: the second launch must not build")
    if result.outcome == "timeout":
        why = f": {result.message}" if result.message else ""
        return Check(name, FAIL, f"{spec}: not ready within {took} (last phase: {result.last_phase}){why}",
                     "a large repository may need a longer --timeout; otherwise see "
                     "python -m tools.ops logs binder")
    if result.outcome == "ended":
        return Check(name, FAIL, f"{spec}: the event stream ended after phase {result.last_phase} without "
                     f"ready or failed{': ' + result.message if result.message else ''}",
                     "a proxy cut the connection, or the binder pod restarted (python -m tools.ops status)")
    return Check(name, FAIL, f"{spec}: {result.message or 'no event stream'}")


def with_note(check: Check, note: str) -> Check:
    return replace(check, detail=f"{check.detail}; {note}")


# --------------------------------------------------------------------------- errors (pure)


def _where(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    host = parts.hostname or url
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return host, f"{host}:{port}"


def classify_error(err: BaseException, url: str, *, timeout: float | None = None,
                   public_ip: str | None = None) -> str:
    """One line for a request to `url` that got no usable HTTP answer."""
    host, address = _where(url)
    if isinstance(err, urllib.error.HTTPError):
        return f"{url} answered HTTP {err.code} {err.reason or ''}".rstrip()
    if isinstance(err, urllib.error.URLError):
        reason = err.reason
        if isinstance(reason, BaseException):
            return classify_error(reason, url, timeout=timeout, public_ip=public_ip)
        return f"cannot reach {address}: {_one_line(reason)}"
    if isinstance(err, ssl.SSLCertVerificationError):
        code = getattr(err, "verify_code", None)
        why = _one_line(getattr(err, "verify_message", None) or getattr(err, "reason", None) or err, 100)
        if code in HOST_MISMATCH_CODES:
            return (f"certificate does not match the host {host}: it was issued for another name (a changed "
                    f"`domain` not re-issued yet, or the DNS record points at another site; {STATUS_HINT}): {why}")
        if code == SELF_SIGNED_CODE:
            return ("certificate not trusted (self-signed: Traefik's default certificate, served until "
                    f"cert-manager has issued the real one; {STATUS_HINT}): {why}")
        if code == EXPIRED_CODE:
            return f"certificate expired: cert-manager did not renew it ({STATUS_HINT}): {why}"
        if code in UNTRUSTED_CODES:
            return f"certificate not trusted (a Let's Encrypt staging certificate? set letsEncrypt: production): {why}"
        return f"certificate rejected ({why})"
    if isinstance(err, ssl.SSLError):
        why = _one_line(getattr(err, "reason", None) or err, 100)
        return f"TLS handshake with {address} failed ({why})"
    if isinstance(err, socket.gaierror):
        record = f" (an A record to {public_ip})" if public_ip else ""
        return (f"the name {host} does not resolve yet: create the DNS record{record} / wait for propagation "
                f"(nslookup {host})")
    if isinstance(err, ConnectionRefusedError):
        return f"connection refused by {address}: nothing listens there (is the ingress running? {STATUS_HINT})"
    if isinstance(err, TimeoutError):
        within = f" within {timeout:g} s" if timeout else ""
        return (f"no answer from {address}{within}: the load balancer is not ready, or a firewall drops "
                "the traffic")
    if isinstance(err, ConnectionResetError):  # http.client.RemoteDisconnected among them
        return f"{address} closed the connection without answering"
    if isinstance(err, http.client.HTTPException):
        return f"{address} sent something that is not HTTP ({type(err).__name__})"
    if isinstance(err, OSError):
        return f"cannot reach {address}: {err.strerror or type(err).__name__}"
    return f"cannot reach {address}: {type(err).__name__}"


# --------------------------------------------------------------------------- report (pure)


def render_report(site: Site, checks: Sequence[Check]) -> str:
    """The one-screen report: a title, a line per check, a hint under a failure, a summary."""
    where = f", JupyterHub at {site.hub_url}" if site.binder else ""
    lines = [f"Smoke test of {site.url} ({site.mode} mode{where})"]
    width = max((len(c.name) for c in checks), default=0)
    for check in checks:
        lines.append(f"{check.status:<4}  {check.name:<{width}}  {check.detail}")
        if check.hint and check.status != OK:
            lines.append(f"{'':<4}  {'':<{width}}  hint: {check.hint}")
    failed = sum(c.failed for c in checks)
    skipped = sum(c.status == SKIP for c in checks)
    skip_note = f" ({skipped} skipped)" if skipped else ""
    if failed:
        lines.append(f"{failed} of {len(checks)} checks failed{skip_note}.")
    else:
        lines.append(f"All checks passed{skip_note}.")
    return "\n".join(lines)


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
                         _status_hint(answer.status) or "python -m tools.ops logs hub")
        answer = fetch(opener, api)
    except NETWORK_ERRORS as err:
        return Check("jupyterhub", FAIL, classify_error(err, hub_url, timeout=HTTP_TIMEOUT))
    data = answer.json()
    version = data.get("version") if isinstance(data, dict) else None
    if answer.status != 200 or not version:
        kind = answer.content_type.split(";")[0] or "no content type"
        return Check("jupyterhub", FAIL, f"{api} did not give JupyterHub's version (HTTP {answer.status}, {kind})",
                     "is JupyterHub at the hubUrl output's address? (python -m tools.ops info)")
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
                 "; ".join([*hints, "python -m tools.ops logs binder"]))


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
               public_ip: str | None = None, secrets: list[str] | None = None) -> list[Check]:
    """Every check for this site, in order. `secrets` collects the launch tokens, for redaction."""
    secrets = secrets if secrets is not None else []
    site_check, reachable = check_site(opener, site.url, trust=trust, public_ip=public_ip)
    checks = [site_check]
    names = ["jupyterhub", *(["binderhub", "launch", "relaunch"] if site.binder else [])]
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
    return checks


# --------------------------------------------------------------------------- command line


def add_arguments(parser: argparse.ArgumentParser, *, stack_options: bool = True) -> None:
    """The options of `check`; `stack_options=False` when the parser already has --stack and
    --outputs-json (ops.py's common parent parser)."""
    if stack_options:
        parser.add_argument("--stack", help="Pulumi stack name (default: the selected stack)")
        parser.add_argument("--outputs-json", metavar="PATH",
                            help="file with the output of `pulumi stack output --json --show-secrets` "
                                 "(- reads stdin) instead of running pulumi")
    parser.add_argument("--repo", default=DEFAULT_REPO, metavar="SPEC",
                        help=f"BinderHub spec to launch twice, provider/...; default {DEFAULT_REPO}")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                        help=f"longest wait for each launch (default {DEFAULT_TIMEOUT:g}, for a first build)")
    parser.add_argument("--ca-bundle", metavar="PATH",
                        help="PEM file of the CAs to trust instead of the system trust store")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tools.ops check",
                                     description="Smoke test of a deployed stack, from outside: HTTPS, "
                                                 "JupyterHub, BinderHub and two launches of a repository.")
    add_arguments(parser)
    return parser


def run(args: argparse.Namespace, *, outputs: dict[str, Any] | None = None,
        opener: urllib.request.OpenerDirector | None = None, out: TextIO, err: TextIO,
        runner: stack_outputs.Runner = stack_outputs.run_pulumi) -> int:
    """Run the smoke test for parsed options; returns the exit status (0 ok, 1 a check failed,
    2 cannot run)."""
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
        site = site_from_outputs(outputs, args.stack)
        if opener is None:
            opener = make_opener(args.ca_bundle)
        trust = f"--ca-bundle {args.ca_bundle}" if args.ca_bundle else "system trust store"
        public_ip = outputs.get("publicIp")
        checks = run_checks(site, opener, repo=spec, timeout=args.timeout, trust=trust,
                            public_ip=public_ip if isinstance(public_ip, str) else None, secrets=secrets)
        out.write(stack_outputs.redact(render_report(site, checks), secrets) + "\n")
        out.flush()
        return 1 if any(c.failed for c in checks) else 0
    except OpsError as problem:
        err.write(f"error: {stack_outputs.redact(str(problem), secrets)}\n")
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as problem:  # a bug, not a state of the site: one line, traceback on request
        if os.environ.get("BINDERHUB_AZURE_DEBUG"):
            raise
        err.write(f"error: {type(problem).__name__}: {stack_outputs.redact(_one_line(problem), secrets)} "
                  "(set BINDERHUB_AZURE_DEBUG=1 for a traceback)\n")
        return 2


def main(argv: Sequence[str] | None = None, *, outputs: dict[str, Any] | None = None,
         opener: urllib.request.OpenerDirector | None = None, out: TextIO | None = None,
         err: TextIO | None = None) -> int:
    """`check` from the command line; `outputs` and `opener` replace the stack outputs and the
    HTTP layer (tests)."""
    args = _parser().parse_args(list(argv) if argv is not None else None)
    return run(args, outputs=outputs, opener=opener, out=out or sys.stdout, err=err or sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
