"""binderhub-azure: one institution's BinderHub or JupyterHub on Azure, as one Pulumi stack.

Load and validate the stack config (nothing is created when it is wrong), build the
components for the chosen mode, export what the user needs next.
"""

import os
import shutil

import pulumi
from pulumi_azure_native import resources

from components import aks_versions, cluster_spec, hub_spec, naming, repos_spec
from components.budget import CostBudget
from components.cluster import AksCluster
from components.config import StackConfig
from components.config_load import load_from_pulumi, raw_pulumi_config
from components.datasets import Datasets
from components.federation import Federation
from components.federation_spec import next_step as federation_next_step
from components.hub import Hub
from components.ingress import Ingress
from components.monitoring import Monitoring
from components.notes import stack_notes
from components.outputs import next_step
from components.practices import CorePriority, Cryptnono
from components.registry import ContainerRegistry
from components.sleep import SleepSchedule, StopServersBeforeSleep
from components.tljh import TljhServer

secrets = pulumi.Config()


def on_kubernetes(cfg: StackConfig, group: resources.ResourceGroup) -> dict:
    """binderhub and jupyterhub modes: AKS, ingress, registry, the hub and its extras."""
    cluster = AksCluster("cluster", {"config": cfg, "resource_group_name": group.name})
    # Hub, proxy, binder, ingress and monitoring pods are scheduled before user and build pods.
    # Every component that declares Kubernetes objects gets the cluster's provider once, here;
    # Pulumi.yaml disables the default Kubernetes provider, so a forgotten one fails the preview.
    on_cluster = pulumi.ResourceOptions(providers=[cluster.provider])
    core = CorePriority("core-priority", {}, on_cluster)
    ingress = Ingress("ingress", {
        "config": cfg, "resource_group_name": group.name, "resource_group_id": group.id,
        "cluster_principal_id": cluster.principal_id, "depends_on": [core.priority_class],
    }, on_cluster)
    registry = wiring = None
    if cfg.uses_acr:
        registry = ContainerRegistry("registry", {
            "config": cfg, "resource_group_name": group.name, "kubelet_object_id": cluster.kubelet_object_id,
        })
        wiring = registry.binder_wiring()
    elif cfg.uses_dockerhub:
        wiring = hub_spec.dockerhub_wiring(cfg, secrets.require_secret("dockerHubToken"))
    hub = Hub("hub", {
        "config": cfg, "registry": wiring,
        "auth_client_secret": secrets.require_secret("authClientSecret") if cfg.auth.type != "none" else None,
        "repo_tokens": repos_spec.tokens_from(secrets.require_secret, cfg),
        # The placeholders' class exists before the release that names it.
        "depends_on": [*ingress.ready, core.placeholder_class],
    }, on_cluster)
    if cfg.binder and cfg.security.cryptnono:
        Cryptnono("cryptnono", {"config": cfg, "depends_on": [core.priority_class]}, on_cluster)
    if cfg.datasets:
        Datasets("datasets", {"config": cfg, "resource_group_name": group.name, "namespace": hub.namespace,
                              "depends_on": [hub.release]}, on_cluster)
    outputs = {
        "url": hub.site_url, "hubUrl": hub.hub_url, "publicIp": ingress.ip_address, "azureDnsName": ingress.fqdn,
        "clusterName": cluster.cluster_name, "registryLoginServer": registry.login_server if registry else None,
        "kubeconfig": cluster.kubeconfig, "hubNamespace": hub.namespace,
    }
    if cfg.schedule:
        SleepSchedule("sleep", {"config": cfg, "resource_group_name": group.name, "resource_group_id": group.id,
                                "target_id": cluster.cluster_id})
        if cfg.schedule.stop_servers_minutes_before:
            StopServersBeforeSleep("stop-servers", {"config": cfg, "token": hub.sleep_api_token,
                                                    "namespace": hub.namespace, "depends_on": [hub.release]},
                                   on_cluster)
    if cfg.monitoring.enabled:
        monitoring = Monitoring("monitoring", {"config": cfg, "depends_on": ingress.ready}, on_cluster)
        outputs |= {"grafanaUrl": monitoring.grafana_url, "grafanaAdminPassword": monitoring.grafana_admin_password}
    return outputs


def on_one_vm(cfg: StackConfig, group: resources.ResourceGroup) -> dict:
    """tljh mode: The Littlest JupyterHub on one VM."""
    server = TljhServer("tljh", {"config": cfg, "resource_group_name": group.name,
                                 "auth_client_secret": secrets.require_secret("authClientSecret")})
    url = naming.site_url(cfg)
    if cfg.schedule:
        SleepSchedule("sleep", {"config": cfg, "resource_group_name": group.name, "resource_group_id": group.id,
                                "target_id": server.vm_id})
    return {"url": url, "hubUrl": url, "publicIp": server.ip_address, "azureDnsName": server.fqdn,
            "vmName": server.vm_name}


def federated(cfg: StackConfig, group: resources.ResourceGroup) -> dict:
    """federation mode: one launch address in front of several BinderHubs (Azure Container Apps)."""
    fed = Federation("federation", {"config": cfg, "resource_group_name": group.name})
    return {"url": fed.url, "azureDnsName": fed.fqdn, "domainVerificationId": fed.verification_id,
            "members": fed.member_urls, "federation": fed.redirector_config,
            "nextStep": pulumi.Output.all(fed.fqdn, fed.verification_id).apply(
                lambda a: federation_next_step(cfg, fqdn=a[0], verification_id=a[1]))}


cfg = load_from_pulumi()
if not cfg.tljh and cfg.cluster.disable_local_accounts:
    # Checked before any resource exists: in CI the provider is first needed after the cluster create.
    problem = cluster_spec.ci_login_problem(os.environ, shutil.which("kubelogin") is not None)
    if problem:
        raise pulumi.RunError(problem)
for note in stack_notes(cfg, aks_versions.today()):
    pulumi.log.warn(note)
# The pre-flight: VM sizes and quotas (for a federation, the Container Apps provider and region); with a
# sleep schedule, at least that the cluster is awake, whose stopped API server the Kubernetes provider would wait on.
if cfg.preflight or cfg.schedule:
    from tools.preflight import check_during_pulumi

    check_during_pulumi(cfg, raw_pulumi_config(), pulumi.log.warn)
group = resources.ResourceGroup(
    "resource-group", resource_group_name=naming.resource_group(cfg), location=cfg.location, tags=naming.tags(cfg)
)
outputs = {"tljh": on_one_vm, "federation": federated}.get(cfg.mode, on_kubernetes)(cfg, group)
if cfg.budget:
    CostBudget("budget", {"config": cfg, "resource_group_id": group.id})

if "nextStep" not in outputs:
    outputs["nextStep"] = pulumi.Output.all(outputs["publicIp"], outputs["azureDnsName"]).apply(
        lambda a: next_step(cfg, ip_address=a[0], fqdn=a[1]))
outputs["resourceGroup"] = group.name
# What the operator's tools need to know about the deployment, so they never guess it.
outputs["mode"] = cfg.mode
outputs["https"] = cfg.https
if cfg.schedule:  # what `tools.ops` shows and wakes by (next wake and sleep)
    outputs["sleepSchedule"] = {**cfg.schedule.model_dump(by_alias=True, mode="json"),
                                "target": "vm" if cfg.tljh else "cluster"}
for key, value in outputs.items():
    pulumi.export(key, value)
