"""Read-only datasets as Kubernetes volumes (pure): a static PersistentVolume per dataset
on the Azure Blob (blobfuse) or Azure Files CSI driver, its claim, and the user-pod mounts.

Read-only holds at three levels: the volume's access mode is ReadOnlyMany (the drivers then
mount read-only), the claim asks for ReadOnlyMany, and the pod mounts it readOnly.
"""

from __future__ import annotations

from typing import Any

from .config import DatasetConfig, StackConfig

BLOB_DRIVER = "blob.csi.azure.com"
FILE_DRIVER = "file.csi.azure.com"
NOMINAL_SIZE = "100Gi"  # static volumes are not sized by Kubernetes; the field is required


def volume_name(data: DatasetConfig) -> str:
    return f"dataset-{data.name}"


def persistent_volume_name(cfg: StackConfig, data: DatasetConfig) -> str:
    """Volumes are cluster-wide: the institution in the name keeps stacks on one cluster apart."""
    return f"{cfg.institution}-{volume_name(data)}"


def secret_name(data: DatasetConfig) -> str:
    return f"dataset-{data.name}-account"


def persistent_volume(cfg: StackConfig, data: DatasetConfig, namespace: str) -> dict[str, Any]:
    """The static PV."""
    secret_ref = {"name": secret_name(data), "namespace": namespace}
    if data.container:
        csi = {
            "driver": BLOB_DRIVER,
            # Unique per container in the cluster; '#' and '/' are reserved by the driver.
            "volume_handle": f"{data.storage_account}_{data.container}",
            "read_only": True,
            "volume_attributes": {"storageAccount": data.storage_account, "containerName": data.container,
                                  "protocol": "fuse2"},
            "node_stage_secret_ref": secret_ref,
        }
        mount_options = ["-o allow_other", "--file-cache-timeout-in-seconds=120"]
    else:
        csi = {
            "driver": FILE_DRIVER,
            "volume_handle": f"{data.storage_account}_{data.share}",
            "read_only": True,
            "volume_attributes": {"storageAccount": data.storage_account, "shareName": data.share},
            "node_stage_secret_ref": secret_ref,
        }
        # Readable by the notebook user (uid 1000, gid 100 in Jupyter images), not writable.
        mount_options = ["dir_mode=0555", "file_mode=0444", "uid=1000", "gid=100", "mfsymlinks",
                         "cache=strict", "nosharesock", "actimeo=30"]
    return {
        "metadata": {"name": persistent_volume_name(cfg, data)},
        "spec": {
            "capacity": {"storage": NOMINAL_SIZE},
            "access_modes": ["ReadOnlyMany"],
            "persistent_volume_reclaim_policy": "Retain",
            "storage_class_name": "",
            "mount_options": mount_options,
            "csi": csi,
        },
    }


def claim(cfg: StackConfig, data: DatasetConfig, namespace: str) -> dict[str, Any]:
    """The claim user pods mount, bound to exactly that volume."""
    return {
        "metadata": {"name": volume_name(data), "namespace": namespace},
        "spec": {
            "access_modes": ["ReadOnlyMany"],
            "storage_class_name": "",
            "volume_name": persistent_volume_name(cfg, data),
            "resources": {"requests": {"storage": NOMINAL_SIZE}},
        },
    }


def user_pod_storage(cfg: StackConfig) -> dict[str, Any]:
    """`singleuser.storage` extras that mount every dataset read-only (lists: the JupyterHub
    4.2.0 chart bundled by BinderHub accepts only lists here)."""
    if not cfg.datasets:
        return {}
    volumes = [{"name": volume_name(d), "persistentVolumeClaim": {"claimName": volume_name(d), "readOnly": True}}
               for d in cfg.datasets]
    mounts = [{"name": volume_name(d), "mountPath": d.mount_path, "readOnly": True} for d in cfg.datasets]
    return {"extraVolumes": volumes, "extraVolumeMounts": mounts}
