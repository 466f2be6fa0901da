"""mode: tljh — the VM, its network rules, Key Vault secret handling and cloud-init."""

from __future__ import annotations

import base64
import json

import pytest
import yaml

from components import tljh_spec
from components.config import ConfigError
from components.config_load import parse_config
from tests.helpers import SECRET, named, one, raw_config, resources_of

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGm0b2NrS2V5Rm9yVGVzdHNPbmx5 rse@testuni"
OAUTH = "plaintext-oauth-secret-must-not-leak"
TLJH = {
    "mode": "tljh",
    "auth": {"type": "github", "clientId": "gh-client", "allowedOrganizations": ["testuni"], "admins": ["alice"]},
    "vm": {"sshPublicKey": KEY, "sshAllowedCidrs": ["203.0.113.0/24"], "diskSizeGb": 256},
    "secrets": {"authClientSecret": OAUTH},
}


def cfg(**overrides):
    keys = {**TLJH, **overrides}
    secrets = keys.pop("secrets")
    return parse_config(*raw_config(secrets, **keys))


def test_cloud_init_parses_and_installs_pinned_tljh():
    text = tljh_spec.cloud_init(cfg(), "kv-testuni-abc123")
    assert text.startswith("#cloud-config\n")
    doc = yaml.safe_load(text)
    commands = [" ".join(c) for c in doc["runcmd"]]
    assert any(tljh_spec.BOOTSTRAP_URL in c for c in commands)
    assert "/2.0.0/bootstrap/bootstrap.py" in tljh_spec.BOOTSTRAP_URL
    assert any("--version 2.0.0 --admin alice" in c for c in commands)
    # /home on the data disk, formatted only when empty.
    assert doc["fs_setup"][0]["overwrite"] is False
    assert doc["disk_setup"][tljh_spec.DATA_DISK_DEVICE]["overwrite"] is False
    assert doc["mounts"][0][1] == "/home"


def test_cloud_init_configures_login_limits_culling_and_https():
    doc = yaml.safe_load(tljh_spec.cloud_init(cfg(limits={"memory": "3G", "cpu": 2, "cullIdleMinutes": 30}),
                                              "kv-testuni-abc123"))
    script = next(f["content"] for f in doc["write_files"] if f["path"].endswith("configure-tljh.sh"))
    for line in ("tljh-config set auth.type github",
                 "tljh-config set auth.GitHubOAuthenticator.client_id gh-client",
                 "tljh-config add-item auth.GitHubOAuthenticator.allowed_organizations testuni",
                 "tljh-config add-item users.admin alice",
                 "tljh-config set limits.memory 3G",
                 "tljh-config set limits.cpu 2.0",
                 "tljh-config set services.cull.timeout 1800",
                 "tljh-config set https.enabled true",
                 "tljh-config set https.letsencrypt.email rse@testuni.example",
                 "tljh-config add-item https.letsencrypt.domains testuni-hub.westeurope.cloudapp.azure.com",
                 "tljh-config reload proxy"):
        assert line in script, line
    assert "https://kv-testuni-abc123.vault.azure.net/secrets/oauth-client-secret" in script
    assert "set -x" not in script


def test_entra_login_on_tljh():
    entra = {"type": "entra", "clientId": "c", "tenantId": "12345678-1234-1234-1234-123456789012",
             "admins": ["lecturer@uni.example"]}
    script = tljh_spec.configure_script(cfg(auth=entra), "kv")
    assert "tljh-config set auth.type azuread" in script
    assert "auth.AzureAdOAuthenticator.tenant_id 12345678-1234-1234-1234-123456789012" in script
    assert "auth.AzureAdOAuthenticator.allow_all true" in script


def test_cloud_init_never_holds_a_secret_and_guards_metadata():
    text = tljh_spec.cloud_init(cfg(), "kv-testuni-abc123")
    assert OAUTH not in text and "client_secret \"$secret\"" in text
    doc = yaml.safe_load(text)
    guard = next(f["content"] for f in doc["write_files"] if f["path"].endswith("metadata-guard.sh"))
    assert "-d 169.254.169.254 -m owner ! --uid-owner 0 -j DROP" in guard
    assert doc["runcmd"][:2] == [["systemctl", "daemon-reload"],
                                 ["systemctl", "enable", "--now", "metadata-guard.service"]]


def test_network_rules():
    rules = {r["name"]: r for r in tljh_spec.security_rules(cfg())}
    assert rules["allow-http"]["destination_port_range"] == "80"
    assert rules["allow-https"]["destination_port_range"] == "443"
    assert rules["allow-ssh"]["source_address_prefixes"] == ["203.0.113.0/24"]
    closed = {r["name"] for r in tljh_spec.security_rules(cfg(vm={"sshPublicKey": KEY}))}
    assert closed == {"allow-http", "allow-https"}


def test_tljh_stack_under_mocks(render):
    plan = render(**TLJH)
    assert not resources_of(plan, "azure-native:containerservice:ManagedCluster")
    assert not plan["helmReleases"]
    vm = one(plan, "azure-native:compute:VirtualMachine")
    inputs = vm["inputs"]
    assert inputs["osProfile"]["linuxConfiguration"]["disablePasswordAuthentication"] is True
    assert inputs["osProfile"]["linuxConfiguration"]["ssh"]["publicKeys"][0]["keyData"] == KEY
    assert "adminPassword" not in inputs["osProfile"]
    assert inputs["identity"]["type"] == "SystemAssigned"
    (data_disk,) = inputs["storageProfile"]["dataDisks"]
    assert data_disk["createOption"] == "Attach" and data_disk["deleteOption"] == "Detach"
    home = named(plan, "tljh-home")
    assert home["protect"] is True and home["inputs"]["diskSizeGB"] == 256
    custom = base64.b64decode(inputs["osProfile"]["customData"]).decode()
    assert custom.startswith("#cloud-config") and OAUTH not in custom
    secret = named(plan, "tljh-oauth-secret")["inputs"]
    assert secret["properties"]["value"] == SECRET
    reader = named(plan, "tljh-vault-reader")["inputs"]
    assert reader["roleDefinitionId"].endswith("/4633458b-17de-408a-b874-0445c86b69e6")
    assert reader["principalId"] == "77777777-7777-7777-7777-777777777777"
    nsg = one(plan, "azure-native:network:NetworkSecurityGroup")["inputs"]
    assert {r["name"] for r in nsg["securityRules"]} == {"allow-http", "allow-https", "allow-ssh"}
    assert named(plan, "tljh-ip")["inputs"]["dnsSettings"]["domainNameLabel"] == "testuni-hub"
    assert plan["outputs"]["url"] == "https://testuni-hub.westeurope.cloudapp.azure.com/"
    assert OAUTH not in json.dumps(plan) and "mocksecret-" not in json.dumps(plan)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"vm": {}}, "binderhub-azure:vm.sshPublicKey is required when mode is tljh"),
        ({"vm": {"sshPublicKey": "-----BEGIN OPENSSH PRIVATE KEY-----"}},
         "binderhub-azure:vm.sshPublicKey must be an OpenSSH public key"),
        ({"vm": {"sshPublicKey": KEY, "adminUsername": "root"}}, "binderhub-azure:vm.adminUsername must be"),
        ({"vm": {"sshPublicKey": KEY, "size": "big"}}, "binderhub-azure:vm.size must be an Azure VM size"),
        ({"vm": {"sshPublicKey": KEY, "sshAllowedCidrs": ["10.0.0.1/8"]}},
         "binderhub-azure:vm.sshAllowedCidrs item 0 must be an IPv4 CIDR"),
        ({"vm": {"sshPublicKey": KEY, "diskSizeGb": 4}}, "binderhub-azure:vm.diskSizeGb must be >= 16"),
        ({"auth": {"type": "none"}}, "binderhub-azure:auth.type must be 'github' or 'entra' when mode is tljh"),
        ({"auth": {"type": "github", "clientId": "c", "allowAll": True}},
         "binderhub-azure:auth.admins must name at least one JupyterHub admin"),
        ({"cluster": {"userPool": {"maxCount": 3}}}, "binderhub-azure:cluster is not used when mode is tljh"),
        ({"mode": "binderhub", "vm": {"sshPublicKey": KEY}, "auth": {"type": "none"}, "secrets": {}},
         "binderhub-azure:vm is only used when mode is tljh"),
    ],
)
def test_bad_tljh_config(overrides, expected):
    with pytest.raises(ConfigError) as info:
        cfg(**overrides)
    assert any(p.startswith(expected) for p in info.value.problems), info.value.problems
