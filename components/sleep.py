"""The sleep schedule in Azure: Consumption Logic Apps that start and stop the AKS cluster (or
start and deallocate the TLJH VM), each with a system-assigned identity that holds a custom role
with only those actions, assigned on that one resource: created here, or (with
`schedule.roleDefinitionId`) created once by an Owner and only assigned here. Builders in `sleep_spec`.
"""

from __future__ import annotations

from typing import TypedDict

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
from pulumi_azure_native import authorization, logic

from . import charts, naming, roles, sleep_spec
from . import schedule as sched
from .config import StackConfig


class SleepScheduleArgs(TypedDict):
    config: StackConfig
    """The validated stack config, with `schedule` set."""
    resource_group_name: pulumi.Input[str]
    resource_group_id: pulumi.Input[str]
    """Where the workflows live, and the custom role's assignable scope."""
    target_id: pulumi.Input[str]
    """The AKS cluster's or the VM's resource id: the one resource the workflows may start and stop."""


class SleepSchedule(pulumi.ComponentResource):
    """One workflow per recurrence of the schedule, and the role that lets each do its job."""

    workflow_names: pulumi.Output[list[str]]
    """The Logic Apps, e.g. for their run history in the portal."""

    def __init__(self, name: str, args: SleepScheduleArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("binderhub-azure:sleep:SleepSchedule", name, None, opts)
        cfg = args["config"]
        assert cfg.schedule is not None
        kind = sched.target(cfg.tljh)
        child = pulumi.ResourceOptions(parent=self)
        # Assignments name a role by its subscription-level id, whatever scope defines it.
        client = authorization.get_client_config_output(opts=pulumi.InvokeOutputOptions(parent=self))
        role_ref: pulumi.Output[str]
        if cfg.schedule.role_definition_id:
            # An Owner created the role once (tools.ci_identities sleep-role): only assigned here,
            # so a deploy identity that may not write role definitions can deploy the stack.
            existing = cfg.schedule.role_definition_id
            role_ref = client.subscription_id.apply(lambda sub: roles.role_definition_id(sub, existing))
        else:
            # A custom role's id is a GUID chosen by its creator; random, so no two stacks share one.
            role_id = random.RandomUuid(f"{name}-role-id", opts=child)
            role = authorization.RoleDefinition(
                f"{name}-role",
                role_definition_id=role_id.result,
                scope=args["resource_group_id"],
                **sleep_spec.role_definition(kind, sleep_spec.role_name(naming.resource_group(cfg)),
                                             args["resource_group_id"]),
                opts=child,
            )
            # (role.id too: the assignment waits for the definition.)
            role_ref = pulumi.Output.all(client.subscription_id, role_id.result, role.id).apply(
                lambda a: roles.role_definition_id(a[0], a[1]))
        names = []
        for recurrence in sched.recurrences(cfg.schedule, tljh=cfg.tljh):
            key = sleep_spec.workflow_key(recurrence)
            workflow = logic.Workflow(
                f"{name}-{key}",
                workflow_name=f"{naming.resource_group(cfg)}-{key}",
                resource_group_name=args["resource_group_name"],
                location=cfg.location,
                tags=naming.tags(cfg),
                state="Enabled",
                identity={"type": "SystemAssigned"},
                definition=pulumi.Output.from_input(args["target_id"]).apply(
                    lambda target, r=recurrence: sleep_spec.workflow_definition(cfg.schedule, r, target, kind)),
                opts=child,
            )
            authorization.RoleAssignment(
                f"{name}-{key}-may-{recurrence.action}",
                principal_id=workflow.identity.apply(lambda identity: identity.principal_id if identity else ""),
                principal_type="ServicePrincipal",
                role_definition_id=role_ref,
                scope=args["target_id"],
                # Assignment names are GUIDs: a replacement must delete the old one first.
                opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
            )
            names.append(workflow.name)
        self.workflow_names = pulumi.Output.all(*names)
        self.register_outputs({"workflowNames": self.workflow_names})


class StopServersArgs(TypedDict):
    config: StackConfig
    """The validated stack config, with `schedule` set (a Kubernetes mode)."""
    token: pulumi.Input[str]
    """The hub service token the chart registers for `sleep-schedule` (a Pulumi secret)."""
    namespace: str
    """The hub's namespace."""
    depends_on: list[pulumi.Resource]
    """The hub release (it creates the namespace and registers the service)."""


class StopServersBeforeSleep(pulumi.ComponentResource):
    """CronJobs that ask the hub to stop every user server `stopServersMinutesBefore` each sleep,
    with the service token in a Secret of their own."""

    def __init__(self, name: str, args: StopServersArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("binderhub-azure:sleep:StopServersBeforeSleep", name, None, opts)
        cfg = args["config"]
        assert cfg.schedule is not None
        after = pulumi.ResourceOptions(parent=self, depends_on=args["depends_on"])
        secret = k8s.core.v1.Secret(
            f"{name}-token",
            metadata={"name": sleep_spec.TOKEN_SECRET, "namespace": args["namespace"]},
            string_data={"token": pulumi.Output.secret(args["token"])},
            opts=after,
        )
        api = f"http://hub:8081{naming.hub_base_url(cfg)}hub/api"
        image = f"{charts.BINDERHUB_HUB_IMAGE}:{charts.BINDERHUB_HUB_TAG}"  # the hub's own image (z2jh 4.4.0)
        for job in sleep_spec.stop_servers_cronjobs(cfg.schedule, api, image):
            k8s.batch.v1.CronJob(
                f"{name}-{job['name']}",
                metadata={"name": job["name"], "namespace": args["namespace"]},
                spec=job["spec"],
                opts=pulumi.ResourceOptions(parent=self, depends_on=[*args["depends_on"], secret]),
            )
        self.register_outputs({})
