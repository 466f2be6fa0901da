"""Health of the members: what a BinderHub's `/health` answer means (pure), and the periodic
checks that keep each member's state.

BinderHub's `/health` (binderhub/health.py) answers JSON `{"ok": bool, "checks": [...]}`, with
status 200, or 503 when a check failed. Each check has `service` and `ok`; the "Pod quota"
check adds `total_pods`, `build_pods`, `user_pods` and `quota` (None without a quota) and is
marked `_ignore_failure` (a soft quota: BinderHub stays "ok" above it). The redirector treats a
member as unhealthy when any other check fails, and when its free pod slots (quota minus
total pods) are fewer than the headroom, so launches stop before the member refuses them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from dataclasses import dataclass, field
from typing import Any

from tornado.httpclient import AsyncHTTPClient

from .settings import Checks, Member

POD_QUOTA = "Pod quota"
# BinderHub's health answer is a few hundred bytes; a member that sends more is not answering
# as BinderHub does, and reading (and parsing) megabytes would hold up the event loop.
MAX_HEALTH_BYTES = 64 * 1024
log = logging.getLogger("redirector")


class NoAnswerError(Exception):
    """The member did not give a BinderHub health answer (no connection, a timeout, other status,
    not JSON): worth another attempt."""


@dataclass
class Verdict:
    healthy: bool
    reason: str = ""  # the failed check's service name, or why there was no answer
    checks: dict[str, bool] = field(default_factory=dict)
    pods: int | None = None
    quota: int | None = None


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def judge(doc: Any, headroom: int) -> Verdict:
    """The verdict on one `/health` answer. Raises NoAnswerError when it is not BinderHub's."""
    if not isinstance(doc, dict) or not isinstance(doc.get("checks"), list):
        raise NoAnswerError("the answer has no checks list")
    verdict = Verdict(healthy=True)
    for check in doc["checks"]:
        if not isinstance(check, dict):
            raise NoAnswerError("a check is not an object")
        service = str(check.get("service", "unnamed check"))
        ok = check.get("ok") is True
        verdict.checks[service] = ok
        if service == POD_QUOTA:
            verdict.pods, verdict.quota = _count(check.get("total_pods")), _count(check.get("quota"))
            if verdict.pods is not None and verdict.quota is not None and verdict.quota - verdict.pods < headroom:
                verdict.checks[service] = False
                if verdict.healthy:
                    verdict.healthy, verdict.reason = False, POD_QUOTA
            continue
        if not ok and verdict.healthy:
            verdict.healthy, verdict.reason = False, service
    return verdict


@dataclass
class MemberState:
    member: Member
    healthy: bool | None = None  # None until the first check ends
    reason: str = "not checked yet"
    checks: dict[str, bool] = field(default_factory=dict)
    pods: int | None = None
    quota: int | None = None
    last_check: float | None = None  # Unix time


class Checker:
    """Checks every member now, then again after `period` (healthy) or `failed_period`."""

    def __init__(self, members: tuple[Member, ...], checks: Checks, on_change: Any = None):
        self.settings = checks
        self.states = {m.name: MemberState(m) for m in members}
        self.on_change = on_change  # called with the MemberState after every check
        self._tasks: list[asyncio.Task[None]] = []
        self._client: AsyncHTTPClient | None = None

    def start(self) -> None:
        # A client of its own, on the running loop: one connection slot per member and then some,
        # so members that hang until the timeout never queue another member's check behind them
        # (tornado's shared client allows 10 at once); answers larger than BinderHub's are cut off.
        self._client = AsyncHTTPClient(force_instance=True, max_clients=max(10, 2 * len(self.states)),
                                       max_body_size=MAX_HEALTH_BYTES)
        for state in self.states.values():
            self._tasks.append(asyncio.ensure_future(self._watch(state)))

    def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()
        if self._client is not None:
            self._client.close()
            self._client = None

    async def _watch(self, state: MemberState) -> None:
        while True:
            await self.check(state)
            period = self.settings.period_seconds if state.healthy else self.settings.failed_period_seconds
            spread = 1 + self.settings.jitter * (random.random() - 0.5)
            await asyncio.sleep(period * spread)

    async def _ask(self, member: Member) -> Verdict:
        client = self._client or AsyncHTTPClient()
        try:
            # request_timeout bounds the whole answer, so a member that trickles bytes is cut off too.
            response = await client.fetch(
                member.health_url, raise_error=False, follow_redirects=False,
                connect_timeout=self.settings.timeout_seconds, request_timeout=self.settings.timeout_seconds,
                headers={"Accept": "application/json"})
        except Exception as err:  # refused connection, DNS, TLS, timeout: tornado raises these regardless
            raise NoAnswerError(f"{type(err).__name__}: {err}") from None
        if response.code not in (200, 503):  # 599: no connection or a timeout
            raise NoAnswerError(f"HTTP {response.code}" + (f" ({response.error})" if response.code == 599 else ""))
        try:
            doc = json.loads(response.body or b"")
        except ValueError:
            raise NoAnswerError(f"HTTP {response.code} without JSON") from None
        return judge(doc, self.settings.pod_headroom)

    async def check(self, state: MemberState) -> None:
        """One check of one member, with retries while it gives no answer."""
        verdict = Verdict(False, "no answer")
        for attempt in range(self.settings.retries):
            try:
                verdict = await self._ask(state.member)
                break
            except NoAnswerError as err:
                verdict = Verdict(False, f"no answer: {err}")
            if attempt + 1 < self.settings.retries:
                await asyncio.sleep(self.settings.retry_delay_seconds)
        if state.healthy is not verdict.healthy:
            log.warning("%s is now %s%s", state.member.name, "healthy" if verdict.healthy else "unhealthy",
                        f" ({verdict.reason})" if verdict.reason else "")
        state.healthy, state.reason = verdict.healthy, verdict.reason
        state.checks, state.pods, state.quota = verdict.checks, verdict.pods, verdict.quota
        state.last_check = time.time()
        if self.on_change is not None:
            self.on_change(state)
