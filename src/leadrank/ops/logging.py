"""Log setup: human text (default) or one JSON object per line (``LEADRANK_LOG_FORMAT=json``).

Extra fields passed with ``log.info("chunk done", extra={"job_id": …, "rows": …})`` become
keys of the JSON object (or ``key=value`` pairs after a text line), so a log pipeline can
filter on ``job_id`` or sum ``rows`` without parsing prose."""

from __future__ import annotations

import logging
import sys
from datetime import datetime, timezone

import orjson

# Attributes every LogRecord has; anything else was passed in ``extra``.
_STANDARD = set(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {"message", "asctime", "taskName"}


def _extras(record: logging.LogRecord) -> dict:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "pid": record.process,
            "thread": record.threadName,
        }
        entry.update(_extras(record))
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()  # one line a request: the fast encoder


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = _extras(record)
        if extras:
            line += " " + " ".join(f"{k}={v}" for k, v in extras.items())
        return line


def setup_logging(fmt: str | None = None, level: str | None = None) -> None:
    """Configure the root logger once per process (idempotent). Defaults come from settings."""
    from leadrank.config import get_settings

    settings = get_settings()
    fmt = (fmt or settings.log_format).lower()
    if fmt not in ("text", "json"):
        raise ValueError(f"LEADRANK_LOG_FORMAT must be text or json, not {fmt!r}")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.set_name("leadrank")
    root = logging.getLogger()
    for existing in list(root.handlers):
        if existing.get_name() == "leadrank":
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel((level or settings.log_level).upper())
    # uvicorn's own loggers propagate to ours when configured through this function.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "dramatiq"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True


def uvicorn_log_config() -> dict:
    """A ``log_config`` for ``uvicorn.run`` that leaves formatting to :func:`setup_logging`."""
    return {"version": 1, "disable_existing_loggers": False}
