"""The autoscaling cost simulator: hand-worked cases, usage profiles, the month's figures,
the command (--usage, --json, --plot), the system pool's OS disk and its validation."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from components.config import ConfigError
from components.config_load import parse_config
from tests.helpers import TEST_SSH_KEY, raw_config
from tools import cost, simulate, usage
from tools.simulate import Pool, Settings, simulate_pool

ROOT = Path(__file__).resolve().parent.parent
# Examples that run user servers (a federation only redirects: tools/cost.py refuses --usage for it).
EXAMPLES = [p for p in sorted((ROOT / "examples").glob("Pulumi.*.yaml")) if "mode: federation" not in p.read_text()]


def config(**keys: Any):
    secrets = keys.pop("secrets", None)
    return parse_config(*raw_config(secrets, **keys))


# ---- hand-worked cases of one pool ----


def test_one_user_for_one_hour_on_one_node():
    # 5 users a node at $1 a node-hour; the culler stops the server 10 minutes after the user
    # leaves and the node goes 10 minutes after that: 60 + 10 + 10 = 80 node-minutes.
    pool = Pool("user", users_per_node=5, min_count=0, max_count=3, node_hour_price=1.0)
    result = simulate_pool([0, 1, 0, 0], pool, Settings(cull_minutes=10))
    assert result.node_hours == pytest.approx(80 / 60)
    assert result.cost == pytest.approx(80 / 60)
    assert result.nodes == [0, 1, 1, 0]
    assert (result.peak_nodes, result.cold_starts, result.wait_minutes, result.turned_away) == (1, 1, 5.0, 0)
    # With the default hour-long culler: 60 + 60 + 10 = 130 node-minutes.
    result = simulate_pool([0, 1, 0, 0], pool, Settings(cull_minutes=60))
    assert result.node_hours == pytest.approx(130 / 60)


def test_a_spike_that_needs_three_nodes():
    pool = Pool("user", users_per_node=5, min_count=0, max_count=5, node_hour_price=0.5)
    result = simulate_pool([0, 12, 0], pool, Settings(cull_minutes=0))
    # 12 users need ceil(12 / 5) = 3 nodes for the hour, then 10 minutes until scale-down.
    assert result.nodes == [0, 3, 3]
    assert result.node_hours == pytest.approx((3 * 60 + 3 * 10) / 60)
    assert result.cost == pytest.approx(3.5 * 0.5)
    assert (result.peak_nodes, result.cold_starts, result.mean_wait_minutes) == (3, 12, 5.0)
    assert result.hourly_cold_starts == [0, 12, 0] and result.hourly_turned_away == [0, 0, 0]


def test_placeholders_hold_room_so_fewer_users_wait():
    pool = Pool("user", users_per_node=5, min_count=0, max_count=5, node_hour_price=1.0)
    result = simulate_pool([0, 12, 0], pool, Settings(placeholders=5, cull_minutes=0))
    # One node holds the 5 placeholders from the start; 5 users take their room at once,
    # the other 7 wait for new nodes (4 in all: 12 users + 5 placeholders).
    assert result.nodes == [1, 4, 4]
    assert (result.cold_starts, result.peak_nodes) == (7, 4)
    # Afterwards only the placeholders' node stays.
    assert result.node_hours == pytest.approx((60 + 4 * 60 + (60 + 3 * 10)) / 60)


def test_placeholders_only_in_their_hours():
    pool = Pool("user", users_per_node=5, min_count=0, max_count=5, node_hour_price=1.0)
    result = simulate_pool([0, 0, 3, 0], pool, Settings(placeholders=1, placeholder_hours=frozenset({1, 2}),
                                                        cull_minutes=0))
    assert result.nodes[0] == 0 and result.nodes[1] == 1
    assert result.cold_starts == 0  # the node was there an hour before the users came


def test_a_pool_at_its_maximum_turns_users_away():
    pool = Pool("user", users_per_node=5, min_count=0, max_count=2, node_hour_price=1.0)
    result = simulate_pool([0, 14, 14, 3, 14], pool, Settings(cull_minutes=0))
    # 10 fit; 4 are refused at hour 1 (the same 4 while the shortage lasts), 4 more at hour 4.
    assert result.turned_away == 8
    assert result.hourly_turned_away == [0, 4, 0, 0, 4]
    assert result.peak_nodes == 2 and max(result.nodes) == 2


def test_min_count_nodes_run_all_the_time():
    pool = Pool("user", users_per_node=5, min_count=1, max_count=3, node_hour_price=1.0)
    result = simulate_pool([0] * 10, pool, Settings())
    assert result.node_hours == 10 and result.cold_starts == 0


def test_without_the_user_scheduler_spread_servers_keep_nodes():
    pool = Pool("user", users_per_node=5, min_count=0, max_count=5, node_hour_price=1.0)
    packed = simulate_pool([0, 10, 2], pool, Settings(cull_minutes=0, packing=True))
    spread = simulate_pool([0, 10, 2], pool, Settings(cull_minutes=0, packing=False))
    assert packed.node_hours == pytest.approx((120 + 60 + 10) / 60)  # one node emptied, removed after 10 min
    assert spread.node_hours == pytest.approx((120 + 120) / 60)  # both nodes still hold a server


def test_a_year_of_hourly_steps_is_fast():
    year = list(usage.BUILT_IN["public-binder"][1]) * 53
    pool = Pool("user", users_per_node=13, min_count=0, max_count=5, node_hour_price=0.1)
    start = time.perf_counter()
    result = simulate_pool(year, pool, Settings(placeholders=2, packing=False))
    elapsed = time.perf_counter() - start
    assert result.hours == 168 * 53 and elapsed < 0.25, elapsed
    doc = cost.estimate(config(), offline=True)
    start = time.perf_counter()
    simulate.simulate_stack(doc, year, None, Settings())
    assert time.perf_counter() - start < 0.5


# ---- a stack's month ----


def test_the_month_of_an_unused_stack_is_its_idle_bill():
    doc = cost.estimate(config(), offline=True)
    figures = simulate.simulate_stack(doc, [0] * 168, None, Settings())
    assert figures["monthly"] == {"idle": doc["idleMonthly"], "usage": 0.0, "total": doc["idleMonthly"]}
    assert figures["nodeHours"] == {"system": 730, "user": 0.0}
    assert figures["coldStarts"] == {"count": 0, "meanWaitMinutes": 0} and figures["turnedAway"] == 0


def test_usage_is_node_hours_at_the_pool_price():
    doc = cost.estimate(config(), offline=True)  # user nodes: D4s_v5 $0.192/h + a P10 OS disk
    user = next(pool for pool in doc["pools"] if pool["pool"] == "user")
    assert user["nodeHourPrice"] == round(0.192 + 19.71 / 730, 6) and user["usersPerNode"] == 5
    week = [0] * 168
    week[10] = 1  # one user for one hour, culled after 10 minutes (binderhub's default)
    figures = simulate.simulate_stack(doc, week, None, Settings(cull_minutes=10))
    per_week = 80 / 60 * user["nodeHourPrice"]
    assert figures["monthly"]["usage"] == round(per_week * 730 / 168, 2)
    assert figures["monthly"]["total"] == round(doc["idleMonthly"] + per_week * 730 / 168, 2)


def test_gpu_users_run_on_the_gpu_pool():
    doc = cost.estimate(config(cluster={"gpuPool": {"maxCount": 2}}), offline=True)
    week = [0] * 168
    gpu = [0] * 168
    gpu[5] = 3  # three GPU users, one GPU node each, two nodes at most
    figures = simulate.simulate_stack(doc, week, gpu, Settings(cull_minutes=0))
    assert figures["peakNodes"]["gpu"] == 2 and figures["peakNodes"]["user"] == 0
    assert figures["turnedAway"] == round(1 * 730 / 168)


def test_a_pool_that_serves_no_users_stays_at_its_minimum():
    doc = cost.estimate(config(), offline=True)
    build = {**doc["pools"][1], "pool": "build", "serves": None, "usersPerNode": None, "minCount": 1,
             "idleCount": 1, "nodeHourPrice": 0.25}
    doc = {**doc, "pools": [*doc["pools"], build], "idleMonthly": doc["idleMonthly"] + 0.25 * 730}
    week = [0] * 168
    week[9] = 20
    figures = simulate.simulate_stack(doc, week, None, Settings())
    assert figures["nodeHours"]["build"] == 730 and figures["peakNodes"]["build"] == 1
    assert figures["peakNodes"]["user"] == 3


def test_tljh_is_one_vm_that_turns_users_away_beyond_its_size():
    cfg = config(mode="tljh", auth={"type": "github", "clientId": "gh", "allowedUsers": ["a"], "admins": ["a"]},
                 vm={"sshPublicKey": TEST_SSH_KEY},
                 secrets={"authClientSecret": "s3cret"})
    doc = cost.estimate(cfg, offline=True)
    week = [0] * 168
    week[3] = doc["usersPerNode"] + 2
    figures = simulate.simulate_stack(doc, week, None, Settings())
    assert figures["monthly"]["total"] == doc["idleMonthly"] and figures["monthly"]["usage"] == 0
    assert figures["turnedAway"] == round(2 * 730 / 168)
    assert set(figures["_series"].nodes) == {"the VM"}
    assert [m.label for m in figures["_series"].marks][1] == "turned away (VM full)"


def test_alternatives_suggest_a_placeholder_and_spot():
    cfg = config(cluster={"userPool": {"maxCount": 10}})  # room for the workshop's 40
    doc = cost.estimate(cfg, offline=True)
    profile = usage.load_profile("workshop")
    result = simulate.run(cfg, doc, profile, 4, lambda other: cost.estimate(other, offline=True))
    settings = [alt["setting"] for alt in result["alternatives"]]
    assert settings[0].startswith("one placeholder from an hour before") and "spot: true" in settings[1]
    placeholder, spot = result["alternatives"]
    assert placeholder["coldStarts"]["count"] < result["coldStarts"]["count"]
    assert placeholder["monthly"]["total"] > result["monthly"]["total"]
    assert spot["monthly"]["usage"] < result["monthly"]["usage"]
    assert spot["monthly"]["idle"] == result["monthly"]["idle"]
    assert result["turnedAway"] == 0


def test_a_full_pool_suggests_a_larger_maximum():
    cfg = config()  # 3 nodes of 5: the workshop's 40 do not fit
    result = simulate.run(cfg, cost.estimate(cfg, offline=True), usage.load_profile("workshop"), 4,
                          lambda other: cost.estimate(other, offline=True))
    assert result["turnedAway"] == round(25 * 730 / 168)
    bigger = next(alt for alt in result["alternatives"] if alt["setting"] == "cluster.userPool.maxCount: 6")
    assert bigger["turnedAway"] == round(10 * 730 / 168) and bigger["peakNodes"]["user"] == 6


# ---- usage profiles ----


def weekly_csv(users: list[int]) -> str:
    return "hour,users\n" + "".join(f"{h},{n}\n" for h, n in enumerate(users))


def test_weekly_csv_round_trips():
    week = [h % 7 for h in range(168)]
    profile = usage.parse_profile(weekly_csv(week), "mine")
    assert profile.users == tuple(week) and profile.weekly and profile.gpu_users is None
    assert usage.parse_profile(usage.to_csv(tuple(week)), "again").users == tuple(week)


def test_term_of_date_times():
    rows = "time,users,gpuUsers\n2026-09-29T09:00,4,1\n2026-09-29T10:00,6,0\n"
    profile = usage.parse_profile(rows)
    assert profile.users == (4, 6) and profile.gpu_users == (1, 0) and not profile.weekly
    assert profile.start_hour == 24 + 9  # a Tuesday 09:00


@pytest.mark.parametrize("name", sorted(usage.BUILT_IN))
def test_built_in_profiles(name):
    profile = usage.load_profile(name)
    assert len(profile.users) == 168 and max(profile.users) > 0 and min(profile.users) >= 0


BAD = [
    ("", "empty"),
    ("hours,users\n0,1\n", "header must be 'hour,users'"),
    (weekly_csv([1] * 167), "a weekly profile has 168 rows"),
    (weekly_csv([1] * 168).replace("\n5,1\n", "\n6,1\n"), "row 7: hour must be 5"),
    (weekly_csv([1] * 168).replace("\n5,1\n", "\n5,many\n"), "row 7: users must be a whole number"),
    (weekly_csv([1] * 168).replace("\n5,1\n", "\n5,-3\n"), "row 7: users must be between 0 and"),
    (weekly_csv([1] * 168).replace("\n5,1\n", "\n5,1,2\n"), "row 7: expected 2 columns"),
    ("time,users\n2026-09-29T09:00,1\n2026-09-29T11:00,1\n", "row 3: time must be one hour after"),
    ("time,users\nMonday,1\n", "row 2: time must be an ISO date-time"),
]


@pytest.mark.parametrize(("text", "message"), BAD)
def test_bad_profiles_say_what_is_wrong(text, message):
    with pytest.raises(usage.UsageError) as info:
        usage.parse_profile(text)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_missing_profile_names_the_built_ins(tmp_path):
    with pytest.raises(usage.UsageError) as info:
        usage.load_profile(str(tmp_path / "nope.csv"))
    assert "no such file, and not a built-in profile (workshop, course, public-binder)" in str(info.value)


# ---- the command ----


def stack(tmp_path: Path) -> str:
    path = tmp_path / "Pulumi.trial.yaml"
    path.write_text("config:\n  azure-native:location: westeurope\n  binderhub-azure:institution: trial\n"
                    "  binderhub-azure:contactEmail: rse@trial.example\n")
    return str(path)


def test_cli_json_document(tmp_path, capsys):
    assert cost.main(["--config-file", stack(tmp_path), "--offline", "--usage", "course", "--weeks", "2",
                      "--json"]) == 0
    out = capsys.readouterr()
    doc = json.loads(out.out)
    assert out.err == ""
    assert set(doc["monthly"]) == {"idle", "usage", "total"}
    assert set(doc["nodeHours"]) == set(doc["peakNodes"]) == {"system", "user"}
    assert set(doc["coldStarts"]) == {"count", "meanWaitMinutes"}
    assert isinstance(doc["turnedAway"], int)
    assert {"source", "date", "region"} <= set(doc["prices"]) and doc["prices"]["region"] == "eastus"
    assert doc["hoursSimulated"] == 336 and doc["profile"] == "course"
    assert 1 <= len(doc["alternatives"]) <= 2
    for alt in doc["alternatives"]:
        assert alt["setting"] and set(alt["monthly"]) == {"idle", "usage", "total"}
        assert {"nodeHours", "peakNodes", "coldStarts", "turnedAway"} <= set(alt)
    assert not any(key.startswith("_") for key in doc)


def test_cli_table_and_plot(tmp_path, capsys):
    png = tmp_path / "month.png"
    assert cost.main(["--config-file", stack(tmp_path), "--offline", "--usage", "public-binder",
                      "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Simulated 28 days of stack 'trial' (binderhub, westeurope), profile public-binder\n"
                          "Period: 28 days, the weekly profile 4 times, from a Monday (672 hours)\n"
                          "  cost of the period  $")
    assert "as configured" in out and "alternative 1" in out and "node-hours/month" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


@pytest.mark.parametrize(("content", "message"), [
    (None, "no such file, and not a built-in profile"),
    ("hour,users\n0,1\n", "a weekly profile has 168 rows"),
])
def test_cli_bad_profile_is_one_line_exit_2(tmp_path, capsys, content, message):
    path = tmp_path / "profile.csv"
    if content is not None:
        path.write_text(content)
    assert cost.main(["--config-file", stack(tmp_path), "--offline", "--usage", str(path)]) == 2
    out = capsys.readouterr()
    assert out.out == "" and message in out.err and len(out.err.strip().splitlines()) == 1
    assert out.err.startswith(f"error: --usage {path}: ")


def test_cli_plot_needs_usage(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        cost.main(["--config-file", stack(tmp_path), "--offline", "--plot", "x.png"])
    assert info.value.code == 2


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_has_a_usage_profile_that_simulates(example, capsys):
    profile = example.with_name("usage-" + example.stem.removeprefix("Pulumi.") + ".csv")
    assert profile.exists(), f"{profile.name} is missing"
    assert cost.main(["--config-file", str(example), "--offline", "--usage", str(profile), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["prices"]["excludesUnknown"] is False
    readme = (ROOT / "README.md").read_text()
    assert f"examples/{profile.name}" in readme


# ---- the system pool's OS disk ----


def test_system_pool_os_disk_reaches_the_agent_pool_profile(render):
    system = next(r for r in render(cluster={"systemPool": {"osDiskSizeGb": 48}})["resources"]
                  if r["type"] == "azure-native:containerservice:ManagedCluster")["inputs"]["agentPoolProfiles"][0]
    assert (system["vmSize"], system["osDiskSizeGB"], system["osDiskType"]) == ("Standard_D2as_v5", 48, "Managed")


def test_system_pool_defaults():
    from components.cluster_spec import system_pool_profile

    profile = system_pool_profile(config())
    assert (profile["vm_size"], profile["os_disk_size_gb"], profile["os_disk_type"]) == \
        ("Standard_D2as_v5", 32, "Managed")
    eph = system_pool_profile(config(cluster={"systemPool": {"vmSize": "Standard_D2ads_v5", "osDiskSizeGb": 64,
                                                             "osDiskType": "Ephemeral"}}))
    assert (eph["vm_size"], eph["os_disk_size_gb"], eph["os_disk_type"]) == ("Standard_D2ads_v5", 64, "Ephemeral")


@pytest.mark.parametrize(("system", "message"), [
    ({"osDiskType": "Ephemeral"}, "Standard_D2as_v5 has no cache or temp disk"),
    ({"vmSize": "Standard_D2ads_v5", "osDiskSizeGb": 100, "osDiskType": "Ephemeral"},
     "an ephemeral OS disk of 100 GiB does not fit Standard_D2ads_v5's 75 GiB local disk"),
    ({"vmSize": "Standard_F2s_v2", "osDiskType": "Ephemeral"}, "Standard_F2s_v2's local disk size is not known"),
])
def test_ephemeral_os_disk_must_fit_the_local_disk(system, message):
    with pytest.raises(ConfigError) as info:
        config(cluster={"systemPool": system})
    (line,) = info.value.problems
    assert line.startswith("binderhub-azure:cluster.systemPool.osDiskType Ephemeral is not possible: ")
    assert message in line


def test_os_disk_size_bounds():
    with pytest.raises(ConfigError) as info:
        config(cluster={"systemPool": {"osDiskSizeGb": 16}})
    assert info.value.problems[0].startswith("binderhub-azure:cluster.systemPool.osDiskSizeGb")


# ---- the period simulated, the monthly rate and the plot (issue 22) ----


def example_run(example: Path) -> dict[str, Any]:
    from tools.stackfile import read_stack_file, stand_in_secrets

    raw, secret, _ = stand_in_secrets(*read_stack_file(example))
    cfg = parse_config(raw, secret)
    profile = usage.load_profile(str(example.with_name("usage-" + example.stem.removeprefix("Pulumi.") + ".csv")))
    return simulate.run(cfg, cost.estimate(cfg, offline=True), profile, 4,
                        lambda other: cost.estimate(other, offline=True))


def texts_of(fig) -> list[str]:
    return [text.get_text() for ax in fig.axes for text in ax.texts]


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_period_total_monthly_rate_and_plot_agree(example):
    doc = example_run(example)
    period, month = doc["period"], doc["monthly"]
    # The plot's areas are drawn from these: they end at the period's idle, usage and total.
    idle, used = doc["_series"].cumulative()
    assert len(idle) == doc["hoursSimulated"] + 1 and idle[0] == used[0] == 0
    assert (round(idle[-1], 2), round(used[-1], 2), round(idle[-1] + used[-1], 2)) == \
        (period["idle"], period["usage"], period["total"])
    # The monthly rate is the same hours scaled to 730 (the figure the README's table shows).
    assert month["total"] == round((idle[-1] + used[-1]) * 730 / doc["hoursSimulated"], 2)
    assert month["idle"] == round(idle[-1] * 730 / doc["hoursSimulated"], 2)
    readme = (ROOT / "README.md").read_text()
    assert (f"| ${period['total']:,.2f} | ${month['idle']:,.2f} | ${month['usage']:,.2f} | "
            f"${month['total']:,.2f} |") in readme
    # The plot writes the period's total (and the monthly rate) as the text does.
    fig = simulate.figure(doc, "t")
    (note,) = texts_of(fig)
    assert note == f"${period['total']:,.2f} in 28 days\n(${month['total']:,.2f} a month)"
    labels = fig.axes[2].get_legend_handles_labels()[1]
    assert labels[:2] == [f"idle (always on): ${period['idle']:,.2f}", f"usage: ${period['usage']:,.2f}"]
    if doc.get("sleep"):  # a schedule adds the cost with it, dashed, ending at the sum of its hours
        asleep = sum(doc["_sleep"]["hourlyCost"])
        assert labels[2:] == [rf"with the sleep schedule: \${asleep:,.2f} "
                              rf"(\${doc['sleep']['monthlySleeping']:,.2f} a month)"]
        (line,) = fig.axes[2].get_lines()[1:]
        assert line.get_ydata()[-1] == pytest.approx(asleep)
    else:
        assert labels[2:] == []
    # The idle cost is a series per hour (a schedule would make it vary); today it is constant.
    series = doc["_series"]
    assert len(set(series.idle_cost)) == 1 and min(series.usage_cost) >= 0


def dated_csv(start: str, hours: int, users=lambda when: 0) -> str:
    import datetime

    first = datetime.datetime.fromisoformat(start)
    rows = [(first + datetime.timedelta(hours=h)) for h in range(hours)]
    return "time,users\n" + "".join(f"{when:%Y-%m-%dT%H:%M},{users(when)}\n" for when in rows)


def term(when) -> int:
    # 30 people on weekday mornings 09-12, 3 in the evenings 18-21.
    if when.weekday() < 5 and 9 <= when.hour < 12:
        return 30
    return 3 if when.weekday() < 5 and 18 <= when.hour < 21 else 0


def test_a_dated_profile_reports_its_dates_and_cost_before_the_monthly_rate(tmp_path, capsys):
    path = tmp_path / "term.csv"
    path.write_text(dated_csv("2026-01-05T00:00", 14 * 24, term))
    args = ["--config-file", stack(tmp_path), "--offline", "--usage", str(path)]
    assert cost.main([*args, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    period = doc["period"]
    assert (period["length"], period["dates"], period["hours"]) == ("14 days", "Mon 2026-01-05 to Sun 2026-01-18", 336)
    assert (period["start"], period["end"]) == ("2026-01-05T00:00:00", "2026-01-19T00:00:00")
    assert doc["monthly"]["total"] == pytest.approx(period["total"] * 730 / 336, abs=0.01)
    assert cost.main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Simulated 14 days of stack 'trial' (binderhub, westeurope), profile term"
    assert lines[1] == "Period: 14 days, Mon 2026-01-05 to Sun 2026-01-18 (336 hours)"
    assert lines[2].startswith(f"  cost of the period  ${period['total']:,.2f} = idle ${period['idle']:,.2f}")
    assert lines[3].startswith(f"  monthly rate        ${doc['monthly']['total']:,.2f} = idle")
    assert lines[4] == (f"  in the period: {period['coldStarts']} launches waited 5 min for a node, "
                        f"{period['turnedAway']} users turned away")
    header = next(line for line in lines if line.startswith("setting"))
    assert header.split()[1:3] == ["14", "days"]


def test_weeks_repeats_a_weekly_profile_and_is_refused_for_a_dated_one(tmp_path, capsys):
    base = ["--config-file", stack(tmp_path), "--offline", "--json", "--usage"]
    assert cost.main([*base, "workshop"]) == 0
    assert json.loads(capsys.readouterr().out)["period"]["hours"] == 4 * 168  # the default
    assert cost.main([*base, "workshop", "--weeks", "3"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["hoursSimulated"], doc["period"]["length"]) == (3 * 168, "21 days")
    assert doc["period"]["dates"] == "the weekly profile 3 times, from a Monday" and doc["period"]["start"] is None
    path = tmp_path / "term.csv"
    path.write_text(dated_csv("2026-01-07T00:00", 48))
    for weeks in ("4", "1"):
        assert cost.main([*base, str(path), "--weeks", weeks]) == 2
        out = capsys.readouterr()
        assert out.out == "" and len(out.err.strip().splitlines()) == 1
        assert out.err.startswith(f"error: --weeks repeats a weekly (hour,users) profile; {path} has dates")
        assert out.err.rstrip().endswith("leave out --weeks")


def test_day_labels_follow_the_profile_start():
    from tools.simulate import Period

    wednesday = usage.parse_profile(dated_csv("2026-01-07T00:00", 14 * 24), "w")
    period = simulate.period_of(wednesday, 4)
    assert period.describe() == "14 days, Wed 2026-01-07 to Tue 2026-01-20"
    major, minor = period.ticks()
    assert major[:3] == [(0, "Wed\n7 Jan"), (24, "Thu"), (48, "Fri")] and (120, "Mon\n12 Jan") in major
    assert len(major) == 14 and minor == []
    # Starting at 09:00: the first day boundary is 15 hours in, and the times are in the dates.
    morning = simulate.period_of(usage.parse_profile(dated_csv("2026-01-07T09:00", 72), "m"), 4)
    assert morning.ticks()[0][0] == (15, "Thu\n8 Jan")
    assert morning.dates() == "Wed 2026-01-07 09:00 to Sat 2026-01-10 09:00"
    # A weekly profile starts on a Monday; Mondays name their week when it repeats.
    weekly = Period(2 * 168, repeats=2)
    assert weekly.ticks()[0][:2] == [(0, "Mon\nweek 1"), (24, "Tue")] and (168, "Mon\nweek 2") in weekly.ticks()[0]
    assert Period(168, repeats=1).ticks()[0][0] == (0, "Mon")
    # Long periods: Mondays only, at most 8 labels; short ones: every 6 hours.
    long_major, long_minor = Period(104 * 168, repeats=104).ticks()
    assert len(long_major) <= 8 and all(label.startswith("Mon\nweek ") for _, label in long_major)
    assert len(long_minor) == 104
    assert Period(24, start_hour=2 * 24).ticks()[0][:2] == [(0, "Wed 00:00"), (6, "Wed 06:00")]
    # And the plot uses them.
    doc = simulate.run(config(), cost.estimate(config(), offline=True), wednesday, 4,
                       lambda other: cost.estimate(other, offline=True))
    labels = [tick.get_text() for tick in simulate.figure(doc, "t").axes[2].get_xticklabels()]
    assert labels[0] == "Wed\n7 Jan" and "0 = Monday" not in " ".join(labels)


def test_builds_are_not_simulated_and_say_so(capsys):
    public = next(example for example in EXAMPLES if example.stem == "Pulumi.public-binder")
    doc = example_run(public)
    assert doc["assumptions"]["builds"] == "not simulated: the build pool stays at its minCount (0 nodes)"
    # The build pool is priced at its minimum and left out of the plot (no flat line at zero).
    assert doc["nodeHours"]["build"] == 0 and doc["peakNodes"]["build"] == 0
    assert set(doc["_series"].nodes) == {"user nodes"}
    labels = simulate.figure(doc, "t").axes[1].get_legend_handles_labels()[1]
    assert labels == ["user nodes"]
    text = simulate.render({k: v for k, v in doc.items() if not k.startswith("_")}, "t")
    assert "Builds are not simulated: the build pool stays at its minCount (0 nodes)." in text.splitlines()
    default = simulate.run(config(), cost.estimate(config(), offline=True), usage.load_profile("course"), 1,
                           lambda other: cost.estimate(other, offline=True))
    assert "builds" not in default["assumptions"]


def test_cold_starts_and_turned_away_are_marked_in_their_hours():
    cfg = config()  # 3 nodes of 5: the workshop's 40 do not fit
    doc = simulate.run(cfg, cost.estimate(cfg, offline=True), usage.load_profile("workshop"), 2,
                       lambda other: cost.estimate(other, offline=True))
    marks = {m.key: m for m in doc["_series"].marks}
    tuesday_nine = 24 + 9
    assert [h for h, n in enumerate(marks["turnedAway"].counts) if n] == [tuesday_nine, 168 + tuesday_nine]
    assert marks["turnedAway"].total == doc["period"]["turnedAway"] == 2 * 25
    assert [h for h, n in enumerate(marks["coldStarts"].counts) if n] == [tuesday_nine, 168 + tuesday_nine]
    assert marks["coldStarts"].total == doc["period"]["coldStarts"] == 2 * 15
    assert doc["turnedAway"] == round(50 * 730 / 336)  # the monthly count keeps its meaning
    fig = simulate.figure(doc, "t")
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert labels == ["users", "waited 5 min for a node: 30", "turned away (pool at maxCount): 50"]
    # Drawn at the middle of those hours, above the users' line.
    offsets = [collection.get_offsets()[:, 0].tolist() for collection in fig.axes[0].collections]
    assert offsets == [[tuesday_nine + 0.5, 168 + tuesday_nine + 0.5]] * 2


@pytest.mark.parametrize("name", ["a-workshop-stack-with-a-forty-char-name", "x" * 95])
def test_a_long_stack_name_does_not_clip_the_title(name):
    cfg = config()
    profile = usage.load_profile("public-binder")
    doc = simulate.run(cfg, cost.estimate(cfg, offline=True), profile, 4,
                       lambda other: cost.estimate(other, offline=True))
    title = simulate.title_of(name, "binderhub", "swedencentral", doc["_period"], profile.name)
    fig = simulate.figure(doc, title)
    renderer = fig.canvas.get_renderer()
    fig.draw(renderer)
    (suptitle,) = fig.texts
    box = suptitle.get_window_extent(renderer)
    assert box.x0 >= 0 and box.x1 <= fig.bbox.width and box.y1 <= fig.bbox.height
    assert name[:20] in suptitle.get_text() and suptitle.get_text().count("\n") <= 2
    for ax in fig.axes:  # the legends sit beside the panels, inside the figure
        legend = ax.get_legend().get_window_extent(renderer)
        assert legend.x0 >= ax.get_window_extent(renderer).x1 and legend.x1 <= fig.bbox.width


def test_same_input_same_output(tmp_path, capsys):
    outputs, pngs = [], []
    for run in range(2):
        png = tmp_path / f"{run}.png"
        assert cost.main(["--config-file", stack(tmp_path), "--offline", "--usage", "course", "--plot",
                          str(png)]) == 0
        outputs.append(capsys.readouterr().out)
        pngs.append(png.read_bytes())
    assert outputs[0] == outputs[1] and pngs[0] == pngs[1]
    assert b"matplotlib" not in pngs[0]  # no version in the file: a library upgrade alone changes no byte
