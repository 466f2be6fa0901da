"""Fixtures: render a stack's plan under Pulumi mocks, once per distinct config."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from components.plan import build_plan
from tests.helpers import raw_config

_CACHE: dict[str, dict[str, Any]] = {}


def _render(secrets: dict[str, str] | None = None, **keys: Any) -> dict[str, Any]:
    raw, secret = raw_config(secrets, **keys)
    cache_key = json.dumps([raw, sorted(secret)], sort_keys=True)
    if cache_key not in _CACHE:
        _CACHE[cache_key] = build_plan(raw, secret, "test", mask_secrets=False)
    return _CACHE[cache_key]


@pytest.fixture
def render() -> Callable[..., dict[str, Any]]:
    """`render(secrets=None, **config_keys)` -> the offline plan document of that stack."""
    return _render
