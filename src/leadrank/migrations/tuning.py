"""Storage settings the ORM cannot express, applied by the initial migration."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection


def tune_postgres(conn: Connection) -> None:
    """Explanations and their list insights are compressed with LZ4 (PostgreSQL 14+ built
    with it): about twice as fast to write as the default pglz for the same size. A server
    without LZ4 keeps pglz."""
    if conn.dialect.name != "postgresql" or (conn.dialect.server_version_info or (0,)) < (14,):
        return
    try:
        with conn.begin_nested():
            for column in ("explanation", "insights"):
                conn.execute(text(f"ALTER TABLE lead_explanations ALTER COLUMN {column} SET COMPRESSION lz4"))
    except Exception:  # noqa: BLE001 - compiled without lz4: the default compression stays
        pass
