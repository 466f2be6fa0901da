"""binderhub-azure: one institution's BinderHub or JupyterHub on Azure, as one Pulumi stack.

Load and validate the stack config (nothing is created when it is wrong), build the
components, export what the user needs next.
"""

import pulumi
from pulumi_azure_native import resources

from components import naming
from components.cluster import AksCluster
from components.cluster_spec import tags
from components.config import load_from_pulumi
from components.registry import ContainerRegistry

cfg = load_from_pulumi()

group = resources.ResourceGroup(
    "resource-group",
    resource_group_name=naming.resource_group(cfg),
    location=cfg.location,
    tags=tags(cfg),
)
cluster = AksCluster("cluster", {"config": cfg, "resource_group_name": group.name})
registry = (
    ContainerRegistry(
        "registry",
        {"config": cfg, "resource_group_name": group.name, "kubelet_object_id": cluster.kubelet_object_id},
    )
    if cfg.uses_acr
    else None
)

pulumi.export("resourceGroup", group.name)
pulumi.export("clusterName", cluster.cluster_name)
pulumi.export("registryLoginServer", registry.login_server if registry else None)
pulumi.export("kubeconfig", cluster.kubeconfig)
