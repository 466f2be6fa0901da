"""The federation's redirector on Azure Container Apps: a Consumption-plan environment, the
container app, and with `domain` an Azure-managed certificate. The members are read here:
a stack member's address is its `url` output (a Pulumi StackReference), a URL member's is given.
"""

from __future__ import annotations

from typing import TypedDict

import pulumi
from pulumi_azure_native import app

from . import federation_spec as spec
from . import naming
from .config import StackConfig


class FederationArgs(TypedDict):
    config: StackConfig
    """The validated stack config (mode federation)."""
    resource_group_name: pulumi.Input[str]
    """Where the environment and the app go."""


class Federation(pulumi.ComponentResource):
    """One launch address in front of the members' BinderHubs."""

    url: pulumi.Output[str]
    """The launch address: https://<domain>/ once bound, else the app's Azure address."""
    fqdn: pulumi.Output[str]
    """The app's Azure host name (<name>.<environment domain>): a domain's CNAME points here."""
    verification_id: pulumi.Output[str]
    """The value of the TXT record asuid.<domain> that proves the domain is yours."""
    member_urls: pulumi.Output[dict[str, str]]
    """Each member's name and address, as the redirector gets them."""
    redirector_config: pulumi.Output[dict]
    """The redirector's whole configuration (members with weight and prime, the health checks):
    what `tools.ops info` shows; nothing in it is secret."""

    def __init__(self, name: str, args: FederationArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("binderhub-azure:federation:Federation", name, None, opts)
        cfg = args["config"]
        child = pulumi.ResourceOptions(parent=self)
        urls: list[pulumi.Input[str]] = []
        for member in cfg.federation.members:
            if member.stack:
                # Read-only: the member's own stack and its badge and links stay as they are.
                ref = pulumi.StackReference(f"{name}-member-{member.label}", stack_name=member.stack, opts=child)
                urls.append(ref.require_output("url"))
            else:
                assert member.url is not None
                urls.append(member.url)
        resolved = pulumi.Output.all(*urls)
        config = resolved.apply(lambda u: spec.config_json(cfg, [str(x) for x in u]))
        group, tags = args["resource_group_name"], naming.tags(cfg)
        # Consumption only (no workload profiles) and no log destination: the console log streams
        # (`az containerapp logs show`) but nothing is stored, so there is no Log Analytics bill.
        environment = app.ManagedEnvironment(
            f"{name}-environment", environment_name=spec.environment_name(cfg), resource_group_name=group,
            location=cfg.location, tags=tags, opts=child)
        certificate = None
        if cfg.domain and cfg.federation.domain_bound:
            # Already issued by the previous `pulumi up`; the app binds it.
            certificate = self._certificate(name, cfg, environment, group, child)
        container_app = app.ContainerApp(
            f"{name}-app", container_app_name=spec.app_name(cfg), resource_group_name=group, location=cfg.location,
            environment_id=environment.id, tags=tags,
            configuration={"ingress": spec.ingress(cfg, certificate.id if certificate else None),
                           "active_revisions_mode": "Single"},
            template=spec.template(cfg, config), opts=child)
        if cfg.domain and not cfg.federation.domain_bound:
            # Azure issues a managed certificate only for a host name the app already has.
            certificate = self._certificate(name, cfg, environment, group,
                                            pulumi.ResourceOptions(parent=self, depends_on=[container_app]))
        self.fqdn = container_app.configuration.apply(lambda c: (c.ingress.fqdn if c and c.ingress else None) or "")
        self.verification_id = container_app.custom_domain_verification_id
        self.url = (pulumi.Output.from_input(f"https://{cfg.domain}/") if cfg.domain and cfg.federation.domain_bound
                    else self.fqdn.apply(lambda f: f"https://{f}/"))
        self.redirector_config = resolved.apply(lambda u: spec.redirector_config(cfg, [str(x) for x in u]))
        self.member_urls = self.redirector_config.apply(lambda doc: {m["name"]: m["url"] for m in doc["members"]})
        self.register_outputs({"url": self.url, "fqdn": self.fqdn, "verificationId": self.verification_id,
                               "members": self.member_urls, "federation": self.redirector_config})

    @staticmethod
    def _certificate(name: str, cfg: StackConfig, environment: app.ManagedEnvironment, group: pulumi.Input[str],
                     opts: pulumi.ResourceOptions) -> app.ManagedCertificate:
        return app.ManagedCertificate(
            f"{name}-certificate", managed_certificate_name=spec.certificate_name(cfg),
            environment_name=environment.name, resource_group_name=group, location=cfg.location,
            properties={"subject_name": cfg.domain, "domain_control_validation": "CNAME"}, opts=opts)
