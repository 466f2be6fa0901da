"""Fixtures: render a stack's plan under Pulumi mocks, once per distinct config."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from components.config_load import parse_config
from tests.helpers import raw_config
from tools.mocks import PlanMocks, RecordingMonitor
from tools.plan import plan_document, run_program

_CACHE: dict[str, dict[str, Any]] = {}


def _render(secrets: dict[str, str] | None = None, **keys: Any) -> dict[str, Any]:
    raw, secret = raw_config(secrets, **keys)
    cache_key = json.dumps([raw, sorted(secret)], sort_keys=True)
    if cache_key not in _CACHE:
        # The same run as `program(...)` with these keys: one run of the program per config.
        _CACHE[cache_key] = plan_document(parse_config(raw, secret), _run(secrets, **keys), "test")
    return _CACHE[cache_key]


@pytest.fixture
def render() -> Callable[..., dict[str, Any]]:
    """`render(secrets=None, **config_keys)` -> the offline plan document of that stack."""
    return _render


_RUNS: dict[str, RecordingMonitor] = {}


def _run(secrets: dict[str, str] | None = None, *, deployer: str | None = None, **keys: Any) -> RecordingMonitor:
    raw, secret = raw_config(secrets, **keys)
    cache_key = json.dumps([raw, sorted(secret), deployer], sort_keys=True)
    if cache_key not in _RUNS:
        parse_config(raw, secret)  # a bad config fails here, as in the plan
        mocks = PlanMocks(client_id=deployer) if deployer else PlanMocks()
        _RUNS[cache_key] = run_program(raw, secret, "test", mocks)
    return _RUNS[cache_key]


@pytest.fixture
def program() -> Callable[..., RecordingMonitor]:
    """`program(secrets=None, deployer=None, **config_keys)` -> the record of that stack's run under
    mocks, with each resource's inputs also in plaintext (`revealed`); `deployer` is the client ID
    of whoever runs `pulumi up`."""
    return _run
