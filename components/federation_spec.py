"""What a federation stack creates, as plain data (pure): names, the redirector's configuration
document, and the container app's inputs. components/federation.py turns them into resources.

The redirector runs on Azure Container Apps, Consumption plan: one replica of 0.25 vCPU and
0.5 GiB (the smallest Consumption size), always on (a launch must not wait for a cold start),
HTTPS on the app's own `<name>.<environment domain>` address, optionally a custom domain with a
free Azure-managed certificate. Members keep their own addresses; nothing of theirs changes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from .config import StackConfig
from .config_federation import normalised_url

CONTAINER_NAME = "redirector"
PORT = 8080
# The smallest Consumption-plan size (CPU and memory go in fixed pairs: 0.25 vCPU with 0.5 GiB).
CPU = 0.25
MEMORY = "0.5Gi"
MEMORY_GIB = 0.5
REPLICAS = 1
# The container app's environment variable the redirector reads (redirector/settings.py).
CONFIG_ENV = "FEDERATION_CONFIG"


def environment_name(cfg: StackConfig) -> str:
    return f"cae-{cfg.institution}-federation"


def app_name(cfg: StackConfig) -> str:
    """The container app's name: the first label of its Azure address."""
    return cfg.effective_dns_label


def certificate_name(cfg: StackConfig) -> str:
    return f"cert-{cfg.institution}-federation"


def prime_index(cfg: StackConfig) -> int:
    """The prime member: the one marked `prime: true`, else the first."""
    return next((i for i, m in enumerate(cfg.federation.members) if m.prime), 0)


def redirector_config(cfg: StackConfig, urls: Sequence[str]) -> dict[str, Any]:
    """The redirector's configuration document (redirector/settings.py reads it), from the
    members' URLs in config order (a stack member's is its `url` output)."""
    fed = cfg.federation
    prime = prime_index(cfg)
    checks = fed.checks
    return {
        "members": [{"name": m.label, "url": normalised_url(url), "weight": m.weight, "prime": i == prime}
                    for i, (m, url) in enumerate(zip(fed.members, urls, strict=True))],
        "checks": {"periodSeconds": checks.period_seconds, "failedPeriodSeconds": checks.failed_period_seconds,
                   "retries": checks.retries, "timeoutSeconds": checks.timeout_seconds,
                   "podHeadroom": checks.pod_headroom},
    }


def config_json(cfg: StackConfig, urls: Sequence[str]) -> str:
    return json.dumps(redirector_config(cfg, urls), sort_keys=True, separators=(",", ":"))


def _probe(kind: str) -> dict[str, Any]:
    return {"type": kind, "http_get": {"path": "/health", "port": PORT},
            "period_seconds": 10, "timeout_seconds": 3, "failure_threshold": 3}


def template(cfg: StackConfig, config: Any) -> dict[str, Any]:
    """The container app's `template`: one container, one replica always running."""
    return {
        "containers": [{
            "name": CONTAINER_NAME,
            "image": cfg.federation.image,
            "env": [{"name": CONFIG_ENV, "value": config}, {"name": "PORT", "value": str(PORT)}],
            "resources": {"cpu": CPU, "memory": MEMORY},
            "probes": [_probe("Liveness"), _probe("Readiness")],
        }],
        "scale": {"min_replicas": REPLICAS, "max_replicas": REPLICAS},
    }


def ingress(cfg: StackConfig, certificate_id: Any = None) -> dict[str, Any]:
    """External HTTPS ingress on the redirector's port; plain HTTP is redirected to HTTPS. With
    `domain`: the host name, bound to the managed certificate once `federation.domainBound`."""
    spec: dict[str, Any] = {"external": True, "target_port": PORT, "transport": "auto", "allow_insecure": False}
    if cfg.domain:
        binding = ({"binding_type": "SniEnabled", "certificate_id": certificate_id} if cfg.federation.domain_bound
                   else {"binding_type": "Disabled"})
        spec["custom_domains"] = [{"name": cfg.domain, **binding}]
    return spec


def next_step(cfg: StackConfig, fqdn: str, verification_id: str) -> str:
    """What to do after `pulumi up`."""
    if not cfg.domain:
        return (f"The federation's launch address is https://{fqdn}/ (its front page lists the members). "
                f"For a domain of your own (<host>): a CNAME <host> -> {fqdn} and a TXT record asuid.<host> = "
                f"{verification_id}, then `pulumi config set domain <host>` and `pulumi up`.")
    if not cfg.federation.domain_bound:
        return (f"{cfg.domain} must have a CNAME to {fqdn} and a TXT record asuid.{cfg.domain} = {verification_id}; "
                "Azure issues the managed certificate once they resolve (`az containerapp env certificate list`). "
                "Then `pulumi config set --path federation.domainBound true` and `pulumi up` to serve it.")
    return f"The federation's launch address is https://{cfg.domain}/ (also https://{fqdn}/)."
