"""The helmValues gate (pure): raw chart values are accepted by their effect, not by a list of
forbidden paths.

`helmValues` is deep-merged last over what the stack renders, so one line there could undo
what a typed key promises. The gate has two layers:

1. Paths (`helm_values_problems`, with the other cross-field checks). Every leaf the stack
   sets is either on the allowlist (`helm_paths.ALLOWED`: paths whose whole effect layer 2
   decides), or listed under `helmValues.uncheckedPaths` (the stack takes responsibility; the
   plan lists it as unchecked), or refused with one line naming it. A secret in plain text
   (`helm_secrets`) is refused anywhere, listed or not.
2. Invariants (`merged_values_problems`, once the rest of the config is valid): the values
   the release would get are checked whatever path set them (`values_invariants`). Before
   that, a value of the wrong kind (a text where the chart or the stack has a mapping) or a
   null that drops what the stack renders is refused with one line, never a traceback.

Paths are relative to the JupyterHub chart (z2jh 4.x values) for `helmValues.jupyterhub` and
`helmValues.binderhub.jupyterhub`, and to the BinderHub chart for the rest of
`helmValues.binderhub`. The README's "Security model" table is `security_model_markdown()`;
a test keeps the two in step.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from . import charts, helm_secrets, hub_spec, values_invariants
from .helm_paths import (
    ALLOWED,
    Path,
    ack_problem,
    acknowledged_by,
    allowed,
    chart_paths,
    dotted,
    get,
    has,
    matches,
    nodes,
    parse,
    suggestion,
)
from .helm_python import read_snippet
from .helm_secrets import KNOWN_SECRETS, PLAIN, secrets_in
from .values_invariants import INVARIANTS, NO_KEY, Values, watching

if TYPE_CHECKING:
    from .config import StackConfig

PROJECT = "binderhub-azure"
UNCHECKED_KEY = f"{PROJECT}:helmValues.uncheckedPaths"
NO_SECRET = "helmValues may not hold a secret, even under uncheckedPaths"
NO_WEAKENING = "helmValues may not change what the gate's invariants protect, even under uncheckedPaths"
Leaf = tuple[str, str, Path, Any]  # (helmValues block, chart, chart-relative path, value)


def _helm_values(cfg: StackConfig) -> dict[str, Any]:
    return {"jupyterhub": cfg.helm_values.jupyterhub, "binderhub": cfg.helm_values.binderhub}


def _leaves(cfg: StackConfig) -> list[Leaf]:
    """Every leaf the gate judges; in jupyterhub mode `helmValues.binderhub` is refused whole
    by the cross-field checks, so its paths are not judged one by one (its secrets are)."""
    return [leaf for leaf in chart_paths(_helm_values(cfg), cfg.binder)
            if leaf[2] and (cfg.binder or leaf[0] == "jupyterhub")]


def _key(where: str, path: Path) -> str:
    return f"{PROJECT}:helmValues.{where}" + (f".{dotted(path)}" if path else "")


# ================================================================================ layer 1: paths


def helm_values_problems(cfg: StackConfig) -> list[str]:
    """Refused paths, unusable or unused acknowledgements and plain-text secrets, one line each."""
    if cfg.tljh:
        return []  # tljh reports helmValues as unused
    acks = list(cfg.helm_values.unchecked_paths)
    problems = [f"{UNCHECKED_KEY}[{i}] {why} (got {pattern!r})"
                for i, pattern in enumerate(acks) if (why := ack_problem(pattern))]
    acks = [pattern for pattern in acks if not ack_problem(pattern)]
    binder_jh = cfg.helm_values.binderhub.get("jupyterhub", {})
    if cfg.binder and not isinstance(binder_jh, Mapping):
        # helmValues.binderhub.jupyterhub is the JupyterHub chart's values, never anything else
        problems.append(f"{_key('binderhub', ('jupyterhub',))} must be a mapping (the JupyterHub chart's values, "
                        f"merged key by key), not {_describe(binder_jh)}"
                        + (": null would drop the whole JupyterHub the stack renders" if binder_jh is None else ""))
    problems += secret_problems(cfg)
    secret_keys = {line.split(" ", 1)[0] for line in problems}
    used: set[str] = set()
    refused: dict[str, str] = {}
    for where, chart, path, value in _leaves(cfg):
        if allowed(chart, path) or (where, path) == ("binderhub", ("jupyterhub",)):
            continue
        pattern = acknowledged_by(acks, where, path)
        if pattern:
            used.add(pattern)
            continue
        key = _key(where, path)
        if any(key == s or key.startswith((s + ".", s + "[")) for s in secret_keys):
            continue  # already refused as a secret
        watched = watching(chart, path)
        null = "; null removes the key and all the chart and the stack set under it" if value is None else ""
        hint = suggestion(where, path)
        group = f"{PROJECT}:helmValues.{hint}"
        only = f"helmValues may only set the paths the gate checks, or those listed in {UNCHECKED_KEY}"
        if watched and all(above for _, above in watched):
            titles = ", ".join(inv.title for inv, _ in watched)
            refused.setdefault(group, f"{group} is refused: it replaces a whole block that holds what the stack "
                               f"renders from its typed keys and the gate checks ({titles}){null}; set single keys "
                               f"inside it ({only})")
        elif watched:
            inv = next(inv for inv, above in watched if not above)
            refused.setdefault(group, f"{group} is refused: it sets {inv.title}, which the stack renders from its "
                               f"typed keys and the gate checks{null}; {inv.instead} ({only})")
        else:
            refused.setdefault(group, f"{group} is refused: the gate does not check what this path does{null}; if "
                               f"you take responsibility for it, add '{hint}' to {UNCHECKED_KEY}: every plan then "
                               f"lists it as unchecked, and the invariants still apply ({only})")
    problems += list(refused.values())
    leaves = _leaves(cfg)
    for pattern in acks:
        if pattern not in used and not any(acknowledged_by([pattern], w, p) for w, _, p, _ in leaves):
            problems.append(f"{UNCHECKED_KEY} entry {pattern!r} names no helmValues path; remove it")
        elif pattern not in used:
            problems.append(f"{UNCHECKED_KEY} entry {pattern!r} names only paths the gate checks itself; "
                            "remove it")
    return problems


def _known_secret(chart: str, path: Path) -> tuple[str, Path] | None:
    """(what to do instead, the known secret's own path) when `path` is at or below one."""
    for kchart, pattern, instead in KNOWN_SECRETS:
        if kchart == chart and matches(parse(pattern), path, prefix=True):
            return instead, path[:len(parse(pattern))]
    return None


def secret_problems(cfg: StackConfig) -> list[str]:
    """Every plain-text secret in helmValues (listed in uncheckedPaths or not)."""
    problems: dict[str, str] = {}
    blocks: list[tuple[str, str, Any]] = [("jupyterhub", "jupyterhub", cfg.helm_values.jupyterhub)]
    binder = dict(cfg.helm_values.binderhub)
    jh = binder.get("jupyterhub")
    if isinstance(jh, Mapping):
        binder.pop("jupyterhub")
        blocks.append(("binderhub.jupyterhub", "jupyterhub", jh))
    blocks.append(("binderhub", "binderhub", binder))
    for where, chart, tree in blocks:
        for path, value in nodes(tree):
            known = _known_secret(chart, path)
            if known and value not in (None, "", [], {}) and not isinstance(value, (Mapping, list)):
                key = _key(where, known[1])
                problems.setdefault(key, f"{key} is refused: it holds a secret in plain text; {known[0]} "
                                    f"({NO_SECRET})")
            if isinstance(value, str) and len(path) >= 2 and path[-2] == "extraConfig":
                for detail in read_snippet(value).secrets[:1]:
                    key = _key(where, path)
                    problems.setdefault(key, f"{key} holds a secret in plain text in its Python ({detail}; the "
                                        f"plan would print it); {PLAIN} ({NO_SECRET})")
        for path, why in secrets_in(tree):
            key = _key(where, path)
            if not any(key == k or key.startswith((k + ".", k + "[")) for k in problems):
                problems[key] = (f"{key} looks like a secret in plain text ({why}; the plan would print it); "
                                 f"{PLAIN} ({NO_SECRET})")
    return list(problems.values())


def unchecked(cfg: StackConfig) -> list[tuple[str, str]]:
    """(helmValues path, the uncheckedPaths entry that covers it) of every path the gate lets
    through without checking its effect, grouped as refusals are (a list counts once)."""
    if cfg.tljh:
        return []
    acks = [pattern for pattern in cfg.helm_values.unchecked_paths if not ack_problem(pattern)]
    found: dict[str, str] = {}
    for where, chart, path, _ in _leaves(cfg):
        if allowed(chart, path):
            continue
        pattern = acknowledged_by(acks, where, path)
        if pattern:
            found.setdefault(f"helmValues.{suggestion(where, path)}", pattern)
    return sorted(found.items())


def unchecked_notes(cfg: StackConfig) -> list[str]:
    """Plan notes (and `pulumi up` warnings): every unchecked path, one line each."""
    return [f"{path} is not checked by the stack: {UNCHECKED_KEY.split(':', 1)[1]} lists it ({pattern!r}), so "
            "what it does is yours to review; the invariants on the merged values and the secret check still "
            "apply" for path, pattern in unchecked(cfg)]


# =========================================================================== layer 2: invariants


def _stand_in_wiring(cfg: StackConfig) -> hub_spec.RegistryWiring | None:
    stand_in = "0" * 64
    if cfg.uses_acr:
        return hub_spec.acr_wiring(cfg, "registry.azurecr.io", "user", stand_in)
    if cfg.uses_dockerhub:
        return hub_spec.dockerhub_wiring(cfg, stand_in)
    return None


def _render(cfg: StackConfig) -> dict[str, Any]:
    """The release values with stand-in secrets, as chart_value_problems renders them."""
    stand_in = "0" * 64
    secrets = hub_spec.HubSecrets(*[stand_in] * 6)
    return hub_spec.release_values(cfg, secrets, _stand_in_wiring(cfg))


def _split(cfg: StackConfig, values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(JupyterHub chart values, BinderHub chart values without `jupyterhub`), coalesced."""
    if cfg.binder:
        full = charts.coalesce(charts.BINDERHUB, values)
        jh = full.pop("jupyterhub")
        return jh, full
    return charts.coalesce(charts.JUPYTERHUB, values), {}


def _product(cfg: StackConfig) -> StackConfig:
    from .config_site import HelmValuesConfig

    return cfg.model_copy(update={"helm_values": HelmValuesConfig()})


def merged_values_problems(cfg: StackConfig) -> list[str]:
    """Wrong kinds, dropped product keys and broken invariants of the merged values, one line
    each. Run once the config is otherwise valid (it renders the release values)."""
    if cfg.tljh or not (cfg.helm_values.jupyterhub or cfg.helm_values.binderhub):
        return []
    product_raw = _render(_product(cfg))
    jh0, bh0 = _split(cfg, product_raw)
    raw_jh0 = product_raw.get("jupyterhub", {}) if cfg.binder else product_raw
    raw_bh0 = {k: v for k, v in product_raw.items() if k != "jupyterhub"} if cfg.binder else {}
    problems = shape_problems(cfg, jh0, bh0)
    if problems:
        return problems
    lines = {line.split(" ", 1)[0]: line for line in null_problems(cfg, raw_jh0, raw_bh0)}
    jh, bh = _split(cfg, _render(cfg))
    values = Values(cfg, jh, jh0, bh, bh0)
    for inv, found in values_invariants.findings(values):
        key = _blame(cfg, found.chart, found.path)
        lines.setdefault(key, f"{key} is refused: it {found.text}; {inv.instead} (invariant \"{inv.title}\"; "
                         f"{NO_WEAKENING})")
    return list(lines.values())


# Free-form blocks whose entries must still have one kind (z2jh runs `c[section].update(cfg)`
# for each hub.config section and `exec` for each extraConfig entry).
STRUCTURE: tuple[tuple[str, str, type, str], ...] = (
    ("jupyterhub", "hub.config.*", dict, "a mapping of traits (z2jh passes it to c[section].update)"),
    ("jupyterhub", "hub.loadRoles.*", dict, "a role: a mapping with scopes and users, groups or services"),
    ("jupyterhub", "hub.services.*", dict, "a service: a mapping"),
    ("jupyterhub", "hub.extraConfig.*", str, "Python code as a text"),
    ("jupyterhub", "singleuser.extraFiles.*", dict, "a file: a mapping with mountPath and data or stringData"),
    ("binderhub", "config.*", dict, "a mapping of traits"),
    ("binderhub", "extraConfig.*", str, "Python code as a text"),
)
_KIND = {dict: "a mapping", list: "a list", str: "a text"}


def _kind(value: Any) -> type | None:
    if isinstance(value, Mapping):
        return dict
    if isinstance(value, list):
        return list
    return None


def shape_problems(cfg: StackConfig, jh0: Mapping[str, Any], bh0: Mapping[str, Any]) -> list[str]:
    """Values of the wrong kind: a scalar where the chart or the stack has a mapping or a list
    (or the reverse), an entry of a free-form block of the wrong kind, a hub.config section
    that z2jh would refuse. One line each, naming the key."""
    problems: list[str] = []
    sources: list[tuple[str, str, Any]] = [("jupyterhub", "jupyterhub", cfg.helm_values.jupyterhub)]
    binder = dict(cfg.helm_values.binderhub)
    if cfg.binder and "jupyterhub" in binder:
        sub = binder.pop("jupyterhub")
        if isinstance(sub, Mapping):
            sources.append(("binderhub.jupyterhub", "jupyterhub", sub))
        elif sub is not None:
            problems.append(f"{_key('binderhub', ('jupyterhub',))} must be a mapping (the JupyterHub chart's "
                            f"values), not {_describe(sub)}")
    sources.append(("binderhub", "binderhub", binder))
    for where, chart, tree in sources:
        base = jh0 if chart == "jupyterhub" else bh0
        wrong: list[Path] = []
        for path, value in nodes(tree):
            if value is None or any(path[:len(w)] == w for w in wrong):
                continue
            present = get(base, path)
            # an empty mapping or list is how the charts default a key that takes either (z2jh
            # extraEnv: a mapping or a list); nothing is dropped there, the schema decides
            want = _kind(present) if present not in (None, {}, []) else None
            have = _kind(value)
            why = None
            if want is not None and have is not want:
                why = f"must be {_KIND[want]} (the chart or the stack has one there), not {_describe(value)}"
            elif want is None and present not in (None, {}, []) and have is not None:
                why = f"must be a single value (the chart or the stack has one there), not {_describe(value)}"
            for s_chart, pattern, kind, text in STRUCTURE:
                if s_chart == chart and matches(parse(pattern), path) and not isinstance(value, kind):
                    why = f"must be {text}, not {_describe(value)}"
            if chart == "jupyterhub" and len(path) == 3 and path[:2] == ("hub", "config") and \
                    not path[2][:1].isupper():
                why = ("is not a config section: z2jh stops the hub when a hub.config section does not start "
                       "with a capital letter (put roles under hub.loadRoles, the rest under its class name)")
            if why:
                wrong.append(path)
                problems.append(f"{_key(where, path)} {why}")
    return problems


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a text"
    if isinstance(value, list):
        return "a list"
    return "a mapping" if isinstance(value, Mapping) else type(value).__name__


def null_problems(cfg: StackConfig, raw_jh0: Mapping[str, Any], raw_bh0: Mapping[str, Any]) -> list[str]:
    """A null drops the key from what the release gets (Helm, and charts.merge): refused where
    the stack renders that key, unless the path is listed in uncheckedPaths."""
    acks = [pattern for pattern in cfg.helm_values.unchecked_paths if not ack_problem(pattern)]
    problems = []
    for where, chart, path, value in _leaves(cfg):
        base = raw_jh0 if chart == "jupyterhub" else raw_bh0
        if value is None and has(base, path) and not acknowledged_by(acks, where, path):
            removed = get(base, path)
            what = f" ({', '.join(sorted(map(str, removed))[:8])})" if isinstance(removed, Mapping) else ""
            typed = next((inv.instead for inv, _ in watching(chart, path) if inv.instead != NO_KEY),
                         "set its typed key instead")
            problems.append(f"{_key(where, path)} is refused: null removes what the stack renders there{what}; "
                            f"{typed}; or list '{where}.{dotted(path)}' in {UNCHECKED_KEY} if that is what you mean "
                            "(the invariants still apply)")
    return problems


def _blame(cfg: StackConfig, chart: str, path: Path) -> str:
    """The helmValues key to name for a finding at `path` of `chart`'s merged values: the leaf the
    stack set there (or above or below it), else the path itself."""
    best: tuple[int, str] | None = None
    for where, leaf_chart, leaf, _ in _leaves(cfg):
        if leaf_chart != chart:
            continue
        if leaf[:len(path)] == path or path[:len(leaf)] == leaf:
            shown = leaf if len(leaf) <= len(path) else path
            score = len(shown)
            if best is None or score > best[0]:
                best = (score, _key(where, shown))
    if best:
        return best[1]
    return _key(chart, path)


def redact(tree: Any) -> Any:
    """`tree` with whatever the gate calls secret (`helm_secrets`, and literal secrets in Python
    config) shown as "[secret]": what the offline plan prints."""
    return helm_secrets.redact(tree, lambda code: bool(read_snippet(code).secrets))


# ==================================================================================== README


def security_model_markdown() -> str:
    """The gate as the README's "Security model" shows it: the allowlist, the invariants and
    the secret rule."""
    lines = ["Paths accepted as they are (chart-relative; `*` is any one key, `**` anything below); every other "
             f"path needs `{UNCHECKED_KEY.split(':', 1)[1]}`:", "",
             "| chart | path | what for |", "|---|---|---|"]
    lines += [f"| {a.chart} | `{a.pattern}` | {a.what} |" for a in ALLOWED]
    lines += ["", "Invariants on the merged values, whatever path (listed or not) sets them:", "",
              "| invariant | rule | source | instead |", "|---|---|---|---|"]
    for inv in INVARIANTS:
        instead = inv.instead if inv.instead != NO_KEY else "none: " + NO_KEY
        lines.append(f"| {inv.title} | {inv.rule} | {inv.source} | {instead} |")
    lines += ["", "Secrets, refused on every path: the chart secrets the stack generates, the OAuth client secret "
              "and registry passwords (" + ", ".join(f"`{p}`" for _, p, _ in KNOWN_SECRETS) + "); any text under a "
              "name that says secret, token, password, credential(s), API/private/access/account/crypt key or "
              "connection string (in mappings, in `[{name, value}]` lists, in Python config), unless it is an "
              "on/off word, a number or a file path, or the name ends in a reference word (`_URL`, `Name`, "
              "`Ref`, `_FILE`, `_ID`, ...); and any text holding `AccountKey=`, `SharedAccessSignature=`, a SAS "
              "`sig=`, a private key, a service-account key, a GitHub or Docker Hub token or a password in a URL. "
              "The plan shows each such value as \"[secret]\"."]
    return "\n".join(lines)

