"""The federation redirector, run for real on localhost in front of fake BinderHubs.

Each fake member is a small tornado server on an ephemeral port answering `/health` the way
BinderHub does (binderhub/health.py: `{"ok", "checks": [...]}`, 503 when a check fails, a
"Pod quota" check with `total_pods` and `quota` marked `_ignore_failure`), switchable between
healthy, a failed check, low pod-quota headroom and no answer at all. The redirector runs
with short check periods; each test waits until it has seen the state it sets.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import tornado.web
from tornado.httpclient import AsyncHTTPClient
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from redirector import rendezvous
from redirector.app import make_app
from redirector.settings import parse

FAST = {"periodSeconds": 0.05, "failedPeriodSeconds": 0.1, "retries": 2, "timeoutSeconds": 0.5,
        "podHeadroom": 10, "jitter": 0, "retryDelaySeconds": 0.01}


class FakeBinderHub:
    """A member: `/health` as BinderHub answers it, from `state`."""

    def __init__(self) -> None:
        self.state = "healthy"  # healthy | registry-down | no-answer
        self.pods, self.quota = 5, 100
        self.health_requests = 0
        fake = self

        class Health(tornado.web.RequestHandler):
            def get(self) -> None:
                fake.health_requests += 1
                if fake.state == "no-answer":
                    self.set_status(502)
                    self.write("<html>bad gateway</html>")
                    return
                registry_ok = fake.state != "registry-down"
                checks = [{"service": "Docker registry", "ok": registry_ok},
                          {"service": "JupyterHub API", "ok": True},
                          {"service": "Pod quota", "total_pods": fake.pods, "build_pods": 1,
                           "user_pods": fake.pods - 1, "quota": fake.quota,
                           "ok": fake.quota is None or fake.pods <= fake.quota, "_ignore_failure": True}]
                if not registry_ok:
                    self.set_status(503)
                self.write({"ok": registry_ok, "checks": checks})

        sockets = bind_sockets(0, "127.0.0.1")
        self.port = sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/"
        self.server = HTTPServer(tornado.web.Application([(r"/health", Health)]))
        self.server.add_sockets(sockets)


class Federation:
    """The redirector in front of fake members, on a running event loop."""

    def __init__(self, members: dict[str, tuple[FakeBinderHub, float]], prime: str, checks: dict[str, Any]):
        self.fakes = {name: fake for name, (fake, _) in members.items()}
        self.settings = parse({"members": [{"name": name, "url": fake.url, "weight": weight, "prime": name == prime}
                                           for name, (fake, weight) in members.items()], "checks": checks})
        app, self.checker = make_app(self.settings)
        sockets = bind_sockets(0, "127.0.0.1")
        self.base = f"http://127.0.0.1:{sockets[0].getsockname()[1]}"
        self.server = HTTPServer(app)
        self.server.add_sockets(sockets)
        self.checker.start()
        self.client = AsyncHTTPClient()

    async def get(self, uri: str) -> Any:
        return await self.client.fetch(self.base + uri, follow_redirects=False, raise_error=False)

    async def launch(self, uri: str) -> str:
        """The member URL a launch is sent to (its Location header), checking it is a 302."""
        response = await self.get(uri)
        assert response.code == 302, (uri, response.code)
        return response.headers["Location"]

    async def member_of(self, uri: str) -> str:
        location = await self.launch(uri)
        return next(name for name, fake in self.fakes.items() if location.startswith(fake.url))

    async def health(self) -> dict[str, Any]:
        return json.loads((await self.get("/health")).body)

    async def until(self, expected: dict[str, bool | None], timeout: float = 10) -> dict[str, Any]:
        """Wait until the redirector reports these members healthy (True) or not (False)."""
        deadline = time.monotonic() + timeout
        while True:
            doc = await self.health()
            seen = {m["name"]: m["healthy"] for m in doc["members"]}
            if all(seen[name] is want for name, want in expected.items()):
                return doc
            assert time.monotonic() < deadline, f"members stayed {seen}, expected {expected}"
            await asyncio.sleep(0.02)

    def close(self) -> None:
        self.checker.stop()
        self.server.stop()
        for fake in self.fakes.values():
            fake.server.stop()


def federated(weights: dict[str, float], prime: str, checks: dict[str, Any] | None = None) -> Callable[
        [Callable[[Federation], Awaitable[None]]], None]:
    """Run `scenario(federation)` on a fresh event loop with fake members of these weights."""

    def run(scenario: Callable[[Federation], Awaitable[None]]) -> None:
        async def main() -> None:
            fed = Federation({name: (FakeBinderHub(), w) for name, w in weights.items()}, prime, checks or FAST)
            try:
                await scenario(fed)
            finally:
                fed.close()

        asyncio.run(main())

    return run


REPOS = [f"/v2/gh/org{i % 37}/repo-{i}/main" for i in range(600)]


def test_launch_goes_to_a_healthy_member_with_path_and_query_kept():
    async def scenario(fed: Federation) -> None:
        await fed.until({"alpha": True, "beta": True})
        uri = "/v2/gh/binder-examples/requirements/HEAD?urlpath=lab%2Ftree%2Findex.ipynb&labpath=a%20b"
        location = await fed.launch(uri)
        member = await fed.member_of(uri)
        assert location == fed.fakes[member].url.rstrip("/") + uri
        build = "/build/gh/binder-examples/requirements/HEAD?token=x"
        assert await fed.launch(build) == fed.fakes[member].url.rstrip("/") + build  # same repository, same member
        # Another ref of the same repository (the key is provider + repository), and its capitalisation.
        assert await fed.member_of("/v2/gh/Binder-Examples/Requirements/v1.0?filepath=x") == member
        # What the pure function says, the server does.
        expected = rendezvous.choose([("alpha", 1.0), ("beta", 1.0)], "gh/binder-examples/requirements")
        assert member == expected
        response = await fed.get(uri)
        assert response.headers["Access-Control-Allow-Origin"] == "*"

    federated({"alpha": 1, "beta": 1}, prime="alpha")(scenario)


def test_unhealthy_member_gets_no_launches_and_only_its_repositories_move():
    async def scenario(fed: Federation) -> None:
        await fed.until({"a": True, "b": True, "c": True})
        before = {uri: await fed.member_of(uri) for uri in REPOS}
        assert set(before.values()) == {"a", "b", "c"}
        # While healthy, a repository stays where it is.
        assert {uri: await fed.member_of(uri) for uri in REPOS[:100]} == {u: before[u] for u in REPOS[:100]}

        fed.fakes["b"].state = "registry-down"  # BinderHub answers 503 with a failed check
        doc = await fed.until({"a": True, "b": False, "c": True})
        assert next(m for m in doc["members"] if m["name"] == "b")["reason"] == "Docker registry"
        during = {uri: await fed.member_of(uri) for uri in REPOS}
        assert "b" not in during.values()
        for uri in REPOS:
            if before[uri] != "b":
                assert during[uri] == before[uri], uri  # the healthy members keep theirs

        fed.fakes["b"].state = "healthy"
        await fed.until({"b": True})
        assert {uri: await fed.member_of(uri) for uri in REPOS} == before  # and they come back

    federated({"a": 1, "b": 1, "c": 1}, prime="a")(scenario)


def test_low_pod_quota_headroom_makes_a_member_unhealthy():
    async def scenario(fed: Federation) -> None:
        await fed.until({"a": True, "b": True})
        fed.fakes["a"].pods, fed.fakes["a"].quota = 91, 100  # 9 free slots < headroom 10 (BinderHub still "ok")
        doc = await fed.until({"a": False, "b": True})
        a = next(m for m in doc["members"] if m["name"] == "a")
        assert (a["reason"], a["pods"], a["quota"], a["checks"]["Pod quota"]) == ("Pod quota", 91, 100, False)
        assert {await fed.member_of(uri) for uri in REPOS[:200]} == {"b"}
        fed.fakes["a"].pods = 90  # exactly the headroom free: launches again
        await fed.until({"a": True})
        fed.fakes["a"].quota = None  # no quota at all: never full
        fed.fakes["a"].pods = 5000
        await asyncio.sleep(0.3)
        await fed.until({"a": True})

    federated({"a": 1, "b": 1}, prime="b")(scenario)


def test_weights_are_respected_over_many_repositories():
    async def scenario(fed: Federation) -> None:
        await fed.until({"big": True, "small": True})
        counts = Counter([await fed.member_of(f"/v2/gh/org/repo-{i}/HEAD") for i in range(1500)])
        share = counts["big"] / 1500
        # Expected 0.75; the standard deviation over 1500 repositories is about 0.011.
        assert abs(share - 0.75) < 0.05, counts

    federated({"big": 3, "small": 1}, prime="small")(scenario)


def test_prime_fallback_when_no_member_is_healthy():
    async def scenario(fed: Federation) -> None:
        await fed.until({"a": True, "b": True})
        fed.fakes["a"].state = "no-answer"  # a proxy's 502 page: retried, then unhealthy
        fed.fakes["b"].state = "registry-down"
        doc = await fed.until({"a": False, "b": False})
        assert doc["healthyMembers"] == 0
        assert next(m for m in doc["members"] if m["name"] == "a")["reason"].startswith("no answer: HTTP 502")
        uri = "/v2/zenodo/10.5281/zenodo.3242074?urlpath=rstudio"
        assert await fed.launch(uri) == fed.fakes["b"].url.rstrip("/") + uri  # b is prime
        assert {await fed.member_of(u) for u in REPOS[:50]} == {"b"}
        metrics = (await fed.get("/metrics")).body.decode()
        assert 'federation_redirects_total{member="b",reason="prime-fallback"} 51.0' in metrics

    federated({"a": 5, "b": 1}, prime="b")(scenario)


def test_a_member_that_is_down_is_retried_then_checked_less_often():
    slow = {**FAST, "failedPeriodSeconds": 30}

    async def scenario(fed: Federation) -> None:
        await fed.until({"a": True, "b": True})
        fed.fakes["a"].server.stop()  # nothing listens any more: connection refused
        await fed.until({"a": False})
        asked = fed.fakes["b"].health_requests
        await asyncio.sleep(0.5)
        assert fed.fakes["b"].health_requests > asked + 3  # the healthy member keeps its short period
        # (a's next check is 30 s away: the redirector keeps sending its launches elsewhere meanwhile)
        assert {await fed.member_of(u) for u in REPOS[:50]} == {"b"}

    federated({"a": 1, "b": 1}, prime="a", checks=slow)(scenario)


def test_front_page_health_metrics_and_other_paths():
    async def scenario(fed: Federation) -> None:
        await fed.until({"one": True, "two": True})
        page = (await fed.get("/")).body.decode()
        for name, fake in fed.fakes.items():
            assert name in page and fake.url in page
        assert page.count("healthy") >= 2 and "prime" in page
        health = await fed.get("/health")
        assert health.code == 200 and json.loads(health.body)["healthyMembers"] == 2
        await fed.launch("/v2/gh/a/b/HEAD")
        metrics = (await fed.get("/metrics")).body.decode()
        assert 'federation_member_healthy{member="one"} 1.0' in metrics
        assert 'federation_member_weight{member="two"} 3.0' in metrics
        assert 'federation_member_check_ok{check="Docker registry",member="one"} 1.0' in metrics
        assert 'federation_member_pod_quota{member="one"} 100.0' in metrics
        assert 'reason="rendezvous"' in metrics
        # Anything else (BinderHub's API, static files) is the prime member's.
        assert await fed.launch("/api/repoproviders?x=1") == fed.fakes["two"].url + "api/repoproviders?x=1"

    federated({"one": 1, "two": 3}, prime="two")(scenario)


@pytest.mark.parametrize("doc", [{"members": []}, {"members": [{"name": "a", "url": "ftp://x/", "weight": 1}]},
                                 {"members": [{"name": "a", "url": "https://x/", "weight": 0, "prime": True}]},
                                 {"members": [{"name": "a", "url": "https://x/"}, {"name": "b", "url": "https://y/"}]}])
def test_unusable_configuration_is_refused(doc):
    from redirector.settings import SettingsError

    with pytest.raises(SettingsError):
        parse(doc)


def test_the_entry_point_serves_from_the_environment_and_refuses_a_bad_config():
    """`python -m redirector`, as the image runs it, configured by FEDERATION_CONFIG."""
    import os
    import socket
    import subprocess
    import sys
    import urllib.error
    import urllib.request
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = {"members": [{"name": "solo", "url": "https://binder.solo.example/", "weight": 1, "prime": True}],
              "checks": {"timeoutSeconds": 0.2, "retries": 1}}
    env = {**os.environ, "FEDERATION_CONFIG": json.dumps(config)}
    proc = subprocess.Popen([sys.executable, "-m", "redirector", "--port", str(port)], cwd=root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with opener.open(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                    assert json.load(response)["members"][0]["name"] == "solo"
                    break
            except (urllib.error.URLError, ConnectionError):
                assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.stderr else ""
                time.sleep(0.1)
        try:
            opener.open(f"http://127.0.0.1:{port}/v2/gh/a/b/HEAD?urlpath=lab", timeout=2)
            raise AssertionError("expected a redirect")
        except urllib.error.HTTPError as err:
            assert err.code == 302
            assert err.headers["Location"] == "https://binder.solo.example/v2/gh/a/b/HEAD?urlpath=lab"
    finally:
        proc.terminate()
        proc.wait(timeout=10)

    bad = subprocess.run([sys.executable, "-m", "redirector"], cwd=root, capture_output=True, text=True, timeout=30,
                         env={**os.environ, "FEDERATION_CONFIG": '{"members": []}'})
    assert bad.returncode == 2 and bad.stderr.strip() == "error: members must be a non-empty list"


def _quota(pods: int | None, quota: int | None) -> dict[str, Any]:
    return {"service": "Pod quota", "total_pods": pods, "quota": quota, "ok": True, "_ignore_failure": True}


@pytest.mark.parametrize(("checks", "headroom", "healthy", "reason"), [
    ([{"service": "JupyterHub API", "ok": True}, _quota(5, 100)], 10, True, ""),
    ([{"service": "Docker registry", "ok": False}, _quota(5, 100)], 10, False, "Docker registry"),
    ([_quota(90, 100)], 10, True, ""),  # exactly the headroom left
    ([_quota(91, 100)], 10, False, "Pod quota"),
    ([_quota(120, 100)], 0, False, "Pod quota"),  # over BinderHub's soft quota
    ([_quota(100, 100)], 0, True, ""),  # no headroom asked: full is still open (BinderHub's own ok)
    ([_quota(5000, None)], 10, True, ""),  # no quota set
    ([], 10, True, ""),
])
def test_judging_a_binderhub_health_answer(checks, headroom, healthy, reason):
    from redirector.health import judge

    verdict = judge({"ok": True, "checks": checks}, headroom)
    assert (verdict.healthy, verdict.reason) == (healthy, reason)


@pytest.mark.parametrize("doc", [[], {"ok": True}, {"checks": "x"}, {"checks": ["x"]}])
def test_an_answer_without_checks_is_no_answer(doc):
    from redirector.health import NoAnswerError, judge

    with pytest.raises(NoAnswerError):
        judge(doc, 10)
