"""Mutation testing with cosmic-ray (`./run mutate [module ...]`), one module at a time.

Any module of the repository (components/, tools/, redirector/, __main__.py) with a test
selection in SELECTION below can be mutated.

Each module is mutated in a scratch copy of the repository (the work tree is never touched)
and its mutants run against only the tests that exercise it, first test failure wins (`-x`).
Mutations inside type annotations are skipped and counted apart: with
`from __future__ import annotations` annotations are never evaluated, so such a mutant is
equivalent by construction (and a bare `*` in a signature is not an operator at all).

Prints each module's score, every survivor (file:line operator) and the total.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTEST = f"{sys.executable} -m pytest -x -q -p no:cacheprovider -p no:randomly"

# module -> (test files, -k expression): the tests that exercise it, fastest killers first.
SELECTION: dict[str, tuple[list[str], str]] = {
    "components/roles.py": (["tests/test_cluster_access.py", "tests/test_wiring.py"],
                            "roles or principal or settle or delegation or preview_role or assign or vault_reads "
                            "or budget_scope"),
    "components/budget.py": (["tests/test_budget.py", "tests/test_wiring.py"], "budget"),
    "components/registry.py": (["tests/test_wiring.py", "tests/test_infrastructure.py", "tests/test_hub_plan.py",
                                "tests/test_practices.py"],
                               "binderhub_roles or registry or acr or suffix or purge_task"),
    "components/ingress.py": (["tests/test_wiring.py", "tests/test_hub_plan.py"],
                              "binderhub_roles or traefik or hub_waits or issuers or public_address or grafana_waits"),
    "components/cluster.py": (["tests/test_cluster_access.py", "tests/test_wiring.py", "tests/test_infrastructure.py",
                               "tests/test_features.py", "tests/test_security.py"],
                              "kubeconfig or provider or principal or binderhub_roles or cluster or pool or gpu "
                              "or protect or entra or settled"),
    "components/hub.py": (["tests/test_wiring.py", "tests/test_hub_plan.py", "tests/test_security.py",
                           "tests/test_practices.py"],
                          "tokens or push_credential or dockerhub or auth_client or hub_waits or build_policy "
                          "or generated or releases or build_pods or database or dataset_objects or hub_release "
                          "or launch_events or share_claim"),
    "components/datasets.py": (["tests/test_wiring.py", "tests/test_datasets.py"], "dataset or storage"),
    "components/tljh.py": (["tests/test_wiring.py", "tests/test_tljh.py"], "tljh or suffix"),
    "components/aks_versions.py": (["tests/test_aks_versions.py", "tests/test_preflight.py", "tests/test_refresh.py"],
                                   "version or cluster or calendar or default or support or offline"),
    "__main__.py": (["tests/test_wiring.py", "tests/test_infrastructure.py", "tests/test_monitoring.py",
                     "tests/test_hub_plan.py", "tests/test_budget.py", "tests/test_practices.py"],
                    "cryptnono or roles or preflight or provider or grafana or monitoring or outputs or parent "
                    "or dataset or public_address or dockerhub or budget or tljh or auth_client or next_step"),
    "components/schedule.py": (["tests/test_schedule_properties.py", "tests/test_sleep.py"],
                                "schedule or london or window or awake or terms or transitions or recurrences "
                                "or stop_times or stop_servers or bad_schedules or vm_starts or info or agree"),
    "tools/schedule_cost.py": (["tests/test_schedule_properties.py", "tests/test_sleep.py"],
                               "cost or hand_worked or masks or month"),
    # (tests/test_redirector_live.py sends launches through it too, at 5 s a run: the pure tests kill as much.)
    "redirector/rendezvous.py": (["tests/test_mutation_kills.py", "tests/test_redirector_rendezvous.py"],
                                 "rendezvous"),
    "redirector/health.py": (["tests/test_mutation_kills.py", "tests/test_redirector_live.py"],
                             "mutation_kills or health or judging or answer or quota or down or unhealthy or prime"),
    "components/repos_spec.py": (["tests/test_mutation_kills.py", "tests/test_repos.py"],
                                 "mutation_kills or repos or repo or token or provider"),
}


def _copy(dest: Path) -> None:
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           check=True, capture_output=True, text=True).stdout.split()
    for name in files:
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)


def _annotation_spans(source: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    spans = []
    for node in ast.walk(ast.parse(source)):
        notes = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            notes = [a.annotation for a in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
                     if a is not None and a.annotation is not None] + ([node.returns] if node.returns else [])
        elif isinstance(node, ast.AnnAssign):
            notes = [node.annotation]
        spans += [((n.lineno, n.col_offset), (n.end_lineno, n.end_col_offset)) for n in notes]
    return spans


def _not_a_mutant(source_lines: list[str], spans, start: tuple[int, int]) -> str | None:
    """Why a generated mutation is not a real mutant, or None."""
    if any(a <= tuple(start) < b for a, b in spans):
        return "inside a type annotation (never evaluated)"
    line, col = start
    text = source_lines[line - 1]
    if text[col:col + 1] == "*" and text[col + 1:].lstrip().startswith(","):
        return "the bare `*` of a signature"
    return None


def run_module(work: Path, module: str, timeout: float) -> dict:
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    files, selector = SELECTION[module]
    name = Path(module).stem.strip("_") or "main"
    config = work / f"cr-{name}.toml"
    test_command = f"{PYTEST} {' '.join(files)} -k \"{selector}\""
    config.write_text(
        "[cosmic-ray]\n"
        f"module-path = \"{module}\"\n"
        f"timeout = {timeout}\n"
        "excluded-modules = []\n"
        f"test-command = {json.dumps(test_command)}\n"
        "[cosmic-ray.distributor]\nname = \"local\"\n")
    session = work / f"cr-{name}.sqlite"
    cosmic = [sys.executable, "-m", "cosmic_ray.cli"]
    subprocess.run([*cosmic, "init", str(config), str(session)], cwd=work, check=True)
    source = (work / module).read_text()
    # Annotations are only inert under the __future__ import (otherwise they are evaluated).
    lazy = "from __future__ import annotations" in source
    spans, lines = (_annotation_spans(source) if lazy else []), source.splitlines()
    skipped = []
    with use_db(str(session), WorkDB.Mode.open) as db:
        for item in db.pending_work_items:
            why = _not_a_mutant(lines, spans, item.mutations[0].start_pos)
            if why:
                db.set_result(item.job_id, WorkResult(worker_outcome=WorkerOutcome.SKIPPED, output=why))
                skipped.append(item.job_id)
    started = time.monotonic()
    subprocess.run([*cosmic, "exec", str(config), str(session)], cwd=work, check=True)
    killed, survived = 0, []
    with use_db(str(session), WorkDB.Mode.open) as db:
        for item, result in db.completed_work_items:
            if result.worker_outcome == WorkerOutcome.SKIPPED:
                continue
            m = item.mutations[0]
            if result.is_killed:
                killed += 1
            else:
                survived.append(f"{module}:{m.start_pos[0]} {m.operator_name} #{m.occurrence}")
    return {"module": module, "killed": killed, "survived": sorted(survived), "skipped": len(skipped),
            "seconds": round(time.monotonic() - started)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./run mutate", description=__doc__.split("\n")[0])
    parser.add_argument("modules", nargs="*", help="e.g. components/roles.py (default: all)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per mutant's test run")
    args = parser.parse_args(argv)
    modules = args.modules or list(SELECTION)
    unknown = [m for m in modules if m not in SELECTION]
    if unknown:
        parser.error(f"no test selection for {', '.join(unknown)}; known: {', '.join(SELECTION)}")
    os.environ["PYTHONDONTWRITEBYTECODE"] = "1"  # a mutant must never run from a stale .pyc
    results = []
    with tempfile.TemporaryDirectory(prefix="mutate-") as tmp:
        work = Path(tmp)
        _copy(work)
        for module in modules:
            results.append(run_module(work, module, args.timeout))
            r = results[-1]
            total = r["killed"] + len(r["survived"])
            print(f"{module}: {r['killed']}/{total} killed, {r['skipped']} skipped, {r['seconds']} s", flush=True)
    killed = sum(r["killed"] for r in results)
    total = killed + sum(len(r["survived"]) for r in results)
    skipped = sum(r["skipped"] for r in results)
    print("\nSurvivors:")
    for r in results:
        for line in r["survived"]:
            print(f"  {line}")
    score = 100.0 * killed / total if total else 100.0
    print(f"\nMutation score: {killed}/{total} = {score:.1f}% "
          f"({skipped} generated mutations skipped as not real mutants; "
          f"{100.0 * killed / (total + skipped) if total + skipped else 100.0:.1f}% counting them as survivors)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
