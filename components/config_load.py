"""From raw stack config to a validated `StackConfig`: `parse_config` (pure: the offline tools
and the tests call it) and `load_from_pulumi` (the deploy program calls it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from .config import StackConfig
from .config_checks import cross_checks
from .config_fields import (
    LOCATION_KEY,
    PROJECT,
    SECRET_KEYS,
    ConfigError,
)
from .config_messages import (
    _PROVIDER_SECRETS,
    _decode,
    _message,
    namespace_problems,
)
from .fit import fit_problems
from .helm_guard import merged_values_problems
from .hub_spec import chart_value_problems


def parse_config(raw: Mapping[str, Any], secret_keys: set[str] | frozenset[str] = frozenset()) -> StackConfig:
    """Validate a stack's raw config (keys `ns:key`) and return the typed model.

    Raises `ConfigError` listing every problem found; nothing else is raised.
    """
    problems: list[str] = []
    data: dict[str, Any] = {}
    secrets_set: set[str] = set()
    wrongly_secret: set[str] = set()
    prefix = f"{PROJECT}:"
    for key, value in raw.items():
        if key == LOCATION_KEY:
            if key in secret_keys:
                problems.append(f"{key} is stored as a secret but is not one: pulumi config rm --secret {key} "
                                f"&& pulumi config set {key} <region>")
                wrongly_secret.add("location")
                continue
            data["location"] = value
            continue
        if key in _PROVIDER_SECRETS and key not in secret_keys:
            problems.append(f"{key} must be stored as a secret: pulumi config rm {key} && "
                            f"pulumi config set --secret {key} (it asks for the value)")
            continue
        if not key.startswith(prefix):
            problems.extend(namespace_problems(key))
            continue
        name = key[len(prefix):]
        if name == "location":
            problems.append(f"{key} is not a key of this stack: the region is set once, as {LOCATION_KEY} "
                            f"(pulumi config rm location && pulumi config set {LOCATION_KEY} <region>)")
            continue
        if name in SECRET_KEYS:
            if key not in secret_keys:
                problems.append(
                    f"{key} must be stored as a secret: pulumi config rm {name} && "
                    f"pulumi config set --secret {name} (it asks for the value)"
                )
                secrets_set.add(name)  # reported once, here, not again as missing
            elif value not in (None, ""):
                secrets_set.add(name)
            continue
        if key in secret_keys:
            # The plaintext is unknown offline and must not be printed under `pulumi up`.
            problems.append(f"{key} is stored as a secret but is not one: pulumi config rm {name} && "
                            f"pulumi config set {name} <value> (without --secret)")
            wrongly_secret.add(name)
            continue
        decoded = _decode(name, value, problems)
        if decoded is not None:
            data[name] = decoded

    model: StackConfig | None = None
    try:
        model = StackConfig.model_validate(data)
        model._secrets_set = frozenset(secrets_set)
    except ValidationError as exc:
        for err in exc.errors():
            if err["type"] == "missing" and err["loc"] and err["loc"][0] in wrongly_secret:
                continue  # already reported as a misplaced secret
            if err["type"] == "missing" and tuple(err["loc"]) == ("location",):
                problems.append(f"{LOCATION_KEY} is required: pulumi config set azure-native:location swedencentral "
                                "(or the Azure region nearest your users)")
            else:
                problems.append(_message(err))
    if model is not None:
        # A key refused as a misplaced secret is not reported a second time as missing.
        missing = tuple(f"{PROJECT}:{name} is required" for name in wrongly_secret)
        problems.extend(line for line in cross_checks(model) if not line.startswith(missing) or not missing)
        # No chart values and no nodes in federation mode: the rules below are the hub modes'.
        if not model.federated and all(line.startswith(f"{PROJECT}:helmValues.") for line in problems):
            # What the merged chart values do, whatever path set it (the helmValues gate's layer 2).
            # With at most helmValues problems so far the values still render: report these too,
            # one line per key.
            seen = {line.split(" ", 1)[0] for line in problems}
            problems.extend(line for line in merged_values_problems(model) if line.split(" ", 1)[0] not in seen)
        if not problems and not model.federated:
            problems.extend(chart_value_problems(model))
        if not problems and not model.tljh and not model.federated:
            # Pods against nodes, read from the rendered values: last, once the values are known to
            # be what the typed keys and the gate allow (a helmValues guarantee is the gate's to
            # refuse, not a node size's).
            problems.extend(fit_problems(model))
    if problems:
        # One line per problem, whatever a value held.
        raise ConfigError([" ".join(line.split("\n")) if "\n" in line else line for line in problems])
    assert model is not None
    return model


def raw_pulumi_config() -> dict[str, Any]:
    """Every config key of the running stack, as the Pulumi runtime holds it."""
    from pulumi.runtime import config as runtime_config

    return {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}


def load_from_pulumi() -> StackConfig:
    """Read and validate the running stack's config from the Pulumi runtime.

    Raises `pulumi.RunError` (shown to the user without a traceback) before any
    resource is registered when the config is wrong.
    """
    import pulumi
    from pulumi.runtime import config as runtime_config

    raw = raw_pulumi_config()
    env_secret = set(runtime_config.get_config_secret_keys_env())
    secret = {k for k in raw if k in env_secret or runtime_config.is_config_secret(k)}
    try:
        return parse_config(raw, secret)
    except ConfigError as err:
        raise pulumi.RunError("invalid stack config:\n" + str(err)) from None
