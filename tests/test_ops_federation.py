"""`tools.ops info|status|check` on a federation stack, against the real redirector.

The redirector (redirector/app.py) runs on its own event loop in a background thread, on
127.0.0.1, in front of fake members: tornado BinderHubs answering `/health` (as in
test_redirector_live.py), and for `check --follow` the fake BinderHub of test_smoke.py, which
also streams a launch. The stack outputs are a file, as `--outputs-json` reads them; the ones
`info` shows come from the offline plan of a federation stack, so the test also proves the
program exports what the command reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import io
import json
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from redirector import rendezvous
from redirector.app import make_app
from redirector.settings import parse
from tests import test_smoke
from tests.test_redirector_live import FAST, FakeBinderHub
from tools import federation_ops, ops
from tools.federation_ops import LAUNCH_QUERY, MemberState

IMAGE = "ghcr.io/myuni/binderhub-azure/redirector@sha256:" + "ab" * 32
SPEC = "gh/binder-examples/requirements/HEAD"


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


class Running:
    """The redirector and its tornado fake members, served from a thread of their own."""

    def __init__(self, members: dict[str, tuple[float, bool]], urls: dict[str, str] | None,
                 checks: dict[str, Any]):
        self.members, self.urls, self.checks = members, urls or {}, checks
        self.fakes: dict[str, FakeBinderHub] = {}
        self.base = ""
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        for name in self.members:
            if name not in self.urls:
                self.fakes[name] = FakeBinderHub()
        urls = {**{n: f.url for n, f in self.fakes.items()}, **self.urls}
        settings = parse({"members": [{"name": n, "url": urls[n], "weight": w, "prime": p}
                                      for n, (w, p) in self.members.items()], "checks": self.checks})
        app, checker = make_app(settings)
        sockets = bind_sockets(0, "127.0.0.1")
        self.base = f"http://127.0.0.1:{sockets[0].getsockname()[1]}/"
        server = HTTPServer(app)
        server.add_sockets(sockets)
        checker.start()
        self._ready.set()
        await self._stop.wait()
        checker.stop()
        server.stop()
        for fake in self.fakes.values():
            fake.server.stop()

    def __enter__(self) -> Running:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *exc: Any) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def health(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.base + "health", timeout=5) as response:
            return json.load(response)

    def until(self, expected: dict[str, bool], timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while True:
            seen = {m["name"]: m["healthy"] for m in self.health()["members"]}
            if all(seen.get(n) is want for n, want in expected.items()):
                return
            assert time.monotonic() < deadline, f"members stayed {seen}, expected {expected}"
            time.sleep(0.02)

    def outputs(self, **extra: Any) -> dict[str, Any]:
        """The outputs a deployed federation stack exports (__main__.py `federated`)."""
        urls = {**{n: f.url for n, f in self.fakes.items()}, **self.urls}
        doc = {"members": [{"name": n, "url": urls[n], "weight": w, "prime": p}
                           for n, (w, p) in self.members.items()], "checks": self.checks}
        return {"url": self.base, "azureDnsName": "testuni-binder.example.swedencentral.azurecontainerapps.io",
                "domainVerificationId": "A" * 64, "members": {n: urls[n] for n in self.members},
                "federation": doc, "resourceGroup": "rg-testuni-federation", "mode": "federation", "https": True,
                "nextStep": "The federation's launch address is ...", **extra}


def running(members: dict[str, tuple[float, bool]], urls: dict[str, str] | None = None,
            checks: dict[str, Any] | None = None) -> Running:
    return Running(members, urls, checks or FAST)


def run_ops(tmp_path: Path, outputs: dict[str, Any], *argv: str) -> tuple[int, str, str]:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(outputs))
    out, err = io.StringIO(), io.StringIO()
    code = ops.main([*argv, "--outputs-json", str(path)], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def row(text: str, first: str) -> list[str]:
    """The cells of the table row that starts with `first`."""
    return next(line.split() for line in text.splitlines() if line.split()[:1] == [first])


# --------------------------------------------------------------------------- info


def test_info_shows_the_launch_address_members_and_check_schedule_from_the_plan(render, tmp_path):
    plan = render(mode="federation", federation={
        "image": IMAGE, "checks": {"periodSeconds": 15, "failedPeriodSeconds": 240, "retries": 4,
                                   "timeoutSeconds": 3, "podHeadroom": 7},
        "members": [{"url": "https://binder.one.example/", "weight": 2},
                    {"url": "https://binder.two.example/", "name": "two", "weight": 5, "prime": True}]})
    outputs = plan["outputs"]
    code, out, err = run_ops(tmp_path, outputs, "info")
    assert (code, err) == (0, "")
    assert f"Launch address:  {outputs['url']}" in out
    assert row(out, "binder-one") == ["binder-one", "https://binder.one.example/", "2"]
    assert row(out, "two") == ["two", "https://binder.two.example/", "5", "prime"]
    assert "every 15 s while it is healthy, every 240 s after it failed" in out
    assert "4 attempt(s) of at most 3 s" in out and "fewer than 7 free pod slots" in out
    assert "az containerapp logs show -g rg-testuni-federation -n testuni-binder --follow" in out
    assert "Public IP" not in out and "Cluster" not in out


def test_info_of_a_stack_deployed_before_the_federation_output(tmp_path):
    outputs = {"url": "https://fed.example/", "members": {"a": "https://a.example/", "b": "https://b.example/"},
               "resourceGroup": "rg-x-federation"}  # no mode output either
    code, out, _ = run_ops(tmp_path, outputs, "info")
    assert code == 0
    assert row(out, "a") == ["a", "https://a.example/", "?", "?"]
    assert "weight and prime are not in this stack's outputs" in out
    assert "Health checks: not in this stack's outputs" in out


# --------------------------------------------------------------------------- status


def test_status_reads_each_members_state_from_the_redirector(tmp_path):
    with running({"alpha": (2, True), "beta": (1, False)}) as fed:
        fed.until({"alpha": True, "beta": True})
        no_redirect = urllib.request.build_opener(federation_ops._NoRedirect())
        for i in range(6):  # launches, so the counts are not all zero
            with contextlib.suppress(urllib.error.HTTPError):  # the 302, not followed
                no_redirect.open(f"{fed.base}v2/gh/o/r{i}/HEAD")
        code, out, err = run_ops(tmp_path, fed.outputs(), "status")
        assert (code, err) == (0, ""), out
        assert row(out, "alpha")[:4] == ["alpha", "healthy", "2", "prime"]
        assert row(out, "beta")[:3] == ["beta", "healthy", "1"]
        assert "5/100" in row(out, "alpha")  # pods/quota as the member reported
        sent = {name: int(row(out, name)[-1]) for name in ("alpha", "beta")}
        assert sum(sent.values()) == 6
        assert "s ago (" in out and "Everything is ready." in out

        fed.fakes["beta"].state = "registry-down"
        fed.until({"beta": False})
        code, out, _ = run_ops(tmp_path, fed.outputs(), "status")
        assert code == 1
        assert row(out, "beta")[1] == "UNHEALTHY"
        assert "BinderHub's check 'Docker registry' failed" in out
        assert "NOT READY: beta: unhealthy (BinderHub's check 'Docker registry' failed)" in out
        assert "launches go to the healthy members meanwhile" in out

        fed.fakes["alpha"].pods = 95  # 5 free slots < headroom 10
        fed.until({"alpha": False})
        code, out, _ = run_ops(tmp_path, fed.outputs(), "status")
        assert code == 1
        assert "Pod quota: fewer free pod slots than the headroom (95 of 100 pods)" in out
        assert "every launch goes to alpha (the prime member)" in out


def test_status_says_when_the_redirector_serves_other_members_than_the_outputs(tmp_path):
    with running({"alpha": (1, True)}) as fed:
        fed.until({"alpha": True})
        outputs = fed.outputs()
        outputs["federation"]["members"].append({"name": "new", "url": "https://new.example/", "weight": 1,
                                                 "prime": False})
        code, out, _ = run_ops(tmp_path, outputs, "status")
        assert code == 1 and "the redirector serves other members than the stack's outputs name" in out


def test_status_when_the_redirector_does_not_answer(tmp_path):
    with running({"alpha": (1, True)}) as fed:
        outputs = fed.outputs()
    code, out, err = run_ops(tmp_path, outputs, "status")  # stopped: nothing listens there now
    assert (code, err) == (1, "")
    assert "NOT READY: the redirector does not answer: connection refused by 127.0.0.1" in out


def test_status_of_something_that_is_not_the_redirector(tmp_path):
    with test_smoke.serve(test_smoke.Scenario()) as hub:  # a BinderHub's /health is not the redirector's
        outputs = {"url": f"http://127.0.0.1:{hub.port}/", "mode": "federation", "members": {}}
        code, out, _ = run_ops(tmp_path, outputs, "status")
    assert code == 1 and "without the redirector's health report" in out


def test_commands_for_a_cluster_refuse_a_federation_with_what_to_use(tmp_path):
    outputs = {"url": "https://fed.example/", "mode": "federation", "resourceGroup": "rg-x-federation",
               "azureDnsName": "x-binder.env.swedencentral.azurecontainerapps.io"}
    code, _, err = run_ops(tmp_path, outputs, "logs", "hub")
    assert code == 2 and "az containerapp logs show -g rg-x-federation -n x-binder --follow" in err
    assert len(err.splitlines()) == 1
    for command in ("launches", "wake", "sleep"):
        code, _, err = run_ops(tmp_path, outputs, command)
        assert code == 2 and f"`{command}` is not for a federation stack" in err


# --------------------------------------------------------------------------- check


def test_check_verifies_the_redirect_without_following_it(tmp_path):
    with running({"alpha": (1, True), "beta": (1, False)}) as fed:
        fed.until({"alpha": True, "beta": True})
        code, out, err = run_ops(tmp_path, fed.outputs(), "check")
        assert (code, err) == (0, ""), out
        expected = rendezvous.choose([("alpha", 1.0), ("beta", 1.0)], "gh/binder-examples/requirements")
        assert f"Smoke test of {fed.base} (federation mode)" in out
        assert "OK    redirector  " in out and "2 of 2 members healthy" in out
        assert f"-> 302 to {expected} ({fed.fakes[expected].url}), healthy, path and query kept" in out
        assert f"OK    member      {expected}: " in out
        assert "All checks passed." in out
        # Only health checks reached the members: the launch was not followed into a build.
        assert fed.fakes[expected].health_requests > 0

        fed.fakes[expected].state = "registry-down"
        fed.until({expected: False})
        other = "beta" if expected == "alpha" else "alpha"
        code, out, _ = run_ops(tmp_path, fed.outputs(), "check")
        assert code == 0 and f"-> 302 to {other} (" in out  # the repository moved to the healthy member

        fed.fakes[other].state = "no-answer"
        fed.until({other: False})
        code, out, _ = run_ops(tmp_path, fed.outputs(), "check")
        assert code == 1
        assert "FAIL  redirector  " in out and "0 of 2 members healthy" in out
        assert "FAIL  launch" in out and "which is not healthy" in out
        assert "SKIP  member" in out


def test_check_follow_launches_on_the_member_it_was_sent_to(tmp_path):
    scenarios = {"alpha": test_smoke.Scenario(launches=[test_smoke.found_events()]),
                 "beta": test_smoke.Scenario(launches=[test_smoke.found_events()])}
    # A slow period: the fake BinderHub answers a bounded number of requests.
    slow = {**FAST, "periodSeconds": 30, "failedPeriodSeconds": 30}
    with test_smoke.serve(scenarios["alpha"]) as a, test_smoke.serve(scenarios["beta"]) as b:
        urls = {"alpha": f"http://127.0.0.1:{a.port}/", "beta": f"http://127.0.0.1:{b.port}/"}
        with running({"alpha": (1, True), "beta": (1, False)}, urls=urls, checks=slow) as fed:
            fed.until({"alpha": True, "beta": True})
            code, out, err = run_ops(tmp_path, fed.outputs(), "check", "--follow")
    assert (code, err) == (0, ""), out
    chosen = rendezvous.choose([("alpha", 1.0), ("beta", 1.0)], "gh/binder-examples/requirements")
    assert f"OK    member-launch  on {chosen}: {SPEC}: found the image (built before); server ready" in out
    assert "test server stopped" in out
    assert scenarios[chosen].paths("GET").count(f"/build/{SPEC}") == 1
    assert len(scenarios[chosen].shutdowns) == 1
    other = "beta" if chosen == "alpha" else "alpha"
    assert not any(p.startswith(("/build/", "/v2/")) for p in scenarios[other].paths("GET"))
    assert test_smoke.TOKENS[0] not in out  # the launch token is never printed
    # Without --follow the chosen member is never asked to build.
    with test_smoke.serve(test_smoke.Scenario()) as a, test_smoke.serve(test_smoke.Scenario()) as b:
        urls = {"alpha": f"http://127.0.0.1:{a.port}/", "beta": f"http://127.0.0.1:{b.port}/"}
        with running({"alpha": (1, True), "beta": (1, False)}, urls=urls, checks=slow) as fed:
            fed.until({"alpha": True, "beta": True})
            code, out, _ = run_ops(tmp_path, fed.outputs(), "check")
        assert code == 0 and "member-launch" not in out
        assert not any(p.startswith(("/build/", "/v2/")) for p in a.paths("GET") + b.paths("GET"))


def test_check_when_the_site_does_not_answer(tmp_path):
    with running({"alpha": (1, True)}) as fed:
        outputs = fed.outputs()
    code, out, _ = run_ops(tmp_path, outputs, "check")
    assert code == 1
    assert "FAIL  site" in out and "connection refused" in out
    assert "SKIP  redirector" in out and "SKIP  launch" in out


# --------------------------------------------------------------------------- judging a redirect (pure)


STATES = [MemberState("alpha", "https://alpha.example/", 1.0, True, True, ""),
          MemberState("beta", "https://beta.example/binder/", 1.0, False, False, "Docker registry")]
PATH = f"/v2/{SPEC}?{LAUNCH_QUERY}"


@pytest.mark.parametrize(("status", "location", "verdict", "words"), [
    (302, f"https://alpha.example{PATH}", "OK", "302 to alpha"),
    (302, f"https://beta.example/binder{PATH}", "FAIL", "which is not healthy"),
    (302, f"https://evil.example{PATH}", "FAIL", "which is no member's address"),
    (302, f"https://alpha.example.evil.example{PATH}", "FAIL", "which is no member's address"),
    (302, f"https://alpha.example/v2/{SPEC}", "FAIL", "the path or query changed"),  # the query dropped
    (302, f"https://alpha.example/v2/{SPEC}?urlpath=lab/tree/README.md&filepath=a%20b", "FAIL", "query changed"),
    (302, "https://alpha.example/", "FAIL", "the path or query changed"),
    (200, "", "FAIL", "answered HTTP 200 instead of a redirect"),
    (404, "", "FAIL", "answered HTTP 404"),
])
def test_judging_the_launch_redirect(status, location, verdict, words):
    check, _ = federation_ops.judge_redirect(status, location, PATH, STATES, SPEC)
    assert check.status == verdict and words in check.detail, check


def test_health_answer_parsing_and_metrics_counts():
    doc = {"ok": True, "healthyMembers": 1, "members": [
        {"name": "a", "url": "https://a.example/", "weight": 2, "prime": True, "healthy": True, "reason": "",
         "checks": {}, "pods": 3, "quota": 50, "lastCheck": 1780000000.5},
        {"name": "b", "url": "https://b.example/", "weight": 1, "prime": False, "healthy": None,
         "reason": "not checked yet", "checks": {}, "pods": None, "quota": None, "lastCheck": None}]}
    a, b = federation_ops.parse_health(doc)
    assert (a.weight, a.prime, a.pods, a.quota, a.healthy) == (2.0, True, 3, 50, True)
    assert b.healthy is None and federation_ops.why(b).startswith("not checked yet")
    for bad in ({"ok": True}, {"members": []}, [], {"ok": True, "members": [{"url": "x"}]}):
        assert federation_ops.parse_health(bad) is None
    metrics = ('# TYPE federation_redirects_total counter\n'
               'federation_redirects_total{member="a",reason="rendezvous"} 4.0\n'
               'federation_redirects_total{member="a",reason="other"} 1.0\n'
               'federation_redirects_created{member="a",reason="other"} 1.78e+09\n'
               'federation_redirects_total{member="b",reason="prime-fallback"} 2.0\n')
    assert federation_ops.redirects_per_member(metrics) == {"a": 5.0, "b": 2.0}
    now = datetime.datetime.fromtimestamp(1780000030.5, datetime.UTC)
    report = federation_ops.FederationStatus("https://f.example/", [a, b], redirects={"a": 5.0})
    text = federation_ops.render_status(report, now)
    assert "30 s ago" in text and report.problems() == [
        "b: not checked yet (the redirector has just started)"]
