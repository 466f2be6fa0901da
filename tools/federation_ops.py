"""`tools.ops info`, `status` and `check` for a federation stack (mode federation): the redirector
on Azure Container Apps in front of member BinderHubs (README, "A federation of Binders").

    info    the launch address, the members (name, address, weight, prime) and the schedule of
            the redirector's health checks, from the stack outputs (the `federation` output; a
            stack deployed before it existed has only `members`, without weight and prime)
    status  the redirector's own `<url>health` JSON: each member's state as the redirector sees
            it (healthy or not, why, when last checked, pods against quota), with the launches
            sent to each since the replica started (its `<url>metrics`)
    check   over the internet as a user would: the front page over HTTPS, `<url>health` with at
            least one healthy member, then a launch `<url>v2/<repo>?<query>` whose 302 must name
            a healthy member with the path and query unchanged, without following it; then that
            member's BinderHub `/health`. With `--follow`, a launch on that member as well
            (it builds the image there if the member has none; the test server is stopped)

Exit status, as in the other modes: 0 when everything is ready (every member healthy for
`status`, every check OK or skipped for `check`); 1 when something is not (a member unhealthy,
the redirector not answering, a redirect that leaves the federation); 2 when the command cannot
run (no `url` output, a bad option).

The outputs come the one way every `tools.ops` command reads them (tools/outputs.py): `pulumi
stack output --json --show-secrets`, or `--outputs-json FILE`. The HTTP layer is smoke.py's, with
an opener that does not follow redirects for the launch; tests reach a real redirector on
localhost in front of fake members.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import ssl
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from redirector import rendezvous

from . import smoke
from .outputs import OpsError
from .smoke import HTTP_TIMEOUT, fetch
from .smoke_report import FAIL, NETWORK_ERRORS, OK, SKIP, Check, Site, _one_line, _slash, classify_error

MODE = "federation"
# A launch query the redirector must pass on byte for byte (an encoded path, two parameters).
LAUNCH_QUERY = "urlpath=lab%2Ftree%2FREADME.md&filepath=a%20b"
POD_QUOTA = "Pod quota"  # BinderHub's check name, as redirector/health.py reads it
REDIRECTS_METRIC = "federation_redirects_total"


def is_federation(outputs: Mapping[str, Any]) -> bool:
    """A federation stack: its `mode` output, or (before that output existed) a `members` map and a
    resource group named `rg-<institution>-federation`."""
    if outputs.get("mode") == MODE:
        return True
    return "mode" not in outputs and isinstance(outputs.get("members"), Mapping) \
        and str(outputs.get("resourceGroup") or "").endswith(f"-{MODE}")


def launch_url(outputs: Mapping[str, Any], stack: str | None = None) -> str:
    """The federation's address (`url` output) with one trailing '/'; OpsError without one."""
    url = outputs.get("url")
    if not isinstance(url, str) or urlsplit(url.strip()).scheme not in ("http", "https") \
            or not urlsplit(url.strip()).hostname:
        label = f"stack {stack!r}" if stack else "the selected stack"
        raise OpsError(f"{label} has no usable url output ({url!r}): it has not been deployed yet, or `pulumi up` "
                       "did not finish (run `pulumi up`)")
    return _slash(url.strip())


# --------------------------------------------------------------------------- info (pure)


@dataclass(frozen=True)
class MemberInfo:
    name: str
    url: str
    weight: float | None = None
    """None: not in the outputs (a stack deployed before the `federation` output)."""
    prime: bool | None = None


def members_of(outputs: Mapping[str, Any]) -> tuple[list[MemberInfo], dict[str, Any] | None]:
    """The members and the check settings from the `federation` output, else the members' names
    and addresses from `members` (weight, prime and checks then unknown)."""
    doc = outputs.get("federation")
    if isinstance(doc, Mapping) and isinstance(doc.get("members"), list):
        members = [MemberInfo(str(m.get("name")), str(m.get("url")), _number(m.get("weight")),
                              m.get("prime") if isinstance(m.get("prime"), bool) else None)
                   for m in doc["members"] if isinstance(m, Mapping)]
        checks = doc.get("checks")
        return members, dict(checks) if isinstance(checks, Mapping) else None
    named = outputs.get("members")
    if isinstance(named, Mapping):
        return [MemberInfo(str(k), str(v)) for k, v in named.items()], None
    return [], None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _g(value: float | None) -> str:
    return "?" if value is None else f"{value:g}"


def schedule_lines(checks: Mapping[str, Any] | None) -> list[str]:
    """When and how the redirector checks each member (redirector/health.py)."""
    if not checks:
        return ["Health checks: not in this stack's outputs (deployed before the `federation` output existed; "
                "`pulumi up` adds it); `./run python -m tools.ops status` shows each member's last check"]
    period, failed = _number(checks.get("periodSeconds")), _number(checks.get("failedPeriodSeconds"))
    retries, timeout = _number(checks.get("retries")), _number(checks.get("timeoutSeconds"))
    headroom = _number(checks.get("podHeadroom"))
    return [
        f"Health checks: each member's <url>health every {_g(period)} s while it is healthy, every {_g(failed)} s "
        "after it failed (each wait varied by up to 5 % so checks spread out)",
        f"  {_g(retries)} attempt(s) of at most {_g(timeout)} s when a member does not answer; a failed BinderHub "
        f"check, or fewer than {_g(headroom)} free pod slots (\"Pod quota\"), makes it unhealthy at once",
    ]


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]


def render_info(outputs: Mapping[str, Any]) -> str:
    """`ops info` for a federation: where it is, its members, how they are checked, what next."""
    members, checks = members_of(outputs)
    rows = [[f"{label}:", str(outputs.get(key) or "-")] for label, key in (
        ("Launch address", "url"), ("Azure DNS name", "azureDnsName"), ("Resource group", "resourceGroup"))]
    lines = _table(rows)
    lines += ["", f"Members ({len(members)}): a launch goes to the healthy member that weighted rendezvous hashing "
                  "of its repository picks; the prime member gets them when none is healthy"]
    if members:
        table = [["  NAME", "URL", "WEIGHT", "PRIME"]]
        table += [[f"  {m.name}", m.url, _g(m.weight), {True: "prime", False: "", None: "?"}[m.prime]]
                  for m in members]
        lines += _table(table)
    else:
        lines.append("  (none in the outputs: is the stack deployed? pulumi stack output)")
    if members and any(m.weight is None for m in members):
        lines.append("  (weight and prime are not in this stack's outputs; `./run python -m tools.ops status` reads "
                     "them from the redirector)")
    lines += ["", *schedule_lines(checks)]
    url = outputs.get("url")
    if url:
        lines += [f"Front page {_slash(str(url))} lists the members and their state; {_slash(str(url))}health is "
                  "the same as JSON"]
    app = app_name(outputs)
    if app and outputs.get("resourceGroup"):
        lines.append(f"Log: az containerapp logs show -g {outputs['resourceGroup']} -n {app} --follow")
    if outputs.get("nextStep"):
        lines += ["", f"Next step: {outputs['nextStep']}"]
    return "\n".join(lines)


def app_name(outputs: Mapping[str, Any]) -> str | None:
    """The container app's name: the first label of its Azure host name (federation_spec.app_name)."""
    fqdn = outputs.get("azureDnsName")
    return str(fqdn).split(".", 1)[0] if isinstance(fqdn, str) and fqdn else None


# --------------------------------------------------------------------------- status (pure)


@dataclass(frozen=True)
class MemberState:
    """One member as the redirector's /health reports it (redirector/app.py `_state_doc`)."""

    name: str
    url: str
    weight: float | None
    prime: bool
    healthy: bool | None
    """None: not checked yet."""
    reason: str
    pods: int | None = None
    quota: int | None = None
    last_check: float | None = None
    """Unix time."""


def parse_health(doc: Any) -> list[MemberState] | None:
    """The members of the redirector's /health answer; None when it is not the redirector's."""
    if not isinstance(doc, Mapping) or doc.get("ok") is not True or not isinstance(doc.get("members"), list):
        return None
    states = []
    for m in doc["members"]:
        if not isinstance(m, Mapping) or not isinstance(m.get("name"), str):
            return None
        healthy = m.get("healthy")
        states.append(MemberState(
            name=m["name"], url=str(m.get("url") or ""), weight=_number(m.get("weight")), prime=m.get("prime") is True,
            healthy=healthy if isinstance(healthy, bool) else None, reason=str(m.get("reason") or ""),
            pods=m.get("pods") if isinstance(m.get("pods"), int) else None,
            quota=m.get("quota") if isinstance(m.get("quota"), int) else None,
            last_check=_number(m.get("lastCheck"))))
    return states


def redirects_per_member(metrics: str) -> dict[str, float]:
    """Launches (and other requests) sent to each member since the replica started, from the
    redirector's Prometheus text (`federation_redirects_total{member=...,reason=...}`)."""
    counts: dict[str, float] = {}
    for line in metrics.splitlines():
        if not line.startswith(REDIRECTS_METRIC + "{"):
            continue
        labels, _, value = line[len(REDIRECTS_METRIC) + 1:].partition("} ")
        member = next((part.split("=", 1)[1].strip('"') for part in labels.split(",")
                       if part.split("=", 1)[0] == "member"), None)
        try:
            counts[member or "?"] = counts.get(member or "?", 0.0) + float(value.split()[0])
        except (ValueError, IndexError):
            continue
    return counts


def why(state: MemberState) -> str:
    """A member's state in words."""
    if state.healthy is None:
        return "not checked yet (the redirector has just started)"
    if state.healthy:
        return ""
    if state.reason == POD_QUOTA:
        used = f" ({state.pods} of {state.quota} pods)" if state.pods is not None and state.quota is not None else ""
        return f"Pod quota: fewer free pod slots than the headroom{used}"
    if state.reason.startswith("no answer"):
        return state.reason
    return f"BinderHub's check {state.reason!r} failed" if state.reason else "unhealthy"


def _ago(stamp: float | None, now: datetime.datetime) -> str:
    if stamp is None:
        return "never"
    when = datetime.datetime.fromtimestamp(stamp, datetime.UTC)
    seconds = max(0, int((now - when).total_seconds()))
    age = f"{seconds} s" if seconds < 120 else f"{seconds // 60} min"
    return f"{age} ago ({when:%H:%M:%S} UTC)"


@dataclass
class FederationStatus:
    url: str
    states: list[MemberState] | None
    """None: the redirector gave no usable /health answer (see `problem`)."""
    problem: str = ""
    redirects: dict[str, float] | None = None
    expected: list[MemberInfo] | None = None
    """The members the stack's outputs name, to compare with what the redirector serves."""

    def problems(self) -> list[str]:
        if self.states is None:
            return [self.problem or "the redirector does not answer"]
        found = [f"{s.name}: " + (why(s) if s.healthy is None else f"unhealthy ({why(s)})")
                 for s in self.states if not s.healthy]
        if self.expected:
            want = {(m.name, _slash(m.url)) for m in self.expected}
            have = {(s.name, _slash(s.url)) for s in self.states}
            if want != have:
                found.append("the redirector serves other members than the stack's outputs name (a new revision "
                             "still starting, or the app runs an older configuration: pulumi up)")
        return found

    @property
    def ok(self) -> bool:
        return not self.problems()


def render_status(report: FederationStatus, now: datetime.datetime) -> str:
    lines = [f"binderhub-azure status: federation mode ({report.url})"]
    if report.states is None:
        lines += ["", f"NOT READY: {report.problem}"]
        return "\n".join(lines)
    healthy = sum(1 for s in report.states if s.healthy)
    lines.append(f"  redirector  {report.url}health answers: {healthy} of {len(report.states)} members get launches")
    lines.append("")
    rows = [["MEMBER", "STATE", "WEIGHT", "PRIME", "PODS/QUOTA", "LAST CHECK", "SENT", "WHY"]]
    for s in report.states:
        state = "unknown" if s.healthy is None else ("healthy" if s.healthy else "UNHEALTHY")
        pods = f"{s.pods}/{s.quota}" if s.quota is not None else (str(s.pods) if s.pods is not None else "-")
        sent = "-" if report.redirects is None else f"{report.redirects.get(s.name, 0):g}"
        rows.append([s.name, state, _g(s.weight), "prime" if s.prime else "", pods, _ago(s.last_check, now), sent,
                     why(s)])
    lines += _table(rows)
    lines.append("")
    lines.append("SENT: requests redirected to the member since the redirector's replica started "
                 + ("(from its /metrics)" if report.redirects is not None else "(unknown: /metrics did not answer)"))
    problems = report.problems()
    if not problems:
        lines.append("Everything is ready.")
    else:
        lines.append("NOT READY: " + "; ".join(problems))
        if healthy == 0:
            prime = next((s.name for s in report.states if s.prime), "the prime member")
            lines.append(f"  no member is healthy: every launch goes to {prime} (the prime member) meanwhile")
        elif any(not s.healthy for s in report.states):
            lines.append("  launches go to the healthy members meanwhile; an unhealthy member is checked again after "
                         "the failed-check period")
    return "\n".join(lines)


# --------------------------------------------------------------------------- HTTP


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Hand a 3xx back as the answer (an HTTPError with its headers) instead of following it."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def make_openers(ca_bundle: str | None = None) -> tuple[urllib.request.OpenerDirector, urllib.request.OpenerDirector]:
    """Two openers with the same trust (the system store, or only the CAs in `ca_bundle`): one that
    follows redirects, and one that does not (for the launch, whose 302 is what is checked)."""
    try:
        context = ssl.create_default_context(cafile=ca_bundle)
    except (OSError, ssl.SSLError) as err:
        raise OpsError(f"cannot use --ca-bundle {ca_bundle}: {getattr(err, 'strerror', None) or err}") from None
    return (urllib.request.build_opener(urllib.request.HTTPSHandler(context=context)),
            urllib.request.build_opener(urllib.request.HTTPSHandler(context=context), _NoRedirect()))


def _error(err: BaseException, url: str) -> str:
    """classify_error's words, without the hub-specific causes it suggests for a certificate
    (Traefik, cert-manager, Let's Encrypt staging): a federation's certificate is Azure's."""
    reason = getattr(err, "reason", None)
    cert = reason if isinstance(reason, ssl.SSLCertVerificationError) else err
    if isinstance(cert, ssl.SSLCertVerificationError):
        why_ = _one_line(getattr(cert, "verify_message", None) or cert, 100)
        return (f"the certificate of {urlsplit(url).hostname} is not accepted ({why_}): with `domain`, Azure's "
                "managed certificate must be issued and bound (federation.domainBound; README, \"A federation of "
                "Binders\")")
    return classify_error(err, url)


def read_status(outputs: Mapping[str, Any], opener: urllib.request.OpenerDirector,
                stack: str | None = None) -> FederationStatus:
    """Ask the redirector for /health (and /metrics, for the counts)."""
    url = launch_url(outputs, stack)
    expected = members_of(outputs)[0] or None
    health = f"{url}health"
    try:
        answer = fetch(opener, health, timeout=HTTP_TIMEOUT)
    except NETWORK_ERRORS as err:
        return FederationStatus(url, None, f"the redirector does not answer: {_error(err, url)}", expected=expected)
    states = parse_health(answer.json()) if answer.status == 200 else None
    if states is None:
        kind = answer.content_type.split(";")[0] or "no content type"
        return FederationStatus(url, None, f"{health} answered HTTP {answer.status} ({kind}) without the redirector's "
                                f"health report: is the container app running? (az containerapp show; its log: "
                                f"az containerapp logs show)", expected=expected)
    redirects = None
    try:
        metrics = fetch(opener, f"{url}metrics", timeout=HTTP_TIMEOUT)
        if metrics.status == 200:
            redirects = redirects_per_member(metrics.body.decode("utf-8", "replace"))
    except NETWORK_ERRORS:
        pass
    return FederationStatus(url, states, redirects=redirects, expected=expected)


# --------------------------------------------------------------------------- check


def _health_check(opener: urllib.request.OpenerDirector, url: str) -> tuple[Check, list[MemberState] | None]:
    health = f"{url}health"
    try:
        answer = fetch(opener, health, timeout=HTTP_TIMEOUT)
    except NETWORK_ERRORS as err:
        return Check("redirector", FAIL, _error(err, url)), None
    states = parse_health(answer.json()) if answer.status == 200 else None
    if states is None:
        return Check("redirector", FAIL, f"{health} answered HTTP {answer.status} without the redirector's health "
                     "report", "is the redirector's image the one this project builds? (federation.image)"), None
    healthy = [s.name for s in states if s.healthy]
    listed = f" ({', '.join(healthy)})" if healthy else ""
    text = f"{health}: {len(healthy)} of {len(states)} members healthy{listed}"
    if not healthy:
        return Check("redirector", FAIL, text, "every launch goes to the prime member, which is not healthy either: "
                     "./run python -m tools.ops status"), states
    return Check("redirector", OK, text), states


def judge_redirect(status: int, location: str, expected_path: str, states: Sequence[MemberState],
                   spec: str) -> tuple[Check, MemberState | None]:
    """The launch's answer: a 302 to a healthy member, on the member's own host, with the launch
    path and query exactly as sent."""
    if status != 302 or not location:
        return Check("launch", FAIL, f"v2/{spec} answered HTTP {status} instead of a redirect to a member",
                     "./run python -m tools.ops status"), None
    member = next((s for s in states if location.startswith(_slash(s.url))), None)
    if member is None:
        return Check("launch", FAIL, f"v2/{spec} was sent to {_one_line(location, 120)}, which is no member's address",
                     "the redirector must only ever send users to its members: report this"), None
    where = urlsplit(location)
    if (where.scheme, where.netloc) != (urlsplit(member.url).scheme, urlsplit(member.url).netloc):
        return Check("launch", FAIL, f"v2/{spec} was sent off the member's host: {_one_line(location, 120)}"), None
    wanted = member.url.rstrip("/") + expected_path
    if location != wanted:
        return Check("launch", FAIL, f"v2/{spec} reached {member.name} as {_one_line(location, 160)}, not {wanted}: "
                     "the path or query changed on the way"), member
    if not member.healthy:
        return Check("launch", FAIL, f"v2/{spec} was sent to {member.name}, which is not healthy",
                     "with no healthy member the redirector falls back to the prime member: "
                     "./run python -m tools.ops status"), member
    healthy = [(s.name, s.weight or 0.0) for s in states if s.healthy]
    pick = rendezvous.choose(healthy, rendezvous.repo_key(expected_path.split("?", 1)[0]))
    note = "" if pick == member.name else (f"; rendezvous hashing over the healthy members picks {pick}: a member's "
                                           "state changed between the two requests?")
    return Check("launch", OK, f"v2/{spec} -> 302 to {member.name} ({member.url}), healthy, path and query kept"
                 + note), member


def smoke_checks(args: argparse.Namespace, outputs: dict[str, Any], opener: urllib.request.OpenerDirector | None,
                 secrets: list[str]) -> tuple[Site, list[Check]] | None:
    """`ops check` on a federation stack (smoke.run calls this first); None for any other stack."""
    if not is_federation(outputs):
        return None
    url = launch_url(outputs, args.stack)
    follow, no_redirect = make_openers(args.ca_bundle)
    checks = run_checks(url, opener or follow, no_redirect, repo=args.repo.strip().strip("/"),
                        follow=args.follow, timeout=args.timeout, secrets=secrets)
    return Site(url=url, hub_url=url, mode=MODE), checks


def run_checks(url: str, opener: urllib.request.OpenerDirector, no_redirect: urllib.request.OpenerDirector, *,
               repo: str, follow: bool = False, timeout: float = 900.0,
               secrets: list[str] | None = None) -> list[Check]:
    """Every check of a federation, in order (see the module docstring)."""
    secrets = secrets if secrets is not None else []
    try:
        front = fetch(opener, url, timeout=HTTP_TIMEOUT)
    except NETWORK_ERRORS as err:
        rest = ["redirector", "launch", "member", *(["member-launch"] if follow else [])]
        return [Check("site", FAIL, _error(err, url)),
                *(Check(name, SKIP, "the site does not answer (see above)") for name in rest)]
    how = "over HTTPS; certificate valid for the host" if urlsplit(url).scheme == "https" else "over plain HTTP"
    site = (Check("site", OK, f"{url} answers HTTP {front.status} {how}") if front.status < 400
            else Check("site", FAIL, f"{url} answered HTTP {front.status} {how}",
                       "the container app may be stopped or still starting (az containerapp show)"))
    health, states = _health_check(opener, url)
    checks = [site, health]
    if states is None:
        return [*checks, *(Check(n, SKIP, "no member list from the redirector (see above)")
                           for n in ["launch", "member", *(["member-launch"] if follow else [])])]
    path = f"/v2/{quote(repo, safe='/%:@')}?{LAUNCH_QUERY}"
    try:
        # Not followed: the 302 itself is what is checked (following it would start a build).
        with contextlib.closing(smoke._open(no_redirect, smoke._request(url.rstrip("/") + path),
                                            HTTP_TIMEOUT)) as answer:
            status, location = answer.status, answer.headers.get("Location", "")
    except NETWORK_ERRORS as err:
        launch, member = Check("launch", FAIL, f"v2/{repo}: {_error(err, url)}"), None
    else:
        launch, member = judge_redirect(status, location, path, states, repo)
    checks.append(launch)
    if member is None or launch.failed:
        checks.append(Check("member", SKIP, "no healthy member to ask (see above)"))
        if follow:
            checks.append(Check("member-launch", SKIP, "no healthy member to launch on (see above)"))
        return checks
    binder = smoke.check_binderhub(opener, _slash(member.url))
    checks.append(Check("member", binder.status, f"{member.name}: {binder.detail}",
                        "the member's own stack: ./run python -m tools.ops status --stack <member stack>"
                        if binder.failed else ""))
    if follow:
        target = Site(url=_slash(member.url), hub_url=_slash(member.url), mode="binderhub")
        launched, _ = smoke._launch_and_stop(opener, target, repo, timeout=timeout, again=False, secrets=secrets)
        checks.append(Check("member-launch", launched.status, f"on {member.name}: {launched.detail}",
                            "the member's own stack: ./run python -m tools.ops logs binder --stack <member stack>"
                            if launched.failed else ""))
    return checks
