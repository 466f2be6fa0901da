"""The redirector's web application (tornado).

    /build/<provider>/<spec>, /v2/<provider>/<spec>   302 to the chosen member, same path and query
    /                                                 the members and their state (HTML)
    /health                                           the redirector's own health and the members' (JSON)
    /metrics                                          Prometheus metrics, per member
    anything else                                     302 to the prime member, same path and query

A launch goes to the healthy member that weighted rendezvous hashing of its repository picks
(rendezvous.py), so a repository keeps landing where its image is built; with no healthy
member, to the prime member.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import html
import logging
import os
import sys
from typing import Any

import prometheus_client
import tornado.web
from prometheus_client import CollectorRegistry, Counter, Gauge
from tornado.httpserver import HTTPServer

from . import rendezvous
from .health import Checker, MemberState
from .settings import Member, Settings, SettingsError, UnsafeTargetError, load

log = logging.getLogger("redirector")


class Metrics:
    """The redirector's metrics, in a registry of its own (one per application)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.healthy = Gauge("federation_member_healthy", "1 if the member gets launches, 0 if not", ["member"],
                             registry=r)
        self.check_ok = Gauge("federation_member_check_ok", "1 if the member's health check passed, per check",
                              ["member", "check"], registry=r)
        self.weight = Gauge("federation_member_weight", "the member's configured weight", ["member"], registry=r)
        self.prime = Gauge("federation_member_prime", "1 for the prime member", ["member"], registry=r)
        self.pods = Gauge("federation_member_pods", "user and build pods the member reported", ["member"], registry=r)
        self.quota = Gauge("federation_member_pod_quota", "the member's pod quota (absent without one)", ["member"],
                           registry=r)
        self.last_check = Gauge("federation_member_last_check_timestamp_seconds", "when the member was last checked",
                                ["member"], registry=r)
        self.redirects = Counter("federation_redirects", "requests sent to each member, by reason",
                                 ["member", "reason"], registry=r)

    def record(self, state: MemberState) -> None:
        name = state.member.name
        self.healthy.labels(name).set(1 if state.healthy else 0)
        for check, ok in state.checks.items():
            self.check_ok.labels(name, check).set(1 if ok else 0)
        if state.pods is not None:
            self.pods.labels(name).set(state.pods)
        if state.quota is not None:
            self.quota.labels(name).set(state.quota)
        if state.last_check is not None:
            self.last_check.labels(name).set(state.last_check)


class Router:
    """Picks the member for a request from the members' current state."""

    def __init__(self, settings: Settings, checker: Checker):
        self.settings = settings
        self.checker = checker

    def healthy(self) -> list[Member]:
        return [s.member for s in self.checker.states.values() if s.healthy]

    def pick(self, path: str) -> tuple[Member, str]:
        """(member, reason): reason 'rendezvous', or 'prime-fallback' when no member is healthy."""
        healthy = self.healthy()
        if not healthy:
            return self.settings.prime, "prime-fallback"
        name = rendezvous.choose([(m.name, m.weight) for m in healthy], rendezvous.repo_key(path))
        return next(m for m in healthy if m.name == name), "rendezvous"


class _Base(tornado.web.RequestHandler):
    def initialize(self, router: Router, metrics: Metrics) -> None:
        self.router = router
        self.metrics = metrics

    def _send(self, member: Member, reason: str) -> None:
        try:
            # Path and query as the client sent them (not decoded), on the member's host; never
            # the raw request target, which may be an absolute URL or `@host`.
            target = member.target(self.request.path, self.request.query)
        except UnsafeTargetError:
            raise tornado.web.HTTPError(400, reason="Not a path on this site") from None
        self.metrics.redirects.labels(member.name, reason).inc()
        self.redirect(target, status=302)


class LaunchHandler(_Base):
    def set_default_headers(self) -> None:
        # A launch link may be followed by a page's script on another site (badges, docs).
        self.set_header("Access-Control-Allow-Origin", "*")

    def get(self) -> None:
        self._send(*self.router.pick(self.request.path))

    head = get


class OtherHandler(_Base):
    """Everything that is not a launch or the redirector's own page: the prime member's."""

    def get(self) -> None:
        self._send(self.router.settings.prime, "other")

    head = get


def _state_doc(state: MemberState) -> dict[str, Any]:
    m = state.member
    return {"name": m.name, "url": m.url, "weight": m.weight, "prime": m.prime, "healthy": state.healthy,
            "reason": state.reason, "checks": state.checks, "pods": state.pods, "quota": state.quota,
            "lastCheck": state.last_check}


class HealthHandler(_Base):
    """Always 200 while the redirector runs (a liveness probe must not restart it because a
    member is down); the body says which members get launches."""

    def get(self) -> None:
        states = list(self.router.checker.states.values())
        self.set_header("Cache-Control", "no-store")
        self.write({"ok": True, "healthyMembers": sum(1 for s in states if s.healthy),
                    "members": [_state_doc(s) for s in states]})


class MetricsHandler(_Base):
    def get(self) -> None:
        self.set_header("Content-Type", prometheus_client.CONTENT_TYPE_LATEST)
        self.write(prometheus_client.generate_latest(self.metrics.registry))


def _when(stamp: float | None) -> str:
    if stamp is None:
        return "never"
    return datetime.datetime.fromtimestamp(stamp, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


class FrontPage(_Base):
    def get(self) -> None:
        rows = []
        for state in self.router.checker.states.values():
            m = state.member
            status = "unknown" if state.healthy is None else ("healthy" if state.healthy else "unhealthy")
            pods = "" if state.quota is None else f"{state.pods}/{state.quota}"
            cells = (m.name, f'<a href="{html.escape(m.url)}">{html.escape(m.url)}</a>', f"{m.weight:g}",
                     "prime" if m.prime else "", status, state.reason, pods, _when(state.last_check))
            rows.append("<tr>" + "".join(f"<td>{c if i == 1 else html.escape(str(c))}</td>"
                                         for i, c in enumerate(cells)) + "</tr>")
        self.set_header("Cache-Control", "no-store")
        self.write("<!doctype html><html><head><meta charset='utf-8'><title>Binder federation</title></head><body>"
                   "<h1>Binder federation</h1><p>Launch links (<code>/v2/...</code>) on this address go to one of "
                   "these BinderHubs: the same repository to the same healthy member.</p><table border='1'>"
                   "<tr><th>member</th><th>address</th><th>weight</th><th></th><th>state</th><th>reason</th>"
                   "<th>pods/quota</th><th>last check</th></tr>" + "".join(rows) + "</table></body></html>")


def make_app(settings: Settings) -> tuple[tornado.web.Application, Checker]:
    """The application and its checker (not started: `checker.start()` on a running loop)."""
    metrics = Metrics()
    for m in settings.members:
        metrics.weight.labels(m.name).set(m.weight)
        metrics.prime.labels(m.name).set(1 if m.prime else 0)
        metrics.healthy.labels(m.name).set(0)
    checker = Checker(settings.members, settings.checks, on_change=metrics.record)
    router = Router(settings, checker)
    args = {"router": router, "metrics": metrics}
    app = tornado.web.Application([
        (r"/(?:build|v2)/.*", LaunchHandler, args),
        (r"/health", HealthHandler, args),
        (r"/metrics", MetricsHandler, args),
        (r"/", FrontPage, args),
        (r".*", OtherHandler, args),
    ])
    return app, checker


async def serve(settings: Settings, port: int, address: str = "") -> None:
    app, checker = make_app(settings)
    # xheaders: behind Azure Container Apps' ingress, the client's scheme and address.
    HTTPServer(app, xheaders=True).listen(port, address)
    checker.start()
    log.info("redirecting to %s", ", ".join(f"{m.name} ({m.url})" for m in settings.members))
    await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m redirector", description=__doc__.split("\n")[0])
    parser.add_argument("--config", help="a JSON file (default: the FEDERATION_CONFIG environment variable)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8080")))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        settings = load(args.config)
    except (SettingsError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    asyncio.run(serve(settings, args.port))
    return 0
