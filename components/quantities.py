"""Resource quantities, read exactly as the component that reads each string reads it (pure).

Two readers see the same-looking strings differently, and the stack hands strings to both:

- Kubernetes (every `resources:` block a chart renders into a pod spec) reads a quantity with
  the grammar of apimachinery's `resource.Quantity` (kubernetes.io, "Resource Management for
  Pods and Containers", "Meaning of memory"): binary suffixes Ki Mi Gi Ti Pi Ei are powers of
  1024, decimal suffixes m k M G T P E powers of 1000, `e`/`E` a decimal exponent. So `1G` is
  10^9 bytes and `1Gi` is 2^30: a limit of `1G` is *below* a request of `1Gi`.
- JupyterHub (`Spawner.mem_limit` / `mem_guarantee`, a `ByteSpecification` in
  jupyterhub/traitlets.py; what KubeSpawner and z2jh's `singleuser.memory` go through) reads
  K M G T as powers of 1024 and nothing else: `2G` is 2 GiB, computed as
  `int(float(number) * 1024**n)`, and hands KubeSpawner an integer number of bytes.

The stack's memory keys (`limits.memory`, `limits.buildMemory`, a profile's `memory`) are
documented with JupyterHub's meaning. Where such a value goes to Kubernetes instead (the build
daemon's limit, the placeholders' requests), `kubernetes_memory` writes it in a form Kubernetes
reads as the same number of bytes. Everything is compared in exact rationals, never floats.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

# apimachinery resource.Quantity: <signedNumber><suffix>.
_QUANTITY = re.compile(r"([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?[0-9]+|[mkMGTPE]?)")
BINARY_SUFFIXES = {"Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "Ti": 1024**4, "Pi": 1024**5, "Ei": 1024**6}
DECIMAL_SUFFIXES = {"m": Fraction(1, 1000), "": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
                    "P": 10**15, "E": 10**18}
# JupyterHub's ByteSpecification.UNIT_SUFFIXES.
JUPYTERHUB_SUFFIXES = {"K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
_JUPYTERHUB = re.compile(r"([0-9]+(?:\.[0-9]+)?)([KMGT])")

GIB = 1024**3
MIB = 1024**2


def kubernetes_quantity(value: Any) -> Fraction:
    """The exact value Kubernetes reads from a quantity: a string such as `512Mi`, `1G`, `100m`,
    `1.5`, `2e3`, or a number (a Helm value such as `cpu: 0.5`). Raises ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a Kubernetes quantity")
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        return Fraction(repr(value))  # the decimal Helm prints, not the binary float
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a Kubernetes quantity")
    match = _QUANTITY.fullmatch(value)
    if not match:
        raise ValueError(f"{value!r} is not a Kubernetes quantity (such as 512Mi, 1Gi, 2G or 100m)")
    number, suffix = Fraction(match.group(1)), match.group(2)
    if suffix in BINARY_SUFFIXES:
        return number * BINARY_SUFFIXES[suffix]
    if suffix in DECIMAL_SUFFIXES:  # "E" alone is exa; "E3" an exponent
        return number * DECIMAL_SUFFIXES[suffix]
    return number * Fraction(10) ** int(suffix[1:])


def jupyterhub_bytes(value: str | int | float) -> int:
    """The bytes JupyterHub's ByteSpecification makes of a memory value: `2G` -> 2 * 1024**3."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    match = _JUPYTERHUB.fullmatch(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a JupyterHub memory size (a number with K, M, G or T)")
    return int(float(match.group(1)) * JUPYTERHUB_SUFFIXES[match.group(2)])


def kubernetes_memory(value: str) -> str:
    """A JupyterHub-style memory value written so that Kubernetes reads the same bytes:
    `4G` -> `4Gi`, `1.5G` -> `1610612736` (whole numbers keep their suffix, with an `i`)."""
    match = _JUPYTERHUB.fullmatch(value)
    if match and "." not in match.group(1):
        return f"{int(match.group(1))}{match.group(2)}i"
    return str(jupyterhub_bytes(value))


def gib(value: Fraction | int | float) -> str:
    """Bytes as GiB for messages: 5.56."""
    return f"{float(value) / GIB:.2f}"
