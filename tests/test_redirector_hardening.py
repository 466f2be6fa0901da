"""The redirector under hostile or broken input, run for real on localhost.

Launch redirects never leave a member's host, whatever the request target (`//evil.example`,
`/v2/..%2f..`, an absolute `http://...` form, `@evil.example`); and a member whose `/health`
hangs past the timeout, answers junk or answers megabytes neither holds up the other members'
checks nor the event loop that serves launches.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import tornado.web
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from redirector.app import make_app
from redirector.health import MAX_HEALTH_BYTES
from redirector.settings import Member, UnsafeTargetError, parse
from tests.test_redirector_live import FAST

HEALTHY = {"ok": True, "checks": [{"service": "Docker registry", "ok": True},
                                  {"service": "Pod quota", "total_pods": 1, "quota": 100, "ok": True,
                                   "_ignore_failure": True}]}


class FakeMember:
    """A fake BinderHub whose `/health` behaves as `mode` says: healthy, slow (sleeps `delay`
    seconds before a healthy answer), junk (an HTML page with 200) or huge (valid JSON, too big)."""

    def __init__(self, mode: str = "healthy", delay: float = 0.0):
        self.mode, self.delay = mode, delay
        self.requests: list[float] = []
        fake = self

        class Health(tornado.web.RequestHandler):
            async def get(self) -> None:
                fake.requests.append(time.monotonic())
                if fake.mode == "slow":
                    await asyncio.sleep(fake.delay)
                if fake.mode == "junk":
                    self.set_header("Content-Type", "text/html")
                    self.write("<html><body>Welcome to nginx!</body></html>")
                    return
                if fake.mode == "huge":
                    self.write({**HEALTHY, "padding": "x" * (4 * MAX_HEALTH_BYTES)})
                    return
                self.write(HEALTHY)

        sockets = bind_sockets(0, "127.0.0.1")
        self.url = f"http://127.0.0.1:{sockets[0].getsockname()[1]}/"
        self.server = HTTPServer(tornado.web.Application([(r"/health", Health)]))
        self.server.add_sockets(sockets)


@contextlib.asynccontextmanager
async def _serving(members: dict[str, FakeMember], checks: dict[str, Any]) -> AsyncIterator[str]:
    """The redirector in front of `members` (the first is prime), checking them; its address. On
    the way out the checker, the redirector and every fake member stop."""
    settings = parse({"members": [{"name": n, "url": m.url, "weight": 1, "prime": i == 0}
                                  for i, (n, m) in enumerate(members.items())], "checks": checks})
    app, checker = make_app(settings)
    sockets = bind_sockets(0, "127.0.0.1")
    server = HTTPServer(app)
    server.add_sockets(sockets)
    checker.start()
    try:
        yield f"127.0.0.1:{sockets[0].getsockname()[1]}"
    finally:
        checker.stop()
        server.stop()
        for member in members.values():
            member.server.stop()


async def _raw_get(address: str, target: str) -> tuple[int, str]:
    """Send `GET <target>` exactly as written (no client normalises it) and return the status
    and the Location header."""
    host, port = address.split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(f"GET {target} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    head = (await reader.read(65536)).decode("latin-1").split("\r\n\r\n")[0].split("\r\n")
    writer.close()
    location = next((h.split(":", 1)[1].strip() for h in head[1:] if h.lower().startswith("location:")), "")
    return int(head[0].split()[1]), location


async def _health(address: str) -> dict[str, Any]:
    host, port = address.split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(f"GET /health HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    body = (await reader.read()).split(b"\r\n\r\n", 1)[1]
    writer.close()
    return json.loads(body)


# Each: the request target as sent, and what must happen: the Location's path on the member, or 400.
CRAFTED = [
    ("//evil.example", "/evil.example"),
    ("//evil.example/v2/gh/a/b/HEAD", "/evil.example/v2/gh/a/b/HEAD"),
    ("///evil.example/", "/evil.example/"),
    ("/v2/..%2f..%2f@evil.example", "/v2/..%2f..%2f@evil.example"),
    ("/v2/../../evil.example", "/v2/../../evil.example"),
    ("/v2/gh/a/b/HEAD?next=//evil.example&u=https://evil.example", "/v2/gh/a/b/HEAD"),
    ("/%2f%2fevil.example", "/%2f%2fevil.example"),
    ("/build/gh/a/b/HEAD#@evil.example", "/build/gh/a/b/HEAD"),
    ("http://evil.example/v2/gh/a/b/HEAD", 400),  # absolute form: glued on, `member.examplehttp://...`
    ("https://user@evil.example/v2/x", 400),  # ... whose userinfo would make evil.example the host
    ("@evil.example", 400),  # `https://member.example@evil.example`: the host would be evil.example
    ("*", 400),
]


@pytest.mark.parametrize(("target", "expected"), CRAFTED)
def test_a_crafted_request_target_never_changes_the_redirect_host(target, expected):
    async def main() -> None:
        member = FakeMember()
        async with _serving({"member": member}, FAST) as address:
            status, location = await _raw_get(address, target)
        if expected == 400:
            assert (status, location) == (400, "")
            return
        assert status == 302
        parts, mine = urlsplit(location), urlsplit(member.url)
        assert (parts.scheme, parts.netloc) == (mine.scheme, mine.netloc), location
        assert parts.path == expected
        if "?" in target:  # the query is passed on as sent
            assert parts.query == target.split("?", 1)[1].split("#")[0]

    asyncio.run(main())


@pytest.mark.parametrize("path", ["evil.example", "@evil.example", "http://evil.example/", "/x\r\nSet-Cookie: a=b"])
def test_member_target_refuses_what_is_not_a_path(path):
    with pytest.raises(UnsafeTargetError):
        Member("m", "https://binder.example/", 1.0, True).target(path)


def test_member_target_keeps_the_path_below_a_member_prefix():
    member = Member("m", "https://binder.example/prefix/", 1.0, True)
    assert member.target("/v2/gh/a/b/HEAD", "urlpath=lab") == "https://binder.example/prefix/v2/gh/a/b/HEAD?urlpath=lab"
    assert member.target("//evil.example/x") == "https://binder.example/prefix/evil.example/x"


def test_a_slow_junk_or_huge_member_blocks_neither_the_others_nor_launches():
    # timeout 0.5 s; the slow member answers after 5 s, far past it; 2 attempts each.
    checks = {**FAST, "timeoutSeconds": 0.5, "retries": 2, "failedPeriodSeconds": 0.2}

    async def main() -> None:
        members = {"good": FakeMember(), "slow": FakeMember("slow", delay=5), "junk": FakeMember("junk"),
                   "huge": FakeMember("huge")}
        async with _serving(members, checks) as address:
            # Launches are answered at once while the slow member's check hangs.
            started = time.monotonic()
            worst = 0.0
            while time.monotonic() - started < 1.2:
                t0 = time.monotonic()
                status, _ = await _raw_get(address, "/v2/gh/a/b/HEAD")
                worst = max(worst, time.monotonic() - t0)
                assert status == 302
                await asyncio.sleep(0.02)
            assert worst < 0.5, f"a launch waited {worst:.2f} s"  # the slow member takes 5 s
            # The healthy member was checked again and again meanwhile (period 0.05 s).
            assert len(members["good"].requests) >= 8
            deadline = time.monotonic() + 10
            while True:
                doc = {m["name"]: m for m in (await _health(address))["members"]}
                if all(doc[n]["healthy"] is False for n in ("slow", "junk", "huge")):
                    break
                assert time.monotonic() < deadline, doc
                await asyncio.sleep(0.05)
            assert doc["good"]["healthy"] is True
            assert doc["slow"]["reason"].startswith("no answer: HTTPTimeoutError")
            assert doc["junk"]["reason"] == "no answer: HTTP 200 without JSON"
            # Cut off at MAX_HEALTH_BYTES: the connection is dropped, nothing large is read or parsed.
            assert doc["huge"]["reason"].startswith("no answer: HTTPStreamClosedError")
            # Every launch now goes to the one healthy member.
            for i in range(20):
                status, location = await _raw_get(address, f"/v2/gh/org/repo-{i}/HEAD")
                assert status == 302 and location.startswith(members["good"].url)

    asyncio.run(main())


def test_many_hanging_members_do_not_queue_a_healthy_members_check():
    """tornado's shared HTTP client runs 10 requests at once; 12 hanging members would queue the
    healthy member's check behind them. The checker's own client has room for every member."""
    checks = {**FAST, "timeoutSeconds": 3, "retries": 1, "failedPeriodSeconds": 30}

    async def main() -> None:
        members = {f"hang{i}": FakeMember("slow", delay=10) for i in range(12)}
        members["good"] = FakeMember()
        async with _serving(members, checks) as address:
            deadline = time.monotonic() + 2.0  # queued, it would wait for a slot: the 3 s timeout
            while True:
                doc = {m["name"]: m for m in (await _health(address))["members"]}
                if doc["good"]["healthy"] is True:
                    break
                assert time.monotonic() < deadline, "the healthy member waited behind the hanging ones"
                await asyncio.sleep(0.02)

    asyncio.run(main())


def test_the_image_base_is_a_cited_digest_and_a_failed_pull_stops_the_workflow(tmp_path):
    import re
    import subprocess
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parent.parent
    dockerfile = (root / "redirector" / "Dockerfile").read_text()
    (base,) = re.findall(r"^FROM (\S+)$", dockerfile, re.MULTILINE)
    # The index digest docker-library/repo-info lists for python:3.13-slim at the commit cited.
    assert base == "python:3.13-slim@sha256:881d80734ee05dca6f7f42dcb080975652a53c7eda9ba1f03bb8da31aa6a6ec2"
    assert "docker-library/repo-info, commit\n# 422f3cfe488dc9ae394c5058b27db617f72c91db" in dockerfile
    steps = yaml.safe_load((root / ".github" / "workflows" / "redirector-image.yml").read_text())["jobs"]["image"][
        "steps"]
    names = [s.get("name") for s in steps]
    pull = steps[names.index("Pull the pinned base image")]
    assert names.index("Pull the pinned base image") < names.index("Build, push, print the digest")
    # The step's script, run with a `docker` that cannot pull: it exits 1 with an error naming the image.
    stub = tmp_path
    (stub / "docker").write_text("#!/bin/sh\necho 'manifest unknown' >&2\nexit 1\n")
    (stub / "docker").chmod(0o755)
    proc = subprocess.run(["bash", "-e", "-c", pull["run"]], cwd=root, capture_output=True, text=True, timeout=30,
                          env={"PATH": f"{stub}:/usr/bin:/bin"})
    assert proc.returncode == 1
    assert f"::error file=redirector/Dockerfile::cannot pull the pinned base image {base}" in proc.stdout
