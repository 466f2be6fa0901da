"""Read-only datasets: storage, credentials, volumes and user-pod mounts."""

from __future__ import annotations

import json

import pytest

from components import charts
from components.config import ConfigError
from components.config_load import parse_config
from tests.helpers import SECRET, named, one, raw_config, release, resources_of

BLOB = {"name": "census", "storageAccount": "uniresearchdata", "container": "census",
        "mountPath": "/home/jovyan/data/census", "resourceGroup": "rg-research-data"}
FILES = {"name": "climate", "storageAccount": "testunidata", "share": "climate",
         "mountPath": "/srv/data/climate", "create": True}


def test_datasets_are_mounted_read_only(render):
    plan = render(datasets=[BLOB, FILES])
    values = release(plan, "binderhub")["values"]
    assert charts.schema_errors(charts.BINDERHUB, values) == []
    storage = values["jupyterhub"]["singleuser"]["storage"]
    assert storage["extraVolumes"][0] == {
        "name": "dataset-census", "persistentVolumeClaim": {"claimName": "dataset-census", "readOnly": True}}
    assert storage["extraVolumeMounts"][1] == {
        "name": "dataset-climate", "mountPath": "/srv/data/climate", "readOnly": True}

    blob_pv = named(plan, "datasets-census-volume")["inputs"]["spec"]
    assert blob_pv["accessModes"] == ["ReadOnlyMany"]
    assert blob_pv["csi"]["driver"] == "blob.csi.azure.com" and blob_pv["csi"]["readOnly"] is True
    assert blob_pv["csi"]["volumeHandle"] == "uniresearchdata_census"
    assert blob_pv["csi"]["nodeStageSecretRef"] == {"name": "dataset-census-account", "namespace": "binderhub"}
    file_pv = named(plan, "datasets-climate-volume")["inputs"]["spec"]
    assert file_pv["csi"]["driver"] == "file.csi.azure.com"
    assert file_pv["csi"]["volumeAttributes"]["shareName"] == "climate"
    claim_resource = named(plan, "datasets-census-claim")
    assert {"hub-release", "datasets-census-volume"} <= set(claim_resource["dependsOn"])
    claim = claim_resource["inputs"]
    assert claim["metadata"] == {"name": "dataset-census", "namespace": "binderhub"}
    assert claim["spec"]["accessModes"] == ["ReadOnlyMany"]
    assert claim["spec"]["volumeName"] == named(plan, "datasets-census-volume")["inputs"]["metadata"]["name"]


def test_account_keys_stay_secret(render):
    plan = render(datasets=[BLOB, FILES])
    secret = named(plan, "datasets-census-account")["inputs"]
    assert secret["stringData"] == SECRET  # the Kubernetes SDK keeps a Secret's whole data secret
    assert secret["metadata"] == {"name": "dataset-census-account", "namespace": "binderhub"}
    assert "mocksecret-" not in json.dumps(plan)


def test_created_storage_and_blob_driver(render):
    plan = render(datasets=[BLOB, FILES])
    accounts = resources_of(plan, "azure-native:storage:StorageAccount")
    assert [a["inputs"]["accountName"] for a in accounts] == ["testunidata"]
    assert accounts[0]["protect"] is True and accounts[0]["inputs"]["allowBlobPublicAccess"] is False
    assert one(plan, "azure-native:storage:FileShare")["inputs"]["shareName"] == "climate"
    assert not resources_of(plan, "azure-native:storage:BlobContainer")  # census is referenced, not created
    cluster = one(plan, "azure-native:containerservice:ManagedCluster")["inputs"]
    assert cluster["storageProfile"] == {"blobCSIDriver": {"enabled": True}}
    assert "storageProfile" not in one(render(), "azure-native:containerservice:ManagedCluster")["inputs"]


def test_no_datasets_by_default(render):
    plan = render()
    assert not resources_of(plan, "kubernetes:core/v1:PersistentVolume")
    assert "storage" not in release(plan, "binderhub")["values"]["jupyterhub"]["singleuser"]


@pytest.mark.parametrize(
    ("dataset", "expected"),
    [
        ({**BLOB, "share": "x"}, "binderhub-azure:datasets[0] needs exactly one of container"),
        ({k: v for k, v in BLOB.items() if k != "resourceGroup"}, "binderhub-azure:datasets[0].resourceGroup is"),
        ({**FILES, "resourceGroup": "rg"}, "binderhub-azure:datasets[0].resourceGroup must be left out"),
        ({**BLOB, "storageAccount": "Bad_Name"}, "binderhub-azure:datasets[0].storageAccount must be 3-24"),
        ({**BLOB, "mountPath": "data"}, "binderhub-azure:datasets[0].mountPath must be an absolute path"),
        ({**BLOB, "name": "Census!"}, "binderhub-azure:datasets[0].name must be 2-32"),
    ],
)
def test_bad_datasets(dataset, expected):
    with pytest.raises(ConfigError) as info:
        parse_config(*raw_config(datasets=[dataset]))
    assert any(p.startswith(expected) for p in info.value.problems), info.value.problems
