"""Which Kubernetes minor versions AKS supports, and until when (pure).

The facts are in `aks_versions.json`: AKS's release calendar as of the file's `date`, with each
minor version's GA month and end of life. Three answers come from them:

- `problem`: why a version cannot be used at all (it left AKS support: AKS refuses new clusters
  on it with K8sVersionNotSupported, and a stack that pins it would fight AKS's forced upgrade).
- `note`: what an operator should know about a version that can be used (its end of life is
  near, or it is newer than the file, so only the pre-flight can confirm the region offers it).
- `upgrade_path`: the minor versions to go through, one `pulumi up` each.

Dates are passed in (`today`), so the same input always gives the same answer; callers use
`today()`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

DATA_FILE = Path(__file__).resolve().parent / "aks_versions.json"
# An end of life this close gets a note with the date and the way up.
NEAR_END = timedelta(days=60)
# Versions this far past the newest the file knows are accepted (with a note): Kubernetes releases
# about three minor versions a year, so a file a few months old may not know them yet.
AHEAD = 2


@dataclass(frozen=True)
class MinorVersion:
    name: str
    aks_ga: str  # YYYY-MM, as the calendar gives it
    end_of_life: date
    note: str | None = None


def _load() -> tuple[dict[str, Any], dict[str, MinorVersion]]:
    doc: dict[str, Any] = json.loads(DATA_FILE.read_text())
    versions = {name: MinorVersion(name, v["aksGa"], date.fromisoformat(v["endOfLife"]), v.get("note"))
                for name, v in doc["versions"].items()}
    return doc, versions


DOC, VERSIONS = _load()
DEFAULT: str = DOC["default"]
RECORDED: date = date.fromisoformat(DOC["date"])


def today() -> date:
    """The date the checks use (tests replace it)."""
    return date.today()


def minor(version: str) -> int:
    """'1.36' -> 36. The caller has checked the shape."""
    return int(version.split(".")[1])


def name_of(minor_number: int) -> str:
    return f"1.{minor_number}"


def supported(on: date) -> list[str]:
    """The versions the file lists as supported on that day, oldest first."""
    return sorted((v.name for v in VERSIONS.values() if v.end_of_life >= on), key=minor)


def _newest_known() -> int:
    return max(minor(v) for v in VERSIONS)


def _newest_known_name() -> str:
    return name_of(_newest_known())


def _source() -> str:
    return f"AKS release calendar as of {RECORDED.isoformat()}, components/aks_versions.json"


def problem(version: str, on: date) -> str | None:
    """Why `version` cannot be deployed on that day, or None: one line that reads after the key
    ("cluster.kubernetesVersion is 1.34, which left AKS support ...")."""
    first = supported(on)
    instead = f"use {first[0]} or newer" if first else "run ./run python -m tools.refresh"
    known = VERSIONS.get(version)
    if known is not None and known.end_of_life < on:
        return (f"is {version}, which left AKS support on {known.end_of_life.isoformat()} ({_source()}): "
                "AKS creates no new cluster on it (K8sVersionNotSupported) and upgrades the clusters that run it; "
                f"{instead} "
                "(an existing cluster: README 'Keeping it current')")
    if known is None and minor(version) < min(minor(v) for v in VERSIONS):
        return (f"is {version}, older than every version AKS still lists ({_source()}); {instead} "
                "(an existing cluster: README 'Keeping it current')")
    if minor(version) > _newest_known() + AHEAD:
        return (f"is {version}, more than two minor versions past the newest AKS lists ({_newest_known_name()}, "
                f"{_source()}): Kubernetes has not released it; use {DEFAULT}")
    return None


def note(version: str, on: date) -> str | None:
    """What to know about a usable `version` on that day, in one line, or None."""
    known = VERSIONS.get(version)
    if known is None and minor(version) > _newest_known():
        return (f"cluster.kubernetesVersion {version} is newer than components/aks_versions.json "
                f"({RECORDED.isoformat()}); not checked offline: the pre-flight "
                "(./run python -m tools.preflight) asks Azure whether the region offers it")
    if known is None:
        return None
    if known.end_of_life - on <= NEAR_END:
        up = name_of(minor(version) + 1)
        return (f"cluster.kubernetesVersion {version} leaves AKS support on {known.end_of_life.isoformat()}: "
                f"move to {up} before then (one minor version per pulumi up; README 'Keeping it current')")
    if known.aks_ga > on.strftime("%Y-%m") or known.note:
        return f"cluster.kubernetesVersion {version}: {known.note or f'AKS GA planned for {known.aks_ga}'}" \
               "; the pre-flight asks Azure whether the region offers it"
    return None


def upgrade_path(current: str, target: str) -> list[str]:
    """The minor versions after `current` up to `target`: one `pulumi up` each (AKS upgrades a
    supported version one minor at a time)."""
    return [name_of(m) for m in range(minor(current) + 1, minor(target) + 1)]
