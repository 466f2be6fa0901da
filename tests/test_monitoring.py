"""Optional Prometheus and Grafana."""

from __future__ import annotations

from components import charts
from tests.helpers import SECRET, named, release, resources_of

GITHUB = {"type": "github", "clientId": "c", "allowedUsers": ["alice"]}
# Binder with monitoring needs more than the default system node (components/fit.py).
BIG_SYSTEM = {"cluster": {"systemPool": {"vmSize": "Standard_E2s_v5"}}}


def test_monitoring_off_by_default(render):
    plan = render()
    assert {r["name"] for r in plan["helmReleases"]}.isdisjoint({"prometheus", "grafana"})
    assert "grafanaUrl" not in plan["outputs"]


def test_prometheus_and_grafana(render):
    plan = render(monitoring={"enabled": True, "retentionDays": 30}, **BIG_SYSTEM)
    prometheus = release(plan, "prometheus")
    assert (prometheus["chart"], prometheus["version"], prometheus["namespace"]) == ("prometheus", "29.27.0",
                                                                                      "monitoring")
    server = prometheus["values"]["server"]
    assert server["retention"] == "30d"
    assert server["podLabels"] == {"hub.jupyter.org/network-access-hub": "true"}
    assert prometheus["values"]["alertmanager"] == {"enabled": False}

    grafana = release(plan, "grafana")
    assert grafana["repository"] == "https://grafana-community.github.io/helm-charts"
    values = grafana["values"]
    host = "testuni-binder.westeurope.cloudapp.azure.com"
    assert values["ingress"]["hosts"] == [host] and values["ingress"]["path"] == "/grafana"
    assert values["ingress"]["tls"] == [{"secretName": "testuni-grafana-tls", "hosts": [host]}]
    assert values["grafana.ini"]["server"] == {"root_url": f"https://{host}/grafana/", "serve_from_sub_path": True}
    assert values["admin"]["existingSecret"] == "grafana-admin"
    source = values["datasources"]["datasources.yaml"]["datasources"][0]
    assert source["url"] == "http://prometheus-server.monitoring.svc"

    admin = named(plan, "monitoring-grafana-admin-secret")
    assert admin["inputs"]["stringData"] == SECRET
    assert plan["outputs"]["grafanaUrl"] == f"https://{host}/grafana/"
    assert plan["outputs"]["grafanaAdminPassword"] == SECRET
    grafana = named(plan, "monitoring-grafana")
    assert {"monitoring-namespace", "monitoring-grafana-admin-secret"} <= set(grafana["dependsOn"])


def test_hub_metrics_are_readable_by_prometheus(render):
    for keys, name in ((BIG_SYSTEM, "binderhub"), ({"mode": "jupyterhub", "auth": GITHUB,
                                           "secrets": {"authClientSecret": "s"}}, "jupyterhub")):
        plan = render(monitoring={"enabled": True}, **keys)
        values = release(plan, name)["values"]
        hub = (values["jupyterhub"] if name == "binderhub" else values)["hub"]
        assert hub["authenticatePrometheus"] is False
        assert hub["networkPolicy"]["interNamespaceAccessLabels"] == "accept"
        chart = charts.BINDERHUB if name == "binderhub" else charts.JUPYTERHUB
        assert charts.schema_errors(chart, values) == []
        assert "service" not in values or "annotations" not in values.get("service", {})  # keep binder's scrape


def test_grafana_password_is_generated_once(render):
    plan = render(monitoring={"enabled": True}, **BIG_SYSTEM)
    assert [r["name"] for r in resources_of(plan, "random:index/randomPassword:RandomPassword")] == [
        "monitoring-grafana-admin"]
