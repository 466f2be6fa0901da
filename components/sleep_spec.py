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

from collections.abc import Mapping
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
# Retries of a request that timed out or failed with 408, 429 or a 5xx (the only ones Logic Apps
# retries, learn.microsoft.com/azure/logic-apps/error-exception-handling#retry-policies): three
# more tries, five minutes apart. A 4xx such as a 409 (another operation on the cluster still
# running) is not retried: that run fails and changes nothing; the next recurrence tries again.
RETRY_POLICY = {"type": "fixed", "count": 3, "interval": "PT5M"}
# Every recurrence names a start time in the past, local to its time zone (no "Z"). The Recurrence
# trigger applies `timeZone` only with a start time, and without one it runs once as soon as the
# workflow is saved, schedule or not: every deployment would stop or start the cluster on the spot.
# With a past start it first runs at the next scheduled time ("Patterns for start date and time",
# learn.microsoft.com/azure/logic-apps/concepts-schedule-automated-recurring-tasks-workflows;
# learn.microsoft.com/azure/connectors/connectors-native-recurrence). Fixed, so that a deployment
# never sees a change in it.
RECURRENCE_START = "2026-01-05T00:00:00"
# The power state each action leads to (ManagedCluster properties.powerState.code). AKS refuses to
# stop a stopped cluster or start a running one ("... Power State(Stopped), stopping cannot be
# performed", MicrosoftDocs/azure-docs#85161): the workflow reads the cluster first and calls only
# when the state differs, so an operator's `ops wake` or `ops sleep` leaves no failed runs behind.
# A VM's start and deallocate are called as they are (a VM's GET shows no power state without its
# instance view); on a VM already in that state they are expected to change nothing (not verified
# here), and if Azure refused one, that run would fail without effect, as above.
POWER_AFTER = {"wake": "Running", "sleep": "Stopped"}


def api_version(kind: str) -> str:
    return AKS_API_VERSION if kind == "cluster" else COMPUTE_API_VERSION


def vm_power_state(instance_view: Mapping[str, Any] | None) -> str:
    """A VM's power state from its instance view (the `PowerState/<state>` status, e.g.
    'running', 'deallocated', 'deallocating'), lowercased; '' when it has none."""
    codes = [str(status.get("code") or "") for status in (instance_view or {}).get("statuses") or []]
    return next((code.split("/", 1)[1].lower() for code in codes if code.startswith("PowerState/")), "")


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
    call = _arm_call("POST", action_uri(resource_id, kind, recurrence.action))
    verb = ARM_ACTIONS[kind][recurrence.action][0]
    name = f"{verb.capitalize()}_{'cluster' if kind == 'cluster' else 'vm'}"
    actions: dict[str, Any] = {name: call}
    if kind == "cluster":
        power = "@body('Read_cluster')?['properties']?['powerState']?['code']"
        target = POWER_AFTER[recurrence.action]
        actions = {
            "Read_cluster": _arm_call("GET", f"{ARM}{resource_id}?api-version={api_version(kind)}"),
            f"Unless_{target.lower()}": {
                "type": "If", "expression": {"and": [{"not": {"equals": [power, target]}}]},
                "actions": actions, "else": {"actions": {}}, "runAfter": {"Read_cluster": ["Succeeded"]}},
        }
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
                    "startTime": RECURRENCE_START,
                    "timeZone": sched.windows_zone(schedule),
                    "schedule": {"weekDays": list(recurrence.weekdays), "hours": [recurrence.hour],
                                 "minutes": [recurrence.minute]},
                },
            },
        },
        "actions": actions,
        "outputs": {},
    }


def _arm_call(method: str, uri: str) -> dict[str, Any]:
    """An HTTP action that calls Azure Resource Manager as the workflow's managed identity."""
    return {
        "type": "Http",
        "inputs": {
            "method": method,
            "uri": uri,
            "authentication": {"type": "ManagedServiceIdentity", "audience": ARM_AUDIENCE},
            "retryPolicy": RETRY_POLICY,
        },
        "runAfter": {},
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


def role_name(resource_group: str) -> str:
    """The name of the role the stack creates (no `schedule.roleDefinitionId`)."""
    return f"binderhub-azure sleep schedule {resource_group}"


def owner_role_name(resource_group: str) -> str:
    """The name of the role an Owner creates once for `schedule.roleDefinitionId`: one per
    resource group, fixed, so a second creation is seen; not `role_name`, so both can exist
    while a stack moves from its own role to this one."""
    return f"binderhub-azure sleep schedule {resource_group} (created once)"


def owner_role_definition(kind: str, resource_group: str, resource_group_id: str) -> dict[str, Any]:
    """The same role in the form `az role definition create --role-definition` takes."""
    spec = role_definition(kind, owner_role_name(resource_group), resource_group_id)
    return {"Name": spec["role_name"], "Description": spec["description"],
            "Actions": list(spec["permissions"][0]["actions"]), "NotActions": [],
            "AssignableScopes": list(spec["assignable_scopes"])}


# ---------------------------------------------------------------------------
# Before a sleep: the hub stops every user server (Kubernetes modes)
# ---------------------------------------------------------------------------

# The hub service whose token may list users and stop their servers, and nothing else
# (JupyterHub RBAC: GET /users needs list:users, the servers in it read:servers, and
# DELETE /users/{name}/server[s/{server}] is @needs_scope('delete:servers'), jupyterhub/apihandlers/users.py).
SERVICE = "sleep-schedule"
SERVICE_SCOPES = ["list:users", "read:servers", "delete:servers"]
TOKEN_SECRET = "sleep-schedule-hub-token"  # the CronJob's copy of the service token
# z2jh's hub NetworkPolicy admits pods with this label to the hub's API port.
HUB_ACCESS_LABEL = "hub.jupyter.org/network-access-hub"

# Run with the hub image's Python (standard library only). Lists every user with a running
# server first, then asks the hub to stop each; exits non-zero if any request failed, so the
# Job shows it. Reads JUPYTERHUB_API_URL and JUPYTERHUB_API_TOKEN.
STOP_SERVERS_SCRIPT = """\
import json, os, sys, urllib.parse, urllib.request
api = os.environ["JUPYTERHUB_API_URL"].rstrip("/")
headers = {"Authorization": "token " + os.environ["JUPYTERHUB_API_TOKEN"]}
def call(method, path):
    request = urllib.request.Request(api + path, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=60) as response:
        body = response.read()
        return json.loads(body) if body else None
running, offset, limit = [], 0, 200
while True:
    page = call("GET", f"/users?state=active&offset={offset}&limit={limit}")
    for user in page:
        running += [(user["name"], server) for server in (user.get("servers") or {})]
    if len(page) < limit:
        break
    offset += limit
failed = 0
for name, server in running:
    user = urllib.parse.quote(name, safe="")
    path = f"/users/{user}/servers/{urllib.parse.quote(server, safe='')}" if server else f"/users/{user}/server"
    try:
        call("DELETE", path)
        print(f"stopped {name} {server}".rstrip(), flush=True)
    except Exception as err:
        failed += 1
        print(f"could not stop {name} {server}: {err}", file=sys.stderr, flush=True)
print(f"{len(running) - failed} of {len(running)} servers stopped before the hub sleeps")
sys.exit(1 if failed else 0)
"""


def announcement(schedule: ScheduleConfig) -> str:
    """The text on every hub page (JupyterHub's `announcement` template variable)."""
    windows = "; ".join(f"{', '.join(d.capitalize() for d in w.days)} {w.start}-{w.end}" for w in schedule.awake)
    stop = (f" Running servers are stopped {schedule.stop_servers_minutes_before} minutes before it sleeps."
            if schedule.stop_servers_minutes_before else "")
    return (f"This hub is awake {windows} ({schedule.time_zone} time) and asleep otherwise.{stop} "
            "Files saved in your home directory are kept.")


def hub_values(schedule: ScheduleConfig, token: Any) -> dict[str, Any]:
    """What the schedule adds to the JupyterHub chart's values: the announcement, and (with
    stopServersMinutesBefore) the service and its role."""
    values: dict[str, Any] = {"hub": {"templateVars": {"announcement": announcement(schedule)}}}
    if schedule.stop_servers_minutes_before:
        values["hub"]["services"] = {SERVICE: {"apiToken": token}}
        values["hub"]["loadRoles"] = {SERVICE: {
            "description": "Stops every user server before the hub's cluster is stopped by its schedule",
            "scopes": list(SERVICE_SCOPES), "services": [SERVICE]}}
    return values


def stop_servers_cronjobs(schedule: ScheduleConfig, hub_api_url: str, image: str) -> list[dict[str, Any]]:
    """One CronJob per stop time, in the schedule's time zone (CronJob `timeZone`, Kubernetes 1.27+)."""
    jobs = []
    for hour, minute, days in sched.stop_servers_times(schedule):
        container = {
            "name": "stop-servers",
            "image": image,
            "command": ["python3", "-c", STOP_SERVERS_SCRIPT],
            "env": [{"name": "JUPYTERHUB_API_URL", "value": hub_api_url},
                    {"name": "JUPYTERHUB_API_TOKEN",
                     "valueFrom": {"secretKeyRef": {"name": TOKEN_SECRET, "key": "token"}}}],
            "resources": {"requests": {"cpu": "10m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
            # The hub image's user, by number (its USER is a name, which runAsNonRoot cannot check).
            "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                "runAsNonRoot": True, "runAsUser": 1000, "runAsGroup": 1000,
                                "capabilities": {"drop": ["ALL"]},
                                "seccompProfile": {"type": "RuntimeDefault"}},
        }
        jobs.append({
            "name": f"stop-servers-{hour:02d}{minute:02d}",
            "spec": {
                "schedule": f"{minute} {hour} * * {','.join(map(str, days))}",
                "timeZone": schedule.time_zone,
                "concurrencyPolicy": "Forbid",
                "startingDeadlineSeconds": 300,  # late by more than 5 minutes: the sleep is near, skip
                "successfulJobsHistoryLimit": 3,
                "failedJobsHistoryLimit": 3,
                "jobTemplate": {"spec": {
                    "backoffLimit": 2,
                    "activeDeadlineSeconds": max(60, schedule.stop_servers_minutes_before * 60 - 60),
                    "template": {
                        "metadata": {"labels": {HUB_ACCESS_LABEL: "true", "app.kubernetes.io/name": "stop-servers"}},
                        "spec": {"restartPolicy": "Never", "automountServiceAccountToken": False,
                                 "nodeSelector": {"hub.jupyter.org/node-purpose": "core"},
                                 "containers": [container]},
                    },
                }},
            },
        })
    return jobs
