"""helmValues may add to the chart values, never weaken a defence or carry a plain secret;
and the deploy workflow passes the GitHub Actions linter."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from components import helm_guard
from components.config import ConfigError
from components.config_load import parse_config
from tests.helpers import raw_config, release
from tools.plan import build_plan

ROOT = Path(__file__).resolve().parent.parent
GITHUB = {"type": "github", "clientId": "c", "allowedUsers": ["alice"]}
JH_MODE = {"mode": "jupyterhub", "auth": GITHUB, "secrets": {"authClientSecret": "s"}}


def guard(mode_keys: dict[str, Any], helm_values: dict[str, Any]) -> list[str]:
    keys = dict(mode_keys)
    secrets = keys.pop("secrets", None)
    raw, secret = raw_config(secrets, helmValues=helm_values, **keys)
    with pytest.raises(ConfigError) as info:
        parse_config(raw, secret)
    return info.value.problems


def nest(path: str, value: Any) -> dict[str, Any]:
    out: Any = value
    for part in reversed(path.split(".")):
        out = {part: out}
    return out


# (chart-relative path, weakening value, the typed key or reason the message must name)
JUPYTERHUB_CASES = [
    ("singleuser.networkPolicy.enabled", False, "there is no key to turn this defence off"),
    ("singleuser.networkPolicy.egressAllowRules.cloudMetadataServer", True, "security.blockCloudMetadata"),
    ("singleuser.networkPolicy.egressAllowRules.dnsPortsCloudMetadataServer", True, "security.blockCloudMetadata"),
    ("singleuser.networkPolicy.egressAllowRules.privateIPs", True, "private address ranges"),
    ("singleuser.networkPolicy.egress", [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}], "private"),
    ("singleuser.networkPolicy.egress", [{"ports": [{"port": 5432}]}], "private"),
    ("singleuser.networkPolicy.egress", [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}], "private"),
    ("singleuser.networkPolicy.egress", [{"to": [{"namespaceSelector": {}}]}], "in-cluster"),
    ("singleuser.cloudMetadata.blockWithIptables", False, "security.blockCloudMetadata"),
    ("singleuser.cloudMetadata.ip", "169.254.169.253", "169.254.169.254"),
    ("hub.networkPolicy.enabled", False, "hub's network policy"),
    ("proxy.chp.networkPolicy.enabled", False, "proxy's network policy"),
    ("proxy.traefik.networkPolicy.enabled", False, "network policy"),
    ("singleuser.uid", 0, "root"),
    ("singleuser.uid", None, "root"),
    ("singleuser.fsGid", 0, "root group"),
    ("singleuser.allowPrivilegeEscalation", True, "gain privileges"),
    ("hub.config.KubeSpawner.uid", 0, "root"),
    ("hub.config.KubeSpawner.privileged", True, "privileged"),
    ("hub.config.JupyterHub.authenticator_class", "dummy", "auth.type"),
    ("hub.config.JupyterHub.authenticator_class", "null", "auth.type"),
    ("hub.config.Authenticator.allow_all", True, "auth.allowAll"),
    ("hub.config.GitHubOAuthenticator.allowed_organizations", ["everyone"], "auth.allowedOrganizations"),
    ("hub.config.Authenticator.admin_users", ["mallory"], "auth.admins"),
    ("hub.config.Authenticator.allowed_users", ["mallory"], "auth.allowedUsers"),
    ("cull.enabled", False, "limits.cullIdleMinutes"),
    ("cull.maxAge", 0, "limits.maxAgeHours"),
    ("singleuser.memory.limit", "64G", "limits.memory"),
    ("hub.cookieSecret", "a" * 64, "pulumi_random"),
    ("proxy.secretToken", "b" * 64, "pulumi_random"),
    ("hub.config.CryptKeeper.keys", ["c" * 64], "pulumi_random"),
    ("hub.config.GitHubOAuthenticator.client_secret", "oauth-secret", "authClientSecret"),
    ("hub.services.binder.apiToken", "d" * 32, "pulumi_random"),
    ("hub.db.password", "pw", "SQLite"),
    ("proxy.https.manual.key", "-----BEGIN PRIVATE KEY-----", "https"),
    ("singleuser.extraEnv.GITHUB_TOKEN", "ghp_plain", "secret in plain text"),
    ("singleuser.storage.extraVolumes", [{"name": "sock", "hostPath": {"path": "/var/run/docker.sock"}}],
     "mounts a directory of the node"),
    ("singleuser.profileList", [{"display_name": "root", "kubespawner_override": {"uid": 0}}], "root"),
    ("singleuser.extraPodConfig.hostNetwork", True, "node's network"),
    ("singleuser.extraContainers", [{"name": "x", "securityContext": {"privileged": True}}], "privileged"),
]

BINDERHUB_CASES = [
    ("imageBuilderType", "host", "Docker socket"),
    ("imageBuilderType", "pink", "build egress policy"),
    ("dind.hostSocketDir", "/var/run", "host's"),
    ("imageCleaner.host.dockerSocketDir", "/var/run/", "host's"),
    ("config.BinderHub.auth_enabled", False, "auth.type"),
    ("config.BinderHub.per_repo_quota", 0, "limits.perRepoQuota"),
    ("config.BinderHub.per_repo_quota", 500, "limits.perRepoQuota"),
    ("config.BinderHub.pod_quota", 0, "limits.totalQuota"),
    ("config.BinderHub.pod_quota", None, "limits.totalQuota"),
    ("config.RepoProvider.banned_specs", [], "security.bannedRepos"),
    ("config.GitHubRepoProvider.allowed_specs", [".*"], "security.allowedRepos"),
    ("registry.password", "hunter2", "dockerHubToken"),
    ("config.BinderHub.build_token_secret", "e" * 32, "pulumi_random"),
    ("config.GitHubRepoProvider.access_token", "ghp_plain", "secret in plain text"),
    ("dind.daemonset.extraVolumes", [{"name": "h", "hostPath": {"path": "/"}}], "mounts a directory of the node"),
]


@pytest.mark.parametrize(("path", "value", "instead"), JUPYTERHUB_CASES)
@pytest.mark.parametrize("mode", ["binderhub", "jupyterhub"])
def test_weakening_jupyterhub_values_are_refused(mode, path, value, instead):
    keys = {} if mode == "binderhub" else JH_MODE
    found = guard(keys, {"jupyterhub": nest(path, value)})
    key = f"binderhub-azure:helmValues.jupyterhub.{path}"
    lines = [line for line in found if line.startswith(key)]
    assert lines and instead in lines[0], found
    assert "helmValues may not" in lines[0]


@pytest.mark.parametrize(("path", "value", "instead"), JUPYTERHUB_CASES[:12])
def test_the_jupyterhub_block_inside_binderhub_values_is_guarded_too(path, value, instead):
    found = guard({}, {"binderhub": {"jupyterhub": nest(path, value)}})
    assert any(line.startswith(f"binderhub-azure:helmValues.binderhub.jupyterhub.{path}") and instead in line
               for line in found), found


@pytest.mark.parametrize(("path", "value", "instead"), BINDERHUB_CASES)
def test_weakening_binderhub_values_are_refused(path, value, instead):
    found = guard({}, {"binderhub": nest(path, value)})
    key = f"binderhub-azure:helmValues.binderhub.{path}"
    assert any(line.startswith(key) and instead in line for line in found), found


def test_secrets_in_helm_values_are_never_echoed():
    found = guard({}, {"jupyterhub": {"proxy": {"secretToken": "s3cr3t-value"}},
                       "binderhub": {"registry": {"password": "hunter2-value"}}})
    assert not any("s3cr3t-value" in line or "hunter2-value" in line for line in found)


HARMLESS = [
    {"jupyterhub": {"singleuser": {"image": {"name": "quay.io/jupyter/scipy-notebook", "tag": "2024-01-01"}}}},
    {"jupyterhub": {"singleuser": {"networkPolicy": {"enabled": True,
                                                     "egressAllowRules": {"cloudMetadataServer": False}}}}},
    {"jupyterhub": {"singleuser": {"networkPolicy": {"egress": [
        {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                                                             "100.64.0.0/10", "169.254.0.0/16"]}}]}]}}}},
    {"jupyterhub": {"singleuser": {"uid": 1000, "cloudMetadata": {"blockWithIptables": True}}}},
    {"jupyterhub": {"hub": {"extraEnv": {"TOKEN_FROM_SECRET": {"valueFrom": {"secretKeyRef": {
        "name": "s", "key": "k"}}}}, "existingSecret": "my-secret"}}},
    {"jupyterhub": {"singleuser": {"extraEnv": {"TOKEN_URL": "https://x.example/token"}}}},
    {"binderhub": {"imageBuilderType": "dind", "config": {"BinderHub": {"banner_message": "Hello"}}}},
    {"binderhub": {"config": {"BinderHub": {"per_repo_quota": 3, "pod_quota": 50}}}},  # stricter is fine
]


@pytest.mark.parametrize("values", HARMLESS)
def test_harmless_helm_values_pass(values):
    assert helm_guard.helm_values_problems(_cfg(values)) == []


def _cfg(values: dict[str, Any]):
    raw, secret = raw_config(helmValues=values)
    return parse_config(raw, secret)


@pytest.mark.parametrize("mode", ["binderhub", "jupyterhub"])
def test_the_stacks_own_values_would_pass_the_guard(render, mode):
    """The guard refuses only what weakens: the values the stack itself renders pass it (with
    the secrets it generates left out), so the rules are not simply "refuse everything"."""
    keys = {} if mode == "binderhub" else JH_MODE
    values = copy.deepcopy(release(render(**keys), mode)["values"])  # the rendered plan is shared
    if mode == "binderhub":
        values["jupyterhub"]["hub"].pop("cookieSecret")
        values["jupyterhub"]["proxy"].pop("secretToken")
        values["jupyterhub"]["hub"]["config"].pop("CryptKeeper")
        values["jupyterhub"]["hub"]["services"]["binder"].pop("apiToken")
        values["config"]["BinderHub"].pop("build_token_secret")
        values["registry"].pop("password")
        jh = values.pop("jupyterhub")
        by_design_bh = ("pod_quota", "per_repo_quota", "auth_enabled", "_specs")
        assert [p for p in helm_guard.check_values("binderhub", values, "binderhub")
                if not any(d in p for d in by_design_bh)] == []
    else:
        jh = values
        jh["hub"].pop("cookieSecret")
        jh["proxy"].pop("secretToken")
        jh["hub"]["config"].pop("CryptKeeper")
    # The stack's own NFS-blocking init container (storage.type shared) is privileged like z2jh's
    # metadata block; a user's helmValues may not add one.
    init = jh.get("singleuser", {}).get("initContainers", [])
    assert [c["name"] for c in init if c.get("securityContext", {}).get("privileged")] in ([], ["block-nfs-access"])
    jh.get("singleuser", {}).pop("initContainers", None)
    # Login, culling and limits are set by typed keys; these rules refuse any value by design.
    by_design = ("authenticator_class", "allowed_users", "admin_users", "allow_all", "client_secret",
                 "cull.timeout", "cull.maxAge", "memory.limit", "cpu.limit", "auth_enabled")
    left = [p for p in helm_guard.check_values("jupyterhub", jh, "jupyterhub") if not any(d in p for d in by_design)]
    assert left == []


def test_refused_helm_values_stop_the_plan_before_any_resource(tmp_path):
    raw, secret = raw_config(helmValues={"binderhub": {"imageBuilderType": "host"}})
    with pytest.raises(ConfigError) as info:
        build_plan(raw, secret, "test")
    assert info.value.problems[0].startswith("binderhub-azure:helmValues.binderhub.imageBuilderType is refused")


def test_readme_security_model_lists_every_refused_value():
    readme = (ROOT / "README.md").read_text()
    start, end = "<!-- helm-guard:start -->\n", "\n<!-- helm-guard:end -->"
    block = readme[readme.index(start) + len(start):readme.index(end)]
    assert block == helm_guard.security_model_markdown(), (
        "regenerate the README table with components.helm_guard.security_model_markdown()")
    assert "a defence is turned off only through its typed key" in readme.replace("\n  ", " ").lower()


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
