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
JUPYTER_REPO = "https://jupyterhub.github.io/helm-chart/"


@dataclass(frozen=True)
class Chart:
    """A pinned Helm chart."""

    name: str
    version: str
    repo: str


JUPYTERHUB = Chart("jupyterhub", "4.4.0", JUPYTER_REPO)
BINDERHUB = Chart("binderhub", "1.0.0-0.dev.git.3958.haf9ca8b1", JUPYTER_REPO)
# The JupyterHub chart that this BinderHub chart bundles (its `jupyterhub:` block).
BINDERHUB_JUPYTERHUB = Chart("jupyterhub", "4.2.0", JUPYTER_REPO)
# What mybinder.org runs (jupyterhub/mybinder.org-deploy, mybinder/values.yaml at commit
# 95860dbcba2031b930020dbd856e76cd37ba34c8, August 2026), instead of the pinned BinderHub's own
# defaults (chart dind tag 28.3.3-dind; code build_image repo2docker:2024.07.0):
# - the dind daemon stays on Docker 27.5.1: with 28.x builds hang after the push
#   (mybinder.org-deploy#3387, PR #3413);
# - the repo2docker build image is the 2026 release mybinder.org builds with.
# Both are overridable through `helmValues.binderhub` (`dind.daemonset.image.tag`,
# `config.KubernetesBuildExecutor.build_image`).
DIND_IMAGE_TAG = "27.5.1-dind"
REPO2DOCKER_IMAGE = "quay.io/jupyterhub/repo2docker:2026.4.1.dev44-g97bb4e45a"
# Traefik chart 41.3.0 (Traefik v3.7), traefik/traefik-helm-chart tag v41.3.0.
TRAEFIK = Chart("traefik", "41.3.0", "https://traefik.github.io/charts")
# cert-manager v1.21.1; chart versions carry the "v". The HTTP repository gets each release
# a few hours after the OCI one.
CERT_MANAGER = Chart("cert-manager", "v1.21.1", "https://charts.jetstack.io")
# NVIDIA's device plugin (AKS installs only the driver), tag v0.20.0.
NVIDIA_DEVICE_PLUGIN = Chart("nvidia-device-plugin", "0.20.0", "https://nvidia.github.io/k8s-device-plugin")
# prometheus-community's plain Prometheus chart scrapes `prometheus.io/scrape` annotations.
PROMETHEUS = Chart("prometheus", "29.27.0", "https://prometheus-community.github.io/helm-charts")
# Grafana's chart moved to the grafana-community repository in 2026.
GRAFANA = Chart("grafana", "12.11.1", "https://grafana-community.github.io/helm-charts")


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
