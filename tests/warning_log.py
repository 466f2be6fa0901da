"""Shared by the two config checks (hub_config_check.py, binderhub_config_check.py), which run
as scripts under the hub's or BinderHub's own interpreter with this folder first on sys.path:
every log record of level WARNING or above, of every logger, is kept in RECORDS (traitlets'
"Config option `x` not recognized by `Y`" is one of them), and Python warnings become records."""

from __future__ import annotations

import logging
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
