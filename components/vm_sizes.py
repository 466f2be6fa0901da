"""Published facts of the Azure VM sizes the defaults, the README and the examples use (pure data).

vCPUs and memory come from Azure's size pages (learn.microsoft.com/azure/virtual-machines/sizes);
`local_disk_gib` is the larger of the size's cache and temp disk, the most an ephemeral OS disk
can use on it (0: the size has neither, so its OS disk must be a managed disk). A size missing
here is reported as unknown where these facts matter, never estimated from its name.
"""

from __future__ import annotations

from typing import NamedTuple

# When the sizes below were last checked against Azure's size pages. `./run python -m tools.refresh`
# reads the live list (resource SKUs) and reports sizes the stack uses that this table lacks.
RECORDED = "2026-11-29"


class VmSize(NamedTuple):
    vcpus: int
    memory_gib: float
    local_disk_gib: int


SIZES: dict[str, VmSize] = {
    # General purpose, Intel (Dsv5: no local disk; Ddsv5: a temp disk)
    "Standard_D2s_v5": VmSize(2, 8, 0),
    "Standard_D4s_v5": VmSize(4, 16, 0),
    "Standard_D8s_v5": VmSize(8, 32, 0),
    "Standard_D16s_v5": VmSize(16, 64, 0),
    "Standard_D2ds_v5": VmSize(2, 8, 75),
    "Standard_D4ds_v5": VmSize(4, 16, 150),
    "Standard_D8ds_v5": VmSize(8, 32, 300),
    # General purpose, AMD (Dasv5: no local disk; Dadsv5: a temp disk)
    "Standard_D2as_v5": VmSize(2, 8, 0),
    "Standard_D4as_v5": VmSize(4, 16, 0),
    "Standard_D8as_v5": VmSize(8, 32, 0),
    "Standard_D2ads_v5": VmSize(2, 8, 75),
    "Standard_D4ads_v5": VmSize(4, 16, 150),
    # Memory optimised (Esv5: no local disk)
    "Standard_E2s_v5": VmSize(2, 16, 0),
    "Standard_E4s_v5": VmSize(4, 32, 0),
    "Standard_E8s_v5": VmSize(8, 64, 0),
    "Standard_E16s_v5": VmSize(16, 128, 0),
    # Older general purpose (Dsv3: 50/100 GiB cache, larger than the temp disk)
    "Standard_D2s_v3": VmSize(2, 8, 50),
    "Standard_D4s_v3": VmSize(4, 16, 100),
    # Burstable
    "Standard_B2s": VmSize(2, 4, 8),
    "Standard_B2ms": VmSize(2, 8, 16),
    # GPU (NCasT4_v3: a temp disk; NCv3: 736 GiB temp)
    "Standard_NC4as_T4_v3": VmSize(4, 28, 180),
    "Standard_NC8as_T4_v3": VmSize(8, 56, 360),
    "Standard_NC6s_v3": VmSize(6, 112, 736),
}


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
