"""Shared by the config checks (hub_config_check.py, binderhub_config_check.py,
tljh_config_check.py), which run as scripts under the hub's, BinderHub's or TLJH's own
interpreter with this folder first on sys.path: every log record of level WARNING or above, of
every logger, is kept in RECORDS (traitlets' "Config option `x` not recognized by `Y`" is one of
them), and Python warnings become records."""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Callable
from typing import Any

RECORDS: list[dict[str, Any]] = []
_call_handlers = logging.Logger.callHandlers


def _record(self: logging.Logger, record: logging.LogRecord) -> None:
    if record.levelno >= logging.WARNING:
        RECORDS.append({"level": record.levelname, "logger": record.name, "message": record.getMessage()})
    _call_handlers(self, record)


def capture() -> list[dict[str, Any]]:
    """Start keeping the records; returns the list they go to."""
    logging.Logger.callHandlers = _record  # type: ignore[method-assign]
    logging.captureWarnings(True)
    return RECORDS


def class_names(obj: object) -> set[str]:
    """The names of the object's classes, its own and every base (the config sections it reads)."""
    return {cls.__name__ for cls in type(obj).__mro__}


def report(check: Callable[[], dict[str, Any]], who: str, found: list[str] | None = None) -> int:
    """Run the check and print its report, with the records, as the last line of stdout (JSON).
    A failure to start is a problem in the report, not a crash of the script; `found` holds the
    problems the check had already found, which a failure keeps."""
    try:
        result = check()
    except SystemExit as exc:  # traitlets' catch_config_error exits on a bad config
        result = {"problems": [*(found or []), f"{who} exited during initialize (code {exc.code})"]}
    except Exception as exc:  # e.g. a TraitError when a class takes its config
        traceback.print_exc()
        result = {"problems": [*(found or []), f"{type(exc).__name__}: {exc}"]}
    result["log"] = RECORDS
    print(json.dumps(result, default=str))
    return 0
