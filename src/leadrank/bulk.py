"""Set-based writes for the hot paths (uploads, score writes).

PostgreSQL: ``COPY`` (psycopg 3) into the table, or into a temporary table followed by one
``UPDATE … FROM``. SQLite: the DB-API ``executemany`` with values converted once by
SQLAlchemy's own bind processors (the ORM's per-row bookkeeping is what costs there).
Both run inside the caller's transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import Table
from sqlalchemy.orm import Session

from leadrank.db import json_dumps


def _processors(table: Table, columns: Sequence[str], dialect) -> list:  # noqa: ANN001
    return [table.c[name].type._cached_bind_processor(dialect) for name in columns]


def _sqlite_rows(table: Table, columns: Sequence[str], rows: Sequence[dict], dialect) -> list[tuple]:  # noqa: ANN001
    procs = _processors(table, columns, dialect)
    out = []
    for row in rows:
        out.append(tuple(p(row.get(c)) if p else row.get(c) for c, p in zip(columns, procs, strict=True)))
    return out


def _dumps(value: object) -> str:
    return json_dumps(value)


def _json_columns(table: Table, columns: Sequence[str]) -> list[int]:
    """Positions of the columns stored as JSON (their dicts/lists are dumped for COPY)."""
    out = []
    for i, name in enumerate(columns):
        try:
            python_type = table.c[name].type.python_type
        except NotImplementedError:
            python_type = None
        if python_type in (dict, list) or type(table.c[name].type).__name__.upper().startswith("JSON"):
            out.append(i)
    return out


def _raw_connection(session: Session):  # noqa: ANN202
    return session.connection().connection.driver_connection


def bulk_insert(session: Session, table: Table, rows: Sequence[dict], columns: Sequence[str] | None = None) -> None:
    if not rows:
        return
    columns = list(columns or rows[0].keys())
    dialect = session.get_bind().dialect
    if dialect.name == "postgresql":
        conn = _raw_connection(session)
        col_sql = ", ".join(f'"{c}"' for c in columns)
        json_cols = _json_columns(table, columns)
        with conn.cursor() as cur, cur.copy(f'COPY "{table.name}" ({col_sql}) FROM STDIN') as copy:
            if not json_cols:
                for row in rows:
                    copy.write_row([row.get(c) for c in columns])
            else:  # only JSON columns need converting (once per value, not an isinstance per cell)
                for row in rows:
                    values = [row.get(c) for c in columns]
                    for i in json_cols:
                        if values[i] is not None:
                            values[i] = _dumps(values[i])
                    copy.write_row(values)
        return
    values = _sqlite_rows(table, columns, rows, dialect)
    placeholders = ", ".join("?" for _ in columns)
    col_sql = ", ".join(f'"{c}"' for c in columns)
    raw = session.connection().connection.driver_connection
    raw.executemany(f'INSERT INTO "{table.name}" ({col_sql}) VALUES ({placeholders})', values)


def bulk_update(session: Session, table: Table, rows: Sequence[dict], columns: Sequence[str],
                key: str = "id") -> None:
    """Set ``columns`` on the rows identified by ``key`` (every row has every column)."""
    if not rows:
        return
    dialect = session.get_bind().dialect
    if dialect.name == "postgresql":
        conn = _raw_connection(session)
        temp = f"_bulk_{uuid.uuid4().hex[:12]}"
        all_cols = [key, *columns]
        with conn.cursor() as cur:
            cur.execute(f'CREATE TEMP TABLE "{temp}" ON COMMIT DROP AS '
                        f'SELECT {", ".join(chr(34) + c + chr(34) for c in all_cols)} FROM "{table.name}" LIMIT 0')
            json_cols = _json_columns(table, all_cols)
            with cur.copy(f'COPY "{temp}" ({", ".join(chr(34) + c + chr(34) for c in all_cols)}) FROM STDIN') as copy:
                for row in rows:
                    values = [row.get(c) for c in all_cols]
                    for i in json_cols:
                        if values[i] is not None:
                            values[i] = _dumps(values[i])
                    copy.write_row(values)
            sets = ", ".join(f'"{c}" = t."{c}"' for c in columns)
            cur.execute(f'UPDATE "{table.name}" AS x SET {sets} FROM "{temp}" AS t WHERE x."{key}" = t."{key}"')
            cur.execute(f'DROP TABLE "{temp}"')
        return
    values = _sqlite_rows(table, [*columns, key], rows, dialect)
    sets = ", ".join(f'"{c}" = ?' for c in columns)
    raw = session.connection().connection.driver_connection
    raw.executemany(f'UPDATE "{table.name}" SET {sets} WHERE "{key}" = ?', values)
