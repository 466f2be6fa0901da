"""Kubernetes versions: the default is one AKS will create today, versions past their end of life
are refused with the date and the way up, newer versions than the data file pass with a note,
and a version bump reaches every node pool."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from components import aks_versions, cluster_spec
from components.config import ConfigError
from components.config_load import parse_config
from components.notes import stack_notes
from tests.helpers import raw_config

DEC_2026 = date(2026, 12, 5)


def cfg(**keys):
    raw, secret = raw_config(**keys)
    return parse_config(raw, secret)


def test_the_default_is_supported_today_and_not_about_to_leave():
    """Fails on the day the shipped default leaves (or is within 60 days of leaving) AKS support:
    then raise `default` in components/aks_versions.json (./run python -m tools.refresh helps)."""
    today = date.today()
    default = aks_versions.VERSIONS[aks_versions.DEFAULT]
    assert aks_versions.problem(aks_versions.DEFAULT, today) is None
    assert default.end_of_life - today > aks_versions.NEAR_END, (
        f"the default {aks_versions.DEFAULT} leaves AKS support on {default.end_of_life}")
    assert default.aks_ga <= today.strftime("%Y-%m"), "the default must be generally available already"


def test_the_data_file_is_the_calendar_with_its_source():
    doc = json.loads(aks_versions.DATA_FILE.read_text())
    assert "supported-kubernetes-versions" in doc["source"] and doc["date"] >= "2026-12-05"
    assert {"1.34", "1.35", "1.36", "1.37"} <= set(doc["versions"])
    # End of life is the last day of the calendar's month.
    assert aks_versions.VERSIONS["1.34"].end_of_life == date(2026, 11, 30)
    assert aks_versions.VERSIONS["1.35"].end_of_life == date(2027, 3, 31)
    for version in aks_versions.VERSIONS.values():
        assert (version.end_of_life + timedelta(days=1)).day == 1


def test_a_version_past_its_end_of_life_is_refused_with_the_date_and_the_way_up(monkeypatch):
    monkeypatch.setattr(aks_versions, "today", lambda: DEC_2026)
    with pytest.raises(ConfigError) as err:
        cfg(cluster={"kubernetesVersion": "1.34"})
    (line,) = err.value.problems
    assert line.startswith("binderhub-azure:cluster.kubernetesVersion is 1.34, which left AKS support on 2026-11-30")
    assert "K8sVersionNotSupported" in line and "use 1.35 or newer" in line and "Keeping it current" in line
    # The same key was fine while 1.34 was supported.
    monkeypatch.setattr(aks_versions, "today", lambda: date(2026, 11, 30))
    assert cfg(cluster={"kubernetesVersion": "1.34"}).cluster.kubernetes_version == "1.34"


@pytest.mark.parametrize("version", ["1.35", "1.36", "1.37"])
def test_supported_versions_pass(monkeypatch, version):
    monkeypatch.setattr(aks_versions, "today", lambda: DEC_2026)
    assert cfg(cluster={"kubernetesVersion": version}).cluster.kubernetes_version == version


def test_older_than_the_file_and_far_beyond_it_are_refused():
    assert "older than every version AKS still lists" in aks_versions.problem("1.29", DEC_2026)
    assert "Kubernetes has not released it" in aks_versions.problem("1.40", DEC_2026)


def test_a_version_newer_than_the_file_passes_with_a_note_naming_the_file_date(monkeypatch):
    monkeypatch.setattr(aks_versions, "today", lambda: DEC_2026)
    config = cfg(cluster={"kubernetesVersion": "1.38"})
    (note,) = stack_notes(config, DEC_2026)
    assert "1.38 is newer than components/aks_versions.json (2026-12-05)" in note
    assert "pre-flight" in note


def test_end_of_life_near_gives_the_date_and_the_next_version():
    note = aks_versions.note("1.35", date(2027, 2, 15))
    assert "leaves AKS support on 2027-03-31" in note and "move to 1.36" in note
    assert aks_versions.note("1.36", DEC_2026) is None


def test_a_version_not_yet_confirmed_in_regions_says_so():
    assert "not confirmed" in aks_versions.note("1.37", DEC_2026)


def test_upgrade_path_goes_one_minor_at_a_time():
    assert aks_versions.upgrade_path("1.34", "1.36") == ["1.35", "1.36"]
    assert aks_versions.upgrade_path("1.36", "1.36") == []


def test_every_pool_carries_the_control_planes_minor_version(monkeypatch):
    """All specified and equal to the control plane: the managed-cluster PUT upgrades the system
    pool with the control plane, each separate pool's PUT upgrades it (AKS's rule)."""
    monkeypatch.setattr(aks_versions, "today", lambda: DEC_2026)
    config = cfg(cluster={"kubernetesVersion": "1.35", "userPool": {"spot": True}, "gpuPool": {"maxCount": 1}})
    cluster = cluster_spec.cluster_args(config)
    pools = [cluster_spec.user_pool_args(config), cluster_spec.gpu_pool_args(config),
             cluster_spec.build_pool_args(config)]
    assert cluster["kubernetes_version"] == "1.35"
    assert [p["orchestrator_version"] for p in cluster["agent_pool_profiles"]] == ["1.35"]
    assert [p["orchestrator_version"] for p in pools if p] == ["1.35", "1.35", "1.35"]


def test_boundaries_of_the_support_window():
    """Killing mutants at each boundary: the end-of-life day is still supported, the near-end
    note starts exactly 60 days before it, two minors past the file are accepted, three are not."""
    assert "1.34" in aks_versions.supported(date(2026, 11, 30))
    assert "1.34" not in aks_versions.supported(date(2026, 12, 1))
    eol = aks_versions.VERSIONS["1.35"].end_of_life
    assert "leaves AKS support" in aks_versions.note("1.35", eol - aks_versions.NEAR_END)
    assert aks_versions.note("1.35", eol - aks_versions.NEAR_END - timedelta(days=1)) is None
    assert timedelta(days=60) == aks_versions.NEAR_END
    newest = max(aks_versions.minor(v) for v in aks_versions.VERSIONS)
    assert aks_versions.problem(aks_versions.name_of(newest + 2), DEC_2026) is None
    assert aks_versions.problem(aks_versions.name_of(newest + 3), DEC_2026) is not None
    assert "newer than components/aks_versions.json" in aks_versions.note(aks_versions.name_of(newest + 1), DEC_2026)
    assert "newer than" not in (aks_versions.note(aks_versions.name_of(newest), DEC_2026) or "")


def test_a_version_before_its_ga_month_says_so():
    assert aks_versions.note("1.36", date(2026, 5, 15)).endswith(
        "AKS GA planned for 2026-06; the pre-flight asks Azure whether the region offers it")
    assert aks_versions.note("1.36", date(2026, 6, 1)) is None


def test_upgrade_path_from_an_odd_minor():
    assert aks_versions.upgrade_path("1.35", "1.37") == ["1.36", "1.37"]
