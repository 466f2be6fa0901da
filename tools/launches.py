"""Count Binder launches per repository from BinderHub's launch events.

The binder pod appends one JSON line per launch to a file on its launch-events share
(`binderSite.launchEvents`, see practices_spec.py): BinderHub's launch schema
(binderhub/event-schemas/launch.json at the pinned chart's commit) in a capsule with
`timestamp`, `schema` and `version`. `./run python -m tools.ops launches` reads that file
from the running binder pod and prints the last week's launches per repository.

Pure functions (`parse_events`, `repository`, `count_launches`, `render_launches`) do the
work; `read_event_file` is the one call into the cluster.
"""

from __future__ import annotations

import datetime
import json
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from components.practices_spec import EVENTS_FILE

LAUNCH_SCHEMA = "binderhub.jupyter.org/launch"
# Providers whose spec is "<repository>/<ref>": the repository is everything before the last '/'.
_REF_LAST = {"GitHub", "GitLab", "Git", "Gist"}


@dataclass(frozen=True)
class Launch:
    when: datetime.datetime
    provider: str
    repository: str
    success: bool


@dataclass(frozen=True)
class RepoCount:
    repository: str
    launches: int
    failures: int


def repository(provider: str, spec: str) -> str:
    """'GitHub', 'org/repo/main' -> 'GitHub:org/repo'; GitLab and Git specs are URL-quoted."""
    name = spec.rsplit("/", 1)[0] if provider in _REF_LAST and "/" in spec else spec
    if provider in ("GitLab", "Git"):
        name = urllib.parse.unquote(name)
    return f"{provider}:{name}"


def _timestamp(text: str) -> datetime.datetime | None:
    try:
        when = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=datetime.UTC)


def parse_events(lines: Iterable[str]) -> tuple[list[Launch], int]:
    """Launch events among the lines, and how many lines were not readable launch events."""
    launches, skipped = [], 0
    for line in lines:
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            skipped += 1
            continue
        if not isinstance(event, dict) or event.get("schema") != LAUNCH_SCHEMA:
            skipped += 1
            continue
        when = _timestamp(event.get("timestamp", ""))
        provider, spec = event.get("provider"), event.get("spec")
        if when is None or not isinstance(provider, str) or not isinstance(spec, str):
            skipped += 1
            continue
        launches.append(Launch(when, provider, repository(provider, spec), event.get("status") != "failure"))
    return launches, skipped


def count_launches(launches: Iterable[Launch], *, now: datetime.datetime, days: int) -> list[RepoCount]:
    """Launches per repository in the `days` before `now`, most launched first."""
    since = now - datetime.timedelta(days=days)
    counts: dict[str, list[int]] = {}
    for launch in launches:
        if since <= launch.when <= now:
            entry = counts.setdefault(launch.repository, [0, 0])
            entry[0] += 1
            entry[1] += not launch.success
    rows = [RepoCount(repo, total, failed) for repo, (total, failed) in counts.items()]
    return sorted(rows, key=lambda r: (-r.launches, r.repository))


def render_launches(rows: list[RepoCount], *, now: datetime.datetime, days: int, skipped: int = 0) -> str:
    since = (now - datetime.timedelta(days=days)).strftime("%Y-%m-%d %H:%M")
    total = sum(r.launches for r in rows)
    lines = [f"Binder launches since {since} UTC (last {days} days): {total} in {len(rows)} repositories"]
    if rows:
        width = max(len(str(r.launches)) for r in rows)
        lines.append(f"{'launches':>{max(8, width)}}  {'failed':>6}  repository")
        lines += [f"{r.launches:>{max(8, width)}}  {r.failures:>6}  {r.repository}" for r in rows]
    if skipped:
        lines.append(f"({skipped} line(s) of the event file were not launch events and were skipped)")
    return "\n".join(lines)


# ------------------------------------------------------------------------- the cluster

Exec = Callable[[Any, str, str, list[str]], str]


def kubernetes_exec(core: Any, namespace: str, pod: str, command: list[str]) -> str:
    """Run a command in a pod and return its standard output."""
    from kubernetes.stream import stream

    return stream(core.connect_get_namespaced_pod_exec, pod, namespace, command=command,
                  stderr=False, stdin=False, stdout=True, tty=False)


def read_event_file(core: Any, namespace: str, *, exec_fn: Exec | None = None,
                    request_timeout: Any = None) -> str | None:
    """The launch-event file's text from a running binder pod; None when no binder pod runs."""
    pods = core.list_namespaced_pod(namespace, label_selector="component=binder",
                                    _request_timeout=request_timeout).items
    running = [p for p in pods if p.status is not None and p.status.phase == "Running"]
    if not running:
        return None
    # A missing file (no launch yet) is an empty count, not an error.
    command = ["sh", "-c", f"cat {EVENTS_FILE} 2>/dev/null || true"]
    return (exec_fn or kubernetes_exec)(core, namespace, running[0].metadata.name, command)
