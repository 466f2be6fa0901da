"""Azure Container Registry for the images BinderHub builds, readable by the cluster."""

from __future__ import annotations

from typing import TypedDict

import pulumi
import pulumi_random as random
from pulumi_azure_native import containerregistry

from . import hub_spec, naming, practices_spec, roles
from .config import StackConfig
from .hub_spec import RegistryWiring
from .naming import tags


class ContainerRegistryArgs(TypedDict):
    config: StackConfig
    """The validated stack config."""
    resource_group_name: pulumi.Input[str]
    """Resource group that holds the registry."""
    kubelet_object_id: pulumi.Input[str]
    """The cluster's kubelet identity, granted AcrPull so nodes can pull built images."""


class ContainerRegistry(pulumi.ComponentResource):
    """An ACR with AcrPull for the cluster and a push credential for BinderHub."""

    login_server: pulumi.Output[str]
    """Host name of the registry, `<name>.azurecr.io`."""
    registry_name: pulumi.Output[str]
    push_username: pulumi.Output[str]
    """User name BinderHub pushes with (the registry's admin user)."""
    push_password: pulumi.Output[str]
    """Password BinderHub pushes with, a secret."""

    def __init__(self, name: str, args: ContainerRegistryArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("binderhub-azure:registry:ContainerRegistry", name, None, opts)
        cfg = args["config"]
        child = pulumi.ResourceOptions(parent=self)

        # Registry names are global across Azure: a random suffix avoids collisions.
        suffix = random.RandomString(
            f"{name}-suffix", length=naming.RANDOM_SUFFIX_LENGTH, upper=False, special=False, opts=child
        )
        registry = containerregistry.Registry(
            f"{name}-acr",
            resource_group_name=args["resource_group_name"],
            registry_name=pulumi.Output.concat(naming.registry_prefix(cfg), suffix.result),
            location=cfg.location,
            sku={"name": cfg.registry.sku},
            # BinderHub needs a user name and password to push; the admin user is the one
            # credential azure-native can read back (it cannot create ACR token passwords).
            admin_user_enabled=True,
            tags=tags(cfg),
            opts=child.merge(pulumi.ResourceOptions(protect=cfg.protect_resources)),
        )

        # Nodes pull built images with the kubelet identity, no pull secret needed.
        roles.assign_role(f"{name}-acrpull", role=roles.ACR_PULL, principal_id=args["kubelet_object_id"],
                          scope=registry.id, parent=self)

        # Images of old commits are deleted on a timer (registry.retentionDays).
        purge = practices_spec.purge_task_args(cfg)
        if purge is not None:
            containerregistry.Task(
                f"{name}-purge", registry_name=registry.name, resource_group_name=args["resource_group_name"],
                tags=tags(cfg), **purge, opts=child,
            )

        creds = containerregistry.list_registry_credentials_output(
            resource_group_name=args["resource_group_name"], registry_name=registry.name,
            opts=pulumi.InvokeOutputOptions(parent=self),
        )
        self.login_server = registry.login_server
        self.registry_name = registry.name
        self.push_username = creds.username.apply(lambda u: u or "")
        # Not marked secret by the provider; it is a credential, so wrap it.
        self.push_password = pulumi.Output.secret(creds.passwords.apply(lambda p: p[0].value if p else ""))
        self._config = cfg
        self.register_outputs({
            "loginServer": self.login_server,
            "registryName": self.registry_name,
            "pushUsername": self.push_username,
            "pushPassword": self.push_password,
        })

    def binder_wiring(self) -> RegistryWiring:
        """How BinderHub pushes to this registry (URL, push credential, image prefix); no token
        URL, BinderHub follows ACR's challenge (see `hub_spec.acr_wiring`)."""
        def part(field: str) -> pulumi.Output[str]:
            return self.login_server.apply(
                lambda server: getattr(hub_spec.acr_wiring(self._config, server, None, None), field))

        return RegistryWiring(url=part("url"), username=self.push_username, password=self.push_password,
                              image_prefix=part("image_prefix"))
