"""Start a JupyterHub from a rendered hub config, as far as it goes before serving (no network).

Run by tests/test_hub_config_loads.py with the Python of the hub image's own packages
(tests/hub-image-requirements.txt), never with the project's interpreter:

    python hub_config_check.py DIR

DIR holds what the hub pod mounts: `jupyterhub_config.py` and `z2jh.py` (the chart's files,
pointed at DIR instead of /usr/local/etc/jupyterhub), `config/` (resource names) and
`secret/` (the values and generated secrets). The environment carries what the pod's does.

The check runs JupyterHub's own `initialize()` (config file, authenticator, proxy, services,
roles, database), then makes the spawner of a user and applies each profile of
`profile_list` the way KubeSpawner does before a spawn. It prints one JSON report as the
last line of stdout; every log record of level WARNING or above is in it.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from warning_log import capture, class_names, report  # this folder, first on sys.path when run as a script

RECORDS = capture()


async def check(directory: str) -> dict[str, Any]:
    import jupyterhub
    import kubespawner
    import oauthenticator
    from jupyterhub import orm
    from jupyterhub.app import JupyterHub
    from jupyterhub.crypto import CryptKeeper

    app = JupyterHub()
    # The chart's container arguments (hub deployment.yaml, db type sqlite-pvc).
    await app.initialize(["--config", f"{directory}/jupyterhub_config.py", "--upgrade-db"])
    problems: list[str] = []
    used: set[str] = class_names(app) | class_names(app.authenticator) | class_names(app.proxy)
    # The hub makes its CryptKeeper on first use (auth state); make it now, so its keys are checked.
    used |= class_names(CryptKeeper.instance(parent=app))

    orm_user = orm.User(name="config-check")
    app.db.add(orm_user)
    app.db.commit()
    user = app.users[orm_user]
    spawner = user.spawner
    used |= class_names(spawner)
    profiles = []
    profile_list = spawner.profile_list if not callable(spawner.profile_list) else []
    for index, profile in enumerate(profile_list):
        override = profile.get("kubespawner_override", {})
        unknown = sorted(key for key in override if not spawner.has_trait(key))
        if unknown:
            problems.append(f"profile_list[{index}] kubespawner_override sets no trait of "
                            f"{type(spawner).__name__}: {unknown}")
            continue
        # A fresh spawner per profile, as for a new server: user_options pick the profile.
        one = user._new_spawner(f"profile-{index}")
        one.user_options = {"profile": spawner._get_initialized_profile_list(profile_list)[index]["slug"]}
        await one.load_user_options()
        profiles.append({"slug": one.user_options["profile"], "image": one.image, "mem_limit": one.mem_limit})

    # The home volume as KubeSpawner mounts it for a user whose name it must escape: in the
    # server and in each init container ({username} is expanded in both).
    named = orm.User(name="Alice.Smith@myuni.example")
    app.db.add(named)
    app.db.commit()
    home_spawner = app.users[named].spawner
    mounts = home_spawner.volume_mounts
    mounts = list(mounts.values()) if isinstance(mounts, dict) else list(mounts)
    inits = home_spawner.init_containers
    inits = list(inits.values()) if isinstance(inits, dict) else list(inits)
    inits = [c if isinstance(c, dict) else c.to_dict() for c in inits]
    home = {
        "server": [m for m in home_spawner._expand_all(mounts) if m.get("name") == "home"],
        "init": {c["name"]: {"mounts": [m for m in c.get("volumeMounts") or [] if m.get("name") == "home"],
                             "command": c.get("command"), "securityContext": c.get("securityContext")}
                 for c in home_spawner._expand_all(inits)},
        "uid": home_spawner.uid, "fs_gid": home_spawner.fs_gid,
    }

    sections = sorted(key for key in app.config if key[:1].isupper())
    unused = [section for section in sections if section not in used]
    if unused:
        problems.append(f"config sections no class of this hub reads: {unused}")
    services = {s["name"]: sorted(k for k in s if k != "api_token") for s in app.services}
    return {
        "versions": {"jupyterhub": jupyterhub.__version__, "kubespawner": kubespawner.__version__,
                     "oauthenticator": oauthenticator.__version__,
                     "python": ".".join(map(str, sys.version_info[:3]))},
        "authenticator": type(app.authenticator).__name__,
        "spawner": [cls.__name__ for cls in type(spawner).__mro__][:4],
        "proxy": type(app.proxy).__name__,
        "sections": sections,
        "services": services,
        "roles": sorted(role["name"] for role in app.load_roles),
        "profiles": profiles,
        "spawner_settings": {
            "cmd": spawner.cmd[:2] if spawner.cmd else spawner.cmd,
            "default_url": spawner.default_url,
            "mem_limit": spawner.mem_limit,
            "cpu_limit": spawner.cpu_limit,
            "image_pull_secrets": spawner.image_pull_secrets,
            "init_containers": [c.name if hasattr(c, "name") else c["name"] for c in spawner.init_containers],
            "volumes": sorted(v["name"] for v in (spawner.volumes.values() if isinstance(spawner.volumes, dict)
                                                  else spawner.volumes)),
        },
        "home": home,
        "problems": problems,
    }


def main() -> int:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    return report(lambda: loop.run_until_complete(check(sys.argv[1])), "the hub")


if __name__ == "__main__":
    sys.exit(main())
