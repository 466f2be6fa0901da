"""Who reaches the cluster, and how Pulumi itself keeps reaching it: explicit admin and reader
principals, the wait for Azure RBAC to honour a new admin, the delegation condition the deploy
identity gets, and the kubelogin login a CI job needs."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from components import cluster, cluster_spec, roles
from components.config import ConfigError
from components.config_load import parse_config
from tests.helpers import raw_config
from tools.mocks import PlanMocks
from tools.plan import run_program

GROUP = "12345678-1234-1234-1234-123456789012"
SP = "0a1b2c3d-0000-4000-8000-000000000001"
NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def problems(**cluster_keys) -> list[str]:
    raw, secret = raw_config(cluster=cluster_keys)
    with pytest.raises(ConfigError) as info:
        parse_config(raw, secret)
    return info.value.problems


# ---- config

@pytest.mark.parametrize("key", ["adminPrincipals", "readerPrincipals"])
def test_principals_need_entra_id(key):
    assert problems(**{key: [{"objectId": SP, "type": "ServicePrincipal"}]}) == [
        f"binderhub-azure:cluster.{key} needs cluster.entraAdminGroupIds (roles through Azure RBAC need Entra ID "
        "integration)"]


def test_a_principal_listed_twice_is_named():
    twice = [{"objectId": SP, "type": "ServicePrincipal"}, {"objectId": SP.upper(), "type": "ServicePrincipal"}]
    assert problems(entraAdminGroupIds=[GROUP], adminPrincipals=twice) == [
        f"binderhub-azure:cluster.adminPrincipals lists {SP} more than once"]


@pytest.mark.parametrize(("principal", "fragment"), [
    ({"objectId": "alice@myuni.example", "type": "User"}, "must be an object ID (a GUID)"),
    ({"objectId": SP, "type": "App"}, "'User', 'Group' or 'ServicePrincipal'"),
    ({"objectId": SP}, "type"),
])
def test_a_bad_principal_is_one_line_naming_the_key(principal, fragment):
    [line] = problems(entraAdminGroupIds=[GROUP], adminPrincipals=[principal])
    assert line.startswith("binderhub-azure:cluster.adminPrincipals") and fragment in line


# ---- waiting for Azure RBAC

@pytest.mark.parametrize(("created_on", "seconds"), [
    ("2026-12-05T11:59:00Z", 240.0),
    ("2026-12-05T11:59:00.1234567+00:00", 240.123456),
    ("2026-12-05T11:55:00Z", 0.0),
    ("2026-11-01T00:00:00Z", 0.0),
    (None, 0.0),
    ("", 0.0),
    ("yesterday", 0.0),
    ("2026-12-05T11:59:00", 0.0),  # no zone: unknown, never a guess
])
def test_settle_seconds(created_on, seconds):
    assert roles.settle_seconds(created_on, NOW) == pytest.approx(seconds, abs=1e-3)


def test_the_provider_gets_its_kubeconfig_once_the_newest_admin_assignment_has_settled(monkeypatch):
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(cluster.asyncio, "sleep", fake_sleep)
    monkeypatch.setattr(cluster.pulumi.log, "info", lambda *a, **k: None)
    just_now = datetime.now(UTC).isoformat()
    long_ago = (datetime.now(UTC) - timedelta(days=30)).isoformat()
    assert asyncio.run(cluster._after_rbac_settles("config", [long_ago, just_now])) == "config"
    assert len(slept) == 1 and 290 < slept[0] <= roles.RBAC_SETTLE.total_seconds()
    slept.clear()
    assert asyncio.run(cluster._after_rbac_settles("config", [long_ago, None])) == "config"
    assert slept == []


# ---- what the deploy identity may assign

def test_delegation_condition_is_azures_constrain_roles_form_over_the_stacks_roles():
    condition = roles.delegation_condition()
    guids = ", ".join(sorted(roles.ASSIGNED_BY_STACK.values()))
    attribute = "Microsoft.Authorization/roleAssignments:RoleDefinitionId"
    assert condition == (
        "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR "
        f"(@Request[{attribute}] ForAnyOfAnyValues:GuidEquals {{{guids}}}))"
        " AND ((!(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})) OR "
        f"(@Resource[{attribute}] ForAnyOfAnyValues:GuidEquals {{{guids}}}))")
    # Never the roles that would hand out the subscription.
    for powerful in ("8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "b24988ac-6180-42a0-ab88-20f7382dd24c",
                     "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9", roles.RBAC_ADMINISTRATOR):
        assert powerful not in condition


def test_assign_role_refuses_a_role_outside_the_delegation():
    with pytest.raises(ValueError, match=r"not in roles\.ASSIGNED_BY_STACK"):
        roles.assign_role("x", role=roles.ACR_PUSH, principal_id=SP, scope="/s", parent=None)  # type: ignore[arg-type]


def test_preview_role_reads_and_lists_credentials_only():
    definition = roles.preview_role_definition()
    assert definition["Actions"] == ["*/read", *[a for a in roles.PREVIEW_ACTIONS if a != "*/read"]]
    for action in definition["Actions"]:
        assert action == "*/read" or action.endswith("/action")
        assert "write" not in action.lower() and "delete" not in action.lower()
    assert "Microsoft.ContainerService/managedClusters/listClusterAdminCredential/action" not in definition["Actions"]


# ---- kubelogin in CI

CI = {"ACTIONS_ID_TOKEN_REQUEST_URL": "https://example.invalid/token", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "t",
      "AAD_LOGIN_METHOD": "workloadidentity", "AZURE_CLIENT_ID": SP, "AZURE_TENANT_ID": GROUP}


def test_a_laptop_or_the_test_job_is_never_refused():
    assert cluster_spec.ci_login_problem({}, kubelogin_found=False) is None
    assert cluster_spec.ci_login_problem({"GITHUB_ACTIONS": "true"}, kubelogin_found=False) is None


def test_the_shipped_ci_environment_passes():
    assert cluster_spec.ci_login_problem(CI, kubelogin_found=True) is None


@pytest.mark.parametrize(("drop", "found", "fragment"), [
    ("AAD_LOGIN_METHOD", True, "AAD_LOGIN_METHOD=workloadidentity"),
    ("AZURE_CLIENT_ID", True, "AZURE_CLIENT_ID"),
    ("AZURE_TENANT_ID", True, "AZURE_TENANT_ID"),
    (None, False, "kubelogin on the PATH"),
])
def test_a_ci_job_that_would_lose_the_cluster_is_refused_in_one_line(drop, found, fragment):
    env = {k: v for k, v in CI.items() if k != drop}
    problem = cluster_spec.ci_login_problem(env, kubelogin_found=found)
    assert problem and fragment in problem and "\n" not in problem


def test_the_program_refuses_before_creating_anything(monkeypatch):
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_URL", "https://example.invalid/token")
    monkeypatch.setenv("AAD_LOGIN_METHOD", "azurecli")
    raw, secret = raw_config(cluster={"entraAdminGroupIds": [GROUP], "disableLocalAccounts": True})
    with pytest.raises(Exception, match="AAD_LOGIN_METHOD=workloadidentity") as info:
        run_program(raw, secret, "test", PlanMocks())
    assert "Traceback" not in str(info.value)


def test_the_login_mode_lives_in_the_environment_not_the_kubeconfig():
    # The provider's kubeconfig is the same for a laptop and CI, so their turns cause no diff.
    exec_user = {"users": [{"name": "u", "user": {"exec": {"command": "kubelogin", "args": ["get-token"]}}}]}
    converted = cluster_spec.kubeconfig_for_azure_cli(exec_user)
    args = converted["users"][0]["user"]["exec"]["args"]
    assert args == ["get-token", "--login", "azurecli", "--server-id", cluster_spec.AKS_ENTRA_SERVER_ID]
    assert "env" not in converted["users"][0]["user"]["exec"]


def test_an_entra_stack_without_admin_principals_says_who_must_run_pulumi_up():
    from components.notes import stack_notes

    def notes(**cluster_keys) -> list[str]:
        raw, secret = raw_config(cluster=cluster_keys)
        return [n for n in stack_notes(parse_config(raw, secret), NOW.date()) if "adminPrincipals" in n]

    assert len(notes(entraAdminGroupIds=[GROUP])) == 1
    assert notes(entraAdminGroupIds=[GROUP], adminPrincipals=[{"objectId": SP, "type": "ServicePrincipal"}]) == []
    assert notes() == []
