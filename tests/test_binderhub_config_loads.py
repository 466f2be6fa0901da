"""Opt-in: BinderHub's own config (the chart's `config:` block) loads in BinderHub at the chart's commit.

BinderHub is not on a package registry at the pinned chart's commit, and CI reaches nothing
else, so this runs only when BINDERHUB_AZURE_BINDERHUB_SOURCE names a source checkout of
jupyterhub/binderhub at that commit (af9ca8b1; `git clone` and `git checkout`, or an unpacked
`git archive`). It installs that checkout's binder image pins
(helm-chart/images/binderhub/requirements.txt) into `.venv-binderhub/`, puts the checkout on
PYTHONPATH, writes what the binder pod mounts (the chart's files/binderhub_config.py and the
values it reads) and runs BinderHub's own startup on it (tests/binderhub_config_check.py).
Like the hub's check, an unknown option or section, a value a trait refuses, an error or an
unexplained warning fails it.
Each repository provider the stack offers is made from that config as BinderHub makes it for a
launch: the ids, hosts, which of them hold a token (the github.com token must not reach the GitHub
Enterprise provider) and CORS are compared with what the stack's keys say.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from components import charts, repos_spec
from tests import hub_image
from tests.test_hub_config_loads import FEATURE_STACKS, STACK_FILES, _stack_release, mistakes

SOURCE_ENV = "BINDERHUB_AZURE_BINDERHUB_SOURCE"
COMMIT = "af9ca8b1e498989667dc2a3e96134f404c9c5dfc"
# Git blob of helm-chart/binderhub/values.yaml at COMMIT (tests/data/upstream/README.md).
VALUES_BLOB = "bf6b33d6d07809dbd997a3bfc091bed2e6d3492d"
VENV = hub_image.ROOT / ".venv-binderhub"
CHECK_SCRIPT = hub_image.TESTS / "binderhub_config_check.py"
CHART_ETC = "/etc/binderhub/config"
# Where the launch-events snippet (practices_spec.EVENTS_CONFIG) writes: a volume in the pod.
EVENTS_DIR = "/srv/binder-events"
# Warnings a correct config still logs at the chart's commit, each with why; any other fails.
EXPECTED_WARNINGS = {
    # The chart's own templates (container-builder/daemonset.yaml, image-cleaner.yaml) place the
    # dind and image-cleaner DaemonSets by `config.BinderHub.build_node_selector`, so the stack
    # sets it (hub_spec.binderhub_values); BinderHub passes it on to the build pods.
    r"^BinderHub.build_node_selector is deprecated, use KubernetesBuildExecutor.node_selector$":
        "read by the chart's templates",
    # Set by the chart's own files/binderhub_config.py for imageBuilderType dind.
    r"^BinderHub.build_docker_host is deprecated, use KubernetesBuildExecutor.docker_host$":
        "set by the chart's binderhub_config.py",
}
BINDER_STACKS = [p.name for p in STACK_FILES if "course-hub" not in p.name] + [
    name for name, keys in FEATURE_STACKS.items() if keys.get("mode") != "jupyterhub"]


def _git_blob(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@pytest.fixture(scope="session")
def binderhub_source() -> Path:
    source = os.environ.get(SOURCE_ENV)
    if not source:
        pytest.skip(f"opt-in: set {SOURCE_ENV} to a jupyterhub/binderhub checkout at {COMMIT[:8]} "
                    "(BinderHub at that commit is on no package registry)")
    path = Path(source)
    version = (path / "binderhub" / "_version.py").read_text()
    found = re.search(r'git_full = "([0-9a-f]{40})"', version)
    commit = found.group(1) if found else subprocess.run(
        ["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    assert commit == COMMIT, f"{SOURCE_ENV} is at {commit}, the pinned chart is built from {COMMIT}"
    assert _git_blob((path / "helm-chart" / "binderhub" / "values.yaml").read_bytes()) == VALUES_BLOB
    return path


@pytest.fixture(scope="session")
def binderhub_python(binderhub_source: Path) -> Path:
    return hub_image.make_venv(VENV, binderhub_source / "helm-chart" / "images" / "binderhub" / "requirements.txt")


def binder_files(directory: Path, source: Path, release_values: dict[str, Any]) -> dict[str, str]:
    """Write what the binder pod mounts for these release values; return its environment."""
    hub = hub_image.chart_values(charts.BINDERHUB, release_values)  # the hub's values, as in its check
    values = charts.coalesce(charts.BINDERHUB, release_values)
    values = json.loads(json.dumps(values).replace("[secret]", hub_image.DUMMY_SECRET))
    # templates/secret.yaml: `pick .Values "config" "imageBuilderType" "cors" "dind" "pink" "extraConfig"`.
    picked = {key: values[key] for key in ("config", "imageBuilderType", "cors", "dind", "pink", "extraConfig")
              if key in values}
    events = directory / "binder-events"
    picked["extraConfig"] = {key: code.replace(EVENTS_DIR, str(events))
                             for key, code in (picked.get("extraConfig") or {}).items()}
    (directory / "values.yaml").write_text(yaml.safe_dump(picked))
    config = (source / "helm-chart" / "binderhub" / "files" / "binderhub_config.py").read_text()
    assert CHART_ETC in config
    (directory / "binderhub_config.py").write_text(config.replace(CHART_ETC, str(directory)))
    # templates/_helpers.tpl buildDockerConfig: the registry credential as config.json.
    registry = values["registry"]
    url = registry.get("url") or "https://index.docker.io/v1/"
    auth = base64.b64encode(f"{registry.get('username') or '<token>'}:{registry['password']}".encode()).decode()
    (directory / "docker").mkdir()
    (directory / "docker" / "config.json").write_text(json.dumps({"auths": {url: {"auth": auth}}}))
    (directory / "kubeconfig").write_text(hub_image.KUBECONFIG)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(directory),
        "PYTHONPATH": str(source),
        "BUILD_NAMESPACE": "binderhub",
        "JUPYTERHUB_API_TOKEN": hub_image.DUMMY_SECRET,
        "DOCKER_CONFIG": str(directory / "docker"),
        "KUBECONFIG": str(directory / "kubeconfig"),
    }
    config_block = values["config"]["BinderHub"]
    if config_block.get("auth_enabled"):
        binder = hub["hub"]["services"]["binder"]  # templates/deployment.yaml's env
        env |= {
            "JUPYTERHUB_SERVICE_NAME": "binder",
            "JUPYTERHUB_API_URL": (config_block.get("hub_url_local") or config_block["hub_url"]).rstrip("/")
            + "/hub/api/",
            "JUPYTERHUB_BASE_URL": hub["hub"]["baseUrl"],
            "JUPYTERHUB_CLIENT_ID": binder["oauth_client_id"],
            "JUPYTERHUB_OAUTH_CALLBACK_URL": binder["oauth_redirect_uri"],
        }
    return env


@pytest.mark.parametrize("name", BINDER_STACKS)
def test_binderhub_config_loads_in_binderhub(name, render, binderhub_source, binderhub_python, tmp_path):
    hub, cfg = _stack_release(name, render)
    assert cfg.binder
    env = binder_files(tmp_path, binderhub_source, hub["values"])
    done = subprocess.run([str(binderhub_python), str(CHECK_SCRIPT), str(tmp_path)], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert mistakes(report, EXPECTED_WARNINGS) == [], done.stderr[-4000:]
    assert report["build_class"] == "KubernetesBuildExecutor"
    assert report["build_docker_host"] == "unix:///var/run/dind/docker.sock"
    assert report["auth_enabled"] is (cfg.auth.type != "none")
    assert report["image_prefix"] == hub["values"]["config"]["BinderHub"]["image_prefix"]
    # Repository providers (issue 25): the ids the stack offers, each made from its config, with a
    # token exactly where the stack holds one, and CORS as binderSite.corsAllowOrigins says.
    providers = report["repo_providers"]
    assert list(providers) == repos_spec.enabled_providers(cfg)
    # A provider made from its config is a mapping; one whose constructor does not take the check's
    # GitHub-style spec says so (its config was loaded by then).
    assert all(isinstance(p, dict) or p.startswith("spec refused") for p in providers.values()), providers
    made = {pid: p for pid, p in providers.items() if isinstance(p, dict)}
    assert all(p["id"] == pid for pid, p in made.items())
    held = cfg.secrets_set
    if "gh" in made:
        assert made["gh"]["token"] is ("githubToken" in held)
    if "gitlab" in made:
        assert made["gitlab"]["hostname"] == cfg.repos.gitlab_host
        assert made["gitlab"]["token"] is ("gitlabToken" in held)
    if "ghe" in made:
        assert made["ghe"]["hostname"] == cfg.repos.github_enterprise_host
        assert made["ghe"]["token"] is ("githubEnterpriseToken" in held)  # never github.com's
        assert made["ghe"]["api"] == f"https://{cfg.repos.github_enterprise_host}/api/v3"
    if "gh" in made:
        assert (made["gh"]["hostname"], made["gh"]["api"]) == ("github.com", "https://api.github.com")
    assert report["cors_allow_origin"] == (repos_spec.cors_origin(cfg) or "")

