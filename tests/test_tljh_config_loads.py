"""The rendered TLJH config reaches TLJH as valid config and loads in its hub environment's packages.

For each stack below (GitHub login with organisations, users and admins; Entra ID login; HTTPS
with Let's Encrypt production and staging, and plain HTTP; a fractional CPU limit; culling), the
VM's cloud-init as the program renders it under mocks gives install-tljh.sh and
configure-tljh.sh. Their `--admin` names and `tljh-config set` / `add-item` commands are replayed
into the config.yaml TLJH would store (tests/tljh_hub.py), and tests/tljh_config_check.py, run
with the Python of TLJH's hub environment (tests/tljh-hub-requirements.txt, installed once into
.venv-tljh/), validates every step with TLJH's own schema, renders Traefik's config from it, and
runs JupyterHub's startup with TLJH's own jupyterhub_config.py and configurer (the unmodified
modules in tests/data/upstream/the-littlest-jupyterhub/), with the config.d snippets install-tljh.sh
copies into TLJH's jupyterhub_config.d (the sleep schedule's: announcement, service, role, and a
token it makes on the VM) loaded by TLJH's own loop over that folder: the real JupyterHub, OAuthenticator
(GitHubOAuthenticator, AzureAdOAuthenticator), TraefikFileProviderProxy and TLJH's
UserCreatingSpawner around SystemdSpawner.

A stack fails on a command tljh-config refuses, an unknown config option or section, a value a
trait refuses, an ERROR log line, or any warning not in EXPECTED_WARNINGS with its reason. What
only the VM has is stood in for, and said where (tests/tljh_config_check.py): the systemd version,
and the wait for the running Traefik's API. No user is created and nothing is served.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from components import sleep_spec, tljh_spec
from components.config_fields import memory_bytes
from components.config_load import parse_config
from tests import hub_image, tljh_hub
from tests.helpers import TEST_SSH_KEY, one, raw_config
from tests.test_hub_config_loads import mistakes

GITHUB = {"type": "github", "clientId": "Iv1.0123456789abcdef"}
ENTRA = {"type": "entra", "clientId": "11111111-2222-3333-4444-555555555555",
         "tenantId": "12345678-1234-1234-1234-123456789012"}
BASE_TLJH: dict[str, Any] = {"mode": "tljh", "vm": {"sshPublicKey": TEST_SSH_KEY},
                             "secrets": {"authClientSecret": "oauth-plaintext"}}
TLJH_STACKS: dict[str, dict[str, Any]] = {
    "github-orgs-users-https": {
        "auth": {**GITHUB, "allowedOrganizations": ["testuni", "testuni:rse-team"], "allowedUsers": ["bob"],
                 "admins": ["alice", "carol"]},
    },
    "github-allow-all-http-half-cpu-classic": {
        "https": False, "defaultUrl": "/tree", "auth": {**GITHUB, "allowAll": True, "admins": ["alice"]},
        "limits": {"cpu": 0.5, "memory": "1.5G", "cullIdleMinutes": 30, "maxAgeHours": 8},
    },
    "entra-tenant-https-staging": {
        "letsEncrypt": "staging", "domain": "hub.myuni.example",
        "auth": {**ENTRA, "admins": ["alice@myuni.example"]},
    },
    "github-sleeping-with-early-stop": {
        "auth": {**GITHUB, "allowedUsers": ["bob"], "admins": ["alice"]},
        "schedule": {"timeZone": "Europe/London", "stopServersMinutesBefore": 15,
                     "awake": [{"days": ["mon", "tue", "wed", "thu", "fri"], "from": "08:30", "to": "18:00"}]},
    },
    "entra-allowed-users": {
        "auth": {**ENTRA, "allowedUsers": ["bob@myuni.example"], "allowAll": False, "admins": ["alice@myuni.example"]},
        "limits": {"cpu": 2, "memory": "4G", "maxAgeHours": 0.5},
    },
}
AUTHENTICATORS = {"github": "GitHubOAuthenticator", "entra": "AzureAdOAuthenticator"}
# Warnings a correct config still logs, each with why it is expected; any other warning fails.
EXPECTED_WARNINGS = {
    r"^\S+/jupyter_events/schema.py:\d+: JupyterEventsVersionWarning: The `version` property of an event "
    r"schema must be a string":
        "library warning about JupyterHub's own event schema, not about config",
    r"^Service cull-idle sets `admin: True`, which is deprecated in JupyterHub 2.0":
        "TLJH's configurer (set_cull_idle_service) defines its idle culler so; TLJH's code, not the stack's",
}


@pytest.fixture(scope="session")
def tljh_python() -> Path:
    return tljh_hub.tljh_python()


def _stack(name: str) -> tuple[dict[str, str] | None, dict[str, Any]]:
    keys = {**BASE_TLJH, **TLJH_STACKS[name]}
    return keys.pop("secrets"), keys


def scripts(plan: dict[str, Any]) -> tuple[str, str]:
    """(install-tljh.sh, configure-tljh.sh) as the VM's cloud-init in the plan writes them."""
    vm = one(plan, "azure-native:compute:VirtualMachine")
    doc = yaml.safe_load(base64.b64decode(vm["inputs"]["osProfile"]["customData"]).decode())
    files = {f["path"]: f["content"] for f in doc["write_files"]}
    return files[f"{tljh_spec.SCRIPT_DIR}/install-tljh.sh"], files[f"{tljh_spec.SCRIPT_DIR}/configure-tljh.sh"]


def hub_snippets(plan: dict[str, Any]) -> dict[str, str]:
    """The config.d files install-tljh.sh copies into TLJH's config folder (`install -m 0600 SRC DIR/`),
    by name, with the content cloud-init wrote to SRC."""
    vm = one(plan, "azure-native:compute:VirtualMachine")
    doc = yaml.safe_load(base64.b64decode(vm["inputs"]["osProfile"]["customData"]).decode())
    files = {f["path"]: f["content"] for f in doc["write_files"]}
    install = files[f"{tljh_spec.SCRIPT_DIR}/install-tljh.sh"]
    found = {}
    for line in install.splitlines():
        if line.startswith("install -m 0600 ") and line.endswith(f" {tljh_spec.HUB_CONFIG_D}/"):
            source = line.split()[3]
            found[Path(source).name] = files[source]
    return found


def with_commands(configure: str, *extra: str) -> str:
    """The configure script with more tljh-config commands before its reloads."""
    head, reload, tail = configure.partition("tljh-config reload\n")
    assert reload, configure
    return head + "".join(f"{line}\n" for line in extra) + reload + tail


def load(python: Path, directory: Path, install: str, configure: str,
         snippets: dict[str, str] | None = None) -> dict[str, Any]:
    """Replay the scripts into TLJH's config, put the config.d `snippets` where TLJH's hub loads
    them, and run the check in the hub environment's Python."""
    return load_steps(python, directory, tljh_hub.config_steps(install, configure), snippets)


def load_steps(python: Path, directory: Path, steps: list[dict[str, Any]],
               snippets: dict[str, str] | None = None) -> dict[str, Any]:
    """Run the check on replayed `steps` (the first is the config they start from)."""
    env = tljh_hub.tljh_directory(directory, steps)
    config_d = Path(env["TLJH_INSTALL_PREFIX"]) / "config" / "jupyterhub_config.d"
    config_d.mkdir(parents=True, mode=0o700)
    for name, text in (snippets or {}).items():
        (config_d / name).write_text(text)
    done = subprocess.run([str(python), str(tljh_hub.CHECK_SCRIPT), str(directory)], env=env,
                          cwd=Path(env["TLJH_INSTALL_PREFIX"]) / "state", capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, f"the check itself failed:\n{done.stderr[-4000:]}"
    report = json.loads(done.stdout.strip().splitlines()[-1])
    report["stderr"] = done.stderr
    return report


@pytest.mark.parametrize("name", sorted(TLJH_STACKS))
def test_rendered_tljh_config_loads_in_the_hub_environment(name, render, tljh_python, tmp_path):
    secrets, keys = _stack(name)
    cfg = parse_config(*raw_config(secrets, **keys))
    plan = render(secrets, **keys)
    snippets = hub_snippets(plan)
    assert sorted(snippets) == ([tljh_spec.SLEEP_HUB_CONFIG] if "schedule" in keys else [])
    report = load(tljh_python, tmp_path, *scripts(plan), snippets)
    assert mistakes(report, EXPECTED_WARNINGS) == [], report["stderr"][-4000:]

    pins = hub_image.pinned_versions(tljh_hub.REQUIREMENTS)
    versions = {name: version for name, version in report["versions"].items() if name != "python"}
    assert versions == {name: pins[name] for name in versions}
    # TLJH's own default authenticator section is the only one no class reads.
    assert report["unused_sections"] == ["FirstUseAuthenticator"]

    auth = cfg.auth
    admins = sorted(set(auth.admins))
    assert report["authenticator"] == AUTHENTICATORS[auth.type]
    settings = report["authenticator_settings"]
    assert settings["client_id"] == auth.client_id and settings["client_secret_set"]
    assert settings["oauth_callback_url"] == f"{cfg.scheme}://{cfg.host}/hub/oauth_callback"
    assert settings["allow_all"] is cfg.allow_all
    # JupyterHub adds the admins to an allow list that names anyone.
    assert settings["allowed_users"] == (sorted({*auth.allowed_users, *admins}) if auth.allowed_users else [])
    assert settings["admin_users"] == admins == report["admins_in_db"]
    if auth.type == "github":
        assert settings["allowed_organizations"] == sorted(auth.allowed_organizations)
        assert settings["scope"] == (["read:org"] if auth.allowed_organizations else [])
    else:
        assert settings["tenant_id"] == auth.tenant_id
        assert settings["username_claim"] == "preferred_username"

    assert report["spawner"] == ["UserCreatingSpawner", "SystemdSpawner", "Spawner"]
    spawner = report["spawner_settings"]
    assert spawner["mem_limit"] == memory_bytes(cfg.limits.memory)
    assert spawner["cpu_limit"] == cfg.limits.cpu
    assert spawner["default_url"] == cfg.default_url
    culler = report["services"]["cull-idle"]
    assert f"--timeout={cfg.cull_idle_minutes * 60}" in culler
    assert f"--max-age={int(cfg.max_age_hours * 3600)}" in culler
    if cfg.schedule is None:
        assert report["template_vars"] == report["roles"] == report["service_tokens"] == {}
        assert sorted(report["services"]) == ["cull-idle"]
    else:
        # The snippet adds to TLJH's services (its culler stays) and roles, and announces the hours.
        assert sorted(report["services"]) == ["cull-idle", sleep_spec.SERVICE]
        assert report["template_vars"] == {"announcement": sleep_spec.announcement(cfg.schedule)}
        assert "stopped 15 minutes before it sleeps" in report["template_vars"]["announcement"]
        assert report["roles"] == {sleep_spec.SERVICE: {"scopes": sorted(sleep_spec.SERVICE_SCOPES),
                                                        "services": [sleep_spec.SERVICE]}}
        # The hub's database holds the token the snippet made, as the service's.
        assert report["service_tokens"] == {sleep_spec.SERVICE: sleep_spec.SERVICE}
        # The token was made on the (stand-in) VM, private to root, and is nowhere in the custom data.
        token_file = tmp_path / "opt-tljh" / tljh_spec.SLEEP_TOKEN_FILE
        token = token_file.read_text()
        assert len(token) == 64 and token_file.stat().st_mode & 0o777 == 0o600
        assert token not in json.dumps(plan)

    entrypoint = "https" if cfg.https else "http"
    assert report["proxy"] == ["TraefikFileProviderProxy", "TraefikProxy"]
    proxy = report["proxy_settings"]
    assert proxy["traefik_entrypoint"] == entrypoint
    assert proxy["waited_for"] == [entrypoint, "auth_api"]
    assert proxy["api_password_set"] and proxy["api_routers"] == ["route_api"]
    traefik = report["traefik"]
    if cfg.https:
        assert traefik["entrypoints"] == ["auth_api", "http", "https"]
        acme = traefik["acme"]
        assert acme["email"] == cfg.contact_email
        if cfg.lets_encrypt == "staging":
            assert acme["caServer"] == "https://acme-staging-v02.api.letsencrypt.org/directory"
        else:
            assert "caServer" not in acme  # Traefik's default CA: Let's Encrypt production
        assert traefik["generated_cert"] == {"resolver": "letsencrypt", "domain": {"main": cfg.host, "sans": []}}
    else:
        assert traefik == {"entrypoints": ["auth_api", "http"], "acme": None, "generated_cert": None}


def _github_scripts(render) -> tuple[str, str]:
    secrets, keys = _stack("github-orgs-users-https")
    return scripts(render(secrets, **keys))


def test_the_check_fails_on_what_tljh_config_refuses(render, tljh_python, tmp_path):
    install, configure = _github_scripts(render)
    configure = with_commands(configure, "tljh-config add-item users.allowed 1234", "tljh-config set limits.cpu lots")
    found = "\n".join(mistakes(load(tljh_python, tmp_path, install, configure), EXPECTED_WARNINGS))
    assert "`tljh-config add-item users.allowed 1234` is refused by tljh-config: Config validation error: " \
           "1234 is not of type 'string'" in found
    assert "`tljh-config set limits.cpu lots` is refused by tljh-config" in found


def test_the_check_fails_on_unknown_options_sections_and_values(render, tljh_python, tmp_path):
    install, configure = _github_scripts(render)
    configure = with_commands(configure, "tljh-config set auth.GitHubOAuthenticator.allowed_orgs x",
                              "tljh-config set auth.GitHubOAuthenticatr.client_id x",
                              "tljh-config set limits.memory lots")
    found = "\n".join(mistakes(load(tljh_python, tmp_path, install, configure), EXPECTED_WARNINGS))
    assert "Config option `allowed_orgs` not recognized by `GitHubOAuthenticator`" in found
    assert "config sections no class of this hub reads: ['GitHubOAuthenticatr']" in found
    assert "lots is not a valid memory specification" in found


# ------------------------------------------------------------- the replay of tljh-config itself

@pytest.mark.parametrize(("text", "value"), [
    ("none", None), ("None", None), ("0", 0), ("2024", 2024), ("0.5", 0.5), ("2.", 2.0), ("true", True),
    ("FALSE", False), (".5", ".5"), ("-1", "-1"), ("1e3", "1e3"), ("2G", "2G"),
    ("alice@myuni.example", "alice@myuni.example"),
])
def test_command_values_are_read_as_tljh_config_reads_them(text, value):
    assert tljh_hub.command_value(text) == value and type(tljh_hub.command_value(text)) is type(value)


@given(st.text(alphabet=st.sampled_from("0123456789.eE-+ aflnorstuTNFL@"), max_size=8) | st.text(max_size=8))
def test_the_stack_knows_which_values_tljh_config_keeps_as_text(text):
    # components/tljh_spec.py refuses names by this rule (config_checks); the replay reads them.
    assert tljh_spec.reads_as_text(text) is isinstance(tljh_hub.command_value(text), str)


def test_set_and_add_item_make_what_they_need_and_replace_what_is_in_the_way():
    config: tljh_hub.Config = {"users": {"admin": ["alice"]}, "limits": "2G"}
    config = tljh_hub.apply_command(config, ["set", "limits.memory", "4G"])
    assert config["limits"] == {"memory": "4G"}  # a non-mapping on the path is replaced
    config = tljh_hub.apply_command(config, ["add-item", "users.admin", "bob"])
    config = tljh_hub.apply_command(config, ["add-item", "auth.X.scope", "read:org"])
    assert config["users"]["admin"] == ["alice", "bob"] and config["auth"] == {"X": {"scope": ["read:org"]}}
    before = {"limits": {"cpu": 1}}
    assert tljh_hub.apply_command(before, ["add-item", "limits.cpu", "2"]) == {"limits": {"cpu": [2]}}
    assert before == {"limits": {"cpu": 1}}  # commands work on a copy
    with pytest.raises(ValueError, match="holds the text"):
        tljh_hub.apply_command({"a": "text"}, ["add-item", "a", "x"])
    with pytest.raises(ValueError):
        tljh_hub.apply_command({}, ["unset", "a", "x"])


def test_the_steps_start_from_the_installer_and_end_before_the_reloads(render):
    install, configure = _github_scripts(render)
    steps = tljh_hub.config_steps(install, configure)
    assert steps[0]["config"] == {"users": {"admin": ["alice", "carol"]}}  # bootstrap.py --admin alice --admin carol
    secret = next(s for s in steps if "client_secret" in s["command"])
    assert tljh_hub.DUMMY_SECRET in secret["command"] and "oauth-plaintext" not in json.dumps(steps)
    last = steps[-1]["config"]
    # The installer's, unset (configure-tljh.sh owns the key), then add-item's: each name once.
    unset = next(s for s in steps if s["command"] == "tljh-config unset users.admin")
    assert "users" not in unset["config"]  # nothing else was under `users`: TLJH drops the empty mapping
    assert last["users"]["admin"] == ["alice", "carol"]
    assert last["https"]["letsencrypt"]["domains"] == ["testuni-hub.westeurope.cloudapp.azure.com"]
    with pytest.raises(AssertionError, match="after a reload"):
        tljh_hub.config_steps(install, configure + "tljh-config set limits.cpu 2\n")


def test_the_hub_environment_is_that_of_the_pinned_commit():
    text = tljh_hub.REQUIREMENTS.read_text()
    assert f"# tljh: {tljh_spec.TLJH_REF}\n" in text
    assert tljh_hub.PACKAGE.parent.name == tljh_spec.TLJH_REF[:8]
    pins = hub_image.pinned_versions(tljh_hub.REQUIREMENTS)
    assert all(version and "*" not in version for version in pins.values()), "pin every package exactly"
    # TLJH's own ranges at that commit (tljh/requirements-hub-env.txt, setup.py install_requires).
    for name, major in (("jupyterhub", "5"), ("oauthenticator", "17"), ("jupyterhub-systemdspawner", "1"),
                        ("jupyterhub-traefik-proxy", "2"), ("jupyterhub-idle-culler", "1"), ("pluggy", "1")):
        assert pins[name].split(".")[0] == major, name
    assert pins["ruamel-yaml"].startswith("0.18.")
    assert "the-littlest-jupyterhub" not in pins  # on no package registry: vendored instead


def test_the_check_loads_config_d_snippets_and_fails_on_their_mistakes(render, tljh_python, tmp_path):
    install, configure = _github_scripts(render)
    broken = "c = get_config()  # noqa: F821\nc.JupyterHub.template_var = {'announcement': 'x'}\n"
    found = "\n".join(mistakes(load(tljh_python, tmp_path, install, configure, {"zz-broken.py": broken}),
                               EXPECTED_WARNINGS))
    assert "Config option `template_var` not recognized by `JupyterHub`" in found


# ------------------------------------------------- a config change re-applied on the running VM

def _extension_files(plan: dict[str, Any]) -> dict[str, str]:
    """{path: content} of what the VM extension's script writes (tljh_spec.reconfigure_script)."""
    ext = one(plan, "azure-native:compute:VirtualMachineExtension")
    script = base64.b64decode(ext["inputs"]["protectedSettings"]["script"]).decode()
    found = re.findall(r"""^echo '([A-Za-z0-9+/=]+)' \| base64 -d > "\$root(\S+)\.new"$""", script, re.M)
    return {path: base64.b64decode(data).decode() for data, path in found}


@pytest.mark.parametrize(("old", "new"), [
    # Fewer admins, organisations and users taken away, everyone allowed, other limits, plain HTTP,
    # the classic interface, and a schedule.
    ("github-orgs-users-https", "github-allow-all-http-half-cpu-classic"),
    ("github-allow-all-http-half-cpu-classic", "github-sleeping-with-early-stop"),
    # Another login altogether: GitHub to Entra ID, with Let's Encrypt's staging CA.
    ("github-orgs-users-https", "entra-tenant-https-staging"),
])
def test_a_changed_config_on_a_running_vm_gives_the_config_of_a_fresh_first_boot(old, new, render, tljh_python,
                                                                                  tmp_path):
    """The VM's extension re-runs configure-tljh.sh with the new config on top of what the first
    boot with the old config left: TLJH ends with the config a new VM would have, every step of
    the way valid to tljh-config, and the hub loads it with the new config.d snippets."""
    (old_secrets, old_keys), (new_secrets, new_keys) = _stack(old), _stack(new)
    old_plan, new_plan = render(old_secrets, **old_keys), render(new_secrets, **new_keys)
    left = tljh_hub.config_steps(*scripts(old_plan))[-1]["config"]
    install, configure = scripts(new_plan)
    files = _extension_files(new_plan)
    assert files[f"{tljh_spec.SCRIPT_DIR}/configure-tljh.sh"] == configure
    steps = [{"command": "the first boot with the old config", "config": left}, *tljh_hub.replay(left, configure)]
    fresh = tljh_hub.config_steps(install, configure)[-1]["config"]
    assert steps[-1]["config"] == fresh
    snippets = {Path(path).name: text for path, text in files.items() if Path(path).name == tljh_spec.SLEEP_HUB_CONFIG}
    assert snippets == hub_snippets(new_plan)
    report = load_steps(tljh_python, tmp_path, steps, snippets)
    assert mistakes(report, EXPECTED_WARNINGS) == [], report["stderr"][-4000:]
    cfg = parse_config(*raw_config(new_secrets, **new_keys))
    settings = report["authenticator_settings"]
    assert report["authenticator"] == AUTHENTICATORS[cfg.auth.type]
    assert settings["admin_users"] == sorted(set(cfg.auth.admins)) and settings["allow_all"] is cfg.allow_all
    assert report["spawner_settings"]["cpu_limit"] == cfg.limits.cpu
    assert report["proxy_settings"]["traefik_entrypoint"] == ("https" if cfg.https else "http")


def test_the_check_fails_when_the_replay_differs_from_tljh_config(render, tljh_python, tmp_path):
    steps = tljh_hub.config_steps(*_github_scripts(render))
    unset = next(i for i, s in enumerate(steps) if s["command"] == "tljh-config unset users.admin")
    steps[unset] = {**steps[unset], "config": steps[unset - 1]["config"]}  # as if unset had kept the admins
    found = "\n".join(mistakes(load_steps(tljh_python, tmp_path, steps), EXPECTED_WARNINGS))
    assert "the replay of `tljh-config unset users.admin` differs from tljh/config.py's" in found
