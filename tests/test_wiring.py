"""How resources connect: which principal gets which role where, which secret reaches which
input, which resource waits for which, which kubeconfig the provider gets.

The mocks give every identity, credential and key its own value (tools/mocks.py), so
each test names the one source a value must come from, not only that it is set or masked.
"""

from __future__ import annotations

import base64
import os

import pulumi
import pytest
import yaml

from components import cluster_spec, roles, tljh_spec
from tests.helpers import named, raw_config
from tools import plan, preflight
from tools.mocks import (
    CLUSTER_PRINCIPAL_ID,
    DEPLOYER_OBJECT_ID,
    KUBELET_OBJECT_ID,
    PUBLIC_IP,
    SUBSCRIPTION,
    VM_PRINCIPAL_ID,
    RecordingMonitor,
    Registration,
    fake_secret,
    kubeconfig,
    registry_password,
    storage_key,
)
from tools.plan import run_program

GITHUB = {"type": "github", "clientId": "gh-client", "allowedOrganizations": ["testuni"], "admins": ["alice"]}
ENTRA_ADMINS = ["12345678-1234-1234-1234-123456789012"]
OAUTH = "oauth-client-secret-plaintext"
# Binder with monitoring needs more than the default system node (components/fit.py).
BIG_SYSTEM = {"systemPool": {"vmSize": "Standard_E2s_v5"}}
DOCKER_TOKEN = "dockerhub-token-plaintext"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEgC/wHhpkjr7StAlWWMFN+kF5WksXY+xqCZc0vi51vs rse@testuni"
TLJH = {"mode": "tljh", "auth": GITHUB, "vm": {"sshPublicKey": KEY}}
BLOB = {"name": "census", "storageAccount": "uniresearchdata", "container": "census",
        "mountPath": "/home/jovyan/data/census", "resourceGroup": "rg-research-data"}
FILES = {"name": "climate", "storageAccount": "testunidata", "share": "climate",
         "mountPath": "/srv/data/climate", "create": True}
CREATED_BLOB = {"name": "survey", "storageAccount": "testunisurvey", "container": "waves",
                "mountPath": "/srv/data/survey", "create": True}
RG_ID = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-testuni-binderhub"


def reg(run: RecordingMonitor, name: str) -> Registration:
    found = [r for r in run.registrations if r.name == name]
    assert len(found) == 1, f"expected one resource named {name}, found {len(found)}"
    return found[0]


def role_definition(guid: str) -> str:
    return f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/{guid}"


def roles_of(run: RecordingMonitor) -> dict[str, tuple[str, str, str, str]]:
    """Every role assignment: name -> (role GUID, principal, principal type, scope)."""
    found = {}
    for r in run.registrations:
        if r.type == "azure-native:authorization:RoleAssignment":
            i = r.revealed
            found[r.name] = (i["roleDefinitionId"].rsplit("/", 1)[1], i["principalId"], i["principalType"], i["scope"])
            assert i["roleDefinitionId"] == role_definition(found[r.name][0])
            # Assignment names are GUIDs derived once: a replacement must delete the old one first.
            assert r.options.get("deleteBeforeReplace") is True, r.name
    return found


# --- identities and roles ---------------------------------------------------------------------

def test_binderhub_roles_principals_and_scopes(program):
    run = program()
    registry = reg(run, "registry-acr")
    assert roles_of(run) == {
        "registry-acrpull": (roles.ACR_PULL, KUBELET_OBJECT_ID, "ServicePrincipal", registry.id),
        "ingress-network-contributor": (roles.NETWORK_CONTRIBUTOR, CLUSTER_PRINCIPAL_ID, "ServicePrincipal", RG_ID),
    }
    assert registry.id.endswith(f"/registries/{registry.inputs['registryName']}")
    assert reg(run, "resource-group").id == RG_ID


CI_DEPLOYER = "0a1b2c3d-0000-4000-8000-000000000001"
LAPTOP_USER = "0a1b2c3d-0000-4000-8000-000000000002"
PREVIEWER = "0a1b2c3d-0000-4000-8000-000000000003"
PRINCIPALS = {"adminPrincipals": [{"objectId": CI_DEPLOYER, "type": "ServicePrincipal"},
                                  {"objectId": LAPTOP_USER, "type": "User"}],
              "readerPrincipals": [{"objectId": PREVIEWER, "type": "ServicePrincipal"}]}


def test_configured_principals_get_cluster_admin_and_reader_on_the_cluster(program):
    run = program(cluster={"entraAdminGroupIds": ENTRA_ADMINS, **PRINCIPALS})
    cluster = reg(run, "cluster-aks")
    assert cluster.id.endswith("/managedClusters/aks-testuni")
    on_cluster = {name: role for name, role in roles_of(run).items() if name.startswith("cluster-")}
    assert on_cluster == {
        f"cluster-admin-{CI_DEPLOYER}": (roles.AKS_RBAC_CLUSTER_ADMIN, CI_DEPLOYER, "ServicePrincipal", cluster.id),
        f"cluster-admin-{LAPTOP_USER}": (roles.AKS_RBAC_CLUSTER_ADMIN, LAPTOP_USER, "User", cluster.id),
        f"cluster-reader-{PREVIEWER}": (roles.AKS_RBAC_READER, PREVIEWER, "ServicePrincipal", cluster.id),
    }


AZURE_CLI_APP_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"  # a client config with it: a user after `az login`


@pytest.mark.parametrize("deployer", [None, "01234567-89ab-cdef-0123-456789abcdef", AZURE_CLI_APP_ID],
                         ids=["service-principal", "other-service-principal", "az-login-user"])
def test_whoever_runs_pulumi_up_gets_no_role_of_their_own(program, deployer):
    # Alternating laptop and CI runs must not delete and recreate an admin assignment.
    run = program(cluster={"entraAdminGroupIds": ENTRA_ADMINS, **PRINCIPALS}, deployer=deployer)
    assert DEPLOYER_OBJECT_ID not in {principal for _, principal, _, _ in roles_of(run).values()}
    assert roles_of(run) == roles_of(program(cluster={"entraAdminGroupIds": ENTRA_ADMINS, **PRINCIPALS}))


def test_no_cluster_role_without_entra(program):
    assert not [name for name in roles_of(program()) if name.startswith("cluster-")]


def test_every_role_the_program_assigns_is_one_the_deploy_identity_may_assign(program):
    stacks = [program(), program(cluster={"entraAdminGroupIds": ENTRA_ADMINS, **PRINCIPALS}),
              program(secrets={"authClientSecret": OAUTH}, **TLJH), program(datasets=[BLOB])]
    assigned = {role for run in stacks for role, _, _, _ in roles_of(run).values()}
    assert assigned == set(roles.ASSIGNED_BY_STACK.values())


def test_tljh_vm_reads_only_its_vault(program):
    run = program(secrets={"authClientSecret": OAUTH}, **TLJH)
    vault = reg(run, "tljh-vault")
    assert roles_of(run) == {
        "tljh-vault-reader": (roles.KEY_VAULT_SECRETS_USER, VM_PRINCIPAL_ID, "ServicePrincipal", vault.id)}
    assert vault.id.endswith(f"/vaults/{vault.inputs['vaultName']}")


def test_budget_scope_is_the_stack_resource_group(program):
    run = program(budget={"monthlyAmount": 300, "contactEmails": ["finance@testuni.example"]})
    assert reg(run, "budget-monthly").inputs["scope"] == RG_ID


# --- secrets and credentials into their inputs ------------------------------------------------

def test_registry_push_credential_reaches_binderhub(program):
    run = program()
    name = reg(run, "registry-acr").inputs["registryName"]
    values = reg(run, "hub-release").revealed["values"]
    assert values["registry"]["username"] == name  # ACR's admin user is named after the registry
    assert values["registry"]["password"] == registry_password(name, 0)
    assert values["registry"]["url"] == f"https://{name}.azurecr.io"


def test_dockerhub_token_reaches_binderhub(program):
    run = program(registry={"type": "dockerhub", "username": "testuni"}, secrets={"dockerHubToken": DOCKER_TOKEN})
    values = reg(run, "hub-release").revealed["values"]
    assert values["registry"] == {"username": "testuni", "password": DOCKER_TOKEN}


def test_generated_tokens_reach_their_chart_values(program):
    values = reg(program(), "hub-release").revealed["values"]
    hub = values["jupyterhub"]["hub"]
    assert values["jupyterhub"]["proxy"]["secretToken"] == fake_secret("hub-proxy-token")
    assert hub["cookieSecret"] == fake_secret("hub-cookie-secret")
    assert hub["config"]["CryptKeeper"]["keys"] == [fake_secret("hub-crypt-key")]
    assert hub["services"]["binder"]["apiToken"] == fake_secret("hub-binder-api-token")
    assert values["config"]["BinderHub"]["build_token_secret"] == fake_secret("hub-build-token")


@pytest.mark.parametrize("mode", ["binderhub", "jupyterhub"])
def test_auth_client_secret_reaches_the_authenticator(program, mode):
    run = program(mode=mode, auth=GITHUB, secrets={"authClientSecret": OAUTH})
    values = reg(run, "hub-release").revealed["values"]
    hub = (values["jupyterhub"] if mode == "binderhub" else values)["hub"]
    assert hub["config"]["GitHubOAuthenticator"]["client_secret"] == OAUTH
    assert hub["config"]["GitHubOAuthenticator"]["client_id"] == "gh-client"


def test_each_dataset_secret_holds_its_own_account_key(program):
    run = program(datasets=[BLOB, FILES])
    # A referenced account is read in its own resource group; a created one in the stack's.
    for data, group in ((BLOB, "rg-research-data"), (FILES, "rg-testuni-binderhub")):
        secret = reg(run, f"datasets-{data['name']}-account").revealed
        assert secret["stringData"] == {"azurestorageaccountname": data["storageAccount"],
                                        "azurestorageaccountkey": storage_key(group, data["storageAccount"], 0)}


def test_grafana_admin_password_reaches_its_secret(program):
    run = program(monitoring={"enabled": True}, cluster=BIG_SYSTEM)
    data = reg(run, "monitoring-grafana-admin-secret").revealed["stringData"]
    assert data == {"admin-user": "admin", "admin-password": fake_secret("monitoring-grafana-admin")}


def test_tljh_client_secret_goes_to_the_vault_the_vm_reads(program):
    run = program(secrets={"authClientSecret": OAUTH}, **TLJH)
    vault_name = reg(run, "tljh-vault").inputs["vaultName"]
    assert vault_name.startswith("kv-testuni-")
    secret = reg(run, "tljh-oauth-secret").revealed
    assert secret["properties"]["value"] == OAUTH
    assert (secret["vaultName"], secret["secretName"]) == (vault_name, tljh_spec.SECRET_NAME)
    vm = reg(run, "tljh-vm").inputs
    cloud_init = base64.b64decode(vm["osProfile"]["customData"]).decode()
    assert f"https://{vault_name}.vault.azure.net/secrets/{tljh_spec.SECRET_NAME}?" in cloud_init
    assert cloud_init.count(".vault.azure.net/secrets/") == 1
    assert OAUTH not in cloud_init


def test_tljh_network_and_disk_wiring(program):
    run = program(secrets={"authClientSecret": OAUTH}, **TLJH)
    vm = reg(run, "tljh-vm").inputs
    nic = reg(run, "tljh-nic")
    assert vm["networkProfile"]["networkInterfaces"] == [{"id": nic.id, "primary": True}]
    ip_config = nic.inputs["ipConfigurations"][0]
    assert ip_config["subnet"] == {"id": reg(run, "tljh-subnet").id}
    assert ip_config["publicIPAddress"] == {"id": reg(run, "tljh-ip").id}
    subnet = reg(run, "tljh-subnet").inputs
    assert subnet["networkSecurityGroup"] == {"id": reg(run, "tljh-nsg").id}
    assert subnet["virtualNetworkName"] == reg(run, "tljh-vnet").inputs["virtualNetworkName"]
    assert vm["storageProfile"]["dataDisks"][0]["managedDisk"] == {"id": reg(run, "tljh-home").id}
    vault = reg(run, "tljh-vault").inputs
    assert vault["properties"]["tenantId"] == "11111111-1111-1111-1111-111111111111"


# --- names as Azure gives them ------------------------------------------------------------------

def test_created_storage_children_name_the_account_azure_knows(program):
    run = program(datasets=[FILES, CREATED_BLOB])
    for data, child in ((FILES, "climate-share"), (CREATED_BLOB, "survey-container")):
        inputs = reg(run, child).inputs
        assert inputs["accountName"] == data["storageAccount"]
        assert inputs["accountName"] == reg(run, f"{data['name']}-account").inputs["accountName"]
        assert inputs["resourceGroupName"] == "rg-testuni-binderhub"
    assert reg(run, "climate-share").inputs["shareQuota"] == 100  # GiB
    assert reg(run, "survey-container").inputs["publicAccess"] == "None"


def test_random_name_suffixes_fit_azure_naming(program):
    # Registry and Key Vault names allow lowercase letters and digits only.
    for run, name in ((program(), "registry-suffix"),
                      (program(secrets={"authClientSecret": OAUTH}, **TLJH), "tljh-vault-suffix")):
        assert reg(run, name).inputs == {"length": 6, "upper": False, "special": False}


def test_registry_has_its_admin_user_for_pushing(program):
    assert reg(program(), "registry-acr").inputs["adminUserEnabled"] is True


def test_provider_deletes_unreachable_objects(program):
    # Without it, a deleted cluster would leave `pulumi destroy` stuck on objects it cannot reach.
    assert reg(program(), "cluster-k8s").inputs["deleteUnreachable"] == "true"  # provider inputs are strings


def test_hub_release_waits_half_an_hour(program):
    assert reg(program(), "hub-release").inputs["timeout"] == 1800


def test_tljh_vm_disks_vault_and_outputs(program, render):
    keys = {"secrets": {"authClientSecret": OAUTH}, **TLJH}
    run = program(**keys)
    storage = reg(run, "tljh-vm").inputs["storageProfile"]
    assert storage["osDisk"] == {"createOption": "FromImage", "diskSizeGB": 64, "deleteOption": "Delete",
                                 "managedDisk": {"storageAccountType": "Premium_LRS"}}
    assert storage["dataDisks"] == [{"lun": 0, "createOption": "Attach", "deleteOption": "Detach",
                                     "managedDisk": {"id": reg(run, "tljh-home").id}}]
    assert reg(run, "tljh-nic").inputs["ipConfigurations"][0]["primary"] is True
    properties = reg(run, "tljh-vault").inputs["properties"]
    assert properties["enableRbacAuthorization"] is True and properties["softDeleteRetentionInDays"] == 7
    outputs = render(**keys)["outputs"]
    assert outputs["publicIp"] == PUBLIC_IP
    assert outputs["azureDnsName"] == "testuni-hub.westeurope.cloudapp.azure.com"
    assert outputs["vmName"] == "vm-testuni-tljh"


def test_next_step_names_the_address_and_the_dns_name(render):
    step = render(domain="binder.testuni.example")["outputs"]["nextStep"]
    assert f"A -> {PUBLIC_IP} (or CNAME -> testuni-binder.westeurope.cloudapp.azure.com)" in step


def test_cluster_children_name_the_cluster_azure_knows(program):
    run = program()
    cluster = reg(run, "cluster-aks").inputs["resourceName"]
    assert reg(run, "cluster-user").inputs["resourceName"] == cluster == "aks-testuni"


# --- which kubeconfig the provider gets -----------------------------------------------------------

def provider_kubeconfig(run: RecordingMonitor) -> dict:
    return yaml.safe_load(reg(run, "cluster-k8s").revealed["kubeconfig"])


def test_provider_gets_the_user_credential_without_entra(program):
    assert provider_kubeconfig(program()) == yaml.safe_load(kubeconfig("aks-testuni", "user"))


def test_provider_gets_the_admin_credential_with_entra_and_local_accounts(program):
    run = program(cluster={"entraAdminGroupIds": ENTRA_ADMINS})
    assert provider_kubeconfig(run) == yaml.safe_load(kubeconfig("aks-testuni", "admin"))


def test_provider_gets_exec_kubelogin_with_azure_cli_when_local_accounts_are_off(program):
    run = program(cluster={"entraAdminGroupIds": ENTRA_ADMINS, "disableLocalAccounts": True})
    got = provider_kubeconfig(run)
    assert got == cluster_spec.kubeconfig_for_azure_cli(yaml.safe_load(kubeconfig("aks-testuni", "user-exec")))
    assert got["users"][0]["user"]["exec"]["args"][:3] == ["get-token", "--login", "azurecli"]


def test_every_release_and_kubernetes_object_uses_the_cluster_provider(program):
    run = program(monitoring={"enabled": True}, datasets=[BLOB], cluster=BIG_SYSTEM)
    provider_urn = reg(run, "cluster-k8s").urn
    on_cluster = [r for r in run.registrations if r.type.startswith("kubernetes:") and "providers" not in r.type]
    assert len(on_cluster) >= 10
    for r in on_cluster:
        assert r.options.get("provider") == provider_urn.split("::")[-1], r.name


# --- ordering (dependsOn in the plan) ----------------------------------------------------------

def depends(plan: dict, name: str) -> set[str]:
    return set(named(plan, name)["dependsOn"])


def test_traefik_waits_for_its_ip_and_the_network_role(render):
    assert {"ingress-ip", "ingress-network-contributor"} <= depends(render(), "ingress-traefik")


def test_hub_waits_for_ingress_issuers_and_its_disk_class(render):
    assert {"ingress-traefik", "ingress-letsencrypt-production", "ingress-letsencrypt-staging",
            "hub-db-storage"} <= depends(render(), "hub-release")
    assert {"ingress-traefik", "hub-db-storage"} <= depends(render(https=False, contactEmail=None), "hub-release")


def test_issuers_wait_for_cert_manager(render):
    plan = render()
    for env in ("production", "staging"):
        assert "ingress-cert-manager" in depends(plan, f"ingress-letsencrypt-{env}")


def test_tljh_vm_waits_for_its_key_vault_secret(render):
    plan = render(secrets={"authClientSecret": OAUTH}, **TLJH)
    assert "tljh-oauth-secret" in depends(plan, "tljh-vm")


def test_dataset_objects_wait_for_the_hub_and_each_other(render):
    plan = render(datasets=[BLOB])
    assert "hub-release" in depends(plan, "datasets-census-account")
    assert {"hub-release", "datasets-census-account"} <= depends(plan, "datasets-census-volume")
    assert {"hub-release", "datasets-census-volume"} <= depends(plan, "datasets-census-claim")


def test_grafana_waits_for_the_ingress_and_its_admin_secret(render):
    plan = render(monitoring={"enabled": True}, cluster=BIG_SYSTEM)
    assert {"ingress-traefik", "ingress-letsencrypt-production", "monitoring-grafana-admin-secret",
            "monitoring-namespace"} <= depends(plan, "monitoring-grafana")
    assert "monitoring-namespace" in depends(plan, "monitoring-prometheus")


def test_build_policy_waits_for_the_hub(render):
    assert "hub-release" in depends(render(), "hub-build-egress")


# --- the pre-flight: under `pulumi up`, never in the offline plan ----------------------------------

def test_main_runs_the_preflight_when_configured(monkeypatch):
    calls = []
    monkeypatch.setattr(preflight, "check_during_pulumi", lambda *args: calls.append(args))
    raw, secret = raw_config(institution="preflighton")
    run_program(raw, secret, "test")
    (cfg, raw_seen, warn), = calls
    assert cfg.institution == "preflighton" and cfg.preflight is True
    assert raw_seen["binderhub-azure:institution"] == "preflighton"
    assert warn is pulumi.log.warn
    calls.clear()
    run_program(*raw_config(institution="preflightoff", preflight=False), "test")
    assert calls == []


def test_offline_plan_never_calls_azure_even_with_credentials(monkeypatch, capsys):
    for key, value in (("AZURE_CLIENT_ID", "c"), ("AZURE_TENANT_ID", "t"), ("AZURE_CLIENT_SECRET", "s"),
                       ("ARM_SUBSCRIPTION_ID", SUBSCRIPTION)):
        monkeypatch.setenv(key, value)
    monkeypatch.delenv(preflight.SKIP_ENV, raising=False)
    assert preflight.should_run_in_pulumi_up()  # as under `pulumi up` on this machine
    reached = []

    def no_azure(*args, **kwargs):
        reached.append(args)
        raise AssertionError("the offline plan tried to reach Azure")

    monkeypatch.setattr(preflight, "build_clients", no_azure)
    monkeypatch.setattr(preflight, "run_checks", no_azure)
    assert plan.main(["--stack", "dev", "--json"]) == 0
    assert reached == [] and "pre-flight" not in capsys.readouterr().err
    assert preflight.SKIP_ENV not in os.environ  # restored after the run


def test_every_mock_source_is_distinct():
    """The wiring tests above are only as sharp as these values are distinct."""
    identities = {KUBELET_OBJECT_ID, CLUSTER_PRINCIPAL_ID, DEPLOYER_OBJECT_ID, VM_PRINCIPAL_ID}
    assert len(identities) == 4
    kubeconfigs = {kind: kubeconfig("aks-x", kind) for kind in ("admin", "user", "user-exec", "user-azure")}
    assert len(set(kubeconfigs.values())) == 4
    assert kubeconfig("aks-x", "admin") != kubeconfig("aks-y", "admin")
    secrets = {registry_password("acr", 0), registry_password("acr", 1), registry_password("other", 0),
               storage_key("rg", "acct", 0), storage_key("rg", "acct", 1), storage_key("rg2", "acct", 0),
               storage_key("rg", "acct2", 0), fake_secret("hub-proxy-token")}
    assert len(secrets) == 8
