"""Keep the stack's facts current: versions, regions, VM sizes, prices, chart and image pins.

    ./run python -m tools.refresh                 update the data files from their sources
    ./run python -m tools.refresh --check         report only: each pin, in use, newest, state
    ./run python -m tools.refresh --offline       report what has fallen out of support by date
    ./run python -m tools.refresh --only charts,images [--check] [--json]

Every fact lives in a data file with its source and date (components/pins.json,
aks_versions.json, azure_regions.json, vm_sizes.json, tools/prices.json, the requirements files);
tools/refresh_sources.py lists where each one comes from. A refresh asks each source, rewrites
the files whose facts changed (dated today), and prints one line per source: what changed,
"current", or "unreachable: why" (then nothing of that source changes). Azure's own lists (AKS
versions, regions, VM sizes) need credentials, as the pre-flight does (`az login`); without
them those sources are reported unreachable. Python requirements are reported here (newest
release, advisories against the pinned version) and upgraded by Dependabot.

Then the report: one row per pin. With --check nothing is written, and the exit status is 1
when something the stack uses has fallen out of support (a Kubernetes version past AKS's end of
life, an image or TLJH's Traefik below its patched minimum, an advisory against a pinned Python
package, the TLJH VM image past its support end), else 0. Exit 2 with one line for bad
arguments. The weekly workflow (.github/workflows/refresh.yml) runs the refresh and opens a pull
request with the changes and the offline plan's difference.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any, TextIO

from components import aks_versions

from .outputs import unexpected
from .refresh_sources import (
    NETWORK_FREE,
    SOURCES,
    Context,
    Fetch,
    Finding,
    SourceResult,
    UnreachableError,
)
from .stackfile import ROOT

TIMEOUT_SECONDS = 30
MAX_BYTES = 64 * 1024 * 1024  # the largest Helm index.yaml is a few MiB


def http_fetch(url: str) -> bytes:
    """GET with a timeout; GitHub's API gets the workflow's token when there is one."""
    headers = {"User-Agent": "binderhub-azure-refresh"}
    token = os.environ.get("GITHUB_TOKEN")
    if token and url.startswith("https://api.github.com/"):
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            body: bytes = response.read(MAX_BYTES + 1)
    except (OSError, urllib.error.URLError, ValueError) as err:
        raise UnreachableError(f"{url}: {getattr(err, 'reason', err)}") from None
    if len(body) > MAX_BYTES:
        raise UnreachableError(f"{url}: answer larger than {MAX_BYTES} bytes")
    return body


def azure_clients() -> tuple[Any, str]:
    """The pre-flight's Azure clients, or (None, why not) without credentials or subscription."""
    from . import preflight

    if not preflight.credentials_look_present():
        return None, "no Azure credentials (az login, or AZURE_CLIENT_ID with a federated token)"
    found = preflight.resolve_subscription(None, {})
    if found is None:
        return None, "no subscription (set AZURE_SUBSCRIPTION_ID or az account set)"
    try:
        return preflight.build_clients(found[0]), ""
    except Exception as err:  # the credential packages failing to start: say so, go on without Azure
        return None, preflight.error_message(err) or f"{type(err).__name__}: {err}"


def run_sources(names: Sequence[str], ctx: Context) -> tuple[list[SourceResult], dict[str, str]]:
    """Each source's result; sources that could not be asked are in the second dict, with why."""
    results, unreachable = [], {}
    for name in names:
        try:
            results.append(SOURCES[name](ctx))
        except UnreachableError as err:
            unreachable[name] = str(err)
        except Exception as err:
            # An Azure SDK error (no rights, no network) is a source that could not be asked.
            from . import preflight

            message = preflight.error_message(err)
            if message is None:
                raise
            unreachable[name] = message
    return results, unreachable


def write_files(results: Sequence[SourceResult]) -> list[str]:
    """Apply the changes; "" deletes a file. Returns the paths written, relative to the root."""
    written = []
    for result in results:
        for path, text in result.files.items():
            if text == "":
                path.unlink(missing_ok=True)
            else:
                path.write_text(text)
            written.append(str(path.relative_to(ROOT)))
    return written


def report(results: Sequence[SourceResult], unreachable: dict[str, str], *, wrote: bool) -> str:
    lines = []
    for result in results:
        changed = sorted({str(p.relative_to(ROOT)) for p in result.files})
        verb = "changed" if wrote else "would change"
        lines.append(f"{result.name:<9} {f'{verb} ' + ', '.join(changed) if changed else 'current'}")
    lines += [f"{name:<9} unreachable: {why} (nothing changed)" for name, why in unreachable.items()]
    rows = [f for r in results for f in r.findings]
    width = max((len(f.fact) for f in rows), default=4)
    lines += ["", f"{'fact':<{width}}  {'in use':<28} {'newest / limit':<28} state"]
    for f in rows:
        mark = "  <- out of support" if f.failing else ""
        lines.append(f"{f.fact:<{width}}  {f.in_use[:28]:<28} {f.newest[:28]:<28} {f.status}{mark}")
        if f.detail:
            lines.append(f"{'':<{width}}    {f.detail}")
    todo = [t for r in results for t in r.todo]
    if todo:
        lines += ["", "To do by hand with these changes:", *(f"  - {t}" for t in todo)]
    failing = [f for f in rows if f.failing]
    lines += ["", f"{len(failing)} out of support." if failing else "Nothing the stack uses is out of support."]
    return "\n".join(lines)


def as_json(results: Sequence[SourceResult], unreachable: dict[str, str]) -> dict[str, Any]:
    findings: list[Finding] = [f for r in results for f in r.findings]
    return {"date": aks_versions.today().isoformat(),
            "sources": {r.name: sorted(str(p.relative_to(ROOT)) for p in r.files) for r in results},
            "unreachable": unreachable,
            "findings": [asdict(f) for f in findings],
            "todo": [t for r in results for t in r.todo],
            "outOfSupport": sum(f.failing for f in findings)}


def main(argv: Sequence[str] | None = None, *, fetch: Fetch | None = None, azure: Any = None,
         out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    parser = argparse.ArgumentParser(prog="./run python -m tools.refresh", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="report only; exit 1 when something is out of support")
    parser.add_argument("--offline", action="store_true", help="no network: only what dates alone tell")
    parser.add_argument("--only", help=f"comma-separated sources: {', '.join(SOURCES)}")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON document")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    names = list(SOURCES) if not args.only else [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in SOURCES]
    if unknown:
        print(f"--only: unknown source {', '.join(unknown)}; the sources are {', '.join(SOURCES)}", file=err)
        return 2
    if args.offline:
        names = [n for n in names if n in NETWORK_FREE]
    azure_why = "not asked (--offline)"
    if azure is None and not args.offline and {"aks", "regions", "vm-sizes"} & set(names):
        azure, azure_why = azure_clients()
    ctx = Context(fetch=fetch or http_fetch, today=aks_versions.today(), azure=azure,
                  azure_error=azure_why or "no Azure clients")
    try:
        results, unreachable = run_sources(names, ctx)
    except Exception as exc:  # a bug, not an unreachable source
        return unexpected(exc, doing="the refresh failed")
    wrote = not args.check and not args.offline
    if wrote:
        write_files(results)
    print(json.dumps(as_json(results, unreachable), indent=2) if args.json
          else report(results, unreachable, wrote=wrote), file=out)
    failing = any(f.failing for r in results for f in r.findings)
    return 1 if failing and (args.check or args.offline) else 0


if __name__ == "__main__":
    sys.exit(main())
