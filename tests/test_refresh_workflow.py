"""The weekly refresh workflow and Dependabot: what they run, with which rights, and zizmor clean."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "refresh.yml"


def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def test_weekly_and_by_hand_with_least_rights():
    wf = workflow()
    triggers = wf[True] if True in wf else wf["on"]  # YAML 1.1 reads `on` as True
    assert set(triggers) == {"schedule", "workflow_dispatch"}
    (cron,) = [entry["cron"] for entry in triggers["schedule"]]
    assert len(cron.split()) == 5 and cron.split()[4] == "1"  # weekly, Mondays
    assert wf["permissions"] == {}
    assert wf["concurrency"] == {"group": "refresh", "cancel-in-progress": False}
    (job,) = wf["jobs"].values()
    assert job["permissions"] == {"contents": "write", "pull-requests": "write", "id-token": "write"}


def test_steps_refresh_report_diff_and_open_a_pull_request():
    (job,) = workflow()["jobs"].values()
    runs = "\n".join(step.get("run", "") for step in job["steps"])
    assert "./run python -m tools.refresh |" in runs and "./run python -m tools.refresh --offline" in runs
    assert runs.count("./run plan --config-file") == 2 and "diff -ru" in runs
    assert "gh pr create" in runs and "git push origin" in runs
    login = next(s for s in job["steps"] if s.get("uses", "").startswith("azure/login@"))
    assert login["if"] == "vars.AZURE_REFRESH_CLIENT_ID != ''"  # Azure lists only with a read-only identity
    assert set(login["with"]) == {"client-id", "tenant-id", "subscription-id"}
    for step in job["steps"]:
        uses = step.get("uses")
        if uses:
            ref = uses.split("@", 1)[1].split()[0]
            assert len(ref) == 40 and all(c in "0123456789abcdef" for c in ref), uses
        if uses and uses.startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False
    assert "secrets." not in WORKFLOW.read_text()


def test_refresh_workflow_has_no_medium_or_higher_finding_from_zizmor():
    zizmor = Path(sys.executable).parent / "zizmor"
    proc = subprocess.run([str(zizmor), "--offline", "--persona", "pedantic", "--min-severity", "medium",
                           "--format", "json", ".github/workflows/refresh.yml"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert json.loads(proc.stdout or "null") == [], proc.stdout + proc.stderr


def test_dependabot_watches_the_requirements_and_the_actions():
    config = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text())
    ecosystems = {(u["package-ecosystem"], u["directory"]): u for u in config["updates"]}
    # The federation redirector's image (redirector/Dockerfile) and its pinned packages too.
    assert set(ecosystems) == {("pip", "/"), ("github-actions", "/"), ("docker", "/redirector"),
                               ("pip", "/redirector")}
    assert all(u["schedule"]["interval"] == "weekly" for u in config["updates"])
