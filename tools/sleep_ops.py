"""`ops wake` and `ops sleep`: start or stop the stack's AKS cluster (start or deallocate the TLJH
VM) now, through Azure Resource Manager, and the schedule lines of `ops info` and `ops status`.

    ./run python -m tools.ops wake  [--stack NAME] [--no-wait] [--outputs-json PATH|-]
    ./run python -m tools.ops sleep [--stack NAME] [--no-wait] [--outputs-json PATH|-]

What to act on comes from the stack outputs (`resourceGroup`, `clusterName` or `vmName`,
`sleepSchedule`); the subscription and credentials as for the pre-flight check
(tools/preflight.py: --subscription, AZURE_SUBSCRIPTION_ID, `az account show`;
DefaultAzureCredential). The ARM calls go through the resource client's `send_request`, as the
pre-flight's AKS reads do; tests pass a fake `Arm`.

Layers: pure `target_of`, `power_of`, `schedule_lines`; `act(arm, target, action, wait=...)`
asks Azure and waits, polling the power state.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from components import schedule as sched
from components.config_schedule import ScheduleConfig
from components.sleep_spec import ARM_ACTIONS, api_version, vm_power_state

from .outputs import OpsError

POLL_SECONDS = 15
WAIT_MINUTES = 30  # AKS start and stop take minutes; give up waiting (not the operation) after this


class Arm(Protocol):
    def send(self, method: str, path: str, api_version: str) -> tuple[int, dict[str, Any]]:
        """One ARM request: (HTTP status, JSON body or {})."""


@dataclass(frozen=True)
class Target:
    kind: str  # "cluster" or "vm"
    path: str  # ARM resource id
    name: str


def target_of(outputs: Mapping[str, Any], subscription: str) -> Target:
    """The resource `wake`/`sleep` act on, from the stack outputs."""
    group = outputs.get("resourceGroup")
    if outputs.get("clusterName") and group:
        name = str(outputs["clusterName"])
        return Target("cluster", f"/subscriptions/{subscription}/resourceGroups/{group}/providers/"
                                 f"Microsoft.ContainerService/managedClusters/{name}", name)
    if outputs.get("vmName") and group:
        name = str(outputs["vmName"])
        return Target("vm", f"/subscriptions/{subscription}/resourceGroups/{group}/providers/"
                            f"Microsoft.Compute/virtualMachines/{name}", name)
    raise OpsError("the stack outputs name no cluster or VM (resourceGroup with clusterName or vmName): "
                   "is the stack deployed? (pulumi stack output)")


def power_of(kind: str, doc: Mapping[str, Any]) -> str:
    """'running', 'stopped', 'starting' or 'stopping' (or Azure's own word) from the GET of a
    managed cluster or a VM's instance view."""
    if kind == "cluster":
        props = doc.get("properties") or {}
        state = str(props.get("provisioningState") or "").lower()
        if state in ("starting", "stopping"):
            return state
        return str((props.get("powerState") or {}).get("code") or "unknown").lower()
    power = vm_power_state(doc) or "unknown"
    return {"deallocated": "stopped", "deallocating": "stopping"}.get(power, power)


def _error(status: int, body: Mapping[str, Any]) -> str:
    error = (body or {}).get("error") or {}
    return f"HTTP {status} {error.get('code', '')}: {error.get('message', '')}".strip(": ")


def read_power(arm: Arm, target: Target) -> str:
    path = target.path if target.kind == "cluster" else f"{target.path}/instanceView"
    status, body = arm.send("GET", path, api_version(target.kind))
    if status == 404:
        raise OpsError(f"{target.name} does not exist in Azure ({target.path}): is the stack deployed?")
    if status >= 400:
        raise OpsError(f"reading {target.name} failed: {_error(status, body)}")
    return power_of(target.kind, body)


def act(arm: Arm, target: Target, action: str, *, wait: bool = True, out: Callable[[str], None] = print,
        sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> int:
    """Wake or sleep `target` now. 0 when it is (or, without waiting, is going) in that state."""
    want, passing = ("running", "starting") if action == "wake" else ("stopped", "stopping")
    what = "the cluster" if target.kind == "cluster" else "the VM"
    power = read_power(arm, target)
    if power == want:
        out(f"{what} {target.name} is already {want}")
        return 0
    if power != passing:
        verb = ARM_ACTIONS[target.kind][action][0]
        status, body = arm.send("POST", f"{target.path}/{verb}", api_version(target.kind))
        if status >= 400:
            raise OpsError(f"{verb} of {target.name} was refused: {_error(status, body)}")
        out(f"{what} {target.name}: {verb} requested (it takes minutes)")
    if not wait:
        return 0
    deadline = clock() + WAIT_MINUTES * 60
    while clock() < deadline:
        sleep(POLL_SECONDS)
        power = read_power(arm, target)
        if power == want:
            out(f"{what} {target.name} is {want}")
            return 0
    out(f"{what} {target.name} is still {power} after {WAIT_MINUTES} minutes; check again with "
        "./run python -m tools.ops info")
    return 1


# --------------------------------------------------------------------------- the schedule lines


def schedule_lines(outputs: Mapping[str, Any], now: dt.datetime) -> list[str]:
    """`ops info`/`status`: the schedule and its next wake and sleep, in local time and UTC."""
    raw = outputs.get("sleepSchedule")
    if not isinstance(raw, Mapping):
        return []
    from pydantic import ValidationError

    try:
        schedule = ScheduleConfig.model_validate({k: v for k, v in raw.items() if k != "target"})
    except ValidationError:  # written by another version of this program
        return ["Sleep schedule: set, but the sleepSchedule output cannot be read by this version"]
    tz = sched.zone(schedule)
    lines = [f"Sleep schedule: {sched.describe(schedule)}",
             f"  now {'awake' if sched.is_awake(schedule, now) else 'asleep'} by the schedule"]
    for kind, when in sched.next_transitions(schedule, now, 2):
        local = when.astimezone(tz)
        lines.append(f"  next {kind}: {local:%a %Y-%m-%d %H:%M} {local.tzname()} ({when:%Y-%m-%d %H:%M} UTC)")
    if len(lines) == 2:
        lines.append("  no wake ahead (past its until date or its last term)")
    return lines


class ArmClient:
    """`Arm` over the resource client's pipeline (credential, retries, transport)."""

    def __init__(self, resources: Any):
        self.resources = resources

    def send(self, method: str, path: str, api_version: str) -> tuple[int, dict[str, Any]]:
        from azure.core.rest import HttpRequest

        response = self.resources.send_request(HttpRequest(method, path, params={"api-version": api_version}))
        try:
            body = response.json() if response.text() else {}
        except ValueError:
            body = {}
        return response.status_code, body if isinstance(body, dict) else {}


def make_arm(subscription: str | None, raw_config: Mapping[str, str]) -> tuple[Arm, str]:
    """The real ARM client and subscription, found as the pre-flight finds them."""
    from .preflight import build_clients, resolve_subscription

    found = resolve_subscription(subscription, raw_config)
    if found is None:
        raise OpsError("no Azure subscription: run az login (or pass --subscription, or set AZURE_SUBSCRIPTION_ID)")
    clients = build_clients(found[0])
    return ArmClient(clients.resources), found[0]
