"""The rendered hub config loads in the hub image's own packages.

For each example stack (and two stacks with the features no example turns on), the hub
release's values as the program renders them under mocks are coalesced with the chart's
defaults, written where z2jh's hub reads them, and loaded by the real JupyterHub, KubeSpawner
and OAuthenticator at the versions of the pinned hub image (tests/hub-image-requirements.txt,
installed once into .venv-hub/), with z2jh's own jupyterhub_config.py and z2jh.py of the
chart that renders them: 4.2.0 as the BinderHub chart bundles it, 4.4.0 in jupyterhub mode.
In binderhub mode the BinderHub chart's hub code (its BinderSpawner) is part of what loads.

A stack fails on an unknown config option or section, a trait validation error, an ERROR log
line, or any warning not listed in EXPECTED_WARNINGS with its reason (tests/hub_image.py and
tests/hub_config_check.py say how; tests/data/upstream/README.md names the upstream files).
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from components import charts
from components.config_load import parse_config
from tests import hub_image
from tests.helpers import raw_config, release
from tests.test_preview import run, stack_config
from tools.plan import plan_document

ROOT = Path(__file__).resolve().parent.parent
# Stacks that run a hub (a federation's members run theirs: tests/test_federation.py).
STACK_FILES = [path for path in [ROOT / "Pulumi.dev.yaml", *sorted((ROOT / "examples").glob("Pulumi.*.yaml"))]
               if "mode: federation" not in path.read_text()]
GITHUB = {"type": "github", "clientId": "gh-client", "allowedOrganizations": ["testuni"], "admins": ["alice"]}
ENTRA = {"type": "entra", "clientId": "entra-client", "tenantId": "12345678-1234-1234-1234-123456789012"}
# What no example stack turns on: profiles (with a GPU), per-user disks, datasets, monitoring,
# placeholders, Entra ID login for Binder.
FEATURE_STACKS: dict[str, dict[str, Any]] = {
    "hub-github-profiles-gpu-disks": {
        "mode": "jupyterhub", "auth": GITHUB, "secrets": {"authClientSecret": "oauth-plaintext"},
        "storage": {"type": "perUserDisk"}, "speed": {"placeholders": 2}, "monitoring": {"enabled": True},
        "cluster": {"gpuPool": {"vmSize": "Standard_NC4as_T4_v3", "minCount": 0, "maxCount": 1}},
        "profiles": [
            {"displayName": "Python", "image": "quay.io/jupyter/scipy-notebook:latest", "default": True},
            {"displayName": "RStudio", "image": "rocker/binder:latest", "defaultUrl": "/rstudio", "memory": "4G"},
            {"displayName": "GPU", "image": "quay.io/jupyter/pytorch-notebook:cuda12-latest", "gpu": True},
        ],
    },
    "binder-entra-datasets-monitoring": {
        "auth": ENTRA, "secrets": {"authClientSecret": "oauth-plaintext"}, "monitoring": {"enabled": True},
        "cluster": {"systemPool": {"vmSize": "Standard_E2s_v5"}},  # Binder with monitoring (components/fit.py)
        "datasets": [{"name": "census", "storageAccount": "testunicensus", "container": "census",
                      "mountPath": "/srv/census", "create": True}],
    },
    # Issue 25: every repository token, the institution's GitLab and GitHub Enterprise as extra
    # providers, a narrowed provider list, private repositories behind login.
    "binder-repos-private-login": {
        "auth": GITHUB, "secrets": {"authClientSecret": "oauth-plaintext", "githubToken": "gh-plaintext",
                                    "gitlabToken": "gl-plaintext", "githubEnterpriseToken": "ghe-plaintext"},
        "repos": {"providers": ["gh", "gitlab", "ghe", "git"], "gitlabHost": "gitlab.testuni.example",
                  "githubEnterpriseHost": "github.testuni.example", "privateRepositories": True},
    },
    # Anonymous Binder: the github.com token, an Enterprise host without a token (which must not
    # inherit the github.com one), BinderHub's default providers plus it, CORS for any site.
    "binder-repos-cors-anonymous": {
        "secrets": {"githubToken": "gh-plaintext"},
        "repos": {"githubEnterpriseHost": "github.testuni.example"},
        "binderSite": {"corsAllowOrigins": ["*"]},
    },
}
AUTHENTICATORS = {"none": "NullAuthenticator", "github": "GitHubOAuthenticator", "entra": "AzureAdOAuthenticator"}
# Warnings a correct config still logs, each with why it is expected; any other warning fails.
EXPECTED_WARNINGS = {
    # jupyter_events (pinned by the image) about JupyterHub's own event schema, not about config.
    r"^\S+/jupyter_events/schema.py:\d+: JupyterEventsVersionWarning: The `version` property of an event "
    r"schema must be a string":
        "library warning inside the image",
    # Binder without login: the BinderHub chart's NullAuthenticator admits nobody by design;
    # BinderHub creates the (temporary) users through the API.
    r"^No allow config found, it's possible that nobody can login to your Hub!":
        "NullAuthenticator (binderhub mode without login)",
    # Authenticated Binder: binder is an OAuth client that users need not confirm (hub_spec).
    r"^Allowing service binder to complete OAuth without confirmation on an authorization web page$":
        "oauth_no_confirm for the binder service",
}


@pytest.fixture(scope="session")
def hub_python() -> Path:
    return hub_image.hub_python()


def _stack_release(name: str, render: Callable[..., dict[str, Any]]) -> tuple[dict[str, Any], Any]:
    """(hub release of the plan, parsed config) of a stack file or a feature stack."""
    if name in FEATURE_STACKS:
        keys = dict(FEATURE_STACKS[name])
        secrets = keys.pop("secrets", None)
        raw, secret = raw_config(secrets, **keys)
        plan = render(secrets, **keys)
    else:
        path = next(p for p in STACK_FILES if p.name == name)
        raw, secret = stack_config(path)
        plan = plan_document(parse_config(raw, secret), run(path, preview=False), path.name.split(".")[1])
    cfg = parse_config(raw, secret)
    return release(plan, "binderhub" if cfg.binder else "jupyterhub"), cfg


def load_hub(python: Path, directory: Path, chart: charts.Chart, release_values: dict[str, Any],
             release_name: str, namespace: str) -> dict[str, Any]:
    """Write the hub's files for a hub release and run the check in the hub image's Python."""
    values = hub_image.chart_values(chart, release_values)
    image = values["hub"]["image"]
    assert f"{image['name']}:{image['tag']}" == hub_image.requirements_image(), (
        "the release runs another hub image than the one whose packages the check installs: "
        "update tests/hub-image-requirements.txt")
    z2jh = (charts.BINDERHUB_JUPYTERHUB if chart == charts.BINDERHUB else charts.JUPYTERHUB).version
    env = hub_image.hub_directory(directory, z2jh, values, release_name, namespace)
    done = subprocess.run([str(python), str(hub_image.CHECK_SCRIPT), str(directory)], env=env, cwd=directory,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"the check itself failed:\n{done.stderr[-4000:]}"
    report = json.loads(done.stdout.strip().splitlines()[-1])
    report["stderr"] = done.stderr
    return report


def mistakes(report: dict[str, Any], expected: dict[str, str] = EXPECTED_WARNINGS) -> list[str]:
    """Everything in a check's report that a correct config does not produce: problems the check
    found, ERROR and CRITICAL records, and warnings not in `expected` (among them traitlets'
    "Config option `x` not recognized by `Y`")."""
    found = list(report["problems"])
    for record in report["log"]:
        message = record["message"]
        if record["level"] in ("ERROR", "CRITICAL") or not any(re.search(p, message) for p in expected):
            found.append(f"{record['level']} {record['logger']}: {message}")
    return found


@pytest.mark.parametrize("name", [p.name for p in STACK_FILES] + sorted(FEATURE_STACKS))
def test_rendered_hub_config_loads_in_the_hub_image(name, render, hub_python, tmp_path):
    hub, cfg = _stack_release(name, render)
    chart = charts.BINDERHUB if cfg.binder else charts.JUPYTERHUB
    report = load_hub(hub_python, tmp_path, chart, hub["values"], hub["name"], hub["namespace"] or "default")
    assert mistakes(report) == [], report["stderr"][-4000:]

    pins = hub_image.pinned_versions()
    assert report["versions"]["jupyterhub"] == pins["jupyterhub"]
    assert report["versions"]["kubespawner"] == pins["jupyterhub-kubespawner"]
    assert report["versions"]["oauthenticator"] == pins["oauthenticator"]
    assert report["authenticator"] == AUTHENTICATORS[cfg.auth.type]
    assert report["proxy"] == "ConfigurableHTTPProxy"
    if cfg.binder:
        # The BinderHub chart's spawner, from its extraConfig code, is the one the hub uses.
        assert report["spawner"][:3] == ["BinderSpawner", "BinderSpawnerMixin", "KubeSpawner"]
        assert "binder" in report["services"] and "binder" in report["roles"]
        assert "BinderSpawner" in report["sections"]
    else:
        assert report["spawner"][0] == "KubeSpawner"
    assert "jupyterhub-idle-culler" in report["services"]
    assert len(report["profiles"]) == len(cfg.profiles)
    assert "block-cloud-metadata" in report["spawner_settings"]["init_containers"]
    if cfg.home_storage == "shared":
        # The home-owner init container mounts the very directory the server gets as its home,
        # and gives it the server's uid and gid (practices_spec._home_owner_container).
        home = report["home"]
        (server,) = home["server"]
        (owned,) = home["init"]["home-owner"]["mounts"]
        assert owned == server and server["subPath"] not in ("", "{username}"), home
        command = home["init"]["home-owner"]["command"][-1]
        assert command.endswith(f"chown {home['uid']}:{home['fs_gid']} {server['mountPath']}"), command


def _dev_release(render: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    return _stack_release("Pulumi.dev.yaml", render)[0]


def test_the_check_fails_on_unknown_options_and_sections(render, hub_python, tmp_path):
    hub = _dev_release(render)
    values = charts.merge(hub["values"], {"jupyterhub": {"hub": {"config": {
        "KubeSpawner": {"mem_limt": "1G"}, "KubeSpawnr": {"mem_limit": "1G"}}}}})
    report = load_hub(hub_python, tmp_path, charts.BINDERHUB, values, hub["name"], "default")
    found = "\n".join(mistakes(report))
    assert "Config option `mem_limt` not recognized by `BinderSpawner`" in found
    assert "KubeSpawnr" in found


def test_the_check_fails_on_a_value_a_trait_refuses(render, hub_python, tmp_path):
    hub = _dev_release(render)
    values = charts.merge(hub["values"], {"jupyterhub": {"hub": {"config": {"KubeSpawner": {"mem_limit": "lots"}}}}})
    report = load_hub(hub_python, tmp_path, charts.BINDERHUB, values, hub["name"], "default")
    assert any("lots is not a valid memory specification" in m for m in mistakes(report)), report["stderr"][-2000:]


def test_the_chart_code_is_the_vendored_upstream_text():
    # The placeholders of components/chart_data stand exactly where tests/data/upstream has code.
    defaults = charts.defaults(charts.BINDERHUB)
    for path, code in hub_image.binderhub_code().items():
        node: Any = defaults
        for key in path:
            node = node[key]
        assert node == hub_image.PLACEHOLDER
        assert code.strip()
    assert "class BinderSpawner(BinderSpawnerMixin, KubeSpawner)" in hub_image.binderhub_code()[
        ("jupyterhub", "hub", "extraConfig", "00-binder")]


def test_the_upstream_files_are_unmodified():
    # Every file under tests/data/upstream has the git blob or sha256 its README records.
    readme = (hub_image.UPSTREAM / "README.md").read_text()
    blobs = dict(re.findall(r"^\| `([^`]+)` \|[^\n]*\| `([0-9a-f]{40})` \|$", readme, re.MULTILINE))
    sums = dict(re.findall(r"^\| `([^`]+)` \|[^\n]*\| `([0-9a-f]{64})` \|$", readme, re.MULTILINE))
    files = sorted(p for p in hub_image.UPSTREAM.rglob("*") if p.is_file() and p.name != "README.md")
    for path in files:
        data = path.read_bytes()
        name = str(path.relative_to(hub_image.UPSTREAM))
        if name in blobs:
            assert hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest() == blobs[name], name
        else:
            assert hashlib.sha256(data).hexdigest() == sums[path.name], name
    assert len(blobs) + len(sums) == len(files)
