"""Lead embeddings in PostgreSQL with pgvector: one table, one HNSW index (cosine).

``lead_embeddings(workspace_id uuid, lead_id uuid primary key, model_id text,
content_hash text, embedding vector(d), updated_at timestamptz)``, an HNSW index with
``vector_cosine_ops`` and a b-tree on ``workspace_id``. Top-k queries are filtered by
workspace; pgvector ≥ 0.8's iterative index scan keeps filtered queries from returning
too few rows when one workspace is a small part of the table.

The store never commits a caller's transaction: every method takes a SQLAlchemy
``Connection`` or uses its own short transaction on the ``Engine`` it was given (the
service layer passes ``session.connection()`` to join the request's transaction).

Use :func:`pgvector_available` to decide between this store and the in-process index.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager

import numpy as np
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from leadrank.errors import LeadrankError

PGVECTOR_MAX_HNSW_DIM = 2000  # pgvector's limit for an HNSW index on type vector


def pgvector_available(engine: Engine, *, create: bool = True) -> bool:
    """True when the ``vector`` extension is installed (creating it if allowed and possible).

    Returns False on SQLite, on a PostgreSQL without the pgvector package (Debian's
    PostgreSQL here) and when the role may not create extensions.
    """
    if engine.dialect.name != "postgresql":
        return False
    with engine.connect() as conn:
        if conn.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'vector'")).first():
            return True
        if not create:
            return False
        available = conn.execute(
            text("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")
        ).first()
        if not available:
            return False
        try:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
            conn.commit()
        except DBAPIError:
            conn.rollback()
            return False
    return True


def _literal(vec: np.ndarray) -> str:
    return "[" + ",".join(repr(float(x)) for x in np.asarray(vec, dtype=np.float32)) + "]"


def _parse(value: str | Sequence[float] | np.ndarray) -> np.ndarray:
    if isinstance(value, str):
        return np.asarray(value.strip("[]").split(","), dtype=np.float32)
    return np.asarray(value, dtype=np.float32)


def _binary_copy(
    workspace_id: uuid.UUID,
    lead_ids: Sequence[uuid.UUID],
    mat: np.ndarray,
    model_id: str,
    hashes: Sequence[str],
    chunk: int = 20_000,
) -> Iterator[bytes]:
    """PostgreSQL binary COPY stream; pgvector's binary vector is int16 dim, int16 0, float4[]."""
    model = model_id.encode()
    n, dim = mat.shape
    hash_len = {len(h) for h in hashes}
    if len(hash_len) != 1:
        raise ValueError("content hashes must have one length")
    hl = hash_len.pop()
    row = np.dtype([
        ("nfields", ">i2"), ("l_ws", ">i4"), ("ws", "V16"), ("l_id", ">i4"), ("id", "V16"),
        ("l_model", ">i4"), ("model", f"V{len(model)}"), ("l_hash", ">i4"), ("hash", f"V{hl}"),
        ("l_vec", ">i4"), ("dim", ">i2"), ("unused", ">i2"), ("vec", ">f4", (dim,)),
    ])
    yield b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        rec = np.zeros(stop - start, dtype=row)
        rec["nfields"], rec["l_ws"], rec["l_id"] = 5, 16, 16
        rec["ws"] = np.void(workspace_id.bytes)
        rec["id"] = np.frombuffer(b"".join(u.bytes for u in lead_ids[start:stop]), dtype="V16")
        rec["l_model"], rec["model"] = len(model), np.void(model)
        rec["l_hash"] = hl
        rec["hash"] = np.frombuffer("".join(hashes[start:stop]).encode(), dtype=f"V{hl}")
        rec["l_vec"], rec["dim"], rec["vec"] = 4 + 4 * dim, dim, mat[start:stop]
        yield rec.tobytes()
    yield b"\xff\xff"


class PgVectorStore:
    """Upserts, deletes and workspace-filtered top-k over ``lead_embeddings``."""

    backend = "pgvector (HNSW)"

    def __init__(
        self,
        engine: Engine,
        dimension: int,
        *,
        table: str = "lead_embeddings",
        hnsw_m: int = 16,
        hnsw_ef_construction: int = 64,
        ef_search: int = 100,
    ) -> None:
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", table):
            raise ValueError(f"invalid table name {table!r}")
        if dimension > PGVECTOR_MAX_HNSW_DIM:
            raise LeadrankError(
                f"pgvector's HNSW index takes at most {PGVECTOR_MAX_HNSW_DIM} dimensions; "
                f"configure the embedding model with dimensions ≤ {PGVECTOR_MAX_HNSW_DIM} "
                f"(got {dimension})"
            )
        self.engine = engine
        self.dimension = dimension
        self.table = table
        self.hnsw_m = hnsw_m
        self.hnsw_ef_construction = hnsw_ef_construction
        self.ef_search = ef_search

    @contextmanager
    def _conn(self, conn: Connection | None) -> Iterator[Connection]:
        if conn is not None:
            yield conn
        else:
            with self.engine.begin() as own:
                yield own

    # -- schema ------------------------------------------------------------------------
    def create_schema(self, conn: Connection | None = None) -> None:
        """Create the extension, table and indexes if missing; check the dimension."""
        t = self.table
        with self._conn(conn) as c:
            c.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
            c.execute(
                text(
                    f"""CREATE TABLE IF NOT EXISTS {t} (
                        workspace_id uuid NOT NULL,
                        lead_id uuid PRIMARY KEY,
                        model_id text NOT NULL,
                        content_hash text NOT NULL,
                        embedding vector({self.dimension}) NOT NULL,
                        updated_at timestamptz NOT NULL DEFAULT now()
                    )"""
                )
            )
            existing = c.execute(
                text(
                    "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                    "WHERE attrelid = CAST(:t AS regclass) AND attname = 'embedding'"
                ),
                {"t": t},
            ).scalar_one()
            if existing != f"vector({self.dimension})":
                raise LeadrankError(
                    f"{t}.embedding is {existing} but the embedding model gives "
                    f"vector({self.dimension}); run reset() to re-embed with the new model"
                )
            c.execute(text(f"CREATE INDEX IF NOT EXISTS ix_{t}_workspace ON {t} (workspace_id)"))
            c.execute(
                text(
                    f"CREATE INDEX IF NOT EXISTS ix_{t}_hnsw ON {t} "
                    f"USING hnsw (embedding vector_cosine_ops) "
                    f"WITH (m = {int(self.hnsw_m)}, ef_construction = {int(self.hnsw_ef_construction)})"
                )
            )

    def reset(self, conn: Connection | None = None) -> None:
        """Drop and recreate the table (used when the embedding model's dimension changes)."""
        with self._conn(conn) as c:
            c.execute(text(f"DROP TABLE IF EXISTS {self.table}"))
        self.create_schema(conn)

    # -- writes ------------------------------------------------------------------------
    def upsert(
        self,
        workspace_id: uuid.UUID,
        lead_ids: Sequence[uuid.UUID],
        vectors: np.ndarray,
        *,
        model_id: str,
        content_hashes: Sequence[str],
        conn: Connection | None = None,
        chunk: int = 1000,
    ) -> int:
        mat = np.asarray(vectors, dtype=np.float32).reshape(len(lead_ids), -1)
        if mat.shape[1] != self.dimension:
            raise ValueError(f"expected dimension {self.dimension}, got {mat.shape[1]}")
        if len(content_hashes) != len(lead_ids):
            raise ValueError("one content hash per lead")
        sql = text(
            f"""INSERT INTO {self.table}
                    (workspace_id, lead_id, model_id, content_hash, embedding, updated_at)
                VALUES (:ws, :lead, :model, :hash, CAST(:emb AS vector), now())
                ON CONFLICT (lead_id) DO UPDATE SET
                    workspace_id = EXCLUDED.workspace_id, model_id = EXCLUDED.model_id,
                    content_hash = EXCLUDED.content_hash, embedding = EXCLUDED.embedding,
                    updated_at = now()"""
        )
        with self._conn(conn) as c:
            for start in range(0, len(lead_ids), chunk):
                rows = [
                    {
                        "ws": workspace_id,
                        "lead": lead_ids[i],
                        "model": model_id,
                        "hash": content_hashes[i],
                        "emb": _literal(mat[i]),
                    }
                    for i in range(start, min(start + chunk, len(lead_ids)))
                ]
                c.execute(sql, rows)
        return len(lead_ids)

    def bulk_insert(
        self,
        workspace_id: uuid.UUID,
        lead_ids: Sequence[uuid.UUID],
        vectors: np.ndarray,
        *,
        model_id: str,
        content_hashes: Sequence[str],
        conn: Connection | None = None,
    ) -> int:
        """Insert *new* rows with a binary COPY (~50x faster than upserts; for a first
        load of many leads). Fails on an existing lead_id: use :meth:`upsert` for updates."""
        mat = np.asarray(vectors, dtype=np.float32).reshape(len(lead_ids), -1)
        if mat.shape[1] != self.dimension:
            raise ValueError(f"expected dimension {self.dimension}, got {mat.shape[1]}")
        payload = _binary_copy(workspace_id, lead_ids, mat, model_id, content_hashes)
        with self._conn(conn) as c:
            raw = c.connection.driver_connection  # psycopg 3
            with raw.cursor() as cur:
                with cur.copy(
                    f"COPY {self.table} (workspace_id, lead_id, model_id, content_hash, embedding) "
                    "FROM STDIN (FORMAT BINARY)"
                ) as copy:
                    for chunk in payload:
                        copy.write(chunk)
        return len(lead_ids)

    def delete(self, lead_ids: Iterable[uuid.UUID], *, conn: Connection | None = None) -> int:
        ids = list(lead_ids)
        if not ids:
            return 0
        with self._conn(conn) as c:
            result = c.execute(
                text(f"DELETE FROM {self.table} WHERE lead_id = ANY(:ids)"), {"ids": ids}
            )
            return int(result.rowcount or 0)

    def delete_workspace(self, workspace_id: uuid.UUID, *, conn: Connection | None = None) -> int:
        with self._conn(conn) as c:
            result = c.execute(
                text(f"DELETE FROM {self.table} WHERE workspace_id = :ws"), {"ws": workspace_id}
            )
            return int(result.rowcount or 0)

    # -- reads -------------------------------------------------------------------------
    def content_hashes(
        self, workspace_id: uuid.UUID, lead_ids: Iterable[uuid.UUID], *, conn: Connection | None = None
    ) -> dict[uuid.UUID, str]:
        """``{lead_id: content_hash}`` of the stored embeddings (for the recompute check)."""
        ids = list(lead_ids)
        if not ids:
            return {}
        with self._conn(conn) as c:
            rows = c.execute(
                text(
                    f"SELECT lead_id, content_hash FROM {self.table} "
                    "WHERE workspace_id = :ws AND lead_id = ANY(:ids)"
                ),
                {"ws": workspace_id, "ids": ids},
            )
            return {row[0]: row[1] for row in rows}

    def stale(
        self,
        workspace_id: uuid.UUID,
        wanted: Mapping[uuid.UUID, str],
        *,
        conn: Connection | None = None,
    ) -> list[uuid.UUID]:
        """Lead ids whose stored hash differs from ``wanted`` (missing ones included)."""
        have = self.content_hashes(workspace_id, wanted, conn=conn)
        return [lead for lead, h in wanted.items() if have.get(lead) != h]

    def vectors(
        self, workspace_id: uuid.UUID, lead_ids: Sequence[uuid.UUID], *, conn: Connection | None = None
    ) -> dict[uuid.UUID, np.ndarray]:
        if not lead_ids:
            return {}
        with self._conn(conn) as c:
            rows = c.execute(
                text(
                    f"SELECT lead_id, CAST(embedding AS text) FROM {self.table} "
                    "WHERE workspace_id = :ws AND lead_id = ANY(:ids)"
                ),
                {"ws": workspace_id, "ids": list(lead_ids)},
            )
            return {row[0]: _parse(row[1]) for row in rows}

    def count(self, workspace_id: uuid.UUID | None = None, *, conn: Connection | None = None) -> int:
        with self._conn(conn) as c:
            if workspace_id is None:
                return int(c.execute(text(f"SELECT count(*) FROM {self.table}")).scalar_one())
            return int(
                c.execute(
                    text(f"SELECT count(*) FROM {self.table} WHERE workspace_id = :ws"),
                    {"ws": workspace_id},
                ).scalar_one()
            )

    def search(
        self,
        workspace_id: uuid.UUID,
        vector: np.ndarray,
        k: int = 10,
        *,
        filter_ids: Iterable[uuid.UUID] | None = None,
        exact: bool = False,
        conn: Connection | None = None,
    ) -> list[tuple[uuid.UUID, float]]:
        """Top-k ``(lead_id, cosine similarity)`` in one workspace, best first.

        Ties are broken by lead id (among the rows the index returns). ``exact=True``
        bypasses the HNSW index (a sequential scan), for recall measurements.
        """
        if k <= 0:
            return []
        q = np.asarray(vector, dtype=np.float32).reshape(-1)
        if q.shape[0] != self.dimension:
            raise ValueError(f"expected a query of dimension {self.dimension}, got {q.shape[0]}")
        norm = float(np.linalg.norm(q))
        q = q / norm if norm > 0 else q
        params: dict[str, object] = {"ws": workspace_id, "q": _literal(q), "k": k + 8}
        where = "workspace_id = :ws"
        if filter_ids is not None:
            params["ids"] = list(filter_ids)
            where += " AND lead_id = ANY(:ids)"
        sql = text(
            f"SELECT lead_id, 1 - (embedding <=> CAST(:q AS vector)) AS sim FROM {self.table} "
            f"WHERE {where} ORDER BY embedding <=> CAST(:q AS vector) LIMIT :k"
        )
        with self._conn(conn) as c:
            if exact:
                c.execute(text("SET LOCAL enable_indexscan = off"))
            else:
                c.execute(text(f"SET LOCAL hnsw.ef_search = {int(max(self.ef_search, k + 8))}"))
                c.execute(text("SET LOCAL hnsw.iterative_scan = relaxed_order"))
            rows = c.execute(sql, params).all()
        ranked = sorted(
            ((row[0], round(float(row[1]), 6)) for row in rows), key=lambda r: (-r[1], str(r[0]))
        )
        return ranked[:k]
