"""Where a workspace's lead embeddings live: pgvector when available, else in process.

:class:`LocalEmbeddingStore` has the same methods as
:class:`~leadrank.similarity.pgstore.PgVectorStore` (minus SQL connections): one
:class:`~leadrank.similarity.index.InProcessIndex` per workspace, persisted under
``<data_dir>/embeddings/<workspace_id>/`` with the content hashes beside it. It serves
the SQLite default and a PostgreSQL without pgvector. :func:`open_store` picks one.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
from sqlalchemy import Engine

from leadrank.similarity.index import InProcessIndex
from leadrank.similarity.pgstore import PgVectorStore, pgvector_available


class LocalEmbeddingStore:
    backend = "in-process (usearch HNSW)"

    def __init__(self, data_dir: str | os.PathLike[str], dimension: int, **index_kwargs: int) -> None:
        self.root = Path(data_dir) / "embeddings"
        self.dimension = dimension
        self._index_kwargs = index_kwargs
        self._indexes: dict[uuid.UUID, InProcessIndex] = {}
        self._hashes: dict[uuid.UUID, dict[uuid.UUID, tuple[str, str]]] = {}
        self._lock = threading.RLock()

    def _paths(self, ws: uuid.UUID) -> tuple[Path, Path]:
        d = self.root / str(ws)
        return d / "index.usearch", d / "hashes.json"

    def _ws(self, ws: uuid.UUID) -> InProcessIndex:
        with self._lock:
            if ws not in self._indexes:
                index_path, hash_path = self._paths(ws)
                if index_path.exists():
                    idx = InProcessIndex.load(index_path)
                    if idx.dimension != self.dimension:  # model changed: start again
                        idx = InProcessIndex(self.dimension, **self._index_kwargs)
                        hashes = {}
                    else:
                        raw = json.loads(hash_path.read_text()) if hash_path.exists() else {}
                        hashes = {uuid.UUID(k): (v[0], v[1]) for k, v in raw.items()}
                else:
                    idx, hashes = InProcessIndex(self.dimension, **self._index_kwargs), {}
                self._indexes[ws], self._hashes[ws] = idx, hashes
            return self._indexes[ws]

    def save(self, workspace_id: uuid.UUID | None = None) -> None:
        with self._lock:
            for ws in [workspace_id] if workspace_id else list(self._indexes):
                if ws not in self._indexes:
                    continue
                index_path, hash_path = self._paths(ws)
                self._indexes[ws].save(index_path)
                tmp = hash_path.with_name(hash_path.name + ".tmp")
                tmp.write_text(json.dumps({str(k): list(v) for k, v in self._hashes[ws].items()}))
                os.replace(tmp, hash_path)

    def upsert(
        self,
        workspace_id: uuid.UUID,
        lead_ids: Sequence[uuid.UUID],
        vectors: np.ndarray,
        *,
        model_id: str,
        content_hashes: Sequence[str],
    ) -> int:
        with self._lock:
            self._ws(workspace_id).add(list(lead_ids), vectors)
            hashes = self._hashes[workspace_id]
            for lead, h in zip(lead_ids, content_hashes, strict=True):
                hashes[lead] = (model_id, h)
        return len(lead_ids)

    def delete(self, lead_ids: Iterable[uuid.UUID], *, workspace_id: uuid.UUID | None = None) -> int:
        ids = list(lead_ids)
        removed = 0
        with self._lock:
            spaces = [workspace_id] if workspace_id else self._all_workspaces()
            for ws in spaces:
                removed += self._ws(ws).remove(ids)
                for lead in ids:
                    self._hashes[ws].pop(lead, None)
        return removed

    def delete_workspace(self, workspace_id: uuid.UUID) -> int:
        with self._lock:
            n = len(self._ws(workspace_id))
            self._indexes.pop(workspace_id, None)
            self._hashes.pop(workspace_id, None)
            for path in self._paths(workspace_id):
                for p in path.parent.glob(path.name + "*"):
                    p.unlink()
        return n

    def _all_workspaces(self) -> list[uuid.UUID]:
        on_disk = {uuid.UUID(p.name) for p in self.root.glob("*") if p.is_dir()} if self.root.exists() else set()
        return sorted(on_disk | set(self._indexes), key=str)

    def content_hashes(self, workspace_id: uuid.UUID, lead_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
        self._ws(workspace_id)
        hashes = self._hashes[workspace_id]
        return {lead: hashes[lead][1] for lead in lead_ids if lead in hashes}

    def stale(self, workspace_id: uuid.UUID, wanted: Mapping[uuid.UUID, str]) -> list[uuid.UUID]:
        have = self.content_hashes(workspace_id, wanted)
        return [lead for lead, h in wanted.items() if have.get(lead) != h]

    def vectors(self, workspace_id: uuid.UUID, lead_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, np.ndarray]:
        idx = self._ws(workspace_id)
        present = [i for i in lead_ids if i in idx]
        return dict(zip(present, idx.vectors(present), strict=True))

    def count(self, workspace_id: uuid.UUID | None = None) -> int:
        if workspace_id is None:
            return sum(len(self._ws(ws)) for ws in self._all_workspaces())
        return len(self._ws(workspace_id))

    def search(
        self,
        workspace_id: uuid.UUID,
        vector: np.ndarray,
        k: int = 10,
        *,
        filter_ids: Iterable[uuid.UUID] | None = None,
    ) -> list[tuple[uuid.UUID, float]]:
        return [
            (i, round(s, 6)) for i, s in self._ws(workspace_id).search(vector, k, filter_ids=filter_ids)
        ]


def open_store(
    engine: Engine | None, data_dir: str | os.PathLike[str], dimension: int
) -> PgVectorStore | LocalEmbeddingStore:
    """pgvector when the database has (or can create) the extension, else in-process.

    The returned object's ``backend`` says which, for the README / health endpoint.
    """
    if engine is not None and pgvector_available(engine):
        store = PgVectorStore(engine, dimension)
        store.create_schema()
        return store
    return LocalEmbeddingStore(data_dir, dimension)
