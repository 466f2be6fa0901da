"""Both modes run a hub image with JupyterHub's security fixes, and pins.json records them.

The BinderHub chart bundles the JupyterHub chart 4.2.0 (JupyterHub 5.3.0); binderhub mode gives
its hub the image of the JupyterHub chart that jupyterhub mode installs (hub_spec.binder_hub_image
says why). These tests fail if either hub predates a recorded fix.
"""

from __future__ import annotations

from typing import Any

from components import charts, hub_spec
from tests import hub_image
from tests.helpers import release

# z2jh docs/source/changelog.md (tags 4.3.3, 4.3.4, 4.4.0).
ADVISORIES = {"CVE-2026-33709": ("4.3.3", "5.4.4"), "CVE-2026-40864": ("4.3.4", "5.4.5"),
              "GHSA-p43p-whwx-q52h": ("4.4.0", "5.5.0")}
HUB_MODE = {"mode": "jupyterhub", "auth": {"type": "github", "clientId": "c", "allowedUsers": ["alice"]},
            "secrets": {"authClientSecret": "s"}}


def version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def binder_hub_pin() -> dict[str, Any]:
    return charts.PINS["images"]["binderhub-hub"]


def test_the_advisories_are_recorded_with_the_versions_that_fix_them():
    pin = binder_hub_pin()
    recorded = {a["id"]: (a["fixed"], a["jupyterhub"]) for a in pin["advisories"]}
    assert recorded == ADVISORIES
    # `minimum` is the lowest hub image with every fix.
    assert pin["minimum"] == max((fixed for fixed, _ in ADVISORIES.values()), key=version)
    assert set(charts.PINS["charts"]["jupyterhub"]["advisories"]) == set(ADVISORIES)
    assert charts.PINS["charts"]["jupyterhub"]["minimum"] == pin["minimum"]


def test_binder_hub_image_has_the_fixes(render):
    pin = binder_hub_pin()
    assert version(pin["tag"]) >= version(pin["minimum"])
    for fixed, jupyterhub in ADVISORIES.values():
        assert version(pin["tag"]) >= version(fixed)
        assert version(pin["jupyterhub"]) >= version(jupyterhub)
    # The JupyterHub that image runs is the one its package list pins.
    assert hub_image.requirements_image() == f"{pin['image']}:{pin['tag']}"
    assert hub_image.pinned_versions()["jupyterhub"] == pin["jupyterhub"]
    # ... and it is what the rendered release runs.
    hub = release(render(), "binderhub")["values"]["jupyterhub"]["hub"]
    assert hub["image"] == hub_spec.binder_hub_image() == {"name": pin["image"], "tag": pin["tag"]}


def test_the_bundled_hub_would_lack_them():
    # Why the override exists. Once the BinderHub chart bundles a JupyterHub chart with the
    # fixes, this fails: then drop `binder_hub_image` and follow the chart again.
    assert version(charts.BINDERHUB_JUPYTERHUB.version) < version(binder_hub_pin()["minimum"])


def test_jupyterhub_mode_hub_has_the_fixes(render):
    chart = charts.PINS["charts"]["jupyterhub"]
    assert version(charts.JUPYTERHUB.version) >= version(chart["minimum"])
    # The chart's hub image is its own version (chartpress sets `hub.image.tag` on release) and
    # the rendered values keep it; binderhub mode runs the same image.
    assert charts.defaults(charts.JUPYTERHUB)["hub"]["image"]["name"] == binder_hub_pin()["image"]
    assert "image" not in release(render(**HUB_MODE), "jupyterhub")["values"]["hub"]
    assert charts.JUPYTERHUB.version == binder_hub_pin()["tag"]
