"""Read uploaded tables (CSV / TSV / XLSX / XLS / ODS) as streams of string rows.

``open_table`` looks at the bytes, picks a format, and returns a :class:`TableReader`:

* ``headers``: the header row as the user wrote it (trimmed; a repeated header gets a
  suffix: ``Email``, ``Email_2``; an unnamed column that holds data is called
  ``Column D`` after its spreadsheet letter; trailing unnamed, empty columns are dropped).
* ``iter_chunks(chunk_rows, start_row)``: lists of ``(row_number, cells)``. ``row_number``
  is the row a spreadsheet shows (header row = 1 in a normal file). Rows are padded to
  the header width; a row that still has non-empty cells beyond the header is yielded
  *longer* than the header so validation can reject it with the count. Blank records are
  skipped but still counted, so numbers stay true.

CSV is streamed from a file handle (a million-row file is never held in memory); the
encoding and delimiter are detected on the first 64 KiB. Spreadsheet files are read with
``python-calamine`` (the sheet is loaded by calamine, rows are converted lazily).
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import re
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import BinaryIO

from leadrank.errors import InvalidInput

__all__ = ["TableReader", "CsvTableReader", "SpreadsheetTableReader", "open_table"]

SAMPLE_BYTES = 64 * 1024
SAMPLE_RECORDS = 200
DELIMITERS = (",", ";", "\t", "|")
_FALLBACK_ERRORS = "leadrank-cp1252-fallback"


def _cp1252_fallback(exc: UnicodeError) -> tuple[str, int]:
    """Decode bytes the chosen codec rejects as cp1252 (then latin-1), never failing.

    Used so that a UTF-8 file with one stray cp1252 byte deep inside (a sample only sees
    the start) still reads, and so that cp1252's five undefined bytes read as latin-1.
    """
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    bad = exc.object[exc.start : exc.end]
    out = []
    for b in bad:
        try:
            out.append(bytes([b]).decode("cp1252"))
        except UnicodeDecodeError:
            out.append(chr(b))
    return "".join(out), exc.end


codecs.register_error(_FALLBACK_ERRORS, _cp1252_fallback)

_BINARY_MAGIC = (
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"GIF8", "a GIF image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"{\\rtf", "an RTF document"),
)
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_SPREADSHEET_EXT = {".xlsx": "xlsx", ".xlsm": "xlsx", ".xlsb": "xlsb", ".xls": "xls", ".ods": "ods"}
_SEP_LINE = re.compile(r"^\s*sep=(.)\s*$", re.IGNORECASE)
_WS_TRANSLATE = str.maketrans({"\ufeff": None, "\u200b": None, "\u200c": None,
                               "\u200d": None, "\u2060": None, "\xa0": " "})


def column_letter(index: int) -> str:
    """0 -> 'A', 25 -> 'Z', 26 -> 'AA' (spreadsheet column names)."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _clean_header(value: str) -> str:
    value = value.translate(_WS_TRANSLATE)
    if value.startswith("ï»¿"):  # a UTF-8 BOM read as cp1252 somewhere upstream
        value = value[3:]
    return " ".join(value.split())


def _finish_headers(raw: list[str], data_width: int, col_offset: int = 0) -> list[str]:
    """Trim, name unnamed columns, drop trailing unnamed empty ones, de-duplicate.

    A trailing header cell that is blank is kept (as ``Column X``) only when sampled rows
    hold data under it; cells beyond the header row's own width are extras (a broken
    row), not a column.
    """
    cleaned = [_clean_header(h) for h in raw]
    last_named = max((i for i, h in enumerate(cleaned) if h), default=-1)
    width = max(last_named + 1, min(len(cleaned), data_width))
    cleaned = (cleaned + [""] * width)[:width]
    seen: set[str] = {h.casefold() for h in cleaned if h}
    used: set[str] = set()
    out: list[str] = []
    for i, h in enumerate(cleaned):
        if not h:
            h = f"Column {column_letter(i + col_offset)}"
        base, n, name = h, 1, h
        while name.casefold() in used or (name is not h and name.casefold() in seen):
            n += 1
            name = f"{base}_{n}"
        used.add(name.casefold())
        out.append(name)
    return out


def _fit_row(cells: list[str], width: int) -> list[str]:
    """Pad a short row; trim empty trailing cells of a long one (keep real extras)."""
    n = len(cells)
    if n < width:
        cells.extend([""] * (width - n))
    elif n > width:
        while n > width and not cells[n - 1].strip():
            n -= 1
        del cells[n:]
    return cells


class TableReader:
    """A table of string cells, read lazily. See the module docstring."""

    format: str
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    sheet_names: list[str]
    headers: list[str]
    header_row: int

    def _rows(self) -> Iterator[tuple[int, list[str]]]:  # pragma: no cover - abstract
        raise NotImplementedError

    def iter_chunks(
        self, chunk_rows: int, start_row: int = 2
    ) -> Iterator[list[tuple[int, list[str]]]]:
        """Yield lists of at most ``chunk_rows`` ``(row_number, cells)`` data rows.

        Rows numbered below ``start_row`` are skipped (a resumed job passes the next row
        it has not processed). Empty rows are skipped; numbering stays true.
        """
        if chunk_rows < 1:
            raise ValueError("chunk_rows must be at least 1")
        width = len(self.headers)
        chunk: list[tuple[int, list[str]]] = []
        append = chunk.append
        for row_number, cells in self._rows():
            if row_number < start_row:
                continue
            if len(cells) != width:
                cells = _fit_row(cells, width)
            append((row_number, cells))
            if len(chunk) >= chunk_rows:
                yield chunk
                chunk = []
                append = chunk.append
        if chunk:
            yield chunk

    def preview(self, n: int = 20) -> list[list[str]]:
        """The first ``n`` data rows (padded to the header width)."""
        out: list[list[str]] = []
        if n <= 0:
            return out
        for chunk in self.iter_chunks(n):
            out.extend(cells for _, cells in chunk)
            break
        return out

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} format={self.format!r} encoding={self.encoding!r} "
            f"delimiter={self.delimiter!r} sheet={self.sheet!r} columns={len(self.headers)}>"
        )


# --------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------


def _detect_encoding(sample: bytes, whole: bool) -> str:
    """BOM first; then UTF-16 without BOM by its NUL pattern; then UTF-8; else cp1252."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith(codecs.BOM_UTF32_LE) or sample.startswith(codecs.BOM_UTF32_BE):
        return "utf-32"
    if sample.startswith(codecs.BOM_UTF16_LE) or sample.startswith(codecs.BOM_UTF16_BE):
        return "utf-16"
    head = sample[:4000]
    if len(head) >= 4 and head.count(0):
        even_nul = head[0::2].count(0)
        odd_nul = head[1::2].count(0)
        half = len(head) / 2
        if odd_nul > 0.3 * half and even_nul < 0.05 * half:
            return "utf-16-le"
        if even_nul > 0.3 * half and odd_nul < 0.05 * half:
            return "utf-16-be"
        raise InvalidInput(
            "This file looks binary (it contains NUL bytes); upload a CSV or an Excel file."
        )
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=whole)
        return "utf-8"
    except UnicodeDecodeError:
        return "cp1252"


def _looks_binary(text: str) -> bool:
    if not text:
        return False
    control = sum(1 for ch in text[:4000] if ord(ch) < 32 and ch not in "\t\r\n\f\v")
    return control > 0.02 * min(len(text), 4000)


def _sniff_delimiter(lines: list[str]) -> str:
    """Pick the delimiter giving a multi-column header that most rows agree with."""
    best: tuple[float, int, int] | None = None
    choice = ","
    text = "\n".join(lines)
    for priority, delim in enumerate(DELIMITERS):
        try:
            records = [r for r in csv.reader(io.StringIO(text), delimiter=delim) if r]
        except csv.Error:
            continue
        if not records:
            continue
        header_width = len(records[0])
        if header_width < 2:
            continue
        body = records[1:] or records
        agree = sum(1 for r in body if len(r) == header_width) / len(body)
        key = (agree, header_width, -priority)
        if best is None or key > best:
            best, choice = key, delim
    return choice


class CsvTableReader(TableReader):
    format = "csv"

    def __init__(
        self,
        source: Path | bytes,
        *,
        encoding: str | None,
        delimiter: str | None,
        head: bytes,
        size: int,
    ) -> None:
        self._source = source
        whole = size <= len(head)
        if encoding is None:
            encoding = _detect_encoding(head, whole)
        else:
            try:
                encoding = codecs.lookup(encoding).name
            except LookupError:
                raise InvalidInput(f"Unknown text encoding '{encoding}'.") from None
        self.encoding = encoding
        decoder = codecs.getincrementaldecoder(encoding)(errors=_FALLBACK_ERRORS)
        text = decoder.decode(head, final=whole)
        if _looks_binary(text):
            raise InvalidInput(
                "This file does not look like text; upload a CSV (comma, semicolon, tab or "
                "pipe separated) or an Excel file."
            )
        lines = text.splitlines()
        if not whole and lines:
            lines = lines[:-1]  # the sample may end inside a line
        self._skip_sep_line = False
        meaningful = [ln for ln in lines if ln.strip()]
        if meaningful and _SEP_LINE.match(meaningful[0]) and lines and lines[0] == meaningful[0]:
            sep = _SEP_LINE.match(meaningful[0]).group(1)  # type: ignore[union-attr]
            self._skip_sep_line = True
            lines = lines[1:]
            if delimiter is None:
                delimiter = sep
        if delimiter is None:
            delimiter = _sniff_delimiter([ln for ln in lines if ln.strip()][:SAMPLE_RECORDS])
        elif len(delimiter) != 1:
            raise InvalidInput(f"The delimiter must be one character, got '{delimiter}'.")
        self.delimiter = delimiter

        raw_header: list[str] | None = None
        data_width = 0
        seen_records = 0
        for row_number, cells in self._records():
            if raw_header is None:
                raw_header = cells
                self.header_row = row_number
                continue
            seen_records += 1
            last = len(cells)
            while last and not cells[last - 1].strip():
                last -= 1
            data_width = max(data_width, last)
            if seen_records >= SAMPLE_RECORDS:
                break
        if raw_header is None or not any(h.strip() for h in raw_header):
            raise InvalidInput("The file has no header row (it is empty or blank).")
        self.headers = _finish_headers(raw_header, data_width)
        self.sheet_names = []

    def _open(self) -> BinaryIO:
        if isinstance(self._source, bytes | bytearray | memoryview):
            return io.BytesIO(self._source)
        return open(self._source, "rb")  # noqa: SIM115 - closed by the caller

    def _records(self) -> Iterator[tuple[int, list[str]]]:
        """All non-blank records after the header search, numbered as Excel would."""
        with self._open() as raw:
            text = io.TextIOWrapper(raw, encoding=self.encoding, errors=_FALLBACK_ERRORS,
                                    newline="")
            reader = csv.reader(text, delimiter=self.delimiter or ",")
            row_number = 0
            try:
                if self._skip_sep_line:
                    for first in reader:
                        if first:  # blank lines before "sep=" are not rows either
                            break
                for cells in reader:
                    row_number += 1
                    if any(cells):  # some non-empty cell (no cells, or all empty: blank)
                        yield row_number, cells
            except csv.Error as exc:
                raise InvalidInput(
                    f"Row {row_number + 1} could not be read as CSV ({exc}); a quoted field "
                    "may be missing its closing quote.",
                    details={"row_number": row_number + 1},
                ) from None

    def _rows(self) -> Iterator[tuple[int, list[str]]]:
        records = self._records()
        for row_number, _ in records:  # the header
            if row_number >= self.header_row:
                break
        yield from records


# --------------------------------------------------------------------------------------
# Spreadsheets (calamine)
# --------------------------------------------------------------------------------------


def _cell_to_str(value: object) -> str:
    if value is None:
        return ""
    t = type(value)
    if t is str:
        return value  # type: ignore[return-value]
    if t is float:
        f: float = value  # type: ignore[assignment]
        if math.isfinite(f) and f.is_integer() and abs(f) < 1e16:
            return str(int(f))
        return repr(f)
    if t is bool:
        return "TRUE" if value else "FALSE"
    if t is int:
        return str(value)
    if t is datetime:
        dt: datetime = value  # type: ignore[assignment]
        if dt.hour == dt.minute == dt.second == dt.microsecond == 0:
            return dt.date().isoformat()
        return dt.isoformat(sep=" ", timespec="seconds" if not dt.microsecond else "auto")
    if t is date:
        return value.isoformat()  # type: ignore[attr-defined]
    if t is time:
        return value.isoformat()  # type: ignore[attr-defined]
    if t is timedelta:
        return str(value)
    return str(value)


class SpreadsheetTableReader(TableReader):
    def __init__(self, source: Path | bytes, *, kind: str, sheet: str | None) -> None:
        import python_calamine as calamine

        self.format = kind
        try:
            if isinstance(source, bytes | bytearray | memoryview):
                book = calamine.CalamineWorkbook.from_filelike(io.BytesIO(bytes(source)))
            else:
                book = calamine.CalamineWorkbook.from_path(str(source))
        except calamine.PasswordError:
            raise InvalidInput(
                "This workbook is password-protected; remove the password."
            ) from None
        except Exception as exc:  # calamine raises several unrelated types for bad files
            raise InvalidInput(
                f"This file could not be read as a spreadsheet ({exc}). Upload a CSV, XLSX "
                "or XLS file.") from None
        self.sheet_names = list(book.sheet_names)
        worksheets = [m.name for m in book.sheets_metadata
                      if m.typ == calamine.SheetTypeEnum.WorkSheet]
        if sheet is None:
            visible = [m.name for m in book.sheets_metadata
                       if m.typ == calamine.SheetTypeEnum.WorkSheet
                       and m.visible == calamine.SheetVisibleEnum.Visible]
            candidates = visible or worksheets
            if not candidates:
                raise InvalidInput("This workbook has no worksheet.")
            name = candidates[0]
        else:
            wanted = " ".join(sheet.split()).casefold()
            matches = [n for n in self.sheet_names if n == sheet] or [
                n for n in self.sheet_names if " ".join(n.split()).casefold() == wanted]
            if not matches:
                listed = ", ".join(f"'{n}'" for n in self.sheet_names)
                raise InvalidInput(
                    f"Sheet '{sheet}' was not found; this workbook has: {listed}.",
                    details={"sheet_names": self.sheet_names},
                )
            name = matches[0]
        self.sheet = name
        try:
            self._sheet = book.get_sheet_by_name(name)
        except Exception as exc:
            raise InvalidInput(f"Sheet '{name}' could not be read ({exc}).") from None
        start = self._sheet.start
        self._col_offset = start[1] if start else 0

        raw_header: list[str] | None = None
        data_width = 0
        seen = 0
        for row_number, cells in self._all_rows():
            if raw_header is None:
                raw_header = cells
                self.header_row = row_number
                continue
            seen += 1
            last = len(cells)
            while last and not cells[last - 1].strip():
                last -= 1
            data_width = max(data_width, last)
            if seen >= SAMPLE_RECORDS:
                break
        if raw_header is None:
            raise InvalidInput(f"Sheet '{name}' is empty.")
        self.headers = _finish_headers(raw_header, data_width, self._col_offset)
        self._header_width_raw = len(raw_header)

    def _all_rows(self) -> Iterator[tuple[int, list[str]]]:
        conv = _cell_to_str
        # calamine's iter_rows starts at sheet row 1 (leading empty rows come back blank),
        # so the enumeration index is the row number a spreadsheet shows.
        for row_number, values in enumerate(self._sheet.iter_rows(), start=1):
            cells = [v if type(v) is str else conv(v) for v in values]
            for c in cells:
                if c and not c.isspace():
                    yield row_number, cells
                    break

    def _rows(self) -> Iterator[tuple[int, list[str]]]:
        for row_number, cells in self._all_rows():
            if row_number > self.header_row:
                yield row_number, cells


# --------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------


def _read_head(source: Path | bytes) -> tuple[bytes, int]:
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        return data[:SAMPLE_BYTES], len(data)
    try:
        with open(source, "rb") as fh:
            head = fh.read(SAMPLE_BYTES)
            fh.seek(0, io.SEEK_END)
            return head, fh.tell()
    except FileNotFoundError:
        raise InvalidInput(f"File not found: {source}") from None
    except IsADirectoryError:
        raise InvalidInput(f"Not a file: {source}") from None


def open_table(
    source: Path | str | bytes,
    *,
    filename: str | None = None,
    sheet: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
) -> TableReader:
    """Open an uploaded table. ``source`` is a path or the file's bytes.

    The format is decided by content (zip / OLE signatures), then by ``filename``'s
    extension; anything else is read as delimited text. ``sheet`` picks a worksheet by
    name (default: the first visible one); ``encoding`` and ``delimiter`` override
    detection for text files. Raises ``InvalidInput`` for empty, binary or unreadable
    files and for a missing sheet (the message lists the sheets).
    """
    if isinstance(source, str):
        source = Path(source)
    if isinstance(source, bytearray | memoryview):
        source = bytes(source)
    head, size = _read_head(source)
    name = filename or (source.name if isinstance(source, Path) else None)
    ext = Path(name).suffix.lower() if name else ""
    if size == 0 or not head.strip(b" \t\r\n\x00\xef\xbb\xbf\xff\xfe"):
        raise InvalidInput("The file is empty.")

    if head.startswith(_ZIP_MAGIC):
        kind = _SPREADSHEET_EXT.get(ext, "xlsx")
        if ext not in _SPREADSHEET_EXT and b"mimetypeapplication/vnd.oasis" in head[:200]:
            kind = "ods"
        return SpreadsheetTableReader(source, kind=kind, sheet=sheet)
    if head.startswith(_OLE_MAGIC):
        return SpreadsheetTableReader(source, kind=_SPREADSHEET_EXT.get(ext, "xls"), sheet=sheet)
    for magic, what in _BINARY_MAGIC:
        if head.startswith(magic):
            raise InvalidInput(f"This file is {what}, not a CSV or Excel file.")
    start = head.lstrip(b" \t\r\n" + codecs.BOM_UTF8)[:200].lower()
    if start.startswith((b"<!doctype html", b"<html", b"<table", b"<?xml")):
        raise InvalidInput(
            "This file is an HTML/XML page (some CRMs export those as .xls); open it in Excel "
            "and save it as XLSX or CSV."
        )
    # Anything else (including a .xls/.xlsx name on plain text, which some tools write) is
    # read as delimited text; CsvTableReader refuses it if it does not look like text.
    return CsvTableReader(source, encoding=encoding, delimiter=delimiter, head=head, size=size)
