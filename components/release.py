"""One way to install a pinned Helm chart on the cluster, shared by every component."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from .charts import Chart

RELEASE_TIMEOUT = 900  # seconds


def helm_release(name: str, release: str, chart: Chart, namespace: str, values: pulumi.Input[dict], *,
                 parent: pulumi.Resource, provider: k8s.Provider | None = None, timeout: int = RELEASE_TIMEOUT,
                 depends_on: list[pulumi.Resource] | None = None) -> k8s.helm.v3.Release:
    """A pinned chart from its repository, atomic (a failed upgrade rolls back).

    `name` is the Pulumi name (derived from the component's), `release` the Helm release name
    on the cluster. Without `provider`, the release uses the Kubernetes provider its parent
    component was given (`providers=`); the project disables the default one.
    """
    return k8s.helm.v3.Release(
        name,
        name=release,
        chart=chart.name,
        version=chart.version,
        repository_opts={"repo": chart.repo},
        namespace=namespace,
        create_namespace=True,
        values=values,
        atomic=True,
        cleanup_on_fail=True,
        timeout=timeout,
        max_history=10,
        opts=pulumi.ResourceOptions(parent=parent, provider=provider, depends_on=depends_on or []),
    )
