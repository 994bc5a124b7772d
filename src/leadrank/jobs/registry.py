"""Job handlers by name. Each domain registers its own (``@job_handler("leads.upload")``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from leadrank.jobs.context import JobContext

Handler = Callable[["JobContext"], dict | None]

_HANDLERS: dict[str, Handler] = {}


def job_handler(kind: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        _HANDLERS[kind] = fn
        return fn

    return register


def get_handler(kind: str) -> Handler:
    load_handlers()
    try:
        return _HANDLERS[kind]
    except KeyError:
        raise LookupError(f"no handler for job kind {kind!r}") from None


def load_handlers() -> None:
    """Import the modules that register handlers (kept here so the direction stays downward)."""
    import leadrank.ingest.tasks  # noqa: F401
    import leadrank.scoring.tasks  # noqa: F401
