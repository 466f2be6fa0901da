"""Cross-key rules from Azure's limits (components/azure_limits.py, vm_sizes.py and
azure_names.py hold the rules and their sources): what the rendered VM and the datasets would
hit at `pulumi up`, refused at plan time. Each problem is one line naming a key.
"""

from __future__ import annotations

from . import azure_limits, naming, tljh_spec, vm_sizes
from .azure_names import RESOURCE_GROUP, SUFFIX_PLACEHOLDER, violation
from .config import StackConfig
from .config_fields import PROJECT


def limit_problems(cfg: StackConfig) -> list[str]:
    return _dataset_problems(cfg) + (_tljh_problems(cfg) if cfg.tljh else [])


def _tljh_problems(cfg: StackConfig) -> list[str]:
    p = PROJECT
    problems = []
    if vm_sizes.architecture(cfg.vm.size) != tljh_spec.IMAGE_ARCHITECTURE:
        problems.append(f"{p}:vm.size {cfg.vm.size} is an {vm_sizes.architecture(cfg.vm.size)} size, but the TLJH "
                        f"image ({tljh_spec.IMAGE['offer']} {tljh_spec.IMAGE['sku']}) is "
                        f"{tljh_spec.IMAGE_ARCHITECTURE}: Azure would not boot it; pick an x64 size such as "
                        "Standard_D4s_v5 (no 'p' among the letters after the vCPU count)")
    # The longest vault name the program can make: the custom data is rendered with it.
    vault = naming.key_vault_prefix(cfg) + SUFFIX_PLACEHOLDER
    why = azure_limits.custom_data_problem(tljh_spec.cloud_init(cfg, vault))
    if why:
        problems.append(f"{p}:auth {why}: list fewer auth.allowedUsers or auth.admins (or admit a GitHub "
                        "organisation with auth.allowedOrganizations instead of its members)")
    return problems


def _dataset_problems(cfg: StackConfig) -> list[str]:
    p = PROJECT
    problems = []
    paths: dict[str, int] = {}
    for i, data in enumerate(cfg.datasets):
        if data.resource_group is not None:
            why = violation(RESOURCE_GROUP, data.resource_group)
            if why:
                problems.append(f"{p}:datasets[{i}].resourceGroup {data.resource_group!r} {why}, so Azure has "
                                f"no such {RESOURCE_GROUP.resource}")
        for path, j in paths.items():
            # A mount inside a read-only mount cannot get its mount point: the pod never starts.
            if data.mount_path == path or data.mount_path.startswith(path + "/") \
                    or path.startswith(data.mount_path + "/"):
                how = "the same path as" if data.mount_path == path else "a path inside or around that of"
                problems.append(f"{p}:datasets[{i}].mountPath {data.mount_path} is {how} datasets[{j}] ({path}): "
                                "each dataset needs a directory of its own, e.g. /home/jovyan/data/<name>")
                break
        paths.setdefault(data.mount_path, i)
    return problems
