"""Log lines for log shippers: one JSON object per line (``worker.log_format = "json"``)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

LOG_FORMATS = ("text", "json")


class JsonFormatter(logging.Formatter):
    """``{"time": ..., "level": ..., "logger": ..., "message": ...}`` (and ``exception`` with the
    traceback when there is one), each on its own line whatever the message holds."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def json_logging_config(level: str | int) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` configuration: everything at ``level`` and above, as JSON
    lines on standard error."""
    if isinstance(level, str):
        level = {"warn": "WARNING", "crit": "CRITICAL"}.get(level.lower(), level.upper())
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
        "root": {"level": level, "handlers": ["stderr"]},
    }
