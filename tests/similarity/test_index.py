from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pytest

from leadrank.similarity.index import BruteForceIndex, InProcessIndex, VectorIndex
from tests.similarity.conftest import clustered_vectors

DIM = 64


@pytest.fixture(scope="module")
def data() -> tuple[list[uuid.UUID], np.ndarray, np.ndarray]:
    vecs = clustered_vectors(3000, DIM, seed=1)
    ids = [uuid.UUID(int=i + 1) for i in range(len(vecs))]
    queries = clustered_vectors(50, DIM, seed=1)[:50] + 0.05
    return ids, vecs, queries


def _ids(result: list) -> list:
    return [i for i, _ in result]


@pytest.mark.parametrize("exact_below", [10**9, 0], ids=["exact-path", "hnsw-path"])
def test_in_process_index_matches_brute_force(data, exact_below: int) -> None:  # noqa: ANN001
    ids, vecs, queries = data
    brute, hnsw = BruteForceIndex(DIM), InProcessIndex(DIM, exact_below=exact_below)
    assert isinstance(brute, VectorIndex) and isinstance(hnsw, VectorIndex)
    brute.add(ids, vecs)
    hnsw.add(ids, vecs)
    assert len(brute) == len(hnsw) == 3000
    agree = 0
    for q in queries:
        b, h = brute.search(q, 10), hnsw.search(q, 10)
        assert len(b) == len(h) == 10
        np.testing.assert_allclose([s for _, s in h], sorted((s for _, s in h), reverse=True))
        agree += len(set(_ids(b)) & set(_ids(h)))
        if exact_below:
            assert _ids(b) == _ids(h)
            np.testing.assert_allclose([s for _, s in b], [s for _, s in h], atol=1e-5)
    assert agree / (10 * len(queries)) >= 0.98


@pytest.mark.parametrize("kind", ["brute", "hnsw"])
def test_removed_leads_are_gone(data, kind: str) -> None:  # noqa: ANN001
    ids, vecs, queries = data
    index = BruteForceIndex(DIM) if kind == "brute" else InProcessIndex(DIM, exact_below=0)
    index.add(ids, vecs)
    top = _ids(index.search(queries[0], 5))
    assert index.remove([top[0], top[1], uuid.uuid4()]) == 2
    assert len(index) == 2998 and top[0] not in index
    after = _ids(index.search(queries[0], 50))
    assert top[0] not in after and top[1] not in after and after[:3] == top[2:5]
    # Re-adding replaces rather than duplicates.
    index.add([top[2]], vecs[ids.index(top[2])][None, :])
    assert len(index) == 2998
    assert _ids(index.search(queries[0], 50)).count(top[2]) == 1


@pytest.mark.parametrize("kind", ["brute", "hnsw"])
def test_filter_ids_restricts_results(data, kind: str) -> None:  # noqa: ANN001
    ids, vecs, queries = data
    index = BruteForceIndex(DIM) if kind == "brute" else InProcessIndex(DIM, exact_below=0, exact_filter_max=0)
    index.add(ids, vecs)
    allowed = set(ids[::3])
    got = index.search(queries[1], 10, filter_ids=allowed)
    assert len(got) == 10 and all(i in allowed for i, _ in got)
    brute = BruteForceIndex(DIM)
    brute.add(ids, vecs)
    expected = brute.search(queries[1], 10, filter_ids=allowed)
    assert len(set(_ids(got)) & set(_ids(expected))) >= 9


def test_ties_are_broken_by_id() -> None:
    v = np.ones((5, 4), dtype=np.float32)
    for index in (BruteForceIndex(4), InProcessIndex(4)):
        index.add(["e", "b", "d", "a", "c"], v)
        assert _ids(index.search(np.ones(4), 3)) == ["a", "b", "c"]


def test_rejects_empty_vectors_and_wrong_dimensions() -> None:
    for index in (BruteForceIndex(4), InProcessIndex(4)):
        with pytest.raises(ValueError, match="non-zero"):
            index.add(["x"], np.zeros((1, 4)))
        with pytest.raises(ValueError, match="dimension"):
            index.add(["x"], np.ones((1, 5)))
        assert len(index) == 0


def test_save_and_load_round_trip(tmp_path: Path, data) -> None:  # noqa: ANN001
    ids, vecs, queries = data
    index = InProcessIndex(DIM, exact_below=0)
    index.add(ids[:1000], vecs[:1000])
    index.remove(ids[:10])
    path = tmp_path / "ws" / "index.usearch"
    index.save(path)
    loaded = InProcessIndex.load(path)
    assert len(loaded) == 990 and ids[0] not in loaded and ids[10] in loaded
    assert isinstance(next(iter(loaded.search(queries[0], 1)))[0], uuid.UUID)
    brute = BruteForceIndex(DIM)
    brute.add(ids[10:1000], vecs[10:1000])
    for q in queries[:10]:  # the loaded graph answers like the exact search
        assert len(set(_ids(loaded.search(q, 10))) & set(_ids(brute.search(q, 10)))) >= 9
    loaded.add(ids[1000:1010], vecs[1000:1010])  # keys continue after the saved ones
    assert len(loaded) == 1000
