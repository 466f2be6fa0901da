"""How a validation error becomes one line naming the full key (`binderhub-azure:...`) and
what is allowed, and which config namespaces a stack may use.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from typing import Any, get_args, get_origin

from pydantic import BaseModel

from .config import StackConfig
from .config_fields import (
    _OBJECT_KEYS,
    LOCATION_KEY,
    PROJECT,
)


def full_key(loc: tuple[Any, ...]) -> str:
    """`('cluster', 'userPool', 'maxCount')` -> `binderhub-azure:cluster.userPool.maxCount`."""
    if loc and loc[0] == "location":
        return LOCATION_KEY + _path(loc[1:])
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return f"{PROJECT}:{text}"


def _path(loc: tuple[Any, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class that holds the field at `loc`'s parent, for "did you mean" hints."""
    model: type[BaseModel] | None = StackConfig
    for part in loc[:-1]:
        if isinstance(part, int) or model is None:
            continue
        field = next((f for f in model.model_fields.values() if f.alias == part), None)
        if field is None:
            return None
        model = _model_class(field.annotation)
    return model


def _model_class(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) is not None:
        for arg in get_args(annotation):
            found = _model_class(arg)
            if found:
                return found
    return None


# Hints for keys people put in the wrong place.
_MISPLACED = {
    "clientSecret": f"the OAuth client secret goes in the secret key {PROJECT}:authClientSecret "
    "(pulumi config set --secret authClientSecret, which asks for it)",
    "token": f"the Docker Hub token goes in the secret key {PROJECT}:dockerHubToken "
    "(pulumi config set --secret dockerHubToken, which asks for it)",
    "password": f"registry credentials go in the secret key {PROJECT}:dockerHubToken (Docker Hub); "
    "ACR credentials are managed by the stack",
    "location": f"the region is set as {LOCATION_KEY} (pulumi config set azure-native:location swedencentral)",
}


def _message(err: Mapping[str, Any]) -> str:
    loc = tuple(err["loc"])
    key = full_key(loc)
    kind = err["type"]
    got = err.get("input")
    if kind == "missing":
        return f"{key} is required"
    if kind == "extra_forbidden":
        name = str(loc[-1])
        if loc[-2:] == ("systemPool", "spot"):
            return (f"{key} is not allowed: AKS system pools cannot run on Spot VMs; "
                    f"set {PROJECT}:cluster.userPool.spot instead")
        if name in _MISPLACED:
            return f"{key} is not a known key: {_MISPLACED[name]}"
        model = _model_at(loc)
        known = [str(f.alias) for f in model.model_fields.values()] if model else []
        if model is StackConfig:
            known.remove("location")
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        hint = f"; did you mean '{close[0]}'?" if close else (f"; known keys: {', '.join(known)}" if known else "")
        return f"{key} is not a known key{hint}"
    if kind == "literal_error":
        return f"{key} must be one of {err['ctx']['expected']} (got {got!r})"
    if kind == "value_error":
        return f"{key} {str(err['msg']).removeprefix('Value error, ')}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"{key} must be an object with keys (got {type(got).__name__} {got!r})"
    if kind in ("bool_parsing", "bool_type"):
        return f"{key} must be true or false (got {got!r})"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"{key} must be a whole number (got {got!r})"
    if kind in ("float_parsing", "float_type"):
        return f"{key} must be a number (got {got!r})"
    if kind == "string_type":
        return f"{key} must be a string (got {got!r})"
    bounds = {"greater_than_equal": (">=", "ge"), "greater_than": (">", "gt"),
              "less_than_equal": ("<=", "le"), "less_than": ("<", "lt")}
    if kind in bounds:
        op, name = bounds[kind]
        return f"{key} must be {op} {err['ctx'][name]} (got {got!r})"
    if kind == "list_type":
        return f"{key} must be a list (got {type(got).__name__} {got!r})"
    msg = str(err["msg"])
    return f"{key}: {msg[:1].lower()}{msg[1:]} (got {got!r})"


def _decode(key: str, value: Any, problems: list[str]) -> Any:
    """Structured config arrives from Pulumi as JSON text; decode it."""
    if key in _OBJECT_KEYS and isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            problems.append(
                f"{PROJECT}:{key} must be an object (a YAML mapping in Pulumi.<stack>.yaml, or "
                f"`pulumi config set --path {key}.<field> ...`) (got {value!r})"
            )
            return None
    return value


# Namespaces a key may live in: the project's own, the provider whose stack config this
# program uses (its default provider), and Pulumi's own settings (`pulumi:tags`, ...).
# The Kubernetes and random providers are created explicitly, so their stack config would
# be ignored: a key there is refused rather than silently doing nothing.
KNOWN_NAMESPACES = (PROJECT, "azure-native", "pulumi")
_IGNORED_NAMESPACES = {
    "kubernetes": "the stack's Kubernetes provider is configured from the cluster it creates, so "
    "kubernetes:* settings would be ignored",
    "random": "the random provider takes no settings",
    "azure": "this stack uses the azure-native provider, not azure (classic); use azure-native:*",
}
# Settings of the azure-native provider (its `config` module, pulumi-azure-native 3.29.0).
AZURE_NATIVE_KEYS = (
    "auxiliaryTenantIds", "clientCertificatePassword", "clientCertificatePath", "clientId", "clientSecret",
    "disableInstanceDiscovery", "disablePulumiPartnerId", "environment", "location", "metadataHost", "msiEndpoint",
    "oidcRequestToken", "oidcRequestUrl", "oidcToken", "oidcTokenFilePath", "partnerId", "subscriptionId",
    "tenantId", "useDefaultAzureCredential", "useMsi", "useOidc",
)
# azure-native provider settings that are credentials: only as secrets.
_PROVIDER_SECRETS = ("azure-native:clientSecret", "azure-native:clientCertificatePassword",
                     "azure-native:oidcToken", "azure-native:oidcRequestToken")


def namespace_problems(key: str) -> list[str]:
    """A key outside the project's namespace: fine for a known provider, else one line (with
    "did you mean" for a near miss such as `binderhub-azuer:auth`)."""
    if ":" not in key:
        return [f"{key} has no namespace: write it as {PROJECT}:{key}"]
    namespace, _, name = key.partition(":")
    if namespace == "azure-native" and name not in AZURE_NATIVE_KEYS:
        close = difflib.get_close_matches(name, AZURE_NATIVE_KEYS, n=1, cutoff=0.6)
        hint = f"did you mean azure-native:{close[0]}?" if close else "see the azure-native provider's settings"
        return [f"{key} is not a setting of the azure-native provider and would be ignored; {hint}"]
    if namespace in KNOWN_NAMESPACES:
        return []
    if namespace in _IGNORED_NAMESPACES:
        return [f"{key} is not used: {_IGNORED_NAMESPACES[namespace]}"]
    close = difflib.get_close_matches(namespace, [*KNOWN_NAMESPACES, *_IGNORED_NAMESPACES], n=1, cutoff=0.6)
    if close:
        return [f"{key} is in an unknown namespace '{namespace}' and would be ignored; did you mean "
                f"{close[0]}:{name}?"]
    return [f"{key} is in namespace '{namespace}', which this stack does not read; keys go in "
            f"{', '.join(n + ':' for n in KNOWN_NAMESPACES)}"]
