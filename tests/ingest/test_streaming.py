from __future__ import annotations

import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import pytest

from leadrank.ingest.mapping import suggest_mapping
from leadrank.ingest.readers import open_table
from leadrank.ingest.validate import coerce_lead_rows

N = 200_000


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("stream") / "big.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("Email,Company,Employees,Notes\r\n")
        for i in range(N):
            # every 1000th record spans two physical lines: numbering must count records
            note = '"multi\r\nline"' if i % 1000 == 0 else "plain"
            fh.write(f"user{i}@example.com,Company {i % 977},{i % 500 + 1},{note}\r\n")
    return path


def test_chunks_have_the_requested_size_and_true_row_numbers(big_csv: Path) -> None:
    reader = open_table(big_csv)
    sizes = []
    first_last = []
    for chunk in reader.iter_chunks(7_000):
        sizes.append(len(chunk))
        first_last.append((chunk[0][0], chunk[-1][0]))
    assert sum(sizes) == N
    assert all(s == 7_000 for s in sizes[:-1])
    assert sizes[-1] == N - 7_000 * (len(sizes) - 1)
    assert first_last[0][0] == 2
    assert first_last[-1][1] == N + 1
    # chunks are contiguous: no row lost or repeated between them
    assert all(b[0] == a[1] + 1 for a, b in zip(first_last, first_last[1:], strict=False))


def test_start_row_resumes_exactly(big_csv: Path) -> None:
    reader = open_table(big_csv)
    chunks = reader.iter_chunks(5_000, start_row=123_457)
    first = next(chunks)
    assert first[0][0] == 123_457
    assert first[0][1][0] == "user123455@example.com"
    rest = sum(len(c) for c in chunks)
    assert len(first) + rest == N + 1 - 123_457 + 1


def test_reading_streams_instead_of_loading_the_file(big_csv: Path) -> None:
    size = big_csv.stat().st_size
    reader = open_table(big_csv)
    tracemalloc.start()
    try:
        chunks = reader.iter_chunks(500)
        got = [next(chunks), next(chunks)]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [len(c) for c in got] == [500, 500]
    # Loading the file (or all its rows) would cost more than the file's size.
    assert peak < size / 5, (peak, size)
    chunks.close()


def test_end_to_end_chunks_coerce_with_resumable_row_numbers(big_csv: Path) -> None:
    reader = open_table(big_csv)
    mapping = suggest_mapping(reader.headers)
    now = datetime(2025, 1, 1, tzinfo=UTC)
    stored = 0
    for chunk in reader.iter_chunks(10_000, start_row=190_002):
        records, rejects = coerce_lead_rows(chunk, reader.headers, mapping,
                                            default_created_at=now)
        assert rejects == []
        stored += len(records)
    assert stored == 10_000
    assert records[-1]["email"] == f"user{N - 1}@example.com"
    assert records[-1]["company_size"] == (N - 1) % 500 + 1
