"""The optional budget alert."""

from __future__ import annotations

import datetime

import pytest

from components.budget import budget_spec
from components.config import ConfigError
from components.config_load import parse_config
from tests.helpers import named, raw_config, resources_of

BUDGET = {"monthlyAmount": 400, "contactEmails": ["rse@testuni.example"]}


def test_budget_spec_alerts_at_80_and_100_percent():
    cfg = parse_config(*raw_config(budget=BUDGET))
    spec = budget_spec(cfg, datetime.date(2026, 11, 23))
    assert spec["amount"] == 400 and spec["time_grain"] == "Monthly" and spec["category"] == "Cost"
    assert spec["time_period"] == {"start_date": "2026-11-01T00:00:00Z"}
    thresholds = sorted(n["threshold"] for n in spec["notifications"].values())
    assert thresholds == [80, 100]
    for note in spec["notifications"].values():
        assert note["contact_emails"] == ["rse@testuni.example"] and note["threshold_type"] == "Actual"
        assert note["enabled"] is True
    operators = {n["threshold"]: n["operator"] for n in spec["notifications"].values()}
    assert operators == {80: "GreaterThan", 100: "GreaterThanOrEqualTo"}


def test_budget_on_the_resource_group(render):
    plan = render(budget=BUDGET)
    budget = named(plan, "budget-monthly")
    assert budget["type"] == "azure-native:consumption:Budget"
    assert budget["inputs"]["scope"].endswith("/resourceGroups/rg-testuni-binderhub")
    assert budget["options"]["ignoreChanges"] == ["timePeriod"]
    assert not resources_of(render(), "azure-native:consumption:Budget")


@pytest.mark.parametrize(
    ("budget", "expected"),
    [
        ({"monthlyAmount": 0, "contactEmails": ["a@b.example"]}, "binderhub-azure:budget.monthlyAmount must be > 0"),
        ({"monthlyAmount": 10, "contactEmails": []}, "binderhub-azure:budget.contactEmails"),
        ({"monthlyAmount": 10, "contactEmails": ["nope"]}, "binderhub-azure:budget.contactEmails item 0 must be an"),
        ({"contactEmails": ["a@b.example"]}, "binderhub-azure:budget.monthlyAmount is required"),
    ],
)
def test_bad_budget(budget, expected):
    with pytest.raises(ConfigError) as info:
        parse_config(*raw_config(budget=budget))
    assert any(p.startswith(expected) for p in info.value.problems), info.value.problems
