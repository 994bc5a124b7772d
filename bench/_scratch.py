"""A throwaway PostgreSQL database for a benchmark run (created, then dropped)."""

from __future__ import annotations

import uuid
from collections.abc import Callable


def scratch_db(server: str, prefix: str = "leadrank_bench") -> tuple[str, Callable[[], None]]:
    """Create a database on ``server``; return its URL and a function that drops it."""
    from sqlalchemy import create_engine, text

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return server.rsplit("/", 1)[0] + "/" + name, drop
