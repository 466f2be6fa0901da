"""Every Azure name the stack generates is within Azure's rules, and a name Azure would refuse
fails config validation with the key to change."""

from __future__ import annotations

import re

import pytest

from components import azure_names, naming
from components.config import ConfigError
from components.config_load import parse_config
from tests.helpers import raw_config, resources_of
from tests.test_tljh import TLJH

GITHUB = {"type": "github", "clientId": "gh-client", "allowedOrganizations": ["testuni"], "admins": ["alice"]}
# The longest institutions the config allows (16), with hyphens where they hurt most: one
# is dropped from the registry name, one would end the Key Vault prefix when cut at 14.
LONGEST_INSTITUTIONS = ["abcdefghijklmnop", "abcdefghijklm-op", "a1-b2-c3-d4-e5-f"]
LONGEST_DATASET = {
    "name": "d" + "a" * 30 + "1",  # 32, the most a dataset name may have
    "storageAccount": "s" * 24,
    "container": "c" * 63,
    "mountPath": "/home/jovyan/data/census",
    "create": True,
}
LONGEST_SHARE = {**LONGEST_DATASET, "name": "e" + "b" * 31, "storageAccount": "t" * 24, "container": None,
                 "share": "s" + "h" * 62, "mountPath": "/home/jovyan/data/share"}
MODES = {
    "binderhub": {"datasets": [LONGEST_DATASET, LONGEST_SHARE], "budget": {"monthlyAmount": 500,
                                                                          "contactEmails": ["a@b.example"]}},
    "jupyterhub": {"auth": GITHUB, "secrets": {"authClientSecret": "s"},
                   "cluster": {"gpuPool": {"vmSize": "Standard_NC4as_T4_v3"}},
                   "datasets": [LONGEST_DATASET],
                   "profiles": [{"displayName": "P" * 200, "description": "d" * 500, "image": "quay.io/x/y:1",
                                 "gpu": True}]},
    "tljh": {**TLJH, "budget": {"monthlyAmount": 100, "contactEmails": ["a@b.example"]}},
}


def _config(mode: str, institution: str, **extra):
    keys = {**MODES[mode], "mode": mode, "institution": institution, **extra}
    secrets = keys.pop("secrets", None)
    return parse_config(*raw_config(secrets, **keys))


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("institution", LONGEST_INSTITUTIONS)
def test_longest_names_pass_in_every_mode(mode, institution):
    cfg = _config(mode, institution)  # raises ConfigError if any name broke a rule
    names = azure_names.generated_names(cfg)
    for rule, name, _key in names:
        assert azure_names.violation(rule, name) is None, (rule.resource, name)
    kinds = {rule for rule, _, _ in names}
    if mode == "tljh":
        assert {azure_names.KEY_VAULT, azure_names.VIRTUAL_MACHINE, azure_names.COMPUTER_NAME,
                azure_names.MANAGED_DISK, azure_names.BUDGET} <= kinds
    else:
        assert {azure_names.AKS_CLUSTER, azure_names.AGENT_POOL, azure_names.BLOB_CONTAINER,
                azure_names.STORAGE_ACCOUNT} <= kinds
    if mode == "binderhub":
        assert {azure_names.CONTAINER_REGISTRY, azure_names.REGISTRY_TASK} <= kinds


def test_key_vault_name_fits_24_for_the_longest_institution():
    """It used to be kv-<institution>-<6>: 26 characters for a 16-character institution."""
    cfg = _config("tljh", "abcdefghijklmnop")
    name = naming.key_vault_prefix(cfg) + "abc123"
    assert name == "kv-abcdefghijklmn-abc123" and len(name) == 24
    assert azure_names.violation(azure_names.KEY_VAULT, "kv-abcdefghijklmnop-abc123") is not None
    # A prefix cut before a hyphen never leaves '--'.
    assert naming.key_vault_prefix(_config("tljh", "abcdefghijklm-op")) == "kv-abcdefghijklm-"
    # Short institutions keep the name they had.
    assert naming.key_vault_prefix(_config("tljh", "testuni")) == "kv-testuni-"


def test_rendered_tljh_plan_vault_name_within_rules(render):
    keys = {**TLJH, "institution": "abcdefghijklmnop"}
    plan = render(secrets=keys.pop("secrets"), **keys)
    vault = resources_of(plan, "azure-native:keyvault:Vault")[0]["inputs"]["vaultName"]
    assert azure_names.violation(azure_names.KEY_VAULT, vault) is None, vault


@pytest.mark.parametrize(("rule", "good", "bad"), [
    (azure_names.KEY_VAULT, "kv-a-b", ["kv--ab", "1kv", "kv-", "k" * 25]),
    (azure_names.AGENT_POOL, "build", ["Build", "1pool", "buildpool1234"]),
    (azure_names.CONTAINER_REGISTRY, "myunibinderabc123", ["abcd", "my-registry"]),
    (azure_names.REGISTRY_TASK, "purge-binder-images", ["purg", "purge binder", "p" * 51]),
    (azure_names.STORAGE_ACCOUNT, "myunidatasets", ["My", "my-data", "a" * 25]),
    (azure_names.BLOB_CONTAINER, "census-2020", ["Census", "ce--nsus", "-census", "ab"]),
    (azure_names.FILE_SHARE, "census", ["census-", "ce--ns", "Census"]),
    (azure_names.DNS_LABEL, "myuni-binder", ["1myuni", "myuni-", "ab"]),
    (azure_names.AKS_CLUSTER, "aks-myuni", ["-aks", "aks.myuni", "a" * 64]),
    (azure_names.RESOURCE_GROUP, "rg-myuni-binderhub", ["rg.", "r" * 91, "rg/x"]),
    (azure_names.VIRTUAL_MACHINE, "vm-myuni-tljh", ["vm-", "vm_x", "v" * 65]),
    (azure_names.MANAGED_DISK, "disk-myuni-home", ["disk.home", "disk-"]),
    (azure_names.BUDGET, "myuni-tljh-monthly", ["my budget", "b" * 64]),
])
def test_rules(rule, good, bad):
    assert azure_names.violation(rule, good) is None
    for name in bad:
        assert azure_names.violation(rule, name) is not None, name


def test_a_name_azure_would_refuse_fails_validation_with_its_key():
    with pytest.raises(ConfigError) as err:
        _config("binderhub", "testuni", datasets=[{**LONGEST_DATASET, "container": "Census_Data"}])
    lines = [line for line in err.value.problems if "blob container" in line]
    assert len(lines) == 1
    assert re.fullmatch(r"binderhub-azure:datasets\[0\]\.container gives the blob container .* name "
                        r"'Census_Data', which must be lowercase letters.*", lines[0])


def test_every_rule_names_its_scope_and_a_sane_length():
    for rule in azure_names.ALL_RULES:
        assert rule.scope and 1 <= rule.min_length <= rule.max_length <= 90
