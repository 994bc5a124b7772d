"""Where a workspace's lead embeddings live: pgvector when available, else in process.

:class:`LocalEmbeddingStore` has the same methods as
:class:`~leadrank.similarity.pgstore.PgVectorStore` (minus SQL connections): one
:class:`~leadrank.similarity.index.InProcessIndex` per workspace, persisted under
``<data_dir>/embeddings/<workspace_id>/`` with the content hashes beside it. It serves
the SQLite default and a PostgreSQL without pgvector. :func:`open_store` picks one.
Every change is on disk when the call returns.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import Engine

from leadrank.similarity.index import InProcessIndex
from leadrank.similarity.pgstore import PgVectorStore, pgvector_available

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None


@dataclass
class _Change:
    index: InProcessIndex
    hashes: dict[uuid.UUID, tuple[str, str]]
    changed: bool = True


class LocalEmbeddingStore:
    """Each workspace's index and content hashes in files under the data directory.

    Several processes may share that directory (the API's web workers, ``leadrank worker``
    processes): each keeps its own copy of a workspace in memory, so the files are the truth.
    A change is made under an exclusive lock on the workspace's lock file: the copy is first
    brought up to date with the files, changed, then written back whole before the lock is
    released. Without it, two workers embedding chunks of one upload each wrote back only
    their own chunks, and the last one to write won. Reads check with one ``stat`` that the
    files are those they loaded, and load them again (under a shared lock) when another
    process changed them."""

    backend = "in-process (usearch HNSW)"

    def __init__(self, data_dir: str | os.PathLike[str], dimension: int, **index_kwargs: int) -> None:
        self.root = Path(data_dir) / "embeddings"
        self.dimension = dimension
        self._index_kwargs = index_kwargs
        self._indexes: dict[uuid.UUID, InProcessIndex] = {}
        self._hashes: dict[uuid.UUID, dict[uuid.UUID, tuple[str, str]]] = {}
        self._loaded: dict[uuid.UUID, tuple | None] = {}  # the files' stamp each copy was read from
        self._lock = threading.RLock()

    def _paths(self, ws: uuid.UUID) -> tuple[Path, Path]:
        d = self.root / str(ws)
        return d / "index.usearch", d / "hashes.json"

    def _stamp(self, ws: uuid.UUID) -> tuple | None:
        """Which version of the files is on disk: every write replaces the hashes file last."""
        try:
            st = os.stat(self._paths(ws)[1])
        except FileNotFoundError:
            return None
        return st.st_ino, st.st_mtime_ns, st.st_size

    @contextmanager
    def _file_lock(self, ws: uuid.UUID, *, exclusive: bool) -> Iterator[None]:
        if fcntl is None:  # no flock (Windows): one process per data directory
            yield
            return
        directory = self.root / str(ws)
        directory.mkdir(parents=True, exist_ok=True)
        with open(directory / ".lock", "a+b") as fh:  # kept: a process may be waiting on it
            fcntl.flock(fh, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _stale(self, ws: uuid.UUID) -> bool:
        """Whether this process has no copy of the workspace, or one the files no longer hold."""
        return ws not in self._indexes or self._loaded[ws] != self._stamp(ws)

    def _ws(self, ws: uuid.UUID) -> InProcessIndex:
        """The workspace's index as the files hold it now (read again if they changed)."""
        with self._lock:
            if not self._stale(ws):
                return self._indexes[ws]
            # Nothing written yet (or the workspace was deleted): no files to lock.
            files = self._file_lock(ws, exclusive=False) if self._stamp(ws) is not None else nullcontext()
            with files:
                return self._ws_unlocked(ws)

    def _ws_unlocked(self, ws: uuid.UUID) -> InProcessIndex:
        """:meth:`_ws` for a caller that holds the workspace's file lock."""
        if self._stale(ws):
            self._read(ws)
        return self._indexes[ws]

    def _read(self, ws: uuid.UUID) -> None:
        """Load the workspace's files (the caller holds a lock on them, or there are none)."""
        index_path, hash_path = self._paths(ws)
        stamp = self._stamp(ws)
        if stamp is not None and index_path.exists():
            idx = InProcessIndex.load(index_path)
            if idx.dimension != self.dimension:  # model changed: start again
                idx = InProcessIndex(self.dimension, **self._index_kwargs)
                hashes = {}
            else:
                raw = json.loads(hash_path.read_text())
                hashes = {uuid.UUID(k): (v[0], v[1]) for k, v in raw.items()}
        else:
            idx, hashes = InProcessIndex(self.dimension, **self._index_kwargs), {}
        self._indexes[ws], self._hashes[ws], self._loaded[ws] = idx, hashes, stamp

    @contextmanager
    def _changing(self, ws: uuid.UUID) -> Iterator[_Change]:
        """Change the workspace's index and hashes, written back before the lock is released
        (unless the change says it changed nothing). A failed change leaves the files as they
        were and this process's copy to be read again."""
        with self._lock, self._file_lock(ws, exclusive=True):
            change = _Change(self._ws_unlocked(ws), self._hashes[ws])
            try:
                yield change
                if change.changed:
                    self._write(ws)
            except BaseException:
                self._indexes.pop(ws, None)
                raise

    def _write(self, ws: uuid.UUID) -> None:
        index_path, hash_path = self._paths(ws)
        self._indexes[ws].save(index_path)
        tmp = hash_path.with_name(hash_path.name + ".tmp")
        tmp.write_text(json.dumps({str(k): list(v) for k, v in self._hashes[ws].items()}))
        os.replace(tmp, hash_path)  # last: its stamp names the version
        self._loaded[ws] = self._stamp(ws)

    def upsert(
        self,
        workspace_id: uuid.UUID,
        lead_ids: Sequence[uuid.UUID],
        vectors: np.ndarray,
        *,
        model_id: str,
        content_hashes: Sequence[str],
    ) -> int:
        with self._changing(workspace_id) as change:
            change.index.add(list(lead_ids), vectors)
            for lead, h in zip(lead_ids, content_hashes, strict=True):
                change.hashes[lead] = (model_id, h)
        return len(lead_ids)

    def delete(self, lead_ids: Iterable[uuid.UUID], *, workspace_id: uuid.UUID | None = None) -> int:
        ids = list(lead_ids)
        removed = 0
        for ws in [workspace_id] if workspace_id else self._all_workspaces():
            with self._changing(ws) as change:
                gone = change.index.remove(ids)
                dropped = [change.hashes.pop(lead, None) for lead in ids]
                change.changed = bool(gone) or any(d is not None for d in dropped)
                removed += gone
        return removed

    def delete_workspace(self, workspace_id: uuid.UUID) -> int:
        with self._lock, self._file_lock(workspace_id, exclusive=True):
            n = len(self._ws_unlocked(workspace_id))
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
        with self._lock:
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
