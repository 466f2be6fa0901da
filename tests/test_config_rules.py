"""Config rules that close whole classes of mistakes: namespaces, secrets in the wrong place,
values Azure would refuse, and newlines in any string key (table-driven and property-based)."""

from __future__ import annotations

import json
import re
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from components import aks_versions, config, config_fields
from components.config import AZURE_REGIONS, ConfigError, StackConfig
from components.config_load import parse_config
from tests.helpers import TEST_SSH_KEY, raw_config, refusals

problems = refusals


def has(found: list[str], start: str) -> bool:
    return any(line.startswith(start) for line in found)


GITHUB = {"type": "github", "clientId": "c", "allowedUsers": ["alice"]}


# ---------------------------------------------------------------- namespaces


@pytest.mark.parametrize(("key", "expected"), [
    ("binderhub-azuer:auth", "binderhub-azuer:auth is in an unknown namespace 'binderhub-azuer' and would be "
                             "ignored; did you mean binderhub-azure:auth?"),
    ("binderhub_azure:institution", "did you mean binderhub-azure:institution?"),
    ("binderhubazure:limits", "did you mean binderhub-azure:limits?"),
    ("azure-natve:location", "did you mean azure-native:location?"),
    ("Binderhub-Azure:mode", "did you mean binderhub-azure:mode?"),
    ("azure-native:locaton", "azure-native:locaton is not a setting of the azure-native provider and would be "
                             "ignored; did you mean azure-native:location?"),
    ("azure-native:subscriptonId", "did you mean azure-native:subscriptionId?"),
    ("kubernetes:context", "kubernetes:context is not used: the stack's Kubernetes provider"),
    ("random:seed", "random:seed is not used"),
    ("azure:location", "azure:location is not used: this stack uses the azure-native provider"),
    ("myproject:thing", "myproject:thing is in namespace 'myproject', which this stack does not read"),
])
def test_keys_outside_the_stacks_namespaces_are_refused(key, expected):
    found = problems(**{key: json.dumps({"type": "github"})})
    assert any(expected in line for line in found), found


def test_a_typo_in_the_namespace_cannot_turn_an_org_binder_public():
    """The auth block in a near-miss namespace would leave auth.type at 'none' (anonymous)."""
    found = problems(**{"binderhub-azuer:auth": json.dumps({**GITHUB, "allowedOrganizations": ["uni"]})})
    assert has(found, "binderhub-azuer:auth is in an unknown namespace")


@pytest.mark.parametrize("key", ["azure-native:subscriptionId", "azure-native:tenantId", "pulumi:tags",
                                 "pulumi:disable-default-providers"])
def test_provider_and_pulumi_keys_are_accepted(key):
    raw, secret = raw_config(**{key: "00000000-0000-0000-0000-000000000000"})
    parse_config(raw, secret)


def test_the_region_is_set_one_way():
    found = problems(location="northeurope")
    assert found == ["binderhub-azure:location is not a key of this stack: the region is set once, as "
                     "azure-native:location (pulumi config rm location && pulumi config set "
                     "azure-native:location <region>)"]


@pytest.mark.parametrize("key", ["azure-native:clientSecret", "azure-native:oidcToken"])
def test_provider_credentials_only_as_secrets(key):
    found = problems(**{key: "plaintext-credential"})
    assert has(found, f"{key} must be stored as a secret") and not any("plaintext" in p for p in found)


# ---------------------------------------------------------------- secrets


@pytest.mark.parametrize(("key", "value"), [
    ("institution", "myuni"), ("contactEmail", "a@b.example"), ("mode", "binderhub"),
    ("auth", json.dumps(GITHUB)), ("limits", json.dumps({"memory": "2G"})),
])
@pytest.mark.parametrize("plaintext", [True, False], ids=["pulumi-up", "offline"])
def test_secure_on_a_key_that_is_not_a_secret_is_refused(key, value, plaintext):
    """Offline the value is the placeholder; under `pulumi up` it is the decrypted text. Both
    are refused the same way, and the message never shows "[secret]" or the value."""
    raw, _ = raw_config()
    full = f"binderhub-azure:{key}"
    raw[full] = value if plaintext else "[secret]"
    with pytest.raises(ConfigError) as info:
        parse_config(raw, {full})
    found = info.value.problems
    expected = (f"{full} is stored as a secret but is not one: pulumi config rm {key} && "
                f"pulumi config set {key} <value> (without --secret)")
    assert expected in found
    assert not any("[secret]" in line for line in found)
    assert not any(f"{full} is required" in line for line in found)  # one line, not two


def test_secure_region_is_refused_without_a_second_line():
    raw, _ = raw_config()
    with pytest.raises(ConfigError) as info:
        parse_config(raw, {"azure-native:location"})
    assert len(info.value.problems) == 1
    assert info.value.problems[0].startswith("azure-native:location is stored as a secret but is not one")


@pytest.mark.parametrize("name", ["authClientSecret", "dockerHubToken"])
def test_a_plain_text_secret_is_one_line_not_also_missing(name):
    keys: dict[str, Any] = {"auth": GITHUB} if name == "authClientSecret" else {
        "registry": {"type": "dockerhub", "username": "u"}}
    raw, _ = raw_config(**keys)
    raw[f"binderhub-azure:{name}"] = "plain-value-123"
    with pytest.raises(ConfigError) as info:
        parse_config(raw, set())
    assert info.value.problems == [f"binderhub-azure:{name} must be stored as a secret: pulumi config rm {name} "
                                   f"&& pulumi config set --secret {name} (it asks for the value)"]


def test_an_empty_secret_is_not_a_set_secret():
    found = problems({"authClientSecret": ""}, auth=GITHUB)
    assert has(found, "binderhub-azure:authClientSecret is required when auth.type is 'github'")


# ---------------------------------------------------------------- impossible values

IMPOSSIBLE = [
    ({"azure-native:location": "westeurop"}, "azure-native:location is not an Azure region: did you mean "
                                             "'westeurope'?"),
    ({"azure-native:location": "uksouht"}, "azure-native:location is not an Azure region: did you mean 'uksouth'?"),
    ({"azure-native:location": "moon"}, "azure-native:location is not an Azure region"),
    ({"cluster": {"kubernetesVersion": "1.29"}}, "binderhub-azure:cluster.kubernetesVersion is 1.29, older than "
                                                 "every version AKS still lists"),
    ({"cluster": {"kubernetesVersion": "1.99"}}, "binderhub-azure:cluster.kubernetesVersion is 1.99, more than two"),
    ({"limits": {"memory": "0G"}}, "binderhub-azure:limits.memory must be from 128M to 32T"),
    ({"limits": {"memory": "0.0G"}}, "binderhub-azure:limits.memory must be from 128M to 32T"),
    ({"limits": {"memory": "64M"}}, "binderhub-azure:limits.memory must be from 128M to 32T"),
    ({"limits": {"memory": "100T"}}, "binderhub-azure:limits.memory must be from 128M to 32T"),
    ({"limits": {"buildMemory": "0M"}}, "binderhub-azure:limits.buildMemory must be from 128M"),
    ({"limits": {"memory": "64G"}}, "binderhub-azure:limits.memory 64G is more than a Standard_D4s_v5 node has"),
    ({"limits": {"maxAgeHours": 0.0001}}, "binderhub-azure:limits.maxAgeHours must be 0 (never) or at least one"),
    ({"limits": {"maxAgeHours": 0.01}}, "binderhub-azure:limits.maxAgeHours must be 0 (never) or at least one"),
    ({"defaultUrl": "//evil.example/lab"}, "binderhub-azure:defaultUrl must be a path on the server"),
    ({"defaultUrl": "https://evil.example/"}, "binderhub-azure:defaultUrl must be a path on the server"),
    ({"defaultUrl": "lab"}, "binderhub-azure:defaultUrl must be a path on the server"),
    ({"defaultUrl": "/../../etc"}, "binderhub-azure:defaultUrl must be a path on the server"),
    ({"defaultUrl": "/lab?x=<script>"}, "binderhub-azure:defaultUrl must be a path on the server"),
    ({"auth": {"type": "entra", "clientId": "c", "tenantId": "12345678-1234-1234-1234-123456789012",
               "allowAll": False}, "secrets": {"authClientSecret": "s"}},
     "binderhub-azure:auth.allowAll is false but neither auth.allowedUsers nor auth.admins names anyone"),
    ({"mode": "jupyterhub", "auth": GITHUB, "secrets": {"authClientSecret": "s"}, "limits": {"totalQuota": 5}},
     "binderhub-azure:limits.totalQuota is only used when mode is binderhub"),
    ({"mode": "jupyterhub", "auth": GITHUB, "secrets": {"authClientSecret": "s"}, "limits": {"perRepoQuota": 5}},
     "binderhub-azure:limits.perRepoQuota is only used when mode is binderhub"),
    ({"mode": "jupyterhub", "auth": GITHUB, "secrets": {"authClientSecret": "s"},
      "security": {"bannedRepos": ["^x/.*"]}}, "binderhub-azure:security.bannedRepos is only used when mode is"),
    ({"mode": "jupyterhub", "auth": GITHUB, "secrets": {"authClientSecret": "s"}, "registry": {"sku": "Premium"}},
     "binderhub-azure:registry is only used when mode is binderhub"),
    ({"mode": "tljh", "auth": {**GITHUB, "admins": ["alice"]}, "secrets": {"authClientSecret": "s"},
      "vm": {"sshPublicKey": TEST_SSH_KEY}, "limits": {"buildMemory": "8G"}},
     "binderhub-azure:limits.buildMemory is only used when mode is binderhub"),
]

MOUNTS = ["/etc", "/etc/data", "/usr/lib/x", "/proc", "/home/jovyan", "/home", "/", "/var/run",
          "/home/jovyan/../x", "/home/jovyan/./data", "/data//x", "/data/", "relative/path", "/opt/conda",
          "/root/.ssh", "/bin", "/tmp/x", "/data/with space"]


@pytest.mark.parametrize(("keys", "expected"), IMPOSSIBLE)
def test_impossible_values_fail_at_plan_time(keys, expected):
    keys = dict(keys)
    found = problems(keys.pop("secrets", None), **keys)
    assert has(found, expected), found


@pytest.mark.parametrize("mount", MOUNTS)
def test_datasets_cannot_be_mounted_over_system_or_home_directories(mount):
    data = {"name": "d", "storageAccount": "acct123", "container": "c", "mountPath": mount, "create": True}
    found = problems(datasets=[{**data, "name": "data"}])
    assert has(found, "binderhub-azure:datasets[0].mountPath must"), found


@pytest.mark.parametrize("mount", ["/home/jovyan/data/census", "/data/census", "/mnt/shared", "/srv/data/x"])
def test_ordinary_mount_paths_are_fine(mount):
    # A blob container name has 3-63 characters (Azure's naming rules, components/azure_names.py).
    raw, secret = raw_config(datasets=[{"name": "data", "storageAccount": "acct123", "container": "census",
                                        "mountPath": mount, "create": True}])
    assert parse_config(raw, secret).datasets[0].mount_path == mount


def test_the_data_files_carry_a_date_and_a_source():
    for name in ("azure_regions.json", "aks_versions.json"):
        data = config_fields._load_data(name)
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", data["date"]) and len(data["source"]) > 40
    assert {"westeurope", "uksouth", "eastus", "swedencentral"} <= AZURE_REGIONS
    assert config.ClusterConfig.model_fields["kubernetes_version"].default == aks_versions.DEFAULT
    assert all(re.fullmatch(r"[a-z][a-z0-9]+", r) for r in AZURE_REGIONS)


# ---------------------------------------------------------------- every string key, property-based


def _string_keys(model: type[BaseModel], prefix: str = "") -> list[tuple[str, Any, bool]]:
    """(dotted key, a valid example, is a list of strings) for every string field of the model."""
    out = []
    for field in model.model_fields.values():
        alias = field.alias or ""
        annotation = field.annotation
        inner = annotation
        if get_origin(annotation) in (Union, UnionType):  # `X | None`
            inner = next(a for a in get_args(annotation) if a is not type(None))
        if get_origin(inner) is Annotated:  # a validated type such as `Memory | None`
            inner = get_args(inner)[0]
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            if alias != "helmValues":
                out += _string_keys(inner, f"{prefix}{alias}.")
            continue
        if get_origin(inner) is list:
            item = get_args(inner)[0]
            if isinstance(item, type) and issubclass(item, BaseModel):
                out += _string_keys(item, f"{prefix}{alias}[0].")
            elif item is str:
                example = field.examples[0][0] if field.examples else "x"
                out.append((f"{prefix}{alias}", example, True))
            continue
        if inner is str:
            example = field.examples[0] if field.examples else "x"
            out.append((f"{prefix}{alias}", example, False))
    return out


STRING_KEYS = _string_keys(StackConfig)
MULTILINE_KEYS = {"binderSite.bannerMessage", "binderSite.aboutMessage"}
LIST_ITEMS = {
    "profiles": {"displayName": "Python", "image": "quay.io/jupyter/scipy-notebook:2024-01-01"},
    "datasets": {"name": "census", "storageAccount": "myunidata", "container": "census",
                 "mountPath": "/home/jovyan/data/census", "create": True},
    "adminPrincipals": {"objectId": "00000000-0000-0000-0000-000000000000", "type": "User"},
    "readerPrincipals": {"objectId": "00000000-0000-0000-0000-000000000000", "type": "ServicePrincipal"},
    "awake": {"days": ["mon"], "from": "08:30", "to": "18:00"},
    "members": {},  # federation.members[0]: the key under test alone
}


def _keys_with(key: str, value: Any) -> dict[str, Any]:
    """Config keys with `key` (dotted, maybe through a list) set to `value`."""
    head, _, rest = key.partition(".")
    if head == "location":
        return {"azure-native:location": value}
    if head.endswith("[0]"):
        name = head[:-3]
        return {name: [{**LIST_ITEMS[name], rest: value}]}
    if not rest:
        return {head: value}
    block: dict[str, Any] = {}
    node = block
    parts = rest.split(".")
    for i, part in enumerate(parts[:-1]):
        if part.endswith("[0]"):  # a list of blocks inside a block: its item 0 gets the rest
            name = part[:-3]
            item = _keys_with(".".join(["item", *parts[i + 1:]]), value)["item"]
            node[name] = [{**LIST_ITEMS[name], **item}]
            return {head: block}
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return {head: block}


def test_every_string_key_is_covered():
    keys = {k for k, _, _ in STRING_KEYS}
    assert {"location", "institution", "contactEmail", "domain", "dnsLabel", "defaultUrl", "auth.clientId",
            "auth.tenantId", "auth.allowedUsers", "registry.imagePrefix", "limits.memory", "cluster.kubernetesVersion",
            "cluster.userPool.vmSize", "datasets[0].mountPath", "profiles[0].image", "vm.sshPublicKey"} <= keys
    assert len(keys) >= 30


def full_key(key: str) -> str:
    return "azure-native:location" if key == "location" else f"binderhub-azure:{key}"


@pytest.mark.parametrize(("key", "example", "is_list"), STRING_KEYS, ids=[k for k, _, _ in STRING_KEYS])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tail=st.sampled_from(["\n", "\r\n", "\n\n", "\t", "\x00", "\x1b[31m", "\u2028"]),
       where=st.sampled_from(["end", "start", "middle"]))
def test_no_string_key_takes_a_newline_or_control_character(key, example, is_list, tail, where):
    if key in MULTILINE_KEYS and tail in ("\n", "\r\n", "\n\n", "\t", "\u2028"):
        tail = "\x1b[31m"  # HTML of the banner and about page may span lines (test_azure_rules.py)
    text = str(example)
    bad = {"end": text + tail, "start": tail + text, "middle": text[:1] + tail + text[1:]}[where]
    found = problems(**_keys_with(key, [bad] if is_list else bad))
    # Items of a list are reported with their index; list-valued examples have item 0.
    assert any(line.startswith(full_key(key)) for line in found), (key, found)


# The config's patterns live in config_fields (shared by every block).
PATTERNS = [value for value in vars(config_fields).values() if isinstance(value, re.Pattern)]


@pytest.mark.parametrize("pattern", PATTERNS, ids=[p.pattern[:30] for p in PATTERNS])
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_patterns_match_whole_values_only(pattern, data):
    if pattern.pattern.startswith("[\\x00"):  # the control-character finder is a search, not a shape
        return
    value = data.draw(st.from_regex(pattern, fullmatch=True))
    assert pattern.fullmatch(value)
    assert not pattern.fullmatch(value + "\n")
    assert not pattern.pattern.startswith("^") and not pattern.pattern.endswith("$")


@settings(max_examples=60, deadline=None)
@given(st.text(min_size=1, max_size=20))
def test_any_institution_is_either_a_valid_slug_or_one_clear_line(text):
    raw, secret = raw_config(institution=text)
    try:
        cfg = parse_config(raw, secret)
    except ConfigError as err:
        assert all("\n" not in line for line in err.problems)
        assert any(line.startswith("binderhub-azure:institution") for line in err.problems)
    else:
        assert re.fullmatch(r"[a-z][a-z0-9-]{1,14}[a-z0-9]", cfg.institution)
        assert cfg.host == f"{text}-binder.westeurope.cloudapp.azure.com"
