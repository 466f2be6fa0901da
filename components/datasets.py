"""Read-only datasets: storage (created or referenced), the account key as a Kubernetes
Secret, and a static volume and claim per dataset in the hub's namespace."""

from __future__ import annotations

from typing import TypedDict

import pulumi
import pulumi_kubernetes as k8s
from pulumi_azure_native import storage

from . import dataset_spec
from .config import DatasetConfig, StackConfig
from .naming import tags


class DatasetsArgs(TypedDict):
    config: StackConfig
    """The validated stack config (with `datasets`)."""
    resource_group_name: pulumi.Input[str]
    """Where `create: true` datasets get their storage account."""
    namespace: str
    """The hub's namespace, where user pods run."""
    depends_on: list[pulumi.Resource]
    """The hub release, which creates the namespace."""


class Datasets(pulumi.ComponentResource):
    """Every entry of `datasets`, mountable read-only by user servers."""

    def __init__(self, name: str, args: DatasetsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("binderhub-azure:datasets:Datasets", name, None, opts)
        cfg = args["config"]
        on_cluster = pulumi.ResourceOptions(parent=self, depends_on=args["depends_on"])  # provider: `providers=`
        for data in cfg.datasets:
            key = self._account_key(cfg, data, args["resource_group_name"])
            secret = k8s.core.v1.Secret(
                f"{name}-{data.name}-account",
                metadata={"name": dataset_spec.secret_name(data), "namespace": args["namespace"]},
                string_data={"azurestorageaccountname": data.storage_account, "azurestorageaccountkey": key},
                opts=on_cluster,
            )
            pv = dataset_spec.persistent_volume(cfg, data, args["namespace"])
            volume = k8s.core.v1.PersistentVolume(
                f"{name}-{data.name}-volume", metadata=pv["metadata"], spec=pv["spec"],
                opts=on_cluster.merge(pulumi.ResourceOptions(depends_on=[secret])),
            )
            pvc = dataset_spec.claim(cfg, data, args["namespace"])
            k8s.core.v1.PersistentVolumeClaim(
                f"{name}-{data.name}-claim", metadata=pvc["metadata"], spec=pvc["spec"],
                opts=on_cluster.merge(pulumi.ResourceOptions(depends_on=[volume])),
            )
        self.register_outputs({})

    def _account_key(self, cfg: StackConfig, data: DatasetConfig,
                     stack_group: pulumi.Input[str]) -> pulumi.Output[str]:
        """The account's first key, as a secret; the account (and its container or share) is
        created first when the dataset asks for it."""
        group: pulumi.Input[str] = data.resource_group or stack_group
        depends: list[pulumi.Resource] = []
        if data.create:
            account = storage.StorageAccount(
                f"{data.name}-account",
                account_name=data.storage_account,
                resource_group_name=stack_group,
                location=cfg.location,
                kind="StorageV2",
                sku={"name": "Standard_LRS"},
                allow_blob_public_access=False,
                minimum_tls_version="TLS1_2",
                tags=tags(cfg),
                opts=pulumi.ResourceOptions(parent=self, protect=cfg.protect_resources),
            )
            if data.container:
                store = storage.BlobContainer(
                    f"{data.name}-container", account_name=account.name, resource_group_name=stack_group,
                    container_name=data.container, public_access="None",
                    opts=pulumi.ResourceOptions(parent=self))
            else:
                store = storage.FileShare(
                    f"{data.name}-share", account_name=account.name, resource_group_name=stack_group,
                    share_name=data.share, share_quota=100, opts=pulumi.ResourceOptions(parent=self))
            depends = [account, store]
        keys = storage.list_storage_account_keys_output(
            resource_group_name=group, account_name=data.storage_account,
            opts=pulumi.InvokeOutputOptions(parent=self, depends_on=depends),
        )
        return pulumi.Output.secret(keys.keys.apply(lambda k: k[0].value))
