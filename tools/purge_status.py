"""The registry purge's last run, for `ops status` (binderhub mode with ACR).

The stack declares an ACR task (`purge-binder-images`, components/practices_spec.py) that deletes
old Binder images every night. ACR keeps a record of each task run; on a subscription funded by
free credits ACR Tasks do not run at all (`TasksOperationsNotAllowed`), so the registry grows
until someone looks. `ops status` shows the last run.

Source: Azure Container Registry REST API, Runs - List (api-version 2019-06-01-preview):
`GET .../registries/{registry}/runs?$filter=TaskName eq '<task>'&$top=1` (the filter the Azure
CLI's `az acr task list-runs --name <task>` sends); a run has `properties.runId`, `status`
(Queued, Started, Running, Succeeded, Failed, Canceled, Error, Timeout), `createTime`,
`finishTime` and `runErrorMessage`. Runs are listed newest first.

Layers: `purge_line` is pure (a run document -> one line of the report); `last_purge_run` asks
Azure through a ResourceManagementClient's pipeline (as tools/preflight.py does), and
`make_purge_lookup` finds the subscription and credentials as the pre-flight does. Tests pass a
fake lookup to `ops.main`.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from components import practices_spec

RUNS_API_VERSION = "2019-06-01-preview"
TASK = practices_spec.PURGE_TASK_NAME
# A daily task whose last run is older than this has stopped running.
STALE_AFTER = datetime.timedelta(hours=36)
FAILED = frozenset({"Failed", "Error", "Timeout", "Canceled"})


@dataclass(frozen=True)
class PurgeStatus:
    """One line of the report; `ok` False makes it a warning (the site still works)."""

    ok: bool
    text: str


PurgeLookup = Callable[[Mapping[str, Any]], PurgeStatus | None]


def registry_name(outputs: Mapping[str, Any]) -> str | None:
    """The ACR's name, from the `registryName` output or its login server `<name>.azurecr.io`."""
    name = outputs.get("registryName")
    if isinstance(name, str) and name:
        return name
    server = outputs.get("registryLoginServer")
    if isinstance(server, str) and server.endswith(".azurecr.io"):
        return server.split(".", 1)[0]
    return None


def _time(value: Any) -> datetime.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)


def purge_line(run: Mapping[str, Any] | None, now: datetime.datetime) -> PurgeStatus:
    """The purge's last run as one line: when, how it ended, and what to do when it did not run."""
    if run is None:
        return PurgeStatus(False, f"registry purge: {TASK} has never run. On a free-credit subscription ACR Tasks "
                                  "do not run (TasksOperationsNotAllowed): the registry grows until images are "
                                  "deleted by hand (az acr repository delete) or the subscription is upgraded")
    props = run.get("properties") or {}
    status = str(props.get("status") or "unknown")
    when = _time(props.get("finishTime")) or _time(props.get("createTime"))
    ago = f"{(now - when).total_seconds() / 3600:.0f} h ago ({when.strftime('%Y-%m-%d %H:%M UTC')})" if when else \
        "at an unknown time"
    text = f"registry purge: last run {props.get('runId') or '?'} {status}, {ago}"
    if status in FAILED:
        error = " ".join(str(props.get("runErrorMessage") or "").split())[:200]
        return PurgeStatus(False, f"{text}{': ' + error if error else ''}; its log: az acr task logs --registry "
                                  f"<registry> --run-id {props.get('runId') or '<id>'}")
    if when is not None and now - when > STALE_AFTER:
        return PurgeStatus(False, f"{text}: the daily task has stopped running (are ACR Tasks allowed on this "
                                  "subscription?)")
    return PurgeStatus(True, text)


def last_purge_run(resources: Any, subscription_id: str, resource_group: str, registry: str) -> dict[str, Any] | None:
    """The newest run of the purge task, or None when it never ran."""
    from azure.core.exceptions import HttpResponseError
    from azure.core.rest import HttpRequest

    path = (f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/"
            f"Microsoft.ContainerRegistry/registries/{registry}/runs")
    response = resources.send_request(HttpRequest("GET", path, params={
        "api-version": RUNS_API_VERSION, "$filter": f"TaskName eq '{TASK}'", "$top": "1"}))
    if response.status_code >= 400:
        body = response.json() if response.text() else {}
        error = (body or {}).get("error") or {}
        raise HttpResponseError(message=f"{error.get('code', '')}: {error.get('message', '')}".strip(": "),
                                response=response)
    runs = list((response.json() or {}).get("value") or [])
    return runs[0] if runs else None


def make_purge_lookup() -> PurgeLookup:
    """The lookup `ops status` uses: None (nothing to show) without an ACR; otherwise the last
    run, or a line saying why it could not be read (never an error: the site may be fine)."""

    def lookup(outputs: Mapping[str, Any]) -> PurgeStatus | None:
        registry, group = registry_name(outputs), outputs.get("resourceGroup")
        if not registry or not isinstance(group, str):
            return None
        from . import preflight

        found = preflight.resolve_subscription(None, {})
        if found is None or not preflight.credentials_look_present():
            return PurgeStatus(False, "registry purge: not checked (no Azure login: az login, then run again)")
        try:
            from azure.identity import DefaultAzureCredential
            from azure.mgmt.resource.resources import ResourceManagementClient

            with ResourceManagementClient(DefaultAzureCredential(), found[0]) as resources:
                run = last_purge_run(resources, found[0], group, registry)
        except Exception as err:  # a status report must not fail over one Azure read
            why = preflight.error_message(err) or type(err).__name__
            return PurgeStatus(False, f"registry purge: not checked ({why})")
        return purge_line(run, datetime.datetime.now(datetime.UTC))

    return lookup
