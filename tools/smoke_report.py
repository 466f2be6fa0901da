"""What `ops check` makes of a site, as pure functions: check results, BinderHub's event
stream, a launch judged from its events, network and TLS errors classified, the report.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from components import letsencrypt

from . import outputs as stack_outputs
from .outputs import OpsError

MAX_DETAIL = 200


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
                "(./run python -m tools.ops logs binder)")
STATUS_HINT = "./run python -m tools.ops status"

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
                     "the build or launch log is in the binder pod's logs (./run python -m tools.ops logs binder)")
    if result.outcome == "login":
        return Check(name, SKIP, f"{spec}: BinderHub requires a login (auth.type is not none), so no anonymous "
                     "test launch; launch it twice in a browser instead: the second launch must not build")
    if result.outcome == "timeout":
        why = f": {result.message}" if result.message else ""
        return Check(name, FAIL, f"{spec}: not ready within {took} (last phase: {result.last_phase}){why}",
                     "a large repository may need a longer --timeout; otherwise see "
                     "./run python -m tools.ops logs binder")
    if result.outcome == "ended":
        return Check(name, FAIL, f"{spec}: the event stream ended after phase {result.last_phase} without "
                     f"ready or failed{': ' + result.message if result.message else ''}",
                     "a proxy cut the connection, or the binder pod restarted (./run python -m tools.ops status)")
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


# BinderHub's gauge of GitHub's remaining API quota (binderhub/repoproviders.py at af9ca8b1),
# served by BinderHub's own /metrics (app.py MetricsHandler, no login) at the site's root.
GITHUB_QUOTA_METRIC = "binderhub_github_rate_limit_remaining"
# GitHub's REST API limits: 60 requests an hour per address without a token, 5,000 with one
# (docs.github.com "Rate limits for the REST API"; BinderHub's setup guide says the same).
GITHUB_ANONYMOUS_LIMIT = 60


def metric_value(text: str, name: str) -> float | None:
    """The value of an unlabelled metric in Prometheus' text format, None if it is not there."""
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == name:
            try:
                return float(parts[1])
            except ValueError:
                return None
    return None


def github_quota_detail(remaining: float) -> str:
    """What the gauge says, with what it cannot say: it is set by BinderHub's last GitHub answer
    (0 until the binder pod's first GitHub launch), and the limit it counts down from."""
    count = f"{remaining:,.0f}"
    text = (f"{count} GitHub API requests left this hour ({GITHUB_QUOTA_METRIC}, as of BinderHub's last GitHub "
            "answer; 0 also means none since the binder pod started)")
    if remaining < GITHUB_ANONYMOUS_LIMIT:
        text += (f"; GitHub allows {GITHUB_ANONYMOUS_LIMIT} an hour per address without a token, 5,000 with one: "
                 "pulumi config set --secret githubToken")
    return text


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


# --------------------------------------------------------------------------- certificates (pure)


def with_certificate_state(check: Check, host: str, rows: Sequence[Any] | None) -> Check:
    """A failed HTTPS site check, with what cert-manager says about the certificate (`rows`, as
    `ops status` reads them; None when the cluster could not be asked): a Let's Encrypt rate
    limit with its date and what to do, or a certificate still pending. For an Azure DNS label
    without that answer, the rate limit Let's Encrypt shares among all of a region's labels."""
    if check.status != FAIL or "certificate" not in check.detail:
        return check
    limited = next((r for r in rows or [] if getattr(r, "rate_limit", None) is not None), None)
    if limited is not None:
        limit = limited.rate_limit
        when = f", retry after {limit.retry_after}" if limit.retry_after else ""
        return replace(check, detail=f"{check.detail}; Let's Encrypt refused the certificate: {limit.limit}{when}",
                       hint=letsencrypt.rate_limit_advice(limit, host))
    waiting = next((r for r in rows or [] if not r.ok), None)
    if waiting is not None:
        return replace(check, detail=f"{check.detail}; certificate {waiting.name} is {waiting.state}: "
                                     f"{_one_line(waiting.detail, 120)}",
                       hint=f"wait a few minutes, then {STATUS_HINT}")
    if rows is None and letsencrypt.under_azure_dns_label_zone(host):
        return replace(check, hint=f"{check.hint + '; ' if check.hint else ''}if it stays so: Let's Encrypt limits "
                                   f"certificates for all of {host.split('.', 1)[1]} together (every Azure DNS label "
                                   f"in the region); {STATUS_HINT} shows a refusal and its retry date; a domain of "
                                   "your own (binderhub-azure:domain) avoids the shared limit")
    return check
