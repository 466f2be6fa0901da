"""Invariants on the merged Helm values (pure): what no helmValues may change, whatever path
sets it.

Each invariant compares the values the release would get (the product's values with
`helmValues` merged over them, `hub_spec.release_values`, then coalesced with the chart's
defaults as Helm does) with the product's own values (the same without `helmValues`). What
the product renders is by definition allowed (dind's privilege, the NFS-blocking init
container), so the rules are about what helmValues add or change. Every rule is stated once,
in `INVARIANTS`, with where it comes from; the README's "Security model" table is generated
from it.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import practices_spec
from .helm_paths import Path, dotted, get, has, nodes, parse
from .helm_python import ANY_TRAIT, read_snippet

if TYPE_CHECKING:
    from .config import StackConfig

PROJECT = "binderhub-azure"
METADATA_IP = "169.254.169.254"
AZURE_PLATFORM_IP = "168.63.129.16"
# What untrusted pods must not reach (hub_spec.NON_PUBLIC_RANGES, plus IPv6 unique-local and
# link-local, plus Azure's platform address).
FORBIDDEN_NETS = [ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16",
    f"{AZURE_PLATFORM_IP}/32", "fc00::/7", "fe80::/10")]
PLATFORM_NETS = [ipaddress.ip_network(f"{METADATA_IP}/32"), ipaddress.ip_network(f"{AZURE_PLATFORM_IP}/32")]


@dataclass(frozen=True)
class Values:
    """The two charts' coalesced values: merged (`jh`, `bh`) and the product's own (`jh0`, `bh0`).
    `bh`/`bh0` are the BinderHub chart's values without its `jupyterhub:` block, empty in
    jupyterhub mode."""

    cfg: StackConfig
    jh: dict[str, Any]
    jh0: dict[str, Any]
    bh: dict[str, Any]
    bh0: dict[str, Any]

    def of(self, chart: str, product: bool = False) -> dict[str, Any]:
        if chart == "jupyterhub":
            return self.jh0 if product else self.jh
        return self.bh0 if product else self.bh


@dataclass(frozen=True)
class Finding:
    chart: str
    path: Path
    text: str


@dataclass(frozen=True)
class Invariant:
    key: str
    title: str          # the README table's first column
    rule: str           # what must hold
    source: str         # where the rule comes from
    instead: str        # the typed key(s) that change it, or why none
    watches: tuple[str, ...]   # "chart:pattern" paths it is about (messages, README)
    check: Callable[[Values], Iterator[Finding]]


NO_KEY = "there is no key to turn this defence off"


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _map(value: Any) -> Mapping[str, Any]:
    """`value` if it is a mapping, else an empty one (the shape check reports wrong kinds)."""
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


# ----------------------------------------------------------------------------- quantities

# KubeSpawner reads memory with JupyterHub's ByteSpecification: an int is bytes, else a number
# with one suffix K, M, G or T, each a power of 1024 (jupyterhub/traitlets.py, 5.5.0).
SPAWNER_BYTES = {"K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
# Kubernetes quantities: binary Ki..Ei, decimal k..E, milli m (apimachinery resource.Quantity).
K8S_SUFFIX = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60, "m": 1e-3, "": 1,
              "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}


def spawner_bytes(value: Any) -> float | None:
    """Bytes of a KubeSpawner memory value, None if KubeSpawner would refuse it."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and value[-1:] in SPAWNER_BYTES:
        try:
            return float(value[:-1]) * SPAWNER_BYTES[value[-1]]
        except ValueError:
            return None
    return None


def cores(value: Any) -> float | None:
    """KubeSpawner's cpu_limit/cpu_guarantee are floats (cores)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        return float(value)
    except ValueError:
        return None


def quantity(value: Any) -> float | None:
    """A Kubernetes quantity ('512Mi', '1G', '250m', 2) as a number, None if it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    match = re.fullmatch(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?", str(value).strip())
    if not match:
        return None
    return float(match.group(1)) * K8S_SUFFIX[match.group(2) or ""]


# --------------------------------------------------------------------------- where things are

def spawner_sections(v: Values) -> list[str]:
    """hub.config sections that configure user pods, most specific first (traitlets applies the
    most derived class's section: BinderSpawner over KubeSpawner)."""
    return ["BinderSpawner", "KubeSpawner"] if v.cfg.binder else ["KubeSpawner"]


def _user_subtrees(values: Mapping[str, Any]) -> Iterator[tuple[Path, Any]]:
    """Parts of the JupyterHub values that become user pods: `singleuser` and the spawner
    sections of hub.config (every `*Spawner`)."""
    yield ("singleuser",), values.get("singleuser")
    config = get(values, ("hub", "config"))
    if isinstance(config, Mapping):
        for section, body in config.items():
            if str(section).endswith("Spawner"):
                yield ("hub", "config", str(section)), body


BUILD_SUBTREES = (("config", "KubernetesBuildExecutor"), ("dind",), ("pink",), ("imageCleaner",))


def pod_subtrees(v: Values, product: bool = False) -> Iterator[tuple[str, Path, Any]]:
    """(chart, path, subtree) of every part of the values that becomes a user or build pod."""
    for path, tree in _user_subtrees(v.of("jupyterhub", product)):
        yield "jupyterhub", path, tree
    bh = v.of("binderhub", product)
    for path in BUILD_SUBTREES:
        if has(bh, path):
            yield "binderhub", path, get(bh, path)


def _identity(item: Any, i: int) -> str:
    """A list item's identity: `[name=x@digest]` for a mapping with a `name` (its content
    included, so a container that keeps the product's name but not its image or command is
    new), else its index."""
    name = item.get("name") if isinstance(item, Mapping) else None
    if not isinstance(name, str):
        return f"[{i}]"
    digest = hashlib.sha256(json.dumps(item, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return f"[name={name}@{digest}]"


def _named(tree: Any, path: Path = ()) -> Iterator[tuple[Path, str, Any]]:
    """(identity path, key, value) of every mapping entry; list items that are mappings with a
    `name` are identified by it and their content (`_identity`), so reordering a list does not
    make anything new."""
    if isinstance(tree, Mapping):
        for key, item in tree.items():
            sub = (*path, str(key))
            yield sub, str(key), item
            yield from _named(item, sub)
    elif isinstance(tree, list):
        for i, item in enumerate(tree):
            yield from _named(item, (*path, _identity(item, i)))


def _norm(key: str) -> str:
    return key.replace("_", "").replace("-", "").lower()


def _new(v: Values, chart: str, base: Path, finder: Callable[[Any], Iterator[tuple[Path, str]]]
         ) -> Iterator[tuple[Path, str]]:
    """What `finder` reports in the merged subtree at `base` and not in the product's."""
    product = set(finder(get(v.of(chart, True), base)))
    for item in finder(get(v.of(chart), base)):
        if item not in product:
            yield item


def _real_path(tree: Any, identity: Path) -> Path:
    """The plain path (with list indexes) of an identity path from `_named`."""
    out: list[str] = []
    node = tree
    for part in identity:
        if part.startswith("[name=") and isinstance(node, list):
            index = next((i for i, x in enumerate(node) if _identity(x, i) == part), 0)
            out.append(f"[{index}]")
            node = node[index] if index < len(node) else None
        else:
            out.append(part)
            node = get(node, (part,))
    return tuple(out)


# ================================================================================ the checks

# --- who may log in and administer ---------------------------------------------------------

# Keys of an authenticator's section that only change how login looks, not who gets in.
LOGIN_PRESENTATION = frozenset({"login_service", "auto_login", "enable_auth_state", "refresh_pre_spawn",
                                "auth_refresh_age"})
# JupyterHub traits that decide who gets in, who is admin, what runs user servers, and which
# services hold tokens (jupyterhub/app.py 5.5.0).
LOGIN_JUPYTERHUB = frozenset({"authenticator_class", "spawner_class", "load_roles", "load_groups", "services",
                              "api_tokens", "service_tokens", "admin_users", "admin_access"})
# JupyterHub's built-in roles that apply to every user, every server's token, every token
# (jupyterhub/roles.py get_default_roles).
EVERYONE_ROLES = frozenset({"user", "server", "token"})
# Scopes that reach only one's own resources or public information (jupyterhub/scopes.py).
HARMLESS_SCOPES = frozenset({"self", "inherit", "access:services", "read:hub", "list:services", "read:services",
                             "read:services:name", "read:metrics"})


def _authenticator(section: str) -> bool:
    return section.endswith("Authenticator")


def check_login(v: Values) -> Iterator[Finding]:
    config, config0 = _map(get(v.jh, ("hub", "config"))), _map(get(v.jh0, ("hub", "config")))
    for section in sorted(set(config) | set(config0)):
        body, body0 = _map(config.get(section)), _map(config0.get(section))
        if _authenticator(section):
            keys = set(body) | set(body0)
            for trait in sorted(keys - LOGIN_PRESENTATION):
                if not _same(body.get(trait), body0.get(trait)):
                    yield Finding("jupyterhub", ("hub", "config", section, trait),
                                  f"changes the login ({section}.{trait})")
        elif section == "JupyterHub":
            for trait in sorted(LOGIN_JUPYTERHUB & (set(body) | set(body0))):
                if not _same(body.get(trait), body0.get(trait)):
                    yield Finding("jupyterhub", ("hub", "config", section, trait),
                                  f"changes who may log in or what runs user servers (JupyterHub.{trait})")
    for chart, path in (("jupyterhub", ("hub", "config", "BinderSpawner", "auth_enabled")),
                        ("binderhub", ("config", "BinderHub", "auth_enabled"))):
        if not _same(get(v.of(chart), path), get(v.of(chart, True), path)):
            yield Finding(chart, path, "changes whether Binder requires login")
    services, services0 = _map(get(v.jh, ("hub", "services"))), _map(get(v.jh0, ("hub", "services")))
    for name, service in services.items():
        if get(service, ("admin",)) and not get(services0.get(name), ("admin",)):
            yield Finding("jupyterhub", ("hub", "services", str(name), "admin"), "makes a service admin")
    yield from _roles(v)


def _roles(v: Values) -> Iterator[Finding]:
    roles, roles0 = _map(get(v.jh, ("hub", "loadRoles"))), _map(get(v.jh0, ("hub", "loadRoles")))
    for name, role in roles.items():
        if _same(role, roles0.get(name)):
            continue
        path = ("hub", "loadRoles", str(name))
        if not isinstance(role, Mapping):
            yield Finding("jupyterhub", path, "is not a role (a mapping with scopes, users, groups or services)")
            continue
        before = _map(roles0.get(name))
        members = [m for key in ("users", "groups") for m in _list(role.get(key))]
        reaches = members or str(role.get("name", name)) in EVERYONE_ROLES
        if str(role.get("name", name)) == "admin":
            for key in ("users", "groups", "services"):
                if not _same(role.get(key) or [], before.get(key) or []):
                    yield Finding("jupyterhub", (*path, key), "makes more users, groups or services admin")
            continue
        if not reaches:
            continue
        kept = set(map(str, _list(before.get("scopes"))))
        for scope in _list(role.get("scopes")) or ([role["scopes"]] if role.get("scopes") else []):
            text = str(scope)
            base, _, scope_filter = text.partition("!")
            if text in kept or base in HARMLESS_SCOPES or scope_filter in ("user", "server"):
                continue
            who = f"users {members}" if members else f"every {role.get('name', name)}"
            yield Finding("jupyterhub", (*path, "scopes"), f"gives {who} the scope {text!r}, which reaches other "
                          "users, their servers or the hub itself")


# --- quotas --------------------------------------------------------------------------------

def _quota_ok(value: Any, bound: int, zero_is_unlimited: bool) -> bool:
    """A quota no looser than `bound` (0 there: unlimited, anything goes)."""
    if bound == 0:
        return True
    return _is_int(value) and (0 if not zero_is_unlimited else 1) <= value <= bound


def check_quotas(v: Values) -> Iterator[Finding]:
    if not v.cfg.binder:
        return
    total, per_repo = v.cfg.limits.total_quota, v.cfg.limits.per_repo_quota
    config = _map(v.bh.get("config"))
    # BinderHub.pod_quota is a deprecated alias whose observer writes LaunchQuota.total_quota
    # (binderhub/app.py at af9ca8b1); None means no quota, 0 refuses every launch.
    for path in (("config", "LaunchQuota", "total_quota"), ("config", "BinderHub", "pod_quota")):
        present, value = has(v.bh, path), get(v.bh, path)
        removed = has(v.bh0, path) and not present
        if removed or (present and not _quota_ok(value, total, zero_is_unlimited=False)):
            yield Finding("binderhub", path, f"raises or removes the quota of servers in all (at most {total}, "
                          "limits.totalQuota)")
    # per-repository quotas: 0 means none (binderhub/quota.py: `if pod_quota is not None or repo_quota`)
    path = ("config", "BinderHub", "per_repo_quota")
    if not _quota_ok(get(v.bh, path, 0), per_repo, zero_is_unlimited=True):
        yield Finding("binderhub", path, f"raises or removes the per-repository quota (at most {per_repo}, "
                      "limits.perRepoQuota)")
    high = any(isinstance(body, Mapping) and body.get("high_quota_specs") for body in config.values())
    path = ("config", "BinderHub", "per_repo_quota_higher")
    if high and not _quota_ok(get(v.bh, path, 0), per_repo, zero_is_unlimited=True):
        yield Finding("binderhub", path, "gives the high_quota_specs repositories more servers than "
                      f"limits.perRepoQuota ({per_repo}), or no limit (0, the default)")
    for section, body in config.items():
        items = body.get("spec_config") if isinstance(body, Mapping) else None
        if items is None:
            continue
        if not isinstance(items, list):
            yield Finding("binderhub", ("config", section, "spec_config"), "must be a list of {pattern, config}")
            continue
        for i, item in enumerate(items):
            quota = get(item, ("config", "quota"), None)
            if not has(item, ("config", "quota")):
                continue
            if not _quota_ok(quota, per_repo, zero_is_unlimited=True):
                yield Finding("binderhub", ("config", section, "spec_config", f"[{i}]", "config", "quota"),
                              f"gives matching repositories a quota above limits.perRepoQuota ({per_repo}) or none")
    yield from _repo_lists(v, config)


def _repo_lists(v: Values, config: Mapping[str, Any]) -> Iterator[Finding]:
    """banned_specs/allowed_specs: a provider's own section replaces RepoProvider's for that
    provider (traitlets: the most derived class wins), so each may only add bans and narrow
    allows (binderhub/repoproviders.py is_banned)."""
    banned0 = _list(get(v.bh0, ("config", "RepoProvider", "banned_specs")))
    allowed0 = _list(get(v.bh0, ("config", "RepoProvider", "allowed_specs")))
    for section, body in config.items():
        if not isinstance(body, Mapping):
            continue
        banned = body.get("banned_specs")
        if "banned_specs" in body and (not isinstance(banned, list) or not set(banned0) <= set(map(str, banned))):
            yield Finding("binderhub", ("config", section, "banned_specs"),
                          "drops repositories that security.bannedRepos bans")
        if "allowed_specs" in body:
            allowed = body.get("allowed_specs")
            wider = allowed0 and (not allowed or not set(map(str, allowed)) <= set(allowed0))
            if not isinstance(allowed, list) or wider:
                yield Finding("binderhub", ("config", section, "allowed_specs"),
                              "allows repositories beyond security.allowedRepos")


# --- culling -------------------------------------------------------------------------------

CULLER = {"enabled": "switch", "timeout": "idle timeout", "every": "check interval", "maxAge": "age limit"}


def check_culling(v: Values) -> Iterator[Finding]:
    for key, what in CULLER.items():
        path = ("cull", key)
        if not _same(get(v.jh, path), get(v.jh0, path)):
            yield Finding("jupyterhub", path, f"changes the idle culler's {what} (cull.{key}: the stack renders "
                          f"{json.dumps(get(v.jh0, path))} from limits.cullIdleMinutes and limits.maxAgeHours)")


JUPYTER_CONFIG = re.compile(r"(^|/)(etc/jupyter|\.jupyter)(/|$)|jupyter_(server|notebook)_config")
KERNEL_CULLING = re.compile(r"KernelManager|cull_(idle|interval|connected|busy)")


def _mounts(tree: Any) -> Iterator[tuple[Path, str]]:
    for path, key, value in _named(tree):
        if _norm(key) == "mountpath" and isinstance(value, str):
            yield path, value


def _texts(tree: Any) -> Iterator[tuple[Path, str]]:
    """Every text of a tree, keys included (a file's data may be a mapping)."""
    for path, key, value in _named(tree):
        yield path, key
        if isinstance(value, str):
            yield path, value
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, str):
                    yield (*path, f"[{i}]"), item


def check_kernel_culling(v: Values) -> Iterator[Finding]:
    files, files0 = _map(get(v.jh, ("singleuser", "extraFiles"))), _map(get(v.jh0, ("singleuser", "extraFiles")))
    for name, body in files0.items():
        if not _same(files.get(name), body):
            yield Finding("jupyterhub", ("singleuser", "extraFiles", name),
                          "changes the user servers' kernel culling, which limits.cullIdleMinutes renders")
    for chart, base, _tree in pod_subtrees(v):
        if chart != "jupyterhub":
            continue
        for path, mount in _new(v, chart, base, _mounts):
            if JUPYTER_CONFIG.search(mount):
                yield Finding(chart, (*base, *_real_path(get(v.jh, base), path)),
                              f"mounts a file into the Jupyter server's configuration ({mount}), which could "
                              "turn off kernel culling")
        for path, text in _new(v, chart, base, _texts):
            if KERNEL_CULLING.search(text):
                yield Finding(chart, (*base, *_real_path(get(v.jh, base), path)),
                              "changes the user servers' kernel culling (MappingKernelManager), which "
                              "limits.cullIdleMinutes renders")


# --- limits and guarantees -----------------------------------------------------------------

def _effective(v: Values, product: bool, trait: str, key: Path) -> tuple[Path, Any]:
    """(where, value) of a KubeSpawner trait: hub.config sections override `singleuser.*`
    (z2jh loads hub.config after the singleuser keys)."""
    values = v.of("jupyterhub", product)
    for section in spawner_sections(v):
        path = ("hub", "config", section, trait)
        if has(values, path):
            return path, get(values, path)
    return ("singleuser", *key), get(values, ("singleuser", *key))


def _overrides(v: Values, product: bool) -> Iterator[tuple[Path, Mapping[str, Any]]]:
    """Every `kubespawner_override` of the profiles (singleuser.profileList, or a spawner
    section's profile_list), including those of profile options and their choices."""
    values = v.of("jupyterhub", product)
    sources = [("singleuser", "profileList")] + [("hub", "config", s, "profile_list") for s in spawner_sections(v)]
    for source in sources:
        for path, item in nodes(get(values, source), source):
            if path[-1] == "kubespawner_override" and isinstance(item, Mapping):
                yield path, item


MEMORY = (("mem_limit", ("memory", "limit")), ("mem_guarantee", ("memory", "guarantee")), spawner_bytes, "memory")
CPU = (("cpu_limit", ("cpu", "limit")), ("cpu_guarantee", ("cpu", "guarantee")), cores, "CPU")


def check_limits(v: Values) -> Iterator[Finding]:
    for (limit_trait, limit_key), (guarantee_trait, guarantee_key), parse_, what in (MEMORY, CPU):
        where, limit = _effective(v, False, limit_trait, limit_key)
        _, limit0 = _effective(v, True, limit_trait, limit_key)
        g_where, guarantee = _effective(v, False, guarantee_trait, guarantee_key)
        amount, amount0 = parse_(limit), parse_(limit0)
        if amount is None or amount != amount0:
            yield Finding("jupyterhub", where, f"changes the {what} limit of user servers (the stack renders "
                          f"{limit0} from limits.{'memory' if what == 'memory' else 'cpu'})"
                          + ("" if amount is not None or limit is None else
                             "; it is not a size KubeSpawner reads (K, M, G, T are powers of 1024)"))
        yield from _guarantee(g_where, guarantee, amount, parse_, what)
        most = max([amount0 or 0] + [parse_(o.get(limit_trait)) or 0 for _, o in _overrides(v, True)])
        for path, override in _overrides(v, False):
            own = override.get(limit_trait) if limit_trait in override else limit
            own_amount = parse_(own)
            if limit_trait in override and (own_amount is None or own_amount > most):
                largest = f"{most / 1024**3:g}G" if what == "memory" else f"{most:g} CPU"
                yield Finding("jupyterhub", (*path, limit_trait), f"gives a profile a {what} limit above the "
                              f"largest the stack renders ({largest}), or none")
            if guarantee_trait in override:
                yield from _guarantee((*path, guarantee_trait), override.get(guarantee_trait), own_amount, parse_,
                                      what)
    yield from _resources(v)


def _guarantee(where: Path, guarantee: Any, limit: float | None, parse_: Callable[[Any], float | None],
               what: str) -> Iterator[Finding]:
    if guarantee is None:
        return
    amount = parse_(guarantee)
    if amount is None:
        yield Finding("jupyterhub", where, f"is not a {what} amount KubeSpawner reads"
                      + (" (K, M, G, T are powers of 1024)" if what == "memory" else ""))
    elif limit is not None and amount > limit:
        yield Finding("jupyterhub", where, f"asks for more {what} than the limit allows (a guarantee above the "
                      "limit: Kubernetes refuses such a pod)")


def _resources(v: Values) -> Iterator[Finding]:
    """Every `resources` block (core, build and helper pods): requests at most limits, in
    Kubernetes quantities; where the product requests as much memory as the limit (the
    control path, README "Core before users"), it stays so; the build daemon's limit stays
    limits.buildMemory."""
    for chart in ("jupyterhub", "binderhub"):
        for path, block in nodes(v.of(chart)):
            if path[-1] != "resources" or not isinstance(block, Mapping):
                continue
            requests, limits = block.get("requests") or {}, block.get("limits") or {}
            if not isinstance(requests, Mapping) or not isinstance(limits, Mapping):
                continue
            for kind in ("memory", "cpu"):
                for side, amounts in (("requests", requests), ("limits", limits)):
                    if kind in amounts and quantity(amounts[kind]) is None:
                        yield Finding(chart, (*path, side, kind), "is not a Kubernetes quantity (e.g. 512Mi, 0.5)")
                request, limit = quantity(requests.get(kind)), quantity(limits.get(kind))
                if request is not None and limit is not None and request > limit:
                    yield Finding(chart, (*path, "requests", kind), f"requests more {kind} than its limit")
            block0 = get(v.of(chart, True), path)
            if isinstance(block0, Mapping):
                mem0 = (get(block0, ("requests", "memory")), get(block0, ("limits", "memory")))
                if mem0[0] is not None and quantity(mem0[0]) == quantity(mem0[1]) and \
                        quantity(requests.get("memory")) != quantity(limits.get("memory")):
                    yield Finding(chart, (*path, "requests", "memory"), "lets this core pod use more memory than "
                                  "it requests (the stack keeps request = limit so the control path is never "
                                  "evicted first)")
    path = ("dind", "resources", "limits", "memory")
    if v.cfg.binder and quantity(get(v.bh, path)) != quantity(get(v.bh0, path)):
        yield Finding("binderhub", path, "changes the build daemon's memory limit (limits.buildMemory)")


# --- network policies and the metadata block -------------------------------------------------

POLICIES = (("singleuser",), ("hub",), ("proxy", "chp"), ("proxy", "traefik"))


def _overlaps(cidr: str, excepted: list[str], forbidden: list[Any]) -> bool:
    try:
        net = ipaddress.ip_network(cidr, strict=False)
        holes = [ipaddress.ip_network(e, strict=False) for e in excepted]
    except ValueError:
        return True
    return any(net.version == bad.version and net.overlaps(bad)
               and not any(h.version == bad.version and bad.subnet_of(h) for h in holes)  # type: ignore[arg-type]
               for bad in forbidden)


def _rule_problem(rule: Any, untrusted: bool) -> str | None:
    """Why one extra egress rule is too wide; None if it is not."""
    if not isinstance(rule, Mapping):
        return "is not an egress rule (a mapping with `to` and `ports`)"
    targets = rule.get("to")
    if not targets:
        return "has no `to`, which allows every destination"
    ports = rule.get("ports")
    if untrusted and not ports:
        return "has no `ports`, which allows every port (list the ports)"
    for target in targets if isinstance(targets, list) else [targets]:
        block = target.get("ipBlock") if isinstance(target, Mapping) else None
        if block is None:
            if untrusted:
                return "reaches pods or namespaces inside the cluster"
            if not ports:
                return "reaches pods or namespaces on every port (no `ports`)"
            continue
        cidr = str(block.get("cidr") if isinstance(block, Mapping) else "")
        excepted = [str(e) for e in _list(block.get("except"))] if isinstance(block, Mapping) else []
        if _overlaps(cidr, excepted, FORBIDDEN_NETS if untrusted else PLATFORM_NETS):
            return ("reaches private, link-local, metadata (169.254.169.254) or Azure platform (168.63.129.16) "
                    "addresses" if untrusted else "reaches the metadata (169.254.169.254) or Azure platform "
                    "(168.63.129.16) address")
    return None


def check_network(v: Values) -> Iterator[Finding]:
    for component in POLICIES:
        policy, policy0 = (*component, "networkPolicy"), _map(get(v.jh0, (*component, "networkPolicy")))
        if get(policy0, ("enabled",)) is True and get(v.jh, (*policy, "enabled")) is not True:
            yield Finding("jupyterhub", (*policy, "enabled"), f"turns off the network policy of {dotted(component)}")
        rules, rules0 = _map(get(v.jh, (*policy, "egressAllowRules"))), _map(get(policy0, ("egressAllowRules",)))
        for key, value in rules.items():
            if value is True and rules0.get(key) is not True:
                yield Finding("jupyterhub", (*policy, "egressAllowRules", key),
                              f"widens where {dotted(component)} may connect ({key})")
        extra, extra0 = get(v.jh, (*policy, "egress")), _list(get(policy0, ("egress",)))
        if extra is not None and not isinstance(extra, list):
            yield Finding("jupyterhub", (*policy, "egress"), "must be a list of egress rules")
            continue
        for i, rule in enumerate(extra or []):
            if any(_same(rule, old) for old in extra0):
                continue
            why = _rule_problem(rule, untrusted=component == ("singleuser",))
            if why:
                yield Finding("jupyterhub", (*policy, "egress", f"[{i}]"), f"adds an egress rule that {why}")


def check_metadata(v: Values) -> Iterator[Finding]:
    for key in ("blockWithIptables", "ip"):
        path = ("singleuser", "cloudMetadata", key)
        if not _same(get(v.jh, path), get(v.jh0, path)):
            yield Finding("jupyterhub", path, "changes the iptables block of the Azure metadata service "
                          f"({METADATA_IP}) in user servers")


# --- service accounts, privilege, host access ------------------------------------------------

SERVICE_ACCOUNT_KEYS = frozenset({"serviceaccountname", "serviceaccount", "automountserviceaccounttoken"})


def _service_accounts(tree: Any) -> Iterator[tuple[Path, str]]:
    for path, key, value in _named(tree):
        norm = _norm(key)
        if norm in SERVICE_ACCOUNT_KEYS and value not in (None, False, ""):
            yield path, json.dumps(value)


def check_service_accounts(v: Values) -> Iterator[Finding]:
    for chart, base, _ in pod_subtrees(v):
        for path, _value in _new(v, chart, base, _service_accounts):
            yield Finding(chart, (*base, *_real_path(get(v.of(chart), base), path)),
                          "gives user or build pods a Kubernetes service account (KubeSpawner then mounts its "
                          "token, so every user, anonymous on Binder, can call the Kubernetes API)")


# Kubernetes securityContext and pod-spec fields, and KubeSpawner traits of the same meaning
# (kubespawner/spawner.py 7.0.0), normalised (lowercase, no underscores).
ROOT_IDS = frozenset({"runasuser", "runasgroup", "uid", "gid", "fsgroup", "fsgid"})
HOST_FLAGS = frozenset({"hostnetwork", "hostpid", "hostipc"})
PRIVILEGE_FILES = re.compile(r"^/(etc/(sudoers|passwd|shadow|group|gshadow|security|pam\.d|ld\.so\.preload)|root)"
                             r"(/|$|\.)")


def _privileges(tree: Any) -> Iterator[tuple[Path, str]]:
    """(identity path, what) of every privilege marker in a values tree."""
    for path, key, value in _named(tree):
        norm = _norm(key)
        if norm == "privileged" and value is True:
            yield path, "runs a privileged container"
        elif norm == "allowprivilegeescalation" and value is True:
            yield path, "lets a container gain privileges (setuid, sudo)"
        elif norm == "capabilities" and isinstance(value, Mapping) and value.get("add"):
            for cap in value["add"] if isinstance(value["add"], list) else [value["add"]]:
                yield (*path, "add"), f"adds the Linux capability {cap}"
        elif norm in ROOT_IDS and (value == 0 and not isinstance(value, bool)):
            yield path, "runs as root (user or group 0)"
        elif norm in ("uid", "runasuser") and value is None:
            yield path, "runs as the image's own user (root in many images)"
        elif norm in ("supplementalgroups", "supplementalgids") and isinstance(value, list) and 0 in value:
            yield path, "adds the root group"
        elif norm == "runasnonroot" and value is False:
            yield path, "allows running as root"
        elif norm in HOST_FLAGS and value is True:
            yield path, f"shares the node's {norm[4:]} namespace"
        elif norm == "hostpath" and value is not None:
            yield path, "mounts a directory of the node (such as its Docker or containerd socket)"
        elif norm == "hostport" and value not in (None, 0):
            yield path, "binds a port of the node"
        elif norm == "procmount" and value == "Unmasked":
            yield path, "unmasks /proc"
        elif norm in ("seccompprofile", "apparmorprofile") and isinstance(value, Mapping) and \
                value.get("type") == "Unconfined":
            yield path, f"turns off {key}"
        elif norm == "mountpath" and isinstance(value, str) and PRIVILEGE_FILES.match(value):
            yield path, f"mounts over {value}, a file that decides who is root"


def check_privilege(v: Values) -> Iterator[Finding]:
    for chart in ("jupyterhub", "binderhub"):
        values = v.of(chart)
        product = set(_privileges(v.of(chart, True)))
        for path, what in _privileges(values):
            if (path, what) not in product:
                yield Finding(chart, _real_path(values, path), what)


# --- repositories -----------------------------------------------------------------------------

# Traits of a repository provider that say where it reads repositories and with which credential
# (binderhub/repoproviders.py at af9ca8b1: GitHubRepoProvider, GitLabRepoProvider, RepoProvider).
REPO_TRAITS = frozenset({"hostname", "api_base_path", "access_token", "private_token", "client_id",
                         "client_secret", "git_credentials", "auth"})
# Environment variables BinderHub's providers read their credentials from by default.
REPO_CREDENTIAL_ENV = frozenset({"GITHUB_ACCESS_TOKEN", "GITHUB_CLIENT_ID", "GITHUB_CLIENT_SECRET",
                                 "GITLAB_ACCESS_TOKEN", "GITLAB_PRIVATE_TOKEN"})
REPO_SETTINGS = (("binderhub", ("config", "BinderHub", "repo_providers")),
                 ("binderhub", ("config", "BinderHub", "cors_allow_origin")),
                 ("jupyterhub", ("hub", "config", "BinderSpawner", "cors_allow_origin")))


def _env_names(env: Any) -> Iterator[tuple[Path, str]]:
    """(path, name) of every variable of a chart's `extraEnv` (a mapping, or a list of {name, ...})."""
    if isinstance(env, Mapping):
        for key in env:
            yield (str(key),), str(key)
    for i, item in enumerate(_list(env)):
        if isinstance(item, Mapping) and isinstance(item.get("name"), str):
            yield (f"[{i}]",), item["name"]


def check_repositories(v: Values) -> Iterator[Finding]:
    """Providers, their hosts and credentials, and CORS are what `repos`, the token secrets and
    binderSite.corsAllowOrigins render; so neither a plain-text token nor one from a Secret reaches
    a provider past the typed keys (and past the refusal of private repositories without login)."""
    if not v.cfg.binder:
        return
    config, config0 = _map(get(v.bh, ("config",))), _map(get(v.bh0, ("config",)))
    for section in sorted(set(config) | set(config0)):
        if not section.endswith("Provider"):
            continue
        body, body0 = _map(config.get(section)), _map(config0.get(section))
        for trait in sorted(REPO_TRAITS & (set(body) | set(body0))):
            if not _same(body.get(trait), body0.get(trait)):
                yield Finding("binderhub", ("config", section, trait),
                              f"changes where a repository provider reads from or with which credential "
                              f"({section}.{trait})")
    for chart, path in REPO_SETTINGS:
        if not _same(get(v.of(chart), path), get(v.of(chart, True), path)):
            yield Finding(chart, path, f"changes which repository providers or which other sites Binder serves "
                          f"({path[-2]}.{path[-1]})")
    product = {name for _, name in _env_names(get(v.bh0, ("extraEnv",)))}
    for path, name in _env_names(get(v.bh, ("extraEnv",))):
        if name in REPO_CREDENTIAL_ENV and name not in product:
            yield Finding("binderhub", ("extraEnv", *path),
                          f"gives BinderHub a repository credential through its environment ({name}, which its "
                          "providers read as their token)")


def check_builds(v: Values) -> Iterator[Finding]:
    """The privileged build daemon runs only where, and with the directories, the stack gives it;
    user pods only on user nodes."""
    watched = [("binderhub", ("imageBuilderType",)), ("binderhub", ("dind", "hostSocketDir")),
               ("binderhub", ("dind", "hostLibDir")), ("binderhub", ("imageCleaner", "host")),
               ("binderhub", ("config", "BinderHub", "build_node_selector")),
               ("binderhub", ("config", "KubernetesBuildExecutor", "node_selector")),
               ("binderhub", ("config", "KubernetesBuildExecutor", "docker_host")),
               ("jupyterhub", ("scheduling", "userPods", "nodeAffinity", "matchNodePurpose")),
               ("jupyterhub", ("scheduling", "corePods", "nodeAffinity", "matchNodePurpose"))]
    for chart, path in watched:
        if chart == "binderhub" and not v.cfg.binder:
            continue
        if not _same(get(v.of(chart), path), get(v.of(chart, True), path)):
            yield Finding(chart, path, "moves the build daemon, its socket or storage, or user pods, away from "
                          "where the stack puts them (dind on build nodes with its own directories; user pods on "
                          "user nodes)")


PRIVATE_SECRETS = ("hub", "image-pull-secret", "proxy-public-manual-tls", "proxy-public-tls-acme", "binder-secret",
                   "binder-build-docker-config")
PRIVATE_CLAIMS = ("hub-db-dir", practices_spec.EVENTS_CLAIM, practices_spec.HOME_CLAIM)


def _references(tree: Any) -> Iterator[tuple[Path, str]]:
    for path, key, value in _named(tree):
        norm = _norm(key)
        if norm in ("secretkeyref", "secret", "configmapkeyref") and isinstance(value, Mapping):
            name = value.get("name", value.get("secretName"))
            if isinstance(name, str):
                yield path, name
        elif norm in ("secretname", "claimname") and isinstance(value, str):
            yield path, value


def check_private_data(v: Values) -> Iterator[Finding]:
    private = {*PRIVATE_SECRETS, *PRIVATE_CLAIMS, f"{v.cfg.institution}-tls",
               *(f"dataset-{d.name}-account" for d in v.cfg.datasets)}
    for chart, base, _ in pod_subtrees(v):
        for path, name in _new(v, chart, base, _references):
            if name in private:
                yield Finding(chart, (*base, *_real_path(get(v.of(chart), base), path)),
                              f"lets user or build pods read {name!r}, which holds the hub's, Binder's or the "
                              "stack's own secrets or data (or every user's home)")
    # Homes: each user mounts only their own directory of the share (storage.static.subPath),
    # and cannot speak NFS to the share itself (the product's init container; README "Homes on
    # a shared share").
    for key in ("type", "static", "homeMountPath"):
        path = ("singleuser", "storage", key)
        if not _same(get(v.jh, path), get(v.jh0, path)):
            yield Finding("jupyterhub", path, "changes which home directory user servers mount (storage.type)")
    kept = {_identity(c, 0) for c in _list(get(v.jh, ("singleuser", "initContainers")))}
    for container in _list(get(v.jh0, ("singleuser", "initContainers"))):
        if _identity(container, 0) not in kept:
            yield Finding("jupyterhub", ("singleuser", "initContainers"),
                          f"drops or changes the stack's init container {get(container, ('name',))!r} (it keeps "
                          "user servers from reaching the home share directly)")


# --- priorities ---------------------------------------------------------------------------

def check_priorities(v: Values) -> Iterator[Finding]:
    """The stack gives placeholders its own class below users (hub_spec.placeholder_values) and
    core pods the core class, each through `extraPodSpec`, and leaves z2jh's podPriority off: on,
    the chart writes a second `priorityClassName` into the hub, proxy and user-scheduler pods."""
    priority = _map(get(v.jh, ("scheduling", "podPriority")))
    product = _map(get(v.of("jupyterhub", True), ("scheduling", "podPriority")))
    if get(priority, ("enabled",)) is True and get(product, ("enabled",)) is not True:
        yield Finding("jupyterhub", ("scheduling", "podPriority", "enabled"), "turns z2jh's pod priority on: the "
                      "chart then writes a second priorityClassName into the hub, proxy and user-scheduler pods, "
                      "and the stack already gives placeholders their own class below users")
    if get(priority, ("enabled",)) is True:
        levels = {k: get(priority, (k,)) for k in ("defaultPriority", "imagePullerPriority", "userPlaceholderPriority")}
        for key, level in levels.items():
            if not _is_int(level) or level >= practices_spec.CORE_PRIORITY:
                yield Finding("jupyterhub", ("scheduling", "podPriority", key), "puts user pods at or above the "
                              f"core pods' priority ({practices_spec.CORE_PRIORITY})")
        low, default = levels["userPlaceholderPriority"], levels["defaultPriority"]
        if _is_int(low) and _is_int(default) and low >= default:
            yield Finding("jupyterhub", ("scheduling", "podPriority", "userPlaceholderPriority"),
                          "puts placeholders at or above user servers' priority, so they are never evicted for one")
    for chart, base, _ in pod_subtrees(v):
        for path, _value in _new(v, chart, base, _priority_classes):
            yield Finding(chart, (*base, *_real_path(get(v.of(chart), base), path)),
                          "gives user or build pods a priority class of their own (they could outrank the hub)")
    for chart in ("jupyterhub", "binderhub"):
        for path, value in _priority_classes(v.of(chart, True)):
            if not _same(get(v.of(chart), _real_path(v.of(chart, True), path)), json.loads(value)):
                yield Finding(chart, _real_path(v.of(chart, True), path),
                              "changes a priority class the stack sets (core pods above users, placeholders "
                              "below them)")


def _priority_classes(tree: Any) -> Iterator[tuple[Path, str]]:
    for path, key, value in _named(tree):
        if _norm(key) == "priorityclassname" and value:
            yield path, json.dumps(value)


# --- Python config ------------------------------------------------------------------------

# (section pattern, traits) that Python may not touch: what the other invariants protect.
# A section pattern "*X" is any section whose name ends in X; `*` in traits is every trait.
PYTHON_PROTECTED: tuple[tuple[str, frozenset[str]], ...] = (
    ("*Authenticator", frozenset({"*"})),
    ("JupyterHub", LOGIN_JUPYTERHUB),
    ("*Spawner", frozenset({"auth_enabled", "mem_limit", "cpu_limit", "mem_guarantee", "cpu_guarantee",
                            "profile_list", "options_form", "options_from_form", "service_account",
                            "automount_service_account_token", "uid", "gid", "fs_gid", "supplemental_gids",
                            "privileged", "allow_privilege_escalation", "container_security_context",
                            "pod_security_context", "extra_pod_config", "extra_container_config", "volumes",
                            "volume_mounts", "init_containers", "extra_containers", "modify_pod_hook",
                            "pre_spawn_hook", "cmd", "args", "priority_class_name", "scheduler_name",
                            "extra_labels", "node_selector", "node_affinity_required", "tolerations",
                            "cors_allow_origin"})),
    ("BinderHub", frozenset({"auth_enabled", "pod_quota", "per_repo_quota", "per_repo_quota_higher",
                             "launch_quota_class", "build_node_selector", "build_class", "build_docker_host",
                             "repo_providers", "cors_allow_origin"})),
    ("LaunchQuota", frozenset({"*"})),
    ("*LaunchQuota", frozenset({"*"})),
    ("*RepoProvider", frozenset({"banned_specs", "allowed_specs", "spec_config", "high_quota_specs"})),
    ("*Provider", REPO_TRAITS),
    ("KubernetesBuildExecutor", frozenset({"*"})),
)


def protected(section: str, trait: str) -> bool:
    for pattern, traits in PYTHON_PROTECTED:
        hit = section.endswith(pattern[1:]) if pattern.startswith("*") else section == pattern
        if hit and ("*" in traits or trait in traits or trait == ANY_TRAIT):
            if _authenticator(section) and trait in LOGIN_PRESENTATION:
                continue
            return True
    return False


def _python_snippets(v: Values) -> Iterator[tuple[str, Path, str]]:
    """(chart, path, code) of every Python config the charts will run that the product did not
    render: hub.extraConfig, .py files mounted into the hub's jupyterhub_config.d, and
    BinderHub's extraConfig."""
    for chart, block in (("jupyterhub", ("hub", "extraConfig")), ("binderhub", ("extraConfig",))):
        if chart == "binderhub" and not v.cfg.binder:
            continue
        entries, entries0 = _map(get(v.of(chart), block)), _map(get(v.of(chart, True), block))
        for key, code in entries.items():
            if not _same(code, entries0.get(key)):
                yield chart, (*block, str(key)), code
    files, files0 = _map(get(v.jh, ("hub", "extraFiles"))), _map(get(v.jh0, ("hub", "extraFiles")))
    for key, body in files.items():
        mount = str(get(body, ("mountPath",)) or "")
        if mount.endswith(".py") and "jupyterhub_config" in mount and not _same(body, files0.get(key)):
            yield "jupyterhub", ("hub", "extraFiles", str(key), "stringData"), get(body, ("stringData",))


def check_python(v: Values) -> Iterator[Finding]:
    for chart, path, code in _python_snippets(v):
        if not isinstance(code, str):
            yield Finding(chart, path, "must be Python code as a text")
            continue
        found = read_snippet(code)
        if found.error:
            yield Finding(chart, path, f"is not valid Python ({found.error}): the hub would not start")
            continue
        touched = sorted(f"{s}.{t}" for s, t in found.sets if protected(s, t))
        if touched:
            yield Finding(chart, path, f"sets {', '.join(touched)} in Python, which the invariants protect "
                          "(login, quotas, limits, service accounts, privilege, priorities, repositories)")
        if found.dynamic:
            yield Finding(chart, path, f"changes the config in a way that cannot be read ({found.dynamic[0]}); "
                          "write each setting as c.Section.trait = ...")


# ===================================================================================== table

INVARIANTS: tuple[Invariant, ...] = (
    Invariant("login", "who may log in and administer",
              "every authenticator section of hub.config, JupyterHub's authenticator_class, spawner_class, "
              "load_roles, load_groups, services, api_tokens and admin_users, BinderHub's and BinderSpawner's "
              "auth_enabled are the product's; roles in hub.loadRoles that reach users (or every user, server "
              "or token) get only their own resources and public information; none is made admin",
              "z2jh jupyterhub_config.py (hub.config sections passed through, hub.loadRoles appended to "
              "load_roles); JupyterHub roles.py/scopes.py; BinderHub app.py auth_enabled",
              f"set login through {PROJECT}:auth (type, allowedUsers, allowedOrganizations, admins, allowAll)",
              ("jupyterhub:hub.config.*Authenticator.*", "jupyterhub:hub.config.JupyterHub.authenticator_class",
               "jupyterhub:hub.config.BinderSpawner.auth_enabled", "binderhub:config.BinderHub.auth_enabled"),
              check_login),
    Invariant("quotas", "quotas (Binder)",
              "LaunchQuota.total_quota and its alias BinderHub.pod_quota at most limits.totalQuota; "
              "per_repo_quota, per_repo_quota_higher (when high_quota_specs are set) and every spec_config "
              "quota from 1 to limits.perRepoQuota (0 means no quota); banned_specs keep every "
              "security.bannedRepos entry and allowed_specs stay within security.allowedRepos, in every section",
              "BinderHub app.py (pod_quota writes LaunchQuota.total_quota), quota.py, repoproviders.py "
              "(repo_config, is_banned) at af9ca8b1",
              f"use {PROJECT}:limits.totalQuota, limits.perRepoQuota, security.bannedRepos, security.allowedRepos",
              ("binderhub:config.LaunchQuota.total_quota", "binderhub:config.BinderHub.pod_quota",
               "binderhub:config.BinderHub.per_repo_quota", "binderhub:config.*.banned_specs",
               "binderhub:config.*.allowed_specs"),
              check_quotas),
    Invariant("culling", "idle culling",
              "cull.enabled, timeout, every and maxAge are what the typed keys render",
              "z2jh jupyterhub_config.py (the idle culler's command line from cull.*)",
              f"use {PROJECT}:limits.cullIdleMinutes and limits.maxAgeHours",
              ("jupyterhub:cull.enabled", "jupyterhub:cull.timeout", "jupyterhub:cull.every",
               "jupyterhub:cull.maxAge"), check_culling),
    Invariant("kernel-culling", "kernel culling",
              "the server config the stack mounts (singleuser.extraFiles jupyter-server-config) is unchanged; no "
              "other file is mounted into a Jupyter config directory and no command, argument or variable of a "
              "user pod mentions MappingKernelManager or cull_*",
              "mybinder.org's jupyter_server_config; jupyter_core's config path (/etc/jupyter is read last, "
              "anything above it wins)",
              f"use {PROJECT}:limits.cullIdleMinutes",
              ("jupyterhub:singleuser.extraFiles.jupyter-server-config",), check_kernel_culling),
    Invariant("limits", "limits and guarantees",
              "the user-server memory and CPU limit (singleuser.*.limit, or a spawner section's mem_limit/cpu_limit, "
              "which z2jh applies later) is what limits.memory/limits.cpu render; guarantees at most limits; a "
              "profile's limit at most the largest the stack renders; every resources block requests at most its "
              "limits, core pods keep memory request = limit, dind keeps limits.buildMemory; memory in "
              "KubeSpawner's units (K, M, G, T = powers of 1024), resources in Kubernetes quantities",
              "z2jh jupyterhub_config.py; JupyterHub traitlets.py ByteSpecification; Kubernetes resource.Quantity",
              f"use {PROJECT}:limits.memory, limits.cpu, limits.buildMemory, profiles",
              ("jupyterhub:singleuser.memory.limit", "jupyterhub:singleuser.cpu.limit",
               "jupyterhub:hub.config.*Spawner.mem_limit", "jupyterhub:hub.config.*Spawner.cpu_limit",
               "jupyterhub:singleuser.profileList", "binderhub:dind.resources.limits.memory"),
              check_limits),
    Invariant("network", "network policies",
              "the NetworkPolicies of user servers, hub and proxies stay enabled; no egressAllowRules flag the "
              "stack leaves off is turned on; extra user-server egress rules have `ports` and a `to` of ipBlocks "
              "that except every private, link-local, metadata and Azure platform (168.63.129.16) address; extra hub "
              "and proxy rules have a `to`, ports for in-cluster targets, and never reach 169.254.169.254 or "
              "168.63.129.16",
              "Kubernetes NetworkPolicy (an empty `to` or `ports` means all); z2jh values.schema "
              "networkPolicy.egressAllowRules",
              f"{NO_KEY} (for the metadata address: {PROJECT}:security.blockCloudMetadata)",
              tuple(f"jupyterhub:{dotted(c)}.networkPolicy.{k}" for c in POLICIES
                            for k in ("enabled", "egressAllowRules.*")), check_network),
    Invariant("metadata", "the metadata block",
              f"singleuser.cloudMetadata.blockWithIptables and ip ({METADATA_IP}) are the product's",
              "z2jh jupyterhub_config.py (the block-cloud-metadata init container)",
              f"use {PROJECT}:security.blockCloudMetadata", ("jupyterhub:singleuser.cloudMetadata.**",),
              check_metadata),
    Invariant("service-accounts", "service accounts",
              "no user or build pod gets a service account or its token (serviceAccountName, service_account, "
              "automountServiceAccountToken) the product does not give it",
              "KubeSpawner service_account/automount_service_account_token (a set account's token is mounted); "
              "z2jh singleuser.serviceAccountName",
              NO_KEY, ("jupyterhub:singleuser.serviceAccountName", "jupyterhub:hub.config.*Spawner.service_account",
                       "jupyterhub:hub.config.*Spawner.automount_service_account_token"),
              check_service_accounts),
    Invariant("privilege", "privilege and host access",
              "nothing in either chart's values is privileged, escalates, adds capabilities, runs as uid/gid 0 "
              "(or as the image's user), shares the node's network/PID/IPC, mounts a host path, binds a host "
              "port, unmasks /proc, runs unconfined or mounts over /etc/sudoers, /etc/passwd and the like, "
              "beyond what the product's own values do (z2jh's metadata block, the NFS block)",
              "Kubernetes securityContext and PodSpec; KubeSpawner's uid, gid, fs_gid, privileged, "
              "allow_privilege_escalation",
              NO_KEY, ("jupyterhub:singleuser.uid", "jupyterhub:singleuser.fsGid",
                       "jupyterhub:singleuser.allowPrivilegeEscalation", "jupyterhub:hub.config.*Spawner.uid",
                       "jupyterhub:hub.config.*Spawner.privileged",
                       "jupyterhub:hub.config.*Spawner.allow_privilege_escalation"),
              check_privilege),
    Invariant("builds", "build daemon and node placement",
              "imageBuilderType, the dind socket and storage directories, the image cleaner's host paths, the "
              "build node selectors and docker_host, and the node-purpose affinity of user and core pods are "
              "the product's",
              "BinderHub chart values (dind, imageCleaner); AKS containerd nodes have no Docker socket "
              "(jupyterhub/binderhub#1343)", NO_KEY,
              ("binderhub:imageBuilderType", "binderhub:dind.hostSocketDir", "binderhub:dind.hostLibDir",
               "binderhub:imageCleaner.host.**", "binderhub:config.BinderHub.build_node_selector"),
              check_builds),
    Invariant("private-data", "the stack's own secrets and data",
              "no user or build pod references the hub's, Binder's, the TLS or the datasets' Secrets, nor the "
              "hub database, launch-event or shared-home claims; home storage (singleuser.storage type, static "
              "claim and subPath) and the NFS-blocking init container are the product's",
              "z2jh and BinderHub templates (Secrets hub, image-pull-secret, binder-secret; claim hub-db-dir); "
              "practices_spec home storage", f"use {PROJECT}:storage",
              ("jupyterhub:singleuser.storage.type", "jupyterhub:singleuser.storage.static",
               "jupyterhub:singleuser.initContainers"), check_private_data),
    Invariant("priorities", "priorities",
              "z2jh's pod priority stays as the stack sets it (off: the stack's own classes put core pods above "
              "users and placeholders below them, each named once); no user or build pod gets a priority "
              "class; core pods and placeholders keep theirs",
              "z2jh scheduling.podPriority and its hub/proxy/user-scheduler templates; practices_spec "
              "CORE_PRIORITY and USER_PLACEHOLDER_PRIORITY_CLASS",
              f"use {PROJECT}:speed.placeholders", ("jupyterhub:scheduling.podPriority.**",
                                                     "jupyterhub:scheduling.userPlaceholder.**"), check_priorities),
    Invariant("repositories", "repositories and CORS",
              "BinderHub's repo_providers and cors_allow_origin, BinderSpawner's cors_allow_origin and every "
              "provider section's hostname, api_base_path, access_token, private_token, client_id, client_secret, "
              "git_credentials and auth are what the typed keys render; the binder pod gets no GITHUB_* or GITLAB_* "
              "credential variable (private repositories stay behind login)",
              "BinderHub app.py repo_providers and cors_allow_origin, repoproviders.py (tokens, hosts, the "
              "variables they default to), binderspawner_mixin.py at af9ca8b1",
              f"use {PROJECT}:repos, the secret keys githubToken, gitlabToken and githubEnterpriseToken, and "
              "binderSite.corsAllowOrigins",
              ("binderhub:config.BinderHub.repo_providers", "binderhub:config.BinderHub.cors_allow_origin",
               "jupyterhub:hub.config.BinderSpawner.cors_allow_origin", "binderhub:config.*Provider.hostname",
               "binderhub:config.*Provider.api_base_path"),
              check_repositories),
    Invariant("python", "Python config",
              "hub.extraConfig, BinderHub extraConfig and .py files in the hub's jupyterhub_config.d are valid "
              "Python, set no trait the invariants above protect, and set traits only as c.Section.trait "
              "(read with ast, never run)",
              "z2jh jupyterhub_config.py (exec of hub.extraConfig and jupyterhub_config.d); BinderHub chart",
              "put the setting on its typed key", (), check_python),
)


def findings(v: Values) -> list[tuple[Invariant, Finding]]:
    """Every invariant broken by the merged values, one finding per place."""
    return [(inv, found) for inv in INVARIANTS for found in inv.check(v)]


def watching(chart: str, path: Path) -> list[tuple[Invariant, bool]]:
    """(invariant, whether `path` is a whole block above what it watches) for every invariant
    whose watched paths are at, below or above `path` (to name the typed key in a refusal)."""
    found = []
    for inv in INVARIANTS:
        for watched in inv.watches:
            w_chart, _, pattern = watched.partition(":")
            want = parse(pattern)
            if w_chart == chart and _watch_match(want, path):
                found.append((inv, len(path) < len([w for w in want if w != "**"])))
                break
    return found


def _watch_match(pattern: Path, path: Path) -> bool:
    """Whether `path` is at, below or above a watched pattern (a whole block that holds it);
    a segment `*X` matches keys ending in X."""
    if pattern and pattern[-1] == "**":
        pattern = pattern[:-1]
    for want, got in zip(pattern, path, strict=False):
        if want == "*" or (want.startswith("*") and got.endswith(want[1:])) or want == got:
            continue
        return False
    return True
