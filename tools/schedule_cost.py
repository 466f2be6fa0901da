"""What a sleep schedule does to a month (pure): the simulator's arithmetic for `schedule`.

The simulator's hours are a local week (hour 0 = Monday 00:00 in the schedule's time zone, plus
the profile's start hour), so the weekly windows apply as written; term dates and `until` are
not applied (a weekly profile is a week in term).

Per hour: the fraction in which the hub serves users (`serving`, its windows) and the fraction in
which its compute runs (`running`: from the start-up lead before each window to its end). Users
in the profile who come while the hub sleeps are counted, not served: their arrivals (the rise
over the previous hour, as the simulator counts arrivals) and user-hours.

Money: compute that stops with the cluster (the system pool's VMs, the user pools' floor; the
TLJH VM) is paid only while running; everything else keeps billing while stopped (disks and the
Azure Files share, public IPs, the load balancer, the registry, a Standard tier control plane,
node OS disks: counted as kept, see the README). The user pool above its floor follows the
demand the hub serves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from components import schedule as sched
from components.config_schedule import ScheduleConfig

HOURS_PER_MONTH = 730
MINUTES_PER_WEEK = sched.MINUTES_PER_WEEK


def _spans(schedule: ScheduleConfig, lead: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(serving, running) spans in minutes of the local week; running starts `lead` earlier."""
    serving = [(start, end) for _, start, end in sched.weekly_spans(schedule)]
    return serving, [(start - lead, end) for start, end in serving]


def _covered(spans: Sequence[tuple[int, int]], a: int, b: int) -> float:
    """Minutes of [a, b) (minutes of the week, any week) inside the weekly spans."""
    total = 0
    for start, end in spans:
        for shift in (-MINUTES_PER_WEEK, 0, MINUTES_PER_WEEK):
            total += max(0, min(end + shift, b) - max(start + shift, a))
    return float(total)


def hourly_masks(schedule: ScheduleConfig, hours: int, *, start_hour: int = 0, lead_minutes: int = 0
                 ) -> tuple[list[float], list[float]]:
    """(serving, running): per simulated hour, the fraction of it (0-1)."""
    serving, running = _spans(schedule, lead_minutes)
    out_serving, out_running = [], []
    for h in range(hours):
        a = ((start_hour + h) % (MINUTES_PER_WEEK // 60)) * 60
        out_serving.append(round(_covered(serving, a, a + 60) / 60, 6))
        out_running.append(round(min(1.0, _covered(running, a, a + 60) / 60), 6))
    return out_serving, out_running


@dataclass(frozen=True)
class SleepFigures:
    serving: list[float]
    running: list[float]
    served_users: list[int]  # the demand the hub serves (users of asleep time left out)
    asleep_arrivals: float  # over the simulated hours
    asleep_user_hours: float
    running_hours: float
    always_on_compute: float  # per simulated period: stoppable compute if it never stopped
    awake_compute: float  # the same compute, paid only while running
    kept: float  # what bills while stopped too, over the simulated period


def sleep_figures(schedule: ScheduleConfig, users: Sequence[int], *, start_hour: int, lead_minutes: int,
                  stoppable_per_hour: float, kept_per_hour: float) -> SleepFigures:
    """The arithmetic of one simulated period (one entry of `users` per hour)."""
    hours = len(users)
    serving, running = hourly_masks(schedule, hours, start_hour=start_hour, lead_minutes=lead_minutes)
    arrivals = user_hours = 0.0
    served = []
    previous = 0
    for h, n in enumerate(users):
        asleep = 1.0 - serving[h]
        arrivals += max(0, n - previous) * asleep
        user_hours += n * asleep
        served.append(n if serving[h] > 0 else 0)
        previous = n
    running_hours = sum(running)
    return SleepFigures(serving, running, served, round(arrivals, 3), round(user_hours, 3), round(running_hours, 3),
                        round(stoppable_per_hour * hours, 4), round(stoppable_per_hour * running_hours, 4),
                        round(kept_per_hour * hours, 4))


def stoppable_per_hour(doc: Mapping[str, Any]) -> float:
    """Compute a stop saves, per hour, from a cost document (cost_model.estimate): the VMs of pools
    that do not autoscale (system nodes; the TLJH VM) and the autoscaled pools' floor (min_count)."""
    total = 0.0
    for item in doc["items"]:
        if item["unitPrice"] is None or item["unit"] != "hour":
            continue
        if item["name"].startswith(("System nodes (", "VM (")):
            total += item["unitPrice"] * item["idleQuantity"]
    for entry in doc.get("pools", []):
        if entry["autoscaled"] and entry["nodeHourPrice"]:
            total += entry["minCount"] * entry["nodeHourPrice"]
    return total


def month(cfg_schedule: ScheduleConfig, doc: Mapping[str, Any], users: Sequence[int], *, start_hour: int,
          tljh: bool, simulate: Callable[[list[int]], Mapping[str, Any]]) -> dict[str, Any]:
    """The simulator's `sleep` block: the month with and without sleeping. `simulate(users)` is the
    simulator's result for that demand (`simulate.simulate_stack`): its `monthly.usage` (the user
    pools above their floor) and `_series` (idle and usage cost, per hour)."""
    hours = len(users)
    lead = sched.WAKE_LEAD_MINUTES[sched.target(tljh)]
    autoscaled_idle = sum(entry["idleCount"] * entry["nodeHourPrice"] * HOURS_PER_MONTH
                          for entry in doc.get("pools", []) if entry["autoscaled"] and entry["nodeHourPrice"])
    stoppable = stoppable_per_hour(doc)
    floors = sum(e["minCount"] * e["nodeHourPrice"] for e in doc.get("pools", [])
                 if e["autoscaled"] and e["nodeHourPrice"])
    kept_month = float(doc["idleMonthly"]) - autoscaled_idle - (stoppable - floors) * HOURS_PER_MONTH
    figures = sleep_figures(cfg_schedule, users, start_hour=start_hour, lead_minutes=lead,
                            stoppable_per_hour=stoppable, kept_per_hour=kept_month / HOURS_PER_MONTH)
    scale = HOURS_PER_MONTH / hours if hours else 0.0
    served = simulate(figures.served_users)
    always = kept_month + stoppable * HOURS_PER_MONTH + float(simulate(list(users))["monthly"]["usage"])
    asleep = kept_month + figures.awake_compute * scale + float(served["monthly"]["usage"])
    # Per hour, for the plot: what bills anyway, the stoppable compute while running, and the pools
    # as simulated for the served demand, less their floor while stopped.
    fixed_hour = (float(doc["idleMonthly"]) - autoscaled_idle) / HOURS_PER_MONTH
    hourly = [kept_month / HOURS_PER_MONTH + (stoppable - floors) * run + (cost - fixed_hour) - floors * (1 - run)
              for run, cost in zip(figures.running, _hourly_cost(served["_series"]), strict=True)]
    return {
        "schedule": sched.describe(cfg_schedule),
        "startupLeadMinutes": lead,
        "runningHoursPerMonth": round(figures.running_hours * scale, 1),
        "monthlyAlwaysOn": round(always, 2),
        "monthlySleeping": round(asleep, 2),
        "keptWhileStoppedMonthly": round(kept_month, 2),
        "asleepArrivalsPerMonth": round(figures.asleep_arrivals * scale),
        "asleepUserHoursPerMonth": round(figures.asleep_user_hours * scale),
        "_serving": figures.serving,  # per simulated hour, for the plot
        "_running": figures.running,
        "_asleepUsers": [round(n * (1 - f), 3) for n, f in zip(users, figures.serving, strict=True)],
        "_hourlyCost": hourly,
    }


def _hourly_cost(series: Any) -> list[float]:
    """The simulator's cost in each hour: idle (fixed items, pools at their floor) and usage."""
    return [idle + usage for idle, usage in zip(series.idle_cost, series.usage_cost, strict=True)]


def render_lines(block: Mapping[str, Any]) -> list[str]:
    """The simulator's text lines for the schedule."""
    saved = block["monthlyAlwaysOn"] - block["monthlySleeping"]
    return [
        f"Sleep schedule: {block['schedule']}; compute runs {block['runningHoursPerMonth']:g} h/month (from "
        f"{block['startupLeadMinutes']} min before each window)",
        f"  always on ${block['monthlyAlwaysOn']:,.2f}/month; sleeping ${block['monthlySleeping']:,.2f}/month (saves "
        f"${saved:,.2f}; ${block['keptWhileStoppedMonthly']:,.2f} keeps billing while stopped)",
        f"  users who come while it sleeps: {block['asleepArrivalsPerMonth']} arrivals, "
        f"{block['asleepUserHoursPerMonth']} user-hours per month (not served)",
    ]


def running_hours_per_week(schedule: ScheduleConfig, lead_minutes: int) -> float:
    """Hours a week the compute runs: each window and the start-up lead before it."""
    return sum(end - start + lead_minutes for _, start, end in sched.weekly_spans(schedule)) / 60


def estimate_block(schedule: ScheduleConfig, doc: Mapping[str, Any], *, tljh: bool) -> dict[str, Any]:
    """The cost estimate's `sleep` block: the idle bill of a week in term with the schedule."""
    lead = sched.WAKE_LEAD_MINUTES[sched.target(tljh)]
    running = running_hours_per_week(schedule, lead) * HOURS_PER_MONTH / (MINUTES_PER_WEEK / 60)
    stoppable = stoppable_per_hour(doc)
    kept = float(doc["idleMonthly"]) - stoppable * HOURS_PER_MONTH
    return {"schedule": sched.describe(schedule), "startupLeadMinutes": lead,
            "runningHoursPerMonth": round(running, 1), "keptWhileStoppedMonthly": round(kept, 2),
            "idleMonthlySleeping": round(kept + stoppable * running, 2)}


def estimate_lines(block: Mapping[str, Any], idle_always: float) -> list[str]:
    return [f"Sleep schedule: {block['schedule']}",
            f"  idle with the schedule ${block['idleMonthlySleeping']:,.2f} a month instead of ${idle_always:,.2f} "
            f"(compute {block['runningHoursPerMonth']:g} h of 730, from {block['startupLeadMinutes']} min before "
            f"each window; ${block['keptWhileStoppedMonthly']:,.2f} keeps billing while stopped: disks, shares, "
            "public IPs, load balancer, registry, control-plane tier)"]
