"""Pods against nodes (components/fit.py): what the stack renders, on what AKS offers pods."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components import charts, fit
from components.config import ConfigError
from components.quantities import GIB, MIB, jupyterhub_bytes, kubernetes_quantity
from components.vm_sizes import SIZES, VmSize
from tests.helpers import parsed, refusals

P = "binderhub-azure:"
GITHUB = {"type": "github", "clientId": "c", "allowedUsers": ["alice"]}
HUB = {"mode": "jupyterhub", "auth": GITHUB, "secrets": {"authClientSecret": "s"}}


cfg = parsed
refused = refusals


# ------------------------------------------------------------------------------ nodes


def test_kube_reserved_follows_the_aks_documentation(monkeypatch):
    # node-resource-reservations.md's two examples: 8 GB and 30 pods reserve 20 MB x 30 + 50 MB;
    # 4 GB and 70 pods reserve 25 % of the memory, as that is less than 20 MB x 70 + 50 MB.
    monkeypatch.setattr(fit, "MAX_PODS", 30)
    assert fit.kube_reserved_memory(8 * GIB) == 650 * MIB
    monkeypatch.setattr(fit, "MAX_PODS", 70)
    assert fit.kube_reserved_memory(4 * GIB) == GIB


@pytest.mark.parametrize(("size", "memory_mib", "cpu"), [
    ("Standard_D2as_v5", 8192 - 2048 - 100, Fraction(19, 10)),    # 25 % of 8 GiB < 5050 MiB
    ("Standard_D4s_v5", 16384 - 4096 - 100, Fraction(386, 100)),
    ("Standard_E4s_v5", 32768 - 5050 - 100, Fraction(386, 100)),  # 20 MiB x 250 pods + 50 MiB < 25 %
    ("Standard_D8s_v5", 32768 - 5050 - 100, Fraction(782, 100)),
])
def test_allocatable_per_size(size, memory_mib, cpu):
    assert fit.allocatable_memory(SIZES[size]) == memory_mib * MIB
    assert fit.allocatable_cpu(SIZES[size]) == cpu


# -------------------------------------------------------------------------- core pods

# The core pods' memory requests, as `helm template` of the pinned charts renders them with the
# stack's values (hub 1Gi, proxy 320Mi, 2 x user-scheduler 256Mi, binder 1Gi, Traefik 128Mi,
# cert-manager's controller, webhook and cainjector 128Mi each; Prometheus 2Gi, Grafana 256Mi).
CORE_MIB = {"hub": 1024, "proxy": 320, "user-scheduler": 256, "binder": 1024, "traefik": 128, "cert-manager": 128,
            "cert-manager-webhook": 128, "cert-manager-cainjector": 128, "prometheus": 2048, "kube-state-metrics": 0,
            "grafana": 256}


def core_mib(c) -> dict[str, tuple[int, int]]:
    return {p.name: (int(p.memory / MIB), p.replicas) for p in fit.core_pods(c)}


def test_core_pods_are_read_from_the_rendered_values():
    plain = core_mib(cfg())
    assert plain == {name: (CORE_MIB[name], 2 if name == "user-scheduler" else 1) for name in
                     ("hub", "proxy", "user-scheduler", "binder", "traefik", "cert-manager", "cert-manager-webhook",
                      "cert-manager-cainjector")}
    assert sum(m * r for m, r in plain.values()) == 3392  # 3.31 GiB
    big = cfg(monitoring={"enabled": True}, cluster={"systemPool": {"vmSize": "Standard_E2s_v5"}})
    assert sum(m * r for m, r in core_mib(big).values()) == 5696  # 5.56 GiB, the figure
    # helmValues count: a bigger hub needs a bigger node.
    three = {"requests": {"memory": "3Gi"}, "limits": {"memory": "3Gi"}}
    jh = core_mib(cfg(helmValues={"jupyterhub": {"hub": {"resources": three}}}))
    assert jh["hub"] == (3072, 1)


def test_monitoring_on_the_default_system_node_is_refused_with_the_size_that_fits():
    (line,) = refused(monitoring={"enabled": True})
    assert line.startswith(f"{P}cluster.systemPool.vmSize Standard_D2as_v5 cannot hold the core pods: they request "
                           "5.56 GiB of memory")
    assert "Standard_D2as_v5 has 5.40 GiB and 1.9 CPU for them" in line
    assert "the smallest size in components/vm_sizes.json that holds them is Standard_E2s_v5" in line
    # What the line names, fits; so do two default nodes, and JupyterHub's smaller core.
    cfg(monitoring={"enabled": True}, cluster={"systemPool": {"vmSize": "Standard_E2s_v5"}})
    cfg(monitoring={"enabled": True}, cluster={"systemPool": {"nodeCount": 2}})
    cfg(monitoring={"enabled": True}, **HUB)


def test_the_default_stacks_fit_their_system_node():
    for keys in ({}, HUB, {"security": {"cryptnono": True}}, {"speed": {"placeholders": 3}}):
        c = cfg(**keys)
        assert fit.system_pool_problems(c, fit.hub_release_values(c)) == []


def test_unvendored_chart_defaults_name_the_pinned_versions():
    sources = {name: entry["source"] for name, entry in fit.UNVENDORED_DEFAULTS.items()}
    assert f"prometheus-{charts.PROMETHEUS.version}" in sources["prometheus"]
    assert f"grafana-{charts.GRAFANA.version}" in sources["grafana"]
    assert f"v{charts.NVIDIA_DEVICE_PLUGIN.version}" in sources["nvidia-device-plugin"]


# -------------------------------------------------------------------------- user nodes


def test_a_user_limit_that_fits_no_node_is_refused_with_what_fits():
    (line,) = refused(limits={"memory": "14G"})
    assert line.startswith(f"{P}limits.memory 14G is more than a Standard_D4s_v5 node has for a user server (10.40 "
                           "GiB: 16 GiB less AKS's reservation (4.10 GiB), its own pods (0.50 GiB) and the build "
                           "daemon (1.00 GiB)); no server could start (users per node: 0); at most 10.4G fits")
    assert line.endswith("or use a larger cluster.userPool.vmSize such as Standard_E4s_v5")
    cfg(limits={"memory": "10.4G"})
    # Without the build daemon on the user nodes (a build pool), the same node holds 11G.
    cfg(limits={"memory": "11G"}, cluster={"buildPool": {"maxCount": 1}})
    assert refused(limits={"memory": "11G"})[0].startswith(f"{P}limits.memory 11G is more than")


def test_a_cpu_guarantee_larger_than_the_node_is_refused():
    (line,) = refused(limits={"cpu": 16})
    assert line.startswith(f"{P}limits.cpu 16 gives each server a CPU guarantee of 4 (a quarter of the limit), more "
                           "than a Standard_D4s_v5 node can schedule (3.36 of its 4 vCPUs after AKS's reservation and "
                           "the build daemon)")
    assert "at most 13.44 fits" in line
    cfg(limits={"cpu": 13})


def test_placeholders_that_cannot_fit_the_pool_are_refused():
    (line,) = refused(speed={"placeholders": 16})
    assert line == (f"{P}speed.placeholders 16 cannot all be placed: each holds one user's 2G and a Standard_D4s_v5 "
                    "node holds 5, so they need 4 user nodes but cluster.userPool.maxCount is 3; at most 15 fit, or "
                    "raise maxCount")
    cfg(speed={"placeholders": 15})


def test_profiles_fit_their_own_pool():
    gpu = {"gpuPool": {"vmSize": "Standard_NC4as_T4_v3"}}
    big = [{"displayName": "GPU", "image": "quay.io/jupyter/pytorch-notebook:cuda12-latest", "gpu": True,
            "memory": "24G"}]
    (line,) = refused(cluster=gpu, profiles=big, **HUB)
    assert line.startswith(f"{P}profiles[0].memory 24G is more than a Standard_NC4as_T4_v3 node has for a user server")
    assert "or use a larger cluster.gpuPool.vmSize such as Standard_NC6s_v3" in line
    cfg(cluster=gpu, profiles=[{**big[0], "memory": "22G"}], **HUB)
    wide = [{"displayName": "Big", "image": "quay.io/jupyter/scipy-notebook:latest", "cpu": 32}]
    assert refused(profiles=wide, **HUB)[0].startswith(f"{P}profiles[0].cpu 32 gives each server a CPU guarantee of 8")


def test_users_per_node_matches_the_cost_model():
    c = cfg()
    room = fit.user_room(c)
    assert room is not None and fit.users_per_node(room, jupyterhub_bytes("2G")) == 5
    assert fit.user_room(cfg(cluster={"buildPool": {"maxCount": 1}})).memory - room.memory == GIB  # the build daemon


# ------------------------------------------------------------------------------- GPUs


def test_a_gpu_size_outside_the_gpu_pool_is_refused():
    (line,) = refused(cluster={"userPool": {"vmSize": "Standard_NC4as_T4_v3"}})
    assert line.startswith(f"{P}cluster.userPool.vmSize Standard_NC4as_T4_v3 is a GPU size (1 GPU): only "
                           "cluster.gpuPool gets the GPU driver and device plugin")
    assert refused(cluster={"systemPool": {"vmSize": "Standard_NC6s_v3"}})[0].startswith(
        f"{P}cluster.systemPool.vmSize Standard_NC6s_v3 is a GPU size")


def test_a_size_without_gpus_in_the_gpu_pool_is_refused(monkeypatch):
    # Every N-series size vm_sizes.json lists has a GPU; an FPGA size (NP) passes the name check.
    monkeypatch.setitem(SIZES, "Standard_NP10s", VmSize(10, 168, 736, 0))
    (line,) = refused(cluster={"gpuPool": {"vmSize": "Standard_NP10s"}})
    assert line.startswith(f"{P}cluster.gpuPool.vmSize Standard_NP10s has no NVIDIA GPU")
    assert all(s.gpus == 0 for name, s in SIZES.items() if not name.startswith("Standard_N"))


def test_an_unknown_size_is_left_to_the_note_and_the_preflight():
    c = cfg(cluster={"userPool": {"vmSize": "Standard_D4pls_v6"}, "systemPool": {"vmSize": "Standard_D2pls_v6"}})
    assert fit.user_room(c) is None and fit.system_room(c) is None


# ---------------------------------------------------------------- requests within limits


def test_a_build_memory_of_1g_is_1gi_for_kubernetes():
    c = cfg(limits={"buildMemory": "1G"})
    dind = fit.hub_release_values(c)["dind"]["resources"]
    assert dind["limits"]["memory"] == "1Gi"
    assert kubernetes_quantity(dind["limits"]["memory"]) >= kubernetes_quantity(dind["requests"]["memory"])
    (line,) = refused(limits={"buildMemory": "512M"})
    assert line == (f"{P}limits.buildMemory 512M is below the build daemon's memory request (1Gi): Kubernetes "
                    "refuses a pod whose limit is under its request, so no build would ever run; set at least 1G")


def test_helm_values_with_a_request_above_the_limit_are_refused():
    hub = {"resources": {"requests": {"memory": "2Gi"}, "limits": {"memory": "2G"}}}
    # The helmValues gate refuses it first (invariant "limits and guarantees", compared as
    # Kubernetes compares quantities); the fit module's own check covers the stack's values.
    (line,) = refused(helmValues={"jupyterhub": {"hub": hub}})
    assert line.startswith(f"{P}helmValues.jupyterhub.hub.resources.requests.memory is refused: it requests more "
                           "memory than its limit")
    bad = {"resources": {"requests": {"memory": "lots"}}}
    assert refused(helmValues={"binderhub": bad})[0].startswith(
        f"{P}helmValues.binderhub.resources.requests.memory is refused: it is not a Kubernetes quantity")


memories = st.builds(lambda n, s: f"{n}{s}", st.integers(min_value=1, max_value=64), st.sampled_from("MG"))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(memory=memories, build=memories, cpu=st.sampled_from([0.5, 1, 2, 4, 8, 16]), binder=st.booleans())
def test_every_rendered_request_is_within_its_limit_or_the_config_is_refused(memory, build, cpu, binder):
    keys: dict[str, Any] = {"limits": {"memory": memory, "cpu": cpu}}
    if binder:
        keys["limits"]["buildMemory"] = build
    else:
        keys.update(HUB)
    try:
        c = cfg(**keys)
    except ConfigError:
        return
    for path, block in fit.resource_blocks(fit.hub_release_values(c)):
        requests, limits = block.get("requests") or {}, block.get("limits") or {}
        for name in set(requests) & set(limits):
            assert kubernetes_quantity(requests[name]) <= kubernetes_quantity(limits[name]), (path, name)
    # and a server of that size fits a user node
    room = fit.user_room(c)
    assert room is not None and fit.users_per_node(room, jupyterhub_bytes(memory)) >= 1


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(memory=st.builds(lambda n, t, s: f"{n}.{t}{s}" if t else f"{n}{s}", st.integers(min_value=1, max_value=9),
                        st.integers(min_value=0, max_value=9), st.sampled_from("G")))
def test_a_placeholder_requests_exactly_what_kubespawner_gives_a_user(memory):
    c = cfg(limits={"memory": memory}, speed={"placeholders": 1})
    jh = fit.hub_release_values(c)["jupyterhub"]
    placeholder = jh["scheduling"]["userPlaceholder"]["resources"]["requests"]
    # KubeSpawner's pod asks for singleuser.memory.guarantee as JupyterHub reads it.
    assert kubernetes_quantity(placeholder["memory"]) == jupyterhub_bytes(jh["singleuser"]["memory"]["guarantee"])
    assert kubernetes_quantity(placeholder["cpu"]) == kubernetes_quantity(jh["singleuser"]["cpu"]["guarantee"])
