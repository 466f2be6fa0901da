"""The sleep schedule (issue 23): its config rules, its arithmetic (daylight saving, windows across
midnight, terms), the Logic Apps it creates and the role they hold, `ops wake`/`sleep` against a
fake ARM, the pre-flight's stopped-cluster stop, and the simulator's month."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import zoneinfo
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from components import schedule as sched
from components import sleep_spec
from components.config_schedule import DAYS, ScheduleConfig
from tests.helpers import named, parsed, refusals, resources_of
from tools import ops, schedule_cost, sleep_ops
from tools.mocks import SUBSCRIPTION, WORKFLOW_PRINCIPAL_PREFIX
from tools.preflight_checks import check_cluster_awake

UTC = dt.UTC
GITHUB = {"type": "github", "clientId": "gh-client", "allowedUsers": ["alice"], "admins": ["alice"]}
HUB = {"mode": "jupyterhub", "auth": GITHUB}
SECRETS = {"authClientSecret": "s"}
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]
LONDON = {"timeZone": "Europe/London", "awake": [{"days": WEEKDAYS, "from": "08:30", "to": "18:00"}]}
TLJH = {"mode": "tljh", "auth": GITHUB,
        "vm": {"sshPublicKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEgC/wHhpkjr7StAlWWMFN+kF5WksXY+xqCZc0vi51vs a@b"}}


def schedule(**keys: Any) -> ScheduleConfig:
    return ScheduleConfig.model_validate({**LONDON, **keys})


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


# --------------------------------------------------------------------------- config rules


def test_off_by_default_and_valid_in_jupyterhub_and_tljh():
    assert parsed(SECRETS, **HUB).schedule is None
    assert parsed(SECRETS, **HUB, schedule=LONDON).schedule.time_zone == "Europe/London"
    assert parsed(SECRETS, **TLJH, schedule=LONDON).schedule.awake[0].end == "18:00"


def test_refused_for_a_binder_with_the_reason():
    found = refusals(schedule=LONDON)
    assert any(line.startswith("binderhub-azure:schedule is not available when mode is binderhub: a Binder's links")
               for line in found), found


@pytest.mark.parametrize(("change", "expected"), [
    ({"timeZone": "Europe/Londn"}, "binderhub-azure:schedule.timeZone must be an IANA time zone"),
    ({"timeZone": "Pacific/Chatham"}, "binderhub-azure:schedule.timeZone is not in the shipped IANA-to-Windows"),
    ({"awake": [{"days": ["mon"], "from": "8:30", "to": "18:00"}]}, "binderhub-azure:schedule.awake[0].from must be"),
    ({"awake": [{"days": ["mon", "mon"], "from": "08:30", "to": "18:00"}]}, "binderhub-azure:schedule.awake[0].days"),
    ({"awake": [{"days": ["mon"], "from": "09:00", "to": "09:10"}]},
     "binderhub-azure:schedule.awake[0] lasts 10 minutes, shorter than the 20 minutes assumed for an AKS cluster"),
    ({"awake": [{"days": ["mon"], "from": "09:00", "to": "09:00"}]}, "binderhub-azure:schedule.awake[0] is from 09:00"),
    ({"awake": [{"days": ["mon"], "from": "09:00", "to": "17:00"}, {"days": ["mon"], "from": "16:00", "to": "20:00"}]},
     "binderhub-azure:schedule.awake[0] (mon 09:00-17:00) overlaps binderhub-azure:schedule.awake[1]"),
    # Sunday 22:00 to Monday 02:00 runs into Monday's 01:00 window.
    ({"awake": [{"days": ["sun"], "from": "22:00", "to": "02:00"}, {"days": ["mon"], "from": "01:00", "to": "05:00"}]},
     "binderhub-azure:schedule.awake[0] (sun 22:00-02:00) overlaps"),
    ({"awake": [{"days": ["mon"], "from": "09:00", "to": "12:00"}, {"days": ["mon"], "from": "12:30", "to": "17:00"}]},
     "binderhub-azure:schedule.awake[0] (mon, to 12:00) and binderhub-azure:schedule.awake[1] leave 30 minutes"),
    ({"terms": [{"from": "2027-03-01", "to": "2027-01-01"}]}, "binderhub-azure:schedule.terms[0].to must not be"),
])
def test_bad_schedules_fail_the_plan_naming_the_key(change, expected):
    found = refusals(SECRETS, **HUB, schedule={**LONDON, **change})
    assert any(line.startswith(expected) for line in found), found


def test_a_vm_starts_faster_so_a_short_window_is_allowed_there():
    short = {**LONDON, "awake": [{"days": ["mon"], "from": "09:00", "to": "09:10"}], "stopServersMinutesBefore": 5}
    assert parsed(SECRETS, **TLJH, schedule=short).schedule is not None
    # The servers' early stop (10 minutes by default) must still fall inside the window.
    found = refusals(SECRETS, **TLJH, schedule={**short, "stopServersMinutesBefore": 10})
    assert any(line.startswith("binderhub-azure:schedule.stopServersMinutesBefore (10) must be shorter than "
                               "binderhub-azure:schedule.awake[0] (10 minutes)") for line in found), found


# --------------------------------------------------------------------------- instants


@pytest.mark.parametrize(("instant", "awake"), [
    # Winter (GMT): 08:30 local is 08:30 UTC.
    ("2027-01-13T08:29:00", False), ("2027-01-13T08:30:00", True), ("2027-01-13T17:59:00", True),
    ("2027-01-13T18:00:00", False),
    # Summer (BST, from Sunday 2027-03-28 01:00 UTC): 08:30 local is 07:30 UTC.
    ("2027-03-29T07:29:00", False), ("2027-03-29T07:30:00", True), ("2027-03-29T16:59:00", True),
    ("2027-03-29T17:00:00", False),
    # The Friday before the change is still GMT.
    ("2027-03-26T08:29:00", False), ("2027-03-26T08:30:00", True),
    # Back to GMT on Sunday 2027-10-31: Friday 29th is BST, Monday 1 November is GMT.
    ("2027-10-29T07:30:00", True), ("2027-11-01T07:30:00", False), ("2027-11-01T08:30:00", True),
    # Weekend.
    ("2027-01-16T12:00:00", False),
])
def test_london_daylight_saving_moves_utc_not_local_time(instant, awake):
    assert sched.is_awake(schedule(), at(instant)) is awake


def test_window_across_midnight_and_across_the_week():
    late = schedule(awake=[{"days": ["fri", "sun"], "from": "22:00", "to": "02:00"}])
    assert sched.is_awake(late, at("2027-01-15T23:00:00"))  # Friday 23:00
    assert sched.is_awake(late, at("2027-01-16T01:59:00"))  # Saturday 01:59, from Friday
    assert not sched.is_awake(late, at("2027-01-16T02:00:00"))
    assert sched.is_awake(late, at("2027-01-18T01:00:00"))  # Monday 01:00, from Sunday
    assert sched.awake_hours(late, at("2027-01-11T00:00:00"), at("2027-01-18T00:00:00")) == 2 + 4 + 2
    # (Monday 00-02 from the Sunday before, Friday 22-02, Sunday 22-24)
    recs = sched.recurrences(late, tljh=False)
    assert sched.Recurrence("wake", 21, 40, ("Friday", "Sunday")) in recs
    assert sched.Recurrence("sleep", 2, 0, ("Monday", "Saturday")) in recs


def test_awake_hours_in_a_week_with_the_clock_change():
    # 5 x 9.5 hours, whatever the offset.
    assert sched.awake_hours(schedule(), at("2027-03-22T00:00:00"), at("2027-03-29T00:00:00")) == 47.5
    assert sched.awake_hours(schedule(), at("2027-03-29T00:00:00"), at("2027-04-05T00:00:00")) == 47.5


def test_terms_and_until_decide_by_the_day_a_window_starts():
    s = schedule(terms=[{"from": "2027-01-11", "to": "2027-01-15"}], until="2027-01-14")
    assert sched.is_awake(s, at("2027-01-14T10:00:00"))
    assert not sched.is_awake(s, at("2027-01-15T10:00:00"))  # after until
    assert not sched.is_awake(s, at("2027-01-18T10:00:00"))  # after the term
    assert not sched.is_awake(s, at("2027-01-08T10:00:00"))  # before it


def test_next_transitions_in_local_time_and_utc():
    found = sched.next_transitions(schedule(), at("2027-03-26T12:00:00"), 3)  # Friday before BST
    assert found == [("sleep", at("2027-03-26T18:00:00")), ("wake", at("2027-03-29T07:30:00")),
                     ("sleep", at("2027-03-29T17:00:00"))]


def test_recurrences_wake_a_start_up_before_the_window():
    assert sched.recurrences(schedule(), tljh=False) == [
        sched.Recurrence("sleep", 18, 0, ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")),
        sched.Recurrence("wake", 8, 10, ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday"))]
    assert sched.recurrences(schedule(), tljh=True)[1] == sched.Recurrence(
        "wake", 8, 25, ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday"))


# --------------------------------------------------------------------------- workflow definitions


CLUSTER_ID = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks"
VM_ID = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm"


def test_workflow_definition_of_a_sleep():
    s = schedule(awake=[{"days": ["tue", "thu"], "from": "13:45", "to": "16:15"}], timeZone="America/New_York")
    sleep = next(r for r in sched.recurrences(s, tljh=False) if r.action == "sleep")
    doc = sleep_spec.workflow_definition(s, sleep, CLUSTER_ID, "cluster")
    assert doc["$schema"].endswith("/2016-06-01/workflowdefinition.json#")
    # A start time in the past, local (no Z): the time zone applies, and saving the workflow runs nothing.
    assert doc["triggers"] == {"Recurrence": {"type": "Recurrence", "recurrence": {
        "frequency": "Week", "interval": 1, "startTime": "2026-01-05T00:00:00", "timeZone": "Eastern Standard Time",
        "schedule": {"weekDays": ["Tuesday", "Thursday"], "hours": [16], "minutes": [15]}}}}
    read = doc["actions"]["Read_cluster"]
    assert read["runAfter"] == {} and read["inputs"]["method"] == "GET"
    assert read["inputs"]["uri"] == f"https://management.azure.com{CLUSTER_ID}?api-version=2025-09-01"
    # The stop only when the cluster is not stopped already (AKS refuses to stop a stopped cluster).
    gate = doc["actions"]["Unless_stopped"]
    assert gate["runAfter"] == {"Read_cluster": ["Succeeded"]} and gate["else"] == {"actions": {}}
    assert gate["expression"] == {"and": [{"not": {"equals": [
        "@body('Read_cluster')?['properties']?['powerState']?['code']", "Stopped"]}}]}
    call = gate["actions"]["Stop_cluster"]
    assert call["type"] == "Http" and call["runAfter"] == {}
    assert call["inputs"]["method"] == "POST"
    assert call["inputs"]["uri"] == f"https://management.azure.com{CLUSTER_ID}/stop?api-version=2025-09-01"
    for action in (read, call):
        assert action["inputs"]["authentication"] == {"type": "ManagedServiceIdentity",
                                                      "audience": "https://management.azure.com/"}


def test_workflow_definition_of_a_vm_wake_checks_the_terms():
    s = schedule(terms=[{"from": "2027-01-11", "to": "2027-03-26"}, {"from": "2027-04-19", "to": "2027-06-11"}],
                 until="2027-06-01")
    wake = next(r for r in sched.recurrences(s, tljh=True) if r.action == "wake")
    doc = sleep_spec.workflow_definition(s, wake, VM_ID, "vm")
    assert doc["triggers"]["Recurrence"]["recurrence"]["schedule"] == {
        "weekDays": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"], "hours": [8], "minutes": [25]}
    gate = doc["actions"]["In_term"]
    assert gate["type"] == "If" and gate["else"] == {"actions": {}}
    expression = gate["expression"]["and"][0]["equals"][0]
    day = "formatDateTime(addMinutes(convertFromUtc(utcNow(), 'GMT Standard Time'), 5), 'yyyy-MM-dd')"
    assert expression == (f"@and(or(and(greaterOrEquals({day}, '2027-01-11'), lessOrEquals({day}, '2027-03-26')), "
                          f"and(greaterOrEquals({day}, '2027-04-19'), lessOrEquals({day}, '2027-06-11'))), "
                          f"lessOrEquals({day}, '2027-06-01'))")
    call = gate["actions"]["Start_vm"]["inputs"]
    assert call["uri"] == f"https://management.azure.com{VM_ID}/start?api-version=2024-11-01"
    sleep = next(r for r in sched.recurrences(s, tljh=True) if r.action == "sleep")
    stop = sleep_spec.workflow_definition(s, sleep, VM_ID, "vm")["actions"]  # a sleep always runs
    assert stop["Deallocate_vm"]["inputs"]["uri"] == f"https://management.azure.com{VM_ID}/deallocate?api-version=2024-11-01"


def test_role_has_only_read_start_and_stop():
    assert sleep_spec.role_permissions("cluster") == [
        "Microsoft.ContainerService/managedClusters/read", "Microsoft.ContainerService/managedClusters/start/action",
        "Microsoft.ContainerService/managedClusters/stop/action"]
    assert sleep_spec.role_permissions("vm") == [
        "Microsoft.Compute/virtualMachines/read", "Microsoft.Compute/virtualMachines/start/action",
        "Microsoft.Compute/virtualMachines/deallocate/action"]


# --------------------------------------------------------------------------- the stack, under mocks


def _check_stack(plan: dict[str, Any], target: str, kind: str) -> None:
    workflows = resources_of(plan, "azure-native:logic:Workflow")
    assert sorted(w["name"] for w in workflows) == ["sleep-sleep-1800", "sleep-wake-0810" if kind == "cluster"
                                                    else "sleep-wake-0825"]
    role = named(plan, "sleep-role")
    group = target.split("/providers/")[0]
    assert role["inputs"]["assignableScopes"] == [group] and role["inputs"]["scope"] == group
    assert role["inputs"]["permissions"] == [{"actions": sleep_spec.role_permissions(kind), "notActions": []}]
    guid = role["inputs"]["roleDefinitionId"]
    assignments = {a["name"]: a["inputs"] for a in resources_of(plan, "azure-native:authorization:RoleAssignment")
                   if a["name"].startswith("sleep-")}
    assert len(assignments) == 2
    for workflow in workflows:
        inputs = workflow["inputs"]
        assert inputs["identity"] == {"type": "SystemAssigned"}
        call = json.dumps(inputs["definition"])
        assert f"https://management.azure.com{target}/" in call
        action = workflow["name"].split("-")[1]
        assignment = assignments[f"{workflow['name']}-may-{action}"]
        # Each workflow's own identity, the custom role, on the one resource.
        assert assignment["principalId"].startswith(WORKFLOW_PRINCIPAL_PREFIX)
        assert assignment["roleDefinitionId"] == (f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/"
                                                  f"roleDefinitions/{guid}")
        assert assignment["scope"] == target
    assert len({a["principalId"] for a in assignments.values()}) == 2
    assert plan["outputs"]["sleepSchedule"]["target"] == kind


def test_a_jupyterhub_stack_gets_two_workflows_on_its_cluster(render):
    plan = render(SECRETS, **HUB, schedule=LONDON)
    target = (f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-testuni-jupyterhub/providers/"
              "Microsoft.ContainerService/managedClusters/aks-testuni")
    _check_stack(plan, target, "cluster")
    assert not resources_of(render(SECRETS, **HUB), "azure-native:logic:Workflow")


def test_a_tljh_stack_gets_two_workflows_on_its_vm(render):
    plan = render(SECRETS, **TLJH, schedule=LONDON)
    vm = named(plan, "tljh-vm") if any(r["name"] == "tljh-vm" for r in plan["resources"]) else \
        resources_of(plan, "azure-native:compute:VirtualMachine")[0]
    target = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-testuni-tljh/providers/Microsoft.Compute/" \
             f"virtualMachines/{vm['inputs']['vmName']}"
    _check_stack(plan, target, "vm")


# --------------------------------------------------------------------------- ops wake / sleep


class FakeArm:
    """ARM for one cluster or VM: POST start/stop/deallocate moves it through its states, one
    state per read, as Azure's long operations do."""

    def __init__(self, kind: str, power: str):
        self.kind, self.power, self.calls = kind, power, []
        self.pending: list[str] = []

    def send(self, method: str, path: str, api_version: str) -> tuple[int, dict[str, Any]]:
        self.calls.append((method, path, api_version))
        if method == "POST":
            verb = path.rsplit("/", 1)[1]
            self.pending = ["starting", "running"] if verb == "start" else ["stopping", "stopped"]
            return 202, {}
        if self.pending:
            self.power = self.pending.pop(0)
        if self.kind == "cluster":
            state = self.power.capitalize() if self.power in ("starting", "stopping") else "Succeeded"
            code = "Stopped" if self.power in ("stopped", "starting") else "Running"
            return 200, {"properties": {"provisioningState": state, "powerState": {"code": code}}}
        code = {"stopped": "deallocated", "stopping": "deallocating"}.get(self.power, self.power)
        return 200, {"statuses": [{"code": "ProvisioningState/succeeded"}, {"code": f"PowerState/{code}"}]}


OUTPUTS = {"resourceGroup": "rg-testuni-jupyterhub", "clusterName": "aks-testuni", "mode": "jupyterhub",
           "url": "https://hub.testuni.example", "sleepSchedule": {**LONDON, "terms": [], "until": None,
                                                                   "target": "cluster"}}


def run_ops(argv: list[str], outputs: dict[str, Any], arm: FakeArm) -> tuple[int, str, str]:
    """`tools.ops` with the outputs from a file and the fake ARM."""
    import tempfile

    out, err = io.StringIO(), io.StringIO()
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        json.dump(outputs, f)
        f.flush()
        code = ops.main([*argv, "--outputs-json", f.name], out=out, err=err,
                        arm_factory=lambda args: (arm, SUBSCRIPTION))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(autouse=True)
def _no_waiting(monkeypatch):
    monkeypatch.setattr(sleep_ops, "POLL_SECONDS", 0)
    monkeypatch.setattr(sleep_ops.time, "sleep", lambda s: None)


def test_wake_posts_start_and_waits_until_running():
    arm = FakeArm("cluster", "stopped")
    code, out, err = run_ops(["wake"], OUTPUTS, arm)
    assert code == 0, err
    base = (f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-testuni-jupyterhub/providers/"
            "Microsoft.ContainerService/managedClusters/aks-testuni")
    assert arm.calls[0] == ("GET", base, "2025-09-01")
    assert arm.calls[1] == ("POST", f"{base}/start", "2025-09-01")
    assert arm.calls[-1][0] == "GET" and arm.power == "running"
    assert "start requested" in out and out.rstrip().endswith("is running")


def test_sleep_of_a_stopped_cluster_does_nothing():
    arm = FakeArm("cluster", "stopped")
    code, out, _ = run_ops(["sleep"], OUTPUTS, arm)
    assert code == 0 and [c[0] for c in arm.calls] == ["GET"] and "already stopped" in out


def test_sleep_deallocates_a_tljh_vm():
    outputs = {"resourceGroup": "rg-testuni-tljh", "vmName": "vm-testuni", "mode": "tljh"}
    arm = FakeArm("vm", "running")
    code, out, _ = run_ops(["sleep", "--no-wait"], outputs, arm)
    base = (f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-testuni-tljh/providers/Microsoft.Compute/"
            "virtualMachines/vm-testuni")
    assert code == 0 and arm.calls == [("GET", f"{base}/instanceView", "2024-11-01"),
                                       ("POST", f"{base}/deallocate", "2024-11-01")]
    assert "deallocate requested" in out


def test_a_refused_request_is_one_line_exit_2():
    class Refusing(FakeArm):
        def send(self, method, path, api_version):
            if method == "POST":
                return 409, {"error": {"code": "OperationNotAllowed", "message": "another operation is running"}}
            return super().send(method, path, api_version)

    code, _, err = run_ops(["wake"], OUTPUTS, Refusing("cluster", "stopped"))
    assert code == 2 and err.count("\n") == 1
    assert "start of aks-testuni was refused: HTTP 409 OperationNotAllowed: another operation is running" in err


def test_info_shows_the_next_wake_and_sleep_in_local_time_and_utc():
    lines = sleep_ops.schedule_lines(OUTPUTS, at("2027-03-26T12:00:00"))
    assert lines[0].startswith("Sleep schedule: awake mon,tue,wed,thu,fri 08:30-18:00 (Europe/London)")
    assert lines[1] == "  now awake by the schedule"
    assert lines[2] == "  next sleep: Fri 2027-03-26 18:00 GMT (2027-03-26 18:00 UTC)"
    assert lines[3] == "  next wake: Mon 2027-03-29 08:30 BST (2027-03-29 07:30 UTC)"
    assert sleep_ops.schedule_lines({}, at("2027-03-26T12:00:00")) == []
    odd = {"sleepSchedule": {**OUTPUTS["sleepSchedule"], "newKey": 1}}
    assert sleep_ops.schedule_lines(odd, at("2027-03-26T12:00:00")) == [
        "Sleep schedule: set, but the sleepSchedule output cannot be read by this version"]


# --------------------------------------------------------------------------- pre-flight


def test_preflight_stops_up_on_a_sleeping_cluster():
    stopped = {"properties": {"provisioningState": "Succeeded", "powerState": {"code": "Stopped"}}}
    check = check_cluster_awake(stopped, "course")
    assert check is not None and not check.ok and check.stops_up
    assert check.detail == ("the cluster is asleep (stopped by the schedule): run ./run python -m tools.ops wake "
                            "--stack course, then retry")
    starting = {"properties": {"provisioningState": "Starting", "powerState": {"code": "Stopped"}}}
    assert "is starting" in check_cluster_awake(starting, "course").detail
    running = {"properties": {"provisioningState": "Succeeded", "powerState": {"code": "Running"}}}
    assert check_cluster_awake(running, "course") is None and check_cluster_awake(None, "course") is None


def test_preflight_run_checks_reports_the_sleeping_cluster():
    from tools import preflight

    class Aks:
        def kubernetes_versions(self, location):
            return {"values": []}

        def managed_cluster(self, group, name):
            return {"properties": {"currentKubernetesVersion": "1.35.1", "powerState": {"code": "Stopped"}}}

    cfg = parsed(SECRETS, **HUB, schedule=LONDON)
    checks = preflight.kubernetes_checks(cfg, Aks(), "course")
    asleep = [c for c in checks if c.name == "cluster power"]
    assert len(asleep) == 1 and asleep[0].stops_up and "tools.ops wake --stack course" in asleep[0].detail


# --------------------------------------------------------------------------- the simulator's arithmetic


def test_a_hand_worked_week():
    # Awake Monday-Friday 09:00-17:00; the compute starts 20 minutes before. The profile: 10
    # users Monday 10:00-12:00, 4 users every weekday 18:00-20:00 (asleep), nobody else.
    s = schedule(awake=[{"days": WEEKDAYS, "from": "09:00", "to": "17:00"}])
    users = [0] * 168
    users[10] = users[11] = 10
    for day in range(5):
        users[day * 24 + 18] = users[day * 24 + 19] = 4
    figures = schedule_cost.sleep_figures(s, users, start_hour=0, lead_minutes=20, stoppable_per_hour=0.5,
                                          kept_per_hour=0.1)
    assert figures.serving[9:17] == [1.0] * 8 and figures.serving[8] == 0 and figures.serving[17] == 0
    assert figures.running[8] == pytest.approx(1 / 3) and figures.running[9] == 1.0
    assert figures.running_hours == pytest.approx(5 * (8 + 1 / 3), abs=1e-3)
    assert figures.asleep_arrivals == 5 * 4  # each evening's four users arrive while it sleeps
    assert figures.asleep_user_hours == 5 * 4 * 2
    assert figures.served_users[10] == 10 and figures.served_users[18] == 0
    assert figures.always_on_compute == pytest.approx(0.5 * 168)
    assert figures.awake_compute == pytest.approx(0.5 * 5 * (8 + 1 / 3), abs=1e-3)
    assert figures.kept == pytest.approx(0.1 * 168)


def test_a_window_across_midnight_masks_both_days():
    s = schedule(awake=[{"days": ["sun"], "from": "23:30", "to": "01:00"}])
    serving, running = schedule_cost.hourly_masks(s, 168, lead_minutes=20)
    assert serving[167] == 0.5 and serving[0] == 1.0 and serving[1] == 0  # Sunday 23:30 -> Monday 01:00
    assert running[167] == pytest.approx(50 / 60)
    shifted, _ = schedule_cost.hourly_masks(s, 2, start_hour=167)
    assert shifted == [0.5, 1.0]


def test_the_month_with_and_without_sleeping():
    s = schedule(awake=[{"days": WEEKDAYS, "from": "09:00", "to": "17:00"}])
    doc = {"idleMonthly": 100.0, "items": [
        {"name": "System nodes (Standard_D2s_v5)", "unit": "hour", "unitPrice": 0.1, "idleQuantity": 1},
        {"name": "Load balancer", "unit": "hour", "unitPrice": 0.025, "idleQuantity": 1}],
        "pools": [{"autoscaled": True, "idleCount": 0, "minCount": 0, "nodeHourPrice": 0.3}]}
    users = [0] * 168

    def simulate(demand):  # a stand-in simulator: $1 per user-hour of usage, the fixed bill spread evenly
        fixed = 100.0 / 730
        series = SimpleNamespace(idle_cost=[fixed] * len(demand), usage_cost=[n * 168 / 730 for n in demand])
        return {"monthly": {"usage": float(sum(demand))}, "_series": series}

    block = schedule_cost.month(s, doc, users, start_hour=0, tljh=False, simulate=simulate)
    kept = 100.0 - 0.1 * 730
    assert block["keptWhileStoppedMonthly"] == pytest.approx(kept)
    assert block["monthlyAlwaysOn"] == pytest.approx(100.0)
    running = 5 * (8 + 1 / 3) * 730 / 168
    assert block["runningHoursPerMonth"] == pytest.approx(running, abs=0.1)
    assert block["monthlySleeping"] == pytest.approx(kept + 0.1 * running, abs=0.01)
    assert sum(block["_hourlyCost"]) * 730 / 168 == pytest.approx(block["monthlySleeping"], abs=0.01)
    assert block["_hourlyCost"][0] == pytest.approx(kept / 730)  # Monday 00:00: asleep, only what bills anyway
    assert block["_hourlyCost"][10] == pytest.approx(kept / 730 + 0.1)  # Monday 10:00: the system node runs


def test_the_simulator_prints_the_schedule(tmp_path, capsys):
    from tools import cost

    assert cost.main(["--config-file", "examples/Pulumi.course-hub-sleeping.yaml", "--offline", "--usage",
                      "examples/usage-course-hub.csv"]) == 0
    out = capsys.readouterr().out
    assert "Sleep schedule: awake mon,tue,wed,thu,fri 08:30-22:00 (Europe/London)" in out
    assert "users who come while it sleeps:" in out
    assert cost.main(["--config-file", "examples/Pulumi.course-hub-sleeping.yaml", "--offline", "--usage",
                      "examples/usage-course-hub.csv", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["sleep"]["monthlySleeping"] < doc["sleep"]["monthlyAlwaysOn"] == doc["monthly"]["total"]


def test_pulumi_up_stops_on_a_sleeping_cluster_instead_of_waiting(monkeypatch):
    """The program's pre-flight (`__main__.py`): a stopped cluster is an error before any resource."""
    import pulumi

    from tools import preflight

    class Aks:
        def kubernetes_versions(self, location):
            return {"values": []}

        def managed_cluster(self, group, name):
            return {"properties": {"currentKubernetesVersion": "1.36.4", "powerState": {"code": "Stopped"}}}

    warnings: list[str] = []
    monkeypatch.setattr(preflight, "should_run_in_pulumi_up", lambda: True)
    monkeypatch.setattr(preflight, "build_clients", lambda sub: None)
    monkeypatch.setattr(preflight, "run_checks",
                        lambda cfg, clients: preflight.kubernetes_checks(cfg, Aks()))
    monkeypatch.setattr(pulumi, "get_stack", lambda: "course")
    raw = {"azure-native:subscriptionId": SUBSCRIPTION}
    with pytest.raises(pulumi.RunError) as info:
        preflight.check_during_pulumi(parsed(SECRETS, **HUB, schedule=LONDON), raw, warnings.append)
    assert ("cluster power: the cluster is asleep (stopped by the schedule): run ./run python -m tools.ops wake "
            "--stack course, then retry") in str(info.value)


# --------------------------------------------------------------------------- before a sleep: servers stopped


def test_stop_times_are_minutes_before_each_sleep_across_midnight():
    s = schedule(awake=[{"days": WEEKDAYS, "from": "08:30", "to": "18:00"},
                        {"days": ["sun"], "from": "20:00", "to": "00:05"}], stopServersMinutesBefore=15)
    # 17:45 Monday-Friday (cron: Sunday 0); Sunday's window ends Monday 00:05, so Sunday 23:50.
    assert sched.stop_servers_times(s) == [(17, 45, (1, 2, 3, 4, 5)), (23, 50, (0,))]


@pytest.mark.parametrize("mode", [HUB, TLJH])
def test_stop_servers_longer_than_a_window_is_refused_in_both_modes(mode):
    found = refusals(SECRETS, **mode, schedule={**LONDON, "stopServersMinutesBefore": 120,
                                                "awake": [{"days": ["mon"], "from": "09:00", "to": "10:00"}]})
    assert any(line.startswith("binderhub-azure:schedule.stopServersMinutesBefore (120) must be shorter than "
                               "binderhub-azure:schedule.awake[0] (60 minutes)") for line in found), found
    assert parsed(SECRETS, **mode, schedule={**LONDON, "stopServersMinutesBefore": 5}).schedule is not None


def test_cronjob_spec():
    jobs = sleep_spec.stop_servers_cronjobs(schedule(), "http://hub:8081/hub/api", "quay.io/jupyterhub/k8s-hub:4.4.0")
    assert [j["name"] for j in jobs] == ["stop-servers-1750"]
    spec = jobs[0]["spec"]
    assert spec["schedule"] == "50 17 * * 1,2,3,4,5" and spec["timeZone"] == "Europe/London"
    pod = spec["jobTemplate"]["spec"]["template"]
    assert pod["metadata"]["labels"]["hub.jupyter.org/network-access-hub"] == "true"  # z2jh's hub policy admits it
    container = pod["spec"]["containers"][0]
    assert container["image"] == "quay.io/jupyterhub/k8s-hub:4.4.0"
    assert container["command"][:2] == ["python3", "-c"] and container["command"][2] == sleep_spec.STOP_SERVERS_SCRIPT
    env = {e["name"]: e for e in container["env"]}
    assert env["JUPYTERHUB_API_URL"]["value"] == "http://hub:8081/hub/api"
    assert env["JUPYTERHUB_API_TOKEN"]["valueFrom"] == {"secretKeyRef": {"name": "sleep-schedule-hub-token",
                                                                         "key": "token"}}
    assert spec["jobTemplate"]["spec"]["activeDeadlineSeconds"] == 9 * 60  # done before the sleep


def test_hub_values_announce_and_register_a_service_that_may_only_stop_servers():
    values = sleep_spec.hub_values(schedule(), "TOKEN")
    assert values["hub"]["templateVars"]["announcement"].startswith(
        "This hub is awake Mon, Tue, Wed, Thu, Fri 08:30-18:00 (Europe/London time) and asleep otherwise. Running "
        "servers are stopped 10 minutes before it sleeps.")
    assert values["hub"]["services"] == {"sleep-schedule": {"apiToken": "TOKEN"}}
    role = values["hub"]["loadRoles"]["sleep-schedule"]
    assert role["scopes"] == ["list:users", "read:servers", "delete:servers"] and role["services"] == ["sleep-schedule"]
    assert "services" not in sleep_spec.hub_values(schedule(stopServersMinutesBefore=0), "TOKEN")["hub"]


def test_the_token_reaches_the_hub_and_the_cronjob(program):
    from tools.mocks import fake_secret

    run = program(SECRETS, **HUB, schedule=LONDON)
    token = fake_secret("hub-sleep-api-token")
    release = next(r for r in run.registrations if r.name == "hub-release")
    assert release.revealed["values"]["hub"]["services"]["sleep-schedule"]["apiToken"] == token
    secret = next(r for r in run.registrations if r.name == "stop-servers-token")
    assert secret.revealed["stringData"] == {"token": token}
    assert secret.revealed["metadata"] == {"name": "sleep-schedule-hub-token", "namespace": "jupyterhub"}
    job = next(r for r in run.registrations if r.name == "stop-servers-stop-servers-1750")
    assert job.revealed["metadata"]["namespace"] == "jupyterhub"


@contextlib.contextmanager
def fake_hub(users: list[dict[str, Any]], failing: str = "") -> Iterator[tuple[str, list[tuple[str, str, str]]]]:
    """A stand-in hub API (a local HTTP server): pages of `users` for GET /users, 204 for each
    DELETE but a 500 for the path `failing`. Yields its API URL and the requests it saw."""
    import http.server
    import threading
    from urllib.parse import parse_qs, urlsplit

    seen: list[tuple[str, str, str]] = []

    class Hub(http.server.BaseHTTPRequestHandler):
        def _answer(self, status: int, body: Any = None) -> None:
            data = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            seen.append(("GET", self.path, self.headers["Authorization"]))
            query = parse_qs(urlsplit(self.path).query)
            offset, limit = int(query["offset"][0]), int(query["limit"][0])
            assert query["state"] == ["active"]
            self._answer(200, users[offset:offset + limit])

        def do_DELETE(self):
            seen.append(("DELETE", self.path, self.headers["Authorization"]))
            self._answer(500 if self.path == failing else 204)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hub/api", seen
    finally:
        server.shutdown()


def test_the_script_stops_every_running_server_through_the_hub_api():
    """Run the CronJob's script against a stand-in hub API (a local HTTP server)."""
    import subprocess
    import sys

    users = [{"name": f"user{i}", "servers": {"": {}}} for i in range(250)]
    users[3]["servers"] = {"": {}, "gpu": {}}
    users[7]["name"] = "a@b.example"
    with fake_hub(users, failing="/hub/api/users/user9/server") as (url, seen):
        env = {"JUPYTERHUB_API_URL": url, "JUPYTERHUB_API_TOKEN": "tok"}
        done = subprocess.run([sys.executable, "-c", sleep_spec.STOP_SERVERS_SCRIPT], env=env, capture_output=True,
                              text=True, timeout=60)
    gets = [p for m, p, _ in seen if m == "GET"]
    assert gets == ["/hub/api/users?state=active&offset=0&limit=200",
                    "/hub/api/users?state=active&offset=200&limit=200"]
    deletes = [p for m, p, _ in seen if m == "DELETE"]
    assert len(deletes) == 251
    assert "/hub/api/users/user3/servers/gpu" in deletes and "/hub/api/users/a%40b.example/server" in deletes
    assert {auth for _, _, auth in seen} == {"token tok"}
    assert done.returncode == 1 and "could not stop user9" in done.stderr  # one failure shows in the Job
    assert "250 of 251 servers stopped before the hub sleeps" in done.stdout


def test_status_of_an_unreachable_sleeping_cluster_says_how_to_wake_it():
    from tests.test_ops import JUPYTERHUB_OUTPUTS, UNREACHABLE, Pulumi, jupyterhub_cluster
    from tests.test_ops import run as ops_run

    factory = jupyterhub_cluster()
    factory.core.error = UNREACHABLE[0]
    outputs = {**JUPYTERHUB_OUTPUTS, "sleepSchedule": OUTPUTS["sleepSchedule"]}
    result = ops_run(["status"], pulumi=Pulumi(outputs), factory=factory)
    assert result.code == 2
    assert ("the cluster may be stopped by its sleep schedule (./run python -m tools.ops wake starts it)"
            in result.err)


def test_info_prints_the_schedule_after_the_outputs():
    from tests.test_ops import JUPYTERHUB_OUTPUTS, Pulumi
    from tests.test_ops import run as ops_run

    result = ops_run(["info"], pulumi=Pulumi({**JUPYTERHUB_OUTPUTS, "sleepSchedule": OUTPUTS["sleepSchedule"]}))
    assert result.code == 0
    assert "Sleep schedule: awake mon,tue,wed,thu,fri 08:30-18:00 (Europe/London)" in result.out
    assert "next wake:" in result.out and " UTC)" in result.out
    assert "Sleep schedule" not in ops_run(["info"], pulumi=Pulumi(JUPYTERHUB_OUTPUTS)).out


def test_no_credentials_is_one_line():
    from azure.core.exceptions import ClientAuthenticationError

    class NoLogin(FakeArm):
        def send(self, method, path, api_version):
            raise ClientAuthenticationError("DefaultAzureCredential failed to retrieve a token")

    code, out, err = run_ops(["wake"], OUTPUTS, NoLogin("cluster", "stopped"))
    assert code == 2 and out == "" and err.startswith("error: no Azure credentials: run az login")


def test_the_simulators_hourly_series_for_the_plot_add_up_to_the_month():
    from tools import simulate, stackfile
    from tools.cost_model import estimate
    from tools.usage import load_profile

    raw, secret = stackfile.read_stack_file(stackfile.ROOT / "examples" / "Pulumi.course-hub-sleeping.yaml")
    from components.config_load import parse_config

    cfg = parse_config({**raw, "binderhub-azure:authClientSecret": "s"},
                       secret | {"binderhub-azure:authClientSecret"})
    doc = estimate(cfg, offline=True)
    result = simulate.run(cfg, doc, load_profile("examples/usage-course-hub-sleeping.csv"), 4,
                          lambda other: estimate(other, offline=True))
    series = result["_sleep"]
    hours = len(result["_series"].users)
    assert len(series["serving"]) == len(series["running"]) == len(series["hourlyCost"]) == hours
    assert sum(series["hourlyCost"]) * 730 / hours == pytest.approx(result["sleep"]["monthlySleeping"], abs=0.05)
    always = sum(result["_series"].idle_cost) + sum(result["_series"].usage_cost)
    assert always * 730 / hours == pytest.approx(result["sleep"]["monthlyAlwaysOn"], abs=0.05)
    # Sunday 19:00-23:00 (hours 163-166): 8 users each week, asleep.
    assert series["asleepUsers"][163] == 8 and series["serving"][163] == 0


# --------------------------------------------------------------------------- properties

_WINDOW = st.tuples(st.sets(st.sampled_from(DAYS), min_size=1),
                    st.integers(0, 24 * 12 - 1), st.integers(6, 16 * 12))


def _clock(minutes: int) -> str:
    return f"{minutes // 60 % 24:02d}:{minutes % 60:02d}"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(windows=st.lists(_WINDOW, min_size=1, max_size=3), probe=st.integers(0, 7 * 24 * 60 - 1),
       zone=st.sampled_from(["Europe/London", "America/New_York", "Australia/Sydney", "UTC"]))
def test_the_instant_view_and_the_weekly_view_agree(windows, probe, zone):
    """In a week without a clock change, `is_awake` at an instant (zoneinfo) and the simulator's
    local-week mask say the same, and a week's awake hours are the windows' lengths."""
    awake = [{"days": sorted(days, key=DAYS.index), "from": _clock(start * 5),
              "to": _clock(start * 5 + length * 5)} for days, start, length in windows]
    s = schedule(timeZone=zone, awake=awake)
    assume(not sched.problems(s, "k", tljh=False))
    tz = zoneinfo.ZoneInfo(zone)
    monday = dt.datetime(2027, 2, 8, tzinfo=tz) if zone != "Australia/Sydney" else dt.datetime(2027, 6, 7, tzinfo=tz)
    instant = (monday + dt.timedelta(minutes=probe)).astimezone(UTC)
    spans = [(a, b) for _, a, b in sched.weekly_spans(s)]
    assert sched.is_awake(s, instant) is (schedule_cost._covered(spans, probe, probe + 1) > 0)
    week = sched.awake_hours(s, monday.astimezone(UTC), (monday + dt.timedelta(days=7)).astimezone(UTC))
    assert week == pytest.approx(sum(b - a for a, b in spans) / 60)


# --------------------------------------------------------------------------- before a sleep: tljh


def _vm_files(render, **keys: Any) -> tuple[dict[str, str], dict[str, Any]]:
    """The VM's cloud-init in the plan: its files by path, and the document."""
    import base64

    import yaml

    vm = named(render(SECRETS, **TLJH, **keys), "tljh-vm")
    doc = yaml.safe_load(base64.b64decode(vm["inputs"]["osProfile"]["customData"]).decode())
    return {f["path"]: f["content"] for f in doc["write_files"]}, doc


def test_a_tljh_schedule_puts_the_hub_snippet_the_stop_script_and_its_timer_on_the_vm(render):
    from components import tljh_spec

    schedule_keys = {**LONDON, "stopServersMinutesBefore": 15,
                     "awake": [*LONDON["awake"], {"days": ["sun"], "from": "20:00", "to": "00:05"}]}
    files, doc = _vm_files(render, schedule=schedule_keys)
    d = tljh_spec.SCRIPT_DIR
    unit, timer = (files[f"/etc/systemd/system/stop-servers-before-sleep.{kind}"] for kind in ("service", "timer"))
    # Timer: 15 minutes before each sleep, local to the schedule's zone (Sunday's window ends Monday 00:05).
    calendars = [line.removeprefix("OnCalendar=") for line in timer.splitlines() if line.startswith("OnCalendar=")]
    assert calendars == ["Mon,Tue,Wed,Thu,Fri *-*-* 17:45:00 Europe/London", "Sun *-*-* 23:50:00 Europe/London"]
    assert "Persistent=false" in timer and "Unit=stop-servers-before-sleep.service" in timer
    assert "WantedBy=timers.target" in timer
    # The service runs the script each time the timer fires: a oneshot that does not stay active.
    assert f"ExecStart={d}/stop-servers.sh" in unit and "Type=oneshot" in unit
    assert "RemainAfterExit" not in unit and "[Install]" not in unit
    assert files[f"{d}/stop-servers.py"] == sleep_spec.STOP_SERVERS_SCRIPT
    assert "http://127.0.0.1:15001/hub/api" in files[f"{d}/stop-servers.sh"]
    # The timer is enabled after TLJH is installed; the snippet goes into TLJH's config.d after the
    # installer made that folder and before configure-tljh.sh's reload.
    assert doc["runcmd"][-2:] == [[f"{d}/install-tljh.sh"],
                                  ["systemctl", "enable", "--now", "stop-servers-before-sleep.timer"]]
    install = files[f"{d}/install-tljh.sh"].splitlines()
    copy = f"install -m 0600 {d}/binderhub-azure-sleep.py /opt/tljh/config/jupyterhub_config.d/"
    bootstrap = next(i for i, x in enumerate(install) if x.startswith("python3 ") and "/bootstrap.py " in x)
    assert install.index(copy) == bootstrap + 1
    assert install[install.index(copy) + 1] == f"{d}/configure-tljh.sh"
    snippet = files[f"{d}/binderhub-azure-sleep.py"]
    assert "stopped 15 minutes before it sleeps" in snippet and "'sleep-schedule'" in snippet
    compile(snippet, "binderhub-azure-sleep.py", "exec")


def test_the_timer_calendars_are_what_systemd_reads_in_the_schedule_zone(render):
    """systemd's own parser (systemd-analyze calendar), where this machine has it: the next elapse
    of the Friday stop is 17:50 London time, which is 16:50 UTC in summer."""
    import shutil
    import subprocess

    if shutil.which("systemd-analyze") is None:
        pytest.skip("no systemd-analyze here")
    files, _ = _vm_files(render, schedule=LONDON)
    timer = files["/etc/systemd/system/stop-servers-before-sleep.timer"]
    (calendar,) = [line.removeprefix("OnCalendar=") for line in timer.splitlines() if line.startswith("OnCalendar=")]
    done = subprocess.run(["systemd-analyze", "calendar", "--base-time=2027-06-04 12:00:00 UTC", calendar],
                          capture_output=True, text=True, env={"TZ": "UTC", "PATH": "/usr/bin:/bin"}, timeout=30)
    if "--base-time" in done.stderr:  # older systemd without --base-time
        pytest.skip("systemd-analyze without --base-time")
    assert done.returncode == 0, done.stderr
    assert "Next elapse: Fri 2027-06-04 16:50:00 UTC" in done.stdout, done.stdout


def test_without_an_early_stop_the_vm_only_announces_the_hours(render):
    files, doc = _vm_files(render, schedule={**LONDON, "stopServersMinutesBefore": 0})
    assert not any("stop-servers" in path for path in files)
    assert ["systemctl", "enable", "--now", "stop-servers-before-sleep.timer"] not in doc["runcmd"]
    snippet = files["/opt/binderhub-azure/binderhub-azure-sleep.py"]
    assert "announcement" in snippet and "services" not in snippet and "token" not in snippet
    no_schedule, _ = _vm_files(render)
    assert not any("sleep" in path for path in no_schedule)
    assert not any("jupyterhub_config.d" in line for line in no_schedule["/opt/binderhub-azure/install-tljh.sh"]
                   .splitlines())


def test_the_vm_script_stops_servers_with_the_token_the_hub_wrote(tmp_path):
    """stop-servers.sh as rendered, against a stand-in hub API, with the token from the hub's file."""
    import subprocess

    from components import tljh_spec

    (tmp_path / "stop-servers.sh").write_text(tljh_spec.stop_servers_script())
    (tmp_path / "stop-servers.sh").chmod(0o700)
    (tmp_path / "stop-servers.py").write_text(sleep_spec.STOP_SERVERS_SCRIPT)
    token_file = tmp_path / "token"
    env = {"PATH": "/usr/bin:/bin", "HUB_TOKEN_FILE": str(token_file)}
    # No token yet (the hub has not started): nothing is asked, the unit fails with the reason.
    missing = subprocess.run([str(tmp_path / "stop-servers.sh")], env=env, capture_output=True, text=True,
                             timeout=60)
    assert missing.returncode == 1 and "no hub token at" in missing.stderr
    token_file.write_text("made-on-the-vm\n")
    users = [{"name": "alice", "servers": {"": {}}}, {"name": "bob", "servers": {}}]
    with fake_hub(users) as (url, seen):
        done = subprocess.run([str(tmp_path / "stop-servers.sh")], env={**env, "JUPYTERHUB_API_URL": url},
                              capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert seen == [("GET", "/hub/api/users?state=active&offset=0&limit=200", "token made-on-the-vm"),
                    ("DELETE", "/hub/api/users/alice/server", "token made-on-the-vm")]
    assert "1 of 1 servers stopped before the hub sleeps" in done.stdout


# --------------------------------------------------------------------------- preview/up on a sleeping stack


class _Aks:
    """The pre-flight's AKS reads, recording which were made."""

    def __init__(self, power: str):
        self.power, self.reads = power, []

    def kubernetes_versions(self, location):
        self.reads.append("versions")
        return {"values": []}

    def managed_cluster(self, group, name):
        self.reads.append(f"{group}/{name}")
        return {"properties": {"currentKubernetesVersion": "1.36.4", "powerState": {"code": self.power}}}

    def vm_instance_view(self, group, name):
        self.reads.append(f"vm {group}/{name}")
        return {"statuses": [{"code": "ProvisioningState/succeeded"},
                             {"code": f"PowerState/{self.power.lower()}"}]}


@pytest.fixture
def during_up(monkeypatch):
    """check_during_pulumi with credentials present, stack `course`, and fake clients; the full
    checks (run_checks) record that they ran."""
    import pulumi

    from tools import preflight

    monkeypatch.delenv(preflight.SKIP_ENV, raising=False)
    monkeypatch.setattr(preflight, "should_run_in_pulumi_up", lambda: True)
    monkeypatch.setattr(pulumi, "get_stack", lambda: "course")
    state = SimpleNamespace(aks=_Aks("Stopped"), full=[], warnings=[])
    monkeypatch.setattr(preflight, "build_clients",
                        lambda sub: SimpleNamespace(aks=state.aks, resources=None, compute=None, credential=None))
    monkeypatch.setattr(preflight, "run_checks", lambda cfg, clients: state.full.append(cfg) or [])

    def run(**keys: Any):
        return preflight.check_during_pulumi(parsed(SECRETS, **{**HUB, **keys}),
                                             {"azure-native:subscriptionId": SUBSCRIPTION}, state.warnings.append)

    state.run = run
    return state


def test_with_preflight_false_a_schedule_still_checks_the_cluster_is_awake(during_up):
    import pulumi

    with pytest.raises(pulumi.RunError, match=r"cluster power: the cluster is asleep \(stopped by the schedule\): "
                                              r"run ./run python -m tools.ops wake --stack course, then retry"):
        during_up.run(schedule=LONDON, preflight=False)
    # One ARM read, of this stack's cluster; none of the quota and size checks.
    assert during_up.aks.reads == ["rg-testuni-jupyterhub/aks-testuni"] and during_up.full == []
    assert "preflight false" not in "".join(during_up.warnings)
    during_up.aks.power = "Running"
    assert [c.ok for c in during_up.run(schedule=LONDON, preflight=False)] == [True]
    assert during_up.full == [] and len(during_up.aks.reads) == 2


def test_without_a_schedule_preflight_false_reads_nothing(during_up):
    assert during_up.run(preflight=False) is None
    assert during_up.aks.reads == [] and during_up.full == [] and during_up.warnings == []


def test_when_the_awake_check_cannot_run_the_warning_says_how_to_wake(during_up, monkeypatch):
    from tools import preflight

    hint = ("this stack has a sleep schedule; if the cluster is asleep the preview will hang on the Kubernetes API: "
            "./run python -m tools.ops wake --stack course")

    def offline(sub):
        raise RuntimeError("no network")

    monkeypatch.setattr(preflight, "build_clients", offline)
    assert during_up.run(schedule=LONDON, preflight=False) is None
    assert during_up.run(schedule=LONDON) is None
    monkeypatch.setattr(preflight, "should_run_in_pulumi_up", lambda: False)  # no credentials
    assert during_up.run(schedule=LONDON) is None
    assert [w.endswith(hint) for w in during_up.warnings] == [True, True, True]
    assert during_up.warnings[-1].startswith("the sleep schedule's awake check cannot run: no Azure credentials")
    # Without a schedule the same failures stay as they were: no hint.
    assert during_up.run() is None
    assert len(during_up.warnings) == 3
    monkeypatch.setattr(preflight, "should_run_in_pulumi_up", lambda: True)
    assert during_up.run() is None and hint not in during_up.warnings[-1]
    # The offline plan's switch skips it all, silently.
    monkeypatch.setenv(preflight.SKIP_ENV, "offline plan")
    count = len(during_up.warnings)
    assert during_up.run(schedule=LONDON, preflight=False) is None and len(during_up.warnings) == count


def test_the_program_calls_the_check_for_a_schedule_even_with_preflight_false(monkeypatch):
    from tests.helpers import raw_config
    from tools import preflight
    from tools.plan import run_program

    calls = []
    monkeypatch.setattr(preflight, "check_during_pulumi", lambda *args: calls.append(args))
    run_program(*raw_config(SECRETS, **HUB, schedule=LONDON, preflight=False), "test")
    (cfg, _, _), = calls
    assert cfg.schedule is not None and cfg.preflight is False


def test_a_sleeping_stacks_provider_never_drops_unreachable_objects_from_the_state(render):
    """With deleteUnreachable, a refresh while the cluster sleeps would empty the state of every
    Kubernetes object; without a schedule it stays (a deleted cluster must not block destroy)."""
    sleeping = named(render(SECRETS, **HUB, schedule=LONDON), "cluster-k8s")["inputs"]
    assert "deleteUnreachable" not in sleeping
    assert named(render(SECRETS, **HUB), "cluster-k8s")["inputs"]["deleteUnreachable"] in ("true", True)


# --------------------------------------------------------------------------- definitions against the documented shapes

# The Workflow Definition Language schema (workflowdefinition.json, 2016-06-01) is served only from
# schema.management.azure.com and is in no public repository found here, so every rendered
# definition is checked against the shapes Microsoft documents instead, written down as a JSON
# schema (additionalProperties false: a key the documentation does not name fails):
# - definition: `$schema`, `contentVersion`, `parameters`, `triggers`, `actions`, `outputs`
#   (logic-apps-workflow-definition-language.md, "Workflow definition structure");
# - Recurrence trigger: `frequency` (Second..Month), `interval`, `startTime` "YYYY-MM-DDThh:mm:ss"
#   without Z when a `timeZone` is given, `schedule.hours` 0-23, `minutes` 0-59, `weekDays` Monday..
#   Sunday (connectors-native-recurrence.md; logic-apps-workflow-actions-triggers.md#recurrence-trigger);
# - HTTP action: `method`, `uri`, `authentication` {type ManagedServiceIdentity, audience}
#   (logic-apps-securing-a-logic-app.md, managed identity authentication), `retryPolicy` {type
#   fixed, count 1-90, interval ISO 8601 from PT5S to P1D} (error-exception-handling.md#retry-policies);
# - If action: `expression` (and/or/not/equals), `actions`, `else.actions`, `runAfter` with the
#   statuses Succeeded, Failed, Skipped, TimedOut (logic-apps-workflow-actions-triggers.md#if-action).
# All under learn.microsoft.com/azure/logic-apps/ (MicrosoftDocs/azure-docs, articles/logic-apps/).
_RUN_AFTER = {"type": "object", "additionalProperties": {
    "type": "array", "items": {"enum": ["Succeeded", "Failed", "Skipped", "TimedOut"]}}}
_ACTIONS = {"type": "object", "additionalProperties": {"$ref": "#/$defs/action"}}
WDL_SHAPES = {
    "type": "object", "additionalProperties": False,
    "required": ["$schema", "contentVersion", "triggers", "actions"],
    "properties": {
        "$schema": {"const": "https://schema.management.azure.com/providers/Microsoft.Logic/schemas/2016-06-01/"
                              "workflowdefinition.json#"},
        "contentVersion": {"type": "string", "pattern": r"^\d+\.\d+\.\d+\.\d+$"},
        "parameters": {"type": "object"}, "outputs": {"type": "object"}, "actions": _ACTIONS,
        "triggers": {"type": "object", "minProperties": 1, "maxProperties": 1, "additionalProperties": {
            "type": "object", "additionalProperties": False, "required": ["type", "recurrence"],
            "properties": {"type": {"const": "Recurrence"}, "recurrence": {
                "type": "object", "additionalProperties": False, "required": ["frequency", "interval"],
                "properties": {
                    "frequency": {"enum": ["Second", "Minute", "Hour", "Day", "Week", "Month"]},
                    "interval": {"type": "integer", "minimum": 1, "maximum": 71},
                    "startTime": {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$"},
                    "timeZone": {"type": "string", "minLength": 1},
                    "schedule": {"type": "object", "additionalProperties": False, "properties": {
                        "hours": {"type": "array", "minItems": 1,
                                  "items": {"type": "integer", "minimum": 0, "maximum": 23}},
                        "minutes": {"type": "array", "minItems": 1,
                                    "items": {"type": "integer", "minimum": 0, "maximum": 59}},
                        "weekDays": {"type": "array", "minItems": 1, "uniqueItems": True, "items": {
                            "enum": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
                                     "Sunday"]}}}}},
                "dependentRequired": {"timeZone": ["startTime"]}}}}},
    },
    "$defs": {
        "action": {"oneOf": [
            {"type": "object", "additionalProperties": False, "required": ["type", "inputs", "runAfter"],
             "properties": {"type": {"const": "Http"}, "runAfter": _RUN_AFTER, "inputs": {
                 "type": "object", "additionalProperties": False, "required": ["method", "uri"],
                 "properties": {
                     "method": {"enum": ["GET", "POST"]},
                     "uri": {"type": "string", "pattern": r"^https://management\.azure\.com/subscriptions/"},
                     "authentication": {"type": "object", "additionalProperties": False,
                                        "required": ["type", "audience"], "properties": {
                                            "type": {"const": "ManagedServiceIdentity"},
                                            "audience": {"const": "https://management.azure.com/"}}},
                     "retryPolicy": {"type": "object", "additionalProperties": False, "properties": {
                         "type": {"enum": ["fixed", "exponential", "none", "default"]},
                         "count": {"type": "integer", "minimum": 1, "maximum": 90},
                         "interval": {"type": "string", "pattern": r"^P(T(\d+[HMS])+|1D)$"}}}}}}},
            {"type": "object", "additionalProperties": False,
             "required": ["type", "expression", "actions", "runAfter"],
             "properties": {"type": {"const": "If"}, "runAfter": _RUN_AFTER, "actions": _ACTIONS,
                            "else": {"type": "object", "additionalProperties": False,
                                     "properties": {"actions": _ACTIONS}},
                            "expression": {"$ref": "#/$defs/condition"}}},
        ]},
        "condition": {"type": "object", "minProperties": 1, "maxProperties": 1, "properties": {
            "and": {"type": "array", "items": {"$ref": "#/$defs/condition"}},
            "or": {"type": "array", "items": {"$ref": "#/$defs/condition"}},
            "not": {"$ref": "#/$defs/condition"},
            "equals": {"type": "array", "minItems": 2, "maxItems": 2}}, "additionalProperties": False},
    },
}


def _every_definition() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for kind, target_id in (("cluster", CLUSTER_ID), ("vm", VM_ID)):
        for keys in ({}, {"terms": [{"from": "2027-01-11", "to": "2027-03-26"}], "until": "2027-06-01"}):
            s = schedule(awake=[*LONDON["awake"], {"days": ["sun"], "from": "20:00", "to": "00:05"}], **keys)
            for recurrence in sched.recurrences(s, tljh=kind == "vm"):
                found.append((f"{kind} {sleep_spec.workflow_key(recurrence)} {sorted(keys)}",
                              sleep_spec.workflow_definition(s, recurrence, target_id, kind)))
    return found


def test_every_rendered_definition_has_the_documented_shapes():
    import jsonschema

    validator = jsonschema.Draft202012Validator(WDL_SHAPES)
    definitions = _every_definition()
    assert len(definitions) == 16
    for name, doc in definitions:
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]
        assert errors == [], name
    # The shapes have teeth: a start time with a Z (the time zone would be ignored), an action the
    # documentation does not name, an hour out of range.
    doc = definitions[0][1]
    broken = json.loads(json.dumps(doc))
    broken["triggers"]["Recurrence"]["recurrence"]["startTime"] += "Z"
    broken["triggers"]["Recurrence"]["recurrence"]["schedule"]["hours"] = [24]
    broken["actions"]["Read_cluster"]["inputs"]["authentication"]["type"] = "MSI"
    assert len(list(validator.iter_errors(broken))) == 3
    no_start = json.loads(json.dumps(doc))
    del no_start["triggers"]["Recurrence"]["recurrence"]["startTime"]
    assert not validator.is_valid(no_start)  # a time zone without a start time is not applied


def test_a_cluster_wake_in_term_reads_first_and_starts_only_a_stopped_cluster():
    s = schedule(terms=[{"from": "2027-01-11", "to": "2027-03-26"}])
    wake = next(r for r in sched.recurrences(s, tljh=False) if r.action == "wake")
    gate = sleep_spec.workflow_definition(s, wake, CLUSTER_ID, "cluster")["actions"]["In_term"]
    inner = gate["actions"]
    assert list(inner) == ["Read_cluster", "Unless_running"]
    assert inner["Unless_running"]["expression"]["and"][0]["not"]["equals"][1] == "Running"
    assert inner["Unless_running"]["actions"]["Start_cluster"]["inputs"]["uri"].endswith(
        "/start?api-version=2025-09-01")


# --------------------------------------------------------------------------- a sleeping TLJH VM


@pytest.mark.parametrize(("power", "stops", "words"), [
    ("deallocated", True, "the VM is asleep (deallocated, by the schedule or by hand): run ./run python -m tools.ops "
                          "wake --stack course, then retry"),
    ("stopped", True, "the VM is asleep (stopped, by the schedule or by hand)"),
    ("deallocating", True, "the VM is deallocating (its sleep schedule or an operator): wait until it is running"),
    ("starting", True, "the VM is starting"),
    ("running", False, None),
])
def test_preflight_reads_the_vm_power_state(power, stops, words):
    from tools.preflight_checks import check_vm_awake

    view = {"statuses": [{"code": "ProvisioningState/succeeded"}, {"code": f"PowerState/{power}"}]}
    check = check_vm_awake(view, "course")
    if not stops:
        assert check is None
        return
    assert check is not None and not check.ok and check.stops_up and check.name == "vm power"
    assert check.detail.startswith(words)
    assert check_vm_awake(None, "course") is None  # not created yet
    assert check_vm_awake({"statuses": [{"code": "ProvisioningState/creating"}]}, "course") is None


def test_pulumi_up_on_a_sleeping_tljh_vm_stops_before_the_extension_update(during_up):
    import pulumi

    during_up.aks.power = "Deallocated"
    asleep = (r"vm power: the VM is asleep \(deallocated, by the schedule or by hand\): "
              r"run ./run python -m tools.ops wake --stack course, then retry")
    with pytest.raises(pulumi.RunError, match=asleep):
        during_up.run(**TLJH, schedule=LONDON, preflight=False)
    # One ARM read, of this stack's VM (its instance view); no cluster, no quotas.
    assert during_up.aks.reads == ["vm rg-testuni-tljh/vm-testuni-tljh"] and during_up.full == []
    during_up.aks.power = "Running"
    assert [(c.name, c.ok) for c in during_up.run(**TLJH, schedule=LONDON, preflight=False)] == [("vm power", True)]


def test_a_tljh_schedule_that_cannot_check_says_what_a_sleeping_vm_would_do(during_up, monkeypatch):
    from tools import preflight

    monkeypatch.setattr(preflight, "should_run_in_pulumi_up", lambda: False)
    assert during_up.run(**TLJH, schedule=LONDON) is None
    assert during_up.warnings[-1].endswith(
        "this stack has a sleep schedule; if the VM is asleep, Azure refuses to update its reconfigure extension and "
        "pulumi up fails half-way: ./run python -m tools.ops wake --stack course")


def test_the_full_preflight_of_a_tljh_schedule_includes_the_vm_power(monkeypatch):
    from tools import preflight

    aks = _Aks("Deallocated")
    cfg = parsed(SECRETS, **TLJH, schedule=LONDON)
    clients = SimpleNamespace(aks=aks, subscription_id=SUBSCRIPTION)
    monkeypatch.setattr(preflight, "check_providers", lambda providers, required: [])
    monkeypatch.setattr(preflight, "index_skus", lambda skus: {})
    monkeypatch.setattr(preflight, "check_vm_size", lambda pool, skus, location: preflight.Check("size", True, ""))
    monkeypatch.setattr(preflight, "check_quotas", lambda *a: [])
    clients.resources = SimpleNamespace(providers=SimpleNamespace(list=lambda: []))
    clients.compute = SimpleNamespace(resource_skus=SimpleNamespace(list=lambda **k: []),
                                      usage=SimpleNamespace(list=lambda location: []))
    monkeypatch.setattr(preflight, "check_providers",
                        lambda providers, required: [preflight.Check("provider Microsoft.Compute", True, "")])
    checks = preflight.run_checks(cfg, clients, "course")
    (power,) = [c for c in checks if c.name == "vm power"]
    assert power.stops_up and "wake --stack course" in power.detail
    assert aks.reads == ["vm rg-testuni-tljh/vm-testuni-tljh"]


def test_the_vm_instance_view_read_asks_compute_for_this_vm():
    from tools.preflight import AksApi

    sent = []

    class Response:
        status_code = 200

        def json(self):
            return {"statuses": [{"code": "PowerState/deallocated"}]}

    class Resources:
        def send_request(self, request):
            sent.append(request.url)
            return Response()

    view = AksApi(Resources(), SUBSCRIPTION).vm_instance_view("rg-a", "vm-a")
    assert view == {"statuses": [{"code": "PowerState/deallocated"}]}
    assert sent == [f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-a/providers/Microsoft.Compute/virtualMachines/"
                    "vm-a/instanceView?api-version=2024-11-01"]
