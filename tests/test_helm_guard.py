"""The helmValues gate, from the outcome: the refusal line the user sees, or the values the
release renders. Paths the gate does not check are refused unless listed in
helmValues.uncheckedPaths; the invariants on the merged values hold whatever path set them;
and the deploy workflow passes the GitHub Actions linter."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from components import helm_guard, hub_spec
from components.config import ConfigError
from components.config_load import parse_config
from components.notes import stack_notes
from tests.helpers import raw_config
from tools.plan import build_plan

ROOT = Path(__file__).resolve().parent.parent
GITHUB = {"type": "github", "clientId": "c", "allowedUsers": ["alice"]}
JH_MODE = {"mode": "jupyterhub", "auth": GITHUB, "secrets": {"authClientSecret": "s"}}
BINDER_AUTH = {"auth": GITHUB, "secrets": {"authClientSecret": "s"}}
P = "binderhub-azure:helmValues."


def check(mode_keys: dict[str, Any], helm_values: dict[str, Any], unchecked: list[str] | None = None) -> list[str]:
    """The problem lines of a stack with these helmValues ([] when it is accepted)."""
    keys = dict(mode_keys)
    secrets = keys.pop("secrets", None)
    values = dict(helm_values)
    if unchecked:
        values["uncheckedPaths"] = unchecked
    raw, secret = raw_config(secrets, helmValues=values, **keys)
    try:
        parse_config(raw, secret)
    except ConfigError as err:
        assert all("\n" not in line and "Traceback" not in line for line in err.problems)
        return err.problems
    return []


def refused(found: list[str], key: str, *fragments: str) -> None:
    """One of the lines names `key` (a helmValues path) and says every fragment."""
    lines = [line for line in found if line.startswith(P + key + " ")]
    assert lines, f"no line for {key}: {found}"
    assert any(all(f in line for f in fragments) for line in lines), lines


def nest(path: str, value: Any) -> dict[str, Any]:
    out: Any = value
    for part in reversed(path.split(".")):
        out = {part: out}
    return out


def rendered(mode_keys: dict[str, Any], helm_values: dict[str, Any]) -> dict[str, Any]:
    keys = dict(mode_keys)
    raw, secret = raw_config(keys.pop("secrets", None), helmValues=helm_values, **keys)
    cfg = parse_config(raw, secret)
    wiring = hub_spec.acr_wiring(cfg, "r.azurecr.io", "u", "pw") if cfg.binder else None
    return hub_spec.release_values(cfg, hub_spec.HubSecrets("a", "b", "c", "d", "e", "s"), wiring)


# ======================================================================= the old protections
# Every value the earlier, path-listing guard refused is still refused: not listed, with a
# line naming the path and the typed key; and (last column) also when the stack lists it in
# uncheckedPaths, because an invariant or the secret check refuses its effect.

JUPYTERHUB_CASES = [
    ("singleuser.networkPolicy.enabled", False, "network policies", True),
    ("singleuser.networkPolicy.egressAllowRules.cloudMetadataServer", True, "security.blockCloudMetadata", True),
    ("singleuser.networkPolicy.egressAllowRules.dnsPortsCloudMetadataServer", True, "network policies", True),
    ("singleuser.networkPolicy.egressAllowRules.privateIPs", True, "network policies", True),
    ("singleuser.networkPolicy.egress", [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}], "uncheckedPaths", True),
    ("singleuser.networkPolicy.egress", [{"ports": [{"port": 5432}]}], "uncheckedPaths", True),
    ("singleuser.networkPolicy.egress", [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}], "uncheckedPaths", True),
    ("singleuser.networkPolicy.egress", [{"to": [{"namespaceSelector": {}}]}], "uncheckedPaths", True),
    ("singleuser.cloudMetadata.blockWithIptables", False, "security.blockCloudMetadata", True),
    ("singleuser.cloudMetadata.ip", "169.254.169.253", "security.blockCloudMetadata", True),
    ("hub.networkPolicy.enabled", False, "network policies", True),
    ("proxy.chp.networkPolicy.enabled", False, "network policies", True),
    ("proxy.traefik.networkPolicy.enabled", False, "network policies", True),
    ("singleuser.uid", 0, "privilege", True),
    ("singleuser.uid", None, "privilege", False),  # a null is dropped: z2jh's uid 1000 stays
    ("singleuser.fsGid", 0, "privilege", True),
    ("singleuser.allowPrivilegeEscalation", True, "privilege", True),
    ("hub.config.KubeSpawner.uid", 0, "privilege", True),
    ("hub.config.KubeSpawner.privileged", True, "privilege", True),
    ("hub.config.JupyterHub.authenticator_class", "dummy", "auth", True),
    ("hub.config.JupyterHub.authenticator_class", "tmp", "auth", True),  # anyone gets a temporary user
    ("hub.config.Authenticator.allow_all", True, "auth", True),
    ("hub.config.GitHubOAuthenticator.allowed_organizations", ["everyone"], "auth", True),
    ("hub.config.Authenticator.admin_users", ["mallory"], "auth", True),
    ("hub.config.Authenticator.allowed_users", ["mallory"], "auth", True),
    ("hub.config.Authenticator.allow_existing_users", True, "auth", True),
    ("hub.config.BinderSpawner.auth_enabled", True, "auth", True),
    ("cull.enabled", False, "limits.cullIdleMinutes", True),
    ("cull.timeout", 86400, "limits.cullIdleMinutes", True),
    ("cull.maxAge", 999999, "limits.maxAgeHours", True),
    ("singleuser.memory.limit", "64G", "limits.memory", True),
    ("singleuser.cpu.limit", 16, "limits.cpu", True),
    ("hub.cookieSecret", "a" * 64, "pulumi_random", True),
    ("proxy.secretToken", "b" * 64, "pulumi_random", True),
    ("hub.config.CryptKeeper.keys", ["c" * 64], "pulumi_random", True),
    ("hub.config.GitHubOAuthenticator.client_secret", "oauth-secret", "authClientSecret", True),
    ("hub.services.binder.apiToken", "d" * 32, "pulumi_random", True),
    ("hub.db.password", "pw", "SQLite", True),
    ("proxy.https.manual.key", "-----BEGIN PRIVATE KEY-----", "https", True),
    ("singleuser.extraEnv.GITHUB_TOKEN", "ghp_plain", "secret in plain text", True),
    ("singleuser.storage.extraVolumes", [{"name": "sock", "hostPath": {"path": "/var/run/docker.sock"}}],
     "uncheckedPaths", True),
    ("singleuser.profileList", [{"display_name": "root", "kubespawner_override": {"uid": 0}}], "uncheckedPaths",
     True),
    ("singleuser.extraPodConfig.hostNetwork", True, "uncheckedPaths", True),
    ("singleuser.extraContainers", [{"name": "x", "image": "i", "securityContext": {"privileged": True}}],
     "uncheckedPaths", True),
]

BINDERHUB_CASES = [
    ("imageBuilderType", "host", "build daemon", True),
    ("imageBuilderType", "pink", "build daemon", True),
    ("dind.hostSocketDir", "/var/run", "build daemon", True),
    ("imageCleaner.host.dockerSocketDir", "/var/run/", "build daemon", True),
    ("config.BinderHub.auth_enabled", True, "auth", True),
    ("config.BinderHub.per_repo_quota", 0, "limits.perRepoQuota", True),
    ("config.BinderHub.per_repo_quota", 500, "limits.perRepoQuota", True),
    ("config.BinderHub.pod_quota", 1000, "limits.totalQuota", True),
    ("config.LaunchQuota.total_quota", None, "limits.totalQuota", True),
    ("config.RepoProvider.banned_specs", [], "security.bannedRepos", False),  # none rendered: nothing lost
    ("config.GitHubRepoProvider.allowed_specs", [], "security.allowedRepos", False),
    ("registry.password", "hunter2", "dockerHubToken", True),
    ("config.BinderHub.build_token_secret", "e" * 32, "pulumi_random", True),
    ("config.GitHubRepoProvider.access_token", "ghp_plain", "secret in plain text", True),
    ("dind.daemonset.extraVolumes", [{"name": "h", "hostPath": {"path": "/"}}], "uncheckedPaths", True),
]


def _ack(where: str, path: str) -> list[str]:
    return [f"{where}.{path}"]


@pytest.mark.parametrize(("path", "value", "instead", "listed_too"), JUPYTERHUB_CASES)
@pytest.mark.parametrize("mode", ["binderhub", "jupyterhub"])
def test_weakening_jupyterhub_values_are_refused(mode, path, value, instead, listed_too):
    keys = {} if mode == "binderhub" else JH_MODE
    found = check(keys, {"jupyterhub": nest(path, value)})
    key = "jupyterhub." + path
    assert any(line.startswith(P + key) or key.startswith(line.split(" ")[0][len(P):]) for line in found), found
    assert any(instead in line for line in found), found
    assert all("helmValues may" in line for line in found), found
    if listed_too and not (mode == "jupyterhub" and "BinderSpawner" in path):
        assert check(keys, {"jupyterhub": nest(path, value)}, _ack("jupyterhub", path)), path


@pytest.mark.parametrize(("path", "value", "instead", "listed_too"), JUPYTERHUB_CASES[:12])
def test_the_jupyterhub_block_inside_binderhub_values_is_gated_too(path, value, instead, listed_too):
    found = check({}, {"binderhub": {"jupyterhub": nest(path, value)}})
    assert any(line.startswith(f"{P}binderhub.jupyterhub.") and instead in line for line in found), found
    assert check({}, {"binderhub": {"jupyterhub": nest(path, value)}}, _ack("binderhub.jupyterhub", path))


@pytest.mark.parametrize(("path", "value", "instead", "listed_too"), BINDERHUB_CASES)
def test_weakening_binderhub_values_are_refused(path, value, instead, listed_too):
    found = check({}, {"binderhub": nest(path, value)})
    assert any(line.startswith(P + "binderhub.") and instead in line for line in found), found
    if listed_too:
        assert check({}, {"binderhub": nest(path, value)}, _ack("binderhub", path)), path


def test_secrets_in_helm_values_are_never_echoed():
    found = check({}, {"jupyterhub": {"proxy": {"secretToken": "s3cr3t-value"}},
                       "binderhub": {"registry": {"password": "hunter2-value"}}})
    assert len(found) == 2
    assert not any("s3cr3t-value" in line or "hunter2-value" in line for line in found)


# ========================================================== the classes of issue 21, one each


def test_a_service_account_for_user_pods_is_refused_whatever_path_sets_it():
    """KubeSpawner mounts a set account's token (automount_service_account_token None means
    "mount if an account is set"), so every anonymous Binder user could call the API."""
    cases = [
        ("singleuser.serviceAccountName", "hub"),
        ("singleuser.extraPodConfig.serviceAccountName", "default"),
        ("hub.config.KubeSpawner.service_account", "binder"),
        ("hub.config.KubeSpawner.automount_service_account_token", True),
        ("hub.config.BinderSpawner.service_account", "hub"),
    ]
    for path, value in cases:
        found = check({}, {"jupyterhub": nest(path, value)})
        assert found and all(line.startswith(P) for line in found), path
        listed = path.rsplit(".", 1)[0] if "extraPodConfig" in path or "config" in path else path
        found = check({}, {"jupyterhub": nest(path, value)}, [f"jupyterhub.{listed}"])
        refused(found, f"jupyterhub.{path}", "service account", "token")
    # in a profile (jupyterhub mode), too
    profile = [{"display_name": "x", "kubespawner_override": {"service_account": "hub"}}]
    found = check(JH_MODE, {"jupyterhub": {"singleuser": {"profileList": profile}}},
                  ["jupyterhub.singleuser.profileList"])
    refused(found, "jupyterhub.singleuser.profileList[0].kubespawner_override.service_account", "service account")
    # turning the token off is fine
    assert check({}, {"jupyterhub": {"hub": {"config": {"KubeSpawner": {"automount_service_account_token": False}}}}},
                 ["jupyterhub.hub.config.KubeSpawner"]) == []


LOGIN_PYTHON = [
    "c.Authenticator.allow_all = True",
    "c.Authenticator.admin_users = {'mallory'}",
    "c.Authenticator.admin_users.add('mallory')",
    "auth = c.Authenticator\nauth.allowed_users |= {'mallory'}",
    "c['GitHubOAuthenticator']['allowed_organizations'] = ['everyone']",
    "c.JupyterHub.authenticator_class = 'dummy'",
    "c.JupyterHub.load_roles = [{'name': 'user', 'scopes': ['admin:users']}]",
    "c.KubeSpawner.service_account = 'hub'",
    "c.LaunchQuota.total_quota = None",
]


@pytest.mark.parametrize("code", LOGIN_PYTHON)
def test_python_in_extra_config_that_opens_login_or_adds_admins_is_refused(code):
    found = check({}, {"jupyterhub": {"hub": {"extraConfig": {"login": code}}}})
    refused(found, "jupyterhub.hub.extraConfig.login", "uncheckedPaths")  # not listed: refused as unchecked
    found = check({}, {"jupyterhub": {"hub": {"extraConfig": {"login": code}}}}, ["jupyterhub.hub.extraConfig"])
    refused(found, "jupyterhub.hub.extraConfig.login", "in Python, which the invariants protect")


@pytest.mark.parametrize(("code", "why"), [
    ("getattr(c, 'Auth' + 'enticator').allow_all = True", "cannot be read"),
    ("exec('c.Authenticator.allow_all = True')", "cannot be read"),
    ("def f(cfg):\n    cfg.Authenticator.allow_all = True\nf(c)", "cannot be read"),
    ("c.Authenticator.allow_all = (", "is not valid Python"),
])
def test_python_that_hides_what_it_sets_or_does_not_parse_is_refused(code, why):
    found = check({}, {"jupyterhub": {"hub": {"extraConfig": {"x": code}}}}, ["jupyterhub.hub.extraConfig"])
    refused(found, "jupyterhub.hub.extraConfig.x", why)


def test_python_that_changes_nothing_the_gate_protects_is_accepted_and_listed():
    values = {"jupyterhub": {"hub": {"extraConfig": {"vars": "c.JupyterHub.template_vars = {'org': 'MyUni'}"}}}}
    assert check({}, values, ["jupyterhub.hub.extraConfig"]) == []
    raw, secret = raw_config(helmValues={**values, "uncheckedPaths": ["jupyterhub.hub.extraConfig"]})
    notes = stack_notes(parse_config(raw, secret), date(2026, 12, 1))
    assert any(n.startswith("helmValues.jupyterhub.hub.extraConfig.vars is not checked by the stack") for n in notes)


@pytest.mark.parametrize(("role", "scopes", "members"), [
    ("user", ["admin:users"], {}),
    ("user", ["access:servers"], {}),         # everyone's servers, not one's own
    ("server", ["admin:servers"], {}),        # every server's token, so every user pod
    ("token", ["tokens"], {}),
    ("helpers", ["admin-ui", "list:users"], {"users": ["mallory"]}),
    ("everyone", ["shutdown"], {"groups": ["students"]}),
    ("user", ["access:servers!user=alice"], {}),  # alice's server to everyone
])
def test_load_roles_granting_users_admin_or_broad_scopes_are_refused(role, scopes, members):
    values = {"jupyterhub": {"hub": {"loadRoles": {role: {"scopes": scopes, **members}}}}}
    refused(check(BINDER_AUTH, values), f"jupyterhub.hub.loadRoles.{role}.scopes", "uncheckedPaths")
    refused(check(BINDER_AUTH, values, ["jupyterhub.hub.loadRoles"]), f"jupyterhub.hub.loadRoles.{role}.scopes",
            "scope", "auth")


def test_load_roles_that_make_admins_are_refused_and_own_scopes_pass():
    found = check(BINDER_AUTH, {"jupyterhub": {"hub": {"loadRoles": {"admin": {"users": ["mallory"]}}}}},
                  ["jupyterhub.hub.loadRoles"])
    refused(found, "jupyterhub.hub.loadRoles.admin.users", "admin")
    own = {"user": {"scopes": ["self", "access:services!service=binder", "access:servers!user", "read:hub"]}}
    assert check(BINDER_AUTH, {"jupyterhub": {"hub": {"loadRoles": own}}}, ["jupyterhub.hub.loadRoles"]) == []


@pytest.mark.parametrize(("path", "value", "why"), [
    ("singleuser.extraContainers", [{"name": "side", "image": "i", "securityContext": {
        "capabilities": {"add": ["NET_ADMIN"]}}}], "capability NET_ADMIN"),
    ("singleuser.extraContainers", [{"name": "side", "image": "i", "securityContext": {"privileged": True}}],
     "privileged"),
    ("singleuser.initContainers", [{"name": "init", "image": "i", "securityContext": {"runAsUser": 0}}], "root"),
    ("singleuser.extraPodConfig", {"hostPID": True}, "pid namespace"),
    ("singleuser.extraContainerConfig", {"securityContext": {"capabilities": {"add": ["SYS_ADMIN"]}}},
     "SYS_ADMIN"),
    ("hub.config.KubeSpawner", {"container_security_context": {"allowPrivilegeEscalation": True}}, "gain privileges"),
    ("singleuser.extraFiles", {"sudo": {"mountPath": "/etc/sudoers.d/jovyan", "stringData": "jovyan ALL=(ALL) ALL"}},
     "who is root"),
    ("singleuser.extraContainers", [{"name": "side", "image": "i", "ports": [{"containerPort": 80, "hostPort": 80}]}],
     "port of the node"),
])
def test_sidecars_and_pod_settings_with_privilege_are_refused_even_when_listed(path, value, why):
    listed = [] if path == "singleuser.extraFiles" else [f"jupyterhub.{path}"]
    found = check({}, {"jupyterhub": nest(path, value)}, listed)
    assert any(line.startswith(f"{P}jupyterhub.{path}") and why in line for line in found), found


def test_a_plain_sidecar_is_accepted_when_listed_and_shown_unchecked():
    values = {"jupyterhub": {"singleuser": {"extraContainers": [{"name": "side", "image": "busybox"}]}}}
    refused(check({}, values), "jupyterhub.singleuser.extraContainers",
            "add 'jupyterhub.singleuser.extraContainers' to binderhub-azure:helmValues.uncheckedPaths")
    assert check({}, values, ["jupyterhub.singleuser.extraContainers"]) == []


@pytest.mark.parametrize(("values", "unchecked", "key", "why"), [
    ({"singleuser": {"storage": {"static": {"subPath": ""}}}}, ["jupyterhub.singleuser.storage.static"],
     "jupyterhub.singleuser.storage.static", "home directory"),
    ({"singleuser": {"initContainers": []}}, ["jupyterhub.singleuser.initContainers"],
     "jupyterhub.singleuser.initContainers", "block-nfs-access"),
    ({"singleuser": {"storage": {"extraVolumes": [{"name": "all", "persistentVolumeClaim": {"claimName": "home-nfs"}}],
                                 "extraVolumeMounts": [{"name": "all", "mountPath": "/all"}]}}},
     ["jupyterhub.singleuser.storage"], "jupyterhub.singleuser.storage.extraVolumes[0].persistentVolumeClaim.claimName",
     "home"),
    ({"singleuser": {"extraEnv": {"K": {"valueFrom": {"secretKeyRef": {"name": "hub", "key": "x"}}}}}},
     ["jupyterhub.singleuser.extraEnv.K"], "jupyterhub.singleuser.extraEnv.K.valueFrom.secretKeyRef", "'hub'"),
    ({"hub": {"services": {"grader": {"admin": True}}}}, ["jupyterhub.hub.services.grader"],
     "jupyterhub.hub.services.grader.admin", "service admin"),
])
def test_user_pods_never_reach_other_homes_or_the_stacks_secrets(values, unchecked, key, why):
    refused(check(JH_MODE, {"jupyterhub": values}, unchecked), key, why)


PUBLIC = {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10",
                                          "169.254.0.0/16", "168.63.129.16/32"]}


@pytest.mark.parametrize(("rule", "why"), [
    ({"to": [{"ipBlock": {"cidr": "168.63.129.16/32"}}], "ports": [{"port": 80}]}, "Azure platform"),
    ({"to": [{"ipBlock": {**PUBLIC, "except": PUBLIC["except"][:-1]}}], "ports": [{"port": 443}]}, "Azure platform"),
    ({"to": [{"ipBlock": {"cidr": "169.254.169.254/32"}}], "ports": [{"port": 80}]}, "metadata"),
    # Without ports (the stack's own public rule has none, as z2jh's nonPrivateIPs rule: that one
    # exact rule is the product's, so it is not new; any other is).
    ({"to": [{"ipBlock": {**PUBLIC, "except": [*PUBLIC["except"], "203.0.113.0/24"]}}]}, "every port"),
    ({"to": [{"ipBlock": PUBLIC}], "ports": []}, "every port"),
    ({"to": [], "ports": [{"port": 443}]}, "every destination"),
    ({"to": [{"podSelector": {}}], "ports": [{"port": 443}]}, "inside the cluster"),
])
def test_extra_user_egress_rules_that_reach_too_far_are_refused(rule, why):
    values = {"jupyterhub": {"singleuser": {"networkPolicy": {"egress": [rule]}}}}
    refused(check({}, values, ["jupyterhub.singleuser.networkPolicy.egress"]),
            "jupyterhub.singleuser.networkPolicy.egress[0]", why)


def test_an_extra_public_egress_rule_with_ports_is_accepted_and_the_hub_may_reach_a_service():
    values = {"jupyterhub": {"singleuser": {"networkPolicy": {"egress": [
        {"to": [{"ipBlock": PUBLIC}], "ports": [{"port": 5432, "protocol": "TCP"}]}]}},
        "hub": {"networkPolicy": {"egress": [{"to": [{"namespaceSelector": {"matchLabels": {"name": "db"}}}],
                                              "ports": [{"port": 5432}]}]}}}}
    listed = ["jupyterhub.singleuser.networkPolicy.egress", "jupyterhub.hub.networkPolicy.egress"]
    assert check({}, values, listed) == []
    hub_rule = {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"port": 80}]}
    refused(check({}, {"jupyterhub": {"hub": {"networkPolicy": {"egress": [hub_rule]}}}},
                  ["jupyterhub.hub.networkPolicy.egress"]), "jupyterhub.hub.networkPolicy.egress[0]", "metadata")


def test_the_products_own_privileged_containers_stay_allowed():
    """dind is privileged by the BinderHub chart's template; the NFS block and z2jh's metadata
    block are the product's own init containers: the gate compares with the product's values."""
    shared = {**JH_MODE, "storage": {"type": "shared"}}
    assert check(shared, {"jupyterhub": {"singleuser": {"image": {"name": "x"}}}}) == []
    extra = [{"name": "block-nfs-access", "image": "i", "securityContext": {"privileged": True}}]
    found = check(JH_MODE, {"jupyterhub": {"singleuser": {"initContainers": extra}}},
                  ["jupyterhub.singleuser.initContainers"])
    refused(found, "jupyterhub.singleuser.initContainers[0].securityContext.privileged", "privileged")


@pytest.mark.parametrize(("path", "value", "key"), [
    ("config.LaunchQuota.total_quota", 5000, "limits.totalQuota"),
    ("config.LaunchQuota.total_quota", None, "limits.totalQuota"),
    ("config.BinderHub.pod_quota", 5000, "limits.totalQuota"),
    ("config.BinderHub.spec_config", [{"pattern": ".*", "config": {"quota": 1000}}], "limits.perRepoQuota"),
    ("config.RepoProvider.spec_config", [{"pattern": "^big/.*", "config": {"quota": 0}}], "limits.perRepoQuota"),
    ("config.BinderHub.per_repo_quota", 101, "limits.perRepoQuota"),
])
def test_quotas_above_the_typed_keys_are_refused_through_every_key(path, value, key):
    """Binder's defaults: totalQuota 200, perRepoQuota 100."""
    found = check({}, {"binderhub": nest(path, value)})  # on the allowlist: the invariant decides
    assert any(line.startswith(f"{P}binderhub.{path}") and key in line for line in found), found


def test_high_quota_specs_need_a_bounded_higher_quota():
    values = {"binderhub": {"config": {"GitHubRepoProvider": {"high_quota_specs": ["^myuni/.*"]}}}}
    refused(check({}, values), "binderhub.config.BinderHub.per_repo_quota_higher", "high_quota_specs")
    values["binderhub"]["config"]["BinderHub"] = {"per_repo_quota_higher": 50}
    assert check({}, values) == []


def test_stricter_quotas_are_accepted_and_rendered():
    values = {"binderhub": {"config": {"BinderHub": {"per_repo_quota": 3, "pod_quota": 50},
                                       "LaunchQuota": {"total_quota": 40},
                                       "RepoProvider": {"spec_config": [{"pattern": "^x/", "config": {"quota": 2}}]}}}}
    assert check({}, values) == []
    config = rendered({}, values)["config"]
    assert config["LaunchQuota"]["total_quota"] == 40 and config["BinderHub"]["per_repo_quota"] == 3


@pytest.mark.parametrize(("key", "value"), [("every", 86400), ("timeout", 7200), ("maxAge", 0), ("enabled", False)])
def test_the_culler_changed_through_any_of_its_keys_is_refused(key, value):
    refused(check({}, {"jupyterhub": {"cull": {key: value}}}), f"jupyterhub.cull.{key}", "limits.cullIdleMinutes")
    refused(check({}, {"jupyterhub": {"cull": {key: value}}}, ["jupyterhub.cull"]), f"jupyterhub.cull.{key}",
            "idle culler", "limits.cullIdleMinutes")


@pytest.mark.parametrize(("memory", "guarantee", "ok"), [
    ("2G", "64G", False), ("2G", "3G", False), ("2G", "2G", True), ("2G", "1G", True),
    ("2G", "2049M", False),   # 2049 MiB > 2 GiB: KubeSpawner's units are powers of 1024
    ("2G", "2048M", True), ("2G", 2 * 1024**3 + 1, False), ("2G", "1Gi", False),  # "1Gi" is no KubeSpawner size
])
def test_a_memory_guarantee_above_the_limit_is_refused(memory, guarantee, ok):
    found = check({"limits": {"memory": memory}}, {"jupyterhub": {"singleuser": {"memory": {"guarantee": guarantee}}}})
    if ok:
        assert found == []
    else:
        refused(found, "jupyterhub.singleuser.memory.guarantee", "memory")


def test_a_cpu_guarantee_above_the_limit_and_a_limit_in_a_spawner_section_are_refused():
    refused(check({}, {"jupyterhub": {"singleuser": {"cpu": {"guarantee": 8}}}}), "jupyterhub.singleuser.cpu.guarantee",
            "more CPU than the limit")
    found = check({}, {"jupyterhub": {"hub": {"config": {"BinderSpawner": {"mem_limit": "64G"}}}}},
                  ["jupyterhub.hub.config.BinderSpawner"])
    refused(found, "jupyterhub.hub.config.BinderSpawner.mem_limit", "memory limit", "limits.memory")


def test_placeholder_priority_dropped_or_chart_priority_turned_on_is_refused():
    """Placeholders keep the stack's class below users; z2jh's own pod priority stays off (on, the
    chart names a second priorityClassName in the hub, proxy and user-scheduler pods)."""
    keys = {"speed": {"placeholders": 2}}
    dropped = {"jupyterhub": {"scheduling": {"userPlaceholder": {"extraPodSpec": {"priorityClassName": "other"}}}}}
    refused(check(keys, dropped, ["jupyterhub.scheduling.userPlaceholder"]),
            "jupyterhub.scheduling.userPlaceholder.extraPodSpec.priorityClassName", "changes a priority class")
    values = {"jupyterhub": {"scheduling": {"podPriority": {"enabled": True}}}}
    refused(check(keys, values, ["jupyterhub.scheduling.podPriority"]), "jupyterhub.scheduling.podPriority.enabled",
            "second priorityClassName")
    raised = {"jupyterhub": {"scheduling": {"podPriority": {"enabled": True, "defaultPriority": 20000}}}}
    refused(check(keys, raised, ["jupyterhub.scheduling.podPriority"]),
            "jupyterhub.scheduling.podPriority.defaultPriority", "core pods' priority")


@pytest.mark.parametrize(("values", "unchecked", "key"), [
    ({"singleuser": {"extraFiles": {"jupyter-server-config": {"data": {"MappingKernelManager": {
        "cull_idle_timeout": 0}}}}}}, [], "jupyterhub.singleuser.extraFiles.jupyter-server-config"),
    ({"singleuser": {"extraFiles": {"mine": {"mountPath": "/opt/conda/etc/jupyter/jupyter_server_config.d/k.json",
                                             "data": {"x": 1}}}}}, [],
     "jupyterhub.singleuser.extraFiles.mine.mountPath"),
    ({"singleuser": {"extraFiles": {"mine": {"mountPath": "/home/jovyan/k.json", "data": {
        "MappingKernelManager": {"cull_idle_timeout": 0}}}}}}, [],
     "jupyterhub.singleuser.extraFiles.mine.data.MappingKernelManager"),
    ({"singleuser": {"lifecycleHooks": {"postStart": {"exec": {"command": [
        "sh", "-c", "echo '{\"MappingKernelManager\": {\"cull_idle_timeout\": 0}}' > ~/.jupyter/x.json"]}}}}}, [],
     "jupyterhub.singleuser.lifecycleHooks.postStart.exec.command[2]"),
    ({"singleuser": {"args": ["--MappingKernelManager.cull_idle_timeout=0"]}}, ["jupyterhub.singleuser.args"],
     "jupyterhub.singleuser.args[0]"),
])
def test_kernel_culling_disabled_through_extra_files_or_commands_is_refused(values, unchecked, key):
    refused(check({}, {"jupyterhub": values}, unchecked), key, "kernel culling")


def test_an_extra_file_the_gate_cannot_read_needs_to_be_listed():
    values = {"jupyterhub": {"singleuser": {"extraFiles": {"bin": {"mountPath": "/usr/local/bin/start.sh",
                                                                   "binaryData": "IyEvYmluL3NoCg=="}}}}}
    refused(check({}, values), "jupyterhub.singleuser.extraFiles.bin.binaryData", "uncheckedPaths")


def test_an_extra_file_elsewhere_is_accepted_and_rendered():
    values = {"jupyterhub": {"singleuser": {"extraFiles": {"readme": {"mountPath": "/home/jovyan/README.md",
                                                                      "stringData": "Welcome"}}}}}
    assert check({}, values) == []
    files = rendered({}, values)["jupyterhub"]["singleuser"]["extraFiles"]
    assert set(files) == {"jupyter-server-config", "readme"}  # merged, the product's file kept


@pytest.mark.parametrize(("values", "key", "why"), [
    ({"jupyterhub": {"cull": None}}, "jupyterhub.cull", "null removes"),
    ({"jupyterhub": {"singleuser": {"networkPolicy": None}}}, "jupyterhub.singleuser.networkPolicy", "null removes"),
    ({"jupyterhub": {"singleuser": {"extraFiles": None}}}, "jupyterhub.singleuser.extraFiles", "null removes"),
    ({"binderhub": {"config": {"LaunchQuota": None}}}, "binderhub.config.LaunchQuota", "null removes"),
    ({"binderhub": {"jupyterhub": None}}, "binderhub.jupyterhub", "null would drop the whole JupyterHub"),
    ({"binderhub": {"config": {"BinderHub": {"per_repo_quota": None}}}}, "binderhub.config.BinderHub.per_repo_quota",
     "null removes what the stack renders"),
])
def test_a_block_set_to_null_never_silently_drops_what_the_stack_renders(values, key, why):
    refused(check({}, values), key, why)


def test_a_listed_null_still_faces_the_invariants():
    refused(check({}, {"jupyterhub": {"cull": None}}, ["jupyterhub.cull"]), "jupyterhub.cull", "idle culler")
    # the chart's defaults come back, and they let user servers reach DNS on the metadata address
    refused(check({}, {"jupyterhub": {"singleuser": {"networkPolicy": None}}}, ["jupyterhub.singleuser.networkPolicy"]),
            "jupyterhub.singleuser.networkPolicy", "widens where singleuser may connect")


@pytest.mark.parametrize(("values", "unchecked", "key"), [
    ({"binderhub": {"jupyterhub": "x"}}, [], "binderhub.jupyterhub"),
    ({"binderhub": {"jupyterhub": ["x"]}}, [], "binderhub.jupyterhub"),
    ({"jupyterhub": {"singleuser": "x"}}, ["jupyterhub.singleuser"], "jupyterhub.singleuser"),
    ({"jupyterhub": {"cull": ["x"]}}, ["jupyterhub.cull"], "jupyterhub.cull"),
    ({"jupyterhub": {"hub": {"config": {"Authenticator": "x"}}}}, ["jupyterhub.hub.config"],
     "jupyterhub.hub.config.Authenticator"),
    ({"jupyterhub": {"hub": {"config": {"loadRoles": {"x": {}}}}}}, ["jupyterhub.hub.config"],
     "jupyterhub.hub.config.loadRoles"),
    ({"jupyterhub": {"hub": {"loadRoles": {"user": "admin"}}}}, ["jupyterhub.hub.loadRoles"],
     "jupyterhub.hub.loadRoles.user"),
    ({"binderhub": {"config": {"BinderHub": "x"}}}, ["binderhub.config.BinderHub"], "binderhub.config.BinderHub"),
    ({"binderhub": {"config": {"LaunchQuota": 5}}}, ["binderhub.config.LaunchQuota"], "binderhub.config.LaunchQuota"),
    ({"jupyterhub": {"singleuser": {"image": "quay.io/x"}}}, ["jupyterhub.singleuser.image"],
     "jupyterhub.singleuser.image"),
    ({"jupyterhub": {"hub": {"extraConfig": {"a": {"code": 1}}}}}, ["jupyterhub.hub.extraConfig"],
     "jupyterhub.hub.extraConfig.a"),
])
def test_a_value_of_the_wrong_kind_gives_one_line_naming_the_key(values, unchecked, key):
    found = check({}, values, unchecked)
    assert len(found) == 1, found
    assert found[0].startswith(P + key + " must be") or found[0].startswith(P + key + " is not a config section")


@pytest.mark.parametrize("as_json", [False, True])
def test_a_string_where_a_mapping_belongs_exits_2_from_the_plan_with_one_line(tmp_path, as_json):
    """This used to end in an AttributeError inside the values merge."""
    stack = tmp_path / "Pulumi.typo.yaml"
    stack.write_text("config:\n  azure-native:location: westeurope\n  binderhub-azure:institution: demo\n"
                     "  binderhub-azure:contactEmail: rse@demo.example\n  binderhub-azure:helmValues:\n"
                     "    binderhub:\n      jupyterhub: singleuser\n")
    proc = subprocess.run([sys.executable, "-m", "tools.plan", "--config-file", str(stack),
                           *(["--json"] if as_json else [])], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.splitlines() == [
        f"{P}binderhub.jupyterhub must be a mapping (the JupyterHub chart's values, merged key by key), not a text"]


@pytest.mark.parametrize(("env", "why"), [
    ({"singleuser": {"extraEnv": [{"name": "GITHUB_TOKEN", "value": "abc123def456"}]}}, "by its name"),
    ({"singleuser": {"extraEnv": {"MY_PAT": {"value": "ghp_" + "a" * 36}}}}, "GitHub token"),
    ({"hub": {"extraEnv": {"JUPYTERHUB_CRYPT_KEY": "c" * 64}}}, "by its name"),
    ({"singleuser": {"extraEnv": {"DATA": "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=abc=="}}},
     "connection string"),
    ({"singleuser": {"extraEnv": {"BLOB": "https://a.blob.core.windows.net/c?sv=2022-11-02&sig=abcdefghijklmnop"}}},
     "shared access signature"),
    ({"singleuser": {"extraEnv": {"AZURE_CLIENT_SECRET": "x~y"}}}, "by its name"),
    ({"singleuser": {"extraEnv": [{"name": "ARM_CLIENT_SECRET", "value": "x~y"}]}}, "by its name"),
    ({"singleuser": {"extraEnv": {"AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG"}}}, "by its name"),
    ({"singleuser": {"extraEnv": {"AZURE_STORAGE_KEY": "abc=="}}}, "by its name"),
    ({"singleuser": {"extraEnv": {"GOOGLE_APPLICATION_CREDENTIALS": '{"type": "service_account", "private_key": '
                                  '"k"}'}}}, "service-account key"),
    ({"singleuser": {"extraEnv": {"DB_URL": "postgres://app:hunter2@db.example:5432/x"}}}, "password in a URL"),
    ({"hub": {"extraConfig": {"x": "c.GitHubOAuthenticator.client_secret = 'abcdef123456'"}}}, "in its Python"),
])
def test_secrets_are_refused_wherever_they_sit_even_when_listed(env, why):
    for unchecked in ([], ["jupyterhub.singleuser", "jupyterhub.hub"]):
        found = check({}, {"jupyterhub": env}, unchecked)
        assert any(why in line and ("secret" in line) for line in found), found
        assert all("hunter2" not in line and "abc123" not in line and "x~y" not in line for line in found)


@pytest.mark.parametrize("env", [
    {"HF_HUB_DISABLE_IMPLICIT_TOKEN": "1"},       # an on/off flag named like a token
    {"USE_ACCESS_TOKEN": "false"},
    {"TOKEN_URL": "https://login.example/token"},  # where a token is fetched, not a token
    {"GOOGLE_APPLICATION_CREDENTIALS": "/secrets/key.json"},  # where the key file is
    {"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE"},           # an ID, not the secret
    {"SECRET_NAME": "my-secret"},
    {"NBGITPULLER_TOKEN": {"valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}},
])
def test_flags_references_and_ids_under_secret_like_names_are_accepted(env):
    assert check({}, {"jupyterhub": {"singleuser": {"extraEnv": env}}}) == []


def test_a_boolean_flag_named_token_in_a_listed_section_is_accepted():
    values = {"jupyterhub": {"hub": {"config": {"JupyterHub": {"implicit_spawn_seconds": 0},
                                                "MyExtension": {"TOKEN_AUTH": False, "token_lifetime": 3600}}}}}
    assert check({}, values, ["jupyterhub.hub.config.JupyterHub.implicit_spawn_seconds",
                              "jupyterhub.hub.config.MyExtension"]) == []


# ================================================================ acknowledgements and plans


@pytest.mark.parametrize(("pattern", "why"), [
    ("jupyterhub", "a whole chart"),
    ("jupyterhub.*", "a whole chart"),
    ("binderhub.jupyterhub", "a whole chart"),
    ("binderhub.*.x", "a whole chart"),
    ("hub.extraConfig", "must start with 'jupyterhub.' or 'binderhub.'"),
    ("jupyterhub..hub", "must be a dotted helmValues path"),
    ("jupyterhub.hub.**", "must be a dotted helmValues path"),
])
def test_unusable_unchecked_paths_are_refused(pattern, why):
    found = check({}, {"jupyterhub": {"hub": {"extraConfig": {"a": "pass"}}}}, [pattern])
    assert any(line.startswith("binderhub-azure:helmValues.uncheckedPaths[0]") and why in line for line in found), found


def test_unchecked_paths_that_cover_nothing_are_refused():
    found = check({}, {"jupyterhub": {"singleuser": {"image": {"name": "x"}}}},
                  ["jupyterhub.hub.extraConfig", "jupyterhub.singleuser.image"])
    assert any("'jupyterhub.hub.extraConfig' names no helmValues path" in line for line in found), found
    assert any("'jupyterhub.singleuser.image' names only paths the gate checks" in line for line in found), found


def test_every_plan_lists_unchecked_paths():
    sidecars = [{"name": "a", "image": "i"}, {"name": "b", "image": "j"}]
    values = {"jupyterhub": {"hub": {"extraConfig": {"vars": "c.JupyterHub.template_vars = {}"}},
                             "singleuser": {"extraContainers": sidecars}},
              "uncheckedPaths": ["jupyterhub.hub.extraConfig.*", "jupyterhub.singleuser.extraContainers"]}
    raw, secret = raw_config(helmValues=values)
    plan = build_plan(raw, secret, "test")
    assert plan["uncheckedHelmValues"] == [
        {"path": "helmValues.jupyterhub.hub.extraConfig.vars", "acknowledgedBy": "jupyterhub.hub.extraConfig.*"},
        {"path": "helmValues.jupyterhub.singleuser.extraContainers",
         "acknowledgedBy": "jupyterhub.singleuser.extraContainers"}]
    notes = [n for n in plan["notes"] if "is not checked by the stack" in n]
    assert len(notes) == 2
    from tools.plan import summary

    assert "  - helmValues.jupyterhub.hub.extraConfig.vars is not checked by the stack" in summary(plan)
    plain = build_plan(*raw_config(), "test")
    assert plain["uncheckedHelmValues"] == [] and not any("not checked" in n for n in plain["notes"])


def test_path_and_invariant_refusals_come_together_one_line_per_key():
    values = {"jupyterhub": {"hub": {"extraConfig": {"a": "pass"}}, "singleuser": {"memory": {"guarantee": "64G"}}},
              "binderhub": {"config": {"LaunchQuota": {"total_quota": 5000}}}}
    found = check({}, values)
    assert [line.split(" ", 1)[0][len(P):] for line in found] == [
        "jupyterhub.hub.extraConfig.a", "binderhub.config.LaunchQuota.total_quota",
        "jupyterhub.singleuser.memory.guarantee"]
    # another kind of problem first: the invariants wait until the rest of the config is valid
    found = check({"limits": {"memory": "lots"}}, values)
    assert not any("LaunchQuota" in line for line in found)


def test_refused_helm_values_stop_the_plan_before_any_resource():
    raw, secret = raw_config(helmValues={"binderhub": {"imageBuilderType": "host"}})
    with pytest.raises(ConfigError) as info:
        build_plan(raw, secret, "test")
    assert info.value.problems[0].startswith("binderhub-azure:helmValues.binderhub.imageBuilderType is refused")


HARMLESS = [
    {"jupyterhub": {"singleuser": {"image": {"name": "quay.io/jupyter/scipy-notebook", "tag": "2024-01-01"}}}},
    {"jupyterhub": {"singleuser": {"extraEnv": {"TOKEN_URL": "https://x.example/token", "COURSE": "stats101"}}}},
    {"jupyterhub": {"singleuser": {"lifecycleHooks": {"postStart": {"exec": {"command": ["gitpuller", "url"]}}}}}},
    {"jupyterhub": {"hub": {"resources": {"requests": {"cpu": "500m", "memory": "2Gi"},
                                          "limits": {"cpu": "2", "memory": "2Gi"}}}}},
    {"jupyterhub": {"hub": {"image": {"name": "quay.io/jupyterhub/k8s-hub", "tag": "4.4.0"}}}},
    {"binderhub": {"config": {"BinderHub": {"banner_message": "Hello", "per_repo_quota": 3, "pod_quota": 50}}}},
    {"binderhub": {"dind": {"daemonset": {"image": {"tag": "27.5.0-dind"}}},
                   "config": {"KubernetesBuildExecutor": {"build_image": "quay.io/jupyterhub/repo2docker:2025.1.0"}}}},
]


@pytest.mark.parametrize("values", HARMLESS)
def test_harmless_helm_values_pass_unlisted(values):
    assert check({}, values) == []


def test_every_allowlisted_path_is_a_real_chart_path():
    """The allowlist names keys the charts have (or free-form blocks they pass on), so a typo
    there cannot silently allow nothing, or something else."""
    from components import charts
    from components.helm_paths import ALLOWED, get, has

    free = {"extraEnv", "extraFiles", "lifecycleHooks", "resources", "templateVars", "custom", "config", "extraImages",
            "pullSecrets"}
    for entry in ALLOWED:
        chart = charts.JUPYTERHUB if entry.chart == "jupyterhub" else charts.BINDERHUB
        head: list[str] = []
        for part in entry.path:
            if part in ("*", "[*]", "**"):
                break
            head.append(part)
            if part in free:
                break
        defaults = charts.defaults(chart)
        assert has(defaults, tuple(head)) or get(defaults, tuple(head[:-1])) is not None, entry.pattern


# ==================================================================================== README


def test_readme_security_model_explains_the_gate_and_its_table_is_current():
    readme = (ROOT / "README.md").read_text()
    start, end = "<!-- helm-guard:start -->\n", "\n<!-- helm-guard:end -->"
    block = readme[readme.index(start) + len(start):readme.index(end)]
    assert block == helm_guard.security_model_markdown(), (
        "regenerate the README table with components.helm_guard.security_model_markdown()")
    text = " ".join(readme.split())
    assert "`helmValues.uncheckedPaths`" in text and "whatever path sets them" in text


# ---------------------------------------------------------------- the deploy workflow


def test_workflow_has_no_medium_or_higher_finding_from_zizmor():
    """zizmor, the GitHub Actions security linter, offline (no GitHub API calls)."""
    zizmor = Path(sys.executable).parent / "zizmor"
    proc = subprocess.run([str(zizmor), "--offline", "--persona", "pedantic", "--min-severity", "medium",
                           "--format", "json", ".github/workflows/pulumi.yml"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    findings = json.loads(proc.stdout or "null")
    assert findings == [], proc.stdout + proc.stderr
    assert proc.returncode == 0, proc.stderr


def test_workflow_actions_are_pinned_and_jobs_least_privileged():
    import yaml

    text = (ROOT / ".github" / "workflows" / "pulumi.yml").read_text()
    wf = yaml.safe_load(text)
    assert wf["permissions"] == {}
    for name, job in wf["jobs"].items():
        perms = job["permissions"]
        # Only the jobs that run Pulumi against Azure ask for an OIDC token; only those that
        # check the repository out may read it.
        logs_in = any(s.get("uses", "").startswith("pulumi/actions@") for s in job["steps"])
        checks_out = any(s.get("uses", "").startswith("actions/checkout@") for s in job["steps"])
        assert (perms.get("id-token") == "write") == logs_in, name
        assert (perms.get("contents") == "read") == checks_out, name
        assert set(perms) <= {"contents", "id-token", "pull-requests"}, name
        for step in job["steps"]:
            uses = step.get("uses")
            if uses:
                ref = uses.split("@", 1)[1]
                assert len(ref) == 40 and all(c in "0123456789abcdef" for c in ref), uses
            if uses and uses.startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False
    assert "pull-requests" not in wf["jobs"]["up"]["permissions"]
    assert "pull-requests" not in wf["jobs"]["test"]["permissions"]
