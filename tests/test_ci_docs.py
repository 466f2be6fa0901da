"""The README's deploy walk-through is the one the code and the workflow carry out: the identity
commands are generated and run here against stand-ins for `az` and `gh`, the variables and
subjects match the workflow, files the README writes are ignored by git, and the stack list the
README names is the one the workflow reads."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from components import roles
from tools import ci_identities, deploy_stacks

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
WORKFLOW_TEXT = (ROOT / ".github" / "workflows" / "pulumi.yml").read_text()
WORKFLOW = yaml.safe_load(WORKFLOW_TEXT)


def _block(name: str) -> str:
    start, end = f"<!-- {name}:start -->\n", f"\n<!-- {name}:end -->"
    return README[README.index(start) + len(start):README.index(end)]


def test_readme_identity_commands_are_generated():
    assert _block("ci-identities") == ci_identities.readme_block(), (
        "regenerate the README block with tools.ci_identities.readme_block()")


@pytest.fixture(scope="module")
def az_calls(tmp_path_factory) -> list[list[str]]:
    """Run the README's commands with `az` and `gh` replaced by stand-ins that record their
    arguments (one NUL-separated call a line) and answer every query with an ID."""
    tmp = tmp_path_factory.mktemp("ci")
    log = tmp / "calls"
    script = ("az() { printf '%s\\0' az \"$@\" >> \"$LOG\"; echo >> \"$LOG\"; echo 00000000-id; }\n"
              "gh() { printf '%s\\0' gh \"$@\" >> \"$LOG\"; echo >> \"$LOG\"; }\n"
              "set -euo pipefail\n" + ci_identities.commands() + "\n")
    env = {**os.environ, "LOG": str(log), "REPO": "myorg/binderhub-deploy", "SUB": "sub-1234",
           "STATE_CONTAINER_ID": "/state/container", "KEY_ID": "/vault/keys/pulumi-secrets"}
    proc = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    return [line.rstrip("\0").split("\0") for line in log.read_text().splitlines() if line]


def _arg(call: list[str], flag: str) -> str:
    return call[call.index(flag) + 1]


def test_federated_subjects_are_the_ones_the_jobs_carry(az_calls):
    creds = {json.loads(_arg(c, "--parameters"))["name"]: json.loads(_arg(c, "--parameters"))
             for c in az_calls if c[1:4] == ["ad", "app", "federated-credential"]}
    assert creds["pull-requests"]["subject"] == "repo:myorg/binderhub-deploy:pull_request"
    assert creds["production"]["subject"] == "repo:myorg/binderhub-deploy:environment:production"
    for cred in creds.values():
        assert cred["issuer"] == "https://token.actions.githubusercontent.com"
        assert cred["audiences"] == ["api://AzureADTokenExchange"]
    # The subjects follow from the jobs: only `up` names the environment.
    assert WORKFLOW["jobs"]["up"]["environment"] == "production"
    assert "environment" not in WORKFLOW["jobs"]["preview"]


def test_the_deploy_identity_may_assign_only_the_stacks_roles(az_calls):
    assignments = [c for c in az_calls if c[1:4] == ["role", "assignment", "create"]]
    rbac_admin = [c for c in assignments if _arg(c, "--role") == "Role Based Access Control Administrator"]
    assert len(rbac_admin) == 1
    assert _arg(rbac_admin[0], "--condition") == roles.delegation_condition()
    assert _arg(rbac_admin[0], "--condition-version") == "2.0"
    granted = {(_arg(c, "--assignee-object-id"), _arg(c, "--role"), _arg(c, "--scope")) for c in assignments}
    assert not [g for g in granted if g[1] in ("Owner", "User Access Administrator")]
    # The same stand-in ID answers for both principals; what matters is which roles at which scope.
    assert {(role, scope) for _, role, scope in granted} == {
        ("binderhub-azure preview", "/subscriptions/sub-1234"),
        ("Contributor", "/subscriptions/sub-1234"),
        ("Role Based Access Control Administrator", "/subscriptions/sub-1234"),
        ("Storage Blob Data Reader", "/state/container"),
        ("Storage Blob Data Contributor", "/state/container"),
        ("Key Vault Crypto User", "/vault/keys/pulumi-secrets"),
    }


def test_the_preview_role_reads_only(az_calls):
    [definition_call] = [c for c in az_calls if c[1:4] == ["role", "definition", "create"]]
    definition = json.loads(_arg(definition_call, "--role-definition"))
    assert definition["Actions"] == list(roles.PREVIEW_ACTIONS)
    assert definition["AssignableScopes"] == ["/subscriptions/sub-1234"]


def test_the_readme_sets_every_variable_the_workflow_reads(az_calls):
    set_vars = {c[3] for c in az_calls if c[1:3] == ["variable", "set"]}
    assert set_vars == set(re.findall(r"vars\.([A-Z_]+)", WORKFLOW_TEXT))
    assert "secrets." not in WORKFLOW_TEXT


def test_files_the_readme_writes_are_ignored_by_git():
    written = set(re.findall(r" > ([A-Za-z][\w.-]*)(?=[\s`]|$)", README, re.MULTILINE))
    written |= set(re.findall(r"--file ([\w.-]+)", README))
    assert {"kubeconfig", "myuni.checkpoint.json"} <= written
    for name in written:
        proc = subprocess.run(["git", "check-ignore", "-q", name], cwd=ROOT, check=False)
        assert proc.returncode == 0, f"{name} is written by a README command but not ignored by git"


def test_the_readme_and_the_workflow_name_the_same_stack_list():
    assert deploy_stacks.LIST_FILE.as_posix() in README
    assert deploy_stacks.LIST_FILE.as_posix() in WORKFLOW_TEXT
    assert "python -m tools.deploy_stacks" in README


def test_the_readme_key_url_is_one_ci_accepts():
    # `az keyvault key show --query key.kid` is the versioned key ID; the README strips https://.
    assert 'KEY_URL=$(az keyvault key show --vault-name myuni-pulumi-kv -n pulumi-secrets --query key.kid' in README
    assert '--secrets-provider "azurekeyvault://${KEY_URL#https://}"' in README
    kid = "https://myuni-pulumi-kv.vault.azure.net/keys/pulumi-secrets/0123456789abcdef0123456789abcdef"
    url = "azurekeyvault://" + kid.removeprefix("https://")
    assert deploy_stacks.secrets_problem("myuni", {"secretsprovider": url}) is None


def test_the_state_roles_come_before_the_commands_that_need_them():
    state = README[README.index("## State and secrets on Azure"):README.index("### From a first try")]
    for command, role in (("az storage container create", '"Storage Blob Data Contributor"'),
                          ("az keyvault key create", '"Key Vault Crypto Officer"')):
        assert state.index(role) < state.index(command)
    for safeguard in ("--allow-shared-key-access false", "--enable-versioning true", "--enable-delete-retention true",
                      "--enable-purge-protection true", "az lock create", "--lock-type CanNotDelete"):
        assert safeguard in state


def test_secrets_are_never_typed_on_the_command_line_in_the_readme():
    for line in README.splitlines():
        match = re.search(r"pulumi config set --secret (\S+)(.*)", line)
        if match:
            rest = match.group(2).strip().strip("`").strip()
            assert rest == "" or rest.startswith(("(", "#", ",", "`", "which")), line
