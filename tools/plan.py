"""Offline plan: what `pulumi up` would create for a stack, without Azure or the Pulumi CLI.

    ./run plan --stack dev [--json]
    ./run plan --config-file path/to/Pulumi.myuni.yaml [--json]

Runs the real `__main__.py` under Pulumi's mocks with the stack's config. Secret
config (`secure:` entries, whose plaintext is unknown offline), generated passwords
and credentials appear as "[secret]", and so does anything the helmValues gate calls a
secret (components/helm_secrets.py). helmValues paths the stack took responsibility for
(`helmValues.uncheckedPaths`) are listed under Notes and as `uncheckedHelmValues`. A secret the
stack needs and the file does not set yet (a fresh copy of an example) gets a visible stand-in,
and is listed first with the command that sets it (`missingSecrets`); `pulumi up` refuses such a
stack. Exit 0 on success, 2 with one line per problem on stderr when the config is wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import runpy
import sys
from typing import TYPE_CHECKING, Any

from components import aks_versions, helm_guard
from components.config import PROJECT, ConfigError
from components.config_load import parse_config
from components.helm_secrets import redact_text
from components.notes import stack_notes

from . import cost
from .member_stacks import member_stack_notes
from .outputs import unexpected
from .stackfile import (
    ROOT,
    SECRET,
    PlanError,
    add_stack_arguments,
    missing_secrets,
    missing_secrets_lines,
    read_stack_file,
    stack_from_args,
    stand_in_secrets,
)

__all__ = ["ROOT", "PlanError", "build_plan", "main", "read_stack_file", "run_program", "summary"]

if TYPE_CHECKING:
    from .mocks import PlanMocks, RecordingMonitor

# Config Pulumi reads from the environment; the offline plan renders the stack file alone.
CONFIG_ENV = ("PULUMI_CONFIG", "PULUMI_CONFIG_SECRET_KEYS")

RELEASE_TYPE = "kubernetes:helm.sh/v3:Release"


def run_program(raw: dict[str, str], secret_keys: set[str], stack: str,
                mocks: PlanMocks | None = None) -> RecordingMonitor:
    """Run `__main__.py` under mocks (update mode, so every apply runs, unless the mocks say
    `preview`) and return the record."""
    # The Pulumi SDK loads only once the stack file has been read and validated.
    import pulumi
    from pulumi.runtime import config as runtime_config
    from pulumi.runtime import settings as runtime_settings
    from pulumi.runtime.stack import run_in_stack

    from .mocks import PlanMocks, RecordingMonitor

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    mocks = mocks or PlanMocks()
    monitor = RecordingMonitor(mocks)
    runtime_settings.reset_options()
    runtime_config.set_all_config(dict(raw), sorted(secret_keys))
    # set_mocks starts a root stack of its own unless one exists; the program needs a fresh
    # one from run_in_stack (which also registers the stack outputs), so hold the place.
    runtime_settings.set_root_resource(object())  # type: ignore[arg-type]
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=mocks.preview, monitor=monitor)
    runtime_settings.set_root_resource(None)  # type: ignore[arg-type]
    cwd = os.getcwd()
    sys.path.insert(0, str(ROOT))
    # The offline plan never calls Azure, even where `az login` would let the pre-flight run.
    skip_before = os.environ.get("BINDERHUB_AZURE_SKIP_PREFLIGHT")
    os.environ["BINDERHUB_AZURE_SKIP_PREFLIGHT"] = "offline plan"
    # Config in the environment would reach the program next to the file's; the plan shows
    # what the stack file says (main() says so when such a variable is set).
    env_before = {name: os.environ.pop(name) for name in CONFIG_ENV if name in os.environ}
    try:
        os.chdir(ROOT)
        loop.run_until_complete(run_in_stack(lambda: runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")))
    finally:
        os.chdir(cwd)
        sys.path.remove(str(ROOT))
        os.environ.update(env_before)
        if skip_before is None:
            os.environ.pop("BINDERHUB_AZURE_SKIP_PREFLIGHT", None)
        else:
            os.environ["BINDERHUB_AZURE_SKIP_PREFLIGHT"] = skip_before
    return monitor


def _release(reg: Any) -> dict[str, Any]:
    inputs = reg.inputs
    return {
        "name": inputs.get("name", reg.name),
        "chart": inputs.get("chart"),
        "version": inputs.get("version"),
        "repository": (inputs.get("repositoryOpts") or {}).get("repo"),
        "namespace": inputs.get("namespace"),
        "values": inputs.get("values", {}),
    }


def build_plan(raw: dict[str, str], secret_keys: set[str], stack: str, *, mask_secrets: bool = True,
               stand_ins: set[str] | frozenset[str] = frozenset()) -> dict[str, Any]:
    """Validate the config (raising ConfigError), run the program, return the plan document.

    With `mask_secrets` (the CLI) secret config values are replaced by the placeholder before
    the program sees them. Tests pass real plaintext and `mask_secrets=False`, to show that the
    program itself keeps every secret secret. `stand_ins` are the secret keys that hold a
    stand-in (`stackfile.stand_in_secrets`): they keep their visible text, and the ones the
    stack needs are listed as `missingSecrets`.
    """
    cfg = parse_config(raw, secret_keys)
    if mask_secrets:
        raw = {k: (SECRET if k in secret_keys and k not in stand_ins else v) for k, v in raw.items()}
    return plan_document(cfg, run_program(raw, secret_keys, stack), stack, missing_secrets(cfg, set(stand_ins)))


def plan_document(cfg: Any, monitor: RecordingMonitor, stack: str,
                  missing: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """The plan document of a program run (`run_program`) with config `cfg`; `missing` are the
    secrets not set yet that had a stand-in (`stackfile.missing_secrets`)."""
    names = {r.urn: r.name for r in monitor.registrations}
    resources = [
        {
            "type": r.type,
            "name": r.name,
            "urn": r.urn,
            "parent": names.get(r.parent),
            "parentUrn": r.parent or None,
            "inputs": r.inputs,
            "protect": r.protect,
            "dependsOn": sorted({names.get(d, d) for d in r.depends_on}),
            **({"options": r.options} if r.options else {}),
        }
        for r in sorted(monitor.registrations, key=lambda r: r.urn)
    ]
    plan = {
        "project": PROJECT,
        "stack": stack,
        # Secrets the stack needs and the file does not set yet: planned with a visible stand-in.
        "missingSecrets": list(missing or []),
        # What to know before deploying (not errors): see components/notes.py.
        "notes": stack_notes(cfg, aks_versions.today()) + member_stack_notes(cfg),
        # helmValues paths the stack takes responsibility for: not checked by the gate.
        "uncheckedHelmValues": [{"path": path, "acknowledgedBy": pattern}
                                for path, pattern in helm_guard.unchecked(cfg)],
        # Offline prices only: the plan never touches the network.
        "costEstimate": cost.estimate(cfg, offline=True),
        "resources": resources,
        "helmReleases": [_release(r) for r in sorted(monitor.registrations, key=lambda r: r.urn)
                         if r.type == RELEASE_TYPE],
        "outputs": monitor.stack_outputs,
    }
    # Whatever the helmValues gate calls a secret is shown as the placeholder, wherever it is.
    return helm_guard.redact(plan)


def summary(plan: dict[str, Any]) -> str:
    """The readable form: a resource tree, the Helm releases and the outputs."""
    lines = [f"Offline plan for stack '{plan['stack']}' of {plan['project']} (rendered under mocks, "
             "nothing deployed)", ""]
    if plan.get("missingSecrets"):
        lines += [*missing_secrets_lines(plan["missingSecrets"]), ""]
    lines.append("Resources:")
    children: dict[str | None, list[dict[str, Any]]] = {}
    urns = {res["urn"] for res in plan["resources"]}
    for res in plan["resources"]:
        children.setdefault(res["parentUrn"] if res["parentUrn"] in urns else None, []).append(res)

    def walk(parent: str | None, depth: int) -> None:
        for res in children.get(parent, []):
            flag = "  [protected]" if res["protect"] else ""
            lines.append(f"{'  ' * depth}+ {res['type']}  {res['name']}{flag}")
            walk(res["urn"], depth + 1)

    walk(None, 1)
    lines += ["", "Helm releases:"]
    if not plan["helmReleases"]:
        lines.append("  (none)")
    for rel in plan["helmReleases"]:
        lines.append(f"  {rel['name']}: {rel['chart']} {rel['version']} from {rel['repository']} "
                     f"in namespace {rel['namespace']}")
    if plan["notes"]:
        lines += ["", "Notes:", *(f"  - {note}" for note in plan["notes"])]
    lines += ["", "Outputs:"]
    for key, value in plan["outputs"].items():
        lines.append(f"  {key}: {value if isinstance(value, str) else json.dumps(value)}")
    lines += ["", cost.summary(plan["costEstimate"]),
              "", f"{len(plan['resources'])} resources. Run with --json for every input and Helm value."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./run plan", description=__doc__.split("\n")[0])
    add_stack_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the plan as one JSON document")
    args = parser.parse_args(argv)
    try:
        path, stack = stack_from_args(args)
        # Secrets not set yet get a visible stand-in, so a fresh copy of an example plans offline.
        raw, secret, stand_ins = stand_in_secrets(*read_stack_file(path))
        cfg_env = [name for name in CONFIG_ENV if os.environ.get(name)]
        if cfg_env:
            print(f"note: {' and '.join(cfg_env)} set in the environment is ignored: the offline plan renders "
                  f"{path.name} alone (pulumi up would read both)", file=sys.stderr)
        plan = build_plan(raw, secret, stack, stand_ins=stand_ins)
    except (PlanError, ConfigError) as err:
        print(redact_text(str(err)), file=sys.stderr)
        return 2
    except Exception as err:  # a bug, not bad input: say so in one line, traceback on request
        return unexpected(err, doing="the offline plan failed")
    print(json.dumps(plan, indent=2, sort_keys=True) if args.json else summary(plan))
    return 0


if __name__ == "__main__":
    code = main()
    # Pulumi's runtime leaves per-thread event loops behind; at interpreter shutdown their
    # finalizers print spurious errors. The work is done and flushed, so leave directly.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
