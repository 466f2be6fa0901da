"""The building blocks of the config model: the project's key namespace, name and value patterns,
the shipped region and Kubernetes-version lists, `ConfigError`, and the validated field types
(`VmSize`, `Memory`, ...) that the block models share.
"""

from __future__ import annotations

import ipaddress
import json
import re
import unicodedata
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationInfo, field_validator
from pydantic.alias_generators import to_camel

PROJECT = "binderhub-azure"
LOCATION_KEY = "azure-native:location"

# Keys that hold secrets. They never enter the typed model: the program reads them
# with `pulumi.Config.require_secret`, the model only records that they are set.
# githubToken, gitlabToken, githubEnterpriseToken: BinderHub's repository providers (`repos`).
SECRET_KEYS = ("authClientSecret", "dockerHubToken", "githubToken", "gitlabToken", "githubEnterpriseToken")
# Secret keys no setting requires (the repository tokens): the offline tools' stand-ins for secrets
# not set yet (tools/stackfile.stand_in_secrets) leave these out, since each must come with its
# `repos` host and would change what is rendered.
OPTIONAL_SECRET_KEYS = ("githubToken", "gitlabToken", "githubEnterpriseToken")

# Keys whose value is a structured (YAML/JSON) object.
_OBJECT_KEYS = ("cluster", "registry", "auth", "limits", "security", "speed", "profiles", "datasets",
                "vm", "monitoring", "budget", "helmValues", "binderSite", "storage",
                "schedule", "federation", "repos")

# Every pattern is used with `fullmatch`: `$` alone would let a trailing newline through
# (a YAML block scalar `key: |` gives one).
_SLUG = re.compile(r"[a-z][a-z0-9-]{1,14}[a-z0-9]")
_DNS_LABEL = re.compile(r"[a-z][a-z0-9-]{1,61}[a-z0-9]")
_HOST_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[a-zA-Z]{2,}")
_REGION = re.compile(r"[a-z][a-z0-9]{2,}")
_K8S_VERSION = re.compile(r"1\.\d{2}")
# Azure VM size names: Standard_<family><vCPUs>[-<constrained>]<features>[_<accelerator>][_v<n>],
# e.g. Standard_D4s_v5, Standard_E4-2ads_v5, Standard_NC24ads_A100_v4, Standard_B2ms.
_VM_SIZE = re.compile(r"Standard_[A-Z]{1,3}[0-9]{1,3}(-[0-9]{1,3})?[a-z]*(_[A-Z][0-9]+[a-z]*)?(_v[0-9]+)?")
_MEMORY = re.compile(r"[0-9]+(\.[0-9]+)?[KMGT]")
GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_DOCKERHUB_PREFIX = re.compile(r"[a-z0-9]+([._-][a-z0-9]+)*/[a-z0-9]*([._-][a-z0-9]*)*")
_ACR_PREFIX = re.compile(r"([a-z0-9]+([._-][a-z0-9]+)*/)*[a-z0-9]*([._-][a-z0-9]*)*")


_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")
# Keys of text shown to people, not names: any language, and banner and about page may span
# lines (mybinder.org's banner is multi-line HTML). Every other string key names something (an
# Azure resource, a DNS name, an address, a user, an image, a path) and is printable ASCII.
DISPLAY_TEXT_FIELDS = frozenset({"banner_message", "about_message", "display_name", "description"})
MULTILINE_FIELDS = frozenset({"banner_message", "about_message"})
_CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]*")


def invisible_character(value: str) -> tuple[int, str] | None:
    """The first format character (Unicode category Cf: zero-width space, joiners, the bidi
    controls U+202A-U+202E and U+2066-U+2069, the byte order mark, soft hyphen ...) in `value`,
    as (position, its code point and name), or None. Such a character cannot be seen, so two
    strings that look alike compare unequal, or text displays in another order than it is read
    ("Trojan Source", CVE-2021-42574)."""
    for i, char in enumerate(value):
        if unicodedata.category(char) == "Cf":
            return i, f"U+{ord(char):04X} {unicodedata.name(char, 'format character')}"
    return None


def non_ascii_character(value: str) -> tuple[int, str] | None:
    """The first character outside printable ASCII, as (position, code point and name)."""
    for i, char in enumerate(value):
        if not _PRINTABLE_ASCII.fullmatch(char):
            return i, f"U+{ord(char):04X} {unicodedata.name(char, 'unnamed character')}"
    return None
# A local URL path for defaultUrl: not `//host` (a link to another site) and no `..`.
_LOCAL_PATH = re.compile(r"/(?!/)[A-Za-z0-9._~/-]*")
_DATA_DIR = Path(__file__).resolve().parent


def _load_data(name: str) -> dict[str, Any]:
    """A dated data file shipped next to this module (regions)."""
    data: dict[str, Any] = json.loads((_DATA_DIR / name).read_text())
    return data


AZURE_REGIONS: frozenset[str] = frozenset(_load_data("azure_regions.json")["regions"])

# Memory a user server may be given: below this a Jupyter server does not start; above it
# no Azure VM size has the memory (the largest M-series sizes have about 30 TiB).
MIN_MEMORY_BYTES = 128 * 1024**2
MAX_MEMORY_BYTES = 32 * 1024**4
_MEMORY_FACTORS = {"K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def memory_bytes(value: str) -> float:
    """'2G' -> 2 GiB in bytes (JupyterHub reads K/M/G/T as powers of 1024)."""
    return float(value[:-1]) * _MEMORY_FACTORS[value[-1]]


def _check_memory(value: str) -> str:
    if not _MEMORY.fullmatch(value):
        raise ValueError(f"must be a size such as '2G' or '512M' (got {value!r})")
    if not MIN_MEMORY_BYTES <= memory_bytes(value) <= MAX_MEMORY_BYTES:
        raise ValueError(f"must be from 128M to 32T: no server runs in less, and no Azure VM has more "
                         f"(got {value!r})")
    return value


def _check_local_url(value: str) -> str:
    if not _LOCAL_PATH.fullmatch(value) or ".." in value.split("/"):
        raise ValueError(f"must be a path on the server such as /lab, /tree or /rstudio, not a URL and "
                         f"without '..' (got {value!r})")
    return value


# Directories a dataset must not be mounted over (or inside): the system's own files.
_SYSTEM_DIRS = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/root",
                "/run", "/sbin", "/sys", "/usr", "/var", "/tmp", "/opt/conda", "/srv/conda")
# Directories a dataset must not replace (mounting inside them is fine).
_KEEP_DIRS = ("/", "/home", "/home/jovyan", "/opt", "/srv", "/mnt", "/media")


class ConfigError(Exception):
    """The stack config is wrong. `problems` holds one self-contained line per mistake."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=False, frozen=True
    )

    @field_validator("*", mode="before")
    @classmethod
    def _characters(cls, value: Any, info: ValidationInfo) -> Any:
        """What characters a string key takes. No key takes an invisible (format) character. A
        key that names something takes printable ASCII only: one line (a block scalar `key: |`
        would otherwise carry a newline into resource names and URLs), and no letter that only
        looks like an ASCII one (Cyrillic 'а' in 'аlice' is another user). Display text (banner,
        about page, profile names) takes any language; banner and about page may span lines."""
        items = value if isinstance(value, list) else [value]
        field = info.field_name or ""
        for i, item in enumerate(items):
            if not isinstance(item, str):
                continue
            where = f"item {i} " if isinstance(value, list) else ""
            control = _CONTROL_IN_TEXT if field in MULTILINE_FIELDS else _CONTROL
            if control.search(item):
                allowed = ("text without control characters other than newlines and tabs"
                           if field in MULTILINE_FIELDS else
                           "one line of text without control characters such as a newline")
                raise ValueError(f"{where}must be {allowed} (got {item!r})")
            hidden = invisible_character(item)
            if hidden:
                raise ValueError(f"{where}must not hold an invisible character: {hidden[1]} at position "
                                 f"{hidden[0]} (type the text again, or use an HTML entity such as &rlm; in "
                                 f"HTML) (got {item!r})")
            if field not in DISPLAY_TEXT_FIELDS:
                found = non_ascii_character(item)
                if found:
                    raise ValueError(f"{where}must be printable ASCII: {found[1]} at position {found[0]} is "
                                     f"not, and may only look like an ASCII character (got {item!r})")
        return value


def _check_vm_size(value: str) -> str:
    if not _VM_SIZE.fullmatch(value):
        raise ValueError(
            f"must be an Azure VM size name such as 'Standard_D4s_v5' (got {value!r})"
        )
    return value


def _check_cidrs(values: list[str]) -> list[str]:
    """IPv4 networks without host bits; a bare address becomes its /32."""
    normalised = []
    for i, value in enumerate(values):
        try:
            net = ipaddress.IPv4Network(value, strict=True)
        except ValueError:
            raise ValueError(f"item {i} must be an IPv4 CIDR such as '203.0.113.0/24' (got {value!r})") from None
        normalised.append(str(net))
    return normalised


# Validated field types: a rule that belongs to one value travels with its type.
VmSize = Annotated[str, AfterValidator(_check_vm_size)]
"""An Azure VM size name such as Standard_D4s_v5."""
Memory = Annotated[str, AfterValidator(_check_memory)]
"""A memory size such as 2G or 512M, from 128M to 32T."""
Cidrs = Annotated[list[str], AfterValidator(_check_cidrs)]
"""IPv4 networks; a bare address becomes its /32."""
