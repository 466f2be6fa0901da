"""Helm charts the stack installs, and offline checks of the values it gives them (pure).

Helm validates the *coalesced* values against a chart's schema: the chart's defaults,
then (for a subchart) the parent chart's defaults for that block, then the values
passed in; maps merge key by key, lists and scalars replace, null removes a key.
`coalesce` and `schema_errors` do the same here, so a values document that passes
here passes Helm's schema check.

The schemas and defaults of the JupyterHub and BinderHub charts are in `chart_data/`
(see its README for sources and licences).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import validators

DATA = Path(__file__).resolve().parent / "chart_data"


@dataclass(frozen=True)
class Chart:
    """A pinned Helm chart."""

    name: str
    version: str
    repo: str


# Every chart and image version lives in pins.json with its source, date and refresh rule
# (`./run python -m tools.refresh` updates and reports them); nothing here restates a version.
PINS_FILE = Path(__file__).resolve().parent / "pins.json"
PINS: dict[str, Any] = json.loads(PINS_FILE.read_text())


def pinned_chart(key: str) -> Chart:
    """The chart pinned under `charts.<key>` in pins.json."""
    pin = PINS["charts"][key]
    return Chart(pin.get("name", key), pin["version"], pin["repo"])


def pinned_image(key: str) -> str:
    """`image:tag` of the image pinned under `images.<key>` in pins.json."""
    pin = PINS["images"][key]
    return f"{pin['image']}:{pin['tag']}"


JUPYTERHUB = pinned_chart("jupyterhub")
BINDERHUB = pinned_chart("binderhub")
# The JupyterHub chart that this BinderHub chart bundles (its `jupyterhub:` block).
BINDERHUB_JUPYTERHUB = pinned_chart("binderhub-jupyterhub")
# What mybinder.org runs instead of the pinned BinderHub's own defaults (chart dind tag
# 28.3.3-dind; code build_image repo2docker:2024.07.0); the reasons are in pins.json.
# Both are overridable through `helmValues.binderhub` (`dind.daemonset.image.tag`,
# `config.KubernetesBuildExecutor.build_image`).
DIND_IMAGE_TAG = PINS["images"]["dind"]["tag"]
# The hub image of BinderHub's JupyterHub, in place of the bundled chart's own (z2jh 4.2.0,
# JupyterHub 5.3.0, without three security fixes); why in hub_spec.binder_hub_image.
BINDERHUB_HUB_IMAGE = PINS["images"]["binderhub-hub"]["image"]
BINDERHUB_HUB_TAG = PINS["images"]["binderhub-hub"]["tag"]
REPO2DOCKER_IMAGE = pinned_image("repo2docker")
TRAEFIK = pinned_chart("traefik")
# The HTTP repository gets each cert-manager release a few hours after the OCI one.
CERT_MANAGER = pinned_chart("cert-manager")
# NVIDIA's device plugin (AKS installs only the driver).
NVIDIA_DEVICE_PLUGIN = pinned_chart("nvidia-device-plugin")
# prometheus-community's plain Prometheus chart scrapes `prometheus.io/scrape` annotations.
PROMETHEUS = pinned_chart("prometheus")
GRAFANA = pinned_chart("grafana")
# cryptnono, the crypto-mining detector mybinder.org runs.
CRYPTNONO = pinned_chart("cryptnono")


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Helm's coalescing of two values documents: maps merge recursively, anything else in
    `override` replaces, and an explicit None (YAML null) removes the key."""
    result = dict(base)
    for key, value in override.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = merge(result[key], value)
        else:
            result[key] = value
    return result


@cache
def _load(chart: Chart, kind: str) -> dict[str, Any]:
    return json.loads((DATA / f"{chart.name}-{chart.version}.{kind}.json").read_text())


def defaults(chart: Chart) -> dict[str, Any]:
    return _load(chart, "values")


def schema(chart: Chart) -> dict[str, Any]:
    return _load(chart, "values.schema")


def coalesce(chart: Chart, values: Mapping[str, Any]) -> dict[str, Any]:
    """The values Helm would validate for `chart` given `values`."""
    merged = merge(defaults(chart), values)
    if chart == BINDERHUB:
        sub = merge(defaults(BINDERHUB_JUPYTERHUB), defaults(BINDERHUB).get("jupyterhub", {}))
        merged["jupyterhub"] = merge(sub, values.get("jupyterhub") or {})
    return merged


def _errors(chart: Chart, document: Mapping[str, Any], prefix: str) -> list[str]:
    schema_doc = schema(chart)
    validator = validators.validator_for(schema_doc)(schema_doc)
    found = []
    for err in sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path))):
        path = ".".join([prefix] * bool(prefix) + [str(p) for p in err.absolute_path]) or "(root)"
        found.append(f"{path}: {err.message}")
    return found


def schema_errors(chart: Chart, values: Mapping[str, Any]) -> list[str]:
    """Every schema violation of the coalesced values, as 'dotted.path: message' lines.
    For BinderHub the `jupyterhub:` block is also checked against the bundled JupyterHub
    chart's schema, as Helm does for a subchart."""
    document = coalesce(chart, values)
    found = _errors(chart, document, "")
    if chart == BINDERHUB:
        found += _errors(BINDERHUB_JUPYTERHUB, document["jupyterhub"], "jupyterhub")
    return found
