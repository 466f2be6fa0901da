"""binderhub-azure: one institution's BinderHub or JupyterHub on Azure, as one Pulumi stack.

Load and validate the stack config (nothing is created when it is wrong), build the
components, export what the user needs next.
"""

import pulumi
from pulumi_azure_native import resources

from components import hub_values, naming
from components.budget import CostBudget
from components.cluster import AksCluster
from components.cluster_spec import tags
from components.config import load_from_pulumi
from components.datasets import Datasets
from components.hub import Hub
from components.ingress import Ingress
from components.monitoring import Monitoring
from components.outputs import next_step
from components.registry import ContainerRegistry

cfg = load_from_pulumi()
secrets = pulumi.Config()

group = resources.ResourceGroup(
    "resource-group", resource_group_name=naming.resource_group(cfg), location=cfg.location, tags=tags(cfg)
)
cluster = AksCluster("cluster", {"config": cfg, "resource_group_name": group.name})
ingress = Ingress("ingress", {
    "config": cfg, "resource_group_name": group.name, "resource_group_id": group.id,
    "cluster_principal_id": cluster.principal_id, "provider": cluster.provider,
})

registry = None
wiring = None
if cfg.uses_acr:
    registry = ContainerRegistry("registry", {
        "config": cfg, "resource_group_name": group.name, "kubelet_object_id": cluster.kubelet_object_id,
    })
    wiring = registry.binder_wiring()
elif cfg.uses_dockerhub:
    wiring = hub_values.dockerhub_wiring(cfg, secrets.require_secret("dockerHubToken"))

hub = Hub("hub", {
    "config": cfg, "provider": cluster.provider, "registry": wiring,
    "auth_client_secret": secrets.require_secret("authClientSecret") if cfg.auth.type != "none" else None,
    "depends_on": ingress.ready,
})

if cfg.datasets:
    Datasets("datasets", {
        "config": cfg, "resource_group_name": group.name, "provider": cluster.provider,
        "namespace": hub.namespace, "depends_on": [hub.release],
    })
monitoring = (
    Monitoring("monitoring", {"config": cfg, "provider": cluster.provider, "depends_on": ingress.ready})
    if cfg.monitoring.enabled
    else None
)
if cfg.budget:
    CostBudget("budget", {"config": cfg, "resource_group_id": group.id})

pulumi.export("url", hub.site_url)
pulumi.export("hubUrl", hub.hub_url)
pulumi.export("publicIp", ingress.ip_address)
pulumi.export("azureDnsName", ingress.fqdn)
pulumi.export("nextStep", pulumi.Output.all(ingress.ip_address, ingress.fqdn).apply(
    lambda a: next_step(cfg, ip_address=a[0], fqdn=a[1])))
pulumi.export("resourceGroup", group.name)
pulumi.export("clusterName", cluster.cluster_name)
pulumi.export("registryLoginServer", registry.login_server if registry else None)
pulumi.export("kubeconfig", cluster.kubeconfig)
if monitoring:
    pulumi.export("grafanaUrl", monitoring.grafana_url)
    pulumi.export("grafanaAdminPassword", monitoring.grafana_admin_password)
