"""An Azure consumption budget on the stack's resource group, alerting by email."""

from __future__ import annotations

import datetime
from typing import Any, TypedDict

import pulumi
from pulumi_azure_native import consumption

from . import naming
from .config import StackConfig

ALERT_THRESHOLDS = (80, 100)  # percent of the monthly amount, on actual spend


def budget_spec(cfg: StackConfig, today: datetime.date) -> dict[str, Any]:
    """Budget arguments (pure). Azure wants the start on the first of a month; it is taken from
    the first `pulumi up` and then left alone (see `ignore_changes` below)."""
    assert cfg.budget is not None
    return {
        "budget_name": naming.budget(cfg),
        "amount": cfg.budget.monthly_amount,
        "category": "Cost",
        "time_grain": "Monthly",
        "time_period": {"start_date": today.replace(day=1).isoformat() + "T00:00:00Z"},
        "notifications": {
            f"actual-{threshold}-percent": {
                "enabled": True,
                "operator": "GreaterThan" if threshold < 100 else "GreaterThanOrEqualTo",
                "threshold": threshold,
                "threshold_type": "Actual",
                "contact_emails": list(cfg.budget.contact_emails),
            }
            for threshold in ALERT_THRESHOLDS
        },
    }


class CostBudgetArgs(TypedDict):
    config: StackConfig
    """The validated stack config (with `budget` set)."""
    resource_group_id: pulumi.Input[str]
    """The budget's scope: the stack's resource group."""


class CostBudget(pulumi.ComponentResource):
    """A monthly budget with alerts at 80 % and 100 % of actual spend."""

    def __init__(self, name: str, args: CostBudgetArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("binderhub-azure:budget:CostBudget", name, None, opts)
        consumption.Budget(
            f"{name}-monthly",
            scope=args["resource_group_id"],
            **budget_spec(args["config"], datetime.date.today()),
            # The start date is fixed at creation; a later month must not look like a change.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["timePeriod"]),
        )
        self.register_outputs({})
