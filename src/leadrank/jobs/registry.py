"""Job handlers by name. Each domain registers its own.

Two shapes:
- ``@job_handler("leads.upload")``: one function that runs the whole job (it may still
  commit in chunks and checkpoint, as uploads do: a file is read in order).
- ``chunked_job("scoring.score", plan=…, run_chunk=…, finish=…)``: the job is planned
  into independent chunks that any number of workers process in parallel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from leadrank.jobs.context import JobContext

Handler = Callable[["JobContext"], dict | None]


@dataclass(frozen=True)
class ChunkedJob:
    plan: Callable[[JobContext], list[dict]]
    run_chunk: Callable[[Session, JobContext, dict], dict]
    finish: Callable[[JobContext, list[dict]], dict]


_HANDLERS: dict[str, Handler | ChunkedJob] = {}


def job_handler(kind: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        _HANDLERS[kind] = fn
        return fn

    return register


def chunked_job(kind: str, *, plan, run_chunk, finish) -> ChunkedJob:  # noqa: ANN001
    spec = ChunkedJob(plan=plan, run_chunk=run_chunk, finish=finish)
    _HANDLERS[kind] = spec
    return spec


def get_handler(kind: str) -> Handler | ChunkedJob:
    load_handlers()
    try:
        return _HANDLERS[kind]
    except KeyError:
        raise LookupError(f"no handler for job kind {kind!r}") from None


# Modules that register handlers: uploads, scoring and training, embeddings. Optional ones
# are imported when present (a package still being built must not break the others).
HANDLER_MODULES = ("leadrank.ingest.tasks", "leadrank.scoring.tasks")
OPTIONAL_HANDLER_MODULES = ("leadrank.similarity.tasks", "leadrank.customize.tasks")


def load_handlers() -> None:
    """Import the modules that register handlers (kept here so the direction stays downward)."""
    import importlib

    for name in HANDLER_MODULES:
        importlib.import_module(name)
    for name in OPTIONAL_HANDLER_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise


def kinds() -> list[str]:
    load_handlers()
    return sorted(_HANDLERS)
