"""Every example the README and docs/config.md show passes the checks it illustrates, and the
region they recommend is the one the messages suggest (issue 22).

A README YAML snippet that is a whole stack (`config:`) is checked as it stands; a partial one
(`binderhub-azure:profiles:` ...) is laid over a minimal valid stack of each mode and must be
accepted by at least one. `<...>` placeholders the text asks the reader to fill in (an object
ID the previous command printed) get a value of the right shape first.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any, get_origin

import pytest
import yaml
from pydantic import BaseModel

from components.config import ConfigError, StackConfig
from components.config_load import parse_config
from components.config_messages import _model_class
from tests.helpers import TEST_SSH_KEY

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
PROJECT = "binderhub-azure"
SECRETS = {f"{PROJECT}:authClientSecret": "s", f"{PROJECT}:dockerHubToken": "t"}

# The smallest stack of each mode the config accepts (secrets set with `pulumi config set --secret`).
BASES: dict[str, dict[str, Any]] = {
    "binderhub": {"azure-native:location": "swedencentral", f"{PROJECT}:institution": "newuni",
                  f"{PROJECT}:contactEmail": "rse@newuni.example"},
    "jupyterhub": {"azure-native:location": "swedencentral", f"{PROJECT}:institution": "newuni",
                   f"{PROJECT}:contactEmail": "rse@newuni.example", f"{PROJECT}:mode": "jupyterhub",
                   f"{PROJECT}:auth": {"type": "github", "clientId": "Iv1.0123456789abcdef",
                                       "allowedOrganizations": ["newuni"]}},
    "tljh": {"azure-native:location": "swedencentral", f"{PROJECT}:institution": "newuni",
             f"{PROJECT}:contactEmail": "rse@newuni.example", f"{PROJECT}:mode": "tljh",
             f"{PROJECT}:auth": {"type": "github", "clientId": "Iv1.0123456789abcdef",
                                 "allowedOrganizations": ["newuni"], "admins": ["alice"]},
             f"{PROJECT}:vm": {"sshPublicKey": TEST_SSH_KEY}},
}
PLACEHOLDER = re.compile(r"<[^<>\n]+>")
FILLED = "00000000-0000-4000-8000-000000000001"  # the placeholders stand for object and group IDs


# A block that opens with this comment is another tool's file (a Jupyter Book's _config.yml).
NOT_A_STACK = re.compile(r"# \S+ of .* \(not a stack file\)\n")


def readme_yaml_blocks() -> list[str]:
    blocks = [textwrap.dedent(b) for b in re.findall(r"^ *```yaml\n(.*?)^ *```", README, re.S | re.M)]
    return [b for b in blocks if not NOT_A_STACK.match(b)]


def as_raw(config: dict[str, Any]) -> tuple[dict[str, str], set[str]]:
    raw = {(k if ":" in k else f"{PROJECT}:{k}"): json.dumps(v) if isinstance(v, (dict, list)) else
           ("true" if v is True else "false" if v is False else str(v)) for k, v in config.items()}
    return {**raw, **SECRETS}, set(SECRETS)


def problems_on_each_base(snippet: dict[str, Any]) -> dict[str, list[str]]:
    """Mode -> problems of the snippet over that mode's base; an empty list where it is accepted."""
    found = {}
    for mode, base in BASES.items():
        merged = {**base}
        for key, value in snippet.items():
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                value = {**merged[key], **value}
            merged[key] = value
        try:
            parse_config(*as_raw(merged))
            found[mode] = []
        except ConfigError as err:
            found[mode] = list(err.problems)
    return found


def test_the_readme_has_yaml_examples():
    assert len(readme_yaml_blocks()) >= 4


@pytest.mark.parametrize("block", readme_yaml_blocks(), ids=lambda b: b.strip().splitlines()[0][:40])
def test_every_readme_yaml_example_is_accepted(block):
    doc = yaml.safe_load(PLACEHOLDER.sub(FILLED, block))
    assert isinstance(doc, dict), block
    if "config" in doc:  # a whole stack file: as it stands
        parse_config(*as_raw(doc["config"]))
        return
    found = problems_on_each_base(doc)
    assert any(not p for p in found.values()), f"no mode accepts this README example: {found}"


def readme_config_set_commands() -> list[tuple[str, str]]:
    """`pulumi config set KEY VALUE` in the README (not --secret, --path or a placeholder)."""
    found = re.findall(r"pulumi config set ([A-Za-z][\w:-]*) ([^\s`<]+)", README)
    return sorted({(k, v) for k, v in found if not v.startswith("-")})


@pytest.mark.parametrize(("key", "value"), readme_config_set_commands())
def test_every_readme_config_set_command_is_accepted(key, value):
    found = problems_on_each_base({key: value})
    assert any(not p for p in found.values()), f"pulumi config set {key} {value}: {found}"


def field_examples(model: type[BaseModel] = StackConfig, prefix: str = "") -> list[tuple[str, type, str, Any]]:
    found = []
    for name, field in model.model_fields.items():
        key = f"{prefix}.{field.alias}" if prefix else str(field.alias)
        sub = _model_class(field.annotation)
        if sub is not None:
            found += field_examples(sub, key + ("[]" if get_origin(field.annotation) is list else ""))
        found += [(key, model, name, example) for example in field.examples or []]
    return found


def test_there_are_field_examples():
    assert len(field_examples()) > 50


@pytest.mark.parametrize(("key", "model", "name", "example"), field_examples(), ids=lambda v: str(v)[:40])
def test_every_config_reference_example_passes_its_field_check(key, model, name, example):
    """Each docs/config.md example, through its field's type and validators (the rules that
    involve other keys are checked with the whole stacks above)."""
    model.__pydantic_validator__.validate_assignment(model.model_construct(), name, example)


def test_the_ssh_key_examples_are_whole_keys_and_a_shortened_one_is_refused_saying_why():
    from components.azure_limits import ssh_key_problem

    keys = re.findall(r"(ssh-(?:ed25519|rsa) [A-Za-z0-9+/=.]+)", README + (ROOT / "docs" / "config.md").read_text())
    assert keys
    for key in keys:
        assert ssh_key_problem(key) is None, key
    why = ssh_key_problem("ssh-ed25519 AAAA... alice@laptop")
    assert why and "not valid base64 of an ssh-ed25519 key" in why and "AAAA..." not in why


# --------------------------------------------------------------------------- one recommended region


def advised_against() -> set[str]:
    """The regions the README steers people away from, as region names."""
    regions = json.loads((ROOT / "components" / "azure_regions.json").read_text())
    names = {r for v in regions.values() if isinstance(v, list) for r in v if isinstance(r, str)}
    found = set()
    for display in re.findall(r"([A-Z][a-z]+(?: [A-Z][a-z]+)*) has done this repeatedly", README):
        found |= {n for n in names if n == display.replace(" ", "").lower()}
    found |= {n for n in names if re.search(rf"insteadof\s*{n}\b", README.replace(" ", "").lower())}
    return found


def recommended() -> str:
    step = re.search(r"pulumi config set azure-native:location (\w+)", README)
    assert step, "the README's step by step sets a region"
    return step.group(1)


def test_the_readme_advises_against_west_europe_and_recommends_another():
    assert advised_against() == {"westeurope"}
    assert recommended() == "swedencentral" and recommended() not in advised_against()


def test_no_message_or_example_suggests_a_region_the_readme_advises_against():
    from components.config_messages import _MISPLACED

    texts = {
        "location example": json.dumps(StackConfig.model_fields["location"].examples),
        "docs/config.md": (ROOT / "docs" / "config.md").read_text(),
        "misplaced location hint": _MISPLACED["location"],
        "README commands": "\n".join(re.findall(r"pulumi config set azure-native:location \S+", README)),
    }
    for problem_config in ({"azure-native:location": None}, {f"{PROJECT}:location": "x"}):
        raw, secret = as_raw({k: v for k, v in {**BASES["binderhub"], **problem_config}.items() if v is not None})
        with pytest.raises(ConfigError) as info:
            parse_config(raw, secret)
        texts[f"message for {problem_config}"] = str(info.value)
    with pytest.raises(ConfigError) as info:
        parse_config(*as_raw({**BASES["binderhub"], "azure-native:location": "West Europe!"}))
    texts["bad region message"] = str(info.value)
    for name, text in texts.items():
        for region in advised_against():
            assert region not in text, f"{name} suggests {region}: {text[:300]}"
    assert recommended() in texts["location example"]
    assert recommended() in texts["message for {'azure-native:location': None}"]
    for path in [ROOT / "Pulumi.dev.yaml", *(ROOT / "examples").glob("Pulumi.*.yaml")]:
        location = yaml.safe_load(path.read_text())["config"]["azure-native:location"]
        assert location not in advised_against(), path.name


def test_only_the_jupyter_book_config_is_not_checked_as_a_stack():
    blocks = [textwrap.dedent(b) for b in re.findall(r"^ *```yaml\n(.*?)^ *```", README, re.S | re.M)]
    skipped = [b for b in blocks if NOT_A_STACK.match(b)]
    assert len(skipped) == 1 and "launch_buttons:" in skipped[0] and "binderhub-azure:" not in skipped[0]
