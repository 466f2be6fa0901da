"""Public entry: a static IP with an Azure DNS label, Traefik, cert-manager and Let's Encrypt."""

from __future__ import annotations

from typing import NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s
from pulumi_azure_native import network

from . import charts, ingress_spec, naming, roles
from .config import StackConfig
from .naming import tags
from .release import helm_release


class IngressArgs(TypedDict):
    config: StackConfig
    """The validated stack config."""
    resource_group_name: pulumi.Input[str]
    """Resource group for the public IP."""
    resource_group_id: pulumi.Input[str]
    """Scope of the cluster identity's Network Contributor role."""
    cluster_principal_id: pulumi.Input[str]
    """The cluster's identity, which attaches the IP to its load balancer."""
    depends_on: NotRequired[list[pulumi.Resource]]
    """What the releases need first (the core priority class their pods use)."""


class Ingress(pulumi.ComponentResource):
    """Everything between the internet and the hub's Services."""

    ip_address: pulumi.Output[str]
    """The static public IP (point a domain's A record here)."""
    fqdn: pulumi.Output[str]
    """`<dnsLabel>.<region>.cloudapp.azure.com`."""
    ready: list[pulumi.Resource]
    """Resources the hub release should wait for."""

    def __init__(self, name: str, args: IngressArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("binderhub-azure:ingress:Ingress", name, None, opts)
        cfg = args["config"]

        ip = network.PublicIPAddress(
            f"{name}-ip",
            resource_group_name=args["resource_group_name"],
            public_ip_address_name=naming.public_ip(cfg),
            location=cfg.location,
            sku={"name": "Standard", "tier": "Regional"},
            public_ip_allocation_method="Static",
            public_ip_address_version="IPv4",
            dns_settings={"domain_name_label": cfg.effective_dns_label},
            tags=tags(cfg),
            opts=pulumi.ResourceOptions(parent=self, protect=cfg.protect_resources),
        )
        # The IP is outside AKS's node resource group: its identity needs rights on ours.
        network_role = roles.assign_role(
            f"{name}-network-contributor", role=roles.NETWORK_CONTRIBUTOR,
            principal_id=args["cluster_principal_id"], scope=args["resource_group_id"], parent=self,
        )
        first = list(args.get("depends_on", []))
        traefik = helm_release(
            f"{name}-traefik", "traefik", charts.TRAEFIK, "traefik",
            ingress_spec.traefik_values(cfg, naming.public_ip(cfg), naming.resource_group(cfg)),
            parent=self, depends_on=[ip, network_role, *first],
        )
        self.ready: list[pulumi.Resource] = [*first, traefik]
        if cfg.https:
            cert_manager = helm_release(
                f"{name}-cert-manager", "cert-manager", charts.CERT_MANAGER, "cert-manager",
                ingress_spec.cert_manager_values(), parent=self, depends_on=first,
            )
            for environment in ingress_spec.LETS_ENCRYPT:
                issuer = k8s.apiextensions.CustomResource(
                    f"{name}-letsencrypt-{environment}",
                    api_version="cert-manager.io/v1",
                    kind="ClusterIssuer",
                    metadata={"name": f"letsencrypt-{environment}"},
                    spec=ingress_spec.cluster_issuer_spec(cfg, environment),
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[cert_manager]),
                )
                self.ready.append(issuer)
        self.ip_address = ip.ip_address.apply(lambda a: a or "")
        self.fqdn = ip.dns_settings.apply(lambda d: (d.fqdn if d else None) or "")
        self.register_outputs({"ipAddress": self.ip_address, "fqdn": self.fqdn})
