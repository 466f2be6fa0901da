"""Monthly cost estimate of a stack, before any Azure call.

    ./run python -m tools.cost --stack dev [--json] [--offline]
    ./run python -m tools.cost --config-file path/to/Pulumi.myuni.yaml [--json] [--offline]
    ./run python -m tools.cost --stack dev --usage PROFILE [--weeks N] [--json] [--plot FILE]

With --usage, a month of use is simulated hour by hour (tools/simulate.py; profiles in
tools/usage.py) instead of printing the itemised estimate.

Prices are USD list pay-as-you-go prices (Linux) from the public Azure Retail Prices API
for the stack's region. Without network, or with --offline, they come from the shipped
table `tools/prices.json` (keyed by region; indicative list prices of its reference
region, East US, used for any region it lacks, each figure with its source and date);
what that table lacks is reported as unknown and left out of the totals, never guessed.

"Idle" is the stack with nobody using it (system nodes, `userPool.minCount` user nodes and
the fixed resources) for a whole month; "busy" is every user node up to `userPool.maxCount`
running all month, the most the stack can cost. Real months fall in between. Exit 0 on
success, 2 with one line per problem on stderr when the stack file or config is wrong.

The JSON document (`--json`, and `estimate()`):

    currency, region, hoursPerMonth, idleMonthly, busyMonthly, excludesUnknown, unknownItems,
    suggestedBudget, items, priceSource, priceDate, offline, usersPerNode, costPerUserHour,
    userNode, pricesRegion (whose prices these are), pools (per node pool: pool, vmSize, spot,
    autoscaled, idleCount, minCount, maxCount, usersPerNode, nodeHourPrice), notes

and each item: name, quantity (when busy), idleQuantity, unitPrice, unit (hour, day or
month), idleMonthly, busyMonthly, source.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from collections.abc import Mapping
from typing import Any

from components.config import PROJECT, SECRET_KEYS, ConfigError, StackConfig
from components.config_fields import OPTIONAL_SECRET_KEYS
from components.config_load import parse_config

from .cost_model import (
    aks_node_overhead_gib,
    aks_os_disk,
    disk_tier,
    estimate,
    parse_memory_gib,
    users_per_node,
)
from .cost_prices import (
    ACR_STORAGE,
    AKS_STANDARD,
    LOAD_BALANCER,
    NO_LIVE_ROW,
    PUBLIC_IP,
    UNITS_PER_MONTH,
    UNKNOWN,
    Meter,
    PriceFetchError,
    acr_meter,
    disk_meter,
    fetch_rows,
    load_price_table,
    price_query_url,
    price_unit,
    select_price_row,
    vm_meter,
)
from .outputs import unexpected
from .stackfile import SECRET, PlanError, add_stack_arguments, read_stack_file, stack_from_args

# Re-exported: callers (and the tests) use this module as the command's public face.
__all__ = [
    "ACR_STORAGE",
    "AKS_STANDARD",
    "LOAD_BALANCER",
    "NO_LIVE_ROW",
    "PUBLIC_IP",
    "UNITS_PER_MONTH",
    "UNKNOWN",
    "Meter",
    "PriceFetchError",
    "acr_meter",
    "aks_node_overhead_gib",
    "aks_os_disk",
    "disk_meter",
    "disk_tier",
    "estimate",
    "fetch_rows",
    "load_price_table",
    "parse_memory_gib",
    "price_query_url",
    "price_unit",
    "select_price_row",
    "users_per_node",
    "vm_meter",
]

# ---------------------------------------------------------------------------
# Text output
# ---------------------------------------------------------------------------


_WRAP = 100


def _money(value: float | None) -> str:
    return "unknown" if value is None else f"${value:,.2f}"


def _unit_price(item: Mapping[str, Any]) -> str:
    if item["unitPrice"] is None:
        return UNKNOWN if item["source"] == UNKNOWN else "unknown"
    if item["unitPrice"] == 0:
        return "free"
    return f"${item['unitPrice']:g}/{item['unit']}"


def _qty(value: float) -> str:
    return f"{value:g}"


def _capacity_line(doc: Mapping[str, Any]) -> str:
    node = doc["userNode"]
    per_user = f"{node['memoryPerUserGiB']:g} GiB each"
    if doc["usersPerNode"] == "unknown":
        return f"Users per node: unknown ({node['vmSize']} is not in the size table)"
    line = f"Users per node: {doc['usersPerNode']} ({node['vmSize']}, {node['memoryGiB']:g} GiB, " \
           f"{node['systemOverheadGiB']:g} GiB overhead, {per_user})"
    if doc["costPerUserHour"] is not None:
        line += f"; at full use ${doc['costPerUserHour']:g} per user-hour"
    return line


def _totals_line(doc: Mapping[str, Any]) -> str:
    excluded = f" (excludes {len(doc['unknownItems'])} item(s) of unknown price)" if doc["excludesUnknown"] else ""
    return f"idle {_money(doc['idleMonthly'])}, busy {_money(doc['busyMonthly'])} a month{excluded}"


def summary(doc: Mapping[str, Any]) -> str:
    """A few lines for other summaries (the offline plan's)."""
    lines = [f"Cost estimate (USD, list pay-as-you-go): {_totals_line(doc)}"]
    if doc["excludesUnknown"]:
        hint = " (run `./run python -m tools.cost` with network)" if doc["offline"] else ""
        lines.append(f"  unknown: {'; '.join(doc['unknownItems'])}{hint}")
    lines.append(f"  {_capacity_line(doc)}")
    if doc["offline"]:
        lines.append(f"  Prices: offline table of {doc['priceDate']}, indicative {doc['pricesRegion']} list prices"
                     + ("" if doc["pricesRegion"] == doc["region"] else f" (none for {doc['region']})")
                     + "; regions differ by a few to ~20%")
    else:
        lines.append(f"  Prices: Azure Retail Prices API, {doc['region']}, {doc['priceDate']}")
    return "\n".join(lines)


def render_table(doc: Mapping[str, Any], title: str) -> str:
    """The readable itemised estimate the command prints."""
    header = ("item", "qty idle/busy", "unit price", "idle/month", "busy/month")
    rows = [(item["name"], f"{_qty(item['idleQuantity'])} / {_qty(item['quantity'])}", _unit_price(item),
             _money(item["idleMonthly"]), _money(item["busyMonthly"])) for item in doc["items"]]
    total = ("Total" + (" (excludes unknown items)" if doc["excludesUnknown"] else ""), "", "",
             _money(doc["idleMonthly"]), _money(doc["busyMonthly"]))
    widths = [max(len(row[i]) for row in [header, *rows, total]) for i in range(len(header))]

    def fmt(row: tuple[str, ...]) -> str:
        cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1]), row[2].ljust(widths[2]),
                 row[3].rjust(widths[3]), row[4].rjust(widths[4])]
        return "  ".join(cells).rstrip()

    rule = "-" * len(fmt(header))
    lines = [title, f"USD, {doc['hoursPerMonth']} hours a month; idle: nobody using it, busy: every user node "
                    "running all month", "", fmt(header), rule, *map(fmt, rows), rule, fmt(total), "",
             _capacity_line(doc)]
    if doc["suggestedBudget"] is not None:
        lines.append(f"Suggested budget.monthlyAmount: {doc['suggestedBudget']} (busy total + 10 %)")
    lines += ["", *textwrap.wrap(f"Prices: {doc['priceSource']} Date: {doc['priceDate']}.", _WRAP), "Notes:"]
    for note in doc["notes"]:
        lines += textwrap.wrap(note, _WRAP, initial_indent="  - ", subsequent_indent="    ")
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./run python -m tools.cost", description=__doc__.split("\n")[0])
    add_stack_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the estimate as one JSON document")
    parser.add_argument("--offline", action="store_true",
                        help="use the shipped price table only (no request to the Azure Retail Prices API)")
    parser.add_argument("--usage", metavar="PROFILE",
                        help="simulate a month of use: a CSV of concurrent users per hour (hour,users) or a built-in "
                             "profile (workshop, course, public-binder)")
    parser.add_argument("--weeks", type=int, default=4, metavar="N",
                        help="weeks a weekly profile is repeated in the simulation (default 4)")
    parser.add_argument("--plot", metavar="FILE", help="with --usage: write a PNG of users, nodes and cost")
    args = parser.parse_args(argv)
    if (args.plot or args.weeks != 4) and not args.usage:
        parser.error("--plot and --weeks need --usage")
    if not 1 <= args.weeks <= 104:
        parser.error("--weeks must be between 1 and 104")

    try:
        path, stack = stack_from_args(args)
        raw, secret = read_stack_file(path)
        # Secrets do not change the price: estimate before the OAuth app or token exists.
        for name in SECRET_KEYS:
            key = f"{PROJECT}:{name}"
            if name in OPTIONAL_SECRET_KEYS:
                continue
            if key not in raw:
                raw[key], secret = SECRET, secret | {key}
        cfg = parse_config(raw, secret)
        profile = None
        if args.usage:
            from .usage import UsageError, load_profile

            try:
                profile = load_profile(args.usage)
            except UsageError as err:
                print(f"error: --usage {err}", file=sys.stderr)
                return 2
        doc = estimate(cfg, offline=args.offline)
        if profile is not None:
            return _simulate(cfg, doc, profile, args, stack)
    except (PlanError, ConfigError) as err:
        print(str(err), file=sys.stderr)
        return 2
    except Exception as err:  # a bug, not bad input: one line, traceback on request
        return unexpected(err, doing="the cost estimate failed")
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print(render_table(doc, f"Monthly cost estimate of stack '{stack}' ({cfg.mode}, {cfg.location})"))
    return 0


def _simulate(cfg: StackConfig, doc: dict[str, Any], profile: Any, args: argparse.Namespace, stack: str) -> int:
    from . import simulate

    # Alternatives are priced like the stack itself: live prices only if those worked.
    def estimate_of(other: StackConfig) -> dict[str, Any]:
        return estimate(other, offline=bool(doc["offline"]))

    try:
        result = simulate.run(cfg, doc, profile, args.weeks, estimate_of)
    except simulate.SimulationError as err:
        print(f"error: cannot simulate stack '{stack}': {err}", file=sys.stderr)
        return 2
    title = f"Simulated month of stack '{stack}' ({cfg.mode}, {cfg.location}), usage {profile.name}"
    if args.plot:
        try:
            simulate.plot(result, args.plot, title)
        except OSError as err:
            print(f"error: --plot {args.plot}: cannot be written ({err.strerror or err})", file=sys.stderr)
            return 2
    public = {key: value for key, value in result.items() if not key.startswith("_")}
    if args.json:
        print(json.dumps(public, indent=2))
    else:
        print(simulate.render(public, title))
    return 0


if __name__ == "__main__":
    sys.exit(main())
