"""Which stacks the deploy workflow previews and deploys: the names in `.github/deploy-stacks.txt`.

    ./run python -m tools.deploy_stacks          one JSON list on stdout, e.g. ["myuni"]

The workflow plans every `Pulumi.<stack>.yaml` offline, but previews and deploys only the stacks
named in that file (one per line, `#` comments): an empty file (a fresh clone) deploys nothing,
and the demo stack is refused, so a merge never creates the demo cluster. Each name must have
its `Pulumi.<name>.yaml` beside Pulumi.yaml, initialised with a versioned Key Vault key as its
secrets provider (CI has no passphrase). A bad list is one line per mistake on stderr and
exit 2, so the workflow stops before any job logs in to Azure.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

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


def read_list(text: str) -> list[str]:
    """The stack names in the list file's text, in order."""
    names = []
    for line in text.splitlines():
        name = line.split("#", 1)[0].strip()
        if name:
            names.append(name)
    return names


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


def problems(names: list[str], root: Path) -> list[str]:
    """One line per mistake in the list: unknown, demo or repeated stacks, or stacks CI could not
    decrypt."""
    found = []
    where = LIST_FILE.as_posix()
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
        if config.get("binderhub-azure:institution") == DEMO_INSTITUTION:
            found.append(f"{where}: {name} is for institution '{DEMO_INSTITUTION}', the demo: set your own "
                         "institution before CI deploys it")
            continue
        problem = secrets_problem(name, load_yaml_12(path.read_text())) or schedule_problem(name, config)
        if problem:
            found.append(f"{where}: {problem}")
    return found


def schedule_problem(name: str, config: dict[str, object]) -> str | None:
    """A stack with a sleep schedule is deployed by an Owner, never by CI: it creates a custom role
    (Microsoft.Authorization/roleDefinitions/write) and assigns it. The deploy identity may do
    neither, on purpose: with both, it could rewrite a role it may assign and so give itself any
    right. Refused here, before any job logs in, rather than half-made by `pulumi up`."""
    if config.get("binderhub-azure:schedule") in (None, "", "null"):
        return None
    return (f"{name} has a sleep schedule, whose custom role the CI deploy identity may not create or assign "
            "(tools/ci_identities.py): deploy it from a laptop as an Owner and leave it out of this list "
            "(README, \"Sleeping outside teaching hours\")")


def main(argv: list[str] | None = None, root: Path = ROOT) -> int:
    argparse.ArgumentParser(description=__doc__.split("\n")[0]).parse_args(argv)
    path = root / LIST_FILE
    names = read_list(path.read_text()) if path.is_file() else []
    found = problems(names, root)
    for line in found:
        print(line, file=sys.stderr)
    if found:
        return 2
    print(json.dumps(names))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
