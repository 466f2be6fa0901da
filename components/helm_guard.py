"""The helmValues guard (pure): raw chart values may add, never weaken or carry secrets.

`helmValues` is deep-merged last over what the stack renders, so without a guard one line
there could silently undo what a typed key promises. The rule: a defence is turned off only
through its typed key (documented, and visible in the plan), and a secret never travels as
plain text in the stack file. Values that would do either are refused, each with the
helmValues path and the typed key to use instead. The README's "Security model" lists
these rules; a test keeps the two in step.

Paths are relative to the JupyterHub chart (z2jh 4.x values) for `helmValues.jupyterhub`
(and BinderHub's `jupyterhub:` block inside `helmValues.binderhub`), and to the BinderHub
chart for `helmValues.binderhub`; checked against both charts' values.yaml at the pinned
versions. `*` matches any one key.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import StackConfig

PROJECT = "binderhub-azure"
METADATA_IP = "169.254.169.254"
# Address ranges user pods and builds must not reach (see hub_spec.NON_PUBLIC_RANGES).
_NON_PUBLIC = [ipaddress.ip_network(n) for n in
               ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16")]

GENERATED = "the stack generates it (pulumi_random) and keeps it secret; remove it"
NO_TYPED_KEY = "there is no key to turn this defence off"


@dataclass(frozen=True)
class Rule:
    chart: str            # "jupyterhub" or "binderhub"
    path: str             # dotted, `*` for any one key
    weakens: Callable[[Any], bool]
    why: str              # what the value would do
    instead: str          # the typed key to use, or why there is none
    bound: str = ""       # a quota: values up to this StackConfig attribute (dotted) are stricter, so fine

    def matches(self, chart: str, path: tuple[str, ...]) -> bool:
        want = self.path.split(".")
        if chart != self.chart or len(want) != len(path):
            return False
        return all(w in ("*", p) for w, p in zip(want, path, strict=True))


def _is(expected: Any) -> Callable[[Any], bool]:
    return lambda value: value == expected and type(value) is type(expected)


def _any(value: Any) -> bool:
    return True


def _set(value: Any) -> bool:
    return value not in (None, "", [], {})


def _root_uid(value: Any) -> bool:
    return value is None or value == 0


def _opens_non_public(rules: Any) -> bool:
    """Extra egress rules that reach a private, link-local or metadata address (or anything)."""
    if not isinstance(rules, list):
        return True
    for rule in rules:
        targets = rule.get("to") if isinstance(rule, dict) else None
        if not targets:
            return True  # a rule without `to` allows every destination
        for target in targets:
            block = target.get("ipBlock") if isinstance(target, dict) else None
            if block is None:
                return True  # pod or namespace selectors reach inside the cluster
            try:
                net = ipaddress.ip_network(str(block.get("cidr")), strict=False)
                excepted = [ipaddress.ip_network(str(e), strict=False) for e in block.get("except") or []]
            except ValueError:
                return True
            for private in _NON_PUBLIC:
                if net.version == private.version and net.overlaps(private) and not any(
                        e.version == private.version and private.subnet_of(e) for e in excepted):  # type: ignore[arg-type]
                    return True
    return False


def _host_socket(value: Any) -> bool:
    return isinstance(value, str) and value.rstrip("/") in ("/var/run", "/run")


METADATA = f"use {PROJECT}:security.blockCloudMetadata instead"
AUTH = f"set login through {PROJECT}:auth.type"

RULES: tuple[Rule, ...] = (
    # --- JupyterHub chart: network policies and the metadata block
    Rule("jupyterhub", "singleuser.networkPolicy.enabled", _is(False),
         "turns off the egress policy of user servers", NO_TYPED_KEY),
    Rule("jupyterhub", "singleuser.networkPolicy.egressAllowRules.cloudMetadataServer", _is(True),
         "lets user servers reach the Azure metadata service", METADATA),
    Rule("jupyterhub", "singleuser.networkPolicy.egressAllowRules.dnsPortsCloudMetadataServer", _is(True),
         "opens the metadata address to user servers", METADATA),
    Rule("jupyterhub", "singleuser.networkPolicy.egressAllowRules.privateIPs", _is(True),
         "lets user servers reach private address ranges (the cluster, the virtual network)", NO_TYPED_KEY),
    Rule("jupyterhub", "singleuser.networkPolicy.egress", _opens_non_public,
         "adds egress rules that reach private, link-local or in-cluster addresses", NO_TYPED_KEY),
    Rule("jupyterhub", "singleuser.cloudMetadata.blockWithIptables", _is(False),
         "stops blocking the Azure metadata service in user servers", METADATA),
    Rule("jupyterhub", "singleuser.cloudMetadata.ip", lambda v: v != METADATA_IP,
         f"blocks another address than the metadata service's ({METADATA_IP})", NO_TYPED_KEY),
    Rule("jupyterhub", "hub.networkPolicy.enabled", _is(False),
         "turns off the hub's network policy", NO_TYPED_KEY),
    Rule("jupyterhub", "proxy.chp.networkPolicy.enabled", _is(False),
         "turns off the proxy's network policy", NO_TYPED_KEY),
    Rule("jupyterhub", "proxy.traefik.networkPolicy.enabled", _is(False),
         "turns off the HTTPS proxy's network policy", NO_TYPED_KEY),
    # --- root and privilege in user pods
    Rule("jupyterhub", "singleuser.uid", _root_uid, "runs user servers as root (or as the image's user)",
         NO_TYPED_KEY),
    Rule("jupyterhub", "singleuser.fsGid", _is(0), "gives user servers the root group", NO_TYPED_KEY),
    Rule("jupyterhub", "singleuser.allowPrivilegeEscalation", _is(True),
         "lets user servers gain privileges (sudo, setuid)", NO_TYPED_KEY),
    Rule("jupyterhub", "hub.config.KubeSpawner.uid", _root_uid, "runs user servers as root", NO_TYPED_KEY),
    # --- login
    Rule("jupyterhub", "hub.config.JupyterHub.authenticator_class", _any,
         "replaces the authenticator (a dummy or null one lets anyone in)", AUTH),
    Rule("jupyterhub", "hub.config.*.allow_all", _any, "changes who may log in", f"use {PROJECT}:auth.allowAll"),
    Rule("jupyterhub", "hub.config.*.allowed_users", _any, "changes who may log in",
         f"use {PROJECT}:auth.allowedUsers"),
    Rule("jupyterhub", "hub.config.*.allowed_organizations", _any, "changes who may log in",
         f"use {PROJECT}:auth.allowedOrganizations"),
    Rule("jupyterhub", "hub.config.*.admin_users", _any, "changes who is admin", f"use {PROJECT}:auth.admins"),
    Rule("jupyterhub", "hub.config.*.allow_existing_users", _is(True), "changes who may log in",
         f"use {PROJECT}:auth.allowedUsers"),
    Rule("jupyterhub", "hub.config.BinderSpawner.auth_enabled", _any, "changes whether Binder requires login", AUTH),
    # --- culling and per-user limits, the typed keys' promises
    Rule("jupyterhub", "cull.enabled", _is(False), "stops culling idle servers",
         f"use {PROJECT}:limits.cullIdleMinutes"),
    Rule("jupyterhub", "cull.timeout", _any, "changes idle culling", f"use {PROJECT}:limits.cullIdleMinutes"),
    Rule("jupyterhub", "cull.maxAge", _any, "changes the server age limit", f"use {PROJECT}:limits.maxAgeHours"),
    Rule("jupyterhub", "singleuser.memory.limit", _any, "changes the memory limit", f"use {PROJECT}:limits.memory"),
    Rule("jupyterhub", "singleuser.cpu.limit", _any, "changes the CPU limit", f"use {PROJECT}:limits.cpu"),
    # --- secrets the stack generates or takes as secret config
    Rule("jupyterhub", "hub.cookieSecret", _set, "holds a secret in plain text", GENERATED),
    Rule("jupyterhub", "proxy.secretToken", _set, "holds a secret in plain text", GENERATED),
    Rule("jupyterhub", "hub.config.CryptKeeper.keys", _set, "holds a secret in plain text", GENERATED),
    Rule("jupyterhub", "hub.config.*.client_secret", _set, "holds a secret in plain text",
         f"use the secret key {PROJECT}:authClientSecret "
         "(pulumi config set --secret authClientSecret, which asks for it)"),
    Rule("jupyterhub", "hub.services.*.apiToken", _set, "holds a secret in plain text", GENERATED),
    Rule("jupyterhub", "hub.services.*.api_token", _set, "holds a secret in plain text", GENERATED),
    Rule("jupyterhub", "proxy.https.manual.key", _set, "holds a private key in plain text",
         f"let the stack get the certificate ({PROJECT}:https, letsEncrypt)"),
    Rule("jupyterhub", "hub.db.password", _set, "holds a secret in plain text",
         "the hub database is SQLite on its own disk and needs none"),
    # --- BinderHub chart
    Rule("binderhub", "imageBuilderType", lambda v: v != "dind",
         "builds outside the stack's Docker-in-Docker daemons ('host' mounts the node's Docker socket, and the "
         "build egress policy does not cover other builders)", NO_TYPED_KEY),
    Rule("binderhub", "dind.hostSocketDir", _host_socket, "puts the build daemon's socket where the host's is",
         NO_TYPED_KEY),
    Rule("binderhub", "imageCleaner.host.dockerSocketDir", _host_socket, "points the image cleaner at the host's "
         "Docker socket", NO_TYPED_KEY),
    Rule("binderhub", "config.BinderHub.auth_enabled", _any, "changes whether Binder requires login", AUTH),
    Rule("binderhub", "config.BinderHub.pod_quota", _any, "raises or removes the server quota",
         f"use {PROJECT}:limits.totalQuota", bound="limits.total_quota"),
    Rule("binderhub", "config.BinderHub.per_repo_quota", _any, "raises or removes the per-repository quota",
         f"use {PROJECT}:limits.perRepoQuota", bound="limits.per_repo_quota"),
    Rule("binderhub", "config.*.banned_specs", _any, "replaces the banned repositories",
         f"use {PROJECT}:security.bannedRepos"),
    Rule("binderhub", "config.*.allowed_specs", _any, "replaces the allowed repositories",
         f"use {PROJECT}:security.allowedRepos"),
    Rule("binderhub", "registry.password", _set, "holds a secret in plain text",
         f"for Docker Hub use the secret key {PROJECT}:dockerHubToken; ACR credentials are managed by the stack"),
    Rule("binderhub", "config.BinderHub.build_token_secret", _set, "holds a secret in plain text", GENERATED),
)

# Rules on a key name wherever it appears (profile overrides, extra containers, KubeSpawner
# config, ...): (key pattern, predicate, what it would do).
_SECRET_NAME = re.compile(r"(?i)(?!existing).*(secret|password|passwd|token|api_?key|private_?key|credentials?)")
ANYWHERE: tuple[tuple[str, Callable[[Any], bool], str], ...] = (
    ("privileged", _is(True), "runs a privileged container"),
    ("runAsUser", _is(0), "runs a container as root"),
    ("uid", _is(0), "runs a container as root"),
    ("allowPrivilegeEscalation", _is(True), "lets a container gain privileges"),
    ("allow_privilege_escalation", _is(True), "lets a container gain privileges"),
    ("hostPath", lambda v: v is not None, "mounts a directory of the node (such as its Docker socket)"),
    ("hostNetwork", _is(True), "puts a pod on the node's network"),
    ("hostPID", _is(True), "shares the node's processes with a pod"),
    ("hostIPC", _is(True), "shares the node's IPC with a pod"),
)


def _walk(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, (*path, str(key)))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _walk(item, (*path, f"[{i}]"))


def _dotted(path: tuple[str, ...]) -> str:
    return "".join(p if p.startswith("[") else f".{p}" for p in path).lstrip(".")


def _within(rule: Rule, value: Any, cfg: StackConfig | None) -> bool:
    """A quota no looser than the typed key's (0 there means unlimited, so anything goes)."""
    if not rule.bound or cfg is None:
        return False
    typed: Any = cfg
    for part in rule.bound.split("."):
        typed = getattr(typed, part)
    if typed == 0:
        return True
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= typed


def check_values(chart: str, values: dict[str, Any], where: str, cfg: StackConfig | None = None) -> list[str]:
    """Problems in one chart's raw values; `where` is the helmValues path of `values`."""
    problems = []
    for path, value in _walk(values):
        if not path:
            continue
        key = f"{PROJECT}:helmValues.{where}.{_dotted(path)}"
        ruled = False
        for rule in RULES:
            if rule.matches(chart, path) and rule.weakens(value) and not _within(rule, value, cfg):
                problems.append(f"{key} is refused: it {rule.why}; {rule.instead} "
                                "(helmValues may not weaken a defence or hold a secret)")
                ruled = True
                break
        if ruled:
            continue
        name = path[-1]
        for pattern, weakens, why in ANYWHERE:
            if name == pattern and weakens(value):
                problems.append(f"{key} is refused: it {why}; {NO_TYPED_KEY} "
                                "(helmValues may not weaken a defence or hold a secret)")
                break
        else:
            if isinstance(value, (str, int, float)) and not isinstance(value, bool) and str(value) \
                    and _SECRET_NAME.fullmatch(name):
                problems.append(f"{key} looks like a secret in plain text (the plan would print it); keep it in a "
                                "Kubernetes Secret and reference it (e.g. extraEnv with valueFrom.secretKeyRef), "
                                "or use the stack's secret keys (helmValues may not hold a secret)")
    return problems


def helm_values_problems(cfg: StackConfig) -> list[str]:
    """Every refused entry of the stack's helmValues, one line each."""
    problems = check_values("jupyterhub", cfg.helm_values.jupyterhub, "jupyterhub", cfg)
    binder = cfg.helm_values.binderhub
    if binder:
        jh = binder.get("jupyterhub")
        rest = {k: v for k, v in binder.items() if k != "jupyterhub"}
        problems += check_values("binderhub", rest, "binderhub", cfg)
        if isinstance(jh, dict):
            problems += check_values("jupyterhub", jh, "binderhub.jupyterhub", cfg)
    return problems


def security_model_markdown() -> str:
    """The refused helmValues, as the README's "Security model" lists them."""
    lines = ["| chart | helmValues path | refused when it | instead |", "|---|---|---|---|"]
    for rule in RULES:
        note = " (a lower quota is fine)" if rule.bound else ""
        lines.append(f"| {rule.chart} | `{rule.path}` | {rule.why}{note} | {rule.instead} |")
    for name, _, why in ANYWHERE:
        lines.append(f"| both | `{name}` at any depth | {why} | {NO_TYPED_KEY} |")
    lines.append("| both | any key named like a secret (`*secret`, `*password`, `*token`, `*apiKey`, "
                 "`*privateKey`, `*credentials`) with a plain value | holds a secret in plain text | "
                 "a Kubernetes Secret reference, or the stack's secret keys |")
    return "\n".join(lines)
