"""Launch speed, GPU pool, profiles and interfaces: each switch rendered and checked."""

from __future__ import annotations

import pytest

from components import charts
from components.config import ConfigError
from components.config_load import parse_config
from tests.helpers import named, one, raw_config, release, resources_of

GITHUB = {"type": "github", "clientId": "c", "allowedUsers": ["alice"]}
HUB = {"mode": "jupyterhub", "auth": GITHUB, "secrets": {"authClientSecret": "s"}}
PROFILES = [
    {"displayName": "Python", "image": "quay.io/jupyter/scipy-notebook:latest", "default": True},
    {"displayName": "RStudio", "description": "R with RStudio", "image": "rocker/binder:latest",
     "defaultUrl": "/rstudio", "memory": "4G"},
    {"displayName": "GPU", "image": "quay.io/jupyter/pytorch-notebook:cuda12-latest", "gpu": True},
]
GPU_POOL = {"gpuPool": {"vmSize": "Standard_NC4as_T4_v3", "minCount": 0, "maxCount": 2}}


def test_speed_defaults_in_binder_mode(render):
    jh = release(render(), "binderhub")["values"]["jupyterhub"]
    assert jh["scheduling"]["userScheduler"]["enabled"] is True
    assert jh["scheduling"]["userPlaceholder"] == {"enabled": False, "replicas": 0}
    assert jh["singleuser"]["defaultUrl"] == "/lab"
    assert "prePuller" not in jh  # the BinderHub chart's own choice (off) stands


def test_placeholders_and_pre_puller(render):
    values = release(render(speed={"placeholders": 3, "userScheduler": False}, **HUB), "jupyterhub")["values"]
    placeholder = values["scheduling"]["userPlaceholder"]
    assert (placeholder["enabled"], placeholder["replicas"]) == (True, 3)
    assert values["scheduling"]["userScheduler"]["enabled"] is False
    assert values["prePuller"] == {"hook": {"enabled": True}, "continuous": {"enabled": True}}
    off = release(render(speed={"prePuller": False}, **HUB), "jupyterhub")["values"]["prePuller"]
    assert off == {"hook": {"enabled": False}, "continuous": {"enabled": False}}


def test_user_pool_is_dedicated(render):
    pool = named(render(), "cluster-user")["inputs"]
    assert pool["nodeTaints"] == ["hub.jupyter.org/dedicated=user:NoSchedule"]
    assert pool["nodeLabels"] == {"hub.jupyter.org/node-purpose": "user"}
    system = one(render(), "azure-native:containerservice:ManagedCluster")["inputs"]["agentPoolProfiles"][0]
    assert "nodeTaints" not in system


def test_registry_is_in_the_cluster_region(render):
    plan = render(**{"azure-native:location": "uksouth"})
    assert one(plan, "azure-native:containerregistry:Registry")["inputs"]["location"] == "uksouth"
    assert one(plan, "azure-native:containerservice:ManagedCluster")["inputs"]["location"] == "uksouth"


def test_gpu_pool_and_profiles(render):
    plan = render(cluster=GPU_POOL, profiles=PROFILES, **HUB)
    gpu = named(plan, "cluster-gpu")["inputs"]
    assert gpu["vmSize"] == "Standard_NC4as_T4_v3" and gpu["enableAutoScaling"] is True
    assert (gpu["minCount"], gpu["maxCount"]) == (0, 2)
    assert "sku=gpu:NoSchedule" in gpu["nodeTaints"]
    assert named(plan, "cluster-gpu")["options"]["ignoreChanges"] == ["count"]
    values = release(plan, "jupyterhub")["values"]
    assert charts.schema_errors(charts.JUPYTERHUB, values) == []
    python, rstudio, gpu_profile = values["singleuser"]["profileList"]
    assert python["default"] is True and python["kubespawner_override"]["image"].startswith("quay.io/jupyter/")
    assert rstudio["kubespawner_override"]["default_url"] == "/rstudio"
    assert rstudio["kubespawner_override"]["mem_limit"] == "4G"
    override = gpu_profile["kubespawner_override"]
    assert override["extra_resource_limits"] == {"nvidia.com/gpu": "1"}
    assert override["node_selector"] == {"accelerator": "nvidia"}
    keys = {t["key"] for t in override["tolerations"]}
    assert {"sku", "hub.jupyter.org/dedicated"} <= keys


def test_no_gpu_pool_by_default(render):
    assert [r["name"] for r in resources_of(render(), "azure-native:containerservice:AgentPool")] == ["cluster-user"]


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ({"profiles": PROFILES[:1]}, "binderhub-azure:profiles is only used when mode is jupyterhub"),
        ({**HUB, "profiles": [PROFILES[0], PROFILES[0]]}, "binderhub-azure:profiles may mark at most one"),
        ({**HUB, "profiles": [PROFILES[2]]}, "binderhub-azure:profiles[0].gpu needs cluster.gpuPool"),
        ({**HUB, "profiles": [{"displayName": "x", "image": "no-tag"}]},
         "binderhub-azure:profiles[0].image needs a tag (name:tag) or a digest"),
        ({"cluster": {"gpuPool": {"vmSize": "Standard_D4s_v5"}}},
         "binderhub-azure:cluster.gpuPool.vmSize must be an N-series"),
        ({"cluster": {"gpuPool": {"minCount": 3, "maxCount": 1}}},
         "binderhub-azure:cluster.gpuPool.maxCount must be >= minCount"),
        ({"speed": {"placeholders": -1}}, "binderhub-azure:speed.placeholders must be >= 0"),
        ({"defaultUrl": "lab"}, "binderhub-azure:defaultUrl must be a path"),
    ],
)
def test_feature_config_errors(keys, expected):
    keys = dict(keys)
    secrets = keys.pop("secrets", None)
    with pytest.raises(ConfigError) as info:
        parse_config(*raw_config(secrets, **keys))
    assert any(p.startswith(expected) for p in info.value.problems), info.value.problems


def test_gpu_device_plugin_runs_on_gpu_nodes_only(render):
    plan = render(cluster=GPU_POOL, profiles=PROFILES, **HUB)
    assert named(plan, "cluster-gpu")["inputs"]["gpuProfile"] == {"driver": "Install"}
    plugin = release(plan, "nvidia-device-plugin")
    assert (plugin["chart"], plugin["version"]) == ("nvidia-device-plugin", "0.20.0")
    assert plugin["repository"] == "https://nvidia.github.io/k8s-device-plugin"
    values = plugin["values"]
    term = values["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert term == [{"matchExpressions": [{"key": "accelerator", "operator": "In", "values": ["nvidia"]}]}]
    keys = {t["key"] for t in values["tolerations"]}
    assert {"sku", "nvidia.com/gpu", "hub.jupyter.org/dedicated", "CriticalAddonsOnly"} <= keys
    assert not [r for r in render()["helmReleases"] if r["name"] == "nvidia-device-plugin"]
