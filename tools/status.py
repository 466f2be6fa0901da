"""What `ops status` reports, as pure functions: the components of each mode and their pods,
the certificate and its ACME challenges, and the one-screen report.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from components import letsencrypt

from .outputs import MODES, OpsError

CERT_GROUP, CERT_VERSION, CERT_PLURAL = "cert-manager.io", "v1", "certificates"
ACME_GROUP, ACME_VERSION, CHALLENGE_PLURAL = "acme.cert-manager.io", "v1", "challenges"
ORDER_PLURAL = "orders"
# The BinderHub chart's Service (templates/service.yaml at af9ca8b1: `binder`, port 80), as the
# Kubernetes API's service proxy names it; BinderHub serves its metrics at /metrics.
BINDER_SERVICE = "binder:80"
# Characters kept of a message on the one-screen report: a pod's note shares its line with
# the table; a certificate's or challenge's reason has a line of its own and is the diagnosis.
MAX_NOTE = 80
MAX_DETAIL = 200


# --------------------------------------------------------------------------- components


@dataclass(frozen=True)
class Component:
    """A part of the deployment, found by a label selector on its pods."""

    name: str
    selector: str
    namespace: str | None = None
    """None: the hub release's namespace (the mode name)."""
    binder_only: bool = False
    optional: bool = False
    """May be switched off in the config (no pods is then fine)."""
    https_only: bool = False


# Labels as the charts set them: z2jh names each pod's `component` after its template folder
# (hub, proxy, user-scheduler); BinderHub's Deployment labels its pod `component: binder`;
# Traefik uses the chart name as `app.kubernetes.io/name`; cert-manager's controller,
# cainjector and webhook share `app.kubernetes.io/instance: <release>` (our release is
# `cert-manager`, see ingress.py).
COMPONENTS: tuple[Component, ...] = (
    Component("hub", "component=hub"),
    Component("proxy", "component=proxy"),
    Component("binder", "component=binder", binder_only=True),
    Component("user-scheduler", "component=user-scheduler", optional=True),
    Component("traefik", "app.kubernetes.io/name=traefik", namespace="traefik"),
    Component("cert-manager", "app.kubernetes.io/instance=cert-manager", namespace="cert-manager",
              https_only=True),
)
# Names accepted by `logs`; `ingress` is what users call Traefik in this project.
LOG_COMPONENTS = ("hub", "proxy", "binder", "ingress", "cert-manager", "user-scheduler")
LOG_ALIASES = {"ingress": "traefik"}


def component(name: str) -> Component:
    """The component a user names on the command line (`ingress` or `traefik` for Traefik)."""
    wanted = LOG_ALIASES.get(name, name)
    for comp in COMPONENTS:
        if comp.name == wanted:
            return comp
    raise OpsError(f"unknown component {name!r}: choose one of {', '.join(LOG_COMPONENTS)}")


def components_for(mode: str, https: bool | None) -> list[Component]:
    """The components a stack of this mode runs. With HTTPS unknown (no outputs), cert-manager
    is reported but its absence is not a problem."""
    chosen = []
    for comp in COMPONENTS:
        if comp.binder_only and mode != "binderhub":
            continue
        if comp.https_only and https is False:
            continue
        if comp.https_only and https is None:
            comp = replace(comp, optional=True)
        chosen.append(comp)
    return chosen


def detect_mode(namespaces: Iterable[str], hint: str | None = None) -> str:
    """The hub release's namespace is the mode: `binderhub` (where the binder pod runs) if that
    namespace exists, else `jupyterhub`; with neither on the cluster yet, what the outputs say."""
    present = set(namespaces)
    if "binderhub" in present:
        return "binderhub"
    if "jupyterhub" in present:
        return "jupyterhub"
    return hint if hint in MODES else "jupyterhub"


# --------------------------------------------------------------------------- pods (pure)


@dataclass(frozen=True)
class PodRow:
    namespace: str
    name: str
    phase: str
    ready: str
    """"ready containers/containers", as kubectl shows it."""
    restarts: int
    note: str
    ok: bool
    counts: bool
    """False for finished job pods and pods being deleted: they say nothing about health."""


def _short(text: str | None, limit: int = MAX_NOTE) -> str:
    one_line = " ".join(str(text or "").split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1] + "…"


def _waiting_note(statuses: Sequence[Any]) -> str:
    """Why a container is not running, with the last crash's cause for a crash loop."""
    for status in statuses:
        state = getattr(status, "state", None)
        waiting = getattr(state, "waiting", None)
        if waiting is not None and waiting.reason:
            note = waiting.reason
            last = getattr(getattr(status, "last_state", None), "terminated", None)
            if last is not None and (last.reason or last.exit_code is not None):
                note += f" (last exit: {last.reason or 'Error'}, code {last.exit_code})"
            elif waiting.message and waiting.reason not in ("ContainerCreating", "PodInitializing"):
                note += f": {waiting.message}"
            return note
        terminated = getattr(state, "terminated", None)
        if terminated is not None and terminated.reason and terminated.reason != "Completed":
            return f"{terminated.reason} (code {terminated.exit_code})"
    return ""


def pod_row(pod: Any) -> PodRow:
    """One line of the report for a pod shaped like `kubernetes.client.V1Pod`."""
    meta, status = pod.metadata, pod.status
    phase = (status.phase if status else None) or "Unknown"
    statuses = list((status.container_statuses if status else None) or [])
    containers = list((pod.spec.containers if pod.spec else None) or [])
    total = len(containers) or len(statuses)
    ready_count = sum(1 for s in statuses if s.ready)
    restarts = sum(s.restart_count or 0 for s in statuses)
    terminating = meta.deletion_timestamp is not None
    ok = phase == "Running" and total > 0 and ready_count == total and not terminating
    note = ""
    if terminating:
        note = "Terminating"
    elif phase == "Succeeded":
        note = "Completed"
    elif not ok:
        init_note = _waiting_note(list((status.init_container_statuses if status else None) or []))
        note = _waiting_note(statuses) or (f"init: {init_note}" if init_note else "")
        if not note and status is not None:
            unscheduled = [c for c in status.conditions or []
                           if c.type == "PodScheduled" and c.status == "False"]
            if unscheduled:
                note = f"{unscheduled[0].reason or 'Unschedulable'}: {unscheduled[0].message or ''}".rstrip(": ")
            elif status.reason:  # e.g. Evicted
                note = f"{status.reason}: {status.message or ''}".rstrip(": ")
        if not note and phase == "Running":
            note = "starting, or failing its readiness probe"
    return PodRow(
        namespace=meta.namespace or "", name=meta.name or "?", phase="Terminating" if terminating else phase,
        ready=f"{ready_count}/{total}", restarts=restarts, note=_short(note), ok=ok,
        counts=not terminating and phase != "Succeeded",
    )


@dataclass(frozen=True)
class ComponentStatus:
    component: Component
    namespace: str
    pods: list[PodRow]
    state: str
    """ready, not ready, missing (no pods but required) or off (no pods, optional)."""

    @property
    def ok(self) -> bool:
        return self.state in ("ready", "off")


def component_status(comp: Component, namespace: str, pods: Iterable[Any]) -> ComponentStatus:
    """The verdict on one component from its pods: ready when every pod that counts is ready."""
    rows = sorted((pod_row(p) for p in pods), key=lambda r: r.name)
    counted = [r for r in rows if r.counts]
    if not counted:
        state = "off" if comp.optional else "missing"
    else:
        state = "ready" if all(r.ok for r in counted) else "not ready"
    return ComponentStatus(comp, namespace, rows, state)


# --------------------------------------------------------------------------- certificates (pure)


@dataclass(frozen=True)
class CertificateRow:
    namespace: str
    name: str
    state: str
    """issued, pending, failed or rate-limited (Let's Encrypt refused the order for a rate limit)."""
    detail: str
    issuer: str
    not_after: str
    rate_limit: letsencrypt.RateLimit | None = None
    hosts: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.state == "issued"


def _condition(obj: dict[str, Any], kind: str) -> dict[str, Any] | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return cond
    return None


def certificate_row(obj: dict[str, Any]) -> CertificateRow:
    """A cert-manager Certificate (a dict, as the custom objects API returns it) as a row."""
    meta = obj.get("metadata") or {}
    status = obj.get("status") or {}
    ready = _condition(obj, "Ready")
    issuing = _condition(obj, "Issuing")
    if ready is not None and ready.get("status") == "True":
        state = "issued"
        detail = ready.get("message") or "Certificate is up to date and has not expired"
    elif issuing is not None and issuing.get("status") == "False" and issuing.get("reason") == "Failed":
        # The order or a challenge failed; cert-manager retries with back-off.
        state, detail = "failed", f"Failed: {issuing.get('message') or ''}".rstrip(": ")
    elif ready is not None:
        state = "pending"
        detail = f"{ready.get('reason') or 'NotReady'}: {ready.get('message') or ''}".rstrip(": ")
    else:
        state, detail = "pending", "no status yet (cert-manager has not processed it)"
    spec = obj.get("spec") or {}
    issuer = (spec.get("issuerRef") or {}).get("name") or ""
    # cert-manager words Let's Encrypt's refusal into the Issuing condition (the Order's reason:
    # "Failed to create Order: 429 urn:ietf:params:acme:error:rateLimited: too many certificates
    # ..., retry after ..."): read it whole, before the detail is shortened.
    limit = None if state == "issued" else letsencrypt.rate_limit_in(detail)
    if limit is not None:
        state = "rate-limited"
    return CertificateRow(namespace=meta.get("namespace") or "", name=meta.get("name") or "?", state=state,
                          detail=_short(detail, MAX_DETAIL), issuer=issuer, not_after=status.get("notAfter") or "",
                          rate_limit=limit, hosts=tuple(str(h) for h in spec.get("dnsNames") or []))


def with_order_reasons(certificates: Sequence[CertificateRow],
                       orders: Iterable[dict[str, Any]]) -> list[CertificateRow]:
    """A pending or failed certificate whose ACME Order says it was refused for a rate limit
    (`status.reason` of an errored Order) is rate-limited: cert-manager may not have carried the
    reason up to the Certificate yet."""
    reasons = [str((order.get("status") or {}).get("reason") or "") for order in orders]
    limits = [limit for limit in map(letsencrypt.rate_limit_in, reasons) if limit is not None]
    if not limits:
        return list(certificates)
    return [replace(cert, state="rate-limited", rate_limit=limits[0]) if not cert.ok and cert.rate_limit is None
            else cert for cert in certificates]


@dataclass(frozen=True)
class ChallengeRow:
    domain: str
    state: str
    reason: str


def challenge_row(obj: dict[str, Any]) -> ChallengeRow:
    """An ACME Challenge: for a pending certificate, the reason is usually the diagnosis
    (the name does not resolve to the IP yet, the HTTP-01 self check fails, ...)."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    return ChallengeRow(domain=spec.get("dnsName") or "?", state=status.get("state") or "pending",
                        reason=_short(status.get("reason") or "", MAX_DETAIL))


# --------------------------------------------------------------------------- report (pure)


@dataclass
class StatusReport:
    outputs: dict[str, Any]
    mode: str
    https: bool | None
    components: list[ComponentStatus]
    certificates: list[CertificateRow] | None = None
    """None when cert-manager's Certificate kind is not on the cluster (or HTTPS is off)."""
    challenges: list[ChallengeRow] = field(default_factory=list)
    outputs_note: str = ""
    """Why the outputs are missing, when the cluster was reached with --kubeconfig alone."""

    hub_namespace_output: str | None = None
    """The `hubNamespace` output; None for a stack deployed before it was exported."""

    github_quota: str | None = None
    """BinderHub's remaining GitHub API quota, as one phrase (binderhub mode); information only."""

    purge: Any = None
    """The registry purge's last run (tools/purge_status.PurgeStatus), or None: not asked, or no ACR.
    A purge that does not run is a warning, never "not ready": the site works meanwhile."""

    @property
    def hub_namespace(self) -> str:
        return self.hub_namespace_output or self.mode

    def problems(self) -> list[str]:
        """One short phrase per thing that is not ready; empty when everything is."""
        found = []
        for comp in self.components:
            if comp.state == "missing":
                found.append(f"{comp.component.name}: no pods in namespace {comp.namespace}")
            elif comp.state == "not ready":
                bad = [r for r in comp.pods if r.counts and not r.ok]
                worst = max(bad, key=lambda r: r.restarts)
                found.append(f"{comp.component.name}: {len(bad)} pod(s) not ready ({worst.note or worst.phase}, "
                             f"{worst.restarts} restarts)")
        if self.https:
            if self.certificates is None:
                found.append("certificate: cert-manager's Certificate kind is not installed")
            elif not self.certificates:
                found.append(f"certificate: none yet in namespace {self.hub_namespace}")
            found += [f"certificate {c.name}: {c.state}" for c in self.certificates or [] if not c.ok]
        return found

    @property
    def ok(self) -> bool:
        return not self.problems()


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]


def render_status(report: StatusReport) -> str:
    """The one-screen status report."""
    out = report.outputs
    lines = [f"binderhub-azure status: {report.mode} mode (hub namespace {report.hub_namespace})"]
    if out.get("url"):
        lines.append(f"  site  {out['url']}")
    if out.get("hubUrl") and out.get("hubUrl") != out.get("url"):
        lines.append(f"  hub   {out['hubUrl']}")
    if report.outputs_note:
        lines.append(f"  (stack outputs unavailable: {report.outputs_note})")
    lines.append("")
    rows = [["COMPONENT", "STATE", "NAMESPACE", "POD", "PHASE", "READY", "RESTARTS", "NOTE"]]
    for comp in report.components:
        head = [comp.component.name, comp.state.upper() if not comp.ok else comp.state, comp.namespace]
        if not comp.pods:
            note = "disabled in the config?" if comp.state == "off" else f"no pods with {comp.component.selector}"
            rows.append([*head, "-", "", "", "", note])
        for i, pod in enumerate(comp.pods):
            rows.append([*(head if i == 0 else ["", "", ""]), pod.name, pod.phase, pod.ready, str(pod.restarts),
                         pod.note])
    lines += _table(rows)
    lines.append("")
    lines += _certificate_lines(report)
    if report.github_quota is not None:
        lines.append(f"GitHub API quota: {report.github_quota}")
    if report.purge is not None:
        lines.append(("" if report.purge.ok else "WARN ") + report.purge.text)
    problems = report.problems()
    lines.append("")
    if not problems:
        lines.append("Everything is ready.")
    else:
        lines.append("NOT READY: " + "; ".join(problems))
        crashing = [c.component.name for c in report.components
                    if any(r.restarts and not r.ok and r.counts for r in c.pods)]
        for name in crashing:
            lines.append(f"  logs of the crashed container: ./run python -m tools.ops logs "
                         f"{_log_name(name)} --previous")
    return "\n".join(lines)


def _log_name(name: str) -> str:
    return next((alias for alias, real in LOG_ALIASES.items() if real == name), name)


def _certificate_lines(report: StatusReport) -> list[str]:
    if report.https is False:
        return ["Certificate: none (https is off)"]
    if report.https is None:
        return ["Certificate: not checked (no stack outputs to say whether HTTPS is on, and no cert-manager pods)"]
    if report.certificates is None:
        return ["Certificate: cert-manager's Certificate kind is not installed on the cluster"]
    if not report.certificates:
        return [f"Certificate: none yet in namespace {report.hub_namespace} "
                "(cert-manager requests it when the hub's ingress first appears)"]
    lines = []
    for cert in report.certificates:
        text = f"Certificate {cert.namespace}/{cert.name}: {cert.state}"
        if cert.ok and cert.not_after:
            text += f", valid until {cert.not_after}"
        if cert.issuer:
            text += f"; issuer {cert.issuer}"
            if "staging" in cert.issuer:
                text += " (Let's Encrypt staging: browsers warn by design)"
        lines.append(text)
        if not cert.ok:
            lines.append(f"  {cert.detail}")
    for challenge in report.challenges:
        lines.append(f"  challenge for {challenge.domain}: {challenge.state}"
                     + (f": {challenge.reason}" if challenge.reason else ""))
    host = urlsplit(str(report.outputs.get("url") or "")).hostname
    limited = next((c for c in report.certificates if c.rate_limit is not None), None)
    if limited is not None and limited.rate_limit is not None:
        lines += rate_limit_lines(limited.rate_limit, host or next(iter(limited.hosts), None))
        return lines
    if any(not c.ok for c in report.certificates):
        host = urlsplit(str(report.outputs.get("url") or "")).hostname
        ip = report.outputs.get("publicIp")
        if host and ip:
            lines.append(f"  the name must resolve to the public IP first: nslookup {host} (expect {ip}); "
                         f"then kubectl -n {report.hub_namespace} describe challenge")
    return lines


def rate_limit_lines(limit: letsencrypt.RateLimit, host: str | None) -> list[str]:
    """What a Let's Encrypt rate limit means and what to do (also used by the smoke test)."""
    when = f", retry after {limit.retry_after}" if limit.retry_after else ""
    return [f"  Let's Encrypt refused the certificate: {limit.limit}{when}",
            f"  what to do: {letsencrypt.rate_limit_advice(limit, host)}"]


def render_info(outputs: dict[str, Any]) -> str:
    """Where the deployment is and what to do next, from the public outputs only."""
    labels = [("Site", "url"), ("Hub", "hubUrl"), ("Public IP", "publicIp"), ("Azure DNS name", "azureDnsName"),
              ("Resource group", "resourceGroup"), ("Cluster", "clusterName"), ("Registry", "registryLoginServer")]
    rows = [[f"{label}:", str(outputs.get(key) or "-")] for label, key in labels]
    if not outputs.get("registryLoginServer"):
        rows[-1][1] = "- (no Azure Container Registry: Docker Hub, or jupyterhub mode)"
    lines = _table(rows)
    if outputs.get("nextStep"):
        lines += ["", f"Next step: {outputs['nextStep']}"]
    return "\n".join(lines)
