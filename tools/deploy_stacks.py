"""Which stacks the deploy workflow previews and deploys: the names in `.github/deploy-stacks.txt`.

    ./run python -m tools.deploy_stacks          one JSON list on stdout, e.g. ["myuni"]

The workflow plans every `Pulumi.<stack>.yaml` offline, but previews and deploys only the stacks
named in that file (one per line, `#` comments): an empty file (a fresh clone) deploys nothing,
and the demo stack is refused, so a merge never creates the demo cluster. Each name must have
its `Pulumi.<name>.yaml` beside Pulumi.yaml, initialised with a versioned Key Vault key as its
secrets provider (CI has no passphrase). A bad list is one line per mistake on stderr and
exit 2, so the workflow stops before any job logs in to Azure.

Order: the workflow deploys the stacks one at a time, in the order listed. A federation stack
reads each member stack's `url` output (a Pulumi StackReference), so every member that is a stack
of this project must be listed before the federation, or declared deployed elsewhere with a line
`external <organization>/<project>/<stack>` (by hand, or from another repository's CI). Members of
another project are external by nature.

A stack with a sleep schedule is taken only with `schedule.roleDefinitionId` (its custom role,
created once by an Owner: `./run python -m tools.ci_identities sleep-role --stack NAME`), its own.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from components.config import PROJECT
from components.config_federation import STACK_REFERENCE
from components.config_schedule import check_role_definition_id
from tools.stackfile import PlanError, load_yaml_12, read_stack_file

ROOT = Path(__file__).resolve().parent.parent
LIST_FILE = Path(".github") / "deploy-stacks.txt"
# The example stacks at the repository root: for trying the project offline, never for CI.
DEMO_STACKS = ("dev",)
DEMO_INSTITUTION = "demo"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
# A Key Vault key with its version: `azurekeyvault://<vault>.vault.azure.net/keys/<name>/<version>`.
# Without the version, gocloud encrypts with the key's current version, and once the key rotates the
# stack's data key no longer decrypts (pulumi/pulumi#22338).
_VERSIONED_KEY = re.compile(r"azurekeyvault://[A-Za-z0-9-]+\.vault\.[a-z0-9.-]+/keys/[A-Za-z0-9-]+/[0-9a-fA-F]{32}")


EXTERNAL = "external"


def parse_list(text: str) -> tuple[list[str], list[str]]:
    """The stack names in the list file's text, in order, and the member stacks declared
    `external <organization>/<project>/<stack>` (deployed elsewhere, never by this workflow)."""
    names, externals = [], []
    for line in text.splitlines():
        entry = line.split("#", 1)[0].strip()
        keyword, _, rest = entry.partition(" ")
        if keyword == EXTERNAL and rest.strip():
            externals.append(rest.strip())
        elif entry:
            names.append(entry)
    return names, externals


def read_list(text: str) -> list[str]:
    """The stack names in the list file's text, in order."""
    return parse_list(text)[0]


def member_stacks(config: dict[str, str]) -> list[str]:
    """The `stack` of each member of a federation stack's config (`<organization>/<project>/<stack>`);
    empty for the other modes. Read from the raw config: the config check (the plan) judges the rest."""
    if config.get(f"{PROJECT}:mode") != "federation":
        return []
    try:
        block = json.loads(config.get(f"{PROJECT}:federation") or "{}")
    except json.JSONDecodeError:
        return []
    members = block.get("members") if isinstance(block, dict) else None
    return [str(m["stack"]) for m in members or [] if isinstance(m, dict) and isinstance(m.get("stack"), str)]


def order_problems(names: list[str], configs: dict[str, dict[str, str]], externals: list[str]) -> list[str]:
    """One line per federation member stack of this project that CI would not have deployed
    before the federation: listed after it, or not listed and not declared external."""
    found = []
    where = LIST_FILE.as_posix()
    for i, name in enumerate(names):
        for member in member_stacks(configs.get(name, {})):
            parts = member.split("/")
            if len(parts) != 3 or parts[1] != PROJECT or member in externals:
                continue  # another project's stack (external by nature), or declared external
            if parts[2] in names[:i]:
                continue
            if parts[2] in names[i:]:
                found.append(f"{where}: {name} is a federation of {member}, listed after it: list {parts[2]} "
                             f"before {name} (the federation reads its url output)")
            else:
                found.append(f"{where}: {name} is a federation of {member}, which is not listed: list {parts[2]} "
                             f"before {name}, or add a line `{EXTERNAL} {member}` if it is deployed elsewhere")
    return found


def secrets_problem(name: str, stack_file: dict[str, object]) -> str | None:
    """Why CI could not read this stack's secrets, or None: CI has no passphrase, so a deployed
    stack's secrets are encrypted with a versioned Key Vault key."""
    provider = stack_file.get("secretsprovider")
    if not provider or "encryptionsalt" in stack_file:
        return (f"{name} encrypts its secrets with a passphrase, which CI does not have: move it to the team's "
                "Key Vault key first (README, \"From a first try to the team's backend\")")
    if not _VERSIONED_KEY.fullmatch(str(provider)):
        return (f"{name}: secretsprovider {provider!r} is not a versioned Key Vault key "
                "(azurekeyvault://<vault>.vault.azure.net/keys/<name>/<version>): an unversioned key stops "
                "decrypting when it rotates (pulumi/pulumi#22338)")
    return None


def problems(names: list[str], root: Path, externals: list[str] | None = None) -> list[str]:
    """One line per mistake in the list: unknown, demo or repeated stacks, stacks CI could not
    decrypt, malformed `external` lines, and federations listed before their member stacks."""
    found = []
    where = LIST_FILE.as_posix()
    configs: dict[str, dict[str, str]] = {}
    sleep_roles: dict[str, str] = {}  # schedule.roleDefinitionId -> the first stack naming it
    for external in externals or []:
        if not STACK_REFERENCE.fullmatch(external):
            found.append(f"{where}: `{EXTERNAL} {external}` must name a stack as <organization>/<project>/<stack>")
    for i, name in enumerate(names):
        if not _NAME.fullmatch(name):
            found.append(f"{where}: {name!r} is not a stack name")
            continue
        if name in names[:i]:
            found.append(f"{where}: {name} is listed twice")
            continue
        path = root / f"Pulumi.{name}.yaml"
        if not path.is_file():
            found.append(f"{where}: {name} has no Pulumi.{name}.yaml beside Pulumi.yaml")
            continue
        if name in DEMO_STACKS:
            found.append(f"{where}: {name} is the demo stack, which CI never deploys; copy it to "
                         "Pulumi.<your-institution>.yaml and list that")
            continue
        try:
            config, _ = read_stack_file(path)
        except PlanError as err:
            found.append(f"{where}: {name}: {err.problems[0]}")
            continue
        configs[name] = config
        if config.get("binderhub-azure:institution") == DEMO_INSTITUTION:
            found.append(f"{where}: {name} is for institution '{DEMO_INSTITUTION}', the demo: set your own "
                         "institution before CI deploys it")
            continue
        problem = secrets_problem(name, load_yaml_12(path.read_text())) or schedule_problem(name, config)
        if problem:
            found.append(f"{where}: {problem}")
            continue
        role = (sleep_role_id(config) or "").lower()
        if role in sleep_roles:
            found.append(f"{where}: {name} and {sleep_roles[role]} name the same schedule.roleDefinitionId {role}, "
                         "but a stack's sleep role is assignable on its own resource group only: give "
                         f"{name} its own with `{SLEEP_ROLE_COMMAND.format(name=name)}`")
        elif role:
            sleep_roles[role] = name
    return found + order_problems(names, configs, externals or [])


SLEEP_ROLE_COMMAND = "./run python -m tools.ci_identities sleep-role --stack {name}"


def sleep_role_id(config: dict[str, str]) -> str | None:
    """The raw `schedule.roleDefinitionId` of a stack's config (None when unset or unreadable;
    the plan judges the rest of the schedule)."""
    try:
        block = json.loads(config.get(f"{PROJECT}:schedule") or "null")
    except json.JSONDecodeError:
        return None
    value = block.get("roleDefinitionId") if isinstance(block, dict) else None
    return value if isinstance(value, str) else None


def schedule_problem(name: str, config: dict[str, str]) -> str | None:
    """A stack with a sleep schedule goes to CI only with `schedule.roleDefinitionId`: a custom role
    an Owner created once, which the stack only assigns. Without it the stack creates its role
    (Microsoft.Authorization/roleDefinitions/write), which neither CI identity may do, on purpose:
    an identity that may write a role it may assign can give itself any right. One list feeds both
    jobs, so such a stack is refused for preview and up alike, before any job logs in, rather than
    previewed and then half-made by `pulumi up`."""
    if config.get(f"{PROJECT}:schedule") in (None, "", "null"):
        return None
    role = sleep_role_id(config)
    if role is None:
        return (f"{name} has a sleep schedule without schedule.roleDefinitionId, so it would create its own "
                "custom role, which neither CI identity may (CI neither previews nor deploys it): have an Owner "
                f"run what `{SLEEP_ROLE_COMMAND.format(name=name)}` prints (README, \"Sleeping outside teaching "
                "hours\")")
    try:
        check_role_definition_id(role)
    except ValueError as err:
        return f"{name}: schedule.roleDefinitionId {err}"
    return None


def main(argv: list[str] | None = None, root: Path = ROOT) -> int:
    argparse.ArgumentParser(description=__doc__.split("\n")[0]).parse_args(argv)
    path = root / LIST_FILE
    names, externals = parse_list(path.read_text()) if path.is_file() else ([], [])
    found = problems(names, root, externals)
    for line in found:
        print(line, file=sys.stderr)
    if found:
        return 2
    print(json.dumps(names))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
