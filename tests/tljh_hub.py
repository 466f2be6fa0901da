"""What TLJH's hub reads, rebuilt from the rendered cloud-init, and the Python of TLJH's hub environment.

On the VM, TLJH keeps its settings in /opt/tljh/config/config.yaml. The stack fills it in two steps
(components/tljh_spec.py): install-tljh.sh runs TLJH's bootstrap with `--admin NAME` (the installer
writes those names to `users.admin`), then configure-tljh.sh runs `tljh-config set` and
`tljh-config add-item` commands and reloads the hub and the proxy. `config_steps` replays both on a
dict the way TLJH does (tljh/installer.py `ensure_admins`; tljh/config.py `set`, `add-item` and how
it reads a value from its command line), keeping the config after every command: tljh-config
validates each one against TLJH's schema before it writes it.

`tljh_directory` lays out what the hub finds on the VM: TLJH's package (the unmodified modules in
tests/data/upstream/the-littlest-jupyterhub/, as pip installs them into the hub environment), an
install prefix (TLJH_INSTALL_PREFIX) with its config and state directories, and the steps.
`tljh_python` makes the virtualenv of the hub environment's packages (tests/tljh-hub-requirements.txt).
"""

from __future__ import annotations

import copy
import json
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator, Mapping, MutableMapping
from pathlib import Path
from typing import Any

from components import tljh_spec
from tests import hub_image

REQUIREMENTS = hub_image.TESTS / "tljh-hub-requirements.txt"
VENV = hub_image.ROOT / ".venv-tljh"
CHECK_SCRIPT = hub_image.TESTS / "tljh_config_check.py"
COMMIT = tljh_spec.TLJH_REF
PACKAGE = hub_image.UPSTREAM / "the-littlest-jupyterhub" / COMMIT[:8] / "tljh"
# The client secret configure-tljh.sh reads from Key Vault at first boot (`"$secret"` in the script).
DUMMY_SECRET = "dummy-client-secret-read-from-key-vault"
# What SystemdSpawner asks `systemctl --version` at start: the systemd of the VM image (Ubuntu
# 24.04 ships systemd 255), not whatever this machine has. The stand-in answers nothing else.
SYSTEMCTL = """#!/bin/sh
[ "$1" = --version ] || { echo "systemctl stand-in: only --version is answered (got: $*)" >&2; exit 1; }
echo 'systemd 255 (255.4-1ubuntu8)'
"""

Config = dict[str, Any]


def tljh_python() -> Path:
    """The interpreter of `.venv-tljh`, with the packages of TLJH's hub environment."""
    return hub_image.make_venv(VENV, REQUIREMENTS)


# ----------------------------------------------------------------------- tljh-config, replayed

def command_value(text: str) -> Any:
    """A value as tljh-config reads it from its command line: `none` (any case) is null, digits an
    integer, digits with a dot (and maybe more digits) a float, `true`/`false` (any case) a boolean,
    anything else the text itself. So `0.5` is a number, `.5`, `-1` and `1e3` are text."""
    if text.lower() == "none":
        return None
    # `$` as tljh-config has it: a newline may end the digits.
    if re.match(r"\d+$", text):
        return int(text)
    if re.match(r"\d+\.\d*$", text):
        return float(text)
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text


def _parent(config: Config, path: str) -> tuple[MutableMapping[str, Any], str]:
    """The mapping that holds the last key of a dotted path, made on the way: a missing or
    non-mapping value on the path becomes an empty mapping (what was there is lost)."""
    *parents, last = path.split(".")
    node: MutableMapping[str, Any] = config
    for key in parents:
        if not isinstance(node.get(key), Mapping):
            node[key] = {}
        node = node[key]
    return node, last


def apply_command(config: Config, args: list[str]) -> Config:
    """The config after `tljh-config set KEY VALUE`, `tljh-config add-item KEY VALUE` or
    `tljh-config unset KEY` (a copy). add-item appends to the list at KEY, starting one when the
    value there is missing or not a sequence; a text value there is a sequence to tljh-config,
    which then fails to append. unset removes KEY and then each mapping on its path it left empty
    (tljh/config.py unset_item_from_config); tljh-config fails on a KEY that is not there, which
    the rendered `|| true` lets pass, so here that changes nothing."""
    result = copy.deepcopy(config)
    if args[0] == "unset":
        _, key = args
        *parents, last = key.split(".")
        path: list[MutableMapping[str, Any]] = [result]
        for part in parents:
            node = path[-1].get(part)
            if not isinstance(node, MutableMapping):
                return result
            path.append(node)
        if last not in path[-1]:
            return result
        del path[-1][last]
        for depth in range(len(parents), 0, -1):
            if path[depth] == {}:
                del path[depth - 1][parents[depth - 1]]
        return result
    action, key, text = args
    parent, last = _parent(result, key)
    value = command_value(text)
    if action == "set":
        parent[last] = value
    elif action == "add-item":
        current = parent.get(last)
        if isinstance(current, str):
            raise ValueError(f"tljh-config add-item {key}: {key} holds the text {current!r}, not a list")
        if not isinstance(current, list):
            parent[last] = current = []
        current.append(value)
    else:
        raise ValueError(f"not a tljh-config command that changes config: {args}")
    return result


def installer_config(install_script: str) -> Config:
    """config.yaml as TLJH's installer leaves it: empty, and with the `--admin` names of the
    bootstrap command as `users.admin` (a `name:password` pair gives the name; none without --admin)."""
    line = next(x for x in install_script.splitlines() if "/bootstrap.py " in x and x.startswith("python3 "))
    words = shlex.split(line)
    admins = [words[i + 1].split(":")[0] for i, word in enumerate(words) if word == "--admin"]
    return {"users": {"admin": admins}} if admins else {}


def commands(configure_script: str) -> Iterator[list[str]]:
    """The arguments of each `tljh-config` command in a rendered configure-tljh.sh, in order, with the
    secret the script reads at run time as DUMMY_SECRET and output redirections dropped."""
    for line in configure_script.splitlines():
        if not line.startswith("tljh-config "):
            continue
        words = shlex.split(line.replace('"$secret"', shlex.quote(DUMMY_SECRET)))
        if words[1] == "unset" and words[-5:] == [">", "/dev/null", "2>&1", "||", "true"]:
            words = words[:-5]  # an unset of a key that is not there fails, and changes nothing
        if words[-2:] == [">", "/dev/null"]:
            words = words[:-2]
        assert not any(word.startswith(("$", ">", "|", ";", "&")) for word in words), line
        yield words[1:]


def config_steps(install_script: str, configure_script: str) -> list[dict[str, Any]]:
    """Every config that tljh-config writes on the VM, in order: the installer's, then one per `set`,
    `add-item` or `unset` (each with its command). The reloads must come after the last change."""
    config = installer_config(install_script)
    start = {"command": "install-tljh.sh: bootstrap.py --admin ...", "config": config}
    return [start, *replay(config, configure_script)]


def replay(config: Config, configure_script: str) -> list[dict[str, Any]]:
    """The configs a configure script's commands write, starting from `config` (a first boot's
    installer config, or what an earlier configure script left on a running VM)."""
    steps: list[dict[str, Any]] = []
    reloads: list[list[str]] = []
    for args in commands(configure_script):
        if args[0] == "reload":
            reloads.append(args)
            continue
        assert not reloads, f"tljh-config {' '.join(args)} comes after a reload: the hub would not read it"
        config = apply_command(config, args)
        steps.append({"command": shlex.join(["tljh-config", *args]), "config": config})
    assert reloads == [["reload"], ["reload", "proxy"]], reloads
    return steps


# ------------------------------------------------------------------------------ the VM's files

def tljh_directory(directory: Path, steps: list[dict[str, Any]]) -> dict[str, str]:
    """Lay out the hub's files in `directory` for `steps` (from `config_steps`); return the hub
    process's environment (the systemd unit's: TLJH_INSTALL_PREFIX and a PATH, here with the
    systemctl stand-in first)."""
    site = directory / "site-packages"
    shutil.copytree(PACKAGE, site / "tljh")
    prefix = directory / "opt-tljh"
    (prefix / "state").mkdir(parents=True)
    # The installer's token for Traefik's API (tljh/installer.py ensure_jupyterhub_service).
    (prefix / "state" / "traefik-api.secret").write_text(hub_image.DUMMY_SECRET)
    (directory / "steps.json").write_text(json.dumps(steps))
    stand_ins = directory / "bin"
    stand_ins.mkdir()
    (stand_ins / "systemctl").write_text(SYSTEMCTL)
    (stand_ins / "systemctl").chmod(0o755)
    return {
        "PATH": f"{stand_ins}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(directory),
        "PYTHONPATH": str(site),
        "PYTHONUNBUFFERED": "1",
        "TLJH_INSTALL_PREFIX": str(prefix),
    }


# The commands reconfigure-tljh.sh runs that only the VM has, as stand-ins that log their arguments
# to $CALLS: systemctl, cloud-init (whose `status --wait` returns at once), configure-tljh.sh
# (tested on its own, by the replay above), and tljh-config (only looked for).
RECORDING_STAND_IN = """#!/bin/sh
echo "$(basename "$0") $*" >> "$CALLS"
"""


def run_reconfigure(script: str, root: Path, *, configured: bool = True,
                    installed: bool = True) -> tuple[int, str, list[str]]:
    """Run the VM extension's script (tljh_spec.reconfigure_script) with the VM's paths under `root`:
    a VM whose first boot configured TLJH (`configured`: the mark is there) or at least installed
    it (`installed`: tljh-config is on PATH), TLJH's config.d there. Returns the exit status,
    stderr and the stand-ins' calls in order."""
    (root / tljh_spec.HUB_CONFIG_D.lstrip("/")).mkdir(parents=True, exist_ok=True)
    mark = root / tljh_spec.CONFIGURED_MARK.lstrip("/")
    mark.parent.mkdir(parents=True, exist_ok=True)
    if configured:
        mark.touch()
    stand_ins = root.parent / f"{root.name}-bin"
    stand_ins.mkdir(exist_ok=True)
    for name in ("systemctl", "cloud-init", "configure-tljh.sh", "tljh-config"):
        (stand_ins / name).write_text(RECORDING_STAND_IN)
        (stand_ins / name).chmod(0o755)
    if not installed:
        (stand_ins / "tljh-config").unlink()
    calls = root.parent / f"{root.name}-calls"
    calls.write_text("")
    path = root.parent / f"{root.name}-reconfigure.sh"
    path.write_text(script)
    env = {"PATH": f"{stand_ins}:/usr/bin:/bin", "CALLS": str(calls), "TLJH_ROOT": str(root),
           "CONFIGURE_TLJH": str(stand_ins / "configure-tljh.sh")}
    done = subprocess.run(["bash", str(path)], env=env, capture_output=True, text=True, timeout=60)
    return done.returncode, done.stderr, calls.read_text().splitlines()
