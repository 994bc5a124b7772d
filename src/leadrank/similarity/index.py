"""Vector indexes over L2-normalised embeddings, searched by cosine similarity.

* :class:`BruteForceIndex` — exact, numpy. For small sets and as the recall reference.
* :class:`InProcessIndex` — usearch HNSW (cosine), persisted to a file; used with the
  embedded SQLite default and with a PostgreSQL that has no pgvector. Below
  ``exact_below`` vectors, and for filtered searches over few ids, it searches exactly.

Both return ``[(id, similarity)]`` best first; ties are broken by ``str(id)`` so results
are deterministic. Ids may be ``uuid.UUID``, ``str`` or ``int`` (one kind per index).
The pgvector store lives in :mod:`leadrank.similarity.pgstore`.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Hashable, Iterable, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

Id = Hashable
Result = list[tuple[Id, float]]


@runtime_checkable
class VectorIndex(Protocol):
    dimension: int

    def add(self, ids: Sequence[Id], vectors: np.ndarray) -> None:
        """Insert or replace the vectors of ``ids``."""
        ...

    def remove(self, ids: Iterable[Id]) -> int:
        """Forget ``ids`` (unknown ids are ignored); returns how many were removed."""
        ...

    def search(
        self, vector: np.ndarray, k: int = 10, *, filter_ids: Iterable[Id] | None = None
    ) -> Result:
        """The ``k`` most similar ids (restricted to ``filter_ids`` when given)."""
        ...

    def __len__(self) -> int: ...

    def __contains__(self, id_: object) -> bool: ...


def _check_vectors(vectors: np.ndarray, n: int, dimension: int) -> np.ndarray:
    mat = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32).reshape(n, -1))
    if mat.shape[1] != dimension:
        raise ValueError(f"expected vectors of dimension {dimension}, got {mat.shape[1]}")
    norms = np.linalg.norm(mat, axis=1)
    if not np.all(np.isfinite(norms)) or np.any(norms < 1e-6):
        raise ValueError("vectors must be finite and non-zero (do not index empty profiles)")
    return mat / norms[:, None]


def _query(vector: np.ndarray, dimension: int) -> np.ndarray:
    q = np.asarray(vector, dtype=np.float32).reshape(-1)
    if q.shape[0] != dimension:
        raise ValueError(f"expected a query of dimension {dimension}, got {q.shape[0]}")
    norm = float(np.linalg.norm(q))
    return q / norm if norm > 0 else q


def _top_k(ids: Sequence[Id], sims: np.ndarray, k: int) -> Result:
    """Best ``k`` by similarity, ties broken by ``str(id)``."""
    if k <= 0 or len(ids) == 0:
        return []
    sims = np.round(sims.astype(np.float64), 6)  # float noise must not decide ties
    if len(ids) > k:
        # Keep every candidate tied with the k-th best so the tie-break sees them all.
        kth = np.partition(-sims, k - 1)[k - 1]
        cand = np.flatnonzero(-sims <= kth)
    else:
        cand = np.arange(len(ids))
    order = sorted(cand.tolist(), key=lambda i: (-sims[i], str(ids[i])))[:k]
    return [(ids[i], float(sims[i])) for i in order]


class BruteForceIndex:
    """Exact cosine search: one matrix-vector product. ~0.1 s per query at 1M x 256."""

    def __init__(self, dimension: int) -> None:
        self.dimension = dimension
        self._ids: list[Id] = []
        self._rows: dict[Id, int] = {}
        self._mat = np.zeros((0, dimension), dtype=np.float32)
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def __contains__(self, id_: object) -> bool:
        return id_ in self._rows

    def add(self, ids: Sequence[Id], vectors: np.ndarray) -> None:
        mat = _check_vectors(vectors, len(ids), self.dimension)
        new = [i for i in dict.fromkeys(ids) if i not in self._rows]
        need = self._n + len(new)
        if need > self._mat.shape[0]:
            grown = np.zeros((max(need, 2 * self._mat.shape[0], 64), self.dimension), np.float32)
            grown[: self._n] = self._mat[: self._n]
            self._mat = grown
        for id_ in new:
            self._rows[id_] = self._n
            self._ids.append(id_)
            self._n += 1
        for id_, vec in zip(ids, mat, strict=True):
            self._mat[self._rows[id_]] = vec

    def remove(self, ids: Iterable[Id]) -> int:
        removed = 0
        for id_ in ids:
            row = self._rows.pop(id_, None)
            if row is None:
                continue
            last = self._n - 1
            if row != last:  # move the last row into the hole
                moved = self._ids[last]
                self._mat[row] = self._mat[last]
                self._ids[row] = moved
                self._rows[moved] = row
            self._ids.pop()
            self._n -= 1
            removed += 1
        return removed

    def vectors(self, ids: Sequence[Id]) -> np.ndarray:
        return self._mat[[self._rows[i] for i in ids]]

    def search(
        self, vector: np.ndarray, k: int = 10, *, filter_ids: Iterable[Id] | None = None
    ) -> Result:
        q = _query(vector, self.dimension)
        if filter_ids is None:
            return _top_k(self._ids, self._mat[: self._n] @ q, k)
        rows = [self._rows[i] for i in dict.fromkeys(filter_ids) if i in self._rows]
        return _top_k([self._ids[r] for r in rows], self._mat[rows] @ q, k)


# ---------------------------------------------------------------------------------------


def _encode_id(id_: Id) -> list:
    if isinstance(id_, uuid.UUID):
        return ["u", str(id_)]
    if isinstance(id_, bool) or not isinstance(id_, int | str):
        raise TypeError(f"ids must be UUID, str or int, not {type(id_).__name__}")
    return ["i", id_] if isinstance(id_, int) else ["s", id_]


def _decode_id(item: list) -> Id:
    kind, value = item
    return uuid.UUID(value) if kind == "u" else value


class InProcessIndex:
    """usearch HNSW over cosine distance, with external ids mapped to uint64 keys.

    ``connectivity`` (M), ``expansion_add`` (efConstruction) and ``expansion_search``
    (ef) are the usual HNSW knobs; the defaults reach recall@10 ≥ 0.95 on 1M clustered
    vectors (see ``bench/similarity.py``). Searches are exact below ``exact_below``
    vectors, and for ``filter_ids`` sets of at most ``exact_filter_max`` ids; larger
    filtered searches over-fetch from the graph and fall back to exact search over the
    filter set when the graph does not yield ``k`` matches.

    Thread-safety: searches may run concurrently; writes take a lock.
    """

    def __init__(
        self,
        dimension: int,
        *,
        connectivity: int = 16,
        expansion_add: int = 128,
        expansion_search: int = 128,
        dtype: str = "f32",
        exact_below: int = 20_000,
        exact_filter_max: int = 50_000,
    ) -> None:
        from usearch.index import Index

        self.dimension = dimension
        self.exact_below = exact_below
        self.exact_filter_max = exact_filter_max
        self._params = dict(
            connectivity=connectivity,
            expansion_add=expansion_add,
            expansion_search=expansion_search,
            dtype=dtype,
        )
        self._index = Index(ndim=dimension, metric="cos", **self._params)
        self._key_of: dict[Id, int] = {}
        self._id_of: dict[int, Id] = {}
        self._next_key = 1
        self._lock = threading.RLock()

    # -- bookkeeping -----------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._key_of)

    def __contains__(self, id_: object) -> bool:
        return id_ in self._key_of

    @property
    def expansion_search(self) -> int:
        return int(self._index.expansion_search)

    @expansion_search.setter
    def expansion_search(self, value: int) -> None:
        self._index.expansion_search = int(value)

    def add(self, ids: Sequence[Id], vectors: np.ndarray) -> None:
        mat = _check_vectors(vectors, len(ids), self.dimension)
        if len(set(ids)) != len(ids):  # last one wins, like a dict
            last = {id_: i for i, id_ in enumerate(ids)}
            ids, mat = list(last), mat[list(last.values())]
        with self._lock:
            for id_ in ids:
                _encode_id(id_)  # validate before touching the index
            self.remove([i for i in ids if i in self._key_of])
            keys = np.arange(self._next_key, self._next_key + len(ids), dtype=np.uint64)
            self._next_key += len(ids)
            if len(ids):
                self._index.add(keys, mat)
            for id_, key in zip(ids, keys.tolist(), strict=True):
                self._key_of[id_] = key
                self._id_of[key] = id_

    def remove(self, ids: Iterable[Id]) -> int:
        with self._lock:
            keys = [self._key_of.pop(i) for i in dict.fromkeys(ids) if i in self._key_of]
            for key in keys:
                del self._id_of[key]
            if keys:
                self._index.remove(np.asarray(keys, dtype=np.uint64))
            return len(keys)

    def vectors(self, ids: Sequence[Id]) -> np.ndarray:
        keys = np.asarray([self._key_of[i] for i in ids], dtype=np.uint64)
        if len(keys) == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.asarray(self._index.get(keys, dtype=np.float32), dtype=np.float32).reshape(
            len(keys), self.dimension
        )

    # -- search ------------------------------------------------------------------------
    def _exact(self, q: np.ndarray, ids: list[Id], k: int) -> Result:
        if not ids:
            return []
        return _top_k(ids, self.vectors(ids) @ q, k)

    def _graph(self, q: np.ndarray, count: int, exact: bool = False) -> Result:
        matches = self._index.search(q, count, exact=exact)
        keys, dists = matches.keys.tolist(), matches.distances.tolist()
        ids = [self._id_of[key] for key in keys if key in self._id_of]
        sims = np.asarray([1.0 - d for key, d in zip(keys, dists, strict=True) if key in self._id_of])
        return _top_k(ids, sims, len(ids))

    def search(
        self, vector: np.ndarray, k: int = 10, *, filter_ids: Iterable[Id] | None = None
    ) -> Result:
        q = _query(vector, self.dimension)
        n = len(self)
        if k <= 0 or n == 0:
            return []
        if filter_ids is not None:
            wanted = [i for i in dict.fromkeys(filter_ids) if i in self._key_of]
            if len(wanted) <= self.exact_filter_max or n <= self.exact_below:
                return self._exact(q, wanted, k)
            allowed = set(wanted)
            # Over-fetch in proportion to how selective the filter is.
            count = min(n, max(4 * k, int(k * n / len(allowed) * 2)))
            hits = [(i, s) for i, s in self._graph(q, count) if i in allowed]
            if len(hits) >= k:
                return hits[:k]
            return self._exact(q, wanted, k)
        if n <= self.exact_below:
            return self._graph(q, min(n, k + 16), exact=True)[:k]
        # A few extra candidates so ties at the k-th place are broken by id.
        return self._graph(q, min(n, k + 8))[:k]

    # -- persistence -------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write ``path`` (the usearch graph) and ``path + '.ids.json'`` atomically."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            meta = {
                "dimension": self.dimension,
                "params": self._params,
                "next_key": self._next_key,
                "ids": [[key, *_encode_id(id_)] for id_, key in self._key_of.items()],
            }
            tmp_index, tmp_meta = path.with_name(path.name + ".tmp"), _meta_path(path, ".tmp")
            self._index.save(str(tmp_index))
            tmp_meta.write_text(json.dumps(meta))
            os.replace(tmp_index, path)
            os.replace(tmp_meta, _meta_path(path))

    @classmethod
    def load(cls, path: str | os.PathLike[str], **kwargs: int) -> InProcessIndex:
        path = Path(path)
        meta = json.loads(_meta_path(path).read_text())
        params = meta["params"]
        self = cls(meta["dimension"], **params, **kwargs)
        self._index.load(str(path))
        self._next_key = int(meta["next_key"])
        for key, kind, value in meta["ids"]:
            id_ = _decode_id([kind, value])
            self._key_of[id_] = int(key)
            self._id_of[int(key)] = id_
        return self


def _meta_path(path: Path, suffix: str = "") -> Path:
    return path.with_name(path.name + ".ids.json" + suffix)
