"""The sleep schedule's arithmetic (pure; no Pulumi, no Azure): is the hub awake at an instant,
its awake hours in a period, its next wake and sleep, the rules a schedule must follow, and
the recurrences that carry it out (one per action and local time, with the weekdays it runs).

Times are local to `schedule.timeZone` and compared as aware datetimes, so daylight-saving
changes move the UTC instant, not the local time: 08:30 Europe/London is 08:30 UTC in winter
and 07:30 UTC in summer.

A window occurrence belongs to the day it starts on: with term dates or `until`, a Friday
22:00-02:00 window runs when that Friday is inside a term.
"""

from __future__ import annotations

import datetime as dt
import itertools
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass

from .config_schedule import DAYS, WINDOWS_ZONES, AwakeWindow, ScheduleConfig

MINUTES_PER_WEEK = 7 * 24 * 60
# Start-up time assumed before a window, so the hub answers at its `from` time. AKS: Microsoft
# gives no figure for `managedClusters/start`; cluster creation usually takes about 6 minutes and
# sometimes over 20 (cilium/cilium CI reports, 2026), and a start brings up the nodes and every
# workload again, so 20 minutes. A VM start and TLJH's services: a few minutes, so 5.
WAKE_LEAD_MINUTES = {"cluster": 20, "vm": 5}
# After a stop, AKS asks to "wait 15-30 minutes before restarting your AKS cluster"
# (learn.microsoft.com/azure/aks/start-stop-cluster, ms.date 07/21/2026): between one window's
# end and the next start-up at least this long, or the windows are one.
MIN_ASLEEP_MINUTES = 30
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def target(tljh: bool) -> str:
    return "vm" if tljh else "cluster"


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def _length(window: AwakeWindow) -> int:
    """Minutes from `from` to `to` (`to` at or before `from`: the next day)."""
    start, end = _minutes(window.start), _minutes(window.end)
    return end - start if end > start else end + 24 * 60 - start


def weekly_spans(schedule: ScheduleConfig) -> list[tuple[int, int, int]]:
    """(window index, start, end) in minutes since Monday 00:00 local; end may pass the week's end."""
    spans = []
    for i, window in enumerate(schedule.awake):
        for day in window.days:
            start = DAYS.index(day) * 24 * 60 + _minutes(window.start)
            spans.append((i, start, start + _length(window)))
    return sorted(spans, key=lambda s: s[1])


def problems(schedule: ScheduleConfig, key: str, *, tljh: bool) -> list[str]:
    """The rules of a whole schedule, one line each naming `key` (e.g. binderhub-azure:schedule)."""
    found: list[str] = []
    lead = WAKE_LEAD_MINUTES[target(tljh)]
    what = "a VM start" if tljh else "an AKS cluster start"
    for i, window in enumerate(schedule.awake):
        if window.start == window.end or (window.start == "00:00" and window.end == "24:00"):
            found.append(f"{key}.awake[{i}] is from {window.start} to {window.end}: a window must end at another "
                         "time than it starts (for a whole day, run the hub without a schedule)")
        elif _length(window) < lead:
            found.append(f"{key}.awake[{i}] lasts {_length(window)} minutes, shorter than the {lead} minutes "
                         f"assumed for {what}: make it longer or remove it")
        elif _length(window) <= schedule.stop_servers_minutes_before:
            found.append(f"{key}.stopServersMinutesBefore ({schedule.stop_servers_minutes_before}) must be shorter "
                         f"than {key}.awake[{i}] ({_length(window)} minutes): servers would be stopped before it opens")
    if found:
        return found
    spans = weekly_spans(schedule)
    for n, (i, start, end) in enumerate(spans):
        j, next_start, _ = spans[(n + 1) % len(spans)]
        if n + 1 == len(spans):
            next_start += MINUTES_PER_WEEK
        gap = next_start - end
        day = DAYS[(start // (24 * 60)) % 7]
        # A window is shorter than a day, so one alone never meets itself the next week.
        if gap < 0:
            found.append(f"{key}.awake[{i}] ({day} {schedule.awake[i].start}-{schedule.awake[i].end}) overlaps "
                         f"{key}.awake[{j}]: windows must not overlap")
        elif len(spans) > 1 and gap < lead + MIN_ASLEEP_MINUTES:
            found.append(f"{key}.awake[{i}] ({day}, to {schedule.awake[i].end}) and {key}.awake[{j}] leave "
                         f"{gap} minutes asleep, less than the {lead + MIN_ASLEEP_MINUTES} a stop and the next start "
                         f"need ({MIN_ASLEEP_MINUTES} after a stop, AKS's advice, and {lead} to start): merge them")
    for i, term in enumerate(schedule.terms):
        if term.end < term.start:
            found.append(f"{key}.terms[{i}].to must not be before its from (got {term.start} to {term.end})")
    ordered = sorted(schedule.terms, key=lambda t: t.start)
    for a, b in itertools.pairwise(ordered):
        if b.start <= a.end:
            found.append(f"{key}.terms overlap: {a.start}..{a.end} and {b.start}..{b.end}")
    return found


# ---------------------------------------------------------------------------
# Instants
# ---------------------------------------------------------------------------


def zone(schedule: ScheduleConfig) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(schedule.time_zone)


def windows_zone(schedule: ScheduleConfig) -> str:
    """The Windows time zone name of the schedule's IANA zone (Logic Apps' recurrence takes it)."""
    return WINDOWS_ZONES[schedule.time_zone]


def applies_on(schedule: ScheduleConfig, day: dt.date) -> bool:
    """Do the weekly windows that start on `day` (local) run?"""
    if schedule.until is not None and day > schedule.until:
        return False
    return not schedule.terms or any(t.start <= day <= t.end for t in schedule.terms)


@dataclass(frozen=True)
class Occurrence:
    start: dt.datetime  # aware, UTC
    end: dt.datetime


def occurrences(schedule: ScheduleConfig, start: dt.datetime, end: dt.datetime) -> list[Occurrence]:
    """Every awake window that overlaps [start, end), in UTC, in order."""
    tz = zone(schedule)
    first = start.astimezone(tz).date() - dt.timedelta(days=1)
    last = end.astimezone(tz).date()
    found = []
    day = first
    while day <= last:
        if applies_on(schedule, day):
            for window in schedule.awake:
                if DAYS[day.weekday()] not in window.days:
                    continue
                begin = dt.datetime.combine(day, dt.time(*divmod(_minutes(window.start), 60)), tz)
                end_minutes = _minutes(window.start) + _length(window)
                end_day = day + dt.timedelta(days=end_minutes // (24 * 60))
                finish = dt.datetime.combine(end_day, dt.time(*divmod(end_minutes % (24 * 60), 60)), tz)
                occurrence = Occurrence(begin.astimezone(dt.UTC), finish.astimezone(dt.UTC))
                if occurrence.end > start and occurrence.start < end:
                    found.append(occurrence)
        day += dt.timedelta(days=1)
    return sorted(found, key=lambda o: o.start)


def is_awake(schedule: ScheduleConfig, instant: dt.datetime) -> bool:
    """Is the hub scheduled to answer at `instant` (aware)?"""
    return bool(occurrences(schedule, instant, instant + dt.timedelta(microseconds=1)))


def awake_hours(schedule: ScheduleConfig, start: dt.datetime, end: dt.datetime) -> float:
    """Hours in [start, end) in which the hub is scheduled awake."""
    total = dt.timedelta()
    for o in occurrences(schedule, start, end):
        total += min(o.end, end) - max(o.start, start)
    return total.total_seconds() / 3600


def hourly_awake(schedule: ScheduleConfig, start: dt.datetime, hours: int) -> list[float]:
    """For each hour from `start`, the fraction of it (0-1) in which the hub is awake."""
    spans = occurrences(schedule, start, start + dt.timedelta(hours=hours))
    mask = []
    for h in range(hours):
        a = start + dt.timedelta(hours=h)
        b = a + dt.timedelta(hours=1)
        seconds = sum(max(0.0, (min(o.end, b) - max(o.start, a)).total_seconds()) for o in spans)
        mask.append(round(seconds / 3600, 6))
    return mask


def next_transitions(schedule: ScheduleConfig, after: dt.datetime, count: int = 2,
                     horizon_days: int = 400) -> list[tuple[str, dt.datetime]]:
    """The next `count` changes after `after`: ("wake", when the hub answers) or ("sleep", ...)."""
    found: list[tuple[str, dt.datetime]] = []
    for o in occurrences(schedule, after, after + dt.timedelta(days=horizon_days)):
        if o.start > after:
            found.append(("wake", o.start))
        if o.end > after:
            found.append(("sleep", o.end))
        if len(found) >= count:
            break
    return found[:count]


def describe(schedule: ScheduleConfig) -> str:
    """One line: the windows, the zone and the dates."""
    parts = [f"{','.join(w.days)} {w.start}-{w.end}" for w in schedule.awake]
    text = f"awake {'; '.join(parts)} ({schedule.time_zone})"
    if schedule.terms:
        text += ", in terms " + ", ".join(f"{t.start}..{t.end}" for t in schedule.terms)
    if schedule.until:
        text += f", until {schedule.until}"
    return text


# ---------------------------------------------------------------------------
# Recurrences: what the scheduler runs, when
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Recurrence:
    action: str  # "wake" or "sleep"
    hour: int
    minute: int
    weekdays: tuple[str, ...]  # Monday, ... in week order


def _shifted(day_index: int, minutes: int) -> tuple[int, int]:
    """(day 0-6, minute of the day) of a minute offset from the start of day `day_index`."""
    total = day_index * 24 * 60 + minutes
    return (total // (24 * 60)) % 7, total % (24 * 60)


def recurrences(schedule: ScheduleConfig, *, tljh: bool) -> list[Recurrence]:
    """Wake `lead` minutes before each window's `from`, sleep at its `to`: one recurrence per
    action and local time, with every weekday it runs on."""
    lead = WAKE_LEAD_MINUTES[target(tljh)]
    groups: dict[tuple[str, int], set[int]] = {}
    for window in schedule.awake:
        for day in window.days:
            d = DAYS.index(day)
            wake_day, wake_at = _shifted(d, _minutes(window.start) - lead)
            sleep_day, sleep_at = _shifted(d, _minutes(window.start) + _length(window))
            groups.setdefault(("wake", wake_at), set()).add(wake_day)
            groups.setdefault(("sleep", sleep_at), set()).add(sleep_day)
    return [Recurrence(action, at // 60, at % 60, tuple(WEEKDAY_NAMES[d] for d in sorted(days)))
            for (action, at), days in sorted(groups.items())]


def stop_servers_times(schedule: ScheduleConfig) -> list[tuple[int, int, tuple[int, ...]]]:
    """(hour, minute, cron weekdays 0-6 with Sunday 0) at which user servers are stopped:
    `stopServersMinutesBefore` before each sleep."""
    groups: dict[int, set[int]] = {}
    for window in schedule.awake:
        for day in window.days:
            d = DAYS.index(day)
            at_day, at = _shifted(d, _minutes(window.start) + _length(window) - schedule.stop_servers_minutes_before)
            groups.setdefault(at, set()).add((at_day + 1) % 7)
    return [(at // 60, at % 60, tuple(sorted(days))) for at, days in sorted(groups.items())]


def terms_of(schedule: ScheduleConfig) -> Iterable[tuple[str, str]]:
    return [(t.start.isoformat(), t.end.isoformat()) for t in schedule.terms]
