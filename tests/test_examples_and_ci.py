"""Example institution stacks render, and the CI workflow has the steps the README promises."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from components import charts, cluster_spec
from components.config_load import parse_config
from tests.helpers import release
from tests.test_preview import run, stack_config
from tools import deploy_stacks
from tools.plan import plan_document

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("Pulumi.*.yaml"))
# The examples that run a hub; examples/Pulumi.federation.yaml is planned in tests/test_federation.py.
HUB_EXAMPLES = [path for path in EXAMPLES if "mode: federation" not in path.read_text()]
SECRETS_NEEDED = {"authClientSecret", "dockerHubToken"}


@pytest.mark.parametrize("path", HUB_EXAMPLES, ids=lambda p: p.name)
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


def test_there_are_four_examples():
    assert {p.name for p in EXAMPLES} == {"Pulumi.public-binder.yaml", "Pulumi.course-hub.yaml",
                                          "Pulumi.dockerhub-binder.yaml", "Pulumi.course-hub-sleeping.yaml",
                                          "Pulumi.federation.yaml"}


def _workflow() -> dict:
    return yaml.safe_load((ROOT / ".github" / "workflows" / "pulumi.yml").read_text())


def _step(job: dict, prefix: str) -> dict:
    return next(s for s in job["steps"] if s.get("uses", "").startswith(prefix))


def _run_steps(job: dict) -> str:
    return "\n".join(s.get("run", "") for s in job["steps"])


# Every action at a release on the node24 runtime (their action.yml `runs.using`, read at these commits).
ACTIONS = {
    "actions/checkout": ("3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1"),
    "actions/setup-python": ("5fda3b95a4ea91299a34e894583c3862153e4b97", "v7.0.0"),
    "pulumi/actions": ("8e5e406f4007fca908480587cb9893c07090f58d", "v7.0.0"),
}


def test_workflow_previews_pull_requests_and_deploys_main():
    wf = _workflow()
    triggers = wf[True] if True in wf else wf["on"]  # YAML 1.1 reads the key `on` as True
    assert "pull_request" in triggers and triggers["push"]["branches"] == ["main"]
    assert "pull_request_target" not in triggers  # never run a fork's code with this repository's rights
    assert wf["permissions"] == {}  # each job asks for what it uses
    jobs = wf["jobs"]
    preview = _step(jobs["preview"], "pulumi/actions")
    assert preview["with"]["command"] == "preview" and preview["with"]["comment-on-pr"] is True
    assert "pull_request" in jobs["preview"]["if"]
    up = _step(jobs["up"], "pulumi/actions")
    assert up["with"]["command"] == "up" and "refs/heads/main" in jobs["up"]["if"]
    assert "./run test" in [s.get("run") for s in jobs["test"]["steps"]]
    assert "secrets." not in (ROOT / ".github" / "workflows" / "pulumi.yml").read_text()


def test_pinned_actions_are_the_current_node24_releases():
    text = (ROOT / ".github" / "workflows" / "pulumi.yml").read_text()
    used = set()
    for job in _workflow()["jobs"].values():
        for step in job["steps"]:
            if "uses" in step:
                action, sha = step["uses"].split("@")
                assert (sha, ACTIONS[action][1]) == ACTIONS[action], step["uses"]
                assert f"{action}@{sha}  # {ACTIONS[action][1]}" in text
                used.add(action)
    assert used == set(ACTIONS)
    assert "azure/login" not in text  # nothing depends on `az`'s ten-minute session


def test_previews_and_deployments_use_different_identities():
    jobs = _workflow()["jobs"]
    preview, up = jobs["preview"], jobs["up"]
    assert preview["env"]["ARM_CLIENT_ID"] == preview["env"]["AZURE_CLIENT_ID"] == "${{ vars.AZURE_PREVIEW_CLIENT_ID }}"
    assert up["env"]["ARM_CLIENT_ID"] == up["env"]["AZURE_CLIENT_ID"] == "${{ vars.AZURE_DEPLOY_CLIENT_ID }}"
    # The deploy identity's federated subject is repo:ORG/REPO:environment:production: only jobs of
    # that environment get its token. A preview names no environment, so its subject is
    # repo:ORG/REPO:pull_request (GitHub's OIDC reference, "Example subject claims").
    assert up["environment"] == "production"
    assert "environment" not in preview
    assert "pull-requests" not in up["permissions"]
    for name, job in jobs.items():
        if name not in ("preview", "up"):
            assert "CLIENT_ID" not in str(job.get("env", {})) and job["permissions"].get("id-token") is None, name
    assert "CLIENT_ID" not in str(_workflow()["env"])


def test_deployments_queue_and_previews_never_take_their_place():
    jobs = _workflow()["jobs"]
    preview, up = jobs["preview"]["concurrency"], jobs["up"]["concurrency"]
    assert up == {"group": "deploy-${{ matrix.stack }}", "cancel-in-progress": False, "queue": "max"}
    assert preview["group"] == "preview-${{ matrix.stack }}-${{ github.event.pull_request.number }}"
    assert preview["cancel-in-progress"] is True  # previews take no lock: a newer push replaces one
    # GitHub's groups are case-insensitive strings: different prefixes never meet.
    assert not preview["group"].lower().startswith("deploy-")
    assert not jobs["test"]["concurrency"]["group"].lower().startswith(("deploy-", "preview-"))


def test_ci_deploys_only_the_listed_stacks_never_the_demo():
    jobs = _workflow()["jobs"]
    assert "python -m tools.deploy_stacks" in _run_steps(jobs["test"])
    for name in ("preview", "up"):
        assert jobs[name]["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.test.outputs.stacks) }}"
        assert "needs.test.outputs.stacks != '[]'" in jobs[name]["if"]  # an empty matrix is an error
    listed = deploy_stacks.read_list((ROOT / deploy_stacks.LIST_FILE).read_text())
    assert deploy_stacks.problems(listed, ROOT) == []
    assert not set(listed) & set(deploy_stacks.DEMO_STACKS)


def test_pull_requests_from_forks_get_a_notice_not_a_failure():
    jobs = _workflow()["jobs"]
    same_repo = "github.event.pull_request.head.repo.full_name == github.repository"
    assert same_repo in jobs["preview"]["if"]
    notice = jobs["fork-notice"]
    assert notice["if"] == ("github.event_name == 'pull_request' && "
                            "github.event.pull_request.head.repo.full_name != github.repository")
    assert notice["permissions"] == {}
    assert "::notice" in _run_steps(notice) and "GITHUB_STEP_SUMMARY" in _run_steps(notice)


def test_state_and_secrets_credentials_stay_fresh_for_the_whole_job():
    wf = _workflow()
    assert wf["env"]["ARM_USE_OIDC"] == "true"
    assert "AZURE_KEYVAULT_AUTH_VIA_CLI" not in wf["env"]  # `az`'s session would expire mid-run
    assert wf["env"]["AZURE_TENANT_ID"] == "${{ vars.AZURE_TENANT_ID }}"
    for name in ("preview", "up"):
        job = wf["jobs"][name]
        pulumi_step = _step(job, "pulumi/actions")
        token_file = pulumi_step["env"]["AZURE_FEDERATED_TOKEN_FILE"]
        assert token_file == "${{ runner.temp }}/azure-federated-token"
        steps = job["steps"]
        refresher = next(s for s in steps if "ACTIONS_ID_TOKEN_REQUEST_URL" in s.get("run", ""))
        assert steps.index(refresher) < steps.index(pulumi_step)
        script = refresher["run"]
        assert "audience=api://AzureADTokenExchange" in script
        assert '"$RUNNER_TEMP/azure-federated-token"' in script
        assert "mv " in script  # written whole, never half a token
        interval = int(re.search(r"while sleep (\d+)", script).group(1))
        assert interval <= 150 and script.rstrip().endswith("&")  # well inside a token's five minutes


def test_kubelogin_is_pinned_verified_and_logs_in_with_workload_identity():
    wf = _workflow()
    assert re.fullmatch(r"v\d+\.\d+\.\d+", wf["env"]["KUBELOGIN_VERSION"])
    assert re.fullmatch(r"[0-9a-f]{64}", wf["env"]["KUBELOGIN_SHA256"])
    for name in ("preview", "up"):
        job = wf["jobs"][name]
        script = _run_steps(job)
        assert '"$KUBELOGIN_SHA256  $RUNNER_TEMP/kubelogin.zip" | sha256sum --check --strict -' in script
        assert "releases/download/$KUBELOGIN_VERSION/kubelogin-linux-amd64.zip" in script
        # The job's environment, as the program's own check sees it during `pulumi up`.
        environ = {**{k: str(v) for k, v in wf["env"].items()}, **job["env"], **_step(job, "pulumi/actions")["env"],
                   "ACTIONS_ID_TOKEN_REQUEST_URL": "https://token.example.invalid",
                   "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "request-token"}
        assert cluster_spec.ci_login_problem(environ, kubelogin_found=True) is None


def test_up_refreshes_first_and_previews_do_not():
    jobs = _workflow()["jobs"]
    assert _step(jobs["up"], "pulumi/actions")["with"]["refresh"] is True
    assert _step(jobs["preview"], "pulumi/actions")["with"]["refresh"] is False


def test_ci_installs_only_the_deploy_requirements_for_pulumi():
    for name in ("preview", "up"):
        script = _run_steps(_workflow()["jobs"][name])
        assert "pip install --quiet -r requirements.txt" in script and "requirements-dev" not in script
