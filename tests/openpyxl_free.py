"""Read an XLSX back in tests with python-calamine (already a dependency)."""

from __future__ import annotations

import io

from python_calamine import CalamineWorkbook


def read_xlsx_rows(content: bytes) -> list[list[object]]:
    book = CalamineWorkbook.from_filelike(io.BytesIO(content))
    return book.get_sheet_by_index(0).to_python()
