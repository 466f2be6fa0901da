"""Usage profiles for the cost simulator (pure): concurrent users per hour.

A profile file is a CSV with a header row, either

    hour,users[,gpuUsers]      168 rows, hour 0-167 = hours since Monday 00:00, each once
    time,users[,gpuUsers]      one row per hour of a whole term, ISO date-times an hour apart

`gpuUsers` (optional) are the users of GPU profiles, who run on the GPU pool. Or one of the
built-in profiles in BUILT_IN, by name.
"""

from __future__ import annotations

import csv
import datetime
import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HOURS_PER_WEEK = 168
MAX_USERS = 100_000
MAX_ROWS = 24 * 366 * 2  # two years of hours


class UsageError(Exception):
    """The profile cannot be used; the message is one line."""


@dataclass(frozen=True)
class Profile:
    name: str
    users: tuple[int, ...]
    gpu_users: tuple[int, ...] | None
    weekly: bool  # 168 hours of a typical week (repeated) rather than a whole term
    start_hour: int = 0  # hours since a Monday 00:00 of the first row
    start: datetime.datetime | None = None  # the first row's date-time (`time` profiles)


def _week(f: Callable[[int, int], int]) -> tuple[int, ...]:
    """168 hours from f(day 0-6 Monday first, hour 0-23)."""
    return tuple(f(h // 24, h % 24) for h in range(HOURS_PER_WEEK))


def _workshop(day: int, hour: int) -> int:
    # One three-hour workshop of 40 people, Tuesday 09:00-12:00.
    return 40 if day == 1 and 9 <= hour < 12 else 0


def _course(day: int, hour: int) -> int:
    # A course of 60 with two two-hour labs a week (Monday and Thursday 14:00-16:00), and a
    # few students working in the evenings on weekdays.
    if day in (0, 3) and 14 <= hour < 16:
        return 60
    if day < 5 and 18 <= hour < 22:
        return 4
    return 0


def _public_binder(day: int, hour: int) -> int:
    # A public Binder with a daily peak of about 30 concurrent users at 15:00 (UTC), a floor
    # of 3 at night, and quieter weekends.
    peak = 30 if day < 5 else 15
    level = 3 + (peak - 3) * max(0.0, math.cos((hour - 15) / 24 * 2 * math.pi)) ** 2
    return round(level)


BUILT_IN: dict[str, tuple[str, tuple[int, ...]]] = {
    "workshop": ("a one-day workshop: 40 people for three hours on Tuesday morning", _week(_workshop)),
    "course": ("a course of 60 with two two-hour labs a week and light evening use", _week(_course)),
    "public-binder": ("a public Binder with a daily peak of 30 at 15:00 UTC, 15 at weekends, 3 at night",
                      _week(_public_binder)),
}


def _count(text: str, row: int, column: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise UsageError(f"row {row}: {column} must be a whole number of users (got {text.strip()!r})") from None
    if not 0 <= value <= MAX_USERS:
        raise UsageError(f"row {row}: {column} must be between 0 and {MAX_USERS} (got {value})")
    return value


def parse_profile(text: str, name: str = "profile") -> Profile:
    """A profile from CSV text; UsageError (one line) when it is not one."""
    reader = csv.reader(io.StringIO(text))
    rows = [row for row in reader if row and any(cell.strip() for cell in row)]
    if not rows:
        raise UsageError("empty: expected a header row 'hour,users' (or 'time,users') and one row per hour")
    header = [cell.strip() for cell in rows[0]]
    if len(header) not in (2, 3) or header[0] not in ("hour", "time") or header[1] != "users" or \
            (len(header) == 3 and header[2] != "gpuUsers"):
        raise UsageError("header must be 'hour,users' or 'time,users' (optionally ',gpuUsers'); "
                         f"got {','.join(header)!r}")
    body = rows[1:]
    if len(body) > MAX_ROWS:
        raise UsageError(f"more than {MAX_ROWS} rows (two years of hours)")
    gpu = len(header) == 3
    users: list[int] = []
    gpus: list[int] = []
    times: list[datetime.datetime] = []
    for i, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise UsageError(f"row {i}: expected {len(header)} columns ({','.join(header)}), got {len(row)}")
        if header[0] == "hour":
            hour = _count(row[0], i, "hour")
            if hour != i - 2:
                raise UsageError(f"row {i}: hour must be {i - 2} (rows are hours 0-167 in order), got {hour}")
        else:
            try:
                when = datetime.datetime.fromisoformat(row[0].strip())
            except ValueError:
                raise UsageError(f"row {i}: time must be an ISO date-time such as 2026-09-28T09:00 "
                                 f"(got {row[0].strip()!r})") from None
            if times and when - times[-1] != datetime.timedelta(hours=1):
                raise UsageError(f"row {i}: time must be one hour after the row before ({times[-1].isoformat()})")
            times.append(when)
        users.append(_count(row[1], i, "users"))
        if gpu:
            gpus.append(_count(row[2], i, "gpuUsers"))
    if header[0] == "hour":
        if len(users) != HOURS_PER_WEEK:
            raise UsageError(f"a weekly profile has 168 rows (hours 0-167), got {len(users)}")
        return Profile(name, tuple(users), tuple(gpus) if gpu else None, weekly=True)
    if not users:
        raise UsageError("no rows after the header")
    start = times[0]
    start_hour = start.weekday() * 24 + start.hour
    return Profile(name, tuple(users), tuple(gpus) if gpu else None, weekly=False, start_hour=start_hour,
                   start=start)


def load_profile(spec: str) -> Profile:
    """A built-in profile by name, or a CSV file by path."""
    if spec in BUILT_IN:
        return Profile(spec, BUILT_IN[spec][1], None, weekly=True)
    path = Path(spec)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise UsageError(f"{spec}: no such file, and not a built-in profile ({', '.join(BUILT_IN)})") from None
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(f"{spec}: cannot be read ({type(err).__name__})") from None
    try:
        return parse_profile(text, path.stem)
    except UsageError as err:
        raise UsageError(f"{spec}: {err}") from None


def to_csv(users: tuple[int, ...], gpu_users: tuple[int, ...] | None = None) -> str:
    """A weekly profile as CSV text (the format parse_profile reads)."""
    lines = ["hour,users" + (",gpuUsers" if gpu_users else "")]
    for h, n in enumerate(users):
        lines.append(f"{h},{n}" + (f",{gpu_users[h]}" if gpu_users else ""))
    return "\n".join(lines) + "\n"
