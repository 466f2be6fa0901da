"""The building blocks of the config model: the project's key namespace, name and value patterns,
the shipped region and Kubernetes-version lists, `ConfigError`, and the validated field types
(`VmSize`, `Memory`, ...) that the block models share.
"""

from __future__ import annotations

import ipaddress
import json
import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, field_validator
from pydantic.alias_generators import to_camel

PROJECT = "binderhub-azure"
LOCATION_KEY = "azure-native:location"

# Keys that hold secrets. They never enter the typed model: the program reads them
# with `pulumi.Config.require_secret`, the model only records that they are set.
SECRET_KEYS = ("authClientSecret", "dockerHubToken")

# Keys whose value is a structured (YAML/JSON) object.
_OBJECT_KEYS = ("cluster", "registry", "auth", "limits", "security", "speed", "profiles", "datasets",
                "vm", "monitoring", "budget", "helmValues", "binderSite", "storage")

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
_SSH_KEY = re.compile(r"(ssh-(rsa|ed25519)|ecdsa-sha2-nistp\d+) [A-Za-z0-9+/=]+( .*)?")
GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_DOCKERHUB_PREFIX = re.compile(r"[a-z0-9]+([._-][a-z0-9]+)*/[a-z0-9]*([._-][a-z0-9]*)*")
_ACR_PREFIX = re.compile(r"([a-z0-9]+([._-][a-z0-9]+)*/)*[a-z0-9]*([._-][a-z0-9]*)*")


_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")
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
    def _one_line(cls, value: Any) -> Any:
        """No string key takes a newline or another control character (a block scalar
        `key: |` would otherwise carry one into resource names and URLs)."""
        items = value if isinstance(value, list) else [value]
        for i, item in enumerate(items):
            if isinstance(item, str) and _CONTROL.search(item):
                where = f"item {i} " if isinstance(value, list) else ""
                raise ValueError(f"{where}must be one line of text without control characters such as a "
                                 f"newline (got {item!r})")
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
