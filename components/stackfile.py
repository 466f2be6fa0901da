"""Stack files: where `Pulumi.<stack>.yaml` is, and its config as Pulumi hands it to a
program (pure; shared by the plan, cost and pre-flight commands)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml

from .config import PROJECT

ROOT = Path(__file__).resolve().parent.parent
SECRET = "[secret]"


class PlanError(Exception):
    """The stack file itself cannot be read."""


def read_stack_file(path: Path) -> tuple[dict[str, str], set[str]]:
    """A `Pulumi.<stack>.yaml` as Pulumi hands config to a program: every value a string
    (structured values as JSON), `secure:` values as the "[secret]" placeholder."""
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise PlanError(f"{path}: no such stack file") from None
    except yaml.YAMLError as err:
        raise PlanError(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from None
    config = doc.get("config") or {}
    if not isinstance(doc, dict) or not isinstance(config, dict):
        raise PlanError(f"{path}: 'config' must be a mapping of keys to values")
    raw: dict[str, str] = {}
    secret: set[str] = set()
    for key, value in config.items():
        key = str(key)
        if ":" not in key:
            key = f"{PROJECT}:{key}"
        if isinstance(value, dict) and set(value) == {"secure"}:
            raw[key] = SECRET
            secret.add(key)
        elif isinstance(value, str):
            raw[key] = value
        elif isinstance(value, bool):
            raw[key] = "true" if value else "false"
        elif value is None:
            continue
        elif isinstance(value, (int, float)):
            raw[key] = str(value)
        else:
            raw[key] = json.dumps(value)
    return raw, secret


def add_stack_arguments(parser: argparse.ArgumentParser) -> None:
    """`--stack NAME` or `--config-file PATH`, one of them required."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--stack", help="stack name: reads Pulumi.<stack>.yaml at the repository root")
    source.add_argument("--config-file", type=Path, help="path of a Pulumi.<stack>.yaml file")


def stack_from_args(args: argparse.Namespace) -> tuple[Path, str]:
    """The stack file and the stack's name."""
    if args.stack:
        return ROOT / f"Pulumi.{args.stack}.yaml", args.stack
    path: Path = args.config_file
    name = path.name
    stack = name.removeprefix("Pulumi.").removesuffix(".yaml") if name.startswith("Pulumi.") else path.stem
    return path, stack
