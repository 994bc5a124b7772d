"""Allocation-heavy loops (coercing an upload chunk, building explanation dicts)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Millions of short-lived objects and no reference cycles: the cyclic collector would
    rescan the growing results again and again (a fifth to a quarter of the time) for
    nothing; reference counting still frees everything."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
