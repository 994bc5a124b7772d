"""Set-based writes for the hot paths (uploads, score writes).

PostgreSQL: ``COPY`` (psycopg 3) into the table, or into a temporary table followed by one
``UPDATE … FROM``. SQLite: the DB-API ``executemany`` with values converted once by
SQLAlchemy's own bind processors (the ORM's per-row bookkeeping is what costs there).
Both run inside the caller's transaction.
"""

from __future__ import annotations

import os
import time
import uuid
from array import array
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from itertools import repeat

from sqlalchemy import Table, TypeDecorator
from sqlalchemy.orm import Session

from leadrank.db import JSONTexts, json_dumps


_NULL = "\\N"
_BLOCK = 1024  # rows formatted per sweep: a block's columns stay in the CPU cache
# COPY's text format: backslash, tab, newline and carriage return are escaped in values.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def ordered_id_texts(n: int) -> list[str]:
    """``n`` new UUIDv7 (RFC 9562) ids in increasing order, as 32 hex digits (what
    PostgreSQL's uuid input and SQLAlchemy's SQLite storage both take: no UUID objects to
    build and print). The millisecond clock, then a counter that starts at a random value,
    then 48 random bits. A batch's rows land at the right edge of the primary key and of
    every index ending in ``id`` (the lead list indexes do) instead of on random pages:
    about 30% less PostgreSQL work per inserted lead."""
    ms = time.time_ns() // 1_000_000
    start = int.from_bytes(os.urandom(4), "big") >> 7  # 25 bits: room for 2**25 ids
    head = (ms & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | 0b10 << 62
    return ["%032x" % (head | (c >> 14) << 64 | (c & 0x3FFF) << 48 | (r & 0xFFFF_FFFF_FFFF))
            for c, r in zip(range(start, start + n), array("Q", os.urandom(8 * n)), strict=True)]


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
    return [i for i, name in enumerate(columns) if _column_kind(table, name) == "json"]


def _raw_connection(session: Session):  # noqa: ANN202
    return session.connection().connection.driver_connection


def _column_kind(table: Table, name: str) -> str | None:
    """How a column's values are written as COPY text (None: leave it to psycopg)."""
    col_type = table.c[name].type
    if getattr(col_type, "stores_json", False):  # models.base.JSONDocumentType
        return "json"
    if isinstance(col_type, TypeDecorator):  # UTCDateTime: COPY has always sent the raw value
        col_type = col_type.impl_instance
    if type(col_type).__name__.upper().startswith("JSON"):
        return "json"
    try:
        python_type = col_type.python_type
    except NotImplementedError:
        return None
    return {str: "text", int: "int", float: "float", uuid.UUID: "uuid", datetime: "datetime",
            bool: "bool", dict: "json", list: "json"}.get(python_type)


# The Python types each kind formats exactly as psycopg's text dumpers would.
_KIND_TYPES: dict[str, frozenset[type]] = {
    "text": frozenset({str}), "int": frozenset({int}), "float": frozenset({float, int}),
    "uuid": frozenset({uuid.UUID}), "datetime": frozenset({datetime}), "bool": frozenset({bool}),
}


def _copy_texts(kind: str, values: Sequence) -> list[str]:
    """One column of COPY text fields (NULL as ``\\N``, escapes where needed)."""
    null = _NULL
    if kind == "text":
        out = values
    elif kind == "json_text":  # a JSONTexts column: JSON already
        out = values
    elif kind == "json":
        out = [None if v is None else json_dumps(v) for v in values]
    elif kind == "datetime":
        out = [v.isoformat() if v is not None else None for v in values]
    elif kind == "bool":
        return [null if v is None else "t" if v else "f" for v in values]
    else:  # int, float, uuid: str() is their text form
        return [str(v) if v is not None else null for v in values]
    joined = "".join(filter(None, out))
    if "\\" in joined or "\t" in joined or "\n" in joined or "\r" in joined:
        return [v.translate(_COPY_ESCAPES) if v is not None else null for v in out]
    return [v if v is not None else null for v in out]


def _copy_text_plan(table: Table, columns: Mapping[str, Sequence], constants: Mapping[str, object]
                    ) -> list[str] | None:
    """Each column's kind, or None when some value is not of a type we format ourselves."""
    kinds = []
    for name, values in [*columns.items(), *((k, [v]) for k, v in constants.items())]:
        kind = _column_kind(table, name)
        if kind is None:
            return None
        if kind == "json" and isinstance(values, JSONTexts):
            kinds.append("json_text")
            continue
        allowed = _KIND_TYPES.get(kind)
        if allowed is not None and not set(map(type, values)).difference((type(None),)) <= allowed:
            return None
        kinds.append(kind)
    return kinds


def uuid_array(ids: Iterable[uuid.UUID | str]) -> str:
    """Ids as one PostgreSQL array literal, for ``= ANY(%s::uuid[])``: psycopg adapts a list
    one element at a time, a visible share of a 10,000-lead chunk's time."""
    return "{" + ",".join(map(str, ids)) + "}"


def bulk_insert_columns(session: Session, table: Table, columns: Mapping[str, Sequence],
                        constants: Mapping[str, object] | None = None, *,
                        new_ids: str | None = None, into: str | None = None) -> list[str]:
    """Insert rows given column by column (every sequence the same length), plus columns
    that hold one value for every row, plus (``new_ids``) a UUID column filled with new
    :func:`ordered_id_texts`. No per-row dicts: on PostgreSQL the COPY text is formatted a
    column at a time and sent in blocks; on SQLite the values are converted a column at a
    time and fed to ``executemany``. ``into`` names another table with these columns (a
    temporary copy of ``table``) to write to. Returns the new ids (32 hex digits each), if any."""
    constants = dict(constants or {})
    if not columns:
        return []
    n = len(next(iter(columns.values())))
    if n == 0:
        return []
    ids = {new_ids: ordered_id_texts(n)} if new_ids else {}
    names = [*ids, *columns, *constants]
    col_sql = ", ".join(f'"{c}"' for c in names)
    dialect = session.get_bind().dialect
    if dialect.name != "postgresql":
        procs = _processors(table, [*columns, *constants], dialect)
        values = [*ids.values()]
        values += [list(map(p, v)) if p and not isinstance(v, JSONTexts) else v
                   for p, v in zip(procs, columns.values(), strict=False)]
        for p, v in zip(procs[len(columns):], constants.values(), strict=True):
            values.append(repeat(p(v) if p else v))
        raw = _raw_connection(session)
        placeholders = ", ".join("?" for _ in names)
        raw.executemany(f'INSERT INTO "{into or table.name}" ({col_sql}) VALUES ({placeholders})', zip(*values))
        return ids.get(new_ids, []) if new_ids else []
    conn = _raw_connection(session)
    kinds = _copy_text_plan(table, columns, constants)
    with conn.cursor() as cur, cur.copy(f'COPY "{into or table.name}" ({col_sql}) FROM STDIN') as copy:
        if kinds is None:  # some value psycopg must adapt itself: row by row
            given = [*ids.values(), *columns.values()]
            json_cols = [i for i in _json_columns(table, names) if not (i < len(given) and isinstance(given[i], JSONTexts))]
            fixed = list(constants.values())
            for row in zip(*ids.values(), *columns.values(), strict=True):
                values = [*row, *fixed]
                for i in json_cols:
                    if values[i] is not None:
                        values[i] = _dumps(values[i])
                copy.write_row(values)
            return ids.get(new_ids, []) if new_ids else []
        width = len(columns)
        fixed_texts = [repeat(_copy_texts(k, [v])[0])
                       for k, v in zip(kinds[width:], constants.values(), strict=True)]
        for start in range(0, n, _BLOCK):
            end = start + _BLOCK
            block = [_copy_texts(k, v[start:end]) for k, v in zip(kinds, columns.values(), strict=False)]
            lines = map("\t".join, zip(*(v[start:end] for v in ids.values()), *block, *fixed_texts))
            copy.write("\n".join(lines) + "\n")
    return ids.get(new_ids, []) if new_ids else []


def bulk_insert(session: Session, table: Table, rows: Sequence[dict], columns: Sequence[str] | None = None) -> None:
    if not rows:
        return
    names = list(columns or rows[0].keys())
    bulk_insert_columns(session, table, {c: [row.get(c) for row in rows] for c in names})


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
        quoted = ", ".join(f'"{c}"' for c in all_cols)
        with conn.cursor() as cur:
            cur.execute(f'CREATE TEMP TABLE "{temp}" ON COMMIT DROP AS SELECT {quoted} FROM "{table.name}" LIMIT 0')
            json_cols = _json_columns(table, all_cols)
            with cur.copy(f'COPY "{temp}" ({quoted}) FROM STDIN') as copy:
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
