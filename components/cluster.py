"""The AKS cluster: system pool inline, autoscaled user pool, and a Kubernetes provider."""

from __future__ import annotations

import base64
from typing import TypedDict

import pulumi
import pulumi_kubernetes as k8s
import yaml
from pulumi_azure_native import containerservice

from . import charts, cluster_spec, naming, roles
from .config import StackConfig
from .release import helm_release


class AksClusterArgs(TypedDict):
    config: StackConfig
    """The validated stack config."""
    resource_group_name: pulumi.Input[str]
    """Resource group that holds the cluster."""


def _decode_kubeconfig(creds: containerservice.ListManagedClusterUserCredentialsResult) -> str:
    return base64.b64decode(creds.kubeconfigs[0].value).decode()


def _azure_cli_kubeconfig(creds: containerservice.ListManagedClusterUserCredentialsResult) -> str:
    text = _decode_kubeconfig(creds)
    return yaml.safe_dump(cluster_spec.kubeconfig_for_azure_cli(yaml.safe_load(text)), sort_keys=False)


class AksCluster(pulumi.ComponentResource):
    """An AKS cluster sized by `cluster` in the stack config."""

    cluster_name: pulumi.Output[str]
    """Azure name of the managed cluster."""
    kubelet_object_id: pulumi.Output[str]
    """Object ID of the kubelet identity (pulls images, e.g. from ACR)."""
    principal_id: pulumi.Output[str]
    """Object ID of the cluster's own (control plane) identity, which manages load balancers."""
    kubeconfig: pulumi.Output[str]
    """User kubeconfig, a secret: it grants access to the cluster."""
    provider: k8s.Provider
    """Kubernetes provider for everything installed on this cluster."""

    def __init__(self, name: str, args: AksClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("binderhub-azure:cluster:AksCluster", name, None, opts)
        cfg = args["config"]
        child = pulumi.ResourceOptions(parent=self)

        cluster = containerservice.ManagedCluster(
            f"{name}-aks",
            resource_group_name=args["resource_group_name"],
            **cluster_spec.cluster_args(cfg),
            opts=child.merge(pulumi.ResourceOptions(
                protect=cfg.protect_resources,
                # Creation usually takes minutes but has been seen to take over 20.
                custom_timeouts=pulumi.CustomTimeouts(create="60m", update="60m", delete="60m"),
            )),
        )

        pools = {"user": cluster_spec.user_pool_args(cfg), "gpu": cluster_spec.gpu_pool_args(cfg),
                 "build": cluster_spec.build_pool_args(cfg)}
        for suffix, pool_args in pools.items():
            if pool_args is None:
                continue
            containerservice.AgentPool(
                f"{name}-{suffix}",
                resource_group_name=args["resource_group_name"],
                resource_name_=cluster.name,
                **pool_args,
                tags=naming.tags(cfg),
                opts=child.merge(pulumi.ResourceOptions(
                    # A version bump upgrades the control plane first, then this pool.
                    depends_on=[cluster],
                    # The autoscaler owns the node count once the pool exists.
                    ignore_changes=["count"],
                    custom_timeouts=pulumi.CustomTimeouts(create="45m", update="45m", delete="45m"),
                )),
            )

        # Which kubeconfig Pulumi uses: without Entra ID, the user credential (a certificate);
        # with Entra ID and local accounts, the static admin credential (works without
        # kubelogin); with local accounts disabled, an Entra ID token from `az login`
        # through kubelogin. It is also the `kubeconfig` output for humans.
        lookup = {"resource_group_name": args["resource_group_name"], "resource_name": cluster.name,
                  "opts": pulumi.InvokeOutputOptions(parent=self)}
        entra = bool(cfg.cluster.entra_admin_group_ids)
        if not entra:
            kubeconfig = containerservice.list_managed_cluster_user_credentials_output(**lookup).apply(
                _decode_kubeconfig)
        elif not cfg.cluster.disable_local_accounts:
            kubeconfig = containerservice.list_managed_cluster_admin_credentials_output(**lookup).apply(
                _decode_kubeconfig)
        else:
            kubeconfig = containerservice.list_managed_cluster_user_credentials_output(
                format="exec", **lookup).apply(_azure_cli_kubeconfig)
        # What every Kubernetes resource must wait for: with Entra ID, the deployer's
        # cluster-admin role assignment (before it exists the API server answers 403).
        self.ready: list[pulumi.Resource] = []
        if entra:
            # Whoever runs `pulumi up` must be able to manage the cluster through Azure RBAC.
            self.ready.append(roles.assign_role_to_deployer(
                f"{name}-deployer-admin", role=roles.AKS_RBAC_CLUSTER_ADMIN, scope=cluster.id, parent=self))
        # The invokes' results are not marked secret by the provider; the kubeconfig holds a
        # credential, so it is wrapped before it reaches the provider or a stack output.
        self.kubeconfig = pulumi.Output.secret(kubeconfig)
        # Every Kubernetes resource uses this provider, and the engine creates a provider only
        # after its dependencies: so nothing reaches the API server before `ready`.
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.kubeconfig,
            delete_unreachable=True,
            opts=child.merge(pulumi.ResourceOptions(depends_on=self.ready)),
        )
        if cfg.cluster.gpu_pool:
            helm_release(f"{name}-nvidia-device-plugin", "nvidia-device-plugin", charts.NVIDIA_DEVICE_PLUGIN,
                         "kube-system", cluster_spec.device_plugin_values(), parent=self, provider=self.provider)
        self.cluster_name = cluster.name
        self.kubelet_object_id = cluster.identity_profile.apply(
            lambda profile: (profile or {})["kubeletidentity"].object_id
        )
        self.principal_id = cluster.identity.apply(lambda identity: identity.principal_id if identity else "")
        self.register_outputs({
            "clusterName": self.cluster_name,
            "kubeletObjectId": self.kubelet_object_id,
            "kubeconfig": self.kubeconfig,
        })
