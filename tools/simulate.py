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

Spot evictions are not simulated: a spot pool's figures assume no eviction.
A node is paid (VM and OS disk) from the minute it is requested to the minute it is removed.
"""

from __future__ import annotations

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
        if excess > excess_prev:
            turned += excess - excess_prev
        excess_prev = excess
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
                    cold += arrivals - free
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


def simulate_stack(doc: Mapping[str, Any], users: Sequence[int], gpu_users: Sequence[int] | None,
                   settings: Settings, *, start_hour: int = 0) -> dict[str, Any]:
    """The month's figures of one setting: cost split into idle and usage, node-hours and peak
    nodes per pool, cold starts, users turned away. Counts are per month (scaled from the
    simulated hours), except the peaks."""
    hours = len(users)
    fixed = _fixed_monthly(doc)
    idle = fixed
    usage_cost = 0.0
    node_hours: dict[str, float] = {}
    peaks: dict[str, int] = {}
    cold = wait = turned = 0.0
    series: dict[str, list[int]] = {}
    costs: list[float] = [fixed / HOURS_PER_MONTH] * hours
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
        floor = pool.min_count * pool.node_hour_price * HOURS_PER_MONTH
        idle += floor
        usage_cost += monthly(result.cost, hours) - floor
        node_hours[pool.name] = round(monthly(result.node_hours, hours), 1)
        peaks[pool.name] = result.peak_nodes
        cold += result.cold_starts
        wait += result.wait_minutes
        turned += result.turned_away
        series[pool.name] = result.nodes
        for h, paid in enumerate(result.hourly_node_hours):
            costs[h] += paid * pool.node_hour_price
    return {
        "monthly": {"idle": round(idle, 2), "usage": round(usage_cost, 2), "total": round(idle + usage_cost, 2)},
        "nodeHours": node_hours,
        "peakNodes": peaks,
        "coldStarts": {"count": round(monthly(cold, hours)), "meanWaitMinutes": round(wait / cold, 1) if cold else 0},
        "turnedAway": round(monthly(turned, hours)),
        "_series": series,
        "_hourlyCost": costs,
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


def run(cfg: StackConfig, doc: Mapping[str, Any], profile: Profile, weeks: int,
        estimate_of: Callable[[StackConfig], Mapping[str, Any]]) -> dict[str, Any]:
    """The simulator's document (`--json`): the stack's month and the alternatives'."""
    users = list(profile.users) * weeks if profile.weekly else list(profile.users)
    gpu_users = None
    if profile.gpu_users is not None:
        gpu_users = list(profile.gpu_users) * weeks if profile.weekly else list(profile.gpu_users)
    base = simulate_stack(doc, users, gpu_users, settings_of(cfg), start_hour=profile.start_hour)
    settings = settings_of(cfg)
    # --- sleep schedule (issue 23): the arithmetic is tools/schedule_cost.py's ---
    sleep = None
    if cfg.schedule is not None:
        from . import schedule_cost

        sleep = schedule_cost.month(cfg.schedule, doc, users, start_hour=profile.start_hour, tljh=cfg.tljh,
                                    simulate=lambda demand: simulate_stack(doc, demand, gpu_users, settings,
                                                                           start_hour=profile.start_hour))
    # --- end sleep schedule ---
    return {
        "profile": profile.name,
        "hoursSimulated": len(users),
        "weeks": round(len(users) / HOURS_PER_WEEK, 2),
        **_public(base),
        "prices": {"source": doc["priceSource"], "date": doc["priceDate"], "region": doc["pricesRegion"],
                   "offline": doc["offline"], "excludesUnknown": doc["excludesUnknown"]},
        "assumptions": {"nodeStartupMinutes": settings.startup_minutes,
                        "scaleDownUnneededMinutes": settings.scale_down_minutes,
                        "cullIdleMinutes": settings.cull_minutes, "placeholders": settings.placeholders,
                        "userScheduler": settings.packing, "spotEvictions": "not simulated"},
        "alternatives": alternatives(cfg, doc, profile, base, estimate_of, users, gpu_users, profile.start_hour),
        "_series": {"users": users, "gpuUsers": gpu_users, "nodes": base["_series"],
                    "hourlyCost": base["_hourlyCost"],
                    "sleep": {k[1:]: v for k, v in sleep.items() if k.startswith("_")} if sleep else None},
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
    return [label, f"${money['idle']:,.2f}", f"${money['usage']:,.2f}", f"${money['total']:,.2f}", nodes, peaks,
            waits, str(figures["turnedAway"])]


def render(doc: Mapping[str, Any], title: str) -> str:
    """The text the command prints: one row for the stack, one per alternative."""
    header = ["setting", "idle", "usage", "total/month", "node-hours/month", "peak nodes", "waited for a node",
              "turned away"]
    rows = [_row("as configured", doc)]
    notes = []
    for i, alt in enumerate(doc["alternatives"], start=1):
        rows.append(_row(f"alternative {i}", alt))
        notes.append(f"  alternative {i}: {alt['setting']}")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    fmt = "  ".join(f"{{:{'<' if i in (0, 4, 5) else '>'}{w}}}" for i, w in enumerate(widths))
    prices = doc["prices"]
    a = doc["assumptions"]
    lines = [title,
             f"Profile {doc['profile']}: {doc['hoursSimulated']} hours simulated ({doc['weeks']:g} weeks), figures "
             "per 730-hour month; USD list pay-as-you-go",
             "", fmt.format(*header), fmt.format(*rows[0]), *(fmt.format(*r) for r in rows[1:]), "", *notes,
             f"Model: nodes start in {a['nodeStartupMinutes']:g} min, are removed after "
             f"{a['scaleDownUnneededMinutes']:g} min unneeded; culler {a['cullIdleMinutes']:g} min; "
             f"{a['placeholders']} placeholder(s); user scheduler "
             f"{'on' if a['userScheduler'] else 'off'}; spot evictions not simulated.",
             f"Prices: {'offline table' if prices['offline'] else 'Azure Retail Prices API'}, {prices['region']}, "
             f"{prices['date']}" + (" (excludes items of unknown price)" if prices["excludesUnknown"] else "")]
    if doc.get("sleep"):  # sleep schedule (issue 23)
        from .schedule_cost import render_lines

        lines += render_lines(doc["sleep"])
    return "\n".join(lines)


def plot(doc: Mapping[str, Any], path: str, title: str) -> None:
    """A PNG of users and nodes over the first week and the cumulative cost."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = doc["_series"]
    week = min(HOURS_PER_WEEK, len(series["users"]))
    hours = list(range(week))
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6), constrained_layout=True)
    top.step(hours, series["users"][:week], where="post", label="users", color="tab:blue")
    if series["gpuUsers"]:
        top.step(hours, series["gpuUsers"][:week], where="post", label="GPU users", color="tab:purple")
    top.set_ylabel("concurrent users")
    top.set_xlabel("hour of the first week (0 = Monday 00:00)")
    top.set_xticks(range(0, week + 1, 24))
    nodes_axis = top.twinx()
    for (pool, nodes), colour in zip(series["nodes"].items(), ("tab:orange", "tab:red", "tab:green"), strict=False):
        nodes_axis.step(hours, nodes[:week], where="post", label=f"{pool} nodes", color=colour)
    nodes_axis.set_ylabel("nodes")
    top.set_ylim(bottom=0)
    nodes_axis.set_ylim(bottom=0)
    nodes_axis.yaxis.get_major_locator().set_params(integer=True)
    handles = top.get_legend_handles_labels()
    more = nodes_axis.get_legend_handles_labels()
    top.legend(handles[0] + more[0], handles[1] + more[1], loc="upper right", fontsize="small")
    top.set_title(title)
    total = 0.0
    cumulative = []
    for cost in series["hourlyCost"]:
        total += cost
        cumulative.append(total)
    days = [h / 24 for h in range(len(cumulative))]
    bottom.plot(days, cumulative, color="tab:green")
    bottom.set_xlabel("day of the simulation")
    bottom.set_ylabel("cumulative cost (USD)")
    bottom.grid(alpha=0.3)
    fig.savefig(path, dpi=100)
    plt.close(fig)
