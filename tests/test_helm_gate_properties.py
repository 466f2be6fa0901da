"""Properties of the helmValues gate where the classes are open-ended (hypothesis): every path
the allowlist does not know is refused or listed as unchecked; a value of the wrong kind or a
null on a rendered key is one line, never a traceback or a silent drop; the product's own
values keep every invariant; secrets are refused and redacted whatever their name or place."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components import charts, helm_guard, values_invariants
from components.config import ConfigError
from components.config_load import parse_config
from components.helm_guard import redact
from components.helm_paths import Path, allowed, dotted, get, has, leaves, nodes
from components.helm_secrets import PLACEHOLDER, secrets_in
from tests.helpers import raw_config

P = "binderhub-azure:helmValues."
GITHUB = {"type": "github", "clientId": "c", "allowedUsers": ["alice"]}
MODES: dict[str, dict[str, Any]] = {
    "binderhub": {},
    "jupyterhub": {"mode": "jupyterhub", "auth": GITHUB, "secrets": {"authClientSecret": "s"}},
}
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SAFE_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


def check(mode: str, helm_values: dict[str, Any]) -> tuple[list[str], Any]:
    """(problem lines, the parsed config or None). Anything but a ConfigError fails the test."""
    keys = dict(MODES[mode])
    raw, secret = raw_config(keys.pop("secrets", None), helmValues=helm_values, **keys)
    try:
        return [], parse_config(raw, secret)
    except ConfigError as err:
        assert all("\n" not in line and line.startswith("binderhub-azure:") for line in err.problems), err.problems
        return err.problems, None


def nest(path: Path, value: Any) -> dict[str, Any]:
    out: Any = value
    for part in reversed(path):
        out = {part: out}
    return out


@cache
def _product(mode: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(raw JupyterHub values, raw BinderHub values, coalesced JupyterHub, coalesced BinderHub)
    the product renders for the mode's base stack."""
    keys = dict(MODES[mode])
    raw, secret = raw_config(keys.pop("secrets", None), **keys)
    cfg = parse_config(raw, secret)
    values = helm_guard._render(cfg)
    raw_jh = values.get("jupyterhub", {}) if cfg.binder else values
    raw_bh = {k: v for k, v in values.items() if k != "jupyterhub"} if cfg.binder else {}
    jh, bh = helm_guard._split(cfg, values)
    return raw_jh, raw_bh, jh, bh


def _paths(tree: Any, want: type | None = None) -> list[Path]:
    """Key paths (no list items, keys a user can write) of a values tree, of one kind if asked."""
    found = []
    for path, value in nodes(tree):
        if all(SAFE_KEY.fullmatch(p) for p in path) and (want is None or isinstance(value, want)):
            found.append(path)
    return sorted(found)


@cache
def chart_paths() -> list[tuple[str, str, Path]]:
    """(mode, helmValues block, path) of every key path of both charts' defaults and the product's values."""
    out = []
    for mode in MODES:
        _, _, jh, bh = _product(mode)
        for path in _paths(jh):
            out.append((mode, "jupyterhub", path))
        for path in _paths(bh):
            out.append((mode, "binderhub", path))
    return out


SEGMENT = st.from_regex(r"[a-z][A-Za-z0-9_]{0,8}", fullmatch=True)
HARMLESS = st.one_of(st.booleans(), st.integers(-5, 10**6), st.sampled_from(["x", "abc", "/tmp/x", "", "on"]),
                     st.none())


@st.composite
def unknown_paths(draw: st.DrawFn) -> tuple[str, str, Path, Any]:
    mode, where, path = draw(st.sampled_from(chart_paths()))
    path = path + tuple(draw(st.lists(SEGMENT, max_size=2)))
    if mode == "binderhub" and where == "jupyterhub" and draw(st.booleans()):
        where = "binderhub.jupyterhub"  # the same chart, set inside the BinderHub values
    return mode, where, path, draw(HARMLESS)


def helm_values(where: str, path: Path, value: Any) -> dict[str, Any]:
    block, _, sub = where.partition(".")
    return {block: nest((sub, *path) if sub else path, value)}


def _names(line: str, where: str, path: Path) -> bool:
    key = line.split(" ", 1)[0][len(P):]
    full = f"{where}.{dotted(path)}"
    return full == key or full.startswith(key + ".") or full.startswith(key + "[") or key.startswith(full + ".")


@SETTINGS
@given(unknown_paths())
def test_every_path_the_allowlist_does_not_know_is_refused_or_listed(case):
    mode, where, path, value = case
    chart = "binderhub" if where == "binderhub" else "jupyterhub"
    values = helm_values(where, path, value)
    found, cfg = check(mode, values)
    if allowed(chart, path):
        return  # accepted as it is, or refused by an invariant or the schema: either is fine
    assert found, f"{where}.{dotted(path)} = {value!r} was accepted without being listed"
    assert any(_names(line, where, path) for line in found), found
    # listed: accepted and shown as unchecked, or refused with one line per problem, never a crash
    found, cfg = check(mode, {**values, "uncheckedPaths": [f"{where}.{dotted(path)}"]})
    if cfg is not None:
        listed = [p for p, _ in helm_guard.unchecked(cfg)]
        assert any(f"helmValues.{where}.{dotted(path)}".startswith(p) for p in listed), listed


@st.composite
def wrong_kinds(draw: st.DrawFn) -> tuple[str, str, Path, Any]:
    mode = draw(st.sampled_from(sorted(MODES)))
    _, _, jh, bh = _product(mode)
    where = draw(st.sampled_from(["jupyterhub", "binderhub"] if mode == "binderhub" else ["jupyterhub"]))
    tree = jh if where == "jupyterhub" else bh
    path = draw(st.sampled_from([p for p in _paths(tree) if get(tree, p) not in ({}, [])
                                 and isinstance(get(tree, p), (dict, list))]))
    current = get(tree, path)
    wrong = draw(st.one_of(st.sampled_from(["x", "1"]), st.integers(0, 5), st.booleans(),
                           st.just([1]) if isinstance(current, dict) else st.just({"a": 1})))
    return mode, where, path, wrong


@SETTINGS
@given(wrong_kinds())
def test_a_value_of_the_wrong_kind_is_one_line_naming_its_key_never_a_traceback(case):
    mode, where, path, value = case
    found, _ = check(mode, {where: nest(path, value)})
    if not any(line.startswith(f"{P}{where}.{dotted(path)} must be") for line in found):
        # refused as unchecked first: listed, the kind is what is left to refuse
        assert found
        found, _ = check(mode, {where: nest(path, value), "uncheckedPaths": [f"{where}.{dotted(path)}"]})
    whys = ("must be", "config section", "secret in plain text")
    assert any(line.startswith(f"{P}{where}.{dotted(path)} ") and any(why in line for why in whys)
               for line in found), found


@st.composite
def rendered_keys(draw: st.DrawFn) -> tuple[str, str, Path]:
    mode = draw(st.sampled_from(sorted(MODES)))
    raw_jh, raw_bh, _, _ = _product(mode)
    where = draw(st.sampled_from(["jupyterhub", "binderhub"] if mode == "binderhub" else ["jupyterhub"]))
    tree = raw_jh if where == "jupyterhub" else raw_bh
    return mode, where, draw(st.sampled_from(_paths(tree)))


@SETTINGS
@given(rendered_keys())
def test_a_null_never_silently_drops_what_the_stack_renders(case):
    mode, where, path = case
    found, _ = check(mode, {where: nest(path, None)})
    assert any(_names(line, where, path) for line in found), found
    found, cfg = check(mode, {where: nest(path, None), "uncheckedPaths": [f"{where}.{dotted(path)}"]})
    if cfg is not None:  # accepted only because listed, and then shown as unchecked
        assert helm_guard.unchecked(cfg), path


TYPED = st.fixed_dictionaries({
    "mode": st.sampled_from(["binderhub", "jupyterhub"]),
    "placeholders": st.integers(0, 3),
    "memory": st.sampled_from(["512M", "1G", "2G", "4G"]),
    "cpu": st.sampled_from([0.5, 1, 2]),
    "cull": st.sampled_from([None, 5, 30, 120]),
    "quota": st.sampled_from([None, 0, 50]),
    "per_repo": st.sampled_from([None, 0, 5]),
    "metadata": st.booleans(),
    "hardening": st.booleans(),
    "monitoring": st.booleans(),
    "auth": st.booleans(),
    "storage": st.sampled_from(["shared", "perUserDisk", "none"]),
})


def typed_stack(t: dict[str, Any]) -> dict[str, Any]:
    keys: dict[str, Any] = {"speed": {"placeholders": t["placeholders"]},
                            "security": {"blockCloudMetadata": t["metadata"], "podHardening": t["hardening"]},
                            "monitoring": {"enabled": t["monitoring"]}}
    limits: dict[str, Any] = {"memory": t["memory"], "cpu": t["cpu"]}
    if t["cull"]:
        limits["cullIdleMinutes"] = t["cull"]
    if t["mode"] == "jupyterhub":
        keys |= {"mode": "jupyterhub", "auth": GITHUB, "secrets": {"authClientSecret": "s"},
                 "storage": {"type": t["storage"]}}
    else:
        if t["quota"] is not None:
            limits["totalQuota"] = t["quota"]
        if t["per_repo"] is not None:
            limits["perRepoQuota"] = t["per_repo"]
        if t["auth"]:
            keys |= {"auth": GITHUB, "secrets": {"authClientSecret": "s"}}
    keys["limits"] = limits
    if t["monitoring"]:
        # A Binder's core pods with monitoring need more than the default system size (components/fit.py).
        keys["cluster"] = {"systemPool": {"vmSize": "Standard_E2s_v5"}}
    return keys


@SETTINGS
@given(TYPED)
def test_the_products_own_values_keep_every_invariant_and_harmless_values_pass(t):
    keys = typed_stack(t)
    secrets = keys.pop("secrets", None)
    raw, secret = raw_config(secrets, **keys)
    cfg = parse_config(raw, secret)
    values = helm_guard._render(cfg)
    jh, bh = helm_guard._split(cfg, values)
    assert values_invariants.findings(values_invariants.Values(cfg, jh, jh, bh, bh)) == []
    harmless = {"jupyterhub": {"singleuser": {"image": {"name": "quay.io/jupyter/scipy-notebook", "tag": "x"},
                                              "extraEnv": {"COURSE": "stats"}}}}
    raw, secret = raw_config(secrets, helmValues=harmless, **keys)
    parse_config(raw, secret)  # accepted: no ConfigError


SECRET_WORD = st.sampled_from(["TOKEN", "SECRET", "PASSWORD", "API_KEY", "PRIVATE_KEY", "CREDENTIALS", "CRYPT_KEY",
                               "ACCESS_KEY", "ACCOUNT_KEY", "CONNECTION_STRING", "clientSecret", "authToken"])
AFFIX = st.sampled_from(["", "MY_", "AZURE_", "ARM_", "AWS_", "GITHUB_", "x"])
SUFFIX = st.sampled_from(["", "_VALUE", "_2"])
SECRET_TEXT = st.from_regex(r"[A-Za-z][A-Za-z0-9+/=~._-]{7,30}", fullmatch=True)


@SETTINGS
@given(AFFIX, SECRET_WORD, SUFFIX, SECRET_TEXT, st.sampled_from(["map", "list", "value"]),
       st.sampled_from(["singleuser", "hub"]))
def test_a_secret_under_any_such_name_and_form_is_refused_and_never_echoed(pre, word, post, text, form, where):
    name = f"{pre}{word}{post}"
    env: Any = {"map": {name: text}, "list": [{"name": name, "value": text}], "value": {name: {"value": text}}}[form]
    values = {"jupyterhub": {where: {"extraEnv": env}}, "uncheckedPaths": ["jupyterhub.hub"]}
    found, _ = check("binderhub", values)
    assert any("secret" in line and f"{where}.extraEnv" in line for line in found), found
    assert not any(text in line for line in found)
    assert PLACEHOLDER in str(redact(values)) and text not in str(redact(values))
    # the same name as an on/off flag or a number is no secret
    for flag in (True, False, 0, 3600, "false", "1"):
        assert not list(secrets_in({"extraEnv": {name: flag}}))


TREES = st.recursive(
    st.one_of(HARMLESS, SECRET_TEXT),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.one_of(SEGMENT, st.builds(lambda a, w: a + w, AFFIX, SECRET_WORD)),
                                            inner, max_size=3)),
    max_leaves=12)


@SETTINGS
@given(TREES)
def test_redaction_leaves_nothing_the_gate_calls_secret_and_changes_nothing_else(tree):
    clean = redact(tree)
    assert list(secrets_in(clean)) == []
    secret_paths = {path for path, _ in secrets_in(tree)}
    for path, value in leaves(tree):
        if path in secret_paths:
            assert get(clean, path) == PLACEHOLDER
        elif has(clean, path):
            assert get(clean, path) == value


def test_every_chart_key_is_reachable_by_the_properties():
    """The path strategies draw from both charts' defaults and the product's values."""
    paths = chart_paths()
    assert any(where == "binderhub" and path[:1] == ("config",) for _, where, path in paths)
    assert any(where == "jupyterhub" and path[:1] == ("hub",) for _, where, path in paths)
    assert len(paths) > 500
    assert charts.defaults(charts.JUPYTERHUB)["singleuser"]
