"""Federation members that are stacks of this project, resolved offline (pure of Pulumi's SDK):
the offline plan's mocks answer a member's StackReference with the `url` the plan computes for
that stack's file in this repository, or with a visible stand-in and a note.
"""

from __future__ import annotations

from typing import Any

from components import naming
from components.config import PROJECT as OUR_PROJECT
from components.config import ConfigError
from components.config_load import parse_config

from .stackfile import ROOT, PlanError, read_stack_file, stand_in_secrets

# What a member stack that is not in this repository resolves to offline: visibly not an address.
STAND_IN_DOMAIN = "stand-in.invalid"


def member_stack_url(stack: str) -> tuple[str, str | None]:
    """The `url` output a member stack `<organization>/<project>/<stack>` gives offline, and a
    note when it is a stand-in: for a stack of this project whose file is in the repository
    (`Pulumi.<stack>.yaml` at the root or in examples/), the URL the plan computes for it."""
    _, project, name = stack.split("/")
    stand_in = f"https://{name.lower()}.{STAND_IN_DOMAIN}/"
    if project != OUR_PROJECT:
        return stand_in, (f"federation member {stack} is a stack of another project: offline its url is the stand-in "
                          f"{stand_in}; `pulumi preview` reads the real one")
    path = next((p for p in (ROOT / f"Pulumi.{name}.yaml", ROOT / "examples" / f"Pulumi.{name}.yaml") if p.exists()),
                None)
    if path is None:
        return stand_in, (f"federation member {stack}: no Pulumi.{name}.yaml in this repository (root or examples/), "
                          f"so offline its url is the stand-in {stand_in}; `pulumi preview` reads the real one, and "
                          "fails if the stack does not exist")
    try:
        # Secrets do not change the address.
        raw, secret, _ = stand_in_secrets(*read_stack_file(path))
        member = parse_config(raw, secret)
    except (PlanError, ConfigError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        return stand_in, f"federation member {stack}: {path.name} is not a valid stack ({first}); stand-in {stand_in}"
    if member.federated:
        return stand_in, f"federation member {stack} is itself a federation, not a BinderHub; stand-in {stand_in}"
    return naming.site_url(member), None


def member_stack_notes(cfg: Any) -> list[str]:
    """The offline plan's notes on federation members it could not resolve from this repository."""
    notes = []
    for member in cfg.federation.members if cfg.federated else []:
        if member.stack:
            note = member_stack_url(member.stack)[1]
            if note:
                notes.append(note)
    return notes
