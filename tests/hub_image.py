"""What the hub pod sees, rebuilt from rendered chart values, and the hub image's Python.

The JupyterHub chart (z2jh) gives its hub three things, and nothing else (templates/hub/
secret.yaml, configmap.yaml and deployment.yaml at tags 4.2.0 and 4.4.0):

- `/usr/local/etc/jupyterhub/jupyterhub_config.py` and `z2jh.py`: files of the chart;
- `/usr/local/etc/jupyterhub/secret/`: `values.yaml` (the chart's coalesced values plus `Chart`
  and `Release`), the proxy token, cookie secret, CryptKeeper keys and each service's API token;
- `/usr/local/etc/jupyterhub/config/`: one file per resource name (`hub`, `proxy-api`, ...),
  and environment variables (release name, namespace, the proxy token, Services' ports).

`hub_directory` writes the same into a directory, and copies of the two chart files whose
path constant points there. `hub_python` makes the virtualenv of the hub image's packages
(with `make_venv`, which tests/tljh_hub.py uses for TLJH's hub environment too).
"""

from __future__ import annotations

import copy
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from components import charts

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
UPSTREAM = TESTS / "data" / "upstream"
REQUIREMENTS = TESTS / "hub-image-requirements.txt"
VENV = ROOT / ".venv-hub"
CHECK_SCRIPT = TESTS / "hub_config_check.py"

# Where the chart mounts the hub's files; the copies in a test directory point at it instead.
HUB_ETC = "/usr/local/etc/jupyterhub"
# components/chart_data stands a short text in for the BinderHub chart's code strings; the real
# ones, unmodified, are in tests/data/upstream/binderhub/ (see its README).
PLACEHOLDER = "(chart default omitted from this copy; see the chart)"
BINDERHUB_CODE = {
    ("jupyterhub", "hub", "extraConfig", "0-binderspawnermixin"): "jupyterhub.hub.extraConfig.0-binderspawnermixin.py",
    ("jupyterhub", "hub", "extraConfig", "00-binder"): "jupyterhub.hub.extraConfig.00-binder.py",
    ("jupyterhub", "singleuser", "cmd", 2): "jupyterhub.singleuser.cmd.2.py",
}
BINDERHUB_COMMIT = "af9ca8b1"
# Any generated secret of the plan ("[secret]") becomes this: 32 bytes in hex, which every
# secret the hub reads accepts (cookie secret, CryptKeeper key, API and proxy tokens).
DUMMY_SECRET = "0123456789abcdef" * 4
# Ports of the chart's Services, which Kubernetes gives pods as <NAME>_SERVICE_PORT.
SERVICE_PORTS = {"hub": 8081, "proxy-api": 8001, "proxy-public": 80}
# A kubeconfig for KubeSpawner's client setup: the hub pod uses its service account instead;
# the check never contacts a cluster.
KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: none, cluster: {server: "https://kubernetes.invalid"}}]
users: [{name: none, user: {token: none}}]
contexts: [{name: none, context: {cluster: none, user: none}}]
current-context: none
"""


# ------------------------------------------------------------------------ the hub's virtualenv

def make_venv(venv: Path, requirements: Path) -> Path:
    """The interpreter of `venv`, made from `requirements` when missing or out of date (as ./run
    does for .venv, keyed by the file's hash). A file lock lets one pytest-xdist worker build it
    while the others wait; the stamp is written last, so a half-built venv is rebuilt."""
    python = venv / "bin" / "python"
    stamp = venv / ".requirements.sha256"
    want = hashlib.sha256(requirements.read_bytes()).hexdigest()
    with open(venv.with_name(venv.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if python.exists() and stamp.exists() and stamp.read_text().strip() == want:
            return python
        started = time.monotonic()
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "-r", str(requirements)], check=True)
        stamp.write_text(want + "\n")
        print(f"built {venv.name} in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return python


def hub_python() -> Path:
    """The interpreter of `.venv-hub`, with the hub image's packages."""
    return make_venv(VENV, REQUIREMENTS)


def requirements_image() -> str:
    """`name:tag` of the hub image whose packages tests/hub-image-requirements.txt lists."""
    found = re.search(r"^# image: (\S+)$", REQUIREMENTS.read_text(), re.MULTILINE)
    assert found, f"{REQUIREMENTS.name} names no '# image:'"
    return found.group(1)


def pinned_versions(requirements: Path = REQUIREMENTS) -> dict[str, str]:
    """`package -> version` of a pinned requirements file, by default tests/hub-image-requirements.txt
    (normalised names)."""
    pins = {}
    for line in requirements.read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    return pins


# ----------------------------------------------------------------------------- the hub's files

def _walk(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    yield path, node
    if isinstance(node, Mapping):
        for key, value in node.items():
            yield from _walk(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, (*path, index))


def _replace(node: Any, old: str, new: str) -> Any:
    if isinstance(node, Mapping):
        return {key: _replace(value, old, new) for key, value in node.items()}
    if isinstance(node, list):
        return [_replace(value, old, new) for value in node]
    return new if node == old else node


def binderhub_code() -> dict[tuple[Any, ...], str]:
    """The BinderHub chart's embedded code strings, by their path in its values."""
    folder = UPSTREAM / "binderhub" / BINDERHUB_COMMIT
    return {path: (folder / name).read_text() for path, name in BINDERHUB_CODE.items()}


def chart_values(chart: charts.Chart, release_values: Mapping[str, Any]) -> dict[str, Any]:
    """The values the JupyterHub chart renders with, for a hub release's values: coalesced with
    the chart defaults as Helm does (for BinderHub, its `jupyterhub:` block, the subchart's
    values), the BinderHub chart's real code strings in place of the placeholders, image tags
    as chartpress publishes them, and the plan's "[secret]" stand-ins as dummy secrets."""
    # A deep copy: coalesce shares unchanged branches with the cached chart defaults.
    document = copy.deepcopy(charts.coalesce(chart, release_values))
    if chart == charts.BINDERHUB:
        for path, code in binderhub_code().items():
            parent = document
            for key in path[:-1]:
                parent = parent[key]
            if parent[path[-1]] == PLACEHOLDER:  # unless the release values replaced it
                parent[path[-1]] = code
        document = document["jupyterhub"]
        hub_chart = charts.BINDERHUB_JUPYTERHUB
    else:
        hub_chart = chart
    left = [path for path, value in _walk(document) if value == PLACEHOLDER]
    assert not left, f"chart_data placeholders with no upstream string in tests/data/upstream: {left}"
    document = _replace(document, "set-by-chartpress", hub_chart.version)
    return _replace(document, "[secret]", DUMMY_SECRET)


def _names(release: str) -> dict[str, str]:
    """The resource names z2jh's hub ConfigMap lists (_helpers-names.tpl) for
    `fullnameOverride: ""`, the chart default this stack keeps: most are the bare component
    name, the cluster-wide ones carry the release name."""
    bare = ["hub", "proxy", "proxy-api", "proxy-http", "proxy-public", "autohttps", "user-placeholder",
            "hook-image-awaiter", "hook-image-awaiter-serviceaccount", "hook-image-puller",
            "hook-image-puller-serviceaccount", "continuous-image-puller",
            "continuous-image-puller-serviceaccount", "singleuser", "image-pull-secret"]
    return {name: name for name in bare} | {
        "fullname": "", "fullname-dash": "", "hub-existing-secret": "", "ingress": "jupyterhub",
        "hub-serviceaccount": "hub", "hub-existing-secret-or-default": "hub", "hub-pvc": "hub-db-dir",
        "autohttps-serviceaccount": "autohttps", "user-scheduler-deploy": "user-scheduler",
        "user-scheduler-serviceaccount": "user-scheduler", "user-scheduler-lock": "user-scheduler-lock",
        "proxy-public-tls": "proxy-public-tls-acme", "proxy-public-manual-tls": "proxy-public-manual-tls",
        "priority": f"{release}-default-priority",
        "user-placeholder-priority": f"{release}-user-placeholder-priority",
        "image-puller-priority": f"{release}-image-puller-priority",
        "user-scheduler": f"{release}-user-scheduler",
    }


def _secrets(values: Mapping[str, Any]) -> dict[str, str]:
    """The chart's generated-or-given secrets (templates/hub/_helpers-passwords.tpl): the value
    given, else what Helm would generate (a dummy here)."""
    hub = values["hub"]
    config = hub.get("config") or {}
    secrets = {
        "hub.config.ConfigurableHTTPProxy.auth_token":
            (config.get("ConfigurableHTTPProxy") or {}).get("auth_token") or values["proxy"].get("secretToken")
            or DUMMY_SECRET,
        "hub.config.JupyterHub.cookie_secret":
            (config.get("JupyterHub") or {}).get("cookie_secret") or hub.get("cookieSecret") or DUMMY_SECRET,
        "hub.config.CryptKeeper.keys": ";".join((config.get("CryptKeeper") or {}).get("keys") or [DUMMY_SECRET]),
    }
    for key, service in (hub.get("services") or {}).items():
        secrets[f"hub.services.{key}.apiToken"] = service.get("api_token") or service.get("apiToken") or DUMMY_SECRET
    if hub["db"].get("password"):
        secrets["hub.db.password"] = hub["db"]["password"]
    return secrets


def hub_directory(directory: Path, z2jh_tag: str, values: Mapping[str, Any], release: str,
                  namespace: str) -> dict[str, str]:
    """Write the hub's files for `values` (from `chart_values`) into `directory`; return the
    environment the hub container gets."""
    assert z2jh_tag in (charts.BINDERHUB_JUPYTERHUB.version, charts.JUPYTERHUB.version), z2jh_tag
    assert values.get("fullnameOverride") == "", "hub_image._names assumes z2jh's fullnameOverride: \"\""
    for name in ("jupyterhub_config.py", "z2jh.py"):
        text = (UPSTREAM / "zero-to-jupyterhub-k8s" / z2jh_tag / name).read_text()
        assert HUB_ETC in text, f"{name} no longer names {HUB_ETC}"
        (directory / name).write_text(text.replace(HUB_ETC, str(directory)))
    (directory / "config").mkdir()
    for key, name in _names(release).items():
        (directory / "config" / key).write_text(name)
    (directory / "secret").mkdir()
    document = {**values, "Chart": {"Name": "jupyterhub", "Version": z2jh_tag},
                "Release": {"Name": release, "Namespace": namespace, "Service": "Helm"}}
    (directory / "secret" / "values.yaml").write_text(yaml.safe_dump(document))
    secrets = _secrets(values)
    for key, value in secrets.items():
        (directory / "secret" / key).write_text(value)
    (directory / "kubeconfig").write_text(KUBECONFIG)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(directory),
        "PYTHONUNBUFFERED": "1",
        "HELM_RELEASE_NAME": release,
        "POD_NAMESPACE": namespace,
        "CONFIGPROXY_AUTH_TOKEN": secrets["hub.config.ConfigurableHTTPProxy.auth_token"],
        "KUBECONFIG": str(directory / "kubeconfig"),
    }
    for service, port in SERVICE_PORTS.items():
        prefix = service.upper().replace("-", "_")
        env[f"{prefix}_SERVICE_HOST"] = "10.0.0.1"
        env[f"{prefix}_SERVICE_PORT"] = str(port)
    extra = values["hub"].get("extraEnv") or {}
    items = extra.items() if isinstance(extra, Mapping) else ((item["name"], item) for item in extra)
    for name, item in items:
        value = item.get("value") if isinstance(item, Mapping) else item
        if value is not None:  # valueFrom (a Secret's key) is the cluster's business
            env[name] = str(value)
    return env
