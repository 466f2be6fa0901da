"""Running like mybinder.org and 2i2c: core priority, registry purge, build nodes, kernel
culling, Binder site texts, abuse defences, home storage, launch events (values, plan, cost)."""

from __future__ import annotations

import base64
import datetime
import io
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components import charts, hub_spec, ingress_spec, monitoring_spec
from components import practices_spec as pv
from components.config import ConfigError
from components.hub_spec import HubSecrets
from tests.helpers import named, parsed, refusals, release, resources_of
from tests.test_ops import BINDER_OUTPUTS, Pulumi, binderhub_cluster, jupyterhub_cluster
from tools import cost, launches, ops

SECRETS = HubSecrets(proxy_token="p" * 64, cookie_secret="c" * 64, crypt_key="k" * 64,
                     binder_api_token="b" * 64, build_token="t" * 64, auth_client_secret="oauth-secret")
GITHUB = {"type": "github", "clientId": "gh-client", "allowedOrganizations": ["testuni"], "admins": ["alice"]}
HUB = {"mode": "jupyterhub", "auth": GITHUB, "secrets": {"authClientSecret": "s"}}


cfg = parsed
problems = refusals


def binder_values(**keys):
    c = cfg(**keys)
    wiring = hub_spec.acr_wiring(c, "testunibinderabc123.azurecr.io", "testunibinderabc123", "pw")
    return hub_spec.release_values(c, SECRETS, wiring)


def hub_mode_values(**keys):
    return hub_spec.release_values(cfg(**{**HUB, **keys}), SECRETS, None)


# ------------------------------------------------------------------ core before users


@pytest.mark.parametrize("chart", [charts.JUPYTERHUB, charts.BINDERHUB_JUPYTERHUB])
def test_core_priority_is_above_every_z2jh_priority_and_build_pods(chart):
    defaults = charts.defaults(chart)["scheduling"]["podPriority"]
    z2jh = [defaults["defaultPriority"], defaults["imagePullerPriority"], defaults["userPlaceholderPriority"]]
    assert {k: defaults[k] for k in pv.Z2JH_DEFAULT_PRIORITIES} == pv.Z2JH_DEFAULT_PRIORITIES
    # Build pods and dind set no class, so they run at 0, like z2jh's default user priority.
    assert max([*z2jh, 0]) < pv.CORE_PRIORITY
    manifest = pv.core_priority_class()
    assert manifest["value"] == pv.CORE_PRIORITY and manifest["global_default"] is False


def test_every_core_pod_gets_the_class_and_resources():
    values = binder_values()
    jh = values["jupyterhub"]
    assert values["extraPodSpec"]["priorityClassName"] == pv.CORE_PRIORITY_CLASS
    assert values["resources"] == pv.BINDER_RESOURCES
    assert jh["hub"]["extraPodSpec"]["priorityClassName"] == pv.CORE_PRIORITY_CLASS
    assert jh["hub"]["resources"] == pv.HUB_RESOURCES
    assert jh["proxy"]["chp"]["extraPodSpec"]["priorityClassName"] == pv.CORE_PRIORITY_CLASS
    assert jh["proxy"]["chp"]["resources"] == pv.PROXY_RESOURCES
    assert jh["scheduling"]["userScheduler"]["extraPodSpec"]["priorityClassName"] == pv.CORE_PRIORITY_CLASS
    # User servers and placeholders keep z2jh's own priorities.
    assert "extraPodSpec" not in jh["singleuser"] and "extraPodSpec" not in jh["scheduling"]["userPlaceholder"]
    c = cfg()
    assert ingress_spec.traefik_values(c, "ip", "rg")["priorityClassName"] == pv.CORE_PRIORITY_CLASS
    manager = ingress_spec.cert_manager_values()
    assert manager["global"]["priorityClassName"] == pv.CORE_PRIORITY_CLASS
    assert manager["crds"] == {"enabled": True, "keep": True}  # the existing values survive the merge
    assert monitoring_spec.prometheus_values(c)["server"]["priorityClassName"] == pv.CORE_PRIORITY_CLASS
    assert monitoring_spec.prometheus_values(c)["server"]["retention"] == "15d"
    assert monitoring_spec.grafana_values(c)["priorityClassName"] == pv.CORE_PRIORITY_CLASS
    for resources in (pv.HUB_RESOURCES, pv.PROXY_RESOURCES, pv.BINDER_RESOURCES, pv.PROMETHEUS_RESOURCES):
        assert resources["requests"]["memory"] == resources["limits"]["memory"]


def test_traefik_and_cert_manager_values_pass_their_schemas():
    c = cfg()
    assert charts.schema_errors(charts.TRAEFIK, ingress_spec.traefik_values(c, "ip", "rg")) == []
    assert charts.schema_errors(charts.CERT_MANAGER, ingress_spec.cert_manager_values()) == []


def test_plan_creates_the_class_before_the_releases_that_use_it(render):
    plan = render()
    klass = named(plan, "core-priority-class")
    assert klass["inputs"]["metadata"]["name"] == pv.CORE_PRIORITY_CLASS and klass["inputs"]["value"] == 10000
    for name in ("ingress-traefik", "ingress-cert-manager", "hub-release"):
        res = named(plan, name)
        assert "core-priority-class" in res["dependsOn"], name


# ---------------------------------------------------------------------- the registry


def test_purge_task_runs_acr_purge_daily_with_the_retention():
    c = cfg(registry={"retentionDays": 14, "imagePrefix": "binder/my.uni-"})
    args = pv.purge_task_args(c)
    task = json.loads(base64.b64decode(args["step"]["encoded_task_content"]))
    assert task["steps"][0]["cmd"] == r"acr purge --filter 'binder/my\.uni-.*:.*' --ago 14d --untagged"
    assert args["trigger"]["timer_triggers"][0]["schedule"] == pv.PURGE_SCHEDULE
    assert args["step"]["context_path"] == "/dev/null" and args["platform"]["os"] == "Linux"
    assert pv.purge_task_args(cfg(registry={"retentionDays": 0})) is None
    assert pv.purge_task_args(cfg(**HUB)) is None


def test_plan_declares_the_purge_task_on_the_stack_registry(render):
    plan = render(registry={"retentionDays": 9})
    task = named(plan, "registry-purge")
    assert task["type"] == "azure-native:containerregistry:Task"
    registry = named(plan, "registry-acr")
    assert task["inputs"]["registryName"] == registry["inputs"]["registryName"]
    steps = json.loads(base64.b64decode(task["inputs"]["step"]["encodedTaskContent"]))["steps"]
    assert "--ago 9d" in steps[0]["cmd"]
    assert not resources_of(render(registry={"retentionDays": 0}), "azure-native:containerregistry:Task")


def test_retention_is_acr_only():
    found = problems(registry={"type": "dockerhub", "username": "me", "retentionDays": 5},
                     secrets={"dockerHubToken": "t"})
    assert any(p.startswith("binderhub-azure:registry.retentionDays is only for registry.type 'acr'")
               for p in found)


# ------------------------------------------------------------ build nodes, site texts


def test_binder_site_keys_land_in_binderhub_config():
    values = binder_values(binderSite={
        "bannerMessage": "Help: rse@testuni.example", "aboutMessage": "Terms: https://testuni.example/t",
        "buildTimeoutMinutes": 45, "requireEnvironment": True, "imageCleanerHighGi": 50, "imageCleanerLowGi": 20})
    config = values["config"]
    assert config["BinderHub"]["banner_message"] == "Help: rse@testuni.example"
    assert config["BinderHub"]["about_message"] == "Terms: https://testuni.example/t"
    assert config["KubernetesCleaner"]["max_age"] == 45 * 60
    assert config["KubernetesBuildExecutor"]["repo2docker_extra_args"] == [
        "--Repo2Docker.default_buildpack=None", '--DockerEngine.extra_init_args={"timeout":1200}']
    # The existing build-pod resources are kept beside the new arguments.
    assert config["KubernetesBuildExecutor"]["resources"]["limits"]["memory"] == "2G"
    cleaner = values["imageCleaner"]
    assert (cleaner["imageGCThresholdType"], cleaner["imageGCThresholdHigh"], cleaner["imageGCThresholdLow"]) == (
        "absolute", 50 * 1024**3, 20 * 1024**3)
    # In dind mode the cleaner reads dind.hostLibDir, not imageCleaner.host.* (chart at af9ca8b1).
    assert "host" not in cleaner and values["dind"]["hostLibDir"] == "/var/lib/dind"
    assert charts.schema_errors(charts.BINDERHUB, values) == []


def test_default_site_has_no_texts_and_builds_without_environment():
    config = binder_values()["config"]
    assert "banner_message" not in config["BinderHub"] and "about_message" not in config["BinderHub"]
    assert config["KubernetesBuildExecutor"]["repo2docker_extra_args"] == [
        '--DockerEngine.extra_init_args={"timeout":1200}']
    assert config["KubernetesCleaner"]["max_age"] == 3600


def test_binder_site_checks():
    assert "binderhub-azure:binderSite.imageCleanerLowGi must be below imageCleanerHighGi (got 40 >= 40)" in \
        problems(binderSite={"imageCleanerLowGi": 40})
    assert "binderhub-azure:binderSite is only used when mode is binderhub" in problems(
        binderSite={"bannerMessage": "x"}, **HUB)
    assert problems(binderSite={"buildTimeoutMinutes": 1}) == [
        "binderhub-azure:binderSite.buildTimeoutMinutes must be >= 5 (got 1)"]


# ---------------------------------------------------------------------- kernel culling


@pytest.mark.parametrize(("keys", "seconds"), [({}, 600), ({"limits": {"cullIdleMinutes": 17}}, 17 * 60)])
def test_kernels_are_culled_after_the_idle_time(keys, seconds):
    files = binder_values(**keys)["jupyterhub"]["singleuser"]["extraFiles"]
    server = files["jupyter-server-config"]
    assert server["mountPath"] == "/etc/jupyter/jupyter_server_config.json"
    kernels = server["data"]["MappingKernelManager"]
    assert kernels["cull_idle_timeout"] == seconds and kernels["cull_connected"] is True
    assert binder_values(**keys)["jupyterhub"]["cull"]["timeout"] == seconds


def test_kernel_culling_in_jupyterhub_mode_follows_its_default():
    data = hub_mode_values()["singleuser"]["extraFiles"]["jupyter-server-config"]["data"]
    assert data["MappingKernelManager"]["cull_idle_timeout"] == 3600


# ---------------------------------------------------------------------- abuse defences


def test_pod_hardening_is_on_by_default_and_can_be_turned_off():
    single = binder_values()["jupyterhub"]["singleuser"]
    assert single["allowPrivilegeEscalation"] is False
    assert single["extraPodConfig"] == {"enableServiceLinks": False, "restartPolicy": "Never"}
    off = binder_values(security={"podHardening": False})["jupyterhub"]["singleuser"]
    assert "extraPodConfig" not in off and "allowPrivilegeEscalation" not in off


def test_egress_bandwidth_is_an_annotation_on_user_pods_only_when_set():
    assert "extraAnnotations" not in binder_values()["jupyterhub"]["singleuser"]
    single = binder_values(security={"egressBandwidth": "20M"})["jupyterhub"]["singleuser"]
    assert single["extraAnnotations"] == {"kubernetes.io/egress-bandwidth": "20M"}
    assert problems(security={"egressBandwidth": "fast"}) == [
        "binderhub-azure:security.egressBandwidth must be a rate such as '10M' (bits per second, K/M/G suffix) "
        "(got 'fast')"]


def test_cryptnono_is_off_by_default_and_a_pinned_release_when_on(render):
    assert not [r for r in render()["helmReleases"] if r["name"] == "cryptnono"]
    rel = release(render(security={"cryptnono": True}), "cryptnono")
    assert (rel["chart"], rel["version"], rel["repository"]) == (
        "cryptnono", "0.3.2-0.dev.git.267.h766bf8f", "https://cryptnono.github.io/cryptnono/")
    assert rel["namespace"] == "cryptnono"
    assert rel["values"]["priorityClassName"] == pv.CORE_PRIORITY_CLASS
    assert rel["values"]["detectors"]["execwhacker"]["dockerHostPath"] == "/var/run/dind/docker.sock"
    assert "binderhub-azure:security.cryptnono is only used when mode is binderhub" in problems(
        security={"cryptnono": True}, **HUB)


# ----------------------------------------------------------------------------- homes


def test_jupyterhub_homes_default_to_one_shared_nfs_share():
    c = cfg(**HUB)
    assert c.home_storage == "shared"
    single = hub_mode_values()["singleuser"]
    assert single["storage"]["type"] == "static"
    assert single["storage"]["static"] == {"pvcName": pv.HOME_CLAIM, "subPath": "{username}"}
    block = single["initContainers"][0]
    assert block["image"] == "quay.io/jupyterhub/k8s-network-tools:4.4.0"
    for port in (2049, 20048, 111):
        assert f"-p tcp --dport {port} -j DROP" in block["command"][2]
    assert charts.schema_errors(charts.JUPYTERHUB, hub_mode_values()) == []
    klass = pv.home_storage_class()
    assert klass["parameters"]["protocol"] == "nfs" and klass["reclaim_policy"] == "Retain"
    claim = pv.home_claim(cfg(storage={"sizeGi": 300}, **HUB), "jupyterhub")
    assert claim["spec"]["resources"]["requests"]["storage"] == "300Gi"
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]


def test_per_user_disks_and_none():
    disk = hub_mode_values(storage={"type": "perUserDisk", "perUserGi": 20})["singleuser"]
    assert disk["storage"] == {"type": "dynamic", "capacity": "20Gi"}
    assert "initContainers" not in disk
    none = hub_mode_values(storage={"type": "none"})["singleuser"]
    assert none["storage"]["type"] == "none"
    assert charts.schema_errors(charts.JUPYTERHUB, hub_mode_values(storage={"type": "perUserDisk"})) == []


def test_homes_with_datasets_keep_both():
    datasets = [{"name": "census", "storageAccount": "testunidata", "container": "census",
                 "mountPath": "/home/jovyan/data/census", "create": True}]
    storage = hub_mode_values(datasets=datasets)["singleuser"]["storage"]
    assert storage["type"] == "static" and storage["extraVolumeMounts"][0]["mountPath"] == "/home/jovyan/data/census"


def test_binder_homes_must_be_none():
    assert cfg().home_storage == "none"
    assert "binderhub-azure:storage.type must be 'none' when mode is binderhub (Binder servers are temporary) " \
           "(got 'shared')" in problems(storage={"type": "shared"})
    assert problems(storage={"sizeGi": 50}, **HUB) == ["binderhub-azure:storage.sizeGi must be >= 100 (got 50)"]


def test_plan_creates_the_share_claim_in_jupyterhub_mode(render):
    plan = render(**HUB)
    klass = named(plan, "hub-home-nfs")
    assert klass["inputs"]["provisioner"] == "file.csi.azure.com"
    claim = named(plan, "hub-home-nfs-claim")
    assert claim["inputs"]["metadata"] == {"name": pv.HOME_CLAIM, "namespace": "jupyterhub"}
    assert "hub-release" in claim["dependsOn"]
    assert not [r for r in render(storage={"type": "perUserDisk"}, **HUB)["resources"] if r["name"] == "hub-home-nfs"]
    # Launch events are BinderHub's: a JupyterHub stack has no events claim or extra namespace.
    assert not [r for r in plan["resources"] if r["name"] in ("hub-events-claim", "hub-namespace")]


# ---------------------------------------------------------------------- launch events


def test_launch_events_go_to_a_file_on_a_claim_the_binder_pod_mounts(render):
    values = binder_values()
    assert "c.EventLog.handlers_maker" in values["extraConfig"]["10-launch-events"]
    assert pv.EVENTS_FILE in values["extraConfig"]["10-launch-events"]
    claim = {"claimName": "binder-events"}
    assert values["extraVolumes"] == [{"name": "launch-events", "persistentVolumeClaim": claim}]
    assert values["extraVolumeMounts"] == [{"name": "launch-events", "mountPath": pv.EVENTS_DIR}]
    compile(values["extraConfig"]["10-launch-events"], "extraConfig", "exec")
    plan = render()
    claim = named(plan, "hub-events-claim")
    assert claim["inputs"]["spec"]["accessModes"] == ["ReadWriteMany"]
    assert "hub-events-claim" in named(plan, "hub-release")["dependsOn"]
    off = binder_values(binderSite={"launchEvents": False})
    assert "extraVolumes" not in off and "10-launch-events" not in off.get("extraConfig", {})


NOW = datetime.datetime(2026, 11, 29, 12, 0, tzinfo=datetime.UTC)


def event(days_ago: float, provider: str, spec: str, status: str = "success") -> str:
    when = NOW - datetime.timedelta(days=days_ago)
    return json.dumps({"timestamp": when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "schema": launches.LAUNCH_SCHEMA,
                       "version": 6, "provider": provider, "spec": spec, "ref": "abc", "status": status,
                       "build_token": False, "origin": "binder.testuni.example"})


FAKE_EVENTS = [
    event(0.1, "GitHub", "testuni/course/main"),
    event(1, "GitHub", "testuni/course/HEAD"),
    event(2, "GitHub", "testuni/course/v1", status="failure"),
    event(3, "GitLab", "group%2Fproject/main"),
    event(6.9, "Zenodo", "10.5281/zenodo.1234"),
    event(8, "GitHub", "testuni/old/main"),  # older than a week
    "not json",
    json.dumps({"schema": "other", "timestamp": "2026-11-29T00:00:00Z"}),
]


def test_launches_are_counted_per_repository_over_the_last_week():
    found, skipped = launches.parse_events(FAKE_EVENTS)
    assert skipped == 2 and len(found) == 6
    rows = launches.count_launches(found, now=NOW, days=7)
    assert rows == [launches.RepoCount("GitHub:testuni/course", 3, 1),
                    launches.RepoCount("GitLab:group/project", 1, 0),
                    launches.RepoCount("Zenodo:10.5281/zenodo.1234", 1, 0)]
    text = launches.render_launches(rows, now=NOW, days=7, skipped=skipped)
    assert text.splitlines()[0] == "Binder launches since 2026-11-22 12:00 UTC (last 7 days): 5 in 3 repositories"
    assert [line.split()[:2] for line in text.splitlines()[2:5]] == [["3", "1"], ["1", "0"], ["1", "0"]]


def test_ops_launches_reads_the_file_from_the_binder_pod(monkeypatch):
    now = datetime.datetime.now(datetime.UTC)
    lines = [json.dumps({**json.loads(event(0, "GitHub", "testuni/course/main")),
                         "timestamp": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")})] * 2
    calls = []

    def fake_exec(core, namespace, pod, command):
        calls.append((namespace, pod, command))
        return "\n".join(lines) + "\n"

    monkeypatch.setattr(launches, "kubernetes_exec", fake_exec)
    out, err = io.StringIO(), io.StringIO()
    code = ops.main(["launches"], runner=Pulumi(BINDER_OUTPUTS), api_factory=binderhub_cluster(), out=out, err=err)
    assert code == 0, err.getvalue()
    assert calls == [("binderhub", "binder-7f8e9-wwwww", ["sh", "-c", f"cat {pv.EVENTS_FILE} 2>/dev/null || true"])]
    assert "2 in 1 repositories" in out.getvalue() and "GitHub:testuni/course" in out.getvalue()


def test_ops_launches_without_a_binder_pod_exits_2():
    out, err = io.StringIO(), io.StringIO()
    code = ops.main(["launches", "--days", "3"], runner=Pulumi(BINDER_OUTPUTS), api_factory=jupyterhub_cluster(),
                    out=out, err=err)
    assert code == 2 and err.getvalue().startswith("error: no running binder pod in namespace binderhub")


# -------------------------------------------------------------------------------- cost


def test_cost_counts_registry_storage_beyond_the_included_gib():
    doc = cost.estimate(cfg(registry={"expectedStorageGi": 35}), offline=True)
    item = next(i for i in doc["items"] if i["name"].startswith("Registry storage beyond the 10 GiB"))
    assert (item["quantity"], item["unitPrice"], item["busyMonthly"]) == (25, 0.1, 2.5)
    standard = cost.estimate(cfg(registry={"sku": "Standard", "expectedStorageGi": 35}), offline=True)
    item = next(i for i in standard["items"] if i["name"].startswith("Registry storage beyond the 100 GiB"))
    assert item["quantity"] == 0 and item["busyMonthly"] == 0


def test_cost_counts_homes_per_registered_user_and_caps_users_per_node():
    doc = cost.estimate(cfg(storage={"type": "perUserDisk", "perUserGi": 4, "expectedUsers": 250},
                            limits={"memory": "1G"}, **HUB), offline=True)
    item = next(i for i in doc["items"] if i["name"].startswith("Home directories: a 4 GiB disk"))
    assert item["quantity"] == 250 and item["idleQuantity"] == 250
    # D4s_v5 attaches at most 8 data disks, fewer than 1 GiB users by memory.
    assert doc["usersPerNode"] == 8
    assert any("attaches at most 8 data disks" in note for note in doc["notes"])
    shared = cost.estimate(cfg(storage={"sizeGi": 200}, **HUB), offline=True)
    item = next(i for i in shared["items"] if i["name"].startswith("Home directories: one Azure Files"))
    assert item["quantity"] == 200 and item["unitPrice"] == 0.16 and item["idleMonthly"] == 32.0


def test_price_unit_reads_per_gib_month_meters():
    assert cost.price_unit("1 GB/Month") == "month"
    assert cost.price_unit("1 GiB/Month") == "month"
    assert cost.price_unit("1 GB") is None


@pytest.mark.parametrize("keys", [
    {"security": {"podHardening": False, "egressBandwidth": "5M", "cryptnono": True},
     "binderSite": {"launchEvents": False, "requireEnvironment": True}},
    {"security": {"egressBandwidth": "1G"}, "binderSite": {"bannerMessage": "<b>hi</b>", "aboutMessage": "about"}},
])
def test_every_toggle_renders_values_the_binderhub_schema_accepts(keys):
    assert charts.schema_errors(charts.BINDERHUB, binder_values(**keys)) == []


@pytest.mark.parametrize("storage", [{"type": "shared", "sizeGi": 150}, {"type": "perUserDisk"}, {"type": "none"}])
def test_every_home_storage_renders_values_the_jupyterhub_schema_accepts(storage):
    values = hub_mode_values(storage=storage, security={"podHardening": True, "egressBandwidth": "10M"})
    assert charts.schema_errors(charts.JUPYTERHUB, values) == []


# ------------------------------------------------------------ network policy emptiness


@pytest.mark.parametrize(("spec", "found"), [
    ({"podSelector": {"matchLabels": {"a": "b"}}, "egress": [{"to": [{"ipBlock": {"cidr": "1.2.3.4/32"}}],
                                                              "ports": []}]},
     "spec.egress[0].ports is an empty list: every port"),
    ({"podSelector": {"matchLabels": {"a": "b"}}, "egress": [{"to": [], "ports": [{"port": 443}]}]},
     "spec.egress[0].to is an empty list: every peer"),
    ({"podSelector": {"matchLabels": {"a": "b"}}, "ingress": [{}]}, "spec.ingress[0] is empty: it allows everything"),
    ({"podSelector": {}, "egress": []},
     "spec.podSelector is empty: the policy applies to every pod of the namespace"),
    ({"podSelector": {"matchLabels": {"a": "b"}}, "egress": [{"to": [{"namespaceSelector": {}}]}]},
     "spec.egress[0].to[0] has only empty selectors: every pod in every namespace"),
    ({"podSelector": {"matchLabels": {"a": "b"}}, "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]},
     "spec.egress[0].to[0].ipBlock is 0.0.0.0/0 with no except: every address"),
    ({"podSelector": {"matchExpressions": [{"key": "component", "operator": "In", "values": []}]}},
     "spec.podSelector.matchExpressions[0] has no values"),
    ({"podSelector": {"matchLabels": {"a": "b"}}, "egress": [{"ports": [{"protocol": "TCP"}]}]},
     "spec.egress[0].ports[0] names no port: every port of its protocol"),
])
def test_every_empty_that_means_all_is_found(spec, found):
    assert found in pv.network_policy_widenings(spec)


def test_what_a_rule_means_by_leaving_a_key_out_is_not_flagged():
    # z2jh's DNS rule has no `to` (DNS anywhere) and its rule to labelled pods in any namespace
    # pairs an empty namespaceSelector with a podSelector.
    spec = {"podSelector": {"matchLabels": {"component": "hub"}}, "egress": [{"ports": [{"port": 53}]}], "ingress": [
        {"from": [{"podSelector": {"matchLabels": {"x": "true"}}, "namespaceSelector": {"matchLabels": {}}}],
         "ports": [{"port": 8081}]}]}
    assert pv.network_policy_widenings(spec) == []


def test_an_empty_build_port_list_is_refused_not_rendered_as_every_port():
    (line,) = problems(security={"buildEgressPorts": []})
    assert line.startswith("binderhub-azure:security.buildEgressPorts must list at least one TCP port")
    assert "an empty port list in a NetworkPolicy means every port" in line
    # The builder itself never writes an empty list: without ports there is no public rule at all.
    c = cfg()
    emptied = c.model_copy(update={"security": c.security.model_copy(update={"build_egress_ports": []})})
    spec = hub_spec.build_pod_network_policy(emptied, "binderhub")["spec"]
    assert [rule.get("to") for rule in spec["egress"]] == [None]  # DNS only
    assert pv.network_policy_widenings(spec) == []


def _rendered_policies(c) -> list[tuple[str, dict]]:
    """Every NetworkPolicy rule list the stack renders: its own build policy, and the rule lists it
    gives the charts' policies (`*.networkPolicy.egress` / `ingress` in the hub release values)."""
    found = []
    if c.binder:
        found.append(("build policy", hub_spec.build_pod_network_policy(c, "binderhub")["spec"]))
    values = hub_spec.release_values(c, SECRETS, hub_spec.dockerhub_wiring(cfg(), "t") if c.binder else None)

    def walk(node, path):
        if isinstance(node, dict):
            if path.endswith("networkPolicy"):
                rules = {k: node[k] for k in ("egress", "ingress") if k in node}
                found.append((path, {"podSelector": {"matchLabels": {"chart": "sets it"}}, **rules}))
            for key, value in node.items():
                walk(value, f"{path}.{key}" if path else key)
    walk(values, "")
    return found


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ports=st.lists(st.integers(min_value=0, max_value=70000), max_size=4),
       mode=st.sampled_from(["binderhub", "jupyterhub"]), block=st.booleans(), monitoring=st.booleans())
def test_no_rendered_network_policy_rule_has_an_empty_that_means_all(ports, mode, block, monitoring):
    keys = {"security": {"blockCloudMetadata": block}, "monitoring": {"enabled": monitoring},
            "cluster": {"systemPool": {"vmSize": "Standard_E2s_v5"}}}
    if mode == "binderhub":
        keys["security"]["buildEgressPorts"] = ports
    else:
        keys.update(HUB)
    try:
        c = cfg(**keys)
    except ConfigError:
        assert mode == "binderhub" and (not ports or not all(1 <= p <= 65535 for p in ports))
        return
    policies = _rendered_policies(c)
    assert any(path == "build policy" for path, _ in policies) == (mode == "binderhub")
    for path, spec in policies:
        assert pv.network_policy_widenings(spec) == [], path
