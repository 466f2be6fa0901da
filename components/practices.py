"""Cluster-wide pieces of running like mybinder.org: the core priority class, cryptnono."""

from __future__ import annotations

from typing import TypedDict

import pulumi
import pulumi_kubernetes as k8s

from . import practices_spec
from .config import StackConfig
from .release import helm_release


class CorePriorityArgs(TypedDict):
    """Nothing to set: the cluster provider comes from `providers=`."""


class CorePriority(pulumi.ComponentResource):
    """The PriorityClass of the control path; every release that uses it waits for it. And the
    class of z2jh's user placeholders, which the stack gives them itself (hub_spec.placeholder_values)."""

    priority_class: k8s.scheduling.v1.PriorityClass
    placeholder_class: k8s.scheduling.v1.PriorityClass

    def __init__(self, name: str, args: CorePriorityArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("binderhub-azure:practices:CorePriority", name, None, opts)
        self.priority_class = k8s.scheduling.v1.PriorityClass(
            f"{name}-class", **practices_spec.core_priority_class(),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.placeholder_class = k8s.scheduling.v1.PriorityClass(
            f"{name}-placeholder-class", **practices_spec.user_placeholder_priority_class(),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"name": self.priority_class.metadata.apply(lambda m: m.name if m else "")})


class CryptnonoArgs(TypedDict):
    config: StackConfig
    """The validated stack config (security.cryptnono on)."""
    depends_on: list[pulumi.Resource]
    """The core priority class."""


class Cryptnono(pulumi.ComponentResource):
    """cryptnono's chart (pinned to the version mybinder.org runs) in its own namespace."""

    release: k8s.helm.v3.Release

    def __init__(self, name: str, args: CryptnonoArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("binderhub-azure:practices:Cryptnono", name, None, opts)
        self.release = helm_release(
            f"{name}-release", "cryptnono", practices_spec.CRYPTNONO, practices_spec.CRYPTNONO_NAMESPACE,
            practices_spec.cryptnono_values(), parent=self,
            depends_on=args["depends_on"],
        )
        self.register_outputs({})
