"""Published facts of the Azure VM sizes the defaults, the README and the examples use (pure;
the numbers are in vm_sizes.json, with their source and date).

vCPUs and memory come from Azure's size pages (learn.microsoft.com/azure/virtual-machines/sizes);
`local_disk_gib` is the larger of the size's cache and temp disk, the most an ephemeral OS disk
can use on it (0: the size has neither, so its OS disk must be a managed disk); `gpus` the
NVIDIA GPUs it carries (0 for every size that is not an N-series GPU size). A size missing
here is reported as unknown where these facts matter, never estimated from its name.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import NamedTuple


class VmSize(NamedTuple):
    vcpus: int
    memory_gib: float
    local_disk_gib: int
    architecture: str = "x64"
    """x64 or Arm64 (the Resource SKUs capability CpuArchitectureType)."""
    gpus: int = 0


DATA_FILE = Path(__file__).resolve().parent / "vm_sizes.json"
_DOC = json.loads(DATA_FILE.read_text())
# When the sizes were last checked against Azure's size pages (or the Resource SKUs API).
RECORDED: str = _DOC["date"]
SIZES: dict[str, VmSize] = {
    name: VmSize(size["vcpus"], size["memoryGiB"], size["localDiskGiB"], size.get("architecture", "x64"),
                 size.get("gpus", 0))
    for name, size in _DOC["sizes"].items()
}

# Source: learn.microsoft.com/azure/virtual-machines/vm-naming-conventions (read 2026-12): the
# additive features after the vCPU count include "p = ARM Cpu" (Dpsv5, Dpdsv5, Dplsv5, Epsv5,
# Dpsv6, ...); no x64 size carries a 'p' there. Names only: `_VM_SIZE` in config_fields.
_FEATURES = re.compile(r"Standard_[A-Z]{1,3}[0-9]{1,3}(?:-[0-9]{1,3})?(?P<features>[a-z]*)")


def architecture(vm_size: str) -> str:
    """x64 or Arm64: from the table, else from the size name's feature letters."""
    known = SIZES.get(vm_size)
    if known is not None:
        return known.architecture
    found = _FEATURES.match(vm_size)
    return "Arm64" if found and "p" in found["features"] else "x64"


def ephemeral_os_problem(vm_size: str, os_disk_gib: int) -> str | None:
    """Why an ephemeral OS disk of this size cannot work on this VM size, or None if it can.
    Azure refuses (at creation) an ephemeral OS disk larger than the size's cache or temp disk."""
    size = SIZES.get(vm_size)
    if size is None:
        return f"{vm_size}'s local disk size is not known here ({', '.join(SIZES)}); use osDiskType Managed"
    if size.local_disk_gib == 0:
        return f"{vm_size} has no cache or temp disk to hold an ephemeral OS disk; use osDiskType Managed " \
               "or a size with a local disk (a 'd' size such as Standard_D2ads_v5)"
    if os_disk_gib > size.local_disk_gib:
        return f"an ephemeral OS disk of {os_disk_gib} GiB does not fit {vm_size}'s {size.local_disk_gib} GiB " \
               "local disk; lower osDiskSizeGb"
    return None
