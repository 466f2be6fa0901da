"""Optional monitoring: Prometheus and Grafana on the cluster, Grafana behind the ingress."""

from __future__ import annotations

from typing import TypedDict

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from . import charts, monitoring_spec
from .config import StackConfig
from .release import helm_release


class MonitoringArgs(TypedDict):
    config: StackConfig
    """The validated stack config (with monitoring enabled)."""
    depends_on: list[pulumi.Resource]
    """Ingress controller and issuers."""


class Monitoring(pulumi.ComponentResource):
    """Prometheus scraping the hub, BinderHub and cluster; Grafana at <site>/grafana/."""

    grafana_url: pulumi.Output[str]
    grafana_admin_password: pulumi.Output[str]
    """Grafana's admin password, a secret."""

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("binderhub-azure:monitoring:Monitoring", name, None, opts)
        cfg = args["config"]
        on_cluster = pulumi.ResourceOptions(parent=self)  # the cluster provider comes from `providers=`
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace", metadata={"name": monitoring_spec.NAMESPACE}, opts=on_cluster)
        password = random.RandomPassword(f"{name}-grafana-admin", length=32, special=False,
                                         opts=pulumi.ResourceOptions(parent=self))
        self.grafana_admin_password = pulumi.Output.secret(password.result)
        admin = k8s.core.v1.Secret(
            f"{name}-grafana-admin-secret",
            metadata={"name": monitoring_spec.ADMIN_SECRET, "namespace": monitoring_spec.NAMESPACE},
            string_data={"admin-user": "admin", "admin-password": self.grafana_admin_password},
            opts=on_cluster.merge(pulumi.ResourceOptions(depends_on=[namespace])),
        )
        helm_release(f"{name}-prometheus", "prometheus", charts.PROMETHEUS, monitoring_spec.NAMESPACE,
                     monitoring_spec.prometheus_values(cfg), parent=self,
                     depends_on=[namespace, *args["depends_on"]])
        helm_release(f"{name}-grafana", "grafana", charts.GRAFANA, monitoring_spec.NAMESPACE,
                     monitoring_spec.grafana_values(cfg), parent=self,
                     depends_on=[namespace, admin, *args["depends_on"]])
        self.grafana_url = pulumi.Output.from_input(monitoring_spec.grafana_url(cfg))
        self.register_outputs({"grafanaUrl": self.grafana_url, "grafanaAdminPassword": self.grafana_admin_password})
