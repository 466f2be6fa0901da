"""Issue 12: what a first real deployment (or a later upgrade) would have hit, tested offline:
build placement, warm capacity, ordering on a fresh subscription, and version upgrades."""

from __future__ import annotations

import json

import pytest

from components import charts, cluster_spec, hub_spec, ingress_spec
from components import practices_spec as pv
from components.config import ConfigError
from components.config_load import parse_config
from tests.helpers import SECRET, named, raw_config, release, resources_of
from tests.test_hub_spec import SECRETS

POOL = "azure-native:containerservice:AgentPool"
SPOT = {"userPool": {"spot": True, "maxCount": 5}}
GITHUB = {"type": "github", "clientId": "gh-client", "allowedOrganizations": ["testuni"], "admins": ["alice"]}
HUB = {"mode": "jupyterhub", "auth": GITHUB, "secrets": {"authClientSecret": "s"}}
ENTRA_IDS = ["11111111-2222-3333-4444-555555555555"]


def cfg(secrets=None, **keys):
    return parse_config(*raw_config(secrets, **keys))


# ---- builds never on the system node ----

def test_spot_user_pool_gets_an_on_demand_build_pool_from_zero(render):
    plan = render(cluster=SPOT)
    pools = {p["name"]: p["inputs"] for p in resources_of(plan, POOL)}
    assert set(pools) == {"cluster-user", "cluster-build"}
    build = pools["cluster-build"]
    assert build["agentPoolName"] == "build" and build["mode"] == "User"
    assert (build["minCount"], build["count"], build["maxCount"]) == (0, 0, 1)
    assert build["enableAutoScaling"] is True
    assert "scaleSetPriority" not in build  # never spot
    assert build["nodeTaints"] == [cluster_spec.USER_TAINT]
    assert pools["cluster-user"]["scaleSetPriority"] == "Spot"
    # The selector that places build pods, dind and the image cleaner is the build pool's label,
    # not the system pool's ("core") nor the user pool's.
    values = release(plan, "binderhub")["values"]
    selector = values["config"]["BinderHub"]["build_node_selector"]
    assert selector == {"hub.jupyter.org/node-purpose": "build"}
    assert selector.items() <= build["nodeLabels"].items()
    system = resources_of(plan, "azure-native:containerservice:ManagedCluster")[0]["inputs"]["agentPoolProfiles"][0]
    assert not selector.items() <= system["nodeLabels"].items()
    assert not selector.items() <= pools["cluster-user"]["nodeLabels"].items()
    # User servers require the user purpose, so they never land on build nodes.
    assert values["jupyterhub"]["scheduling"]["userPods"]["nodeAffinity"]["matchNodePurpose"] == "require"


def test_build_pool_taint_is_one_the_pinned_build_pods_tolerate():
    """Build pods get fixed tolerations in the pinned BinderHub code (build.py at af9ca8b1:
    hub.jupyter.org/dedicated=user, both spellings), so the build pool may carry only that taint."""
    key, rest = cluster_spec.USER_TAINT.split("=")
    value, effect = rest.split(":")
    assert {"key": key, "operator": "Equal", "value": value, "effect": effect} in cluster_spec.USER_TOLERATIONS


def test_build_pool_is_opt_in_without_spot_and_binderhub_only(render):
    assert {p["name"] for p in resources_of(render(), POOL)} == {"cluster-user"}
    plan = render(cluster={"buildPool": {"vmSize": "Standard_D8s_v5", "maxCount": 3}})
    build = named(plan, "cluster-build")["inputs"]
    assert (build["vmSize"], build["maxCount"]) == ("Standard_D8s_v5", 3)
    with pytest.raises(ConfigError) as err:
        cfg(secrets=HUB["secrets"], mode="jupyterhub", auth=GITHUB, cluster={"buildPool": {"maxCount": 2}})
    assert "binderhub-azure:cluster.buildPool is only used when mode is binderhub (image builds)" in err.value.problems


# ---- warm capacity ----

def _priority_class_names(jh: dict) -> dict[str, list[str]]:
    """Each z2jh pod spec and the priorityClassName entries the chart writes into it: its own when
    `scheduling.podPriority.enabled` (z2jh 4.4.0 templates/hub/deployment.yaml, proxy/deployment.yaml,
    scheduling/user-scheduler/deployment.yaml, scheduling/user-placeholder/statefulset.yaml), then
    the pod's `extraPodSpec` as given."""
    chart_own = bool(jh.get("scheduling", {}).get("podPriority", {}).get("enabled"))
    specs = {"hub": jh["hub"], "proxy": jh["proxy"]["chp"], "user-scheduler": jh["scheduling"]["userScheduler"],
             "user-placeholder": jh["scheduling"]["userPlaceholder"]}
    found = {}
    for pod, block in specs.items():
        names = ["<chart's class>"] if chart_own else []
        extra = (block.get("extraPodSpec") or {}).get("priorityClassName")
        found[pod] = names + ([extra] if extra else [])
    return found


@pytest.mark.parametrize("mode", ["binderhub", "jupyterhub"])
def test_placeholders_rank_below_users_and_every_pod_names_its_class_once(mode):
    extra = {k: v for k, v in HUB.items() if k != "secrets"} if mode == "jupyterhub" else {}
    secrets = HUB["secrets"] if mode == "jupyterhub" else None
    wiring = hub_spec.dockerhub_wiring(cfg(), "t")

    def jh(placeholders):
        c = cfg(secrets=secrets, speed={"placeholders": placeholders}, **extra)
        values = hub_spec.release_values(c, SECRETS, wiring if c.binder else None)
        return values["jupyterhub"] if c.binder else values

    on = jh(2)
    placeholder = on["scheduling"]["userPlaceholder"]
    assert (placeholder["enabled"], placeholder["replicas"]) == (True, 2)
    assert _priority_class_names(on) == {
        "hub": [pv.CORE_PRIORITY_CLASS], "proxy": [pv.CORE_PRIORITY_CLASS], "user-scheduler": [pv.CORE_PRIORITY_CLASS],
        "user-placeholder": [pv.USER_PLACEHOLDER_PRIORITY_CLASS]}
    assert pv.user_placeholder_priority_class()["value"] == -10 < 0  # users (no class) preempt placeholders
    off = jh(0)
    assert all(len(names) <= 1 for names in _priority_class_names(off).values())
    assert off["scheduling"]["userPlaceholder"] == {"enabled": False, "replicas": 0}


def test_the_placeholder_class_exists_before_the_hub_release(render):
    plan = render(speed={"placeholders": 1})
    klass = named(plan, "core-priority-placeholder-class")["inputs"]
    assert (klass["metadata"]["name"], klass["value"]) == (pv.USER_PLACEHOLDER_PRIORITY_CLASS, -10)
    assert "core-priority-placeholder-class" in named(plan, "hub-release")["dependsOn"]


# ---- ordering on a fresh subscription ----

ADMINS = [{"objectId": "0a1b2c3d-0000-4000-8000-000000000001", "type": "ServicePrincipal"},
          {"objectId": "0a1b2c3d-0000-4000-8000-000000000002", "type": "User"}]


def test_every_kubernetes_resource_waits_for_the_cluster_admin_roles(render):
    plan = render(cluster={"entraAdminGroupIds": ENTRA_IDS, "disableLocalAccounts": True, "adminPrincipals": ADMINS})
    provider = named(plan, "cluster-k8s")
    assert {f"cluster-admin-{a['objectId']}" for a in ADMINS} <= set(provider["dependsOn"])
    kubernetes = [r for r in plan["resources"]
                  if r["type"].startswith("kubernetes:") and r["type"] != "pulumi:providers:kubernetes"]
    assert len([r for r in kubernetes if r["type"] == "kubernetes:helm.sh/v3:Release"]) >= 3
    for resource in kubernetes:
        # The engine creates a provider after its dependencies, and each of these uses it.
        assert resource["options"].get("provider") == "cluster-k8s", resource["name"]


def test_no_role_to_wait_for_without_entra(render):
    plan = render()
    assert not [d for d in named(plan, "cluster-k8s")["dependsOn"] if d.startswith("cluster-admin")]
    assert not [r for r in plan["resources"] if r["name"].startswith("cluster-admin")]


# ---- upgrades ----

def test_a_version_bump_upgrades_every_pool(render):
    def pools(version):
        plan = render(cluster={**SPOT, "gpuPool": {"maxCount": 1}, "kubernetesVersion": version})
        cluster = resources_of(plan, "azure-native:containerservice:ManagedCluster")[0]
        return cluster, {p["name"]: p for p in resources_of(plan, POOL)}

    old_cluster, old = pools("1.35")
    new_cluster, new = pools("1.36")
    assert (old_cluster["inputs"]["kubernetesVersion"], new_cluster["inputs"]["kubernetesVersion"]) == ("1.35", "1.36")
    assert set(old) == set(new) == {"cluster-user", "cluster-gpu", "cluster-build"}
    for name in new:
        assert old[name]["inputs"]["orchestratorVersion"] == "1.35"
        assert new[name]["inputs"]["orchestratorVersion"] == "1.36"
        # The control plane first: each pool depends on the cluster.
        assert "cluster-aks" in new[name]["dependsOn"]
        # Nothing else about the pool changes with the version.
        strip = {k: v for k, v in new[name]["inputs"].items() if k != "orchestratorVersion"}
        assert json.dumps(strip, sort_keys=True) == json.dumps(
            {k: v for k, v in old[name]["inputs"].items() if k != "orchestratorVersion"}, sort_keys=True)
    # The inline system pool carries the same version, so the cluster's own PUT upgrades it with
    # the control plane (AKS: all pools specified and equal to the control plane).
    assert old_cluster["inputs"]["agentPoolProfiles"][0]["orchestratorVersion"] == "1.35"
    assert new_cluster["inputs"]["agentPoolProfiles"][0]["orchestratorVersion"] == "1.36"


# ---- builds that finish ----

def test_dind_and_repo2docker_pinned_to_what_mybinder_runs_and_overridable():
    values = hub_spec.release_values(cfg(), SECRETS, hub_spec.dockerhub_wiring(cfg(), "t"))
    assert values["dind"]["daemonset"]["image"]["tag"] == "27.5.1-dind"
    assert values["config"]["KubernetesBuildExecutor"]["build_image"] == (
        "quay.io/jupyterhub/repo2docker:2026.4.1.dev44-g97bb4e45a")
    # The chart's own default dind tag is the one that hangs after the push.
    assert charts.defaults(charts.BINDERHUB)["dind"]["daemonset"]["image"]["tag"] == "28.3.3-dind"
    custom = cfg(helmValues={"binderhub": {
        "dind": {"daemonset": {"image": {"tag": "27.5.0-dind"}}},
        "config": {"KubernetesBuildExecutor": {"build_image": "quay.io/jupyterhub/repo2docker:2025.1.0"}}}})
    overridden = hub_spec.release_values(custom, SECRETS, hub_spec.dockerhub_wiring(custom, "t"))
    assert overridden["dind"]["daemonset"]["image"]["tag"] == "27.5.0-dind"
    assert overridden["config"]["KubernetesBuildExecutor"]["build_image"].endswith(":2025.1.0")
    assert overridden["config"]["KubernetesBuildExecutor"]["resources"]  # merged, not replaced


# ---- long requests, Docker Hub pulls, live keys ----

@pytest.mark.parametrize("https", [True, False])
def test_traefik_timeouts_and_service_spec(https):
    keys = {} if https else {"https": False, "contactEmail": None}
    values = ingress_spec.traefik_values(cfg(**keys), "pip-testuni-ingress", "rg-testuni-binderhub")
    timeouts = values["ports"]["websecure"]["transport"]["respondingTimeouts"]
    assert timeouts == {"readTimeout": 600, "idleTimeout": 600}
    if not https:  # the site is then served on `web`
        assert values["ports"]["web"]["transport"]["respondingTimeouts"] == timeouts
    assert "type" not in values["service"] and values["service"]["spec"]["type"] == "LoadBalancer"
    assert values["service"]["spec"]["externalTrafficPolicy"] == "Local"
    assert charts.schema_errors(charts.TRAEFIK, values) == []
    # The chart keeps its ports; ours only add timeouts (and the redirect).
    merged = charts.coalesce(charts.TRAEFIK, values)
    assert merged["ports"]["websecure"]["port"] == charts.defaults(charts.TRAEFIK)["ports"]["websecure"]["port"]


def test_dockerhub_user_pods_pull_with_the_token_as_a_secret(render):
    token = "dckr_pat_plaintext-must-not-leak"
    plan = render(registry={"type": "dockerhub", "username": "testuni"}, secrets={"dockerHubToken": token})
    values = release(plan, "binderhub")["values"]
    assert values["jupyterhub"]["imagePullSecret"] == {
        "create": True, "automaticReferenceInjection": True, "registry": "https://index.docker.io/v1/",
        "username": "testuni", "password": SECRET}
    assert token not in json.dumps(plan)
    # ACR needs none: nodes pull with the kubelet identity.
    assert "imagePullSecret" not in release(render(), "binderhub")["values"]["jupyterhub"]
    # The values pass the bundled JupyterHub chart's schema (create: true needs all three).
    c = cfg(registry={"type": "dockerhub", "username": "testuni"}, secrets={"dockerHubToken": "t"})
    plain = hub_spec.release_values(c, SECRETS, hub_spec.dockerhub_wiring(c, "t"))
    assert charts.schema_errors(charts.BINDERHUB, plain) == []


# ---- region ----

def test_example_stacks_avoid_regions_with_aks_capacity_refusals():
    """West Europe has refused new (and Free-tier) AKS clusters at times (Azure/AKS#4185, #4301)."""
    import pathlib

    import yaml

    root = pathlib.Path(__file__).resolve().parent.parent
    stacks = [root / "Pulumi.dev.yaml", *sorted((root / "examples").glob("Pulumi.*.yaml"))]
    assert len(stacks) >= 4
    for path in stacks:
        location = yaml.safe_load(path.read_text())["config"]["azure-native:location"]
        assert location not in {"westeurope"}, path.name


def test_build_pool_is_costed_from_zero():
    from tools import cost

    doc = cost.estimate(cfg(cluster=SPOT), offline=True)
    build = [row for row in doc["items"] if row["name"].startswith("Build nodes")]
    assert len(build) == 1 and (build[0]["idleQuantity"], build[0]["quantity"]) == (0, 1)
    assert not [row for row in cost.estimate(cfg(), offline=True)["items"] if row["name"].startswith("Build nodes")]
