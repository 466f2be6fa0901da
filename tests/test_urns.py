"""The URN of every resource, per mode, is pinned.

Renaming a resource (or moving it to another parent) changes its URN, and Pulumi then deletes
the deployed resource and creates a new one: a new public IP, a new registry, lost homes.
When this test fails because of a deliberate rename, add `aliases=[pulumi.Alias(name=OLD)]`
to the resource so deployed stacks keep it, then update the pinned list with
`./run python -m tests.test_urns`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.conftest import _render

PINNED = Path(__file__).parent / "data" / "urns"
GITHUB = {"type": "github", "clientId": "gh-client", "allowedOrganizations": ["testuni"], "admins": ["alice"]}
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEgC/wHhpkjr7StAlWWMFN+kF5WksXY+xqCZc0vi51vs rse@testuni"
BUDGET = {"monthlyAmount": 500, "contactEmails": ["rse@testuni.example"]}
BLOB = {"name": "census", "storageAccount": "uniresearchdata", "container": "census",
        "mountPath": "/home/jovyan/data/census", "resourceGroup": "rg-research-data"}
FILES = {"name": "climate", "storageAccount": "testunidata", "share": "climate", "mountPath": "/srv/data/climate",
         "create": True}
# Each mode with every optional part switched on, so that every resource the program can
# declare in that mode is pinned.
MODES = {
    "binderhub": {"auth": GITHUB, "monitoring": {"enabled": True}, "datasets": [BLOB, FILES],
                  "security": {"cryptnono": True}, "speed": {"placeholders": 2},
                  "cluster": {"gpuPool": {"maxCount": 1}, "systemPool": {"vmSize": "Standard_E2s_v5"}},
                  "budget": BUDGET},
    "jupyterhub": {"mode": "jupyterhub", "auth": GITHUB, "storage": {"type": "shared"},
                   "monitoring": {"enabled": True}, "budget": BUDGET},
    "tljh": {"mode": "tljh", "auth": GITHUB, "vm": {"sshPublicKey": KEY}, "budget": BUDGET},
}


def urns(mode: str) -> list[str]:
    # The plan of the shared per-config cache (conftest), rendered as stack "test".
    return sorted(r["urn"] for r in _render({"authClientSecret": "s"}, **MODES[mode])["resources"])


@pytest.mark.parametrize("mode", sorted(MODES))
def test_urns_are_pinned(mode):
    pinned = json.loads((PINNED / f"{mode}.json").read_text())
    now = urns(mode)
    assert sorted(set(pinned) - set(now)) == [], "gone or renamed: add aliases (see the module docstring)"
    assert sorted(set(now) - set(pinned)) == [], "new resources: pin them (see the module docstring)"


def test_every_mode_pins_its_hub_and_components():
    binder, jupyter, tljh = (json.loads((PINNED / f"{mode}.json").read_text())
                             for mode in ("binderhub", "jupyterhub", "tljh"))
    release = "binderhub-azure:hub:Hub$kubernetes:helm.sh/v3:Release::hub-release"
    assert any(u.endswith(release) for u in binder) and any(u.endswith(release) for u in jupyter)
    assert any(u.endswith("binderhub-azure:tljh:TljhServer$azure-native:compute:VirtualMachine::tljh-vm") for u in tljh)
    assert not any("kubernetes:" in u for u in tljh)


if __name__ == "__main__":  # regenerate after a deliberate change (with aliases for renames)
    for name in sorted(MODES):
        (PINNED / f"{name}.json").write_text(json.dumps(urns(name), indent=1) + "\n")
        print(f"pinned {name}", file=sys.stderr)
