"""The autoscaling cost simulator (pure): how many nodes a pool runs, hour by hour, for a
given number of concurrent users, and what that costs.

One step is one hour; within it the model follows what the stack configures:

- Users per node come from the pool's VM size and the memory limit (cost.users_per_node).
- Scale-up: when a user's server has no room, the cluster autoscaler adds nodes at once, and
  the users who found no room wait for them (`startup_minutes`, AKS's node start-up time:
  about 3-5 minutes to join and pull images; 5 is used). Their count and wait are the price
  of scaling to zero.
- Placeholders (speed.placeholders) hold room for that many users; real users take their
  place at once (placeholders have a lower priority), so the nodes they keep mean no wait.
- Scale-down: a node is removed after it has been unneeded for `scale_down_minutes` (the
  autoscaler's scale-down-unneeded-time, 10 minutes by default). Servers of users who left
  stay until the idle culler stops them (`cull_minutes`, at most the hour modelled here).
- Packing: with the user scheduler servers fill the fullest node, so the nodes beyond what
  the servers need can go; without it (the default scheduler spreads them) a node stays as
  long as any server may be on it: at most one node per server.
- The pool's maximum: users beyond max_count x users per node are turned away; a refused
  user counts once while the shortage lasts.
- Arrivals: the demand is concurrent users per hour, so the new users of an hour are the
  increase over the previous hour (a lower bound: turnover within an hour is not seen).

Spot evictions are not simulated: a spot pool's figures assume no eviction. Builds are not
simulated either: a pool that serves no users (the build pool) stays at its minCount, and the
output says so. A node is paid (VM and OS disk) from the minute it is requested to the minute
it is removed.

A stack's figures are first those of the hours simulated (`period`: a weekly profile repeated
from a Monday, or a dated profile's own hours), then the monthly rate (`monthly`: the same
scaled to a 730-hour month). The plot draws a Series (per hour: users, nodes, idle and usage
cost, and the Marks to show on the time axis), so its total is the period's by construction.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from components.config import StackConfig

    from .usage import Profile

HOURS_PER_WEEK = 168
HOURS_PER_MONTH = 730
STARTUP_MINUTES = 5.0  # AKS node start-up: about 3-5 minutes to join and pull images
SCALE_DOWN_MINUTES = 10.0  # cluster autoscaler default scale-down-unneeded-time


@dataclass(frozen=True)
class Pool:
    """An autoscaled pool as the simulator needs it."""

    name: str
    users_per_node: int  # 0: no user servers run here, the pool stays at min_count
    min_count: int
    max_count: int
    node_hour_price: float  # VM and OS disk, per node-hour
    serves: str | None = "users"  # the profile column whose users run here


@dataclass(frozen=True)
class Settings:
    placeholders: int = 0
    # Hours of the week (0-167, hours since Monday 00:00) in which the placeholders run;
    # None: all the time.
    placeholder_hours: frozenset[int] | None = None
    packing: bool = True
    startup_minutes: float = STARTUP_MINUTES
    scale_down_minutes: float = SCALE_DOWN_MINUTES
    cull_minutes: float = 60.0


@dataclass
class PoolResult:
    hours: int
    node_hours: float = 0.0
    peak_nodes: int = 0
    cold_starts: int = 0
    wait_minutes: float = 0.0
    turned_away: int = 0
    cost: float = 0.0
    nodes: list[int] = field(default_factory=list)  # nodes running in each hour (its most)
    hourly_node_hours: list[float] = field(default_factory=list)  # node-hours paid in each hour
    hourly_cold_starts: list[int] = field(default_factory=list)  # users who waited for a node, per hour
    hourly_turned_away: list[int] = field(default_factory=list)  # users refused, per hour

    @property
    def mean_wait_minutes(self) -> float:
        return self.wait_minutes / self.cold_starts if self.cold_starts else 0.0


def simulate_pool(demand: Sequence[int], pool: Pool, settings: Settings = Settings(), *,
                  start_hour: int = 0) -> PoolResult:
    """Simulate one pool through `demand` (concurrent users, one entry per hour; hour 0 is
    `start_hour` hours after a Monday 00:00)."""
    fit = pool.users_per_node
    cap = pool.max_count * fit if fit > 0 else 0
    lo, hi = pool.min_count, pool.max_count
    linger_minutes = min(max(settings.cull_minutes, 0.0), 60.0)
    t1 = settings.scale_down_minutes
    t2 = linger_minutes + settings.scale_down_minutes
    rest1, rest2 = max(0.0, 60.0 - t1), max(0.0, 60.0 - t2)
    hours_set = settings.placeholder_hours
    placeholders = settings.placeholders if fit > 0 else 0
    startup = settings.startup_minutes
    packing = settings.packing

    def nodes_for(servers: int) -> int:
        need = -(-servers // fit) if fit > 0 else 0
        return lo if need < lo else hi if need > hi else need

    result = PoolResult(hours=len(demand))
    nodes_log = result.nodes
    paid_log = result.hourly_node_hours
    cold_log = result.hourly_cold_starts
    turned_log = result.hourly_turned_away
    first = placeholders if hours_set is None or start_hour % HOURS_PER_WEEK in hours_set else 0
    n = nodes_for(first)
    served_prev = 0
    excess_prev = 0
    node_minutes = 0.0
    cold = 0
    turned = 0
    peak = n
    for h, users in enumerate(demand):
        excess = users - cap if users > cap else 0
        refused = excess - excess_prev if excess > excess_prev else 0
        turned += refused
        turned_log.append(refused)
        excess_prev = excess
        waited = 0
        served = users - excess
        p = placeholders if hours_set is None or (start_hour + h) % HOURS_PER_WEEK in hours_set else 0
        linger = served_prev - served if served_prev > served and linger_minutes > 0 else 0
        keep1 = nodes_for(served + linger + p)
        keep2 = nodes_for(served + p)
        if n > keep1:
            # Users who arrive take free room first; no new node, no wait.
            a = n
        else:
            a = keep1
            if a > n:
                arrivals = served - served_prev if served > served_prev else 0
                free = n * fit - served_prev if n * fit > served_prev else 0
                if arrivals > free:
                    waited = arrivals - free
                    cold += waited
        cold_log.append(waited)
        if not packing:
            # Spread servers: a node stays while a server (or placeholder) may be on it.
            keep1 = max(keep1, min(a, served + linger + p))
            keep2 = max(keep2, min(a, served + p))
        minutes = a * 60.0 - (a - keep1) * rest1 - (keep1 - keep2) * rest2
        node_minutes += minutes
        paid_log.append(minutes / 60.0)
        n = keep2 if rest2 > 0 else keep1
        if a > peak:
            peak = a
        nodes_log.append(a)
        served_prev = served
    result.node_hours = node_minutes / 60.0
    result.peak_nodes = peak
    result.cold_starts = cold
    result.wait_minutes = cold * startup
    result.turned_away = turned
    result.cost = result.node_hours * pool.node_hour_price
    return result


def hours_with_users(weekly: Sequence[int]) -> frozenset[int]:
    """Hours of the week in which anyone uses the hub (where a schedule would run placeholders)."""
    return frozenset(h % HOURS_PER_WEEK for h, users in enumerate(weekly) if users > 0)


def repeat_weeks(weekly: Sequence[int], weeks: int) -> list[int]:
    return list(weekly) * weeks


def monthly(value: float, hours: int, hours_per_month: int = 730) -> float:
    """A figure over `hours` scaled to a month."""
    return value * hours_per_month / hours if hours else 0.0


# ---------------------------------------------------------------------------
# A whole stack: its pools from the cost estimate, the month's figures, alternatives
# ---------------------------------------------------------------------------


class SimulationError(Exception):
    """The stack cannot be simulated (a price or a size is unknown); one line."""


def settings_of(cfg: StackConfig) -> Settings:
    return Settings(placeholders=cfg.speed.placeholders, packing=cfg.speed.user_scheduler,
                    cull_minutes=float(cfg.cull_idle_minutes))


def pools_of(doc: Mapping[str, Any]) -> list[Pool]:
    """The autoscaled pools of a cost document (cost.estimate), or for a single VM (tljh) the
    VM as a pool of one node whose price is already in the idle bill."""
    if not doc.get("pools"):
        fit = doc.get("usersPerNode")
        if not isinstance(fit, int):
            raise SimulationError(f"users per VM unknown: {doc['userNode']['vmSize']} is not in the size table")
        return [Pool("vm", fit, 1, 1, 0.0)]
    pools = []
    for entry in doc["pools"]:
        if not entry["autoscaled"]:
            continue
        if entry["nodeHourPrice"] is None:
            raise SimulationError(f"the {entry['pool']} pool's price ({entry['vmSize']}) is unknown offline; "
                                  "run with network")
        serves = entry.get("serves")
        if serves is not None and not isinstance(entry["usersPerNode"], int):
            raise SimulationError(f"users per node of the {entry['pool']} pool unknown: {entry['vmSize']} is not "
                                  "in the size table")
        pools.append(Pool(entry["pool"], entry["usersPerNode"] if serves else 0, entry["minCount"],
                          entry["maxCount"], entry["nodeHourPrice"], serves))
    return pools


def _fixed_monthly(doc: Mapping[str, Any]) -> float:
    """The estimate's idle bill without the autoscaled pools' idle nodes (which the simulation
    counts itself)."""
    autoscaled = sum(entry["idleCount"] * entry["nodeHourPrice"] * HOURS_PER_MONTH
                     for entry in doc.get("pools", []) if entry["autoscaled"] and entry["nodeHourPrice"])
    return float(doc["idleMonthly"]) - autoscaled


@dataclass(frozen=True)
class Marks:
    """Something to mark on the plot's time axis: how many of it in each hour simulated.

    The plot draws every Marks the same way (a marker on the users line in the hours with any,
    the period's count in the legend), so a new kind of event is one more entry here."""

    key: str  # stable name: coldStarts, turnedAway
    label: str  # legend text; the plot adds the count
    counts: tuple[int, ...]

    @property
    def total(self) -> int:
        return sum(self.counts)


@dataclass(frozen=True)
class Series:
    """What the plot draws, one entry per hour simulated."""

    users: tuple[int, ...]
    gpu_users: tuple[int, ...] | None
    nodes: dict[str, tuple[int, ...]]  # per pool that runs users ("user nodes"): its nodes in each hour
    idle_cost: tuple[float, ...]  # what bills with nobody on the hub (fixed items, pools at minCount)
    usage_cost: tuple[float, ...]  # node time above the pools' minimum
    marks: tuple[Marks, ...]

    def cumulative(self) -> tuple[list[float], list[float]]:
        """Cumulative idle and usage cost at each hour boundary (0 .. hours): the plot's areas."""
        idle, usage = [0.0], [0.0]
        for i, u in zip(self.idle_cost, self.usage_cost, strict=True):
            idle.append(idle[-1] + i)
            usage.append(usage[-1] + u)
        return idle, usage


def simulate_stack(doc: Mapping[str, Any], users: Sequence[int], gpu_users: Sequence[int] | None,
                   settings: Settings, *, start_hour: int = 0) -> dict[str, Any]:
    """The figures of one setting: the cost of the hours simulated (`period`) and the monthly
    rate (`monthly`, the same scaled to a 730-hour month), each split into idle and usage;
    node-hours and peak nodes per pool, cold starts, users turned away (per month, scaled from
    the hours simulated, except the peaks)."""
    hours = len(users)
    # Idle: the estimate's fixed items and every autoscaled pool's minCount nodes, hour by hour.
    idle_cost = [_fixed_monthly(doc) / HOURS_PER_MONTH] * hours
    usage_cost = [0.0] * hours
    node_hours: dict[str, float] = {}
    peaks: dict[str, int] = {}
    cold = [0] * hours
    turned = [0] * hours
    wait = 0.0
    nodes: dict[str, tuple[int, ...]] = {}
    for entry in doc.get("pools", []):
        if not entry["autoscaled"]:
            node_hours[entry["pool"]] = entry["idleCount"] * HOURS_PER_MONTH
            peaks[entry["pool"]] = entry["idleCount"]
    for pool in pools_of(doc):
        if pool.serves == "users":
            demand: Sequence[int] = users
            pool_settings = settings
        else:
            # Placeholders hold room on the user pool only.
            demand = gpu_users if pool.serves == "gpuUsers" and gpu_users is not None else [0] * hours
            pool_settings = replace(settings, placeholders=0)
        result = simulate_pool(demand, pool, pool_settings, start_hour=start_hour)
        floor = pool.min_count * pool.node_hour_price
        for h, paid in enumerate(result.hourly_node_hours):
            idle_cost[h] += floor
            usage_cost[h] += paid * pool.node_hour_price - floor
            cold[h] += result.hourly_cold_starts[h]
            turned[h] += result.hourly_turned_away[h]
        node_hours[pool.name] = round(monthly(result.node_hours, hours), 1)
        peaks[pool.name] = result.peak_nodes
        wait += result.wait_minutes
        if pool.serves is not None:
            # A pool that serves no users (the build pool: builds are not simulated) stays at
            # its minimum: a flat line that would look like a measurement is left out.
            nodes[f"{pool.name} nodes" if doc.get("pools") else "the VM"] = tuple(result.nodes)
    idle, usage_total = sum(idle_cost), sum(usage_cost)
    cold_total, turned_total = sum(cold), sum(turned)
    series = Series(tuple(users), tuple(gpu_users) if gpu_users is not None else None, nodes, tuple(idle_cost),
                    tuple(usage_cost),
                    (Marks("coldStarts", f"waited {settings.startup_minutes:g} min for a node", tuple(cold)),
                     Marks("turnedAway", "turned away (pool at maxCount)" if doc.get("pools") else
                           "turned away (VM full)", tuple(turned))))
    return {
        "period": {"idle": round(idle, 2), "usage": round(usage_total, 2), "total": round(idle + usage_total, 2),
                   "coldStarts": cold_total, "turnedAway": turned_total},
        "monthly": {"idle": round(monthly(idle, hours), 2), "usage": round(monthly(usage_total, hours), 2),
                    "total": round(monthly(idle + usage_total, hours), 2)},
        "nodeHours": node_hours,
        "peakNodes": peaks,
        "coldStarts": {"count": round(monthly(cold_total, hours)),
                       "meanWaitMinutes": round(wait / cold_total, 1) if cold_total else 0},
        "turnedAway": round(monthly(turned_total, hours)),
        "_series": series,
    }


def _public(figures: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in figures.items() if not key.startswith("_")}


def alternatives(cfg: StackConfig, doc: Mapping[str, Any], profile: Profile, base: Mapping[str, Any],
                 estimate_of: Callable[[StackConfig], Mapping[str, Any]], users: Sequence[int],
                 gpu_users: Sequence[int] | None, start_hour: int) -> list[dict[str, Any]]:
    """One or two other settings worth comparing, with the same figures."""
    found: list[dict[str, Any]] = []
    settings = settings_of(cfg)
    if not doc.get("pools"):
        return found  # one VM: nothing scales
    if base["coldStarts"]["count"] and settings.placeholders == 0:
        busy = {(start_hour + i) % HOURS_PER_WEEK for i, n in enumerate(users) if n}
        # From an hour before the first users, so the node is up when they come.
        teaching = frozenset(busy | {(h - 1) % HOURS_PER_WEEK for h in busy})
        if len(teaching) < HOURS_PER_WEEK:
            text = ("one placeholder from an hour before to the end of the hours with users (speed.placeholders: 1 "
                    "on a schedule, e.g. a CronJob that scales the user-placeholder StatefulSet; not set by this "
                    "project)")
            alt = replace(settings, placeholders=1, placeholder_hours=teaching)
        else:
            # Users all week: hold room for the largest rise from one hour to the next.
            rise = max([users[i + 1] - users[i] for i in range(len(users) - 1)] + [1])
            text = f"speed.placeholders: {rise} (room for the largest rise in users from one hour to the next)"
            alt = replace(settings, placeholders=rise)
        found.append({"setting": text, **_public(simulate_stack(doc, users, gpu_users, alt, start_hour=start_hour))})
    user = cfg.cluster.user_pool
    if base["turnedAway"] and user.max_count < 100:
        more = min(100, user.max_count * 2)
        bigger = cfg.model_copy(update={"cluster": cfg.cluster.model_copy(
            update={"user_pool": user.model_copy(update={"max_count": more})})})
        figures = simulate_stack(estimate_of(bigger), users, gpu_users, settings, start_hour=start_hour)
        found.append({"setting": f"cluster.userPool.maxCount: {more}", **_public(figures)})
    if not user.spot:
        spot_cfg = cfg.model_copy(update={"cluster": cfg.cluster.model_copy(
            update={"user_pool": user.model_copy(update={"spot": True})})})
        spot_doc = estimate_of(spot_cfg)
        try:
            figures = simulate_stack(spot_doc, users, gpu_users, settings, start_hour=start_hour)
            found.append({"setting": "cluster.userPool.spot: true (evictions not simulated)", **_public(figures)})
        except SimulationError:
            pass
    return found[:2]


WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class Period:
    """The hours simulated: a weekly profile repeated from a Monday 00:00, or a dated profile's
    own hours."""

    hours: int
    start_hour: int = 0  # hours since a Monday 00:00 of the first hour
    start: datetime.datetime | None = None  # the first hour (dated profiles)
    repeats: int | None = None  # how many times a weekly profile is repeated

    @property
    def length(self) -> str:
        if self.hours % 24:
            return "1 hour" if self.hours == 1 else f"{self.hours} hours"
        days = self.hours // 24
        return "1 day" if days == 1 else f"{days} days"

    @property
    def end(self) -> datetime.datetime | None:
        """The end of the last hour (dated profiles)."""
        return self.start + datetime.timedelta(hours=self.hours) if self.start is not None else None

    def dates(self) -> str:
        """'Mon 2026-01-05 to Sun 2026-01-18' (whole days) or with times; for a weekly profile the
        weekdays it covers."""
        if self.start is None or self.end is None:
            times = "once" if self.repeats == 1 else f"{self.repeats} times"
            return f"the weekly profile {times}, from a Monday"
        if self.start.hour == self.start.minute == 0 and self.hours % 24 == 0:
            last = self.end - datetime.timedelta(days=1)
            return f"{self.start:%a %Y-%m-%d} to {last:%a %Y-%m-%d}"
        return f"{self.start:%a %Y-%m-%d %H:%M} to {self.end:%a %Y-%m-%d %H:%M}"

    def describe(self) -> str:
        return f"{self.length}, {self.dates()}"

    def day_label(self, hour: int, first: bool = False) -> str:
        """The label of the day that begins `hour` hours into the period: its weekday, and on
        Mondays (and the first label) its date (dated profiles) or its week (weekly profiles)."""
        day = (self.start_hour + hour) // 24
        weekday = WEEKDAYS[day % 7]
        if not first and day % 7:
            return weekday
        if self.start is not None:
            when = self.start + datetime.timedelta(hours=hour)
            return f"{weekday}\n{when.day} {when:%b}"
        if self.repeats == 1:
            return weekday
        return f"{weekday}\nweek {(self.start_hour + hour) // HOURS_PER_WEEK + 1}"

    def ticks(self) -> tuple[list[tuple[int, str]], list[int]]:
        """The time axis, in hours from the start: labelled (major) ticks and unlabelled ones. Every
        day for up to 16 days, Mondays beyond (at most 8 labels), every 6 hours for short
        periods."""
        first = (24 - self.start_hour % 24) % 24  # the first day boundary
        midnights = list(range(first, self.hours, 24))  # not the end: that day is not simulated
        if self.hours < 48:
            major = list(range(0, self.hours, 6))
            labels = [(h, f"{WEEKDAYS[((self.start_hour + h) // 24) % 7]} {(self.start_hour + h) % 24:02d}:00")
                      for h in major]
            return labels, []
        if self.hours <= 16 * 24:
            return [(h, self.day_label(h, first=i == 0)) for i, h in enumerate(midnights)], []
        mondays = [h for h in midnights if ((self.start_hour + h) // 24) % 7 == 0]
        step = -(-len(mondays) // 8)
        return [(h, self.day_label(h)) for h in mondays[::step]], (midnights if step == 1 else mondays)

    def as_json(self) -> dict[str, Any]:
        return {"hours": self.hours, "length": self.length, "dates": self.dates(),
                "start": self.start.isoformat() if self.start else None,
                "end": self.end.isoformat() if self.end else None}


def period_of(profile: Profile, weeks: int) -> Period:
    if profile.weekly:
        return Period(len(profile.users) * weeks, profile.start_hour, None, weeks)
    return Period(len(profile.users), profile.start_hour, profile.start)


def run(cfg: StackConfig, doc: Mapping[str, Any], profile: Profile, weeks: int,
        estimate_of: Callable[[StackConfig], Mapping[str, Any]]) -> dict[str, Any]:
    """The simulator's document (`--json`): the cost of the hours simulated and the monthly
    rate, of the stack and of the alternatives. A weekly profile is repeated `weeks` times; a
    dated profile is simulated as given (the command refuses --weeks for it)."""
    period = period_of(profile, weeks)
    users = list(profile.users) * weeks if profile.weekly else list(profile.users)
    gpu_users = None
    if profile.gpu_users is not None:
        gpu_users = list(profile.gpu_users) * weeks if profile.weekly else list(profile.gpu_users)
    settings = settings_of(cfg)
    base = simulate_stack(doc, users, gpu_users, settings, start_hour=profile.start_hour)
    assumptions: dict[str, Any] = {
        "nodeStartupMinutes": settings.startup_minutes, "scaleDownUnneededMinutes": settings.scale_down_minutes,
        "cullIdleMinutes": settings.cull_minutes, "placeholders": settings.placeholders,
        "userScheduler": settings.packing, "spotEvictions": "not simulated"}
    unserved = [pool for pool in pools_of(doc) if pool.serves is None]
    if unserved:
        assumptions["builds"] = "not simulated: " + ", ".join(
            f"the {pool.name} pool stays at its minCount ({pool.min_count} node{'' if pool.min_count == 1 else 's'})"
            for pool in unserved)
    # The sleep schedule: its arithmetic is tools/schedule_cost.py's. The always-on demand is the
    # one simulated above; only the demand it serves while awake is simulated again.
    sleep = None
    if cfg.schedule is not None:
        from . import schedule_cost

        def simulate_demand(demand: list[int]) -> Mapping[str, Any]:
            if demand == list(users):
                return base
            return simulate_stack(doc, demand, gpu_users, settings, start_hour=profile.start_hour)

        sleep = schedule_cost.month(cfg.schedule, doc, users, start_hour=profile.start_hour, tljh=cfg.tljh,
                                    simulate=simulate_demand)
    return {
        "profile": profile.name,
        "hoursSimulated": len(users),
        "weeks": round(len(users) / HOURS_PER_WEEK, 2),
        **_public(base),
        "period": {**period.as_json(), **base["period"]},
        "prices": {"source": doc["priceSource"], "date": doc["priceDate"], "region": doc["pricesRegion"],
                   "offline": doc["offline"], "excludesUnknown": doc["excludesUnknown"]},
        "assumptions": assumptions,
        "alternatives": alternatives(cfg, doc, profile, base, estimate_of, users, gpu_users, profile.start_hour),
        "_series": base["_series"],
        "_period": period,
        "_sleep": ({k[1:]: v for k, v in sleep.items() if k.startswith("_")} if sleep else None),
        **({"sleep": {k: v for k, v in sleep.items() if not k.startswith("_")}} if sleep else {}),
    }


# ---------------------------------------------------------------------------
# Output: a compact table, and a plot (matplotlib, imported only when asked for)
# ---------------------------------------------------------------------------


def _row(label: str, figures: Mapping[str, Any]) -> list[str]:
    money = figures["monthly"]
    nodes = ", ".join(f"{pool} {hours:g}" for pool, hours in figures["nodeHours"].items())
    peaks = ", ".join(f"{pool} {n}" for pool, n in figures["peakNodes"].items())
    cold = figures["coldStarts"]
    waits = f"{cold['count']} x {cold['meanWaitMinutes']:g} min" if cold["count"] else "0"
    return [label, f"${figures['period']['total']:,.2f}", f"${money['idle']:,.2f}", f"${money['usage']:,.2f}",
            f"${money['total']:,.2f}", nodes, peaks, waits, str(figures["turnedAway"])]


def render(doc: Mapping[str, Any], title: str) -> str:
    """The text the command prints: the cost of the hours simulated, the monthly rate, then one
    row for the stack and one per alternative."""
    period = doc["period"]
    money = doc["monthly"]
    header = ["setting", period["length"], "idle/month", "usage/month", "total/month", "node-hours/month",
              "peak nodes", "waited/month", "turned away/month"]
    rows = [_row("as configured", doc)]
    notes = []
    for i, alt in enumerate(doc["alternatives"], start=1):
        rows.append(_row(f"alternative {i}", alt))
        notes.append(f"  alternative {i}: {alt['setting']}")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    fmt = "  ".join(f"{{:{'<' if i in (0, 5, 6) else '>'}{w}}}" for i, w in enumerate(widths))
    prices = doc["prices"]
    a = doc["assumptions"]
    cold = period["coldStarts"]
    lines = [title,
             f"Period: {period['length']}, {period['dates']}"
             + ("" if period["length"].endswith(("hour", "hours")) else f" ({period['hours']} hours)"),
             f"  cost of the period  ${period['total']:,.2f} = idle ${period['idle']:,.2f} + usage "
             f"${period['usage']:,.2f}",
             f"  monthly rate        ${money['total']:,.2f} = idle ${money['idle']:,.2f} + usage "
             f"${money['usage']:,.2f} (the period scaled to a 730-hour month)",
             f"  in the period: {cold} launch{'' if cold == 1 else 'es'} waited {a['nodeStartupMinutes']:g} min "
             f"for a node, {period['turnedAway']} user{'' if period['turnedAway'] == 1 else 's'} turned away",
             "", fmt.format(*header), fmt.format(*rows[0]), *(fmt.format(*r) for r in rows[1:]), "", *notes,
             f"Model: nodes start in {a['nodeStartupMinutes']:g} min, are removed after "
             f"{a['scaleDownUnneededMinutes']:g} min unneeded; culler {a['cullIdleMinutes']:g} min; "
             f"{a['placeholders']} placeholder(s); user scheduler "
             f"{'on' if a['userScheduler'] else 'off'}; spot evictions not simulated.",
             *([f"Builds are {a['builds']}."] if "builds" in a else []),
             f"Prices: {'offline table' if prices['offline'] else 'Azure Retail Prices API'}, {prices['region']}, "
             f"{prices['date']}, USD list pay-as-you-go"
             + (" (excludes items of unknown price)" if prices["excludesUnknown"] else "")]
    if doc.get("sleep"):  # sleep schedule (issue 23)
        from .schedule_cost import render_lines

        lines += render_lines(doc["sleep"])
    return "\n".join(lines)


def title_of(stack: str, mode: str, location: str, period: Period, profile: str) -> str:
    return f"Simulated {period.length} of stack '{stack}' ({mode}, {location}), profile {profile}"


PLOT_SIZE = (9.0, 7.5)  # inches, at 100 dpi: 900 px wide, about the width a README shows
TITLE_CHARACTERS = 80  # a title line at the suptitle's size fits PLOT_SIZE's width
MARK_STYLE = {"coldStarts": ("v", "tab:orange"), "turnedAway": ("X", "tab:red")}
POOL_COLOURS = ("tab:green", "tab:purple", "tab:brown", "tab:pink")


def wrap_title(title: str) -> str:
    """At most three lines of TITLE_CHARACTERS; a longer title (a very long stack name) is
    shortened with an ellipsis rather than clipped at the figure's edges."""
    import textwrap

    head, sep, tail = title.rpartition(", profile ")
    parts = [head + ",", "profile " + tail] if sep else [title]  # the profile on a line of its own
    lines = [line for part in parts for line in textwrap.wrap(part, TITLE_CHARACTERS, break_on_hyphens=False)]
    if len(lines) > 3:
        lines = [*lines[:2], textwrap.shorten(" ".join(lines[2:]), TITLE_CHARACTERS, placeholder=" ...")]
    return "\n".join(lines)


def figure(doc: Mapping[str, Any], title: str) -> Any:
    """The plot as a matplotlib Figure (drawn, not saved): users with the marks (cold starts,
    users turned away), the nodes of the pools that run users, and the cumulative cost split
    into idle and usage, ending at the period's total; the panels share the time axis."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    series: Series = doc["_series"]
    period: Period = doc["_period"]
    figures = doc["period"]
    hours = len(series.users)
    x = list(range(hours + 1))

    def steps(values: Sequence[float]) -> list[float]:
        return [*values, values[-1]] if values else [0]

    fig = Figure(figsize=PLOT_SIZE, dpi=100, layout="constrained")
    FigureCanvasAgg(fig)  # a PNG canvas, without pyplot's global state
    users_ax, nodes_ax, cost_ax = fig.subplots(3, 1, sharex=True, height_ratios=[1.1, 0.8, 1.2])
    fig.suptitle(wrap_title(title), fontsize="large")
    outside = {"loc": "upper left", "bbox_to_anchor": (1.01, 1.0), "borderaxespad": 0.0, "fontsize": "small",
               "frameon": False}

    users_ax.step(x, steps(series.users), where="post", label="users", color="tab:blue")
    if series.gpu_users is not None:
        users_ax.step(x, steps(series.gpu_users), where="post", label="GPU users", color="tab:purple")
    top = max(series.users + (series.gpu_users or ()), default=0)
    # Each kind of mark has a lane above the users' line: a marker in every hour with any.
    lane = 0.09
    lanes = users_ax.get_xaxis_transform()  # x in hours, y in fractions of the panel's height
    for i, marks in enumerate(series.marks):
        at = [h + 0.5 for h, n in enumerate(marks.counts) if n]
        marker, colour = MARK_STYLE.get(marks.key, ("o", "tab:gray"))
        users_ax.scatter(at, [1 - lane * (i + 0.6)] * len(at), marker=marker, color=colour, s=24, zorder=3,
                         transform=lanes, label=f"{marks.label}: {marks.total}")
    sleep = doc.get("_sleep")
    if sleep:  # the sleep schedule (issue 23): stopped hours shaded, the users it does not serve
        for i, (start, end) in enumerate(_spans(sleep["running"])):
            for ax in (users_ax, nodes_ax, cost_ax):
                ax.axvspan(start, end, color="0.88", zorder=0, lw=0,
                           label="stopped (schedule)" if ax is users_ax and i == 0 else None)
        users_ax.step(x, steps(sleep["asleepUsers"]), where="post", color="tab:red", lw=1.2,
                      label=f"came while asleep: {doc['sleep']['asleepArrivalsPerMonth']} a month")
    users_ax.set_ylim(0, max(top, 1) / (1 - lane * len(series.marks) - 0.03))
    users_ax.set_ylabel("concurrent users")
    users_ax.legend(**outside)

    for (pool, nodes), colour in zip(series.nodes.items(), POOL_COLOURS, strict=False):
        nodes_ax.step(x, steps(nodes), where="post", label=pool, color=colour)
    most = max((max(nodes, default=0) for nodes in series.nodes.values()), default=0)
    nodes_ax.set_ylim(0, max(most, 1) * 1.15)
    nodes_ax.yaxis.get_major_locator().set_params(integer=True)
    nodes_ax.set_ylabel("nodes")
    if series.nodes:
        nodes_ax.legend(**outside)

    idle, usage = series.cumulative()
    total = idle[-1] + usage[-1]
    cost_ax.stackplot(x, idle, usage, colors=("#9ecae1", "#fdae6b"),
                      labels=[f"idle (always on): ${figures['idle']:,.2f}", f"usage: ${figures['usage']:,.2f}"])
    cost_ax.plot([hours], [total], "o", color="black", markersize=4, clip_on=False)
    cost_ax.annotate(f"${figures['total']:,.2f} in {period.length}\n(${doc['monthly']['total']:,.2f} a month)",
                     xy=(hours, total), xytext=(0.02, 0.93), textcoords="axes fraction", va="top",
                     arrowprops={"arrowstyle": "->", "color": "0.3"})
    if sleep:
        asleep = [0.0]
        for cost in sleep["hourlyCost"]:
            asleep.append(asleep[-1] + cost)
        monthly_asleep = doc["sleep"]["monthlySleeping"]
        cost_ax.plot(x, asleep, color="black", ls="--", lw=1.2,
                     label=rf"with the sleep schedule: \${asleep[-1]:,.2f} (\${monthly_asleep:,.2f} a month)")
    cost_ax.set_ylim(0, max(total, 0.01) * 1.12)
    cost_ax.set_ylabel("cumulative cost (USD)")
    cost_ax.legend(**outside)

    major, minor = period.ticks()
    cost_ax.set_xticks([h for h, _ in major], [label for _, label in major])
    cost_ax.set_xticks(minor, minor=True)
    cost_ax.set_xlim(0, hours)
    for ax in (users_ax, nodes_ax, cost_ax):
        ax.grid(axis="x", alpha=0.3)
    return fig


def _spans(running: Sequence[float]) -> list[tuple[int, int]]:
    """The hours the schedule keeps the compute stopped, as (start, end) runs."""
    spans: list[tuple[int, int]] = []
    for h, share in enumerate(running):
        if share > 0:
            continue
        if spans and spans[-1][1] == h:
            spans[-1] = (spans[-1][0], h + 1)
        else:
            spans.append((h, h + 1))
    return spans


def plot(doc: Mapping[str, Any], path: str, title: str) -> None:
    """Write the plot as a PNG; the same input gives the same bytes (no version or date in it)."""
    figure(doc, title).savefig(path, dpi=100, metadata={"Software": None})
