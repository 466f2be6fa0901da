"""Values of the ingress controller and cert-manager releases, and the ACME issuers (pure)."""

from __future__ import annotations

from typing import Any

from .charts import merge
from .cluster_spec import NODE_PURPOSE
from .config import StackConfig
from .practices_spec import cert_manager_core_values, traefik_core_values

# The one ingress class: Traefik's, which every Ingress of the stack (hub, Grafana, ACME solver) names.
INGRESS_CLASS = "traefik"

LETS_ENCRYPT = {
    "production": "https://acme-v02.api.letsencrypt.org/directory",
    "staging": "https://acme-staging-v02.api.letsencrypt.org/directory",
}
CORE_NODES = {NODE_PURPOSE: "core"}
WEBSECURE_TIMEOUT_SECONDS = 600


def traefik_values(cfg: StackConfig, public_ip_name: str, public_ip_group: str) -> dict[str, Any]:
    """Traefik behind one Azure Standard load balancer on the stack's static public IP."""
    values: dict[str, Any] = {
        "deployment": {"replicas": 1},
        "nodeSelector": CORE_NODES,
        "ingressClass": {"enabled": True, "isDefaultClass": True, "name": INGRESS_CLASS},
        "providers": {"kubernetesIngress": {"enabled": True, "publishedService": {"enabled": True}}},
        # Chart 41 reads the Service type from `service.spec` (its schema has no `service.type`,
        # and does not refuse one either: it would be ignored).
        "service": {
            "annotations": {
                # The public IP lives in the stack's resource group, not AKS's node group.
                "service.beta.kubernetes.io/azure-load-balancer-resource-group": public_ip_group,
                "service.beta.kubernetes.io/azure-pip-name": public_ip_name,
            },
            # Keep the client's address visible to Traefik and the hub (logs, rate limits).
            "spec": {"type": "LoadBalancer", "externalTrafficPolicy": "Local"},
        },
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
    }
    # Websockets (notebook kernels) and uploads outlive Traefik's 60 s defaults: mybinder.org
    # sets 600 s read and idle timeouts on websecure (mybinder.org-deploy PR #3825, commit
    # 60843013). Seconds, as the chart's schema allows integers.
    # Without HTTPS the site is served on `web`, which then gets them too.
    timeouts = {"transport": {"respondingTimeouts": {
        "readTimeout": WEBSECURE_TIMEOUT_SECONDS, "idleTimeout": WEBSECURE_TIMEOUT_SECONDS}}}
    values["ports"] = {"websecure": timeouts} if cfg.https else {"websecure": timeouts, "web": timeouts}
    values.update(traefik_core_values())  # the core priority class
    if cfg.https:
        # Everything on port 80 is redirected to HTTPS, except cert-manager's HTTP-01
        # challenge routes (chart 39+ key layout).
        values["ports"]["web"] = {
            "allowACMEByPass": True,
            "http": {"redirections": {"entryPoint": {"to": "websecure", "scheme": "https", "permanent": True}}},
        }
    return values


def cert_manager_values() -> dict[str, Any]:
    """cert-manager with its CRDs (kept on uninstall, so certificates survive a re-install)."""
    values = {
        "crds": {"enabled": True, "keep": True},
        "nodeSelector": CORE_NODES,
        "webhook": {"nodeSelector": CORE_NODES},
        "cainjector": {"nodeSelector": CORE_NODES},
        "startupapicheck": {"nodeSelector": CORE_NODES},
    }
    return merge(values, cert_manager_core_values())  # the core priority class and resources


def cluster_issuer_spec(cfg: StackConfig, environment: str) -> dict[str, Any]:
    """An ACME ClusterIssuer for Let's Encrypt, solving HTTP-01 through the Traefik ingress."""
    return {
        "acme": {
            "server": LETS_ENCRYPT[environment],
            "email": cfg.contact_email,
            "privateKeySecretRef": {"name": f"letsencrypt-{environment}-account"},
            "solvers": [{"http01": {"ingress": {"ingressClassName": INGRESS_CLASS}}}],
        }
    }
