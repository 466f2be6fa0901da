"""Do the pods the stack asks for fit the nodes it makes? (pure)

Every number here is either a published rule with its source or read from what the stack
renders: the release values, merged with each chart's defaults as Helm merges them.

Nodes. What a node offers pods is AKS's *allocatable* memory and CPU (MicrosoftDocs/azure-aks-docs,
articles/aks/node-resource-reservations.md, "AKS 1.29 and later"): the VM's memory less
kube-reserved, the smaller of 20 MB per pod slot + 50 MB and 25 % of the memory (with Azure CNI
Overlay's default of 250 pod slots), and less the kubelet's 100 Mi eviction threshold; its CPU
less the kube-reserved millicores of that page's table. This module reads MB as MiB, which
reserves a little more, never less. The VM's vCPUs, memory and GPUs come from vm_sizes.json.

AKS's own pods (Cilium's agent, the disk and file CSI node drivers, cloud-node-manager on every
node; CoreDNS, metrics-server and konnectivity on system nodes) request memory too, and AKS
publishes no total: `AKS_OWN_PODS_MEMORY` is an allowance for them on every node (observed
requests: CoreDNS 70Mi and cloud-node-manager 50Mi, Azure/AKS#5251; Cilium's agent 100Mi,
Azure/AKS#5244). Their CPU requests are not published either, so the CPU checks here are
necessary conditions only (a request larger than the node's allocatable CPU can never be
scheduled), not a promise that a smaller one will be.

Pods. The core pods are every pod of the stack's releases that tolerates neither the user taint
nor the GPU taint, so lands on the system pool: the hub, its proxy and user schedulers, the
binder, Traefik, cert-manager's controller, webhook and cainjector, and with monitoring
Prometheus's server (with its config reloader), kube-state-metrics and Grafana. Their requests
are read from the values the stack renders, merged with the chart defaults in chart_data, or for
the charts not vendored there with the defaults recorded in `UNVENDORED_DEFAULTS` (with their
source). DaemonSets that tolerate every taint (Prometheus's node exporter, cryptnono) count on
every node. Helm hooks (z2jh's image awaiter, cert-manager's start-up check) run before or after
the release's pods and request nothing by default; they are not counted.

Checked with `helm template` of the pinned charts while this was written (JupyterHub 4.4.0,
BinderHub af9ca8b1 with JupyterHub 4.2.0, Traefik 41.3.0, cert-manager v1.21.1, prometheus
29.27.0, grafana 12.11.1): the sums here match it, and with monitoring on Binder's core pods
request 5.56 GiB of memory.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from . import charts, hub_spec, ingress_spec, monitoring_spec
from .config_fields import PROJECT
from .quantities import GIB, MIB, gib, jupyterhub_bytes, kubernetes_quantity
from .vm_sizes import SIZES, VmSize

if TYPE_CHECKING:
    from .config import StackConfig

# ------------------------------------------------------------------------------- nodes (AKS)

MAX_PODS = 250  # Azure CNI Overlay's default pods per node
KUBE_RESERVED_PER_POD = 20 * MIB
KUBE_RESERVED_BASE = 50 * MIB
EVICTION_THRESHOLD = 100 * MIB
# (vCPUs at least, kube-reserved millicores), node-resource-reservations.md's CPU table.
KUBE_RESERVED_CPU = ((64, 740), (32, 420), (16, 260), (8, 180), (4, 140), (2, 100), (1, 60))
AKS_OWN_PODS_MEMORY = 512 * MIB


def kube_reserved_memory(memory: int | Fraction) -> Fraction:
    """AKS's kube-reserved memory of a node with `memory` bytes."""
    return min(Fraction(KUBE_RESERVED_PER_POD * MAX_PODS + KUBE_RESERVED_BASE), Fraction(memory) / 4)


def allocatable_memory(size: VmSize) -> Fraction:
    """Bytes the kubelet lets pods request on a node of this size."""
    memory = Fraction(str(size.memory_gib)) * GIB
    return memory - kube_reserved_memory(memory) - EVICTION_THRESHOLD


def allocatable_cpu(size: VmSize) -> Fraction:
    """Cores the kubelet lets pods request on a node of this size."""
    reserved = next((milli for cores, milli in KUBE_RESERVED_CPU if size.vcpus >= cores), 0)
    return Fraction(size.vcpus * 1000 - reserved, 1000)


# ------------------------------------------------------------------------------------ pods


@dataclass(frozen=True)
class Pod:
    """What one replica of a pod requests, and how many replicas there are."""

    name: str
    memory: Fraction
    cpu: Fraction
    replicas: int = 1


def requests_of(resources: Any) -> tuple[Fraction, Fraction]:
    """(memory bytes, CPU cores) a container with these `resources` requests. Kubernetes takes a
    missing request from the limit (kubernetes.io, "Resource Management for Pods and
    Containers": a limit without a request sets the request to the limit)."""
    resources = resources if isinstance(resources, Mapping) else {}
    requests = resources.get("requests") if isinstance(resources.get("requests"), Mapping) else {}
    limits = resources.get("limits") if isinstance(resources.get("limits"), Mapping) else {}
    found = []
    for name in ("memory", "cpu"):
        value = requests.get(name, limits.get(name))
        found.append(Fraction(0) if value is None else kubernetes_quantity(value))
    return found[0], found[1]


def _pod(name: str, *resources: Any, replicas: Any = 1) -> Pod:
    """A pod of one or more containers: their requests add up."""
    memory = cpu = Fraction(0)
    for block in resources:
        m, c = requests_of(block)
        memory, cpu = memory + m, cpu + c
    return Pod(name, memory, cpu, int(replicas) if isinstance(replicas, (int, float)) else 1)


def _get(values: Mapping[str, Any], path: str, default: Any = None) -> Any:
    node: Any = values
    for key in path.split("."):
        if not isinstance(node, Mapping) or key not in node:
            return default
        node = node[key]
    return node


# Defaults of the charts whose values chart_data does not vendor: only the keys read here.
UNVENDORED_DEFAULTS: dict[str, dict[str, Any]] = {
    "prometheus": {
        "source": "prometheus-community/helm-charts tag prometheus-29.27.0 (charts/prometheus/values.yaml; its "
                  "kube-state-metrics 8.4.0 and prometheus-node-exporter 4.56.1 subcharts' values.yaml)",
        "values": {
            "server": {"replicaCount": 1, "resources": {}},
            "configmapReload": {"prometheus": {"enabled": True, "resources": {}}},
            "kube-state-metrics": {"enabled": True, "replicas": 1, "resources": {}},
            # A DaemonSet that tolerates every NoSchedule taint: on every node.
            "prometheus-node-exporter": {"enabled": True, "resources": {}},
        },
    },
    "grafana": {
        "source": "grafana-community/helm-charts tag grafana-12.11.1 (charts/grafana/values.yaml: no sidecars, "
                  "no init container without persistence)",
        "values": {"replicas": 1, "resources": {}},
    },
    "cryptnono": {
        "source": "cryptnono/cryptnono helm-chart/values.yaml (every container's resources: {}), as of ff81fd9 "
                  "(2026-01-02); a DaemonSet that tolerates every NoSchedule taint",
        "values": {"detectors": {"execwhacker": {"resources": {}}, "monero": {"resources": {}}},
                   "fetchKernelHeaders": {"resources": {}}},
    },
    "nvidia-device-plugin": {
        "source": "NVIDIA/k8s-device-plugin tag v0.20.0 (deployments/helm/nvidia-device-plugin/values.yaml)",
        "values": {"resources": {}},
    },
}


def _unvendored(chart: str, values: Mapping[str, Any]) -> dict[str, Any]:
    return charts.merge(UNVENDORED_DEFAULTS[chart]["values"], values)


def hub_release_values(cfg: StackConfig) -> dict[str, Any]:
    """The hub release's values as the stack renders them (stand-ins for secrets and registry),
    with the user's helmValues merged."""
    stand_in = "0" * 64
    secrets = hub_spec.HubSecrets(stand_in, stand_in, stand_in, stand_in, stand_in, stand_in)
    wiring = None
    if cfg.uses_acr:
        wiring = hub_spec.acr_wiring(cfg, "registry.azurecr.io", "user", stand_in)
    elif cfg.uses_dockerhub:
        wiring = hub_spec.dockerhub_wiring(cfg, stand_in)
    return hub_spec.release_values(cfg, secrets, wiring)


def merged_jupyterhub(cfg: StackConfig, values: Mapping[str, Any]) -> dict[str, Any]:
    """The JupyterHub chart's values as Helm sees them (BinderHub's `jupyterhub:` block in binderhub mode)."""
    if cfg.binder:
        return charts.coalesce(charts.BINDERHUB, values)["jupyterhub"]
    return charts.coalesce(charts.JUPYTERHUB, values)


def core_pods(cfg: StackConfig, values: Mapping[str, Any] | None = None) -> list[Pod]:
    """Every pod of the stack's releases that runs on the system pool (see the module docstring)."""
    values = hub_release_values(cfg) if values is None else values
    jh = merged_jupyterhub(cfg, values)
    pods = [_pod("hub", _get(jh, "hub.resources")), _pod("proxy", _get(jh, "proxy.chp.resources"))]
    https = _get(jh, "proxy.https", {})
    if https.get("enabled") and https.get("hosts") and https.get("type") == "letsencrypt":
        pods.append(_pod("autohttps", _get(jh, "proxy.traefik.resources")))  # z2jh's own HTTPS proxy
    if _get(jh, "scheduling.userScheduler.enabled"):
        pods.append(_pod("user-scheduler", _get(jh, "scheduling.userScheduler.resources"),
                         replicas=_get(jh, "scheduling.userScheduler.replicas", 1)))
    if cfg.binder:
        binder = charts.coalesce(charts.BINDERHUB, values)
        pods.append(_pod("binder", binder.get("resources"), replicas=binder.get("replicas", 1)))
    traefik = charts.coalesce(charts.TRAEFIK, ingress_spec.traefik_values(cfg, "ip", "group"))
    pods.append(_pod("traefik", traefik.get("resources"), replicas=_get(traefik, "deployment.replicas", 1)))
    manager = charts.coalesce(charts.CERT_MANAGER, ingress_spec.cert_manager_values())
    pods.append(_pod("cert-manager", manager.get("resources"), replicas=manager.get("replicaCount", 1)))
    pods.append(_pod("cert-manager-webhook", _get(manager, "webhook.resources"),
                     replicas=_get(manager, "webhook.replicaCount", 1)))
    if _get(manager, "cainjector.enabled", True):
        pods.append(_pod("cert-manager-cainjector", _get(manager, "cainjector.resources"),
                         replicas=_get(manager, "cainjector.replicaCount", 1)))
    if cfg.monitoring.enabled:
        prometheus = _unvendored("prometheus", monitoring_spec.prometheus_values(cfg))
        reload = _get(prometheus, "configmapReload.prometheus")
        containers = [_get(prometheus, "server.resources")] + ([reload.get("resources")] if reload["enabled"] else [])
        pods.append(_pod("prometheus", *containers, replicas=_get(prometheus, "server.replicaCount", 1)))
        state = prometheus["kube-state-metrics"]
        if state.get("enabled"):
            pods.append(_pod("kube-state-metrics", state.get("resources"), replicas=state.get("replicas", 1)))
        grafana = _unvendored("grafana", monitoring_spec.grafana_values(cfg))
        pods.append(_pod("grafana", grafana.get("resources"), replicas=grafana.get("replicas", 1)))
    return pods


def every_node_pods(cfg: StackConfig) -> list[Pod]:
    """The stack's DaemonSets that tolerate every taint, so run on every node (AKS's own are
    `AKS_OWN_PODS_MEMORY`)."""
    pods = []
    if cfg.monitoring.enabled:
        exporter = _unvendored("prometheus", monitoring_spec.prometheus_values(cfg))["prometheus-node-exporter"]
        if exporter.get("enabled"):
            pods.append(_pod("node-exporter", exporter.get("resources")))
    if cfg.binder and cfg.security.cryptnono:
        crypt = _unvendored("cryptnono", {})
        pods.append(_pod("cryptnono", *(_get(crypt, f"detectors.{d}.resources") for d in ("execwhacker", "monero"))))
    return pods


def _total(pods: list[Pod]) -> tuple[Fraction, Fraction]:
    return (sum((p.memory * p.replicas for p in pods), Fraction(0)),
            sum((p.cpu * p.replicas for p in pods), Fraction(0)))


@dataclass(frozen=True)
class Room:
    """What pods of one kind may request on one node of a pool, and what holds the rest."""

    size: str
    memory: Fraction
    cpu: Fraction
    reserved: Fraction  # kube-reserved + eviction threshold
    taken: tuple[tuple[str, Fraction], ...]  # (what, bytes) else holds memory on the node

    def why(self) -> str:
        """'16 GiB less AKS's reservation (4.10 GiB), its own pods (0.50 GiB) and the build daemon (1.00 GiB)'."""
        parts = [f"AKS's reservation ({gib(self.reserved)} GiB)", *(f"{what} ({gib(b)} GiB)" for what, b in self.taken)]
        listed = ", ".join(parts[:-1]) + f" and {parts[-1]}" if len(parts) > 1 else parts[0]
        return f"{SIZES[self.size].memory_gib:g} GiB less {listed}"


def _room(cfg: StackConfig, size_name: str, others: list[Pod]) -> Room | None:
    """The room on one node of `size_name` once AKS, the DaemonSets on every node and `others` have theirs."""
    size = SIZES.get(size_name)
    if size is None:
        return None
    memory = Fraction(str(size.memory_gib)) * GIB
    pods = [*every_node_pods(cfg), *others]
    daemons_memory, daemons_cpu = _total(pods)
    allocatable = allocatable_memory(size)
    taken = (("its own pods", Fraction(AKS_OWN_PODS_MEMORY)), *((p.name, p.memory) for p in pods if p.memory))
    return Room(size_name, allocatable - AKS_OWN_PODS_MEMORY - daemons_memory, allocatable_cpu(size) - daemons_cpu,
                memory - allocatable, taken)


def system_room(cfg: StackConfig) -> Room | None:
    """What the core pods may request on one system node."""
    return _room(cfg, cfg.cluster.system_pool.vm_size, [])


def builds_on_user_pool(cfg: StackConfig) -> bool:
    """Binder's build daemon runs on the user nodes unless there is a build pool (hub_spec)."""
    return cfg.binder and cfg.build_pool is None


BUILD_DAEMON = "the build daemon"


def _user_node_pods(cfg: StackConfig, values: Mapping[str, Any]) -> list[Pod]:
    """Pods besides user servers on every user node: the build daemon when builds run there, and
    z2jh's continuous image puller."""
    pods = []
    if builds_on_user_pool(cfg):
        dind = charts.coalesce(charts.BINDERHUB, values).get("dind", {})
        pods.append(_pod(BUILD_DAEMON, dind.get("resources")))
    jh = merged_jupyterhub(cfg, values)
    if _get(jh, "prePuller.continuous.enabled"):
        pods.append(_pod("the image puller", _get(jh, "prePuller.resources")))
    return pods


def user_room_of(cfg: StackConfig, values: Mapping[str, Any], *, gpu: bool = False) -> Callable[[str], Room | None]:
    """The room user servers have on one node of a given size in the user pool (or the GPU pool):
    the pool's other pods are the same whatever the size."""
    if gpu:
        pods = [_pod("the NVIDIA device plugin", _unvendored("nvidia-device-plugin", {}).get("resources"))]
    else:
        pods = _user_node_pods(cfg, values)
    return lambda size_name: _room(cfg, size_name, pods)


def user_room(cfg: StackConfig, values: Mapping[str, Any] | None = None, *, gpu: bool = False) -> Room | None:
    """What user servers may request on one user node (or GPU node); None without a GPU pool or
    for a size not in vm_sizes.json."""
    values = hub_release_values(cfg) if values is None else values
    pool = cfg.cluster.gpu_pool if gpu else cfg.cluster.user_pool
    return None if pool is None else user_room_of(cfg, values, gpu=gpu)(pool.vm_size)


def users_per_node(room: Room, per_user: int | Fraction) -> int:
    """Whole user servers one node holds, by their memory request."""
    if per_user <= 0:
        return 0
    return max(0, math.floor(room.memory / Fraction(per_user)))


def _place(pods: list[Pod], nodes: int, memory: Fraction, cpu: Fraction) -> Pod | None:
    """First-fit decreasing onto `nodes` nodes of this room; the first pod that finds no node."""
    free = [[memory, cpu] for _ in range(nodes)]
    replicas = sorted((p for p in pods for _ in range(p.replicas)), key=lambda p: (p.memory, p.cpu), reverse=True)
    for pod in replicas:
        node = next((n for n in free if n[0] >= pod.memory and n[1] >= pod.cpu), None)
        if node is None:
            return pod
        node[0] -= pod.memory
        node[1] -= pod.cpu
    return None


def fits_system(cfg: StackConfig, size_name: str, pods: list[Pod]) -> bool:
    """Whether `pods` can all be placed on the system pool's nodes were they of `size_name`."""
    room = _room(cfg, size_name, [])
    return room is not None and _place(pods, cfg.cluster.system_pool.node_count, room.memory, room.cpu) is None


def smallest_size(fits: Callable[[str], bool], *, gpu: bool = False) -> str | None:
    """The smallest size of vm_sizes.json (fewest vCPUs, then least memory), with GPUs or without,
    for which `fits(name)` holds."""
    candidates = sorted((s.vcpus, s.memory_gib, name) for name, s in SIZES.items() if bool(s.gpus) == gpu)
    return next((name for _, _, name in candidates if fits(name)), None)


# ---------------------------------------------------------------------------------- checks


def _breakdown(pods: list[Pod]) -> str:
    return ", ".join(f"{p.name} {p.replicas} x {gib(p.memory)}" if p.replicas != 1 else f"{p.name} {gib(p.memory)}"
                     for p in pods if p.memory and p.replicas)


def system_pool_problems(cfg: StackConfig, values: Mapping[str, Any]) -> list[str]:
    """The core pods fit the system pool, or one line naming cluster.systemPool.vmSize and the
    smallest size that holds them."""
    pool = cfg.cluster.system_pool
    room = system_room(cfg)
    if room is None:
        return []  # an unknown size is a note (components/notes.py); the pre-flight asks Azure
    pods = core_pods(cfg, values)
    if _place(pods, pool.node_count, room.memory, room.cpu) is None:
        return []
    memory, cpu = _total(pods)
    nodes = f"{pool.node_count} nodes of " if pool.node_count > 1 else ""
    per_node = " each" if pool.node_count > 1 else ""
    best = smallest_size(lambda name: fits_system(cfg, name, pods))
    instead = (f"the smallest size in components/vm_sizes.json that holds them is {best}"
               if best else "no size in components/vm_sizes.json holds them; raise cluster.systemPool.nodeCount")
    return [f"{PROJECT}:cluster.systemPool.vmSize {pool.vm_size} cannot hold the core pods: they request "
            f"{gib(memory)} GiB of memory ({_breakdown(pods)}) and {float(cpu):g} CPU, and {nodes}{pool.vm_size} "
            f"has {gib(room.memory)} GiB and {float(room.cpu):g} CPU for them{per_node} ({room.why()}), so one "
            f"would stay Pending and the release roll back after its timeout; {instead} (decide before the cluster "
            "exists: AKS does not resize the system pool in place)"]


def _user_request(jh: Mapping[str, Any]) -> tuple[int, int, Fraction]:
    """(memory guarantee, memory limit) in bytes as JupyterHub reads them, and the CPU guarantee."""
    memory = _get(jh, "singleuser.memory", {})
    guarantee = memory.get("guarantee") or memory.get("limit") or 0
    limit = memory.get("limit") or guarantee
    cpu = _get(jh, "singleuser.cpu.guarantee") or 0
    return jupyterhub_bytes(guarantee), jupyterhub_bytes(limit), kubernetes_quantity(cpu)


def _g(value: Fraction) -> str:
    """Bytes as a JupyterHub size, rounded down to 0.1 G."""
    return f"{math.floor(value / GIB * 10) / 10:g}G"


def _user_fit_problems(cfg: StackConfig, key: str, where: str, room_of: Callable[[str], Room | None],
                       size_name: str, memory: int, cpu: Fraction, cpu_key: str, gpu: bool = False) -> list[str]:
    """A user server of this memory and CPU request on a node of `size_name` (`room_of` gives the
    room on a node of any size, with the same other pods)."""
    room = room_of(size_name)
    if room is None:
        return []  # an unknown size is a note (components/notes.py)
    size = SIZES[size_name]
    problems = []
    if memory > room.memory:
        best = smallest_size(lambda name: (other := room_of(name)) is not None and other.memory >= memory, gpu=gpu)
        instead = f", or use a larger {where} such as {best}" if best else ""
        problems.append(f"{PROJECT}:{key} is more than a {size_name} node has for a user server ({gib(room.memory)} "
                        f"GiB: {room.why()}); no server could start (users per node: 0); at most {_g(room.memory)} "
                        f"fits{instead}")
    if cpu > room.cpu:
        best = smallest_size(lambda name: (other := room_of(name)) is not None and other.cpu >= cpu, gpu=gpu)
        instead = f", or use a {where} with more vCPUs such as {best}" if best else ""
        others = f" and {BUILD_DAEMON}" if any(what == BUILD_DAEMON for what, _ in room.taken) else ""
        problems.append(f"{PROJECT}:{cpu_key} gives each server a CPU guarantee of {float(cpu):g} (a quarter of the "
                        f"limit), more than a {size_name} node can schedule ({float(room.cpu):g} of its {size.vcpus} "
                        f"vCPUs after AKS's reservation{others}); no server could start; at most "
                        f"{float(room.cpu * 4):g} fits{instead}")
    return problems


def user_pool_problems(cfg: StackConfig, values: Mapping[str, Any]) -> list[str]:
    """User servers (each profile on its pool) fit a node; placeholders fit the pool."""
    user = cfg.cluster.user_pool
    try:
        guarantee, limit, cpu = _user_request(merged_jupyterhub(cfg, values))
    except ValueError as err:  # only helmValues can put a size JupyterHub does not read there
        return [f"{PROJECT}:helmValues.jupyterhub.singleuser: {err}"]
    room_of = user_room_of(cfg, values)
    problems = _user_fit_problems(cfg, f"limits.memory {cfg.limits.memory}", "cluster.userPool.vmSize", room_of,
                                  user.vm_size, max(guarantee, limit), cpu, f"limits.cpu {cfg.limits.cpu:g}")
    room = room_of(user.vm_size)
    fit = users_per_node(room, guarantee) if room is not None else 0
    placeholders = cfg.speed.placeholders
    if fit and placeholders and math.ceil(placeholders / fit) > user.max_count:
        problems.append(f"{PROJECT}:speed.placeholders {placeholders} cannot all be placed: each holds one user's "
                        f"{cfg.limits.memory} and a {user.vm_size} node holds {fit}, so they need "
                        f"{math.ceil(placeholders / fit)} user nodes but cluster.userPool.maxCount is "
                        f"{user.max_count}; at most {fit * user.max_count} fit, or raise maxCount")
    gpu = cfg.cluster.gpu_pool
    for i, profile in enumerate(cfg.profiles):
        if profile.memory is None and profile.cpu is None and not profile.gpu:
            continue  # the defaults, checked above
        if profile.gpu and gpu is None:
            continue  # refused elsewhere (profiles[i].gpu needs cluster.gpuPool)
        memory = profile.memory or cfg.limits.memory
        cpu_limit = profile.cpu or cfg.limits.cpu
        where = "cluster.gpuPool.vmSize" if profile.gpu else "cluster.userPool.vmSize"
        size_name = gpu.vm_size if profile.gpu and gpu else user.vm_size
        problems += _user_fit_problems(
            cfg, f"profiles[{i}].memory {memory}", where, user_room_of(cfg, values, gpu=profile.gpu), size_name,
            jupyterhub_bytes(memory), Fraction(str(round(cpu_limit / 4, 3))), f"profiles[{i}].cpu {cpu_limit:g}",
            gpu=profile.gpu)
    return problems


def gpu_size_problems(cfg: StackConfig) -> list[str]:
    """GPU sizes only in the GPU pool, and only GPU sizes there (when vm_sizes.json knows the size)."""
    problems = []
    cluster = cfg.cluster
    pools = [("cluster.systemPool.vmSize", cluster.system_pool.vm_size),
             ("cluster.userPool.vmSize", cluster.user_pool.vm_size)]
    if cfg.build_pool is not None:
        pools.append(("cluster.buildPool.vmSize", cfg.build_pool.vm_size))
    for key, name in pools:
        size = SIZES.get(name)
        if size is not None and size.gpus:
            problems.append(f"{PROJECT}:{key} {name} is a GPU size ({size.gpus} GPU): only cluster.gpuPool gets the "
                            "GPU driver and device plugin, so this GPU would be paid for and never used; use a size "
                            "without GPUs here (such as Standard_D4s_v5) and cluster.gpuPool for GPU servers")
    if cluster.gpu_pool is not None:
        size = SIZES.get(cluster.gpu_pool.vm_size)
        if size is not None and not size.gpus:
            problems.append(f"{PROJECT}:cluster.gpuPool.vmSize {cluster.gpu_pool.vm_size} has no NVIDIA GPU "
                            "(components/vm_sizes.json), so GPU servers could never start there; use an NVIDIA "
                            "GPU size such as Standard_NC4as_T4_v3")
    return problems


# ----------------------------------------------------------------- requests within limits


def resource_blocks(values: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Mapping[str, Any]]]:
    """Every Kubernetes `resources`-like block (a mapping with a `requests` or `limits` mapping) in a
    values tree, with its path."""
    if isinstance(values, Mapping):
        if isinstance(values.get("requests"), Mapping) or isinstance(values.get("limits"), Mapping):
            yield path, values
        for key, value in values.items():
            yield from resource_blocks(value, (*path, str(key)))
    elif isinstance(values, list):
        for i, value in enumerate(values):
            yield from resource_blocks(value, (*path, str(i)))


def request_above_limit(resources: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """(resource, request, limit) where Kubernetes would refuse the pod: a request above its limit.
    Raises ValueError for a value that is not a quantity."""
    requests = resources.get("requests") if isinstance(resources.get("requests"), Mapping) else {}
    limits = resources.get("limits") if isinstance(resources.get("limits"), Mapping) else {}
    for value in (*requests.values(), *limits.values()):
        kubernetes_quantity(value)
    return [(name, requests[name], limit) for name, limit in limits.items()
            if name in requests and kubernetes_quantity(requests[name]) > kubernetes_quantity(limit)]


def _helm_key(cfg: StackConfig, path: tuple[str, ...]) -> str | None:
    """The helmValues key that set `path` of the hub release's values, if the user set it."""
    if cfg.binder and path[:1] == ("jupyterhub",):
        block, rest = cfg.helm_values.jupyterhub, path[1:]
        name = "jupyterhub"
    else:
        block, rest = (cfg.helm_values.binderhub, path) if cfg.binder else (cfg.helm_values.jupyterhub, path)
        name = "binderhub" if cfg.binder else "jupyterhub"
    node: Any = block
    for key in rest:
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return f"helmValues.{name}.{'.'.join(rest)}"


def limit_problems(cfg: StackConfig, values: Mapping[str, Any]) -> list[str]:
    """Every resources block the hub release renders has its requests within its limits, compared
    as Kubernetes compares them."""
    problems = []
    for path, block in resource_blocks(values):
        try:
            above = request_above_limit(block)
        except ValueError as err:
            key = _helm_key(cfg, path) or f"the stack's {'.'.join(path)}"
            problems.append(f"{PROJECT}:{key}: {err}")
            continue
        for name, request, limit in above:
            if path == ("dind", "resources") and name == "memory" and _helm_key(cfg, path) is None:
                problems.append(f"{PROJECT}:limits.buildMemory {cfg.limits.build_memory} is below the build daemon's "
                                f"memory request ({request}): Kubernetes refuses a pod "
                                "whose limit is under its request, so no build would ever run; set at least "
                                f"{_g(kubernetes_quantity(request))}")
                continue
            key = _helm_key(cfg, path) or f"the stack's {'.'.join(path)}"
            problems.append(f"{PROJECT}:{key}: requests.{name} {request} is above limits.{name} {limit} "
                            "(as Kubernetes reads them); Kubernetes refuses such a pod")
    return problems


def fit_problems(cfg: StackConfig) -> list[str]:
    """Every fit rule of a Kubernetes stack, one line each naming the key to change."""
    if cfg.tljh:
        return []
    problems = gpu_size_problems(cfg)
    values = hub_release_values(cfg)
    problems += limit_problems(cfg, values)
    if problems:
        return problems  # the fit below reads the same values
    return system_pool_problems(cfg, values) + user_pool_problems(cfg, values)
