"""The `schedule` block: when the hub is awake (its cluster or VM running) and when it sleeps.

Field checks only (formats, the time zone); the rules that involve the whole schedule
(overlaps, lengths, gaps) are in `components/schedule.py`, called from `config_checks`.
"""

from __future__ import annotations

import datetime
import json
import re
import zoneinfo
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from .config_fields import _Model

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_CLOCK = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]|24:00")
# A role definition's name: a GUID, as `az role definition create` prints it in `name`.
_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Built-in roles that hand out the subscription: never the sleep role, whose GUID the deploy
# identity's delegation condition lists (tools/ci_identities.py). Owner, Contributor, User Access
# Administrator, Role Based Access Control Administrator (Azure built-in roles reference).
PRIVILEGED_ROLES = frozenset({
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "b24988ac-6180-42a0-ab88-20f7382dd24c",
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9", "f58310d9-a9f6-439a-9e8d-f62e7b41a168",
})

_ZONES_FILE = json.loads((Path(__file__).resolve().parent / "windows_zones.json").read_text())
# IANA time zone -> Windows time zone name (what Logic Apps Recurrence triggers take), from CLDR.
WINDOWS_ZONES: dict[str, str] = dict(_ZONES_FILE["zones"])


def check_role_definition_id(value: str) -> str:
    """`schedule.roleDefinitionId` in lower case, or ValueError saying what it must be (also read
    by tools.deploy_stacks and tools.ci_identities from the raw stack files)."""
    guid = value.lower()
    if not _GUID.fullmatch(guid):
        raise ValueError("must be a role definition GUID such as '3b0f5c1e-7d7a-4c2e-9a51-2f6d8e4b7c90' (the "
                         "`name` az role definition create prints, not the /subscriptions/... `id`) "
                         f"(got {value!r})")
    if guid in PRIVILEGED_ROLES:
        raise ValueError("must be the schedule's own custom role, not a built-in role that hands out the "
                         f"subscription (got {value!r}): ./run python -m tools.ci_identities sleep-role "
                         "--stack NAME prints how to create it")
    return guid


def _check_clock(value: str) -> str:
    if not _CLOCK.fullmatch(value):
        raise ValueError(f"must be a 24-hour local time 'HH:MM' such as '08:30' (24:00 only as an end) "
                         f"(got {value!r})")
    return value


class AwakeWindow(_Model):
    """One weekly window in which the hub is awake."""

    days: list[Day] = Field(
        min_length=1, description="Days the window starts on: mon, tue, wed, thu, fri, sat, sun.",
        examples=[["mon", "tue", "wed", "thu", "fri"]],
    )
    start: str = Field(
        alias="from", description="Local time the hub is awake from, 'HH:MM' (the cluster or VM is started "
        "earlier, by its start-up time, so the hub answers at this time).", examples=["08:30"],
    )
    end: str = Field(
        alias="to", description="Local time the hub goes to sleep, 'HH:MM'; earlier than `from` means the next "
        "day (a window across midnight); '24:00' is midnight at the end of the day.", examples=["18:00"],
    )

    @field_validator("start", "end")
    @classmethod
    def _clock(cls, value: str) -> str:
        return _check_clock(value)

    @field_validator("start")
    @classmethod
    def _not_24(cls, value: str) -> str:
        if value == "24:00":
            raise ValueError("must be from 00:00 to 23:59 (24:00 is only an end; use 00:00 of the next day)")
        return value

    @field_validator("days")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(f"must list each day once (got {value!r})")
        return value


class Term(_Model):
    """Dates (inclusive) on which the weekly windows apply."""

    start: datetime.date = Field(alias="from", description="First day of the term, YYYY-MM-DD.",
                                 examples=["2027-01-11"])
    end: datetime.date = Field(alias="to", description="Last day of the term, YYYY-MM-DD.", examples=["2027-03-26"])


class ScheduleConfig(_Model):
    """When the hub is awake; outside these windows its cluster is stopped (or its VM deallocated)."""

    time_zone: str = Field(
        description="IANA time zone the windows are in, e.g. Europe/London; daylight-saving changes are "
        "followed (08:30 is 08:30 local all year). Zones components/windows_zones.json maps to a Windows "
        "zone name (Logic Apps' recurrence needs one).",
        examples=["Europe/London"],
    )
    awake: list[AwakeWindow] = Field(
        min_length=1, description="Weekly windows in which the hub is awake, set with the keys below.",
        examples=[[{"days": ["mon", "tue", "wed", "thu", "fri"], "from": "08:30", "to": "18:00"}]],
    )
    terms: list[Term] = Field(
        default_factory=list,
        description="Optional term dates: the windows apply only on days inside a term (by the day a window "
        "starts); the hub sleeps between terms. Empty: every week.",
        examples=[[{"from": "2027-01-11", "to": "2027-03-26"}]],
    )
    until: datetime.date | None = Field(
        None, description="Optional last day of the schedule: after it the hub is not woken again (it still "
        "goes to sleep at each window's end if someone woke it).", examples=["2027-06-30"],
    )
    stop_servers_minutes_before: int = Field(
        10, ge=0, le=120,
        description="Minutes before each sleep at which the hub is asked to stop every user server (each closes "
        "cleanly while the hub still runs): a CronJob in the Kubernetes modes, a systemd timer on the VM in tljh "
        "mode, both in the schedule's time zone, through the hub's API with a service token that may only list "
        "users and stop servers. The hub's pages announce the awake hours either way. 0: no early stop (the "
        "cluster's stop drains the nodes; the VM's shutdown stops the servers).",
        examples=[10],
    )
    role_definition_id: str | None = Field(
        None,
        description="Optional GUID of an existing custom role for the schedule's Logic Apps (the `name` that "
        "`az role definition create` prints, not its `id`). Set: the stack creates no role and assigns this one "
        "to each workflow's identity on the cluster (or VM), so a deploy identity without "
        "`Microsoft.Authorization/roleDefinitions/write` (the CI one) can deploy it. The role must hold exactly "
        "`Microsoft.ContainerService/managedClusters/read`, `.../start/action` and `.../stop/action` (tljh mode: "
        "`Microsoft.Compute/virtualMachines/read`, `.../start/action`, `.../deallocate/action`), assignable on "
        "the stack's resource group; an Owner creates it once with the commands "
        "`./run python -m tools.ci_identities sleep-role --stack NAME` prints. Unset: the stack creates the role "
        "itself (an Owner deploys it).",
        examples=["3b0f5c1e-7d7a-4c2e-9a51-2f6d8e4b7c90"],
    )

    @field_validator("role_definition_id")
    @classmethod
    def _role_guid(cls, value: str | None) -> str | None:
        return None if value is None else check_role_definition_id(value)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"must be an IANA time zone such as 'Europe/London' or 'America/New_York' "
                             f"(got {value!r})") from None
        if value not in WINDOWS_ZONES:
            raise ValueError(f"is not in the shipped IANA-to-Windows time zone table (components/windows_zones.json, "
                             f"from Unicode CLDR), which Logic Apps needs; use a zone with the same rules from it, "
                             f"e.g. Europe/Berlin for Central Europe (got {value!r})")
        return value
