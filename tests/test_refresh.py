"""The refresh (`tools/refresh.py`): each source read from recorded answers (tests/data/refresh,
tests/data/azure), never the network; unreachable sources change nothing; --check exits 1 when
something the stack uses has fallen out of support."""

from __future__ import annotations

import io
import json
import tarfile
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from components import aks_versions, charts
from tools import refresh
from tools import refresh_sources as src
from tools.refresh_sources import Context, UnreachableError

DATA = Path(__file__).resolve().parent / "data" / "refresh"
AZURE = Path(__file__).resolve().parent / "data" / "azure"
TODAY = date(2026, 12, 5)
JUPYTER = "https://jupyterhub.github.io/helm-chart/"


def recorded(name: str) -> bytes:
    return (DATA / name).read_bytes()


def package(name: str, values: dict[str, Any], schema: dict[str, Any] | None = None) -> bytes:
    """A chart package (.tgz) with the two files the refresh reads."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        files = {f"{name}/values.yaml": yaml.safe_dump(values).encode(), f"{name}/Chart.yaml": b"name: x\n"}
        if schema is not None:
            files[f"{name}/values.schema.json"] = json.dumps(schema).encode()
        for path, body in files.items():
            info = tarfile.TarInfo(path)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return buffer.getvalue()


def empty_index(name: str, version: str) -> bytes:
    return yaml.safe_dump({"apiVersion": "v1", "entries": {name: [{"name": name, "version": version}]}}).encode()


class Web:
    """URL -> answer; anything else is unreachable, as a closed network would be."""

    def __init__(self, answers: dict[str, bytes]):
        self.answers = answers
        self.asked: list[str] = []

    def __call__(self, url: str) -> bytes:
        self.asked.append(url)
        if url not in self.answers:
            raise UnreachableError(f"{url}: no route (test)")
        return self.answers[url]


def chart_web() -> Web:
    pins = charts.PINS["charts"]
    answers = {f"{pin['repo'].rstrip('/')}/index.yaml": empty_index(pin.get("name", key), pin["version"])
               for key, pin in pins.items()}
    answers[f"{JUPYTER}index.yaml"] = recorded("helm-index-jupyterhub.yaml")
    answers[f"{JUPYTER}jupyterhub-4.9.0.tgz"] = package("jupyterhub", {"hub": {"image": {"tag": "4.9.0"}}},
                                                         {"type": "object"})
    hub_code = {"hub": {"extraConfig": {"0-binderspawnermixin": "import os  # real code"}},
                "singleuser": {"cmd": ["a", "b", "print('code')"]}}
    answers[f"{JUPYTER}binderhub-1.0.0-0.dev.git.4000.h0123abcd.tgz"] = package(
        "binderhub", {"jupyterhub": hub_code, "config": {}}, {"type": "object"})
    return Web(answers)


# --------------------------------------------------------------------------- versions


@pytest.mark.parametrize(("low", "high"), [
    ("1.0.0-0.dev.git.3958.haf9ca8b1", "1.0.0-0.dev.git.3983.h383374de"),
    ("4.4.0-0.dev.git.7100.h1", "4.4.0"),
    ("4.4.0", "4.10.0"),
    ("v1.21.1", "v1.21.10"),
    ("27.5.1-dind", "28.3.3-dind"),
])
def test_version_order(low, high):
    assert src.version_key(low) < src.version_key(high)


# --------------------------------------------------------------------------- charts


def test_charts_follow_stable_and_dev_and_vendor_the_new_schema():
    web = chart_web()
    result = src.charts_source(Context(fetch=web, today=TODAY))
    found = {f.fact: f for f in result.findings}
    # Stable follows the newest release, never a beta; dev follows the newest build.
    assert (found["chart jupyterhub"].newest, found["chart jupyterhub"].status) == ("4.9.0", "updated")
    assert found["chart binderhub"].newest == "1.0.0-0.dev.git.4000.h0123abcd"
    # The BinderHub chart bundles another JupyterHub chart: that pin follows it.
    assert found["chart binderhub-jupyterhub"].newest == "4.9.0"
    pins = json.loads(result.files[src.PINS_FILE])
    assert pins["charts"]["jupyterhub"]["version"] == "4.9.0" and pins["charts"]["jupyterhub"]["date"] == "2026-12-05"
    assert pins["charts"]["binderhub-jupyterhub"]["version"] == "4.9.0"
    data = src.CHART_DATA
    assert json.loads(result.files[data / "jupyterhub-4.9.0.values.schema.json"]) == {"type": "object"}
    assert result.files[data / "jupyterhub-4.4.0.values.json"] == ""  # the old version's files go
    binder = json.loads(result.files[data / "binderhub-1.0.0-0.dev.git.4000.h0123abcd.values.json"])
    # BinderHub's embedded Python is not kept, as in the shipped chart data.
    assert binder["jupyterhub"]["hub"]["extraConfig"]["0-binderspawnermixin"] == src.CODE_PLACEHOLDER
    assert binder["jupyterhub"]["singleuser"]["cmd"][2] == src.CODE_PLACEHOLDER
    assert any("chart_data/README.md" in t for t in result.todo)
    # Nothing was written: sources only say what to write.
    assert charts.PINS["charts"]["jupyterhub"]["version"] == "4.4.0"


def test_held_charts_are_reported_not_changed(monkeypatch):
    pins = json.loads(src.PINS_FILE.read_text())
    pins["charts"]["jupyterhub"]["follow"] = "held"
    pins["charts"]["jupyterhub"]["hold"] = "waiting for z2jh 5"
    monkeypatch.setattr(src, "read_json", lambda path: json.loads(json.dumps(pins)) if path == src.PINS_FILE
                        else json.loads(path.read_text()))
    result = src.charts_source(Context(fetch=chart_web(), today=TODAY))
    found = {f.fact: f for f in result.findings}
    assert (found["chart jupyterhub"].status, found["chart jupyterhub"].detail) == ("held", "waiting for z2jh 5")
    assert json.loads(result.files[src.PINS_FILE])["charts"]["jupyterhub"]["version"] == "4.4.0"


# --------------------------------------------------------------------------- images


def test_images_report_held_pins_and_follow_stable_ones():
    answers = {"https://hub.docker.com/v2/namespaces/library/repositories/docker/tags?page_size=100":
               recorded("dockerhub-docker-tags.json"),
               "https://quay.io/api/v1/repository/jupyterhub/repo2docker/tag/?onlyActiveTags=true&limit=100&page=1":
               b'{"tags": [], "has_additional": false}',
               "https://quay.io/api/v1/repository/jupyterhub/k8s-hub/tag/?onlyActiveTags=true&limit=100&page=1":
               recorded("quay-k8s-hub-tags.json")}
    result = src.images_source(Context(fetch=Web(answers), today=TODAY))
    found = {f.fact: f for f in result.findings}
    dind = found["image dind"]
    # The dind pin is held on purpose (mybinder.org-deploy#3387): reported, never moved.
    assert (dind.in_use, dind.newest, dind.status) == ("27.5.1-dind", "29.1.0-dind", "held")
    assert "3387" in dind.detail
    if src.PINS_FILE in result.files:
        assert json.loads(result.files[src.PINS_FILE])["images"]["dind"]["tag"] == "27.5.1-dind"


# --------------------------------------------------------------------------- TLJH


def test_tljh_moves_to_a_release_only_once_it_carries_the_fixed_traefik():
    base = "https://raw.githubusercontent.com/jupyterhub/the-littlest-jupyterhub"
    answers = {"https://api.github.com/repos/jupyterhub/the-littlest-jupyterhub/releases/latest":
               recorded("github-tljh-release.json"),
               "https://api.github.com/repos/jupyterhub/the-littlest-jupyterhub/commits/main":
               b'{"sha": "84ed38f0000000000000000000000000000000aa"}'}
    old = dict(answers, **{f"{base}/2.1.0/tljh/traefik.py": b'traefik_version = "3.1.4"\n'})
    result = src.tljh_source(Context(fetch=Web(old), today=TODAY))
    (finding,) = result.findings
    assert finding.status == "behind" and "installs Traefik 3.1.4 (< 3.4.1)" in finding.detail
    assert not result.files
    fixed = dict(answers, **{f"{base}/2.1.0/tljh/traefik.py": b'# Traefik\ntraefik_version = "3.6.7"\n'})
    result = src.tljh_source(Context(fetch=Web(fixed), today=TODAY))
    pin = json.loads(result.files[src.PINS_FILE])["tljh"]
    assert (pin["ref"], pin["traefik"], pin["follow"]) == ("2.1.0", "3.6.7", "stable")


# --------------------------------------------------------------------------- Python


def test_python_advisories_fail_the_check(tmp_path):
    (tmp_path / "requirements.txt").write_text("# a comment\njinja2==3.1.4\nrequests==2.33.0  # why\n-r other.txt\n")
    answers = {"https://pypi.org/pypi/jinja2/json": b'{"info": {"version": "3.1.6"}}',
               "https://pypi.org/pypi/jinja2/3.1.4/json": recorded("pypi-jinja2-3.1.4.json"),
               "https://pypi.org/pypi/requests/json": b'{"info": {"version": "2.33.0"}}',
               "https://pypi.org/pypi/requests/2.33.0/json": b'{"info": {}, "vulnerabilities": []}'}
    result = src.python_source(Context(fetch=Web(answers), today=TODAY, root=tmp_path))
    found = {f.fact: f for f in result.findings}
    assert found["python jinja2"].failing and "GHSA-q2x7-8rv6-6q7h (fixed in 3.1.5)" in found["python jinja2"].detail
    assert (found["python requests"].status, found["python requests"].failing) == ("current", False)
    assert not result.files  # Dependabot upgrades the requirements


def test_every_requirement_is_pinned_exactly():
    pinned = src.pinned_requirements(src.ROOT)
    assert {"pulumi", "pulumi-azure-native", "pydantic"} <= set(pinned)


# --------------------------------------------------------------------------- Azure


def fake_azure(versions: dict[str, Any]) -> Any:
    aks = SimpleNamespace(kubernetes_versions=lambda location: versions)
    return SimpleNamespace(aks=aks, subscription_id="11111111-2222-3333-4444-555555555555")


def test_aks_adds_a_new_minor_with_an_estimated_end_of_life_and_records_regions():
    versions = json.loads((AZURE / "aks_kubernetes_versions_westeurope.json").read_text())
    versions["values"].append({"version": "1.39", "capabilities": {"supportPlan": ["KubernetesOfficial"]}})
    result = src.aks_source(Context(fetch=Web({}), today=TODAY, azure=fake_azure(versions)))
    doc = json.loads(result.files[src.AKS_FILE])
    assert doc["versions"]["1.39"]["endOfLife"] == "2027-12-31" and "estimated" in doc["versions"]["1.39"]["note"]
    assert doc["offered"]["swedencentral"]["versions"] == ["1.35", "1.36", "1.37", "1.39"]
    assert doc["date"] == "2026-12-05"
    assert any("1.39" in t for t in result.todo)


def test_azure_sources_without_credentials_are_unreachable_and_change_nothing(capsys):
    code = refresh.main(["--only", "aks,regions", "--check"], fetch=Web({}), azure=None)
    out = capsys.readouterr().out
    assert code == 0
    assert "aks       unreachable:" in out and "regions   unreachable:" in out and "(nothing changed)" in out


# --------------------------------------------------------------------------- by date


def test_the_calendar_fails_the_check_once_a_version_leaves_support(monkeypatch, capsys):
    monkeypatch.setattr(aks_versions, "today", lambda: date(2027, 7, 1))  # 1.36 ended 2027-06-30
    code = refresh.main(["--offline"], fetch=Web({}))
    out = capsys.readouterr().out
    assert code == 1
    assert "kubernetes default" in out and "<- out of support" in out and "left AKS support on 2027-06-30" in out


def test_the_calendar_is_clean_today(capsys):
    """Fails when a shipped fact (default Kubernetes version, image or Traefik minimum, TLJH VM
    image) has fallen out of support: run ./run python -m tools.refresh and review its changes."""
    assert refresh.main(["--offline"], fetch=Web({})) == 0, capsys.readouterr().out


def test_an_image_below_its_minimum_fails(monkeypatch):
    pins = json.loads(src.PINS_FILE.read_text())
    pins["images"]["old-hub"] = {"image": "quay.io/jupyterhub/k8s-hub", "tag": "4.2.0", "minimum": "4.4.0",
                                 "advisories": [{"id": "CVE-2026-33709"}]}
    monkeypatch.setattr(src, "read_json", lambda path: pins if path == src.PINS_FILE else json.loads(path.read_text()))
    found = {f.fact: f for f in src.calendar_source(Context(fetch=Web({}), today=TODAY)).findings}
    assert found["image old-hub minimum"].failing and "CVE-2026-33709" in found["image old-hub minimum"].detail


# --------------------------------------------------------------------------- the command


def test_unreachable_sources_are_one_line_each_and_nothing_is_written(monkeypatch, capsys):
    written = []
    monkeypatch.setattr(refresh, "write_files", lambda results: written.append(results) or [])
    code = refresh.main(["--only", "charts,images,tljh,python,prices"], fetch=Web({}), azure=None)
    out = capsys.readouterr().out
    assert code == 0
    lines = [line for line in out.splitlines() if "unreachable:" in line]
    assert [line.split()[0] for line in lines] == ["charts", "images", "tljh", "python", "prices"]
    assert written == [[]]


def test_json_report_and_bad_arguments(capsys):
    assert refresh.main(["--offline", "--json"], fetch=Web({})) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["outOfSupport"] == 0 and doc["unreachable"] == {} and doc["findings"]
    assert refresh.main(["--only", "charts,nope"], fetch=Web({})) == 2
    assert "unknown source nope" in capsys.readouterr().err


def test_write_files_writes_and_deletes(tmp_path, monkeypatch):
    monkeypatch.setattr(refresh, "ROOT", tmp_path)
    keep, gone = tmp_path / "a.json", tmp_path / "b.json"
    gone.write_text("old")
    result = src.SourceResult("x", files={keep: "{}\n", gone: ""})
    assert refresh.write_files([result]) == ["a.json", "b.json"]
    assert keep.read_text() == "{}\n" and not gone.exists()


def test_vm_sizes_checked_against_the_resource_skus():
    skus = json.loads((AZURE / "resource_skus_westeurope.json").read_text())["value"]
    d4 = next(s for s in skus if s["name"] == "Standard_D4s_v5")
    changed = json.loads(json.dumps(d4))
    changed["name"] = "Standard_D2s_v5"  # recorded as 2 vCPUs / 8 GiB; this answer says 4 / 16
    listed = [d4, changed]
    azure = SimpleNamespace(compute=SimpleNamespace(resource_skus=SimpleNamespace(list=lambda filter: iter(listed))))
    result = src.vm_sizes_source(Context(fetch=Web({}), today=TODAY, azure=azure))
    found = {f.fact: f for f in result.findings}
    assert "vm size Standard_D4s_v5" not in found  # matches the table (vCPUs, memory, disk, x64)
    assert found["vm size Standard_D2s_v5"].status == "updated"
    assert found["vm size Standard_E8s_v5"].detail == "not offered in swedencentral"
    sizes = json.loads(result.files[src.VM_SIZES_FILE])["sizes"]
    assert sizes["Standard_D2s_v5"] == {"vcpus": 4, "memoryGiB": 16.0, "localDiskGiB": 0, "architecture": "x64",
                                        "gpus": 0}
