"""Example institution stacks render, and the CI workflow has the steps the README promises."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from components import charts
from components.config_load import parse_config
from tests.helpers import release
from tests.test_preview import run, stack_config
from tools.plan import plan_document

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("Pulumi.*.yaml"))
SECRETS_NEEDED = {"authClientSecret", "dockerHubToken"}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_stack_renders(path):
    # The same program run as test_preview's update run of this stack (one run per config);
    # the examples' secrets are set as `pulumi config set --secret` would.
    raw, secret = stack_config(path)
    assert {f"binderhub-azure:{key}" for key in SECRETS_NEEDED if key in path.read_text()} <= secret
    plan = plan_document(parse_config(raw, secret), run(path, preview=False), path.name.split(".")[1])
    hub = next(r for r in plan["helmReleases"] if r["name"] in ("binderhub", "jupyterhub"))
    chart = charts.BINDERHUB if hub["name"] == "binderhub" else charts.JUPYTERHUB
    assert charts.schema_errors(chart, hub["values"]) == []
    assert release(plan, "traefik")


def test_there_are_three_examples():
    assert {p.name for p in EXAMPLES} == {"Pulumi.public-binder.yaml", "Pulumi.course-hub.yaml",
                                          "Pulumi.dockerhub-binder.yaml"}


def _workflow() -> dict:
    return yaml.safe_load((ROOT / ".github" / "workflows" / "pulumi.yml").read_text())


def test_workflow_previews_pull_requests_and_deploys_main():
    wf = _workflow()
    triggers = wf[True] if True in wf else wf["on"]  # YAML 1.1 reads the key `on` as True
    assert "pull_request" in triggers and triggers["push"]["branches"] == ["main"]
    assert wf["permissions"] == {}  # each job asks for what it uses
    assert wf["jobs"]["preview"]["permissions"]["id-token"] == "write"
    assert wf["jobs"]["up"]["permissions"]["id-token"] == "write"
    jobs = wf["jobs"]
    preview = next(s for s in jobs["preview"]["steps"] if s.get("uses", "").startswith("pulumi/actions"))
    assert preview["with"]["command"] == "preview" and preview["with"]["comment-on-pr"] is True
    assert "pull_request" in jobs["preview"]["if"]
    up = next(s for s in jobs["up"]["steps"] if s.get("uses", "").startswith("pulumi/actions"))
    assert up["with"]["command"] == "up" and "refs/heads/main" in jobs["up"]["if"]
    for name in ("preview", "up"):
        job = jobs[name]
        assert job["concurrency"]["group"] == "pulumi-${{ matrix.stack }}"
        assert job["concurrency"]["cancel-in-progress"] is False
        login = next(s for s in job["steps"] if s.get("uses", "").startswith("azure/login"))
        assert set(login["with"]) == {"client-id", "tenant-id", "subscription-id"}  # OIDC: no secret
    assert "./run test" in [s.get("run") for s in jobs["test"]["steps"]]
    assert "secrets." not in (ROOT / ".github" / "workflows" / "pulumi.yml").read_text()
