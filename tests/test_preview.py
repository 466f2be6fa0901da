"""Every example stack as `pulumi preview` sees it: what Azure computes is unknown.

The mocks answer with unknowns for every computed output (IDs, names Azure assigns,
principal IDs, generated passwords, credentials), so an `apply` never runs on them. The
program must still complete, declare the same resources as in an update, and never turn an
unknown into text outside an `apply` (that would deploy the sentinel or an Output's repr).
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from pulumi.runtime import rpc

from components.config_load import parse_config
from tests.helpers import raw_config
from tools.mocks import PlanMocks, RecordingMonitor
from tools.plan import read_stack_file, run_program

ROOT = Path(__file__).resolve().parent.parent
STACKS = [ROOT / "Pulumi.dev.yaml", *sorted((ROOT / "examples").glob("Pulumi.*.yaml"))]
SECRETS = {"authClientSecret", "dockerHubToken"}
# What a stringified Output or unknown looks like: the SDK's refusal text, a repr, the sentinel.
STRINGIFIED = ("Calling __str__ on an Output", "<pulumi.output.", "Output[", "Unknown()", rpc.UNKNOWN)


# Features no example turns on, previewed the same way.
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEgC/wHhpkjr7StAlWWMFN+kF5WksXY+xqCZc0vi51vs rse@testuni"
GITHUB = {"type": "github", "clientId": "gh", "allowedOrganizations": ["testuni"], "admins": ["alice"]}
FEATURES: dict[str, dict[str, Any]] = {
    "tljh": {"mode": "tljh", "auth": GITHUB, "vm": {"sshPublicKey": KEY}, "budget": {
        "monthlyAmount": 50, "contactEmails": ["it@testuni.example"]}},
    "entra-no-local-accounts-datasets-monitoring": {
        "cluster": {"entraAdminGroupIds": ["12345678-1234-1234-1234-123456789012"], "disableLocalAccounts": True,
                    "systemPool": {"vmSize": "Standard_E2s_v5"}},  # Binder with monitoring (components/fit.py)
        "monitoring": {"enabled": True},
        "datasets": [{"name": "census", "storageAccount": "testunicensus", "container": "census",
                      "mountPath": "/srv/census", "create": True},
                     {"name": "climate", "storageAccount": "otherdata", "share": "climate", "mountPath": "/srv/climate",
                      "resourceGroup": "rg-data"}]},
    "entra-admin-credentials-gpu": {"cluster": {"entraAdminGroupIds": ["12345678-1234-1234-1234-123456789012"],
                                                "gpuPool": {"vmSize": "Standard_NC4as_T4_v3"}}},
}
STACKS += [Path(f"Pulumi.{name}.yaml") for name in FEATURES]


def stack_config(path: Path) -> tuple[dict[str, str], set[str]]:
    name = path.name.split(".")[1]
    if name in FEATURES:
        keys = FEATURES[name]
        return raw_config({"authClientSecret": "oauth-plaintext"} if "auth" in keys else None, **keys)
    raw, secret = read_stack_file(path)
    for key in SECRETS:
        if key in path.read_text():  # the examples ask for these with `pulumi config set --secret`
            raw[f"binderhub-azure:{key}"] = f"{key}-plaintext"
            secret.add(f"binderhub-azure:{key}")
    parse_config(raw, secret)
    return raw, secret


def strings(value: Any):
    if isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)
    elif isinstance(value, str):
        yield value
        if len(value) >= 64 and re.fullmatch(r"[A-Za-z0-9+/]+={0,2}", value):  # e.g. a VM's customData
            with contextlib.suppress(ValueError, UnicodeDecodeError):
                yield base64.b64decode(value, validate=True).decode()


_RUNS: dict[tuple[str, bool], RecordingMonitor] = {}


def run(path: Path, preview: bool) -> RecordingMonitor:
    if (path.name, preview) not in _RUNS:
        raw, secret = stack_config(path)
        _RUNS[path.name, preview] = run_program(raw, secret, path.name.split(".")[1], PlanMocks(preview=preview))
    return _RUNS[path.name, preview]


@pytest.mark.parametrize("path", STACKS, ids=lambda p: p.name)
def test_preview_with_unknown_outputs_completes_without_stringified_unknowns(path):
    preview = run(path, preview=True)
    unknown = 0
    for r in preview.registrations:
        for text in strings(r.revealed):
            unknown += text == "[unknown]"
            for marker in STRINGIFIED:
                assert marker not in text, f"{r.type} {r.name}: {text[:120]!r}"
    assert unknown > 0, "the mocks returned no unknowns: the preview run tests nothing"
    for text in strings(preview.stack_outputs):
        assert not any(marker in text for marker in STRINGIFIED), text[:120]


@pytest.mark.parametrize("path", STACKS, ids=lambda p: p.name)
def test_preview_declares_what_the_update_declares(path):
    declared = {(r.type, r.name, r.parent.split("::")[-1]) for r in run(path, preview=True).registrations}
    assert declared == {(r.type, r.name, r.parent.split("::")[-1]) for r in run(path, preview=False).registrations}


def test_preview_really_leaves_computed_outputs_unknown():
    preview = run(STACKS[0], preview=True)
    role = next(r for r in preview.registrations if r.name == "registry-acrpull")
    # The kubelet identity and the registry's ID are computed by Azure: unknown at preview.
    assert role.revealed["principalId"] == "[unknown]" and role.revealed["scope"] == "[unknown]"
    assert json.dumps(preview.stack_outputs)  # the outputs still serialise
