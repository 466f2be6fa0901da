"""Shared test helpers: build raw stack config the way Pulumi hands it to a program."""

from __future__ import annotations

import json
from typing import Any

from tools.mocks import SECRET

# An Ed25519 public key line of the shape Azure takes (components/azure_limits.py).
TEST_SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEgC/wHhpkjr7StAlWWMFN+kF5WksXY+xqCZc0vi51vs rse@testuni"

BASE: dict[str, Any] = {
    "azure-native:location": "westeurope",
    "institution": "testuni",
    "contactEmail": "rse@testuni.example",
}


def raw_config(secrets: dict[str, str] | None = None, **keys: Any) -> tuple[dict[str, str], set[str]]:
    """Raw config like the Pulumi CLI passes it: strings, objects as JSON, `ns:key` names.
    `secrets` are set as secret keys. A key given as None is left out."""
    merged = {**BASE, **keys}
    raw: dict[str, str] = {}
    for key, value in merged.items():
        if value is None:
            continue
        full = key if ":" in key else f"binderhub-azure:{key}"
        if isinstance(value, bool):
            raw[full] = "true" if value else "false"
        elif isinstance(value, (dict, list)):
            raw[full] = json.dumps(value)
        else:
            raw[full] = str(value)
    secret_keys = set()
    for key, value in (secrets or {}).items():
        full = f"binderhub-azure:{key}"
        raw[full] = value
        secret_keys.add(full)
    return raw, secret_keys


def resources_of(plan: dict[str, Any], type_: str) -> list[dict[str, Any]]:
    return [r for r in plan["resources"] if r["type"] == type_]


def one(plan: dict[str, Any], type_: str) -> dict[str, Any]:
    found = resources_of(plan, type_)
    assert len(found) == 1, f"expected one {type_}, found {len(found)}"
    return found[0]


def named(plan: dict[str, Any], name: str) -> dict[str, Any]:
    found = [r for r in plan["resources"] if r["name"] == name]
    assert len(found) == 1, f"expected one resource named {name}, found {len(found)}"
    return found[0]


def release(plan: dict[str, Any], name: str) -> dict[str, Any]:
    found = [r for r in plan["helmReleases"] if r["name"] == name]
    assert len(found) == 1, f"expected one release {name}, found {[r['name'] for r in plan['helmReleases']]}"
    return found[0]


__all__ = ["BASE", "SECRET", "TEST_SSH_KEY", "named", "one", "raw_config", "release", "resources_of"]


def parsed(secrets: dict[str, str] | None = None, **keys: Any) -> Any:
    """The validated StackConfig of these keys (on the BASE stack)."""
    from components.config_load import parse_config

    return parse_config(*raw_config(secrets, **keys))


def refusals(secrets: dict[str, str] | None = None, **keys: Any) -> list[str]:
    """The problems of a config that must be refused (the test fails if it is accepted), each one
    line, as the offline tools print them."""
    import pytest

    from components.config import ConfigError

    with pytest.raises(ConfigError) as info:
        parsed(secrets, **keys)
    assert all("\n" not in line for line in info.value.problems)
    return info.value.problems
