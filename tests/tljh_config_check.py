"""Load a rendered TLJH config the way TLJH's hub does, as far as it goes before serving (no network).

Run by tests/test_tljh_config_loads.py with the Python of TLJH's hub environment
(tests/tljh-hub-requirements.txt), never with the project's interpreter:

    python tljh_config_check.py DIR

DIR holds `steps.json` (every config tljh-config writes on the VM, each with its command) and
`site-packages/tljh` (TLJH's unmodified modules, on PYTHONPATH); TLJH_INSTALL_PREFIX points
at the install prefix in DIR, and the working directory is its `state/`, as in TLJH's
jupyterhub.service. The check:

1. validates each config with TLJH's own `tljh.config.validate_config` (its JSON schema), as
   `tljh-config set`, `add-item` and `unset` do before they write, and checks that each is what
   TLJH's own `set_item_in_config`, `add_item_to_config` or `unset_item_from_config` makes of
   the one before;
2. writes the last one with TLJH's YAML settings to config.yaml, as tljh-config does;
3. renders Traefik's static and dynamic config from it with `tljh.traefik.ensure_traefik_config`,
   as `tljh-config reload proxy` does;
4. runs JupyterHub's own `initialize()` with TLJH's jupyterhub_config.py (`-f ... --upgrade-db`,
   the unit's command), which reads config.yaml through TLJH's configurer (`load_config`,
   `apply_config`): authenticator, TraefikFileProviderProxy, services, roles, database; then
   lets the proxy finish its own start (its dynamic config, rules.toml);
5. finds config sections no class of this hub reads (but the one TLJH's defaults always set);
6. makes the spawner of a user (TLJH's UserCreatingSpawner around SystemdSpawner) and reads
   its settings, without starting it.

Stand-ins, for what only the VM has: `systemctl --version` (asked by SystemdSpawner, answered by
a script on PATH with the VM image's systemd version), and TraefikProxy's wait for the running
Traefik's API (`_wait_for_static_config`), replaced by the same question put to the rendered
traefik.toml: are the entrypoints the proxy will use defined there. User creation
(`UserCreatingSpawner.start`) is never reached. It prints one JSON report as the last line of
stdout; every log record of level WARNING or above is in it.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import json
import os
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from warning_log import capture, class_names, report  # this folder, first on sys.path when run as a script

RECORDS = capture()
PROBLEMS: list[str] = []  # kept in the report if the hub then fails to start
# The distributions whose classes load the config, as the report names their versions.
PACKAGES = ("jupyterhub", "oauthenticator", "jupyterhub-systemdspawner", "jupyterhub-traefik-proxy", "jsonschema")


def _tljh_config(config: dict[str, Any], command: str) -> dict[str, Any]:
    """What TLJH's own tljh/config.py makes of `config` with one `tljh-config` command, read from
    its command line as tljh-config reads it (`parse_value`). An unset of a key that is not there
    raises ValueError, which the rendered `|| true` lets pass: nothing changes."""
    import shlex

    from tljh import config as tljh_config

    action, key, *value = shlex.split(command)[1:]
    if action == "set":
        return tljh_config.set_item_in_config(config, key, tljh_config.parse_value(value[0]))
    if action == "add-item":
        return tljh_config.add_item_to_config(config, key, tljh_config.parse_value(value[0]))
    try:
        return tljh_config.unset_item_from_config(config, key)
    except ValueError:
        return config


def _validate(steps: list[dict[str, Any]]) -> list[str]:
    """What tljh-config would refuse: it validates the whole config after each change. And each
    step of the replay (tests/tljh_hub.py) must be what TLJH's own functions make of the one before."""
    from tljh.config import validate_config

    problems = []
    for before, step in itertools.pairwise(steps):
        if _tljh_config(before["config"], step["command"]) != step["config"]:
            problems.append(f"the replay of `{step['command']}` differs from tljh/config.py's")
    for step in steps[1:]:  # the installer writes its config without validating it
        printed = io.StringIO()
        with contextlib.redirect_stderr(printed):
            try:
                validate_config(step["config"], True)
            except SystemExit:
                problems.append(f"`{step['command']}` is refused by tljh-config: {printed.getvalue().splitlines()[0]}")
    return problems


def _token_owner(app: Any, token: str) -> str | None:
    """The service the hub's database gives a configured token to (None: the hub does not know it)."""
    from jupyterhub import orm

    found = orm.APIToken.find(app.db, token)
    return found.service.name if found is not None and found.service is not None else None


async def check(directory: str) -> dict[str, Any]:
    import toml
    from jupyterhub import orm
    from jupyterhub.app import JupyterHub
    from jupyterhub_traefik_proxy.proxy import TraefikProxy
    from tljh import config as tljh_config
    from tljh import configurer, traefik
    from tljh.yaml import yaml

    # TLJH's configurer always sets its default authenticator's section (`auth.FirstUseAuthenticator`
    # in configurer.default), whatever auth.type is. Read before the hub loads: apply_config merges
    # the stack's auth sections into that same dict.
    tljh_default = {key for key in configurer.default["auth"] if key[:1].isupper()}
    steps = json.loads(Path(directory, "steps.json").read_text())
    problems = PROBLEMS
    problems += _validate(steps)

    # tljh-config writes config.yaml (the installer made the folders, private).
    for folder in (tljh_config.CONFIG_DIR, os.path.join(tljh_config.CONFIG_DIR, "jupyterhub_config.d")):
        os.makedirs(folder, mode=0o700, exist_ok=True)
    with open(tljh_config.CONFIG_FILE, "w") as f:
        yaml.dump(steps[-1]["config"], f)

    # tljh-config reload proxy
    traefik.ensure_traefik_config(tljh_config.STATE_DIR)
    static = toml.load(os.path.join(tljh_config.STATE_DIR, "traefik.toml"))
    tls = toml.load(os.path.join(tljh_config.STATE_DIR, "rules", "dynamic.toml")).get("tls", {})

    waited: list[str] = []

    async def entrypoints_defined(self: Any) -> None:
        # What the real wait asks the running Traefik (/api/entrypoints/<name>), asked of its config.
        for name in (self.traefik_entrypoint, self.traefik_api_entrypoint):
            waited.append(name)
            if name not in static.get("entryPoints", {}):
                problems.append(f"{type(self).__name__} uses the Traefik entrypoint {name!r}, which traefik.toml "
                                f"does not define (it has {sorted(static.get('entryPoints', {}))})")

    TraefikProxy._wait_for_static_config = entrypoints_defined  # type: ignore[method-assign]

    hub_config = Path(tljh_config.__file__).with_name("jupyterhub_config.py")
    app = JupyterHub()
    await app.initialize(["-f", str(hub_config), "--upgrade-db"])
    if app.proxy._start_future is not None:  # the proxy's own start: the dynamic config, then the wait
        await app.proxy._start_future
    rules = toml.load(app.proxy.dynamic_config_file)

    # Sections no class of this hub reads, before the spawner is made (a value it refuses fails that).
    used = class_names(app) | class_names(app.authenticator) | class_names(app.proxy)
    used |= {cls.__name__ for cls in app.spawner_class.__mro__}
    sections = sorted(key for key in app.config if key[:1].isupper())
    unused = [section for section in sections if section not in used]
    if set(unused) - tljh_default:
        problems.append(f"config sections no class of this hub reads: {sorted(set(unused) - tljh_default)}")

    orm_user = orm.User(name="config-check")
    app.db.add(orm_user)
    app.db.commit()
    spawner = app.users[orm_user].spawner
    authenticator = app.authenticator
    return {
        "versions": {**{name: metadata.version(name) for name in PACKAGES},
                     "python": ".".join(map(str, sys.version_info[:3]))},
        "authenticator": type(authenticator).__name__,
        "authenticator_settings": {
            "client_id": authenticator.client_id,
            "client_secret_set": bool(authenticator.client_secret),
            "oauth_callback_url": authenticator.oauth_callback_url,
            "allow_all": authenticator.allow_all,
            "allowed_users": sorted(authenticator.allowed_users),
            "admin_users": sorted(authenticator.admin_users),
            "scope": list(authenticator.scope),
            **{name: getattr(authenticator, name) for name in ("tenant_id", "username_claim")
               if authenticator.has_trait(name)},
            **{name: sorted(getattr(authenticator, name)) for name in ("allowed_organizations",)
               if authenticator.has_trait(name)},
        },
        "admins_in_db": sorted(u.name for u in app.db.query(orm.User) if u.admin),
        "proxy": [cls.__name__ for cls in type(app.proxy).__mro__][:2],
        "proxy_settings": {"traefik_entrypoint": app.proxy.traefik_entrypoint, "waited_for": waited,
                           "api_username": app.proxy.traefik_api_username,
                           "api_password_set": bool(app.proxy.traefik_api_password),
                           "api_routers": sorted(rules.get("http", {}).get("routers", {}))},
        "spawner": [cls.__name__ for cls in type(spawner).__mro__][:3],
        "spawner_settings": {
            "mem_limit": spawner.mem_limit,
            "cpu_limit": spawner.cpu_limit,
            "default_url": spawner.default_url,
            "unit_name": spawner.unit_name,
            "username_template": spawner.username_template,
            "user_groups": dict(spawner.user_groups),
        },
        "services": {s["name"]: s.get("command", []) for s in app.services},
        # What config.d snippets add (the sleep schedule's): the hub's page variables, roles, and
        # which services were given a token (never the token itself).
        "template_vars": dict(app.template_vars),
        "roles": {r["name"]: {"scopes": sorted(r.get("scopes", [])), "services": sorted(r.get("services", []))}
                  for r in app.load_roles},
        "service_tokens": {s["name"]: _token_owner(app, s["api_token"]) for s in app.services if s.get("api_token")},
        "sections": sections,
        "unused_sections": unused,
        "traefik": {
            "entrypoints": sorted(static.get("entryPoints", {})),
            "acme": static.get("certificatesResolvers", {}).get("letsencrypt", {}).get("acme"),
            "generated_cert": tls.get("stores", {}).get("default", {}).get("defaultGeneratedCert"),
        },
        "problems": problems,
    }


def main() -> int:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    return report(lambda: loop.run_until_complete(check(sys.argv[1])), "the hub", PROBLEMS)


if __name__ == "__main__":
    sys.exit(main())
