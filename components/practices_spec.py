"""What the longest-running public hubs do, as Helm values and manifests (pure).

Each builder returns a values fragment that the existing builders merge in, so this file
owns the "run like mybinder.org and 2i2c" settings and nothing else:

- core before users: one PriorityClass above every user, placeholder and build pod, given
  to the hub, proxy, user scheduler, binder, Traefik, cert-manager, Prometheus and Grafana,
  with resource requests and limits (mybinder.org-deploy mybinder/values.yaml: its
  `binderhub-core` class of 10000 and its hub/proxy resources);
- kernels culled as well as servers (mybinder.org's jupyter_server_config);
- the Binder site's banner and about page, build timeout, repo2docker arguments, image
  cleaner with absolute thresholds (mybinder.org-deploy mybinder/values.yaml);
- pod hardening and egress bandwidth of user servers;
- cryptnono, the crypto-mining detector (mybinder.org's chart dependency);
- launch events written to a file;
- home directories on one shared Azure Files NFS share (2i2c-org/infrastructure
  terraform/azure/storage.tf and helm-charts/basehub/values.yaml), a disk per user, or none.
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

from . import charts

if TYPE_CHECKING:
    from .config import StackConfig

# ---------------------------------------------------------------------------------- priority

CORE_PRIORITY_CLASS = "hub-core"
# mybinder.org gives its core pods a class of 10000 (mybinder/values.yaml `priorityClasses`).
# z2jh's own classes, when `scheduling.podPriority` is on, are 0 for user pods, -5 for the
# image puller and -10 for placeholders (jupyterhub chart 4.2.0/4.4.0 defaults); BinderHub's
# build pods and dind daemons set none, so they get 0. 10000 is above all of them and far
# below Kubernetes' own system-cluster-critical (2000000000).
CORE_PRIORITY = 10000
Z2JH_DEFAULT_PRIORITIES = {"defaultPriority": 0, "imagePullerPriority": -5, "userPlaceholderPriority": -10}


def core_priority_class() -> dict[str, Any]:
    """Arguments of the PriorityClass for the control path: hub, proxy, binder, ingress, TLS,
    monitoring. Not the global default, so every other pod keeps priority 0 or z2jh's class."""
    return {
        "metadata": {"name": CORE_PRIORITY_CLASS},
        "value": CORE_PRIORITY,
        "global_default": False,
        "preemption_policy": "PreemptLowerPriority",
        "description": "Hub, proxy, binder, ingress, cert-manager and monitoring: scheduled before, and "
        "may preempt, user servers and image builds.",
    }


USER_PLACEHOLDER_PRIORITY_CLASS = "hub-user-placeholder"


def user_placeholder_priority_class() -> dict[str, Any]:
    """Arguments of the PriorityClass of z2jh's user placeholders (given through their
    `extraPodSpec`, see hub_spec.placeholder_values): below user servers (0), so a user preempts
    a placeholder, and at z2jh's own -10 (`userPlaceholderPriority`), which the cluster
    autoscaler's default `expendable-pods-priority-cutoff` of -10 still counts, so pending
    placeholders still add nodes (z2jh templates/scheduling/user-placeholder/priorityclass.yaml,
    whose class this restates)."""
    return {
        "metadata": {"name": USER_PLACEHOLDER_PRIORITY_CLASS},
        "value": Z2JH_DEFAULT_PRIORITIES["userPlaceholderPriority"],
        "global_default": False,
        "preemption_policy": "PreemptLowerPriority",
        "description": "User placeholders: hold room for users, preempted by any real user server.",
    }


def _resources(cpu_request: str, memory: str, cpu_limit: str | None = None) -> dict[str, Any]:
    """Requests and limits with memory request = limit (no overcommit of the control path)."""
    limits: dict[str, Any] = {"memory": memory}
    if cpu_limit:
        limits["cpu"] = cpu_limit
    return {"requests": {"cpu": cpu_request, "memory": memory}, "limits": limits}


# The hub and proxy sizes are mybinder.org's (mybinder/values.yaml: hub 0.25 CPU / 1 GiB,
# limit 2 CPU; chp 0.1 CPU / 320 MiB, limit 0.5 CPU), which serve far more users than an
# institution's hub; the rest are small services sized from their charts' examples.
HUB_RESOURCES = _resources("250m", "1Gi", "2")
PROXY_RESOURCES = _resources("100m", "320Mi", "500m")
USER_SCHEDULER_RESOURCES = _resources("50m", "256Mi")
BINDER_RESOURCES = _resources("200m", "1Gi", "2")
CERT_MANAGER_RESOURCES = _resources("10m", "128Mi")
PROMETHEUS_RESOURCES = _resources("100m", "2Gi")
GRAFANA_RESOURCES = _resources("50m", "256Mi")


def jupyterhub_core_values(cfg: StackConfig) -> dict[str, Any]:
    """Hub, proxy and user scheduler: the core class and their resources."""
    core = {"priorityClassName": CORE_PRIORITY_CLASS}
    return {
        "hub": {"extraPodSpec": dict(core), "resources": HUB_RESOURCES},
        "proxy": {"chp": {"extraPodSpec": dict(core), "resources": PROXY_RESOURCES}},
        "scheduling": {"userScheduler": {"extraPodSpec": dict(core), "resources": USER_SCHEDULER_RESOURCES}},
    }


def binder_core_values() -> dict[str, Any]:
    """The binder Deployment: the core class (its chart's `extraPodSpec`) and resources."""
    return {"extraPodSpec": {"priorityClassName": CORE_PRIORITY_CLASS}, "resources": BINDER_RESOURCES}


def traefik_core_values() -> dict[str, Any]:
    return {"priorityClassName": CORE_PRIORITY_CLASS}


def cert_manager_core_values() -> dict[str, Any]:
    """`global.priorityClassName` reaches the controller, webhook and cainjector."""
    return {
        "global": {"priorityClassName": CORE_PRIORITY_CLASS},
        "resources": CERT_MANAGER_RESOURCES,
        "webhook": {"resources": CERT_MANAGER_RESOURCES},
        "cainjector": {"resources": CERT_MANAGER_RESOURCES},
    }


def prometheus_core_values() -> dict[str, Any]:
    return {"server": {"priorityClassName": CORE_PRIORITY_CLASS, "resources": PROMETHEUS_RESOURCES}}


def grafana_core_values() -> dict[str, Any]:
    return {"priorityClassName": CORE_PRIORITY_CLASS, "resources": GRAFANA_RESOURCES}


# ------------------------------------------------------------------ network policy emptiness

# Where Kubernetes reads "empty" as "all" in a NetworkPolicy (kubernetes.io, "Network Policies"
# and the NetworkPolicy API reference): an empty or missing `ports` matches every port; an empty
# `to`/`from` (or a missing one) every peer; a rule `{}` everything; an empty podSelector or
# namespaceSelector every pod or every namespace; a port entry without `port` every port of its
# protocol. A missing `ports` or `to` can be what a rule means (z2jh's DNS rule has no `to`: DNS
# to anywhere); an *empty list* never is: it is what a rule built from an empty setting looks like.


def _empty_selector(selector: Any) -> bool:
    return isinstance(selector, dict) and not selector.get("matchLabels") and not selector.get("matchExpressions")


def _peer_widenings(peer: Any, where: str) -> list[str]:
    if not isinstance(peer, dict) or not peer:
        return [f"{where} is empty: every address"]
    found = []
    block = peer.get("ipBlock")
    if isinstance(block, dict) and block.get("cidr") == "0.0.0.0/0" and not block.get("except"):
        found.append(f"{where}.ipBlock is 0.0.0.0/0 with no except: every address")
    if "ipBlock" not in peer and all(_empty_selector(peer.get(k)) for k in ("podSelector", "namespaceSelector")
                                     if k in peer):
        found.append(f"{where} has only empty selectors: every pod" +
                     (" in every namespace" if "namespaceSelector" in peer else " of the namespace"))
    for key in ("podSelector", "namespaceSelector"):
        for i, expr in enumerate((peer.get(key) or {}).get("matchExpressions") or []):
            if expr.get("operator") in ("In", "NotIn") and not expr.get("values"):
                found.append(f"{where}.{key}.matchExpressions[{i}] has no values")
    return found


def rule_widenings(rule: Any, where: str, peers: str) -> list[str]:
    """Where one ingress or egress rule (`peers` is "to" or "from") reads emptiness as "all"."""
    if not isinstance(rule, dict) or not rule:
        return [f"{where} is empty: it allows everything"]
    found = []
    if "ports" in rule and not rule["ports"]:
        found.append(f"{where}.ports is an empty list: every port")
    for i, port in enumerate(rule.get("ports") or []):
        if not isinstance(port, dict) or "port" not in port:
            found.append(f"{where}.ports[{i}] names no port: every port of its protocol")
    if peers in rule and not rule[peers]:
        found.append(f"{where}.{peers} is an empty list: every peer")
    for i, peer in enumerate(rule.get(peers) or []):
        found.extend(_peer_widenings(peer, f"{where}.{peers}[{i}]"))
    return found


def network_policy_widenings(spec: dict[str, Any], where: str = "spec") -> list[str]:
    """Every place in a NetworkPolicy spec where an empty list or selector would mean "all"
    (an empty list means the rule was built from an empty setting)."""
    found = []
    if _empty_selector(spec.get("podSelector")) or "podSelector" not in spec:
        found.append(f"{where}.podSelector is empty: the policy applies to every pod of the namespace")
    for i, expr in enumerate((spec.get("podSelector") or {}).get("matchExpressions") or []):
        if expr.get("operator") in ("In", "NotIn") and not expr.get("values"):
            found.append(f"{where}.podSelector.matchExpressions[{i}] has no values")
    for direction, peers in (("egress", "to"), ("ingress", "from")):
        for i, rule in enumerate(spec.get(direction) or []):
            found.extend(rule_widenings(rule, f"{where}.{direction}[{i}]", peers))
    return found


# ------------------------------------------------------------------------- user servers

SERVER_CONFIG_PATH = "/etc/jupyter/jupyter_server_config.json"


def kernel_culling_values(cfg: StackConfig) -> dict[str, Any]:
    """The single-user server stops idle kernels itself, counting an open browser tab as idle,
    so that the hub's culler then sees the server idle too (mybinder.org's etcJupyter)."""
    minutes = cfg.cull_idle_minutes
    server_config = {
        "MappingKernelManager": {
            "cull_idle_timeout": minutes * 60,
            "cull_interval": min(300, max(60, minutes * 6)),
            "cull_connected": True,
            "cull_busy": False,
        },
    }
    return {"singleuser": {"extraFiles": {"jupyter-server-config": {
        "mountPath": SERVER_CONFIG_PATH, "data": server_config}}}}


def pod_hardening_values(cfg: StackConfig) -> dict[str, Any]:
    """mybinder.org's user-pod settings: no privilege escalation, no service links, no restarts."""
    if not cfg.security.pod_hardening:
        return {}
    return {"singleuser": {
        "allowPrivilegeEscalation": False,
        "extraPodConfig": {"enableServiceLinks": False, "restartPolicy": "Never"},
    }}


EGRESS_BANDWIDTH_ANNOTATION = "kubernetes.io/egress-bandwidth"


def egress_bandwidth_values(cfg: StackConfig) -> dict[str, Any]:
    """The bandwidth annotation on user pods; enforced only by a network plugin with a
    bandwidth manager (see security.egressBandwidth)."""
    if not cfg.security.egress_bandwidth:
        return {}
    return {"singleuser": {"extraAnnotations": {EGRESS_BANDWIDTH_ANNOTATION: cfg.security.egress_bandwidth}}}


# ---------------------------------------------------------------------------- binder site

GIB = 1024**3
# repo2docker waits 60 s for the build daemon by default; pushes of large images to a
# registry far away take longer (mybinder.org raises it to 1200 s).
DOCKER_CLIENT_TIMEOUT = 1200


def binder_site_values(cfg: StackConfig) -> dict[str, Any]:
    """BinderHub config: banner, about page, build timeout and repo2docker arguments; the
    image cleaner's absolute thresholds."""
    site = cfg.binder_site
    binder: dict[str, Any] = {}
    if site.banner_message:
        binder["banner_message"] = site.banner_message
    if site.about_message:
        binder["about_message"] = site.about_message
    args = ["--DockerEngine.extra_init_args=" + json.dumps({"timeout": DOCKER_CLIENT_TIMEOUT}, separators=(",", ":"))]
    if site.require_environment:
        args.insert(0, "--Repo2Docker.default_buildpack=None")
    config: dict[str, Any] = {
        "KubernetesCleaner": {"max_age": site.build_timeout_minutes * 60},
        "KubernetesBuildExecutor": {"repo2docker_extra_args": args},
    }
    if binder:
        config["BinderHub"] = binder
    return {"config": config, "imageCleaner": image_cleaner_thresholds(cfg)}


def image_cleaner_thresholds(cfg: StackConfig) -> dict[str, Any]:
    """Absolute thresholds in bytes (the chart passes them to docker-image-cleaner as
    IMAGE_GC_THRESHOLD_HIGH/LOW with IMAGE_GC_THRESHOLD_TYPE=absolute)."""
    site = cfg.binder_site
    return {
        "enabled": True,
        "imageGCThresholdType": "absolute",
        "imageGCThresholdHigh": site.image_cleaner_high_gi * GIB,
        "imageGCThresholdLow": site.image_cleaner_low_gi * GIB,
    }


# --------------------------------------------------------------------------- launch events

EVENTS_CLAIM = "binder-events"
EVENTS_DIR = "/srv/binder-events"
EVENTS_FILE = f"{EVENTS_DIR}/launches.jsonl"
EVENTS_STORAGE_CLASS = "azurefile-csi"  # AKS's built-in Azure Files (SMB) class
EVENTS_SIZE = "1Gi"
# BinderHub's EventLog (binderhub/events.py) calls `handlers_maker` once and formats every
# event as one JSON line; a file handler appends them where the ops command reads them.
EVENTS_CONFIG = f"""import logging
import os

os.makedirs({EVENTS_DIR!r}, exist_ok=True)


def _launch_event_file(event_log):
    return [logging.FileHandler({EVENTS_FILE!r})]


c.EventLog.handlers_maker = _launch_event_file
"""


def launch_events_values(cfg: StackConfig) -> dict[str, Any]:
    """The binder pod appends each launch event to a file on a ReadWriteMany Azure Files
    claim (so a rolling update's second pod can mount it too)."""
    if not cfg.binder_site.launch_events:
        return {}
    return {
        "extraConfig": {"10-launch-events": EVENTS_CONFIG},
        "extraVolumes": [{"name": "launch-events", "persistentVolumeClaim": {"claimName": EVENTS_CLAIM}}],
        "extraVolumeMounts": [{"name": "launch-events", "mountPath": EVENTS_DIR}],
    }


def events_claim(namespace: str) -> dict[str, Any]:
    """The claim the binder pod writes launch events to (created before the release)."""
    return {
        "metadata": {"name": EVENTS_CLAIM, "namespace": namespace},
        "spec": {
            "accessModes": ["ReadWriteMany"],
            "storageClassName": EVENTS_STORAGE_CLASS,
            "resources": {"requests": {"storage": EVENTS_SIZE}},
        },
    }


# ---------------------------------------------------------------------------------- homes

HOME_STORAGE_CLASS = "home-nfs"
HOME_CLAIM = "home-nfs"
HOME_SUBPATH = "{username}"  # a directory per user on the share (KubeSpawner expands it)
# 2i2c's NFS mount options (helm-charts/basehub/values.yaml `nfs.pv.mountOptions`: soft, noatime),
# with the one NFS version Azure Files serves, 4.1.
NFS_MOUNT_OPTIONS = ["soft", "noatime", "vers=4.1"]
# Ports of NFS (2049), its mount daemon (20048) and the portmapper (111): user servers must
# not reach the share themselves (NFS trusts the client's claimed uid), as 2i2c blocks them.
NFS_PORTS = (2049, 20048, 111)


def home_storage_class() -> dict[str, Any]:
    """Azure Files Premium over NFS, provisioned by AKS's Azure Files CSI driver (which creates
    the storage account in the cluster's node resource group and admits the node subnet).
    Retain: deleting the claim keeps the share."""
    return {
        "metadata": {"name": HOME_STORAGE_CLASS},
        "provisioner": "file.csi.azure.com",
        "parameters": {"protocol": "nfs", "skuName": "Premium_LRS", "mountPermissions": "0777"},
        "mount_options": list(NFS_MOUNT_OPTIONS),
        "reclaim_policy": "Retain",
        "allow_volume_expansion": True,
        "volume_binding_mode": "Immediate",
    }


def home_claim(cfg: StackConfig, namespace: str) -> dict[str, Any]:
    """The one shared claim every user's home is a sub-directory of."""
    return {
        "metadata": {"name": HOME_CLAIM, "namespace": namespace},
        "spec": {
            "accessModes": ["ReadWriteMany"],
            "storageClassName": HOME_STORAGE_CLASS,
            "resources": {"requests": {"storage": f"{cfg.storage.size_gi}Gi"}},
        },
    }


def _nfs_block_container(chart: charts.Chart) -> dict[str, Any]:
    rules = " && ".join(
        f"iptables -A OUTPUT -p {proto} --dport {port} -j DROP" for proto in ("tcp", "udp") for port in NFS_PORTS)
    return {
        "name": "block-nfs-access",
        "image": f"quay.io/jupyterhub/k8s-network-tools:{chart.version}",
        "command": ["/bin/sh", "-c", rules],
        "securityContext": {"runAsUser": 0, "privileged": True, "capabilities": {"add": ["NET_ADMIN"]}},
    }


def home_owner(chart: charts.Chart) -> tuple[int, int, str]:
    """(uid, gid, home mount path) of user servers: z2jh's `singleuser.uid`, `singleuser.fsGid`
    and `singleuser.storage.homeMountPath`, which this stack leaves at the chart's defaults
    (1000, 100 and /home/jovyan: jovyan of the Jupyter images; helm_guard refuses changing the
    uid or gid to root)."""
    single = charts.defaults(chart)["singleuser"]
    return int(single["uid"]), int(single["fsGid"]), str(single["storage"]["homeMountPath"])


def _home_owner_container(chart: charts.Chart) -> dict[str, Any]:
    """The kubelet creates a new user's directory on the share (the `{username}` subPath) owned by
    root, with the share's mode 0777 (`mountPermissions`, which the Azure Files CSI driver also
    gives the share's root): anyone could write there, and tools that check their home's owner
    (git's safe.directory, sshd's StrictModes) refuse it. 2i2c's hubs on Azure Files fix it the
    same way before every start (2i2c-org/infrastructure config/clusters/utoronto/common.values.yaml,
    init container `volume-mount-ownership-fix`: `chown 1000:1000 /home/jovyan`, as root, with
    the home volume mounted at the user's subPath). Here: owned by the server's uid and group,
    not writable by others; only the two capabilities that needs."""
    uid, gid, home = home_owner(chart)
    return {
        "name": "home-owner",
        "image": f"quay.io/jupyterhub/k8s-network-tools:{chart.version}",  # Alpine: sh, chmod, chown
        "command": ["/bin/sh", "-c", f"chmod go-w {home} && chown {uid}:{gid} {home}"],
        "securityContext": {"runAsUser": 0, "allowPrivilegeEscalation": False,
                            "capabilities": {"drop": ["ALL"], "add": ["CHOWN", "FOWNER"]}},
        # z2jh names the static home volume `home` (jupyterhub_config.py, storage type static);
        # KubeSpawner expands `{username}` here as in the server's own mount.
        "volumeMounts": [{"name": "home", "mountPath": home, "subPath": HOME_SUBPATH}],
    }


def home_storage_values(cfg: StackConfig, chart: charts.Chart) -> dict[str, Any]:
    """`singleuser.storage` (and the NFS-blocking init container) for the chosen home storage."""
    kind = cfg.home_storage
    if cfg.binder:
        return {}  # the BinderHub chart already sets `jupyterhub.singleuser.storage.type: none`
    if kind == "none":
        return {"singleuser": {"storage": {"type": "none"}}}
    if kind == "perUserDisk":
        # z2jh's default: a claim per user on the cluster's default class (StandardSSD disk).
        return {"singleuser": {"storage": {"type": "dynamic", "capacity": f"{cfg.storage.per_user_gi}Gi"}}}
    return {"singleuser": {
        "storage": {"type": "static", "static": {"pvcName": HOME_CLAIM, "subPath": HOME_SUBPATH}},
        "initContainers": [_nfs_block_container(chart), _home_owner_container(chart)],
    }}


# ------------------------------------------------------------------------------- cryptnono

CRYPTNONO = charts.CRYPTNONO
CRYPTNONO_NAMESPACE = "cryptnono"
# AKS nodes run containerd at its default socket; the dind build daemon's socket is where
# the BinderHub chart puts it (dind.hostSocketDir /var/run/dind).
CONTAINERD_SOCKET = "/run/containerd/containerd.sock"
DIND_SOCKET = "/var/run/dind/docker.sock"


def cryptnono_values() -> dict[str, Any]:
    """cryptnono on every node (its chart tolerates all NoSchedule taints), looking into user
    containers and the build daemon's containers."""
    return {
        "priorityClassName": CORE_PRIORITY_CLASS,
        "detectors": {
            "execwhacker": {"containerdHostPath": CONTAINERD_SOCKET, "dockerHostPath": DIND_SOCKET},
            "monero": {"enabled": True},
        },
    }


# ---------------------------------------------------------------------- assembled fragments


def jupyterhub_practices(cfg: StackConfig, chart: charts.Chart) -> dict[str, Any]:
    """Everything above that belongs in the JupyterHub chart's values."""
    values = charts.merge(jupyterhub_core_values(cfg), kernel_culling_values(cfg))
    values = charts.merge(values, pod_hardening_values(cfg))
    values = charts.merge(values, egress_bandwidth_values(cfg))
    return charts.merge(values, home_storage_values(cfg, chart))


def binderhub_practices(cfg: StackConfig) -> dict[str, Any]:
    """Everything above that belongs at the top of the BinderHub chart's values."""
    values = charts.merge(binder_core_values(), binder_site_values(cfg))
    return charts.merge(values, launch_events_values(cfg))


# ---------------------------------------------------------------------------- registry purge

PURGE_TASK_NAME = "purge-binder-images"
PURGE_SCHEDULE = "0 3 * * *"  # daily, 03:00 UTC
PURGE_TIMEOUT = 3600  # seconds


def purge_filter(image_path: str) -> str:
    """`acr purge --filter` for the images BinderHub pushes: repositories starting with the
    image path (the prefix inside the registry), any tag. The path is [a-z0-9._/-], so only
    '.' needs escaping in the (Go) regular expression."""
    return image_path.replace(".", r"\.") + ".*:.*"


def purge_task_definition(cfg: StackConfig) -> dict[str, Any]:
    """The ACR task file (multi-step YAML; JSON is valid YAML) that runs `acr purge`: tags
    last changed more than retentionDays ago, and manifests left untagged."""
    path = cfg.registry.image_prefix or f"binder/{cfg.institution}-"
    command = f"acr purge --filter '{purge_filter(path)}' --ago {cfg.registry.retention_days}d --untagged"
    return {"version": "v1.1.0", "steps": [
        {"cmd": command, "disableWorkingDirectoryOverride": True, "timeout": PURGE_TIMEOUT}]}


def purge_task_args(cfg: StackConfig) -> dict[str, Any] | None:
    """Arguments of the azure-native `containerregistry.Task` (besides registry and group),
    or None when retentionDays is 0 or the registry is not ACR."""
    if not cfg.uses_acr or cfg.registry.retention_days == 0:
        return None
    encoded = base64.b64encode(json.dumps(purge_task_definition(cfg)).encode()).decode()
    return {
        "task_name": PURGE_TASK_NAME,
        "location": cfg.location,
        "platform": {"os": "Linux", "architecture": "amd64"},
        "agent_configuration": {"cpu": 2},
        "status": "Enabled",
        "timeout": PURGE_TIMEOUT,
        # `acr purge` needs no source: the task runs against its own registry.
        "step": {"type": "EncodedTask", "encoded_task_content": encoded, "context_path": "/dev/null"},
        "trigger": {"timer_triggers": [{"name": "daily", "schedule": PURGE_SCHEDULE, "status": "Enabled"}]},
    }
