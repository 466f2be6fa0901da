"""A sleep schedule CI can deploy: the custom role created once by an Owner
(`schedule.roleDefinitionId`), the commands that create it (printed, never run), the deploy
identity's condition that lets it assign that role and no other, and the deploy list that takes
such a stack and refuses one that would create its own role."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from components import roles, sleep_spec
from components.config_schedule import PRIVILEGED_ROLES
from tests.helpers import parsed, refusals
from tools import ci_identities, deploy_stacks
from tools.mocks import SUBSCRIPTION, WORKFLOW_PRINCIPAL_PREFIX

ROOT = Path(__file__).resolve().parent.parent
GITHUB = {"type": "github", "clientId": "gh-client", "allowedUsers": ["alice"], "admins": ["alice"]}
HUB = {"mode": "jupyterhub", "auth": GITHUB}
SECRETS = {"authClientSecret": "s"}
TLJH = {"mode": "tljh", "auth": GITHUB,
        "vm": {"sshPublicKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEgC/wHhpkjr7StAlWWMFN+kF5WksXY+xqCZc0vi51vs a@b"}}
LONDON = {"timeZone": "Europe/London", "awake": [{"days": ["mon", "tue", "wed", "thu", "fri"],
                                                  "from": "08:30", "to": "18:00"}]}
OWNER_ROLE = "3b0f5c1e-7d7a-4c2e-9a51-2f6d8e4b7c90"
OTHER_ROLE = "0d4c2b9a-1e5f-4a3b-8c7d-6e5f4a3b2c1d"


def _role_id(guid: str) -> str:
    return f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/{guid}"


def _principal_of(workflow_name: str) -> str:
    """The principal the mocks give the workflow with this Azure name (tools/mocks.py)."""
    number = int(hashlib.sha256(workflow_name.encode()).hexdigest()[:12], 16) % 10**12
    return f"{WORKFLOW_PRINCIPAL_PREFIX}{number:012d}"


# --------------------------------------------------------------------------- the config key

def test_the_key_takes_a_guid_in_any_case_and_keeps_it_lower():
    cfg = parsed(SECRETS, **HUB, schedule={**LONDON, "roleDefinitionId": OWNER_ROLE.upper()})
    assert cfg.schedule.role_definition_id == OWNER_ROLE
    assert parsed(SECRETS, **HUB, schedule=LONDON).schedule.role_definition_id is None


@pytest.mark.parametrize(("value", "expected"), [
    (f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/{OWNER_ROLE}",
     "must be a role definition GUID"),
    (OWNER_ROLE + "0", "must be a role definition GUID"),
    (" " + OWNER_ROLE, "must be a role definition GUID"),
    ("8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "not a built-in role that hands out the subscription"),  # Owner
])
def test_a_bad_role_id_is_refused_naming_the_key(value, expected):
    [problem] = refusals(SECRETS, **HUB, schedule={**LONDON, "roleDefinitionId": value})
    assert "schedule.roleDefinitionId" in problem and expected in problem


# --------------------------------------------------------------------------- the stack, under mocks

def _sleep_assignments(run) -> dict[str, dict[str, Any]]:
    return {r.name: r.revealed for r in run.registrations
            if r.type == "azure-native:authorization:RoleAssignment" and r.name.startswith("sleep-")}


@pytest.mark.parametrize(("mode", "target_type"), [
    (HUB, "azure-native:containerservice:ManagedCluster"), (TLJH, "azure-native:compute:VirtualMachine")])
def test_with_the_key_the_stack_creates_no_role_and_assigns_that_one(program, mode, target_type):
    run = program(SECRETS, **mode, schedule={**LONDON, "roleDefinitionId": OWNER_ROLE})
    types = {r.type for r in run.registrations}
    assert "azure-native:authorization:RoleDefinition" not in types
    assert not [r for r in run.registrations if r.type == "random:index/randomUuid:RandomUuid"
                and r.name.startswith("sleep-")]
    [target] = [r for r in run.registrations if r.type == target_type]
    workflows = {r.name: r.revealed for r in run.registrations if r.type == "azure-native:logic:Workflow"}
    assignments = _sleep_assignments(run)
    assert len(workflows) == 2 and len(assignments) == 2
    for name, workflow in workflows.items():
        action = name.split("-")[1]
        assignment = assignments[f"{name}-may-{action}"]
        # That role, by its subscription-level ID; this workflow's own identity; the one resource.
        assert assignment["roleDefinitionId"] == _role_id(OWNER_ROLE)
        assert assignment["principalId"] == _principal_of(workflow["workflowName"])
        assert assignment["principalType"] == "ServicePrincipal"
        assert assignment["scope"] == target.id
    assert len({a["principalId"] for a in assignments.values()}) == 2


def test_without_the_key_the_stack_still_creates_its_own_role(program):
    run = program(SECRETS, **HUB, schedule=LONDON)
    [definition] = [r for r in run.registrations if r.type == "azure-native:authorization:RoleDefinition"]
    assert definition.revealed["roleName"] == sleep_spec.role_name("rg-testuni-jupyterhub")
    guid = definition.revealed["roleDefinitionId"]
    assert guid != OWNER_ROLE
    assert {a["roleDefinitionId"] for a in _sleep_assignments(run).values()} == {_role_id(guid)}


# --------------------------------------------------------------------------- the Owner's one-time commands

FAKE_CLI = """\
az() {
  printf '%s\\0' az "$@" >> "$LOG"; echo >> "$LOG"
  case "$1 $2 $3" in
    "role definition list") cat "$EXISTING" ;;
    "role definition create") echo 9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d ;;
    "group show "*) echo "/subscriptions/$SUB/resourceGroups/$3" ;;
    *) echo 00000000-id ;;
  esac
}
pulumi() { printf '%s\\0' pulumi "$@" >> "$LOG"; echo >> "$LOG"; }
"""


def _run_printed(script: str, tmp_path: Path, existing: str = "") -> list[list[str]]:
    """Run printed commands with `az` and `pulumi` replaced by stand-ins that record their arguments."""
    log, found = tmp_path / "calls", tmp_path / "existing"
    log.write_text("")
    found.write_text(existing)
    env = {**os.environ, "LOG": str(log), "EXISTING": str(found), "SUB": "ignored"}
    proc = subprocess.run(["bash", "-c", FAKE_CLI + "set -uo pipefail\n" + script + "\n"], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    return [line.rstrip("\0").split("\0") for line in log.read_text().splitlines() if line]


def _arg(call: list[str], flag: str) -> str:
    return call[call.index(flag) + 1]


@pytest.mark.parametrize(("kind", "actions"), [
    ("cluster", ["Microsoft.ContainerService/managedClusters/read",
                 "Microsoft.ContainerService/managedClusters/start/action",
                 "Microsoft.ContainerService/managedClusters/stop/action"]),
    ("vm", ["Microsoft.Compute/virtualMachines/read", "Microsoft.Compute/virtualMachines/start/action",
            "Microsoft.Compute/virtualMachines/deallocate/action"]),
])
def test_the_owner_creates_exactly_the_role_the_mode_needs_then_sets_the_key(tmp_path, kind, actions):
    script = ci_identities.sleep_role_commands("myuni", kind, "rg-myuni-x")
    calls = _run_printed(script.replace("SUB=$(az account show --query id -o tsv)", "SUB=sub-1234"), tmp_path)
    [create] = [c for c in calls if c[1:4] == ["role", "definition", "create"]]
    definition = json.loads(_arg(create, "--role-definition"))
    assert definition == {
        "Name": "binderhub-azure sleep schedule rg-myuni-x (created once)",
        "Description": definition["Description"],
        "Actions": actions, "NotActions": [],
        "AssignableScopes": ["/subscriptions/sub-1234/resourceGroups/rg-myuni-x"],
    }
    assert _arg(create, "--query") == "name"  # az prints the role definition; its `name` is the GUID
    [lookup] = [c for c in calls if c[1:4] == ["role", "definition", "list"]]
    assert _arg(lookup, "--name") == definition["Name"]
    assert _arg(lookup, "--scope") == "/subscriptions/sub-1234/resourceGroups/rg-myuni-x"
    assert ["az", "group", "show", "--name", "rg-myuni-x", "--query", "id", "-o", "tsv"] in calls
    # The GUID az printed goes into this stack's config, and nothing else is set.
    assert [c for c in calls if c[0] == "pulumi"] == [
        ["pulumi", "config", "set", "--path", "schedule.roleDefinitionId", "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d",
         "--stack", "myuni"]]
    # The JSON the program would create has the same actions (one list of them, in one place).
    assert actions == sleep_spec.role_permissions(kind)


def test_run_twice_the_role_made_the_first_time_is_used(tmp_path):
    script = ci_identities.sleep_role_commands("myuni", "cluster", "rg-myuni-jupyterhub")
    calls = _run_printed(script, tmp_path, existing=OWNER_ROLE + "\n")
    assert not [c for c in calls if c[1:4] == ["role", "definition", "create"]]
    assert [c for c in calls if c[0] == "pulumi"] == [
        ["pulumi", "config", "set", "--path", "schedule.roleDefinitionId", OWNER_ROLE, "--stack", "myuni"]]


def _repo(tmp_path: Path, stacks: dict[str, str], listed: str) -> Path:
    shutil.copy2(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / ".github").mkdir(exist_ok=True)
    (tmp_path / deploy_stacks.LIST_FILE).write_text(listed)
    for name, text in stacks.items():
        (tmp_path / f"Pulumi.{name}.yaml").write_text(text)
    return tmp_path


KEY = "azurekeyvault://myuni-pulumi-kv.vault.azure.net/keys/pulumi-secrets/0123456789abcdef0123456789abcdef"


def _stack(institution: str, mode: str = "jupyterhub", role: str | None = None, schedule: bool = True) -> str:
    text = f"""secretsprovider: {KEY}
encryptedkey: ZXhhbXBsZQ==
config:
  azure-native:location: swedencentral
  binderhub-azure:institution: {institution}
  binderhub-azure:contactEmail: rse@myuni.example
  binderhub-azure:mode: {mode}
  binderhub-azure:auth:
    type: github
    clientId: gh-client
    allowedUsers: [alice]
    admins: [alice]
"""
    if mode == "tljh":
        text += f"  binderhub-azure:vm:\n    sshPublicKey: {TLJH['vm']['sshPublicKey']}\n"
    if schedule:
        text += """  binderhub-azure:schedule:
    timeZone: Europe/London
    awake:
      - days: [mon, tue, wed, thu, fri]
        from: "08:30"
        to: "18:00"
"""
        if role:
            text += f"    roleDefinitionId: {role}\n"
    return text


def test_sleep_role_reads_the_stacks_mode_and_resource_group(tmp_path, capsys):
    root = _repo(tmp_path, {"course": _stack("course", "tljh")}, "")
    assert ci_identities.main(["sleep-role", "--stack", "course"], root=root) == 0
    out = capsys.readouterr().out
    assert out.strip() == ci_identities.sleep_role_commands("course", "vm", "rg-course-tljh")


@pytest.mark.parametrize(("stack", "message"), [
    (_stack("course", schedule=False), "course has no schedule"),
    (_stack("course", role=OWNER_ROLE), f"course already sets schedule.roleDefinitionId ({OWNER_ROLE})"),
])
def test_sleep_role_refuses_in_one_line(tmp_path, capsys, stack, message):
    root = _repo(tmp_path, {"course": stack}, "")
    assert ci_identities.main(["sleep-role", "--stack", "course"], root=root) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(message) and err.count("\n") == 1
    assert ci_identities.main(["sleep-role", "--stack", "nowhere"], root=root) == 2
    assert "no Pulumi.nowhere.yaml" in capsys.readouterr().err


# --------------------------------------------------------------------------- the deploy identity's condition

def test_the_condition_adds_exactly_the_listed_stacks_sleep_roles():
    condition = roles.delegation_condition([OWNER_ROLE.upper()])
    guids = ", ".join(sorted([*roles.ASSIGNED_BY_STACK.values(), OWNER_ROLE]))
    attribute = "Microsoft.Authorization/roleAssignments:RoleDefinitionId"
    # The same form as without a sleep role (tests/test_cluster_access.py), over one more GUID, for
    # adding (the request's role) and removing (the assignment's role) alike.
    assert condition == (
        "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR "
        f"(@Request[{attribute}] ForAnyOfAnyValues:GuidEquals {{{guids}}}))"
        " AND ((!(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})) OR "
        f"(@Resource[{attribute}] ForAnyOfAnyValues:GuidEquals {{{guids}}}))")
    assert roles.delegation_condition() == roles.delegation_condition([])


def test_the_printed_identities_and_condition_name_the_listed_sleep_roles_only(tmp_path, capsys):
    stacks = {"course": _stack("course", role=OWNER_ROLE), "stats": _stack("stats", "tljh", role=OTHER_ROLE.upper()),
              "plain": _stack("plain", schedule=False), "unlisted": _stack("unlisted", role=SUBSCRIPTION)}
    root = _repo(tmp_path, stacks, "course\nstats\nplain\n")
    assert ci_identities.listed_sleep_roles(root) == {"course": OWNER_ROLE, "stats": OTHER_ROLE}
    expected = roles.delegation_condition([OWNER_ROLE, OTHER_ROLE])
    assert ci_identities.main([], root=root) == 0
    identities = capsys.readouterr().out
    assert expected in identities and f"{OWNER_ROLE} (course)" in identities
    assert ci_identities.main(["condition"], root=root) == 0
    script = capsys.readouterr().out
    assert expected in script and SUBSCRIPTION not in script
    calls = _run_printed(script.replace("SUB=$(az account show --query id -o tsv)", "SUB=sub-1234"), tmp_path)
    # The old assignment goes (az's create would return it unchanged), the new one has the condition.
    verbs = [c[1:4] for c in calls if c[1] == "role"]
    assert verbs == [["role", "assignment", "delete"], ["role", "assignment", "create"]]
    [create] = [c for c in calls if c[1:4] == ["role", "assignment", "create"]]
    assert _arg(create, "--condition") == expected and _arg(create, "--condition-version") == "2.0"
    assert _arg(create, "--role") == "Role Based Access Control Administrator"
    assert _arg(create, "--scope") == "/subscriptions/sub-1234"
    for powerful in PRIVILEGED_ROLES:
        assert powerful not in expected


def test_the_readme_copy_is_a_fresh_clones_and_says_how_to_add_a_sleep_role():
    block = ci_identities.readme_block()
    assert roles.delegation_condition() in block
    assert "./run python -m tools.ci_identities condition" in block


def test_a_bad_list_stops_the_condition_with_its_problems(tmp_path, capsys):
    root = _repo(tmp_path, {"course": _stack("course")}, "course\n")
    assert ci_identities.main(["condition"], root=root) == 2
    out, err = capsys.readouterr()
    assert out == "" and "course has a sleep schedule without schedule.roleDefinitionId" in err


# --------------------------------------------------------------------------- the deploy list

def test_a_listed_stack_with_its_owners_role_is_previewed_and_deployed(tmp_path, capsys):
    root = _repo(tmp_path, {"course": _stack("course", role=OWNER_ROLE)}, "course\n")
    assert deploy_stacks.main([], root=root) == 0
    assert json.loads(capsys.readouterr().out) == ["course"]


def test_a_listed_stack_that_would_create_its_role_is_refused_naming_the_command(tmp_path, capsys):
    root = _repo(tmp_path, {"course": _stack("course")}, "course\n")
    assert deploy_stacks.main([], root=root) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert err == (".github/deploy-stacks.txt: course has a sleep schedule without schedule.roleDefinitionId, so "
                   "it would create its own custom role, which neither CI identity may (CI neither previews nor "
                   "deploys it): have an Owner run what `./run python -m tools.ci_identities sleep-role --stack "
                   "course` prints (README, \"Sleeping outside teaching hours\")\n")


def test_a_listed_stack_with_a_bad_role_id_is_refused(tmp_path, capsys):
    root = _repo(tmp_path, {"course": _stack("course", role="8e3af657-a8ff-443c-a75c-2fe8c4bcb635")}, "course\n")
    assert deploy_stacks.main([], root=root) == 2
    err = capsys.readouterr().err
    assert err.startswith(".github/deploy-stacks.txt: course: schedule.roleDefinitionId must be the schedule's own "
                          "custom role")


def test_two_listed_stacks_sharing_one_sleep_role_are_refused(tmp_path, capsys):
    stacks = {"course": _stack("course", role=OWNER_ROLE), "stats": _stack("stats", role=OWNER_ROLE.upper()),
              "other": _stack("other", role=OTHER_ROLE)}
    root = _repo(tmp_path, stacks, "course\nother\nstats\n")
    assert deploy_stacks.main([], root=root) == 2
    assert capsys.readouterr().err == (
        f".github/deploy-stacks.txt: stats and course name the same schedule.roleDefinitionId {OWNER_ROLE}, but a "
        "stack's sleep role is assignable on its own resource group only: give stats its own with "
        "`./run python -m tools.ci_identities sleep-role --stack stats`\n")


def test_sleep_role_takes_a_stack_name_not_a_path(capsys):
    with pytest.raises(SystemExit) as info:
        ci_identities.main(["sleep-role", "--stack", "../secrets/Pulumi.x.yaml"])
    assert info.value.code == 2
    assert "pass the stack name alone" in capsys.readouterr().err


@pytest.mark.parametrize("mode", [HUB, TLJH], ids=["jupyterhub", "tljh"])
def test_every_role_a_ci_sleeping_stack_assigns_is_one_its_condition_allows(program, mode):
    run = program(SECRETS, **mode, schedule={**LONDON, "roleDefinitionId": OWNER_ROLE})
    assigned = {r.revealed["roleDefinitionId"].rsplit("/", 1)[1] for r in run.registrations
                if r.type == "azure-native:authorization:RoleAssignment"}
    condition = roles.delegation_condition([OWNER_ROLE])
    allowed = condition.split("GuidEquals {", 1)[1].split("}", 1)[0].split(", ")
    assert OWNER_ROLE in assigned and assigned <= set(allowed)
    assert not [r for r in run.registrations if r.type.startswith("azure-native:authorization:Role")
                and r.type != "azure-native:authorization:RoleAssignment"]
