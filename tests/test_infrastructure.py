"""The Azure resources of a stack, rendered by running __main__.py under mocks."""

from __future__ import annotations

import re

from components.roles import ACR_PULL as ACR_PULL_ROLE
from tests.helpers import SECRET, named, one, resources_of
from tools.mocks import KUBELET_OBJECT_ID, SUBSCRIPTION

CLUSTER = "azure-native:containerservice:ManagedCluster"
POOL = "azure-native:containerservice:AgentPool"
ACR = "azure-native:containerregistry:Registry"
ROLE = "azure-native:authorization:RoleAssignment"
GROUP = "azure-native:resources:ResourceGroup"


def test_resource_group_cluster_and_pools(render):
    plan = render()
    group = one(plan, GROUP)
    assert group["inputs"]["resourceGroupName"] == "rg-testuni-binderhub"
    assert group["inputs"]["location"] == "westeurope"

    cluster = one(plan, CLUSTER)
    inputs = cluster["inputs"]
    assert cluster["parent"] == "cluster" and cluster["protect"] is True
    assert inputs["identity"] == {"type": "SystemAssigned"}
    assert inputs["kubernetesVersion"] == "1.36"
    assert inputs["autoUpgradeProfile"]["upgradeChannel"] == "patch"
    assert inputs["networkProfile"]["networkPolicy"] == "cilium"
    assert inputs["networkProfile"]["networkDataplane"] == "cilium"
    (system,) = inputs["agentPoolProfiles"]
    assert system["mode"] == "System" and system["count"] == 1
    assert system["orchestratorVersion"] == "1.36"  # every pool the control plane's minor
    assert "group" not in cluster["dependsOn"] and "resource-group" in cluster["dependsOn"]

    pool = one(plan, POOL)
    assert pool["parent"] == "cluster"
    assert pool["inputs"]["mode"] == "User"
    assert pool["inputs"]["enableAutoScaling"] is True
    assert (pool["inputs"]["minCount"], pool["inputs"]["maxCount"]) == (0, 3)
    assert pool["inputs"]["resourceName"] == "aks-testuni"
    assert pool["options"]["ignoreChanges"] == ["count"]
    assert "scaleSetPriority" not in pool["inputs"]


def test_spot_user_pool(render):
    pool = named(render(cluster={"userPool": {"spot": True, "maxCount": 5}}), "cluster-user")["inputs"]
    assert pool["scaleSetPriority"] == "Spot"
    assert pool["scaleSetEvictionPolicy"] == "Delete"
    assert pool["spotMaxPrice"] == -1


def test_authorized_ranges_and_calico(render):
    inputs = one(render(cluster={"authorizedIpRanges": ["203.0.113.0/24"], "networkPolicy": "calico"}),
                 CLUSTER)["inputs"]
    assert inputs["apiServerAccessProfile"]["authorizedIPRanges"] == ["203.0.113.0/24"]
    assert inputs["networkProfile"]["networkPolicy"] == "calico"
    assert "networkDataplane" not in inputs["networkProfile"]


def test_registry_and_acrpull_for_kubelet(render):
    plan = render()
    registry = one(plan, ACR)
    assert registry["protect"] is True and registry["parent"] == "registry"
    assert registry["inputs"]["sku"] == {"name": "Basic"}
    assert re.fullmatch(r"testunibinder[0-9a-z]{6}", registry["inputs"]["registryName"])
    role = named(plan, "registry-acrpull")
    assert role["inputs"]["roleDefinitionId"].endswith(f"/roleDefinitions/{ACR_PULL_ROLE}")
    assert role["inputs"]["roleDefinitionId"].startswith("/subscriptions/")
    assert role["inputs"]["principalType"] == "ServicePrincipal"
    assert role["inputs"]["principalId"] == KUBELET_OBJECT_ID  # the kubelet's identity, not the cluster's
    assert role["inputs"]["scope"] == (f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-testuni-binderhub/providers/"
                                       f"Microsoft.ContainerRegistry/registries/{registry['inputs']['registryName']}")
    assert role["options"]["deleteBeforeReplace"] is True


def test_protection_can_be_turned_off(render):
    plan = render(protectResources=False)
    assert not one(plan, CLUSTER)["protect"] and not one(plan, ACR)["protect"]


def test_dockerhub_and_jupyterhub_stacks_have_no_acr(render):
    plan = render(registry={"type": "dockerhub", "username": "testuni"}, secrets={"dockerHubToken": "t"})
    assert not resources_of(plan, ACR)
    assert [r["name"] for r in resources_of(plan, ROLE)] == ["ingress-network-contributor"]
    plan = render(mode="jupyterhub", auth={"type": "github", "clientId": "c", "allowedUsers": ["a"]},
                  secrets={"authClientSecret": "s"})
    assert not resources_of(plan, ACR)


def test_outputs_and_secret_kubeconfig(render):
    plan = render()
    outputs = plan["outputs"]
    assert outputs["resourceGroup"] == "rg-testuni-binderhub"
    assert outputs["clusterName"] == "aks-testuni"
    assert outputs["registryLoginServer"] == one(plan, ACR)["inputs"]["registryName"] + ".azurecr.io"
    assert outputs["kubeconfig"] == SECRET
    provider = one(plan, "pulumi:providers:kubernetes")
    assert provider["inputs"]["kubeconfig"] == SECRET


def test_every_child_has_a_component_parent(render):
    plan = render()
    top = {r["name"] for r in plan["resources"] if r["parent"] is None}
    assert top == {"resource-group", "cluster", "core-priority", "registry", "ingress", "hub"}
    for res in plan["resources"]:
        if res["type"].startswith("binderhub-azure:"):
            assert res["type"].count(":") == 2
