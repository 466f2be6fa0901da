"""What carries out the sleep schedule in Azure (pure builders, tested without mocks): the Logic
Apps workflow definitions that start and stop the cluster (or start and deallocate the VM), and
the custom role their managed identities hold on that one resource.

One Consumption Logic App per recurrence (a workflow has exactly one trigger): a Recurrence
trigger in the schedule's Windows time zone (Logic Apps follows its daylight-saving rules), and
one HTTP action that POSTs the ARM action with the workflow's system-assigned identity
(authentication `ManagedServiceIdentity`, audience Azure Resource Manager). A wake first checks
the schedule's term dates and `until` (the local date of the window it opens); a sleep always runs.
The HTTP action follows ARM's asynchronous pattern (202 and a Location header) until the
operation ends, so the run history shows whether the start or stop succeeded.
"""

from __future__ import annotations

from typing import Any

from . import schedule as sched
from .config_schedule import ScheduleConfig

# Workflow Definition Language schema (learn.microsoft.com/azure/logic-apps/logic-apps-workflow-definition-language).
WDL_SCHEMA = "https://schema.management.azure.com/providers/Microsoft.Logic/schemas/2016-06-01/workflowdefinition.json#"
ARM = "https://management.azure.com"
ARM_AUDIENCE = "https://management.azure.com/"
# The API versions pulumi-azure-native 3.29 uses for these resources (ManagedCluster, VirtualMachine).
AKS_API_VERSION = "2025-09-01"
COMPUTE_API_VERSION = "2024-11-01"

# What each action POSTs, and the permission it needs (Azure resource provider operations,
# learn.microsoft.com/azure/role-based-access-control/permissions/containers and /compute).
ARM_ACTIONS = {
    "cluster": {"wake": ("start", "Microsoft.ContainerService/managedClusters/start/action"),
                "sleep": ("stop", "Microsoft.ContainerService/managedClusters/stop/action")},
    "vm": {"wake": ("start", "Microsoft.Compute/virtualMachines/start/action"),
           "sleep": ("deallocate", "Microsoft.Compute/virtualMachines/deallocate/action")},
}
READ_ACTIONS = {"cluster": "Microsoft.ContainerService/managedClusters/read",
                "vm": "Microsoft.Compute/virtualMachines/read"}
# Retries for a refused or failed request (a 409 while another operation runs, a 5xx): three
# more tries, five minutes apart.
RETRY_POLICY = {"type": "fixed", "count": 3, "interval": "PT5M"}


def api_version(kind: str) -> str:
    return AKS_API_VERSION if kind == "cluster" else COMPUTE_API_VERSION


def action_uri(resource_id: str, kind: str, action: str) -> str:
    """The ARM URL the workflow POSTs: `<resource id>/<start|stop|deallocate>?api-version=...`."""
    verb = ARM_ACTIONS[kind][action][0]
    return f"{ARM}{resource_id}/{verb}?api-version={api_version(kind)}"


def role_permissions(kind: str) -> list[str]:
    """The custom role's actions: read the resource, start it and stop (or deallocate) it."""
    return [READ_ACTIONS[kind], ARM_ACTIONS[kind]["wake"][1], ARM_ACTIONS[kind]["sleep"][1]]


def in_schedule_expression(schedule: ScheduleConfig, lead_minutes: int) -> str | None:
    """A Logic Apps expression, true when the window this wake opens (local date `lead` minutes
    from now) is inside a term and not after `until`; None when the schedule has neither."""
    if not schedule.terms and schedule.until is None:
        return None
    day = (f"formatDateTime(addMinutes(convertFromUtc(utcNow(), '{sched.windows_zone(schedule)}'), "
           f"{lead_minutes}), 'yyyy-MM-dd')")
    clauses = []
    if schedule.terms:
        terms = [f"and(greaterOrEquals({day}, '{a}'), lessOrEquals({day}, '{b}'))" for a, b in sched.terms_of(schedule)]
        clauses.append(terms[0] if len(terms) == 1 else f"or({', '.join(terms)})")
    if schedule.until is not None:
        clauses.append(f"lessOrEquals({day}, '{schedule.until.isoformat()}')")
    return "@" + (clauses[0] if len(clauses) == 1 else f"and({', '.join(clauses)})")


def workflow_definition(schedule: ScheduleConfig, recurrence: sched.Recurrence, resource_id: str,
                        kind: str) -> dict[str, Any]:
    """The definition of one workflow: its Recurrence trigger and the ARM call."""
    call = {
        "type": "Http",
        "inputs": {
            "method": "POST",
            "uri": action_uri(resource_id, kind, recurrence.action),
            "authentication": {"type": "ManagedServiceIdentity", "audience": ARM_AUDIENCE},
            "retryPolicy": RETRY_POLICY,
        },
        "runAfter": {},
    }
    verb = ARM_ACTIONS[kind][recurrence.action][0]
    name = f"{verb.capitalize()}_{'cluster' if kind == 'cluster' else 'vm'}"
    actions: dict[str, Any] = {name: call}
    condition = in_schedule_expression(schedule, sched.WAKE_LEAD_MINUTES[kind]) if recurrence.action == "wake" \
        else None
    if condition is not None:
        actions = {"In_term": {"type": "If", "expression": {"and": [{"equals": [condition, True]}]},
                               "actions": actions, "else": {"actions": {}}, "runAfter": {}}}
    return {
        "$schema": WDL_SCHEMA,
        "contentVersion": "1.0.0.0",
        "parameters": {},
        "triggers": {
            "Recurrence": {
                "type": "Recurrence",
                "recurrence": {
                    "frequency": "Week",
                    "interval": 1,
                    "timeZone": sched.windows_zone(schedule),
                    "schedule": {"weekDays": list(recurrence.weekdays), "hours": [recurrence.hour],
                                 "minutes": [recurrence.minute]},
                },
            },
        },
        "actions": actions,
        "outputs": {},
    }


def workflow_key(recurrence: sched.Recurrence) -> str:
    """A stable short name for the workflow's Pulumi resource, e.g. wake-0810, sleep-1800."""
    return f"{recurrence.action}-{recurrence.hour:02d}{recurrence.minute:02d}"


def role_definition(kind: str, role_name: str, assignable_scope: Any) -> dict[str, Any]:
    """The custom role (as the RoleDefinition resource takes it). Custom roles' assignableScopes
    are management groups, subscriptions or resource groups, so it is the stack's resource group;
    the assignment itself is scoped to the one cluster or VM."""
    return {
        "role_name": role_name,
        "description": f"Start and {'stop' if kind == 'cluster' else 'deallocate'} one binderhub-azure "
                       f"{'AKS cluster' if kind == 'cluster' else 'VM'} on its sleep schedule.",
        "role_type": "CustomRole",
        "permissions": [{"actions": role_permissions(kind), "not_actions": []}],
        "assignable_scopes": [assignable_scope],
    }
