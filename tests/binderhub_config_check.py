"""Start BinderHub's app from the BinderHub chart's config, as far as it goes before serving.

Run by tests/test_binderhub_config_loads.py with the BinderHub image's packages and a BinderHub
source checkout on PYTHONPATH, never with the project's interpreter:

    python binderhub_config_check.py DIR

DIR holds what the binder pod mounts at /etc/binderhub/config/: the chart's
`binderhub_config.py` (pointed at DIR) and `values.yaml`; DOCKER_CONFIG and KUBECONFIG point
into DIR too. The check runs BinderHub's own `initialize()` (config file, registry, build
executor, launcher, event log, quota), then makes the image cleaner, the repository
providers and (with login) the hub's OAuth client with that config. It prints one JSON
report as the last line of stdout.
"""

from __future__ import annotations

import sys
from typing import Any

from warning_log import capture, class_names, report  # this folder, first on sys.path when run as a script

RECORDS = capture()


def check(directory: str) -> dict[str, Any]:
    import binderhub
    import jupyterhub
    from binderhub.app import BinderHub
    from traitlets import TraitError

    app = BinderHub()
    # The chart's container arguments (templates/deployment.yaml).
    app.initialize(["--config", f"{directory}/binderhub_config.py"])
    settings = app.tornado_settings
    problems: list[str] = []
    objects = [app, app.launcher, app.event_log, settings["launch_quota"], settings["example_builder"],
               settings["rate_limiter"], app.build_cleaner_class(parent=app)]
    if settings["registry"] is not None:
        objects.append(settings["registry"])
    if app.auth_enabled:
        # What binderhub/base.py makes on the first request of a login-protected Binder.
        from jupyterhub.services.auth import HubOAuth

        objects.append(HubOAuth.instance(config=settings["traitlets_config"]))
    providers: dict[str, Any] = {}
    for name, cls in app.repo_providers.items():
        try:
            provider = cls(config=app.config, spec="binder-examples/requirements/HEAD")
            objects.append(provider)
            # Whether a token is set, never the token; the front page's id and the host.
            token = getattr(provider, "access_token", "") or getattr(provider, "private_token", "")
            providers[name] = {"made": True, "class": cls.__name__, "id": cls.display_config.get("id"),
                               "hostname": getattr(provider, "hostname", None), "token": bool(token),
                               "api": (provider.api_base_path.format(hostname=provider.hostname)
                                       if hasattr(provider, "api_base_path") else None),
                               "git_credentials": bool(provider.git_credentials)}
        except TraitError as exc:
            problems.append(f"repo provider {name}: {exc}")
        except Exception as exc:  # a spec this provider does not take; its config is loaded by then
            providers[name] = f"spec refused ({type(exc).__name__})"
    used: set[str] = set().union(*(class_names(obj) for obj in objects))
    sections = sorted(key for key in app.config if key[:1].isupper())
    unused = [section for section in sections if section not in used]
    if unused:
        problems.append(f"config sections no class of BinderHub reads: {unused}")
    registry = settings["registry"]
    return {
        "versions": {"binderhub": binderhub.__version__, "jupyterhub": jupyterhub.__version__,
                     "python": ".".join(map(str, sys.version_info[:3]))},
        "sections": sections,
        "build_class": type(settings["example_builder"]).__name__,
        "build_docker_host": app.build_docker_host,
        "image_prefix": app.image_prefix,
        "registry": None if registry is None else {"url": registry.url, "token_url": registry.token_url,
                                                   "username": registry.username},
        "auth_enabled": app.auth_enabled,
        "cors_allow_origin": app.cors_allow_origin,
        "repo_providers": providers,
        "problems": problems,
    }


def main() -> int:
    return report(lambda: check(sys.argv[1]), "BinderHub")


if __name__ == "__main__":
    sys.exit(main())
