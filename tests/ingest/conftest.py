"""Most ingest tests are database-free (test_activity_store runs the upload job on both
databases). Make ``src/`` importable when the package is not
installed into the venv yet (the project layout is a src layout)."""

from __future__ import annotations

import sys
from pathlib import Path

try:
    import leadrank  # noqa: F401
except ImportError:  # pragma: no cover - depends on how the venv was set up
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
