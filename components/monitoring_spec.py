"""Values of the Prometheus and Grafana releases (pure).

Prometheus scrapes every Service and pod annotated `prometheus.io/scrape` — the JupyterHub
chart annotates the hub, the BinderHub chart the binder Service — and is reachable only
inside the cluster. Grafana is served below the site's host at /grafana/, behind its own
login.
"""

from __future__ import annotations

from typing import Any

from .charts import merge
from .config import StackConfig
from .hub_spec import issuer_name
from .ingress_spec import CORE_NODES, INGRESS_CLASS
from .practices_spec import grafana_core_values, prometheus_core_values

NAMESPACE = "monitoring"
GRAFANA_PATH = "/grafana"
ADMIN_SECRET = "grafana-admin"
# The chart names its server Service <release>-server when the release name contains "prometheus".
PROMETHEUS_URL = f"http://prometheus-server.{NAMESPACE}.svc"
# z2jh lets pods with this label reach the hub (for its /hub/metrics) from another namespace.
HUB_ACCESS_LABEL = {"hub.jupyter.org/network-access-hub": "true"}


def grafana_url(cfg: StackConfig) -> str:
    return f"{cfg.scheme}://{cfg.host}{GRAFANA_PATH}/"


def prometheus_values(cfg: StackConfig) -> dict[str, Any]:
    return merge(_prometheus_values(cfg), prometheus_core_values())  # the core priority class and resources


def _prometheus_values(cfg: StackConfig) -> dict[str, Any]:
    return {
        "alertmanager": {"enabled": False},
        "prometheus-pushgateway": {"enabled": False},
        "kube-state-metrics": {"nodeSelector": CORE_NODES},
        "server": {
            "podLabels": HUB_ACCESS_LABEL,
            "retention": f"{cfg.monitoring.retention_days}d",
            "persistentVolume": {"enabled": True, "size": "8Gi"},
            "nodeSelector": CORE_NODES,
        },
    }


def grafana_values(cfg: StackConfig) -> dict[str, Any]:
    return merge(_grafana_values(cfg), grafana_core_values())  # the core priority class and resources


def _grafana_values(cfg: StackConfig) -> dict[str, Any]:
    ingress: dict[str, Any] = {
        "enabled": True,
        "ingressClassName": INGRESS_CLASS,
        "path": GRAFANA_PATH,
        "pathType": "Prefix",
        "hosts": [cfg.host],
    }
    if cfg.https:
        ingress["annotations"] = {"cert-manager.io/cluster-issuer": issuer_name(cfg)}
        ingress["tls"] = [{"secretName": f"{cfg.institution}-grafana-tls", "hosts": [cfg.host]}]
    return {
        "ingress": ingress,
        "nodeSelector": CORE_NODES,
        "admin": {"existingSecret": ADMIN_SECRET, "userKey": "admin-user", "passwordKey": "admin-password"},
        "grafana.ini": {
            "server": {"root_url": grafana_url(cfg), "serve_from_sub_path": True},
            "auth.anonymous": {"enabled": False},
            "users": {"allow_sign_up": False},
        },
        "datasources": {"datasources.yaml": {"apiVersion": 1, "datasources": [{
            "name": "Prometheus", "type": "prometheus", "url": PROMETHEUS_URL, "access": "proxy", "isDefault": True,
        }]}},
    }
