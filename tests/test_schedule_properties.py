"""The sleep schedule's arithmetic (components/schedule.py, tools/schedule_cost.py): the tests that
kill the mutants `./run mutate` left alive, one behaviour each, and the properties that hold for
every schedule."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from components import schedule as sched
from components.config_schedule import DAYS, ScheduleConfig
from tools import schedule_cost

UTC = dt.UTC
LONDON = {"timeZone": "Europe/London", "awake": [{"days": ["mon", "tue", "wed", "thu", "fri"], "from": "08:30",
                                                  "to": "18:00"}]}


def schedule(**keys: Any) -> ScheduleConfig:
    return ScheduleConfig.model_validate({**LONDON, **keys})


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def windows(*spec: tuple[list[str], str, str]) -> list[dict[str, Any]]:
    return [{"days": days, "from": start, "to": end} for days, start, end in spec]


ZONES = ["Europe/London", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "UTC"]
_WINDOW = st.tuples(st.sets(st.sampled_from(DAYS), min_size=1), st.integers(0, 24 * 4 - 1), st.integers(2, 23 * 4))


def _clock(minutes: int) -> str:
    return f"{minutes // 60 % 24:02d}:{minutes % 60:02d}"


def _valid(raw: list[tuple[set[str], int, int]], zone: str, **keys: Any) -> ScheduleConfig:
    """A schedule of quarter-hour windows that passes the rules (else the example is dropped)."""
    awake = [{"days": sorted(days, key=DAYS.index), "from": _clock(start * 15), "to": _clock((start + length) * 15)}
             for days, start, length in raw]
    s = schedule(timeZone=zone, awake=awake, **keys)
    assume(not sched.problems(s, "k", tljh=False))
    return s


# --------------------------------------------------------------------------- components/schedule.py: the rules


def test_a_window_to_midnight_is_allowed():
    assert sched.problems(schedule(awake=windows((["fri"], "18:00", "24:00"))), "k", tljh=False) == []


def test_a_window_from_midnight_is_allowed():
    assert sched.problems(schedule(awake=windows((["fri"], "00:00", "08:00"))), "k", tljh=False) == []


def test_a_window_inside_another_is_named_after_the_one_that_starts_first():
    found = sched.problems(schedule(awake=windows((["mon"], "10:00", "12:00"), (["mon"], "09:00", "17:00"))), "k",
                           tljh=False)
    assert found == ["k.awake[1] (mon 09:00-17:00) overlaps k.awake[0]: windows must not overlap"]


def test_a_whole_day_window_is_refused():
    found = sched.problems(schedule(awake=windows((["fri"], "00:00", "24:00"))), "k", tljh=False)
    assert found[0].startswith("k.awake[0] is from 00:00 to 24:00: a window must end at another time")


def test_adjacent_windows_leave_no_sleep_and_are_told_to_merge_not_that_they_overlap():
    found = sched.problems(schedule(awake=windows((["fri"], "09:00", "12:00"), (["fri"], "12:00", "17:00"))), "k",
                           tljh=False)
    assert found == ["k.awake[0] (fri, to 12:00) and k.awake[1] leave 0 minutes asleep, less than the 50 a stop and "
                     "the next start need (30 after a stop, AKS's advice, and 20 to start): merge them"]


def test_windows_overlapping_by_one_minute_overlap():
    found = sched.problems(schedule(awake=windows((["thu"], "09:00", "12:01"), (["thu"], "12:00", "17:00"))), "k",
                           tljh=False)
    assert found == ["k.awake[0] (thu 09:00-12:01) overlaps k.awake[1]: windows must not overlap"]


def test_an_overlap_names_the_day_it_starts_on():
    found = sched.problems(schedule(awake=windows((["sat"], "09:00", "17:00"), (["sat"], "16:00", "20:00"))), "k",
                           tljh=False)
    assert found == ["k.awake[0] (sat 09:00-17:00) overlaps k.awake[1]: windows must not overlap"]
    found = sched.problems(schedule(awake=windows((["sun"], "01:00", "05:00"), (["sun"], "04:00", "06:00"))), "k",
                           tljh=False)
    assert found == ["k.awake[0] (sun 01:00-05:00) overlaps k.awake[1]: windows must not overlap"]



def test_a_window_as_long_as_the_start_up_is_allowed_and_a_minute_shorter_is_not():
    assert sched.problems(schedule(awake=windows((["mon"], "09:00", "09:20"))), "k", tljh=False) == []
    assert sched.problems(schedule(awake=windows((["mon"], "09:00", "09:19"))), "k", tljh=False) == [
        "k.awake[0] lasts 19 minutes, shorter than the 20 minutes assumed for an AKS cluster start: make it longer "
        "or remove it"]
    assert sched.problems(schedule(awake=windows((["mon"], "09:00", "09:04"))), "k", tljh=True) == [
        "k.awake[0] lasts 4 minutes, shorter than the 5 minutes assumed for a VM start: make it longer or remove it"]


def test_stopping_servers_as_long_before_as_the_window_lasts_is_refused():
    one_hour = windows((["mon"], "09:00", "10:00"))
    assert sched.problems(schedule(awake=one_hour, stopServersMinutesBefore=59), "k", tljh=False) == []
    assert sched.problems(schedule(awake=one_hour, stopServersMinutesBefore=60), "k", tljh=False) == [
        "k.stopServersMinutesBefore (60) must be shorter than k.awake[0] (60 minutes): servers would be stopped "
        "before it opens"]


def test_the_sleep_between_windows_must_cover_a_stop_and_the_next_start():
    # 30 minutes after a stop (AKS's advice) and the start-up: 50 minutes for a cluster, 35 for a VM.
    def gap(end: str, tljh: bool) -> list[str]:
        return sched.problems(schedule(awake=windows((["tue"], "09:00", end), (["tue"], "13:00", "17:00"))), "k",
                              tljh=tljh)

    assert gap("12:10", tljh=False) == []
    assert gap("12:11", tljh=False) == [
        "k.awake[0] (tue, to 12:11) and k.awake[1] leave 49 minutes asleep, less than the 50 a stop and the next "
        "start need (30 after a stop, AKS's advice, and 20 to start): merge them"]
    assert gap("12:25", tljh=True) == []
    assert gap("12:26", tljh=True)[0].startswith("k.awake[0] (tue, to 12:26) and k.awake[1] leave 34 minutes asleep")


def test_the_sleep_from_the_last_window_of_the_week_to_the_first_counts_across_the_weekend():
    found = sched.problems(schedule(awake=windows((["mon"], "00:30", "08:00"), (["sun"], "20:00", "00:00"))), "k",
                           tljh=False)
    assert found == ["k.awake[1] (sun, to 00:00) and k.awake[0] leave 30 minutes asleep, less than the 50 a stop "
                     "and the next start need (30 after a stop, AKS's advice, and 20 to start): merge them"]


def test_a_one_day_term_is_allowed_and_terms_sharing_a_day_overlap():
    one_day = [{"from": "2027-01-11", "to": "2027-01-11"}, {"from": "2027-01-12", "to": "2027-01-20"}]
    assert sched.problems(schedule(terms=one_day), "k", tljh=False) == []
    shared = [{"from": "2027-02-01", "to": "2027-02-10"}, {"from": "2027-01-11", "to": "2027-02-01"}]
    assert sched.problems(schedule(terms=shared), "k", tljh=False) == [
        "k.terms overlap: 2027-01-11..2027-02-01 and 2027-02-01..2027-02-10"]
    inside = [{"from": "2027-01-01", "to": "2027-01-31"}, {"from": "2027-01-10", "to": "2027-01-20"}]
    assert sched.problems(schedule(terms=inside), "k", tljh=False) == [
        "k.terms overlap: 2027-01-01..2027-01-31 and 2027-01-10..2027-01-20"]
    backwards = [{"from": "2027-03-01", "to": "2027-02-28"}]
    assert sched.problems(schedule(terms=backwards), "k", tljh=False) == [
        "k.terms[0].to must not be before its from (got 2027-03-01 to 2027-02-28)"]


def test_the_description_names_the_windows_the_zone_the_terms_and_the_last_day():
    s = schedule(awake=windows((["mon", "wed"], "09:00", "12:00"), (["fri"], "22:00", "02:00")),
                 terms=[{"from": "2027-01-11", "to": "2027-03-26"}, {"from": "2027-04-19", "to": "2027-06-25"}],
                 until="2027-06-30")
    assert sched.describe(s) == ("awake mon,wed 09:00-12:00; fri 22:00-02:00 (Europe/London), in terms "
                                 "2027-01-11..2027-03-26, 2027-04-19..2027-06-25, until 2027-06-30")
    assert sched.describe(schedule()) == "awake mon,tue,wed,thu,fri 08:30-18:00 (Europe/London)"


@pytest.mark.parametrize(("start", "end", "hours"), [
    ("22:00", "02:00", 4), ("10:00", "08:00", 22), ("00:30", "00:00", 23.5), ("18:00", "24:00", 6),
    ("08:30", "18:00", 9.5), ("20:00", "23:45", 3.75), ("00:00", "23:59", 23 + 59 / 60)])
def test_a_windows_length_runs_to_its_end_on_the_next_day_when_that_is_earlier(start, end, hours):
    s = schedule(awake=windows((["wed"], start, end)))
    monday = at("2027-01-11T00:00:00")  # winter: London is UTC
    assert sched.awake_hours(s, monday, monday + dt.timedelta(days=7)) == hours
    assert sched.weekly_spans(s) == [(0, 2 * 24 * 60 + int(start[:2]) * 60 + int(start[3:]),
                                      2 * 24 * 60 + int(start[:2]) * 60 + int(start[3:]) + int(hours * 60))]


def test_windows_listed_out_of_week_order_are_judged_by_their_times():
    listed = windows((["fri"], "09:00", "17:00"), (["mon", "wed"], "09:00", "17:00"), (["tue"], "09:00", "12:00"))
    assert sched.problems(schedule(awake=listed), "k", tljh=False) == []
    assert [start for _, start, _ in sched.weekly_spans(schedule(awake=listed))] == [
        540, 1440 + 540, 2 * 1440 + 540, 4 * 1440 + 540]
    late = windows((["wed"], "09:00", "12:00"), (["tue"], "20:00", "10:00"))  # Tuesday's runs into Wednesday's
    assert sched.problems(schedule(awake=late), "k", tljh=False) == [
        "k.awake[1] (tue 20:00-10:00) overlaps k.awake[0]: windows must not overlap"]


@settings(max_examples=80, deadline=None)
@given(raw=st.lists(_WINDOW, min_size=2, max_size=4), tljh=st.booleans())
def test_whether_a_schedule_passes_does_not_depend_on_the_order_of_its_windows(raw, tljh):
    awake = [{"days": sorted(days, key=DAYS.index), "from": _clock(start * 15), "to": _clock((start + length) * 15)}
             for days, start, length in raw]
    forward = sched.problems(schedule(awake=awake), "k", tljh=tljh)
    backward = sched.problems(schedule(awake=awake[::-1]), "k", tljh=tljh)
    assert (forward == []) is (backward == [])


# --------------------------------------------------------------------------- components/schedule.py: instants

def _inside_a_window_locally(s: ScheduleConfig, instant: dt.datetime) -> bool:
    """The definition, in local wall-clock time: a window that started today or yesterday (on a day
    inside a term and not after `until`) and has not ended."""
    local = instant.astimezone(zoneinfo.ZoneInfo(s.time_zone)).replace(tzinfo=None)
    for day in (local.date(), local.date() - dt.timedelta(days=1)):
        if s.until is not None and day > s.until:
            continue
        if s.terms and not any(t.start <= day <= t.end for t in s.terms):
            continue
        for w in s.awake:
            if DAYS[day.weekday()] not in w.days:
                continue
            begin = dt.datetime.combine(day, dt.time.fromisoformat(w.start))
            end = dt.datetime.combine(day, dt.time()) + dt.timedelta(
                hours=int(w.end[:2]), minutes=int(w.end[3:]))
            if end <= begin:
                end += dt.timedelta(days=1)
            if begin <= local < end:
                return True
    return False


def _steady(zone: str, instant: dt.datetime) -> bool:
    """No clock change from two days before `instant` to a day after (where wall-clock time is
    ambiguous or skipped, 'inside a window locally' has no single meaning)."""
    tz = zoneinfo.ZoneInfo(zone)
    return (instant - dt.timedelta(days=2)).astimezone(tz).utcoffset() == \
        (instant + dt.timedelta(days=1)).astimezone(tz).utcoffset()


@settings(max_examples=150, deadline=None)
@given(raw=st.lists(_WINDOW, min_size=1, max_size=3), zone=st.sampled_from(ZONES),
       minute=st.integers(0, 366 * 24 * 60), term=st.none() | st.tuples(st.integers(0, 300), st.integers(0, 60)),
       until=st.none() | st.integers(0, 366))
def test_awake_at_an_instant_iff_it_is_inside_a_window_in_local_time(raw, zone, minute, term, until):
    origin = dt.date(2027, 1, 1)
    keys: dict[str, Any] = {}
    if term is not None:
        keys["terms"] = [{"from": str(origin + dt.timedelta(days=term[0])),
                          "to": str(origin + dt.timedelta(days=term[0] + term[1]))}]
    if until is not None:
        keys["until"] = str(origin + dt.timedelta(days=until))
    s = _valid(raw, zone, **keys)
    instant = dt.datetime(2027, 1, 1, tzinfo=UTC) + dt.timedelta(minutes=minute)
    assume(_steady(zone, instant))
    assert sched.is_awake(s, instant) is _inside_a_window_locally(s, instant)


def test_the_windows_run_on_the_first_and_the_last_day_of_a_term_and_on_the_until_day():
    s = schedule(terms=[{"from": "2027-01-11", "to": "2027-01-13"}, {"from": "2027-01-15", "to": "2027-01-18"}],
                 until="2027-01-18")
    days = {day: sched.is_awake(s, at(f"2027-01-{day}T12:00:00")) for day in range(10, 20)}
    assert days == {10: False, 11: True, 12: True, 13: True, 14: False, 15: True, 16: False, 17: False, 18: True,
                    19: False}  # the 16th and 17th are a weekend


def test_awake_from_the_first_microsecond_of_a_window_and_not_before():
    start = at("2027-01-13T08:30:00")  # Wednesday 08:30 in London, winter
    assert sched.is_awake(schedule(), start)
    assert not sched.is_awake(schedule(), start - dt.timedelta(microseconds=1))


@settings(max_examples=60, deadline=None)
@given(raw=st.lists(_WINDOW, min_size=1, max_size=3), zone=st.sampled_from(ZONES),
       hour=st.integers(0, 365 * 24), hours=st.integers(1, 24 * 9))
def test_the_hourly_fractions_add_up_to_the_awake_hours(raw, zone, hour, hours):
    s = _valid(raw, zone)
    start = dt.datetime(2027, 1, 1, tzinfo=UTC) + dt.timedelta(hours=hour)
    mask = sched.hourly_awake(s, start, hours)
    assert len(mask) == hours and all(0 <= f <= 1 for f in mask)
    assert sum(mask) == pytest.approx(sched.awake_hours(s, start, start + dt.timedelta(hours=hours)), abs=1e-4)


def test_the_hourly_fractions_of_a_winter_morning_in_london():
    # Wednesday 2027-01-13, awake from 08:30 (GMT = UTC): 07:00 asleep, 08:00 half, 09:00 whole.
    assert sched.hourly_awake(schedule(), at("2027-01-13T07:00:00"), 3) == [0.0, 0.5, 1.0]
    # Summer (BST): 08:30 local is 07:30 UTC.
    assert sched.hourly_awake(schedule(), at("2027-06-16T06:00:00"), 3) == [0.0, 0.5, 1.0]
    # From 08:20: two thirds of the 08:00 hour, to a millionth.
    third = sched.hourly_awake(schedule(awake=windows((["wed"], "08:20", "09:00"))), at("2027-01-13T08:00:00"), 1)
    assert third == [pytest.approx(2 / 3, abs=1e-6)]


def test_the_next_wake_and_sleep_by_default_and_at_the_instant_a_window_opens():
    opening = at("2027-01-13T08:30:00")  # Wednesday 08:30 in London: awake from this instant
    assert sched.next_transitions(schedule(), opening) == [("sleep", at("2027-01-13T18:00:00")),
                                                           ("wake", at("2027-01-14T08:30:00"))]
    closing = at("2027-01-13T18:00:00")  # asleep from this instant
    assert sched.next_transitions(schedule(), closing, 1) == [("wake", at("2027-01-14T08:30:00"))]


@settings(max_examples=60, deadline=None)
@given(raw=st.lists(_WINDOW, min_size=1, max_size=3), zone=st.sampled_from(ZONES),
       minute=st.integers(0, 365 * 24 * 60), count=st.integers(1, 6))
def test_the_next_transitions_alternate_and_change_what_is_awake(raw, zone, minute, count):
    s = _valid(raw, zone)
    after = dt.datetime(2027, 1, 1, tzinfo=UTC) + dt.timedelta(minutes=minute)
    found = sched.next_transitions(s, after, count)
    assert len(found) == count
    tiny = dt.timedelta(microseconds=1)
    expected = "wake" if not sched.is_awake(s, after) else "sleep"
    times = [when for _, when in found]
    assert times == sorted(set(times)) and times[0] > after
    for kind, when in found:
        assert kind == expected
        assert sched.is_awake(s, when) is (kind == "wake")
        assert sched.is_awake(s, when - tiny) is (kind == "sleep")
        expected = "sleep" if kind == "wake" else "wake"


# --------------------------------------------------------------------------- tools/schedule_cost.py

WORKDAYS = ["mon", "tue", "wed", "thu", "fri"]
# A cost document as cost_model.estimate writes it: a system node ($0.1234/h), a load balancer
# (bills while stopped), a price left unknown, a monthly item, an autoscaled user pool with two
# nodes at its floor ($0.25/h each), a non-autoscaled pool and an unpriced one.
IDLE, SYSTEM, FLOOR = 600.0, 0.1234, 2 * 0.25
STOPPABLE = SYSTEM + FLOOR
DOC = {"idleMonthly": IDLE, "items": [
    {"name": "System nodes (unpriced)", "unit": "hour", "unitPrice": None, "idleQuantity": 1},
    {"name": "VM (monthly reservation)", "unit": "month", "unitPrice": 50.0, "idleQuantity": 1},
    {"name": "Load balancer", "unit": "hour", "unitPrice": 0.025, "idleQuantity": 1},
    {"name": "System nodes (Standard_D2s_v5)", "unit": "hour", "unitPrice": SYSTEM, "idleQuantity": 1}],
    "pools": [{"autoscaled": True, "idleCount": 2, "minCount": 2, "nodeHourPrice": 0.25},
              {"autoscaled": False, "idleCount": 2, "minCount": 2, "nodeHourPrice": 0.4},
              {"autoscaled": True, "idleCount": 0, "minCount": 3, "nodeHourPrice": None}]}


def test_cost_stoppable_compute_is_the_system_nodes_the_vm_and_the_autoscaled_floors():
    assert schedule_cost.stoppable_per_hour(DOC) == pytest.approx(SYSTEM + FLOOR)
    vm = {"items": [{"name": "VM (Standard_B2s)", "unit": "hour", "unitPrice": 0.05, "idleQuantity": 1}]}
    assert schedule_cost.stoppable_per_hour(vm) == pytest.approx(0.05)  # a TLJH document has no pools
    two = {"items": [{"name": "System nodes (x)", "unit": "hour", "unitPrice": 0.1, "idleQuantity": 2}],
           "pools": [{"autoscaled": True, "idleCount": 2, "minCount": 2, "nodeHourPrice": 0.2}]}
    assert schedule_cost.stoppable_per_hour(two) == pytest.approx(0.2 + 0.4)


def test_cost_estimate_block_bills_the_compute_only_while_it_runs():
    s = schedule(awake=windows((WORKDAYS, "09:00", "17:00")))
    block = schedule_cost.estimate_block(s, DOC, tljh=False)
    running = 5 * (8 + 20 / 60) * 730 / 168  # each window and the 20 minutes before it, a week of 168 hours
    kept = IDLE - STOPPABLE * 730  # 144.918: money is rounded to the cent
    assert block == {"schedule": "awake mon,tue,wed,thu,fri 09:00-17:00 (Europe/London)", "startupLeadMinutes": 20,
                     "runningHoursPerMonth": round(running, 1), "keptWhileStoppedMonthly": 144.92,
                     "idleMonthlySleeping": round(kept + STOPPABLE * running, 2)}
    vm = schedule_cost.estimate_block(s, DOC, tljh=True)
    assert vm["startupLeadMinutes"] == 5 and vm["runningHoursPerMonth"] == round(5 * (8 + 5 / 60) * 730 / 168, 1)


def test_cost_estimate_lines_say_what_the_schedule_saves_and_what_keeps_billing():
    block = {"schedule": "awake mon 09:00-17:00 (UTC)", "startupLeadMinutes": 20, "runningHoursPerMonth": 36.2,
             "keptWhileStoppedMonthly": 1234.5, "idleMonthlySleeping": 2345.678}
    assert schedule_cost.estimate_lines(block, 3456.0) == [
        "Sleep schedule: awake mon 09:00-17:00 (UTC)",
        "  idle with the schedule $2,345.68 a month instead of $3,456.00 (compute 36.2 h of 730, from 20 min before "
        "each window; $1,234.50 keeps billing while stopped: disks, shares, public IPs, load balancer, registry, "
        "control-plane tier)"]


def test_cost_render_lines_give_the_saving():
    block = {"schedule": "awake mon 09:00-17:00 (UTC)", "startupLeadMinutes": 5, "runningHoursPerMonth": 36.0,
             "monthlyAlwaysOn": 2000.0, "monthlySleeping": 750.25, "keptWhileStoppedMonthly": 100.0,
             "asleepArrivalsPerMonth": 12, "asleepUserHoursPerMonth": 30}
    assert schedule_cost.render_lines(block) == [
        "Sleep schedule: awake mon 09:00-17:00 (UTC); compute runs 36 h/month (from 5 min before each window)",
        "  always on $2,000.00/month; sleeping $750.25/month (saves $1,249.75; $100.00 keeps billing while stopped)",
        "  users who come while it sleeps: 12 arrivals, 30 user-hours per month (not served)"]


def test_cost_the_start_up_before_a_monday_morning_window_runs_on_sunday_night():
    s = schedule(awake=windows((["mon"], "00:10", "02:00")))
    serving, running = schedule_cost.hourly_masks(s, 168, lead_minutes=20)
    assert running[167] == pytest.approx(10 / 60, abs=1e-6) and serving[167] == 0  # Sunday 23:50 to midnight
    assert running[0] == 1.0 and serving[0] == pytest.approx(50 / 60, abs=1e-6)
    assert sum(running) == pytest.approx(schedule_cost.running_hours_per_week(s, 20))


def test_cost_arrivals_while_asleep_count_the_rise_from_the_hour_before_in_part_asleep_hours():
    # Awake Monday 00:30-02:00: hour 0 is half asleep.
    s = schedule(awake=windows((["mon"], "00:30", "02:00")))
    figures = schedule_cost.sleep_figures(s, [6, 8, 2, 5], start_hour=0, lead_minutes=0, stoppable_per_hour=1.0,
                                          kept_per_hour=0.5)
    assert figures.serving == [0.5, 1.0, 0.0, 0.0]
    assert figures.asleep_arrivals == 6 * 0.5 + 0 + 0 + 3  # the 6 of hour 0 count half; hour 3 adds 3
    assert figures.asleep_user_hours == 6 * 0.5 + 2 + 5
    assert figures.served_users == [6, 8, 0, 0]
    assert figures.running_hours == 1.5 and figures.awake_compute == 1.5
    assert figures.always_on_compute == 4.0 and figures.kept == 2.0


def _stand_in_simulator(demand: list[int]) -> dict[str, Any]:
    """$1 per user-hour of usage; DOC's idle bill spread over the hours."""
    series = SimpleNamespace(idle_cost=[IDLE / 730] * len(demand), usage_cost=[float(n) for n in demand])
    return {"monthly": {"usage": sum(demand) * 730 / len(demand)}, "_series": series}


def test_cost_the_month_with_pools_at_their_floor_and_users_while_asleep():
    s = schedule(awake=windows((WORKDAYS, "09:00", "17:00")))
    users = [0] * 168
    users[10] = 4  # Monday 10:00, served
    users[20] = 2  # Monday 20:00, asleep
    block = schedule_cost.month(s, DOC, users, start_hour=0, tljh=False, simulate=_stand_in_simulator)
    kept = IDLE - FLOOR * 730 - SYSTEM * 730  # the idle bill less the system node and the pool's floor nodes
    running = 5 * (8 + 1 / 3) * 730 / 168
    assert block["keptWhileStoppedMonthly"] == 144.92  # 144.918, to the cent
    assert block["monthlyAlwaysOn"] == 626.07 and block["monthlySleeping"] == round(block["monthlySleeping"], 2)
    # Always on: the idle bill and every user-hour.
    assert block["monthlyAlwaysOn"] == pytest.approx(IDLE + 6 * 730 / 168, abs=0.005)
    assert block["monthlySleeping"] == pytest.approx(kept + STOPPABLE * running + 4 * 730 / 168, abs=0.005)
    assert block["runningHoursPerMonth"] == pytest.approx(running, abs=0.05)
    assert block["asleepArrivalsPerMonth"] == round(2 * 730 / 168)
    assert block["asleepUserHoursPerMonth"] == round(2 * 730 / 168)
    assert block["_asleepUsers"][20] == 2 and block["_asleepUsers"][10] == 0
    assert block["startupLeadMinutes"] == 20 and block["schedule"].startswith("awake mon,tue,wed,thu,fri 09:00-17:00")
    hourly = block["_hourlyCost"]
    assert sum(hourly) * 730 / 168 == pytest.approx(block["monthlySleeping"], abs=0.01)
    assert hourly[0] == pytest.approx(kept / 730)  # asleep: only what bills anyway
    assert hourly[10] == pytest.approx(kept / 730 + STOPPABLE + 4)  # awake: the compute and 4 user-hours
    assert hourly[8] == pytest.approx(kept / 730 + STOPPABLE / 3)  # 08:40 start-up: a third of an hour running


def test_cost_a_vm_starts_five_minutes_before_its_window():
    s = schedule(awake=windows((WORKDAYS, "09:00", "17:00")))
    vm = {"idleMonthly": 100.0, "items": [{"name": "VM (Standard_B2s)", "unit": "hour", "unitPrice": 0.1,
                                           "idleQuantity": 1}]}
    block = schedule_cost.month(s, vm, [0] * 168, start_hour=0, tljh=True, simulate=_stand_in_simulator)
    running = 5 * (8 + 5 / 60) * 730 / 168
    assert block["startupLeadMinutes"] == 5
    assert block["monthlySleeping"] == pytest.approx(100.0 - 73.0 + 0.1 * running, abs=0.01)


@settings(max_examples=60, deadline=None)
@given(raw=st.lists(_WINDOW, min_size=1, max_size=3), start_hour=st.integers(0, 400), lead=st.sampled_from([5, 20]))
def test_cost_a_week_of_hourly_masks_adds_up_to_the_windows_and_their_start_ups(raw, start_hour, lead):
    s = _valid(raw, "UTC")
    serving, running = schedule_cost.hourly_masks(s, 168, start_hour=start_hour, lead_minutes=lead)
    assert schedule_cost.hourly_masks(s, 168, start_hour=start_hour) == (serving, serving)  # no lead: the same
    weekly = sum(b - a for _, a, b in sched.weekly_spans(s)) / 60
    assert sum(serving) == pytest.approx(weekly, abs=1e-4)
    assert sum(running) == pytest.approx(schedule_cost.running_hours_per_week(s, lead), abs=1e-4)
    assert sum(running) == pytest.approx(weekly + lead * len(sched.weekly_spans(s)) / 60, abs=1e-4)
    assert all(0 <= f <= r <= 1 for f, r in zip(serving, running, strict=True))


# --------------------------------------------------------------------------- components/schedule.py: recurrences


def test_servers_are_stopped_before_each_sleep_at_the_right_hour_and_minute():
    s = schedule(awake=windows((["mon", "sat"], "08:00", "18:20"), (["sun"], "06:00", "07:05")),
                 stopServersMinutesBefore=10)
    # (hour, minute, cron weekdays with Sunday 0): 18:10 on Monday and Saturday, 06:55 on Sunday.
    assert sched.stop_servers_times(s) == [(6, 55, (0,)), (18, 10, (1, 6))]


@settings(max_examples=60, deadline=None)
@given(raw=st.lists(_WINDOW, min_size=1, max_size=3), tljh=st.booleans())
def test_every_window_has_a_wake_its_start_up_before_and_a_sleep_at_its_end(raw, tljh):
    s = _valid(raw, "UTC")
    lead = 5 if tljh else 20
    runs = {(r.action, r.hour * 60 + r.minute, day) for r in sched.recurrences(s, tljh=tljh) for day in r.weekdays}
    expected = set()
    for _, start, end in sched.weekly_spans(s):
        for action, minute in (("wake", start - lead), ("sleep", end)):
            minute %= 7 * 24 * 60
            expected.add((action, minute % (24 * 60), sched.WEEKDAY_NAMES[minute // (24 * 60)]))
    assert runs == expected
