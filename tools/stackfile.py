"""Stack files: where `Pulumi.<stack>.yaml` is, and its config as Pulumi hands it to a
program (pure; shared by the plan, cost and pre-flight commands).

The file is read the way the Pulumi CLI reads it: YAML 1.2 (`yes`, `no`, `on`, `off` stay
strings, `1:30` is not sixty-based) and a key given twice is an error. Whatever cannot be
read that way (not UTF-8, not a mapping, `!!binary`, absurd nesting, a directory) is one
`PlanError` line, so every command answers a malformed file with one line and exit 2.

Also shared by those commands: what `--stack` names (a stack file's name is read as the stack it
names), and the visible stand-ins for secrets a stack needs but does not set yet.
"""

from __future__ import annotations

import argparse
import datetime
import difflib
import json
import math
from pathlib import Path
from typing import Any

from components.config import PROJECT, SECRET_KEYS
from components.config_fields import OPTIONAL_SECRET_KEYS

ROOT = Path(__file__).resolve().parent.parent
SECRET = "[secret]"

# The top-level keys of a Pulumi stack file (the Pulumi CLI's project-stack layout).
STACK_FILE_KEYS = ("config", "secretsprovider", "encryptedkey", "encryptionsalt", "environment")
# Deeper than any real config; Python's own recursion would give out long before 5,000.
MAX_DEPTH = 32
MAX_BYTES = 1_000_000


class PlanError(Exception):
    """The stack file itself cannot be read. `problems` holds one line per mistake."""

    def __init__(self, message: str | list[str]):
        problems = [message] if isinstance(message, str) else list(message)
        super().__init__("\n".join(problems))
        self.problems = problems


def load_yaml_12(text: str) -> Any:
    """Parse YAML 1.2 with the safe constructors; duplicate keys raise. Raises ValueError
    with a one-line reason for anything Pulumi would not read the same way."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    yaml = YAML(typ="safe", pure=True)
    yaml.version = (1, 2)
    yaml.allow_duplicate_keys = False
    try:
        return yaml.load(text)
    except RecursionError:
        raise ValueError(f"nests deeper than {MAX_DEPTH} levels") from None
    except YAMLError as err:
        raise ValueError(_yaml_reason(err)) from None


def _yaml_reason(err: Exception) -> str:
    problem = getattr(err, "problem", None) or str(err).strip().splitlines()[0]
    mark = getattr(err, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    problem = " ".join(str(problem).split())
    if "duplicate key" in problem:
        problem = problem.replace('found duplicate key "', "duplicate key '").replace('" with value', "' with value")
    return f"{problem}{where}"


def _plain(value: Any, where: str, depth: int) -> Any:
    """The value as JSON-able data, or ValueError naming what Pulumi would not accept."""
    if depth > MAX_DEPTH:
        raise ValueError(f"{where} nests deeper than {MAX_DEPTH} levels")
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where} must be a finite number (got {value!r})")
        return value
    if isinstance(value, datetime.date):  # YAML timestamps: Pulumi keeps the text
        return value.isoformat()
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, (str, int, bool)) or isinstance(key, bool):
                raise ValueError(f"{where} has a key that is not text ({key!r})")
            out[str(key)] = _plain(item, f"{where}.{key}", depth + 1)
        return out
    if isinstance(value, list):
        return [_plain(item, f"{where}[{i}]", depth + 1) for i, item in enumerate(value)]
    if isinstance(value, (bytes, bytearray)):
        raise ValueError(f"{where} is binary data (!!binary); config values are text")
    raise ValueError(f"{where} is a {type(value).__name__} (a YAML tag Pulumi config does not take)")


def _has_secure_leaf(value: Any) -> bool:
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return True
        return any(_has_secure_leaf(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_secure_leaf(v) for v in value)
    return False


def _mask_secure(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return SECRET
        return {k: _mask_secure(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_secure(v) for v in value]
    return value


def read_text(path: Path) -> str:
    """The file's text, or PlanError with one line saying why it cannot be read."""
    try:
        if path.is_dir():
            raise PlanError(f"{path}: is a directory, not a stack file")
        data = path.read_bytes()
    except FileNotFoundError:
        raise PlanError(f"{path}: no such stack file") from None
    except OSError as err:
        raise PlanError(f"{path}: cannot be read ({err.strerror or type(err).__name__})") from None
    if len(data) > MAX_BYTES:
        raise PlanError(f"{path}: is {len(data)} bytes; a stack file is at most {MAX_BYTES}")
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as err:
        raise PlanError(f"{path}: is not UTF-8 text (invalid byte at offset {err.start})") from None


def parse_stack_text(text: str, path: Path | str = "stack file") -> tuple[dict[str, str], set[str]]:
    """`read_stack_file` on text already read."""
    try:
        doc = load_yaml_12(text)
    except ValueError as err:
        raise PlanError(f"{path}: not valid YAML 1.2 ({err})") from None
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise PlanError(f"{path}: must be a YAML mapping with a 'config:' section (got a {_kind(doc)})")
    problems = []
    for top in doc:
        if top not in STACK_FILE_KEYS:
            close = difflib.get_close_matches(str(top), STACK_FILE_KEYS, n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else f"; a stack file has {', '.join(STACK_FILE_KEYS)}"
            problems.append(f"{path}: top-level key {str(top)!r} is not part of a Pulumi stack file{hint}")
    config = doc.get("config")
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise PlanError(f"{path}: 'config' must be a mapping of keys to values (got a {_kind(config)})")
    raw: dict[str, str] = {}
    secret: set[str] = set()
    written: dict[str, str] = {}
    for key, value in config.items():
        if not isinstance(key, str) or not key:
            problems.append(f"{path}: config key {key!r} must be text such as '{PROJECT}:institution'")
            continue
        full = key if ":" in key else f"{PROJECT}:{key}"
        if full in written:
            problems.append(f"{full} is set twice (as '{written[full]}' and as '{key}'); keep one")
            continue
        written[full] = key
        try:
            value = _plain(value, full, 1)
        except ValueError as err:
            problems.append(str(err))
            continue
        if isinstance(value, dict) and "secure" in value:
            secure = value["secure"]
            if set(value) != {"secure"}:
                problems.append(f"{full}: a 'secure:' entry holds nothing else (got keys {sorted(value)})")
            elif not isinstance(secure, str) or not secure.strip():
                problems.append(f"{full} has an empty 'secure:' value, so the secret is not set: "
                                f"pulumi config set --secret {key.removeprefix(PROJECT + ':')} (it asks for the value)")
            else:
                raw[full] = SECRET
                secret.add(full)
            continue
        if _has_secure_leaf(value):  # `pulumi config set --path --secret`: the whole key is secret
            raw[full] = json.dumps(_mask_secure(value))
            secret.add(full)
        elif isinstance(value, str):
            raw[full] = value
        elif isinstance(value, bool):
            raw[full] = "true" if value else "false"
        elif value is None:
            continue
        elif isinstance(value, (int, float)):
            raw[full] = str(value)
        else:
            raw[full] = json.dumps(value)
    if problems:
        # One line per problem, even for a key or value that holds a line break.
        raise PlanError([" ".join(line.split("\n")) for line in problems])
    return raw, secret


def read_stack_file(path: Path) -> tuple[dict[str, str], set[str]]:
    """A `Pulumi.<stack>.yaml` as Pulumi hands config to a program: every value a string
    (structured values as JSON), `secure:` values as the "[secret]" placeholder."""
    return parse_stack_text(read_text(path), path)


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "string"
    return type(value).__name__


def add_stack_arguments(parser: argparse.ArgumentParser) -> None:
    """`--stack NAME` or `--config-file PATH`, one of them required."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--stack", help="stack name: reads Pulumi.<stack>.yaml at the repository root")
    source.add_argument("--config-file", type=Path, help="path of a Pulumi.<stack>.yaml file")


def _file_stack_name(value: str) -> str | None:
    """`myuni` for a value that names a stack file (`Pulumi.myuni.yaml`, `Pulumi.myuni.yml`), else None."""
    name = value.replace("\\", "/").rsplit("/", 1)[-1]
    for suffix in (".yaml", ".yml"):
        if name.startswith("Pulumi.") and name.endswith(suffix) and len(name) > len("Pulumi.") + len(suffix):
            return name[len("Pulumi."):-len(suffix)]
    return None


def stack_name(value: str, root: Path = ROOT) -> str:
    """The stack name in a `--stack` value. A stack file's name at the repository root
    (`Pulumi.myuni.yaml`) is taken as the stack it names; any other file name or path is refused
    with the name to pass instead (ValueError, one line)."""
    named = _file_stack_name(value)
    is_path = "/" in value or "\\" in value or value in (".", "..")
    if named is not None and not is_path and (root / value).is_file():
        return named
    if named is not None or is_path or value.endswith((".yaml", ".yml")):
        alone = f"--stack {named}" if named else "--stack NAME (the part between Pulumi. and .yaml)"
        absent = f" (there is no {value} at the repository root either)" if named and not is_path else ""
        raise ValueError(f"--stack {value!r}: pass the stack name alone: {alone}{absent}")
    return value


def stack_from_args(args: argparse.Namespace, root: Path = ROOT) -> tuple[Path, str]:
    """The stack file and the stack's name. `--stack` also takes the name of a stack file at the
    repository root (`--stack Pulumi.myuni.yaml` is `--stack myuni`) and the path of an existing
    stack file (read as `--config-file`)."""
    if args.stack:
        value = args.stack
        if _file_stack_name(value) is not None and ("/" in value or "\\" in value) and Path(value).is_file():
            return _config_file(Path(value))
        try:
            name = stack_name(value, root)
        except ValueError as err:
            raise PlanError(f"{err}; for a stack file elsewhere, --config-file PATH") from None
        return root / f"Pulumi.{name}.yaml", name
    return _config_file(args.config_file)


def _config_file(path: Path) -> tuple[Path, str]:
    name = path.name
    stack = name.removeprefix("Pulumi.").removesuffix(".yaml") if name.startswith("Pulumi.") else path.stem
    return path, stack


# --------------------------------------------------------------------------- secrets not set yet

# What an offline tool gives the program for a secret the stack needs but does not hold yet: visibly
# not a secret, and saying how to set the real one. `pulumi up` never sees it: the deploy program
# reads secrets with pulumi.Config.require_secret, which refuses a missing one.
STAND_IN = "<not set: pulumi config set --secret {name}>"


def stand_in_secrets(raw: dict[str, str], secret: set[str]) -> tuple[dict[str, str], set[str], set[str]]:
    """The config with a stand-in for every secret key the file does not set, the secret keys,
    and the full keys that got a stand-in. Which of them the stack needs is for
    `missing_secrets` to say, once the config is parsed."""
    raw, secret, stood_in = dict(raw), set(secret), set()
    for name in SECRET_KEYS:
        key = f"{PROJECT}:{name}"
        # The repository tokens are optional: a stand-in would render a provider with a token.
        if key not in raw and name not in OPTIONAL_SECRET_KEYS:
            raw[key] = STAND_IN.format(name=name)
            secret.add(key)
            stood_in.add(key)
    return raw, secret, stood_in


def missing_secrets(cfg: Any, stood_in: set[str]) -> list[dict[str, str]]:
    """The secrets this stack needs that only have a stand-in: key, when it is needed, and the
    command that sets it (it asks for the value)."""
    from components.config_checks import needed_secrets

    return [{"key": f"{PROJECT}:{name}", "neededWhen": when, "set": f"pulumi config set --secret {name}",
             "standIn": STAND_IN.format(name=name)}
            for name, (when, _what) in needed_secrets(cfg).items() if f"{PROJECT}:{name}" in stood_in]


def missing_secrets_lines(missing: list[dict[str, str]]) -> list[str]:
    """The text the offline tools print about secrets not set yet (nothing when all are set)."""
    if not missing:
        return []
    return ["Secrets not set yet (a visible stand-in is used here; pulumi preview and pulumi up refuse the "
            "stack until they are set):",
            *(f"  - {m['key']} (needed when {m['neededWhen']}): {m['set']}  (it asks for the value)"
              for m in missing)]


def stack_name_argument(value: str) -> str:
    """argparse `type=` for a `--stack` that names a Pulumi stack for the Pulumi CLI (the day-two
    commands): `stack_name`, with its refusal as argparse's one-line error."""
    try:
        return stack_name(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
