"""The in-process embedding store shared by several processes through one data directory
(the API's web workers and ``leadrank worker`` processes on PostgreSQL without pgvector)."""

from __future__ import annotations

import multiprocessing
import uuid
from pathlib import Path

import numpy as np

from leadrank.similarity.store import LocalEmbeddingStore

DIM = 16
WS = uuid.UUID("00000000-0000-4000-8000-00000000000a")


def _vectors(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)


def _add(store: LocalEmbeddingStore, ids: list[uuid.UUID], seed: int) -> np.ndarray:
    vecs = _vectors(len(ids), seed)
    store.upsert(WS, ids, vecs, model_id="m", content_hashes=[f"h{seed}"] * len(ids))
    return vecs


def test_each_store_sees_the_changes_of_the_others(tmp_path: Path) -> None:
    first, second = LocalEmbeddingStore(tmp_path, DIM), LocalEmbeddingStore(tmp_path, DIM)
    a, b = [uuid.uuid4() for _ in range(30)], [uuid.uuid4() for _ in range(30)]
    assert first.count(WS) == second.count(WS) == 0  # both hold a copy before either writes
    vecs_a = _add(first, a, 1)
    _add(second, b, 2)  # brings its copy up to date first: a's vectors are kept
    _add(first, a[:5], 3)  # and again the other way round
    for store in (first, second, LocalEmbeddingStore(tmp_path, DIM)):
        assert store.count(WS) == 60
        assert store.content_hashes(WS, [a[0], a[10], b[0]]) == {a[0]: "h3", a[10]: "h1", b[0]: "h2"}
        hit, score = store.search(WS, vecs_a[10], 1)[0]
        assert hit == a[10] and score > 0.99
    assert second.delete(b[:10], workspace_id=WS) == 10
    assert first.count(WS) == 50 and b[0] not in dict(first.search(WS, _vectors(30, 2)[0], 50))
    assert second.delete_workspace(WS) == 50
    assert first.count(WS) == 0


def _embed_in_another_process(root: str, ids: list[str], seed: int) -> None:
    store = LocalEmbeddingStore(root, DIM)
    for start in range(0, len(ids), 25):  # one upsert per chunk, as the embedding job does
        part = [uuid.UUID(i) for i in ids[start:start + 25]]
        _add(store, part, seed + start)


def test_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    ids = [[str(uuid.uuid4()) for _ in range(200)] for _ in range(3)]
    spawn = multiprocessing.get_context("spawn")
    procs = [spawn.Process(target=_embed_in_another_process, args=(str(tmp_path), part, 1000 * k))
             for k, part in enumerate(ids)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
        assert proc.exitcode == 0
    store = LocalEmbeddingStore(tmp_path, DIM)
    assert store.count(WS) == 600
    wanted = {uuid.UUID(i): "h0" for i in ids[0][:25]}
    assert store.stale(WS, wanted) == []
