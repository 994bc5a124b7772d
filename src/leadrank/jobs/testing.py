"""Test-only hooks for the crash tests, honoured only when ``LEADRANK_ENV=test``.

A job's params may carry ``"_test": {"chunk_delay_s": 1.5, "fail_chunks": [2]}``:

- ``chunk_delay_s``: sleep after a chunk's writes and before its commit, so a test can
  SIGKILL a worker *in the middle* of a chunk (its writes done, not committed);
- ``fail_chunks``: these chunk numbers raise after their writes, on every attempt (a
  poisoned chunk), so a test can check the chunk ends ``failed`` and the rest completes.

A chunked job's chunks are numbered by their ``seq``; an upload's (``leads.upload``, one job
that writes its file chunk by chunk) by their place in the file, from 0.

They live in job params rather than the environment so that one pair of worker processes
can serve several tests. Outside ``LEADRANK_ENV=test`` they are ignored.
"""

from __future__ import annotations

import time

from leadrank.config import get_settings


class PoisonedChunk(RuntimeError):
    """Raised by the ``fail_chunks`` hook."""


def after_chunk_writes(params: dict, seq: int) -> None:
    hooks = params.get("_test")
    if not hooks or get_settings().env != "test":
        return
    if seq in (hooks.get("fail_chunks") or ()):
        raise PoisonedChunk(f"chunk {seq} is poisoned (test hook)")
    delay = float(hooks.get("chunk_delay_s") or 0)
    if delay:
        time.sleep(delay)
