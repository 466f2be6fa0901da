"""Defences in the rendered stack, and bad input that never gets past the plan command."""

from __future__ import annotations

import ipaddress
import json
import re
from pathlib import Path

import pytest
import yaml

from components import cluster_spec
from tests.helpers import SECRET, named, one, release, resources_of
from tests.test_config import BAD_CONFIG_IDS, BAD_CONFIGS
from tools import plan

ENTRA_ADMINS = {"entraAdminGroupIds": ["12345678-1234-1234-1234-123456789012"]}
CI_DEPLOYER = "0a1b2c3d-0000-4000-8000-000000000001"
GITHUB = {"type": "github", "clientId": "c", "allowedUsers": ["alice"]}


def stack_file(tmp_path, keys: dict) -> str:
    """A Pulumi.<stack>.yaml as a user writes it; secrets as `secure:` entries unless given plain."""
    keys = {"azure-native:location": "westeurope", "institution": "testuni",
            "contactEmail": "rse@testuni.example", **keys}
    secrets = keys.pop("secrets", None) or {}
    config = {}
    for key, value in keys.items():
        if value is not None:
            config[key if ":" in key else f"binderhub-azure:{key}"] = value
    for key, _ in secrets.items():
        config[f"binderhub-azure:{key}"] = {"secure": "v1:AAAAAAAAAAAAAAAAAAAA"}
    path = tmp_path / "Pulumi.case.yaml"
    path.write_text(yaml.safe_dump({"config": config}))
    return str(path)


# A secret the stack needs and the file does not set yet is no bad input for the offline plan: it
# plans with a stand-in and lists the secret (tests/test_newcomer_tools.py); pulumi up refuses it.
_NOT_SET_YET = re.compile(r"binderhub-azure:(authClientSecret|dockerHubToken) is required\b")
_REFUSED = [(k, e) for k, e in BAD_CONFIGS if not _NOT_SET_YET.match(e)]
_REFUSED_IDS = [i for i, (_, e) in zip(BAD_CONFIG_IDS, BAD_CONFIGS, strict=True) if not _NOT_SET_YET.match(e)]
_PLANNED = [(k, e) for k, e in BAD_CONFIGS if _NOT_SET_YET.match(e)]


@pytest.mark.parametrize(("keys", "expected"), _REFUSED, ids=_REFUSED_IDS)
def test_each_bad_input_exits_2_with_its_message(tmp_path, capsys, keys, expected):
    code = plan.main(["--config-file", stack_file(tmp_path, dict(keys)), "--json"])
    out, err = capsys.readouterr()
    assert code == 2
    assert expected in err
    assert out == "" and "Traceback" not in err


@pytest.mark.parametrize(("keys", "expected"), _PLANNED)
def test_a_secret_not_set_yet_is_planned_and_listed(tmp_path, capsys, keys, expected):
    assert len(_PLANNED) == 2
    code = plan.main(["--config-file", stack_file(tmp_path, dict(keys)), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    key = expected.split(" ", 1)[0]
    assert [m["key"] for m in json.loads(out)["missingSecrets"]] == [key]


def test_plain_text_secret_in_the_stack_file_exits_2(tmp_path, capsys):
    path = Path(stack_file(tmp_path, {"auth": GITHUB}))
    path.write_text(path.read_text() + "  binderhub-azure:authClientSecret: plaintext\n")
    assert plan.main(["--config-file", str(path)]) == 2
    assert "binderhub-azure:authClientSecret must be stored as a secret" in capsys.readouterr().err


def _user_pod_rules(values: dict) -> dict:
    return values["singleuser"]["networkPolicy"]["egressAllowRules"]


@pytest.mark.parametrize("mode", ["binderhub", "jupyterhub"])
def test_user_pods_cannot_reach_cloud_metadata_or_private_ranges(render, mode):
    keys = {} if mode == "binderhub" else {"mode": mode, "auth": GITHUB, "secrets": {"authClientSecret": "s"}}
    values = release(render(**keys), mode)["values"]
    jh = values["jupyterhub"] if mode == "binderhub" else values
    assert jh["singleuser"]["cloudMetadata"]["blockWithIptables"] is True
    rules = _user_pod_rules(jh)
    assert rules["cloudMetadataServer"] is False and rules["privateIPs"] is False
    # z2jh's nonPrivateIPs rule excepts only 10/8, 172.16/12, 192.168/16 and the metadata address
    # (z2jh 4.4.0 _helpers-netpol.tpl), so it is off and the stack's own rule stands instead.
    assert rules["nonPrivateIPs"] is False
    assert rules["dnsPortsKubeSystemNamespace"] is True and rules["dnsPortsPrivateIPs"] is True  # DNS still works
    (public,) = jh["singleuser"]["networkPolicy"]["egress"]
    (peer,) = public["to"]
    assert peer["ipBlock"]["cidr"] == "0.0.0.0/0" and "ports" not in public  # every port, public addresses only
    unreachable = ["168.63.129.16", "169.254.169.254", "169.254.0.1", "10.0.0.10", "10.244.1.5", "172.16.0.1",
                   "192.168.1.1", "100.64.0.1"]
    for address in unreachable:
        assert any(ipaddress.ip_address(address) in ipaddress.ip_network(net) for net in peer["ipBlock"]["except"]), \
            address


def test_build_pods_egress_policy(render):
    policy = named(render(), "hub-build-egress")
    assert policy["type"] == "kubernetes:networking.k8s.io/v1:NetworkPolicy"
    assert "hub-release" in policy["dependsOn"]
    spec = policy["inputs"]["spec"]
    selector = spec["podSelector"]["matchExpressions"][0]
    assert selector["key"] == "component" and {"binderhub-build", "image-builder"} <= set(selector["values"])
    assert spec["policyTypes"] == ["Egress"]
    dns, internet = spec["egress"]
    assert {p["port"] for p in dns["ports"]} == {53}
    block = internet["to"][0]["ipBlock"]
    assert block["cidr"] == "0.0.0.0/0"
    assert {"169.254.0.0/16", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"} <= set(block["except"])
    assert sorted(p["port"] for p in internet["ports"]) == [80, 443]
    custom = named(render(security={"buildEgressPorts": [443, 9418]}), "hub-build-egress")
    assert sorted(p["port"] for p in custom["inputs"]["spec"]["egress"][1]["ports"]) == [443, 9418]


def test_no_build_policy_in_jupyterhub_mode(render):
    plan_doc = render(mode="jupyterhub", auth=GITHUB, secrets={"authClientSecret": "s"})
    assert not resources_of(plan_doc, "kubernetes:networking.k8s.io/v1:NetworkPolicy")


def test_limits_quotas_and_culling_defaults(render):
    values = release(render(), "binderhub")["values"]
    binder = values["config"]["BinderHub"]
    assert binder["per_repo_quota"] == 100 and "pod_quota" not in binder  # a deprecated alias
    assert values["config"]["LaunchQuota"] == {"total_quota": 200}
    assert values["config"]["KubernetesBuildExecutor"]["resources"]["limits"]["memory"] == "2G"
    # limits.buildMemory 4G means 4 GiB (JupyterHub's reading); Kubernetes gets it as 4Gi, not 4G (4*10^9 bytes).
    assert values["dind"]["resources"]["limits"]["memory"] == "4Gi"
    single = values["jupyterhub"]["singleuser"]
    assert single["memory"]["limit"] == "2G" and single["cpu"]["limit"] == 1
    cull = values["jupyterhub"]["cull"]
    assert cull["timeout"] == 600 and cull["maxAge"] == 6 * 3600
    hub_cull = release(render(mode="jupyterhub", auth=GITHUB, secrets={"authClientSecret": "s"}),
                       "jupyterhub")["values"]["cull"]
    assert hub_cull["timeout"] == 3600 and hub_cull["maxAge"] == 0


def test_repository_allow_and_ban_lists(render):
    values = release(render(security={"bannedRepos": ["^evil/.*"], "allowedRepos": ["^testuni/.*"]}),
                     "binderhub")["values"]
    assert values["config"]["RepoProvider"] == {"banned_specs": ["^evil/.*"], "allowed_specs": ["^testuni/.*"]}


def test_hub_database_disk_is_retained_and_protected(render):
    plan_doc = render()
    storage = named(plan_doc, "hub-db-storage")
    assert storage["protect"] is True
    assert storage["inputs"]["reclaimPolicy"] == "Retain"
    assert storage["inputs"]["provisioner"] == "disk.csi.azure.com"
    db = release(plan_doc, "binderhub")["values"]["jupyterhub"]["hub"]["db"]
    assert db["type"] == "sqlite-pvc" and db["pvc"]["storageClassName"] == storage["inputs"]["metadata"]["name"]


def test_cluster_registry_and_ip_are_protected(render):
    plan_doc = render()
    for name in ("cluster-aks", "registry-acr", "ingress-ip"):
        assert named(plan_doc, name)["protect"] is True


def test_default_cluster_keeps_local_access(render):
    inputs = one(render(), "azure-native:containerservice:ManagedCluster")["inputs"]
    assert "aadProfile" not in inputs and "disableLocalAccounts" not in inputs
    assert inputs["autoUpgradeProfile"]["upgradeChannel"] == "patch"


@pytest.mark.parametrize("disable_local", [False, True])
def test_entra_rbac_cluster(render, disable_local):
    plan_doc = render(cluster={**ENTRA_ADMINS, "disableLocalAccounts": disable_local,
                               "authorizedIpRanges": ["203.0.113.0/24"],
                               "adminPrincipals": [{"objectId": CI_DEPLOYER, "type": "ServicePrincipal"}]})
    inputs = one(plan_doc, "azure-native:containerservice:ManagedCluster")["inputs"]
    assert inputs["aadProfile"] == {"managed": True, "enableAzureRBAC": True,
                                    "adminGroupObjectIDs": ENTRA_ADMINS["entraAdminGroupIds"]}
    assert inputs["disableLocalAccounts"] is disable_local
    assert inputs["apiServerAccessProfile"]["authorizedIPRanges"] == ["203.0.113.0/24"]
    admin = named(plan_doc, f"cluster-admin-{CI_DEPLOYER}")["inputs"]
    assert admin["roleDefinitionId"].endswith("/b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b")
    assert admin["scope"].endswith("/managedClusters/aks-testuni")
    assert admin["principalId"] == CI_DEPLOYER and admin["principalType"] == "ServicePrincipal"
    assert plan_doc["outputs"]["kubeconfig"] == SECRET
    assert one(plan_doc, "pulumi:providers:kubernetes")["inputs"]["kubeconfig"] == SECRET


def test_kubeconfig_for_azure_cli_is_non_interactive():
    kubeconfig = {"users": [{"name": "u", "user": {"exec": {
        "apiVersion": "client.authentication.k8s.io/v1beta1", "command": "kubelogin",
        "args": ["get-token", "--login", "devicecode", "--server-id", "x"]}}}]}
    converted = cluster_spec.kubeconfig_for_azure_cli(kubeconfig)
    exec_ = converted["users"][0]["user"]["exec"]
    assert exec_["args"] == ["get-token", "--login", "azurecli", "--server-id", cluster_spec.AKS_ENTRA_SERVER_ID]
    assert exec_["apiVersion"] == "client.authentication.k8s.io/v1beta1"
    assert kubeconfig["users"][0]["user"]["exec"]["args"][2] == "devicecode"  # input untouched


def test_outputs_hold_no_plain_secret(render):
    for keys in ({}, {"auth": GITHUB, "secrets": {"authClientSecret": "oauth-plaintext"}},
                 {"cluster": {**ENTRA_ADMINS, "disableLocalAccounts": True}}):
        plan_doc = render(**keys)
        text = json.dumps(plan_doc["outputs"])
        assert "mocksecret-" not in text and "oauth-plaintext" not in json.dumps(plan_doc)
