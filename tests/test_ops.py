"""Day-two commands (`./run python -m tools.ops`) against a fake cluster and a fake Pulumi CLI.

Nothing here reaches Azure or a real cluster: the Pulumi runner and the Kubernetes API
factory are replaced by fakes that return the client's own model objects (`V1Pod`, ...).
"""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from kubernetes.config import ConfigException

from tools import ops

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "kube-token-0123456789abcdef0123456789abcdef"
CLIENT_KEY = "LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQpub3QtYS1yZWFsLWtleQ=="
KUBECONFIG = f"""apiVersion: v1
kind: Config
clusters:
- name: aks-testuni
  cluster:
    server: https://testuni-abc123.hcp.westeurope.azmk8s.io:443
contexts:
- name: aks-testuni
  context: {{cluster: aks-testuni, user: clusterUser}}
current-context: aks-testuni
users:
- name: clusterUser
  user:
    token: {TOKEN}
    client-key-data: {CLIENT_KEY}
"""
OTHER_SECRET = "an-extra-secret-output-value-42"
SITE = "https://testuni-binder.westeurope.cloudapp.azure.com/"
BINDER_OUTPUTS: dict[str, Any] = {
    "url": SITE,
    "hubUrl": f"{SITE}jupyter/",
    "publicIp": "20.50.60.70",
    "azureDnsName": "testuni-binder.westeurope.cloudapp.azure.com",
    "nextStep": f"Open {SITE} (the certificate is issued within minutes of the first request reaching the site).",
    "resourceGroup": "rg-testuni-binderhub",
    "clusterName": "aks-testuni",
    "registryLoginServer": "testunibinderab12cd.azurecr.io",
    "kubeconfig": KUBECONFIG,
    # A secret output a later version might add: --show-secrets reveals it, ops must not.
    "someSecret": OTHER_SECRET,
}
HUB_SITE = "https://testuni-hub.westeurope.cloudapp.azure.com/"
JUPYTERHUB_OUTPUTS: dict[str, Any] = {
    **BINDER_OUTPUTS, "url": HUB_SITE, "hubUrl": HUB_SITE, "resourceGroup": "rg-testuni-jupyterhub",
    "azureDnsName": "testuni-hub.westeurope.cloudapp.azure.com", "registryLoginServer": None,
    "nextStep": f"Open {HUB_SITE}.",
}
SECRETS = (TOKEN, CLIENT_KEY, OTHER_SECRET, "client-key-data", "BEGIN RSA")


# --------------------------------------------------------------------------- fake cluster


def pod(name: str, namespace: str, labels: dict[str, str], *, phase: str = "Running", ready: bool = True,
        restarts: int = 0, waiting: tuple[str, str] | None = None, last_exit: tuple[str, int] | None = None,
        containers: tuple[str, ...] = ("main",), terminating: bool = False,
        conditions: list[client.V1PodCondition] | None = None) -> client.V1Pod:
    """A pod as the API returns it, with the states that matter for the report."""
    state = client.V1ContainerState(
        waiting=client.V1ContainerStateWaiting(reason=waiting[0], message=waiting[1]) if waiting else None,
        running=client.V1ContainerStateRunning() if phase == "Running" and not waiting else None,
        terminated=client.V1ContainerStateTerminated(reason="Completed", exit_code=0) if phase == "Succeeded"
        else None,
    )
    last = client.V1ContainerState(terminated=client.V1ContainerStateTerminated(
        reason=last_exit[0], exit_code=last_exit[1])) if last_exit else None
    statuses = [client.V1ContainerStatus(name=c, image=f"example/{c}:1", image_id="sha256:0", ready=ready,
                                         restart_count=restarts, state=state, last_state=last) for c in containers]
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, namespace=namespace, labels=labels,
                                     deletion_timestamp=datetime.now(UTC) if terminating else None),
        spec=client.V1PodSpec(containers=[client.V1Container(name=c) for c in containers]),
        status=client.V1PodStatus(phase=phase, container_statuses=statuses if phase != "Pending" or waiting else [],
                                  conditions=conditions),
    )


def cert_manager_pods() -> list[client.V1Pod]:
    labels = {"app.kubernetes.io/instance": "cert-manager"}
    return [
        pod("cert-manager-7d9f8-aaaaa", "cert-manager", {**labels, "app.kubernetes.io/component": "controller"},
            containers=("cert-manager-controller",)),
        pod("cert-manager-cainjector-5c7-bbbbb", "cert-manager", labels, containers=("cert-manager-cainjector",)),
        pod("cert-manager-webhook-6b8-ccccc", "cert-manager", labels, containers=("cert-manager-webhook",)),
        # The chart's post-install check: finished, and no sign of trouble.
        pod("cert-manager-startupapicheck-ddddd", "cert-manager", labels, phase="Succeeded", ready=False,
            containers=("cert-manager-startupapicheck",)),
    ]


def hub_pods(namespace: str, *, hub: client.V1Pod | None = None) -> list[client.V1Pod]:
    return [
        hub or pod("hub-6b7c9d-x2x2x", namespace, {"component": "hub", "app": "jupyterhub"}, containers=("hub",)),
        pod("proxy-5f6d7-y3y3y", namespace, {"component": "proxy", "app": "jupyterhub"}, containers=("chp",)),
        pod("user-scheduler-84c-aaaaa", namespace, {"component": "user-scheduler"}, containers=("kube-scheduler",)),
        pod("user-scheduler-84c-bbbbb", namespace, {"component": "user-scheduler"}, containers=("kube-scheduler",)),
        # A user's server in the same namespace: never mistaken for a component.
        pod("jupyter-alice", namespace, {"component": "singleuser-server"}, containers=("notebook",)),
    ]


def traefik_pod() -> client.V1Pod:
    return pod("traefik-7c4d5-zzzzz", "traefik", {"app.kubernetes.io/name": "traefik",
                                                  "app.kubernetes.io/instance": "traefik-traefik"},
               containers=("traefik",))


def certificate(namespace: str, *, ready: str = "True", reason: str = "Ready",
                message: str = "Certificate is up to date and has not expired",
                issuer: str = "letsencrypt-production") -> dict[str, Any]:
    return {
        "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
        "metadata": {"name": "testuni-tls", "namespace": namespace},
        "spec": {"secretName": "testuni-tls", "issuerRef": {"name": issuer, "kind": "ClusterIssuer"}},
        "status": {"conditions": [{"type": "Ready", "status": ready, "reason": reason, "message": message}],
                   **({"notAfter": "2026-02-21T07:00:00Z"} if ready == "True" else {})},
    }


class LogStream:
    """Stands in for the urllib3 response that `_preload_content=False` returns."""

    def __init__(self, lines: list[bytes]):
        self.lines = lines
        self.released = False

    def __iter__(self):
        return iter(self.lines)

    def release_conn(self) -> None:
        self.released = True


@dataclass
class FakeCore:
    """The CoreV1Api calls ops makes, answered from lists of model objects."""

    namespaces: list[str]
    pods: list[client.V1Pod]
    logs: dict[tuple[str, str], str] = field(default_factory=dict)
    """(pod, container) -> log text."""
    error: BaseException | None = None
    log_errors: dict[str, BaseException] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    streams: list[LogStream] = field(default_factory=list)
    metrics: str | BaseException = "binderhub_github_rate_limit_remaining 4321.0\n"
    """What the API's proxy to the binder Service answers for /metrics (an exception is raised)."""

    def connect_get_namespaced_service_proxy_with_path(self, name: str, namespace: str, path: str,
                                                       **kwargs: Any) -> str:
        self.calls.append(("service_proxy", {"name": name, "namespace": namespace, "path": path}))
        self._check()
        if isinstance(self.metrics, BaseException):
            raise self.metrics
        return self.metrics

    def _check(self) -> None:
        if self.error is not None:
            raise self.error

    def list_namespace(self, **kwargs: Any) -> client.V1NamespaceList:
        self.calls.append(("list_namespace", kwargs))
        self._check()
        return client.V1NamespaceList(items=[client.V1Namespace(metadata=client.V1ObjectMeta(name=n))
                                             for n in self.namespaces])

    def list_namespaced_pod(self, namespace: str, label_selector: str = "", **kwargs: Any) -> client.V1PodList:
        self.calls.append(("list_namespaced_pod", {"namespace": namespace, "label_selector": label_selector}))
        self._check()
        key, _, value = label_selector.partition("=")
        return client.V1PodList(items=[p for p in self.pods if p.metadata.namespace == namespace
                                       and (p.metadata.labels or {}).get(key) == value])

    def read_namespaced_pod_log(self, name: str, namespace: str, container: str | None = None,
                                follow: bool | None = None, tail_lines: int | None = None,
                                previous: bool | None = None, _preload_content: bool = True,
                                **kwargs: Any) -> Any:
        self.calls.append(("read_namespaced_pod_log", {
            "name": name, "namespace": namespace, "container": container, "follow": follow,
            "tail_lines": tail_lines, "previous": previous, "_preload_content": _preload_content}))
        self._check()
        if name in self.log_errors:
            raise self.log_errors[name]
        lines = self.logs.get((name, container), "").splitlines(keepends=True)
        if tail_lines is not None:
            lines = lines[-tail_lines:]
        if follow:
            stream = LogStream([line.encode() for line in lines])
            self.streams.append(stream)
            return stream
        return "".join(lines)


@dataclass
class FakeCustom:
    """CustomObjectsApi: cert-manager objects by (group, namespace, plural); kinds in `missing` 404."""

    objects: dict[tuple[str, str, str], list[dict[str, Any]]] = field(default_factory=dict)
    missing: set[str] = field(default_factory=set)
    calls: list[tuple[str, str, str, str]] = field(default_factory=list)

    def list_namespaced_custom_object(self, group: str, version: str, namespace: str, plural: str,
                                      **kwargs: Any) -> dict[str, Any]:
        self.calls.append((group, version, namespace, plural))
        if plural in self.missing:
            raise ApiException(status=404, reason="Not Found")
        return {"apiVersion": f"{group}/{version}", "items": self.objects.get((group, namespace, plural), [])}


@dataclass
class Factory:
    """The API factory: records the kubeconfig it was given, and what the file held then."""

    core: FakeCore
    custom: FakeCustom
    paths: list[str] = field(default_factory=list)
    seen_text: list[str] = field(default_factory=list)
    seen_mode: list[int] = field(default_factory=list)
    error: BaseException | None = None

    def __call__(self, path: str) -> ops.Apis:
        self.paths.append(path)
        self.seen_text.append(Path(path).read_text())
        self.seen_mode.append(stat.S_IMODE(os.stat(path).st_mode))
        if self.error is not None:
            raise self.error
        return ops.Apis(core=self.core, custom=self.custom)


def binderhub_cluster(*, hub: client.V1Pod | None = None, cert: dict[str, Any] | None = None,
                      challenges: list[dict[str, Any]] | None = None) -> Factory:
    core = FakeCore(
        namespaces=["default", "kube-system", "binderhub", "traefik", "cert-manager"],
        pods=[*hub_pods("binderhub", hub=hub),
              pod("binder-7f8e9-wwwww", "binderhub", {"component": "binder", "app": "binder"}, containers=("binder",)),
              traefik_pod(), *cert_manager_pods()],
    )
    custom = FakeCustom(objects={
        ("cert-manager.io", "binderhub", "certificates"): [cert or certificate("binderhub")],
        ("acme.cert-manager.io", "binderhub", "challenges"): challenges or [],
    })
    return Factory(core, custom)


def jupyterhub_cluster() -> Factory:
    core = FakeCore(namespaces=["default", "kube-system", "jupyterhub", "traefik", "cert-manager"],
                    pods=[*hub_pods("jupyterhub"), traefik_pod(), *cert_manager_pods()])
    custom = FakeCustom(objects={("cert-manager.io", "jupyterhub", "certificates"): [certificate("jupyterhub")]})
    return Factory(core, custom)


@dataclass
class Pulumi:
    """The Pulumi CLI: prints the given outputs, or fails like it does."""

    outputs: dict[str, Any] | None = None
    stdout: str | None = None
    returncode: int = 0
    stderr: str = ""
    raises: BaseException | None = None
    calls: list[list[str]] = field(default_factory=list)

    def __call__(self, args: list[str]) -> subprocess.CompletedProcess[str]:
        self.calls.append(args)
        if self.raises is not None:
            raise self.raises
        stdout = self.stdout if self.stdout is not None else json.dumps(self.outputs, indent=2)
        return subprocess.CompletedProcess(args, self.returncode, stdout=stdout, stderr=self.stderr)


@dataclass
class Result:
    code: int
    out: str
    err: str


def run(argv: list[str], *, pulumi: Pulumi | None = None, factory: Factory | None = None) -> Result:
    out, err = io.StringIO(), io.StringIO()
    code = ops.main(argv, runner=pulumi or Pulumi(BINDER_OUTPUTS), api_factory=factory or binderhub_cluster(),
                    out=out, err=err)
    result = Result(code, out.getvalue(), err.getvalue())
    for secret in SECRETS:  # whatever the command and the outcome
        assert secret not in result.out and secret not in result.err, f"{secret!r} was printed"
    assert "Traceback" not in result.err
    return result


# --------------------------------------------------------------------------- status


def test_all_ready_exits_0_and_shows_the_urls():
    pulumi, factory = Pulumi(BINDER_OUTPUTS), binderhub_cluster()
    result = run(["status", "--stack", "testuni"], pulumi=pulumi, factory=factory)
    assert result.code == 0, result.out + result.err
    assert pulumi.calls == [["pulumi", "stack", "output", "--json", "--show-secrets", "--stack", "testuni"]]
    assert SITE in result.out and f"{SITE}jupyter/" in result.out
    assert "binderhub mode" in result.out
    for name in ("hub", "proxy", "binder", "user-scheduler", "traefik", "cert-manager"):
        assert any(line.startswith(f"{name} ") and " ready " in line for line in result.out.splitlines()), name
    assert "Certificate binderhub/testuni-tls: issued, valid until 2026-02-21T07:00:00Z" in result.out
    assert result.out.rstrip().endswith("Everything is ready.")
    assert "jupyter-alice" not in result.out  # user servers are not components
    assert result.err == ""


def test_selectors_and_namespaces_are_the_charts_labels():
    factory = binderhub_cluster()
    run(["status"], factory=factory)
    listed = [(c[1]["namespace"], c[1]["label_selector"]) for c in factory.core.calls if c[0] == "list_namespaced_pod"]
    assert listed == [
        ("binderhub", "component=hub"), ("binderhub", "component=proxy"), ("binderhub", "component=binder"),
        ("binderhub", "component=user-scheduler"), ("traefik", "app.kubernetes.io/name=traefik"),
        ("cert-manager", "app.kubernetes.io/instance=cert-manager"),
    ]
    assert ("cert-manager.io", "v1", "binderhub", "certificates") in factory.custom.calls


def test_crash_looping_hub_exits_1_with_restart_count():
    hub = pod("hub-6b7c9d-x2x2x", "binderhub", {"component": "hub"}, ready=False, restarts=7, containers=("hub",),
              waiting=("CrashLoopBackOff", "back-off 5m0s restarting failed container=hub"),
              last_exit=("Error", 1))
    result = run(["status"], factory=binderhub_cluster(hub=hub))
    assert result.code == 1
    hub_line = next(line for line in result.out.splitlines() if line.startswith("hub "))
    assert "NOT READY" in hub_line and "0/1" in hub_line and " 7 " in hub_line
    assert "CrashLoopBackOff (last exit: Error, code 1)" in hub_line
    assert "NOT READY: hub: 1 pod(s) not ready (CrashLoopBackOff (last exit: Error, code 1), 7 restarts)" \
        in result.out
    assert "./run python -m tools.ops logs hub --previous" in result.out


def test_pending_certificate_shows_its_message_and_the_challenge():
    cert = certificate("binderhub", ready="False", reason="DoesNotExist",
                       message="Issuing certificate as Secret does not exist")
    challenge = {"metadata": {"name": "testuni-tls-1-2-3", "namespace": "binderhub"},
                 "spec": {"dnsName": "testuni-binder.westeurope.cloudapp.azure.com", "type": "HTTP-01"},
                 "status": {"state": "pending", "presented": True,
                            "reason": "Waiting for HTTP-01 challenge propagation: wrong status code '404'"}}
    result = run(["status"], factory=binderhub_cluster(cert=cert, challenges=[challenge]))
    assert result.code == 1
    assert "Certificate binderhub/testuni-tls: pending; issuer letsencrypt-production" in result.out
    assert "DoesNotExist: Issuing certificate as Secret does not exist" in result.out
    assert ("challenge for testuni-binder.westeurope.cloudapp.azure.com: pending: Waiting for HTTP-01 challenge "
            "propagation: wrong status code '404'") in result.out
    assert "nslookup testuni-binder.westeurope.cloudapp.azure.com (expect 20.50.60.70)" in result.out
    assert "certificate testuni-tls: pending" in result.out


def test_no_certificate_yet_is_not_ready():
    factory = binderhub_cluster()
    factory.custom.objects[("cert-manager.io", "binderhub", "certificates")] = []
    result = run(["status"], factory=factory)
    assert result.code == 1
    assert "Certificate: none yet in namespace binderhub" in result.out


def test_jupyterhub_mode_has_no_binder():
    factory = jupyterhub_cluster()
    result = run(["status"], pulumi=Pulumi(JUPYTERHUB_OUTPUTS), factory=factory)
    assert result.code == 0, result.out
    assert "jupyterhub mode (hub namespace jupyterhub)" in result.out
    assert HUB_SITE in result.out
    assert not any(line.startswith("binder ") for line in result.out.splitlines())
    selectors = [c[1]["label_selector"] for c in factory.core.calls if c[0] == "list_namespaced_pod"]
    assert "component=binder" not in selectors
    assert ("cert-manager.io", "v1", "jupyterhub", "certificates") in factory.custom.calls


def test_user_scheduler_switched_off_is_fine_but_a_missing_proxy_is_not():
    factory = binderhub_cluster()
    factory.core.pods = [p for p in factory.core.pods if p.metadata.labels.get("component") != "user-scheduler"]
    result = run(["status"], factory=factory)
    assert result.code == 0
    assert "disabled in the config?" in result.out
    factory.core.pods = [p for p in factory.core.pods if p.metadata.labels.get("component") != "proxy"]
    result = run(["status"], factory=factory)
    assert result.code == 1
    assert "proxy: no pods in namespace binderhub" in result.out


def test_http_only_stack_needs_no_cert_manager():
    outputs = {**BINDER_OUTPUTS, "url": SITE.replace("https", "http"), "hubUrl": f"{SITE}jupyter/".replace(
        "https", "http")}
    factory = binderhub_cluster()
    factory.core.pods = [p for p in factory.core.pods if p.metadata.namespace != "cert-manager"]
    result = run(["status"], pulumi=Pulumi(outputs), factory=factory)
    assert result.code == 0, result.out
    assert "Certificate: none (https is off)" in result.out
    assert not factory.custom.calls


def test_cert_manager_kind_missing_is_reported():
    factory = binderhub_cluster()
    factory.custom.missing.add("certificates")
    result = run(["status"], factory=factory)
    assert result.code == 1
    assert "cert-manager's Certificate kind is not installed" in result.out


# --------------------------------------------------------------------------- logs


def test_logs_tail_of_a_component():
    factory = binderhub_cluster()
    factory.core.logs[("hub-6b7c9d-x2x2x", "hub")] = "".join(f"[I hub] line {i}\n" for i in range(1, 301))
    result = run(["logs", "hub", "--tail", "5"], factory=factory)
    assert result.code == 0
    assert result.out.splitlines() == ["==> binderhub/hub-6b7c9d-x2x2x (hub) <==",
                                       *[f"[I hub] line {i}" for i in range(296, 301)]]
    reads = [c[1] for c in factory.core.calls if c[0] == "read_namespaced_pod_log"]
    assert reads == [{"name": "hub-6b7c9d-x2x2x", "namespace": "binderhub", "container": "hub", "follow": None,
                      "tail_lines": 5, "previous": None, "_preload_content": True}]


def test_logs_default_tail_is_100_and_ingress_means_traefik():
    factory = binderhub_cluster()
    factory.core.logs[("traefik-7c4d5-zzzzz", "traefik")] = "".join(f"{i}\n" for i in range(150))
    result = run(["logs", "ingress"], factory=factory)
    assert result.code == 0
    assert len(result.out.splitlines()) == 101  # header + 100 lines
    read = next(c[1] for c in factory.core.calls if c[0] == "read_namespaced_pod_log")
    assert (read["namespace"], read["container"], read["tail_lines"]) == ("traefik", "traefik", 100)


def test_logs_of_every_cert_manager_pod_and_a_container_not_started():
    factory = binderhub_cluster()
    factory.core.logs[("cert-manager-7d9f8-aaaaa", "cert-manager-controller")] = "controller says hi\n"
    factory.core.log_errors["cert-manager-webhook-6b8-ccccc"] = ApiException(
        status=400, reason="Bad Request",
        body=json.dumps({"kind": "Status", "message": 'container "cert-manager-webhook" in pod is waiting to '
                                                      "start: ContainerCreating"}))
    result = run(["logs", "cert-manager"], factory=factory)
    assert result.code == 0
    headers = [line for line in result.out.splitlines() if line.startswith("==> ")]
    assert len(headers) == 4  # three running pods and the finished check
    assert "controller says hi" in result.out
    assert "(no logs: container \"cert-manager-webhook\" in pod is waiting to start: ContainerCreating)" \
        in result.out


def test_logs_previous_instance():
    factory = binderhub_cluster()
    factory.core.logs[("hub-6b7c9d-x2x2x", "hub")] = "sqlalchemy.exc.OperationalError: disk full\n"
    result = run(["logs", "hub", "--previous"], factory=factory)
    assert result.code == 0 and "disk full" in result.out
    assert next(c[1] for c in factory.core.calls if c[0] == "read_namespaced_pod_log")["previous"] is True


def test_logs_follow_streams_every_container():
    factory = binderhub_cluster()
    factory.core.logs[("user-scheduler-84c-aaaaa", "kube-scheduler")] = "a1\na2\n"
    factory.core.logs[("user-scheduler-84c-bbbbb", "kube-scheduler")] = "b1\n"
    result = run(["logs", "user-scheduler", "--follow", "--tail", "10"], factory=factory)
    assert result.code == 0
    assert sorted(result.out.splitlines()) == ["[user-scheduler-84c-aaaaa] a1", "[user-scheduler-84c-aaaaa] a2",
                                               "[user-scheduler-84c-bbbbb] b1"]
    reads = [c[1] for c in factory.core.calls if c[0] == "read_namespaced_pod_log"]
    assert all(r["follow"] is True and r["_preload_content"] is False and r["tail_lines"] == 10 for r in reads)
    assert len(factory.core.streams) == 2 and all(s.released for s in factory.core.streams)


def test_logs_previous_cannot_be_followed():
    result = run(["logs", "hub", "--previous", "--follow"])
    assert result.code == 2 and "--previous and --follow do not go together" in result.err


def test_logs_follow_single_pod_has_no_prefix():
    factory = binderhub_cluster()
    factory.core.logs[("binder-7f8e9-wwwww", "binder")] = "Launching pod\n"
    result = run(["logs", "binder", "-f"], factory=factory)
    assert result.code == 0 and result.out == "Launching pod\n"


def test_logs_unknown_component_exits_2_without_asking_pulumi():
    pulumi = Pulumi(BINDER_OUTPUTS)
    result = run(["logs", "database"], pulumi=pulumi)
    assert result.code == 2
    assert result.err == ("error: unknown component 'database': choose one of hub, proxy, binder, ingress, "
                          "cert-manager, user-scheduler\n")
    assert pulumi.calls == []


def test_logs_of_binder_on_a_jupyterhub_stack():
    result = run(["logs", "binder"], pulumi=Pulumi(JUPYTERHUB_OUTPUTS), factory=jupyterhub_cluster())
    assert result.code == 2
    assert "binder runs only in binderhub mode; this stack is jupyterhub" in result.err


def test_logs_without_pods_says_so():
    factory = binderhub_cluster()
    factory.core.pods = [p for p in factory.core.pods if p.metadata.namespace != "traefik"]
    result = run(["logs", "ingress"], factory=factory)
    assert result.code == 1
    assert "no ingress pods in namespace traefik" in result.err


# --------------------------------------------------------------------------- info


def test_info_shows_the_public_outputs_only():
    factory = binderhub_cluster()
    result = run(["info"], factory=factory)
    assert result.code == 0
    for key in ("url", "hubUrl", "publicIp", "azureDnsName", "resourceGroup", "clusterName",
                "registryLoginServer", "nextStep"):
        assert str(BINDER_OUTPUTS[key]) in result.out, key
    assert factory.paths == []  # info never touches the cluster, nor writes the kubeconfig


def test_info_of_a_jupyterhub_stack_without_registry():
    result = run(["info"], pulumi=Pulumi(JUPYTERHUB_OUTPUTS))
    assert result.code == 0
    assert "Registry:" in result.out and "no Azure Container Registry" in result.out


def test_info_works_before_the_cluster_has_a_kubeconfig():
    outputs = {k: v for k, v in BINDER_OUTPUTS.items() if k != "kubeconfig"}
    assert run(["info"], pulumi=Pulumi(outputs)).code == 0


# --------------------------------------------------------------------------- not deployed


NOT_DEPLOYED = [
    (Pulumi(stdout="{}\n"), "has no outputs: it has not been deployed yet (run `pulumi up`)"),
    (Pulumi(stdout=""), "has no outputs: it has not been deployed yet"),
    (Pulumi(raises=FileNotFoundError(2, "No such file or directory", "pulumi")),
     "the Pulumi CLI (`pulumi`) is not installed or not on PATH"),
    (Pulumi(returncode=255, stdout="", stderr="error: no stack named 'nope' found\n"),
     "`pulumi stack output` failed: error: no stack named 'nope' found (pass --stack NAME"),
    (Pulumi(raises=subprocess.TimeoutExpired(["pulumi"], 120)), "did not answer within 120 s"),
    (Pulumi(stdout="not json"), "the stack outputs are not JSON"),
]


@pytest.mark.parametrize("command", [["status"], ["logs", "hub"], ["info"]])
@pytest.mark.parametrize(("pulumi", "message"), NOT_DEPLOYED)
def test_not_deployed_exits_2_with_one_line(command, pulumi, message):
    factory = binderhub_cluster()
    result = run(command, pulumi=pulumi, factory=factory)
    assert result.code == 2
    assert result.out == ""
    assert result.err.startswith("error: ") and message in result.err
    assert result.err.count("\n") == 1
    assert factory.paths == []


@pytest.mark.parametrize("command", [["status"], ["logs", "proxy"]])
def test_outputs_without_kubeconfig_exit_2(command):
    outputs = {k: v for k, v in BINDER_OUTPUTS.items() if k != "kubeconfig"}
    result = run(command, pulumi=Pulumi(outputs))
    assert result.code == 2
    assert "has no kubeconfig output: it has not been deployed yet" in result.err


def test_outputs_saved_without_show_secrets():
    result = run(["status"], pulumi=Pulumi({**BINDER_OUTPUTS, "kubeconfig": "[secret]"}))
    assert result.code == 2 and "--show-secrets" in result.err


def test_stack_name_in_the_not_deployed_message():
    result = run(["status", "--stack", "myuni"], pulumi=Pulumi(stdout="{}"))
    assert "error: stack 'myuni' has no outputs" in result.err


# --------------------------------------------------------------------------- unreachable


UNREACHABLE = [
    urllib3.exceptions.MaxRetryError(
        None, "/api/v1/namespaces",
        urllib3.exceptions.NewConnectionError(None, "Failed to establish a new connection: [Errno -2] Name or "
                                                    "service not known")),
    urllib3.exceptions.MaxRetryError(None, "/api/v1/namespaces",
                                     urllib3.exceptions.ConnectTimeoutError(None, "timed out")),
    ApiException(status=0, reason="SSLError\n[SSL: WRONG_VERSION_NUMBER] wrong version number"),
    ApiException(status=503, reason="Service Unavailable"),
    ConnectionRefusedError(111, "Connection refused"),
]


@pytest.mark.parametrize("command", [["status"], ["logs", "hub"]])
@pytest.mark.parametrize("error", UNREACHABLE, ids=lambda e: type(e).__name__)
def test_unreachable_cluster_exits_2(command, error):
    factory = binderhub_cluster()
    factory.core.error = error
    result = run(command, factory=factory)
    assert result.code == 2
    assert result.out == ""
    assert result.err.count("\n") == 1
    assert "cannot reach the Kubernetes API server of aks-testuni" in result.err
    assert "the cluster may be stopped (az aks start -g rg-testuni-binderhub -n aks-testuni)" in result.err
    assert "authorized IP ranges" in result.err
    assert not Path(factory.paths[0]).exists()


@pytest.mark.parametrize(("status", "message"), [(401, "rejected the credentials"), (403, "refused access")])
def test_credentials_refused_exit_2(status, message):
    factory = binderhub_cluster()
    factory.core.error = ApiException(status=status, reason="Forbidden" if status == 403 else "Unauthorized")
    result = run(["status"], factory=factory)
    assert result.code == 2 and message in result.err


def test_unreachable_through_the_real_client(tmp_path):
    """The real Kubernetes client against a closed local port: its own exception types, no network."""
    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG.replace("https://testuni-abc123.hcp.westeurope.azmk8s.io:443", "https://127.0.0.1:9"))
    out, err = io.StringIO(), io.StringIO()
    code = ops.main(["status", "--kubeconfig", str(path), "--outputs-json", str(write_outputs(tmp_path))],
                    out=out, err=err)
    assert code == 2, err.getvalue()
    assert "cannot reach the Kubernetes API server of aks-testuni" in err.getvalue()
    assert TOKEN not in err.getvalue() + out.getvalue()


# --------------------------------------------------------------------------- kubeconfig and secrets


def test_kubeconfig_temp_file_is_private_and_removed():
    factory = binderhub_cluster()
    result = run(["status"], factory=factory)
    assert result.code == 0
    assert factory.seen_text == [KUBECONFIG]
    assert factory.seen_mode == [0o600]
    assert not Path(factory.paths[0]).exists()
    assert factory.paths[0] not in result.out + result.err


def test_kubeconfig_temp_file_is_removed_when_the_command_fails():
    hub = pod("hub-6b7c9d-x2x2x", "binderhub", {"component": "hub"}, ready=False, restarts=3,
              waiting=("CrashLoopBackOff", ""), containers=("hub",))
    factory = binderhub_cluster(hub=hub)
    factory.core.log_errors["hub-6b7c9d-x2x2x"] = ApiException(status=500, reason="Internal Server Error")
    for argv in (["status"], ["logs", "hub"]):
        run(argv, factory=factory)
    assert len(factory.paths) == 2 and not any(Path(p).exists() for p in factory.paths)


def test_interrupted_follow_still_removes_the_kubeconfig():
    factory = binderhub_cluster()
    factory.core.log_errors["hub-6b7c9d-x2x2x"] = KeyboardInterrupt()
    result = run(["logs", "hub", "--follow"], factory=factory)
    assert result.code == 130
    assert not Path(factory.paths[0]).exists()


def test_secrets_redacted_even_from_unexpected_errors():
    factory = binderhub_cluster()
    factory.core.error = RuntimeError(f"surprise while using token {TOKEN} and {OTHER_SECRET}")
    result = run(["status"], factory=factory)  # run() asserts that neither is printed
    assert result.code == 2 and "[secret]" in result.err and "BINDERHUB_AZURE_DEBUG" in result.err


def test_bad_kubeconfig_is_one_line_without_its_content():
    factory = binderhub_cluster()
    factory.error = ConfigException("Invalid kube-config file. No configuration found.")
    result = run(["status"], factory=factory)
    assert result.code == 2
    assert result.err == "error: cannot use the kubeconfig: Invalid kube-config file. No configuration found.\n"
    factory.error = ValueError(f"while scanning near {TOKEN}")
    result = run(["status"], factory=factory)
    assert result.err == "error: cannot use the kubeconfig (ValueError)\n"
    assert not any(Path(p).exists() for p in factory.paths)


def write_outputs(tmp_path: Path, outputs: dict[str, Any] | None = None) -> Path:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(BINDER_OUTPUTS if outputs is None else outputs))
    return path


def test_outputs_json_file_instead_of_pulumi(tmp_path):
    pulumi = Pulumi(raises=FileNotFoundError())
    result = run(["status", "--outputs-json", str(write_outputs(tmp_path))], pulumi=pulumi)
    assert result.code == 0 and SITE in result.out
    assert pulumi.calls == []


def test_outputs_json_from_stdin(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(BINDER_OUTPUTS)))
    result = run(["info", "--outputs-json", "-"], pulumi=Pulumi(raises=FileNotFoundError()))
    assert result.code == 0 and "20.50.60.70" in result.out


def test_missing_outputs_file(tmp_path):
    result = run(["info", "--outputs-json", str(tmp_path / "nope.json")])
    assert result.code == 2 and "cannot read the outputs file" in result.err


def test_explicit_kubeconfig_is_used_as_is(tmp_path):
    path = tmp_path / "kubeconfig"
    path.write_text("apiVersion: v1\n")
    path.chmod(0o640)
    factory = binderhub_cluster()
    factory.core.logs[("proxy-5f6d7-y3y3y", "chp")] = "proxy up\n"
    pulumi = Pulumi(raises=FileNotFoundError())
    assert run(["logs", "proxy", "--kubeconfig", str(path)], pulumi=pulumi, factory=factory).code == 0
    assert factory.paths == [str(path)] and pulumi.calls == []  # logs need no outputs
    # status still tries the outputs for the URLs, and checks the cluster without them.
    result = run(["status", "--kubeconfig", str(path)], pulumi=pulumi, factory=factory)
    assert result.code == 0, result.out
    assert "stack outputs unavailable: the Pulumi CLI" in result.out
    assert "binderhub mode" in result.out and "Certificate binderhub/testuni-tls: issued" in result.out
    assert path.exists() and path.read_text() == "apiVersion: v1\n"


def test_missing_kubeconfig_file(tmp_path):
    result = run(["status", "--kubeconfig", str(tmp_path / "nope")])
    assert result.code == 2 and "no such kubeconfig file" in result.err


# --------------------------------------------------------------------------- pure functions


def test_pod_rows_for_the_usual_troubles():
    unschedulable = pod("hub-1", "binderhub", {}, phase="Pending", ready=False, conditions=[client.V1PodCondition(
        type="PodScheduled", status="False", reason="Unschedulable",
        message="0/1 nodes are available: 1 node(s) had volume node affinity conflict.")])
    row = ops.pod_row(unschedulable)
    assert not row.ok and row.counts and row.note.startswith("Unschedulable: 0/1 nodes are available")
    pulling = ops.pod_row(pod("binder-1", "binderhub", {}, phase="Pending", ready=False,
                              waiting=("ImagePullBackOff", 'Back-off pulling image "quay.io/x:1"')))
    assert pulling.note == 'ImagePullBackOff: Back-off pulling image "quay.io/x:1"'
    probing = ops.pod_row(pod("proxy-1", "binderhub", {}, ready=False))
    assert probing.note == "starting, or failing its readiness probe" and probing.ready == "0/1"
    leaving = ops.pod_row(pod("hub-0", "binderhub", {}, ready=False, terminating=True))
    assert leaving.phase == "Terminating" and not leaving.counts
    done = ops.pod_row(pod("check", "cert-manager", {}, phase="Succeeded", ready=False))
    assert not done.counts and done.note == "Completed"


def test_component_status_verdicts():
    hub = ops.component("hub")
    ready = pod("hub-a", "binderhub", {}, containers=("hub",))
    old = pod("hub-b", "binderhub", {}, ready=False, terminating=True)
    assert ops.component_status(hub, "binderhub", [ready, old]).state == "ready"
    assert ops.component_status(hub, "binderhub", [old]).state == "missing"
    assert ops.component_status(ops.component("user-scheduler"), "binderhub", []).state == "off"


def test_certificate_rows():
    issued = ops.certificate_row(certificate("binderhub", issuer="letsencrypt-staging"))
    assert issued.ok and issued.not_after == "2026-02-21T07:00:00Z" and issued.issuer == "letsencrypt-staging"
    failed = certificate("binderhub", ready="False", reason="DoesNotExist", message="x")
    failed["status"]["conditions"].append({"type": "Issuing", "status": "False", "reason": "Failed",
                                           "message": "The certificate request has failed to complete"})
    assert ops.certificate_row(failed).state == "failed"
    fresh = ops.certificate_row({"metadata": {"name": "t", "namespace": "n"}})
    assert fresh.state == "pending" and "no status yet" in fresh.detail


def test_mode_detection():
    assert ops.detect_mode(["kube-system", "binderhub", "traefik"]) == "binderhub"
    assert ops.detect_mode(["kube-system", "jupyterhub"], "binderhub") == "jupyterhub"
    assert ops.detect_mode(["kube-system"], "binderhub") == "binderhub"
    assert ops.detect_mode(["kube-system"]) == "jupyterhub"
    assert ops.mode_hint(BINDER_OUTPUTS) == "binderhub"
    assert ops.mode_hint(JUPYTERHUB_OUTPUTS) == "jupyterhub"
    assert ops.mode_hint({"hubUrl": f"{SITE}jupyter/"}) == "binderhub"
    assert ops.mode_hint({}) is None


def test_components_for_each_mode():
    assert [c.name for c in ops.components_for("jupyterhub", True)] == [
        "hub", "proxy", "user-scheduler", "traefik", "cert-manager"]
    assert "cert-manager" not in [c.name for c in ops.components_for("binderhub", False)]
    assert next(c for c in ops.components_for("binderhub", None) if c.name == "cert-manager").optional


def test_secret_fragments_cover_the_kubeconfig_values():
    fragments = ops.secret_fragments(BINDER_OUTPUTS)
    assert KUBECONFIG in fragments and TOKEN in fragments and CLIENT_KEY in fragments and OTHER_SECRET in fragments
    assert SITE not in fragments and "20.50.60.70" not in fragments
    assert ops.redact(f"a {TOKEN} b", fragments) == "a [secret] b"


def test_real_api_factory_builds_clients_without_contacting_the_cluster(tmp_path):
    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG)
    apis = ops.make_apis(str(path))
    assert isinstance(apis.core, client.CoreV1Api) and isinstance(apis.custom, client.CustomObjectsApi)
    configuration = apis.core.api_client.configuration
    assert configuration.host == "https://testuni-abc123.hcp.westeurope.azmk8s.io:443"
    assert configuration.retries == 1


def test_real_api_factory_never_writes_back_to_the_kubeconfig(monkeypatch, tmp_path):
    """Refreshed tokens must not be persisted into a user's --kubeconfig file."""
    from kubernetes import config

    seen: dict[str, Any] = {}
    real = config.load_kube_config

    def spy(**kwargs: Any) -> None:
        seen.update(kwargs)
        real(**kwargs)

    monkeypatch.setattr(config, "load_kube_config", spy)
    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG)
    ops.make_apis(str(path))
    assert seen["config_file"] == str(path) and seen["persist_config"] is False
    assert seen["client_configuration"] is not None  # the library's global default stays untouched


def test_real_runner_without_pulumi_on_path(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    out, err = io.StringIO(), io.StringIO()
    assert ops.main(["info"], out=out, err=err) == 2
    assert "the Pulumi CLI (`pulumi`) is not installed or not on PATH" in err.getvalue()


def test_command_line_entry_point(tmp_path):
    """`./run python -m tools.ops` as a user runs it: exit status and one line, no traceback."""
    outputs = write_outputs(tmp_path)
    ok = subprocess.run([sys.executable, "-m", "tools.ops", "info", "--outputs-json", str(outputs)],
                        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and SITE in ok.stdout and TOKEN not in ok.stdout
    empty = write_outputs(tmp_path, {})
    bad = subprocess.run([sys.executable, "-m", "tools.ops", "status", "--outputs-json", str(empty)],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr == "error: the selected stack has no outputs: it has not been deployed yet (run `pulumi up`)\n"


# --- GitHub's API quota (issue 25) ------------------------------------------------------------------

def test_status_reports_binderhubs_github_quota_through_the_service_proxy():
    factory = binderhub_cluster()
    result = run(["status"], factory=factory)
    assert result.code == 0, result.out + result.err
    assert ("service_proxy", {"name": "binder:80", "namespace": "binderhub", "path": "metrics"}) in factory.core.calls
    assert "GitHub API quota: 4,321 GitHub API requests left this hour (binderhub_github_rate_limit_remaining" \
        in result.out


def test_status_quota_unknown_is_information_not_a_failure():
    factory = binderhub_cluster()
    factory.core.metrics = ApiException(status=403, reason="Forbidden")
    result = run(["status"], factory=factory)
    assert result.code == 0
    assert ("GitHub API quota: unknown: the Kubernetes API's proxy to service binder:80 in binderhub answered "
            "403 Forbidden") in result.out
    factory = binderhub_cluster()
    factory.core.metrics = "process_cpu_seconds_total 2.0\n"
    assert "GitHub API quota: unknown: BinderHub's /metrics has no binderhub_github_rate_limit_remaining" in \
        run(["status"], factory=factory).out


def test_status_of_a_jupyterhub_stack_asks_for_no_quota():
    factory = jupyterhub_cluster()
    result = run(["status"], pulumi=Pulumi(JUPYTERHUB_OUTPUTS), factory=factory)
    assert "GitHub API quota" not in result.out
    assert not [c for c in factory.core.calls if c[0] == "service_proxy"]
