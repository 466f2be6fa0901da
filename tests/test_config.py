"""The stack config contract: defaults, derived values, and one clear line per mistake."""

from __future__ import annotations

import json

import pytest

from components.config import ConfigError
from components.config_load import parse_config
from tests.helpers import parsed, raw_config, refusals
from tools.config_reference import reference_markdown

parse = parsed


problems = refusals


def test_minimal_stack_gets_low_idle_cost_defaults():
    cfg = parse()
    assert cfg.mode == "binderhub"
    assert cfg.cluster.system_pool.node_count == 1
    assert cfg.cluster.user_pool.min_count == 0
    assert cfg.cluster.user_pool.max_count >= 1
    assert cfg.registry.type == "acr" and cfg.registry.sku == "Basic"
    assert cfg.auth.type == "none"
    assert cfg.https is True


def test_default_host_uses_azure_dns_label():
    assert parse().host == "testuni-binder.westeurope.cloudapp.azure.com"
    assert parse(dnsLabel="ourbinder").host == "ourbinder.westeurope.cloudapp.azure.com"
    assert parse(domain="binder.testuni.example").host == "binder.testuni.example"


def test_mode_dependent_defaults():
    binder = parse()
    hub = parse(mode="jupyterhub", auth={"type": "github", "clientId": "x", "allowedUsers": ["a"]},
                secrets={"authClientSecret": "s"})
    assert (binder.cull_idle_minutes, binder.max_age_hours) == (10, 6)
    assert (hub.cull_idle_minutes, hub.max_age_hours) == (60, 0)
    assert hub.host == "testuni-hub.westeurope.cloudapp.azure.com"


def test_structured_values_and_strings_from_the_cli_are_typed():
    cfg = parse(https="false", cluster={"userPool": {"minCount": "1", "maxCount": 4, "spot": True}},
                contactEmail=None)
    assert cfg.https is False
    assert cfg.cluster.user_pool.min_count == 1 and cfg.cluster.user_pool.spot is True


def test_cidrs_are_normalised():
    cfg = parse(cluster={"authorizedIpRanges": ["203.0.113.0/24", "198.51.100.7"]})
    assert cfg.cluster.authorized_ip_ranges == ["203.0.113.0/24", "198.51.100.7/32"]


BAD_CONFIGS = [
        ({"azure-native:location": None}, "azure-native:location is required"),
        ({"azure-native:location": "West Europe"}, "azure-native:location must be an Azure region short name"),
        ({"institution": None}, "binderhub-azure:institution is required"),
        ({"institution": "My_Uni"}, "binderhub-azure:institution must be 3-16 characters"),
        ({"institution": "a-very-long-institution-name"}, "binderhub-azure:institution must be 3-16"),
        ({"contactEmail": None}, "binderhub-azure:contactEmail is required when https is on"),
        ({"contactEmail": "not-an-email"}, "binderhub-azure:contactEmail must be an email address"),
        ({"mode": "kubernetes"},
         "binderhub-azure:mode must be one of 'binderhub', 'jupyterhub', 'tljh' or 'federation'"),
        ({"domain": "https://binder.uni.example/"}, "binderhub-azure:domain must be a bare host name"),
        ({"domain": "binder_uni"}, "binderhub-azure:domain must be a lowercase DNS host name"),
        ({"dnsLabel": "-bad-"}, "binderhub-azure:dnsLabel must be 3-63 characters"),
        ({"dnsLabel": "x" * 64}, "binderhub-azure:dnsLabel must be 3-63 characters"),
        ({"https": "maybe"}, "binderhub-azure:https must be true or false"),
        ({"cluster": {"userPool": {"minCount": 2, "maxCount": 1}}},
         "binderhub-azure:cluster.userPool.maxCount must be >= minCount (got 1 < 2)"),
        ({"cluster": {"userPool": {"maxCount": 0}}}, "binderhub-azure:cluster.userPool.maxCount must be >= 1"),
        ({"cluster": {"userPool": {"minCount": -1}}}, "binderhub-azure:cluster.userPool.minCount must be >= 0"),
        ({"cluster": {"userPool": {"maxCount": "lots"}}},
         "binderhub-azure:cluster.userPool.maxCount must be a whole number"),
        ({"cluster": {"systemPool": {"vmSize": "D4s_v5"}}},
         "binderhub-azure:cluster.systemPool.vmSize must be an Azure VM size name"),
        ({"cluster": {"userPool": {"vmSize": "standard_d4s_v5"}}},
         "binderhub-azure:cluster.userPool.vmSize must be an Azure VM size name"),
        ({"cluster": {"systemPool": {"nodeCount": 0}}}, "binderhub-azure:cluster.systemPool.nodeCount must be >= 1"),
        ({"cluster": {"kubernetesVersion": "1.34.2"}},
         "binderhub-azure:cluster.kubernetesVersion must be a Kubernetes minor version"),
        ({"cluster": {"authorizedIpRanges": ["10.0.0.1/8"]}},
         "binderhub-azure:cluster.authorizedIpRanges item 0 must be an IPv4 CIDR"),
        ({"cluster": {"authorizedIpRanges": "203.0.113.0/24"}},
         "binderhub-azure:cluster.authorizedIpRanges must be a list"),
        ({"cluster": {"userPool": {"vmsize": "Standard_D4s_v5"}}},
         "binderhub-azure:cluster.userPool.vmsize is not a known key; did you mean 'vmSize'?"),
        ({"cluster": "big"}, "binderhub-azure:cluster must be an object"),
        ({"cluster": {"systemPool": {"spot": True}}},
         "binderhub-azure:cluster.systemPool.spot is not allowed: AKS system pools cannot run on Spot VMs"),
        ({"clusterr": {}}, "binderhub-azure:clusterr is not a known key; did you mean 'cluster'?"),
        ({"registry": {"type": "ecr"}}, "binderhub-azure:registry.type must be one of 'acr' or 'dockerhub'"),
        ({"registry": {"sku": "Free"}}, "binderhub-azure:registry.sku must be one of"),
        ({"registry": {"type": "dockerhub"}}, "binderhub-azure:registry.username is required"),
        ({"registry": {"type": "dockerhub", "username": "u"}}, "binderhub-azure:dockerHubToken is required"),
        ({"registry": {"password": "x"}}, "binderhub-azure:registry.password is not a known key: registry"),
        ({"auth": {"type": "github", "clientId": "x", "allowedUsers": ["a"]}},
         "binderhub-azure:authClientSecret is required when auth.type is 'github'"),
        ({"auth": {"type": "github", "clientSecret": "x"}},
         "binderhub-azure:auth.clientSecret is not a known key: the OAuth client secret goes in"),
        ({"auth": {"type": "entra", "clientId": "x"}}, "binderhub-azure:auth.tenantId is required"),
        ({"auth": {"type": "entra", "clientId": "x", "tenantId": "contoso"}},
         "binderhub-azure:auth.tenantId must be a GUID"),
        ({"auth": {"type": "saml"}}, "binderhub-azure:auth.type must be one of 'none', 'github' or 'entra'"),
        ({"mode": "jupyterhub"}, "binderhub-azure:auth.type must be 'github' or 'entra' when mode is jupyterhub"),
        ({"limits": {"memory": "2GB"}}, "binderhub-azure:limits.memory must be a size such as '2G'"),
        ({"limits": {"cpu": 0}}, "binderhub-azure:limits.cpu must be > 0"),
        ({"limits": {"cullIdleMinutes": 0}}, "binderhub-azure:limits.cullIdleMinutes must be >= 1"),
        ({"helmValues": {"binder": {}}}, "binderhub-azure:helmValues.binder is not a known key; did you mean"),
        ({"cluster": {"disableLocalAccounts": True}},
         "binderhub-azure:cluster.disableLocalAccounts needs cluster.entraAdminGroupIds"),
        ({"cluster": {"entraAdminGroupIds": ["admins"]}},
         "binderhub-azure:cluster.entraAdminGroupIds item 0 must be a group object ID"),
        ({"security": {"buildEgressPorts": [443, 70000]}},
         "binderhub-azure:security.buildEgressPorts item 1 must be a TCP port"),
        ({"security": {"bannedRepos": ["(unclosed"]}},
         "binderhub-azure:security.bannedRepos item 0 must be a regular expression"),
        ({"limits": {"buildMemory": "lots"}}, "binderhub-azure:limits.buildMemory must be a size"),
        ({"domain": "binder.uni.example", "dnsLabel": "mybinder"}, "binderhub-azure:dnsLabel is only used without"),
        ({"auth": {"type": "github", "clientId": "x"}, "secrets": {"authClientSecret": "s"}},
         "binderhub-azure:auth.allowedUsers or auth.allowedOrganizations must list who may log in"),
        ({"registry": {"type": "dockerhub", "username": "u", "imagePrefix": "Not/Valid"},
          "secrets": {"dockerHubToken": "t"}}, "binderhub-azure:registry.imagePrefix must look like"),
        ({"binderhub-azuer:auth": {"type": "github"}}, "binderhub-azuer:auth is in an unknown namespace"),
        ({"location": "northeurope"}, "binderhub-azure:location is not a key of this stack"),
        ({"azure-native:location": "westeurop"}, "azure-native:location is not an Azure region: did you mean"),
        ({"cluster": {"kubernetesVersion": "1.27"}}, "binderhub-azure:cluster.kubernetesVersion is 1.27, older"),
        ({"limits": {"memory": "0G"}}, "binderhub-azure:limits.memory must be from 128M to 32T"),
        ({"limits": {"maxAgeHours": 0.0001}}, "binderhub-azure:limits.maxAgeHours must be 0 (never) or at least"),
        ({"defaultUrl": "//evil.example"}, "binderhub-azure:defaultUrl must be a path on the server"),
        ({"institution": "myuni\n"}, "binderhub-azure:institution must be one line of text"),
        ({"helmValues": {"jupyterhub": {"singleuser": {"cloudMetadata": {"blockWithIptables": False}}}}},
         "binderhub-azure:helmValues.jupyterhub.singleuser.cloudMetadata.blockWithIptables is refused"),
        ({"helmValues": {"binderhub": {"imageBuilderType": "host"}}},
         "binderhub-azure:helmValues.binderhub.imageBuilderType is refused"),
]


def _case_id(keys: dict, expected: str) -> str:
    """A readable test ID: the key the message names, then the config given."""
    key = expected.split(" ")[0].removeprefix("binderhub-azure:")
    return f"{key}={json.dumps(keys, sort_keys=True)[:40]}"


BAD_CONFIG_IDS = [_case_id(keys, expected) for keys, expected in BAD_CONFIGS]


@pytest.mark.parametrize(("keys", "expected"), BAD_CONFIGS, ids=BAD_CONFIG_IDS)
def test_bad_config_names_the_key(keys, expected):
    keys = dict(keys)
    secrets = keys.pop("secrets", None)
    found = problems(secrets, **keys)
    assert any(line.startswith(expected) for line in found), found
    assert all("\n" not in line for line in found)


def test_there_are_many_distinct_bad_input_cases():
    assert len({expected for _, expected in BAD_CONFIGS}) >= 25


def test_plain_text_secret_is_refused():
    raw, _ = raw_config(registry={"type": "dockerhub", "username": "u"})
    raw["binderhub-azure:dockerHubToken"] = "dckr_pat_plaintext"
    with pytest.raises(ConfigError) as info:
        parse_config(raw, set())
    assert any("binderhub-azure:dockerHubToken must be stored as a secret" in p for p in info.value.problems)


def test_every_problem_is_reported_at_once():
    found = problems(institution="X", mode="nope", limits={"memory": "lots"})
    assert len(found) >= 3


def test_provider_and_pulumi_namespaces_are_accepted():
    cfg = parse(**{"azure-native:subscriptionId": "00000000-0000-0000-0000-000000000000", "pulumi:tags": '{"a": "b"}'})
    assert cfg == parse()


def test_reference_documents_every_key():
    table = reference_markdown()
    for key in ("azure-native:location", "institution", "contactEmail", "mode", "domain", "dnsLabel", "https",
                "cluster.kubernetesVersion", "cluster.systemPool.vmSize", "cluster.systemPool.nodeCount",
                "cluster.userPool.vmSize", "cluster.userPool.minCount", "cluster.userPool.maxCount",
                "cluster.userPool.spot", "cluster.authorizedIpRanges", "registry.type", "registry.sku",
                "registry.username", "registry.imagePrefix", "dockerHubToken", "auth.type", "auth.clientId",
                "auth.tenantId", "auth.allowedUsers", "auth.allowedOrganizations", "auth.admins",
                "authClientSecret", "limits.memory", "limits.cpu", "limits.cullIdleMinutes",
                "limits.maxAgeHours", "limits.perRepoQuota", "helmValues.jupyterhub", "helmValues.binderhub"):
        assert f"| `{key}` |" in table, key


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ({"helmValues": {"jupyterhub": {"hub": {"baseURL": "/x/"}}, "uncheckedPaths": ["jupyterhub.hub.baseURL"]}},
         "binderhub-azure:helmValues.jupyterhub.hub breaks the binderhub"),
        ({"helmValues": {"binderhub": {"replicas": "two"}, "uncheckedPaths": ["binderhub.replicas"]}},
         "binderhub-azure:helmValues.binderhub.replicas breaks the binderhub"),
        ({"helmValues": {"binderhub": {"imageBuilderType": "kaniko"}}},
         "binderhub-azure:helmValues.binderhub.imageBuilderType is refused"),
        ({"mode": "jupyterhub", "auth": {"type": "github", "clientId": "c", "allowAll": True},
          "secrets": {"authClientSecret": "s"}, "helmValues": {"jupyterhub": {"singleuser": {"startTimeout": "long"}}}},
         "binderhub-azure:helmValues.jupyterhub.singleuser.startTimeout breaks the jupyterhub 4.4.0 chart schema"),
    ],
)
def test_helm_values_that_break_the_chart_schema(keys, expected):
    keys = dict(keys)  # the parameter is shared between runs: never change it
    secrets = keys.pop("secrets", None)
    found = problems(secrets, **keys)
    assert any(line.startswith(expected) for line in found), found
