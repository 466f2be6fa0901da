"""The redirector's configuration: JSON, from the environment variable FEDERATION_CONFIG (what
the stack renders into the container app) or a file.

    {"members": [{"name": "myuni", "url": "https://binder.myuni.example/", "weight": 2, "prime": true}, ...],
     "checks": {"periodSeconds": 10, "failedPeriodSeconds": 300, "retries": 5, "timeoutSeconds": 2,
                "podHeadroom": 10, "jitter": 0.1, "retryDelaySeconds": 1}}

Exactly one member is prime: where launches go when no member is healthy.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ENV_VAR = "FEDERATION_CONFIG"
_NAME = re.compile(r"[a-z]([a-z0-9-]{0,30}[a-z0-9])?")


class SettingsError(ValueError):
    """The configuration is unusable; the message says which key and why."""


class UnsafeTargetError(ValueError):
    """A request that cannot be redirected to a member without leaving the member's host."""


@dataclass(frozen=True)
class Member:
    name: str
    url: str  # ends with '/'
    weight: float
    prime: bool = False

    @property
    def health_url(self) -> str:
        return self.url + "health"

    def target(self, path: str, query: str = "") -> str:
        """Where a request for `path` (and `query`) goes on this member: always on the member's own
        scheme and host. Raises UnsafeTargetError for a request target that is not a path
        (`@evil.example`, an absolute `http://...` form, `*`): glued to the member's address those
        could name another host. Leading slashes collapse to one, so `//evil.example` stays a path
        on the member (a browser would read `//host` as a host if a member echoed it back)."""
        if not path.startswith("/") or any(c in path + query for c in "\r\n\0"):
            raise UnsafeTargetError(f"not a path: {path[:80]!r}")
        target = self.url.rstrip("/") + "/" + path.lstrip("/") + (f"?{query}" if query else "")
        mine, theirs = urlsplit(self.url), urlsplit(target)
        if (theirs.scheme, theirs.netloc) != (mine.scheme, mine.netloc):  # cannot happen after the rules above
            raise UnsafeTargetError(f"{target[:80]!r} leaves {mine.netloc}")
        return target


@dataclass(frozen=True)
class Checks:
    period_seconds: float = 10.0
    failed_period_seconds: float = 300.0
    retries: int = 5
    timeout_seconds: float = 2.0
    pod_headroom: int = 10
    jitter: float = 0.1  # each wait is stretched or shrunk by up to half this share, so checks spread out
    retry_delay_seconds: float = 1.0


@dataclass(frozen=True)
class Settings:
    members: tuple[Member, ...]
    checks: Checks = field(default_factory=Checks)

    @property
    def prime(self) -> Member:
        return next(m for m in self.members if m.prime)


_CHECK_KEYS = {"periodSeconds": "period_seconds", "failedPeriodSeconds": "failed_period_seconds",
               "retries": "retries", "timeoutSeconds": "timeout_seconds", "podHeadroom": "pod_headroom",
               "jitter": "jitter", "retryDelaySeconds": "retry_delay_seconds"}


def _number(where: str, value: Any, *, minimum: float = 0.0, integer: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum \
            or (integer and int(value) != value):
        kind = "a whole number" if integer else "a number"
        raise SettingsError(f"{where} must be {kind} >= {minimum:g} (got {value!r})")
    return value


def parse(doc: Any) -> Settings:
    """Validate a configuration document."""
    if not isinstance(doc, dict):
        raise SettingsError("the configuration must be a JSON object")
    unknown = set(doc) - {"members", "checks"}
    if unknown:
        raise SettingsError(f"unknown keys {sorted(unknown)}; allowed: members, checks")
    raw_members = doc.get("members")
    if not isinstance(raw_members, list) or not raw_members:
        raise SettingsError("members must be a non-empty list")
    members = []
    for i, raw in enumerate(raw_members):
        where = f"members[{i}]"
        if not isinstance(raw, dict) or set(raw) - {"name", "url", "weight", "prime"}:
            raise SettingsError(f"{where} must be an object with name, url, weight and prime")
        name, url = raw.get("name"), raw.get("url")
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise SettingsError(f"{where}.name must be 1-32 characters of [a-z0-9-] (got {name!r})")
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
            raise SettingsError(f"{where}.url must be an http(s) address without a query (got {url!r})")
        weight = _number(f"{where}.weight", raw.get("weight", 1), minimum=0)
        if weight <= 0:
            raise SettingsError(f"{where}.weight must be > 0 (got {weight!r})")
        prime = raw.get("prime", False)
        if not isinstance(prime, bool):
            raise SettingsError(f"{where}.prime must be true or false (got {prime!r})")
        members.append(Member(name, url.rstrip("/") + "/", float(weight), prime))
    names = [m.name for m in members]
    if len(set(names)) != len(names):
        raise SettingsError(f"member names must be distinct (got {names})")
    if sum(m.prime for m in members) != 1:
        raise SettingsError("exactly one member must be prime: true")
    raw_checks = doc.get("checks", {})
    if not isinstance(raw_checks, dict) or set(raw_checks) - set(_CHECK_KEYS):
        raise SettingsError(f"checks must be an object with keys from {sorted(_CHECK_KEYS)}")
    values: dict[str, Any] = {}
    for key, attr in _CHECK_KEYS.items():
        if key in raw_checks:
            integer = attr in ("retries", "pod_headroom")
            minimum = 1 if attr == "retries" else 0
            values[attr] = _number(f"checks.{key}", raw_checks[key], minimum=minimum, integer=integer)
    checks = Checks(**values)
    if checks.timeout_seconds <= 0 or checks.period_seconds <= 0 or checks.failed_period_seconds <= 0:
        raise SettingsError("checks.periodSeconds, failedPeriodSeconds and timeoutSeconds must be > 0")
    return Settings(tuple(members), checks)


def load(path: str | None = None, environ: dict[str, str] | None = None) -> Settings:
    """From `path` if given, else from the FEDERATION_CONFIG environment variable."""
    env = os.environ if environ is None else environ
    if path:
        text, where = Path(path).read_text(), path
    elif env.get(ENV_VAR):
        text, where = env[ENV_VAR], ENV_VAR
    else:
        raise SettingsError(f"no configuration: set {ENV_VAR} to the JSON document or pass --config FILE")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        raise SettingsError(f"{where} is not JSON: {err}") from None
    return parse(doc)
