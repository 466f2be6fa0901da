"""Paths in Helm values, and the helmValues paths the gate understands (pure).

A path is a tuple of segments: mapping keys, and `[i]` for list items. Written out it is
dotted (`singleuser.extraEnv[0].name`). Patterns use the same form with `*` for any one
segment, `[*]` for any list item and a trailing `**` for anything below (zero or more
segments).

`ALLOWED` is the allowlist: the chart-relative paths whose whole effect the invariants on the
merged values (`values_invariants`) and the secret check (`helm_secrets`) decide, so they are
accepted without further ado. Any other path is refused unless the stack lists it (or a
pattern above it) under `helmValues.uncheckedPaths`, which says "I take responsibility
for this"; such paths are shown as unchecked in every plan, and the invariants and the
secret check still apply to them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

Path = tuple[str, ...]
MISSING = object()


def dotted(path: Path) -> str:
    return "".join(p if p.startswith("[") else f".{p}" for p in path).lstrip(".")


def parse(pattern: str) -> Path:
    """`a.b[*].c` -> ("a", "b", "[*]", "c"). Keys with dots cannot be written (none of the
    charts' keys have one, and the gate's own paths never need it)."""
    segments: list[str] = []
    for part in pattern.split("."):
        head, *indexes = re.split(r"(?=\[)", part)
        if head:
            segments.append(head)
        segments.extend(indexes)
    return tuple(segments)


def matches(pattern: Path, path: Path, *, prefix: bool = False) -> bool:
    """Whether `pattern` names `path` (or, with `prefix`, `path` or something above it)."""
    if pattern and pattern[-1] == "**":
        pattern, prefix = pattern[:-1], True
    if len(path) < len(pattern) or (len(path) > len(pattern) and not prefix):
        return False
    for want, got in zip(pattern, path, strict=False):
        if want == "*" or (want == "[*]" and got.startswith("[")):
            continue
        if want != got:
            return False
    return True


def nodes(tree: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Every (path, value) below the root, parents before children."""
    if isinstance(tree, Mapping):
        for key, item in tree.items():
            sub = (*path, str(key))
            yield sub, item
            yield from nodes(item, sub)
    elif isinstance(tree, list):
        for i, item in enumerate(tree):
            sub = (*path, f"[{i}]")
            yield sub, item
            yield from nodes(item, sub)


def leaves(tree: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """(path, value) of every scalar, null and empty mapping or list."""
    if isinstance(tree, Mapping) and tree:
        for key, item in tree.items():
            yield from leaves(item, (*path, str(key)))
    elif isinstance(tree, list) and tree:
        for i, item in enumerate(tree):
            yield from leaves(item, (*path, f"[{i}]"))
    elif path:
        yield path, tree


def get(tree: Any, path: Path, default: Any = None) -> Any:
    """The value at `path`, or `default` where the path does not lead anywhere (a missing key,
    an index out of range, or a value of the wrong kind on the way)."""
    node = tree
    for part in path:
        if part.startswith("[") and isinstance(node, list):
            i = int(part[1:-1])
            if i >= len(node):
                return default
            node = node[i]
        elif isinstance(node, Mapping) and part in node:
            node = node[part]
        else:
            return default
    return node


def has(tree: Any, path: Path) -> bool:
    return get(tree, path, MISSING) is not MISSING


@dataclass(frozen=True)
class Allowed:
    chart: str        # "jupyterhub" or "binderhub"
    pattern: str
    what: str         # what users set it for, and which check covers its effect

    @property
    def path(self) -> Path:
        return parse(self.pattern)


_ENV = "plain values; the secret check refuses secrets"
ALLOWED: tuple[Allowed, ...] = (
    # --- JupyterHub chart (also BinderHub's `jupyterhub:` block)
    Allowed("jupyterhub", "singleuser.image.name", "the user image (the README's example)"),
    Allowed("jupyterhub", "singleuser.image.tag", "the user image's tag"),
    Allowed("jupyterhub", "singleuser.image.pullPolicy", "when nodes pull the user image"),
    Allowed("jupyterhub", "singleuser.image.pullSecrets.**", "names of existing pull secrets"),
    Allowed("jupyterhub", "singleuser.extraEnv.*", f"environment of user servers: {_ENV}"),
    Allowed("jupyterhub", "singleuser.extraEnv.*.name", "environment of user servers (list form)"),
    Allowed("jupyterhub", "singleuser.extraEnv.*.value", f"environment of user servers: {_ENV}"),
    Allowed("jupyterhub", "singleuser.extraEnv.*.valueFrom.fieldRef.**",
            "environment from the pod's own fields (not from Secrets)"),
    Allowed("jupyterhub", "singleuser.extraEnv.*.valueFrom.resourceFieldRef.**",
            "environment from the pod's own resources"),
    Allowed("jupyterhub", "singleuser.lifecycleHooks.**",
            "commands run in the user's own container as the user (e.g. nbgitpuller); the kernel-culling "
            "invariant reads them"),
    Allowed("jupyterhub", "singleuser.extraFiles.*.mountPath",
            "files in user servers; the culling and privilege invariants check where they go"),
    Allowed("jupyterhub", "singleuser.extraFiles.*.mode", "their permissions (Kubernetes allows at most 0777)"),
    Allowed("jupyterhub", "singleuser.extraFiles.*.data.**", "their content, which the culling invariant reads"),
    Allowed("jupyterhub", "singleuser.extraFiles.*.stringData", "their content, which the culling invariant reads"),
    Allowed("jupyterhub", "singleuser.memory.guarantee", "memory request of user servers, at most the limit"),
    Allowed("jupyterhub", "singleuser.cpu.guarantee", "CPU request of user servers, at most the limit"),
    Allowed("jupyterhub", "singleuser.startTimeout", "how long a server may take to start"),
    Allowed("jupyterhub", "hub.image.name", "the hub image (see hub_spec.binder_hub_image)"),
    Allowed("jupyterhub", "hub.image.tag", "the hub image's tag"),
    Allowed("jupyterhub", "hub.resources.**", "the hub's requests and limits, requests at most limits"),
    Allowed("jupyterhub", "proxy.chp.resources.**", "the proxy's requests and limits"),
    Allowed("jupyterhub", "scheduling.userScheduler.resources.**", "the user scheduler's requests and limits"),
    Allowed("jupyterhub", "hub.concurrentSpawnLimit", "a limit on servers starting at once"),
    Allowed("jupyterhub", "hub.activeServerLimit", "a limit on running servers"),
    Allowed("jupyterhub", "hub.templateVars.**", "texts of the hub's pages"),
    Allowed("jupyterhub", "hub.config.JupyterHub.template_vars.**", "texts of the hub's pages"),
    Allowed("jupyterhub", "hub.config.KubeSpawner.start_timeout", "how long a server may take to start"),
    Allowed("jupyterhub", "hub.config.KubeSpawner.http_timeout", "how long a server may take to answer"),
    Allowed("jupyterhub", "prePuller.extraImages.**", "more images pulled onto user nodes ahead of time"),
    Allowed("jupyterhub", "custom.**", "free-form values for your own extraConfig (no effect by themselves)"),
    # --- BinderHub chart
    Allowed("binderhub", "config.BinderHub.banner_message", "HTML at the top of Binder pages"),
    Allowed("binderhub", "config.BinderHub.about_message", "HTML of the about page"),
    Allowed("binderhub", "config.BinderHub.extra_footer_scripts.**", "scripts of Binder pages (e.g. analytics)"),
    Allowed("binderhub", "config.BinderHub.per_repo_quota", "servers per repository, at most limits.perRepoQuota"),
    Allowed("binderhub", "config.BinderHub.per_repo_quota_higher",
            "servers per high-quota repository, at most limits.perRepoQuota"),
    Allowed("binderhub", "config.*.high_quota_specs.**", "repositories that get per_repo_quota_higher"),
    Allowed("binderhub", "config.*.spec_config[*].pattern", "repositories a spec_config entry applies to"),
    Allowed("binderhub", "config.*.spec_config[*].config.quota", "their quota, at most limits.perRepoQuota"),
    Allowed("binderhub", "config.BinderHub.pod_quota", "servers in all (deprecated alias), at most limits.totalQuota"),
    Allowed("binderhub", "config.LaunchQuota.total_quota", "servers in all, at most limits.totalQuota"),
    Allowed("binderhub", "config.KubernetesBuildExecutor.build_image",
            "the repo2docker image (the README names this override)"),
    Allowed("binderhub", "dind.daemonset.image.name", "the build daemon's image"),
    Allowed("binderhub", "dind.daemonset.image.tag",
            "the build daemon's image tag (the README names this override)"),
    Allowed("binderhub", "resources.**", "the binder pod's requests and limits"),
)


def chart_paths(helm_values: Mapping[str, Any], binder: bool) -> Iterator[tuple[str, str, Path, Any]]:
    """(helmValues key, chart, chart-relative path, value) of every leaf the stack sets.
    In binderhub mode `helmValues.binderhub.jupyterhub` and `helmValues.jupyterhub` are both
    the JupyterHub chart's values; `helmValues.binderhub` otherwise is the BinderHub chart's."""
    for path, value in leaves(helm_values.get("jupyterhub") or {}):
        yield "jupyterhub", "jupyterhub", path, value
    binderhub = helm_values.get("binderhub") or {}
    for path, value in leaves(binderhub):
        if binder and path[0] == "jupyterhub" and isinstance(binderhub.get("jupyterhub"), Mapping):
            yield "binderhub.jupyterhub", "jupyterhub", path[1:], value
        else:
            yield "binderhub", "binderhub", path, value


def allowed(chart: str, path: Path) -> Allowed | None:
    for entry in ALLOWED:
        if entry.chart == chart and matches(entry.path, path):
            return entry
    return None


# --------------------------------------------------------------------- acknowledgements

ACK_ROOTS = (("binderhub", "jupyterhub"), ("jupyterhub",), ("binderhub",))


def ack_problem(pattern: str) -> str | None:
    """Why an `uncheckedPaths` entry is not a usable pattern; None if it is."""
    path = parse(pattern)
    if not re.fullmatch(r"[A-Za-z0-9_.*\[\]/-]+", pattern) or "" in pattern.split(".") or "**" in path:
        return "must be a dotted helmValues path such as 'jupyterhub.hub.extraConfig.myconfig' (`*` for any one key)"
    for root in ACK_ROOTS:
        if path[:len(root)] == root:
            rest = path[len(root):]
            if not rest or rest[0] in ("*", "[*]") or rest[0].startswith("["):
                return (f"must name at least one key of the {'.'.join(root)} values before any `*` (e.g. "
                        f"'{'.'.join(root)}.hub.extraConfig'): a whole chart cannot be left unchecked")
            return None
    return "must start with 'jupyterhub.' or 'binderhub.' (the chart, as under helmValues)"


def acknowledged_by(patterns: list[str], where: str, path: Path) -> str | None:
    """The first pattern that acknowledges the leaf `where`.`path` (where: a helmValues block)."""
    full = (*parse(where), *path)
    for pattern in patterns:
        if matches(parse(pattern), full, prefix=True):
            return pattern
    return None


def suggestion(where: str, path: Path) -> str:
    """The pattern to suggest for an unchecked leaf: its path, up to its first list item
    (one entry of uncheckedPaths then covers a whole list such as extraContainers)."""
    cut = next((i for i, p in enumerate(path) if p.startswith("[")), len(path))
    return dotted((*parse(where), *path[:max(cut, 1)]))
