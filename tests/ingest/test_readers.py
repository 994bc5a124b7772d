from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from leadrank.errors import InvalidInput
from leadrank.ingest.readers import open_table

xlsxwriter = pytest.importorskip("xlsxwriter")


def rows_of(reader, chunk: int = 1000) -> list[tuple[int, list[str]]]:
    return [r for c in reader.iter_chunks(chunk) for r in c]


TEXT = "Name;City;Revenue\nJosé Müller;Zürich;€ 1.200\nRenée;Paris;\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252"])
def test_text_encodings(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "leads.csv"
    path.write_bytes(TEXT.encode(encoding))
    r = open_table(path)
    assert r.format == "csv"
    assert r.encoding == encoding
    assert r.delimiter == ";"
    assert r.headers == ["Name", "City", "Revenue"]
    assert rows_of(r) == [(2, ["José Müller", "Zürich", "€ 1.200"]), (3, ["Renée", "Paris", ""])]


def test_utf16_unicode_text_export_is_tab_separated(tmp_path: Path) -> None:
    # What Excel writes for "Unicode Text (*.txt)": UTF-16 LE with BOM, tabs, CRLF.
    text = "Email\tCompany\r\nana@example.com\tCafé Crème\r\n"
    path = tmp_path / "export.txt"
    path.write_bytes(text.encode("utf-16"))
    r = open_table(path)
    assert r.encoding == "utf-16"
    assert r.delimiter == "\t"
    assert rows_of(r) == [(2, ["ana@example.com", "Café Crème"])]


def test_utf16_big_endian_with_bom(tmp_path: Path) -> None:
    data = "\ufeffa\tb\r\n1\t2\r\n".encode("utf-16-be")
    r = open_table(data, filename="x.txt")
    assert r.headers == ["a", "b"]
    assert rows_of(r) == [(2, ["1", "2"])]


def test_utf8_with_a_stray_cp1252_byte_after_the_sample_still_reads() -> None:
    good = "".join(f"user{i}@example.com,Ok\n" for i in range(5000))
    data = ("email,company\n" + good).encode() + b"late@example.com,Caf\xe9\n"
    r = open_table(data)
    assert r.encoding == "utf-8"
    last = rows_of(r)[-1]
    assert last == (5002, ["late@example.com", "Café"])


@pytest.mark.parametrize("delim", [",", ";", "\t", "|"])
def test_delimiters_are_sniffed(delim: str) -> None:
    lines = [["Email", "Company", "Notes"],
             ["a@x.com", "Acme, Inc.", "likes; semicolons"],
             ["b@x.com", "Beta", "x"]]
    quoted = []
    for line in lines:
        quoted.append(delim.join(f'"{c}"' if ("," in c or ";" in c) else c for c in line))
    r = open_table(("\n".join(quoted) + "\n").encode())
    assert r.delimiter == delim
    assert rows_of(r)[0] == (2, ["a@x.com", "Acme, Inc.", "likes; semicolons"])


def test_explicit_delimiter_and_encoding_win() -> None:
    r = open_table("a,b;c\n1,2;3\n".encode("latin-1"), delimiter=";", encoding="latin-1")
    assert r.delimiter == ";"
    assert r.encoding == "iso8859-1"
    assert r.headers == ["a,b", "c"]
    with pytest.raises(InvalidInput, match="Unknown text encoding 'klingon'"):
        open_table(b"a,b\n", encoding="klingon")


def test_excel_sep_hint_line() -> None:
    r = open_table(b"sep=;\r\nEmail;Company\r\na@x.com;Acme, Inc\r\n")
    assert r.delimiter == ";"
    assert r.headers == ["Email", "Company"]
    assert rows_of(r) == [(2, ["a@x.com", "Acme, Inc"])]


def test_quoted_newlines_crlf_blank_lines_keep_true_row_numbers() -> None:
    data = (
        b'Email,Notes,Company\r\n'
        b'a@x.com,"line one\r\nline two, with comma",Acme\r\n'
        b'\r\n'
        b'b@x.com,"""quoted"" word",Beta\r\n'
        b',,\r\n'
        b'c@x.com,"three\nphysical\nlines",Gamma\r\n'
    )
    r = open_table(data)
    got = rows_of(r)
    assert [n for n, _ in got] == [2, 4, 6]
    assert got[0][1] == ["a@x.com", "line one\r\nline two, with comma", "Acme"]
    assert got[1][1] == ["b@x.com", '"quoted" word', "Beta"]
    assert got[2][1][1] == "three\nphysical\nlines"


def test_short_rows_are_padded_and_long_rows_keep_their_extra_cells() -> None:
    r = open_table(b"a,b,c\n1\n1,2,3,,\n1,2,3,4,5\n")
    assert rows_of(r) == [(2, ["1", "", ""]), (3, ["1", "2", "3"]), (4, ["1", "2", "3", "4", "5"])]


def test_duplicate_and_unnamed_headers() -> None:
    data = b"Email,Name,email,,Notes,,\nx@y.com,A,z@y.com,kept,n,,\n"
    r = open_table(data)
    assert r.headers == ["Email", "Name", "email_2", "Column D", "Notes"]
    assert rows_of(r) == [(2, ["x@y.com", "A", "z@y.com", "kept", "n"])]


def test_trailing_unnamed_column_with_data_is_kept() -> None:
    r = open_table(b"Email,Name,\nx@y.com,A,extra\n")
    assert r.headers == ["Email", "Name", "Column C"]


def test_leading_blank_lines_shift_the_header_row() -> None:
    r = open_table(b"\n\nEmail,Name\nx@y.com,A\n")
    assert r.header_row == 3
    assert rows_of(r) == [(4, ["x@y.com", "A"])]


def test_preview_and_start_row() -> None:
    data = "Email\n" + "".join(f"u{i}@x.com\n" for i in range(10))
    r = open_table(data.encode())
    assert r.preview(3) == [["u0@x.com"], ["u1@x.com"], ["u2@x.com"]]
    resumed = [n for c in r.iter_chunks(4, start_row=7) for n, _ in c]
    assert resumed == [7, 8, 9, 10, 11]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"  \r\n\n", "empty"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "PDF"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "PNG"),
        (bytes(range(256)) * 4, "binary"),
        (b"PK\x03\x04 not really a workbook", "could not be read as a spreadsheet"),
        (b"<html><body><table><tr><td>x</td></tr></table></body></html>", "HTML"),
    ],
)
def test_unsupported_files_raise_invalid_input(data: bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        open_table(data, filename="upload.csv")


def test_missing_file() -> None:
    with pytest.raises(InvalidInput, match="not found"):
        open_table(Path("/nonexistent/leads.csv"))


def test_unbalanced_quote_reports_a_row() -> None:
    big = "x" * 200_000
    data = f'a,b\n1,"{big}\n2,3\n'.encode()
    with pytest.raises(InvalidInput, match="Row 2 could not be read.*closing quote"):
        rows_of(open_table(data))
    # The same problem far into the file surfaces while streaming, with its row number.
    early = "".join(f"{i},x\n" for i in range(300))
    r = open_table(f"a,b\n{early}1,\"{big}\n2,3\n".encode())
    with pytest.raises(InvalidInput, match="Row 302"):
        rows_of(r)


# ---------------------------------------------------------------------------- XLSX


def make_xlsx(path: Path) -> Path:
    wb = xlsxwriter.Workbook(str(path))
    date_fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
    dt_fmt = wb.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    first = wb.add_worksheet("Leads")
    first.write_row(0, 0, ["Email", "Employees", "Revenue", "Created", "Seen", "Phone",
                           "Converted", "Email"])
    first.write_row(1, 0, ["a@x.com", 250, 1500000.5])
    first.write_datetime(1, 3, dt.datetime(2024, 3, 5), date_fmt)
    first.write_datetime(1, 4, dt.datetime(2024, 3, 5, 14, 22), dt_fmt)
    first.write_number(1, 5, 4155550100)
    first.write_boolean(1, 6, True)
    first.write(1, 7, "dup@x.com")
    # row 3 left empty: skipped, numbering stays true
    first.write_row(3, 0, ["b@x.com", 12.0])
    second = wb.add_worksheet("Other Sheet")
    second.write_row(2, 1, ["Company", "Country"])  # header at B3
    second.write_row(3, 1, ["Acme", "DE"])
    wb.add_worksheet("Empty")
    wb.close()
    return path


def test_xlsx_first_sheet(tmp_path: Path) -> None:
    r = open_table(make_xlsx(tmp_path / "leads.xlsx"))
    assert r.format == "xlsx"
    assert r.sheet == "Leads"
    assert r.sheet_names == ["Leads", "Other Sheet", "Empty"]
    assert r.headers == ["Email", "Employees", "Revenue", "Created", "Seen", "Phone",
                         "Converted", "Email_2"]
    assert rows_of(r) == [
        (2, ["a@x.com", "250", "1500000.5", "2024-03-05", "2024-03-05 14:22:00", "4155550100",
             "TRUE", "dup@x.com"]),
        (4, ["b@x.com", "12", "", "", "", "", "", ""]),
    ]


def test_xlsx_from_bytes_and_named_sheet_keeps_sheet_row_numbers(tmp_path: Path) -> None:
    data = make_xlsx(tmp_path / "leads.xlsx").read_bytes()
    r = open_table(data, filename="upload.xlsx", sheet="other sheet")
    assert r.sheet == "Other Sheet"
    assert r.header_row == 3
    assert r.headers == ["Company", "Country"]
    assert rows_of(r) == [(4, ["Acme", "DE"])]


def test_xlsx_missing_sheet_lists_the_sheets(tmp_path: Path) -> None:
    path = make_xlsx(tmp_path / "leads.xlsx")
    with pytest.raises(InvalidInput, match="'Contacts' was not found.*'Leads', 'Other Sheet'"):
        open_table(path, sheet="Contacts")


def test_xlsx_empty_sheet(tmp_path: Path) -> None:
    path = make_xlsx(tmp_path / "leads.xlsx")
    with pytest.raises(InvalidInput, match="'Empty' is empty"):
        open_table(path, sheet="Empty")
