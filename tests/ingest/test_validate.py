from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from leadrank.errors import InvalidInput
from leadrank.ingest.mapping import suggest_activity_mapping, suggest_mapping
from leadrank.ingest.parsers import (
    normalize_website,
    parse_company_size,
    parse_datetime,
    parse_email,
    parse_outcome,
    parse_revenue,
    split_full_name,
)
from leadrank.ingest.validate import LeadCoercer, coerce_activity_rows, coerce_lead_rows
from leadrank.models.activity import ACTIVITY_TYPES
from leadrank.models.lead import LEAD_FIELDS

NOW = datetime(2025, 1, 15, 9, 30, tzinfo=UTC)


def coerce(headers: list[str], *rows: list[str], mapping: dict | None = None, **kw):
    numbered = [(i + 2, list(r)) for i, r in enumerate(rows)]
    return coerce_lead_rows(numbered, list(headers), mapping or suggest_mapping(headers),
                            default_created_at=NOW, **kw)


def one(headers: list[str], row: list[str], **kw) -> dict:
    records, rejects = coerce(headers, row, **kw)
    assert rejects == []
    assert len(records) == 1
    return records[0]


def rejected(headers: list[str], row: list[str], **kw):
    records, rejects = coerce(headers, row, **kw)
    assert records == []
    assert len(rejects) == 1
    return rejects[0]


# ------------------------------------------------------------------ field parsers


@pytest.mark.parametrize(
    ("raw", "size"),
    [("250", 250), ("1,200", 1200), ("1.200", 1200), ("1 200", 1200), ("51-200", 125),
     ("51 - 200", 125), ("1,001-5,000", 3000), ("10k", 10000), ("2.5K", 2500), ("500+", 500),
     ("10,001+", 10001), (">500", 500), ("1000 employees", 1000), ("11-50 employees", 30),
     ("Self-employed", 1), ("self employed", 1), ("Freelancer", 1), ("12.0", 12),
     ("10 to 50", 30), ("10k-50k", 30000)],
)
def test_company_size(raw: str, size: int) -> None:
    assert parse_company_size(raw) == size


@pytest.mark.parametrize("raw", ["abc", "lots", "1-2-3", "50-10", "-5"])
def test_company_size_rejects(raw: str) -> None:
    with pytest.raises(ValueError, match=f"company size '{raw}' is not a number or range"):
        parse_company_size(raw)


@pytest.mark.parametrize(
    ("raw", "amount"),
    [("1500000", 1_500_000.0), ("$1,500,000", 1_500_000.0), ("€1.234.567,89", 1_234_567.89),
     ("1,234,567.89", 1_234_567.89), ("$1.5M", 1_500_000.0), ("2bn", 2e9), ("750k", 750_000.0),
     ("USD 10 million", 1e7), ("£ 1,5 Mio", 1_500_000.0), ("$1M-$10M", 5_500_000.0),
     ("1-10M", 5_500_000.0), ("12.5", 12.5), ("1.200", 1200.0)],
)
def test_revenue(raw: str, amount: float) -> None:
    assert parse_revenue(raw) == pytest.approx(amount)


def test_revenue_rejects() -> None:
    with pytest.raises(ValueError, match="annual revenue 'a lot' is not an amount"):
        parse_revenue("a lot")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("2024-03-05", datetime(2024, 3, 5, tzinfo=UTC)),
     ("2024-03-05 14:22", datetime(2024, 3, 5, 14, 22, tzinfo=UTC)),
     ("2024-03-05T14:22:00Z", datetime(2024, 3, 5, 14, 22, tzinfo=UTC)),
     ("2024-03-05T16:22:00+02:00", datetime(2024, 3, 5, 14, 22, tzinfo=UTC)),
     ("2024-3-5", datetime(2024, 3, 5, tzinfo=UTC)),
     ("12/31/2024", datetime(2024, 12, 31, tzinfo=UTC)),
     ("31/12/2024", datetime(2024, 12, 31, tzinfo=UTC)),
     ("03/05/2024", datetime(2024, 3, 5, tzinfo=UTC)),  # month-first unless impossible
     ("5.3.2024", datetime(2024, 5, 3, tzinfo=UTC)),
     ("03/05/24", datetime(2024, 3, 5, tzinfo=UTC)),
     ("3/5/2024 2:22 PM", datetime(2024, 3, 5, 14, 22, tzinfo=UTC)),
     ("45356", datetime(2024, 3, 5, tzinfo=UTC)),  # Excel serial
     ("45356.5", datetime(2024, 3, 5, 12, tzinfo=UTC)),
     ("20240305", datetime(2024, 3, 5, tzinfo=UTC)),
     ("1709648520", datetime(2024, 3, 5, 14, 22, tzinfo=UTC)),  # Unix seconds
     ("March 5, 2024", datetime(2024, 3, 5, tzinfo=UTC)),
     ("5 Mar 2024 14:22 EST", datetime(2024, 3, 5, 19, 22, tzinfo=UTC)),
     ("Tue, 05 Mar 2024 14:22:00 +0100", datetime(2024, 3, 5, 13, 22, tzinfo=UTC))],
)
def test_dates(raw: str, expected: datetime) -> None:
    got = parse_datetime(raw)
    assert got == expected
    assert got.tzinfo is UTC


def test_dates_dayfirst_and_naive_timezone() -> None:
    assert parse_datetime("03/05/2024", dayfirst=True) == datetime(2024, 5, 3, tzinfo=UTC)
    berlin = timezone(timedelta(hours=1))
    assert parse_datetime("2024-01-05 10:00", naive_tz=berlin) == datetime(
        2024, 1, 5, 9, tzinfo=UTC)


@pytest.mark.parametrize("raw", ["soon", "13/13/2024", "2024-02-30", "Q1", "1850-01-01", "7"])
def test_bad_dates(raw: str) -> None:
    with pytest.raises(ValueError, match=f"'{raw}'"):
        parse_datetime(raw)


@pytest.mark.parametrize(
    ("raw", "outcome"),
    [("1", "converted"), ("0", "lost"), ("yes", "converted"), ("No", "lost"),
     ("TRUE", "converted"), ("false", "lost"), ("Y", "converted"), ("n", "lost"),
     ("Won", "converted"), ("lost", "lost"), ("Closed Won", "converted"),
     ("Closed Lost", "lost"), ("closed-won", "converted"), ("Converted", "converted"),
     ("Not Converted", "lost"), ("Closed - Not Converted", "lost"),
     ("Closed - Converted", "converted"), ("customer", "converted"), ("MQL", "open"),
     ("SQL", "open"), ("New", "open"), ("Open", "open"), ("Working", "open"),
     ("Working - Contacted", "open"), ("Negotiation/Review", "open"),
     ("Disqualified", "lost"), ("1.0", "converted")],
)
def test_outcomes(raw: str, outcome: str) -> None:
    assert parse_outcome(raw) == outcome


def test_unknown_outcome_rejects() -> None:
    with pytest.raises(ValueError, match="outcome 'maybe later' is not recognised"):
        parse_outcome("maybe later")


@pytest.mark.parametrize(
    ("raw", "url"),
    [("acme.com", "https://acme.com"), ("WWW.Acme.COM/", "https://acme.com"),
     ("http://www.acme.com:80/About?x=1#top", "http://acme.com/About?x=1"),
     ("https://Shop.Acme.co.uk/path", "https://shop.acme.co.uk/path"),
     ("//acme.io", "https://acme.io")],
)
def test_website(raw: str, url: str) -> None:
    assert normalize_website(raw) == url


@pytest.mark.parametrize("raw", ["not a site", "info@acme.com", "ftp://acme.com", "acme"])
def test_bad_website(raw: str) -> None:
    with pytest.raises(ValueError, match="is not a web address"):
        normalize_website(raw)


@pytest.mark.parametrize(
    ("raw", "email"),
    [(" Ana@Example.COM ", "ana@example.com"), ("mailto:bob@x.io", "bob@x.io"),
     ("Bob Smith <Bob@X.io>", "bob@x.io"), ("jörg@müller.de", "jörg@müller.de"),
     ("o'neil+tag@sub.example.org", "o'neil+tag@sub.example.org")],
)
def test_email(raw: str, email: str) -> None:
    assert parse_email(raw.strip()) == email


@pytest.mark.parametrize("raw", ["ana", "ana@", "@x.com", "ana@x", "a b@x.com", "a..b@x.com",
                                 "a@x.com; b@y.com"])
def test_bad_email(raw: str) -> None:
    with pytest.raises(ValueError, match="bad email"):
        parse_email(raw)


@pytest.mark.parametrize(
    ("raw", "parts"),
    [("Jane Doe", ("Jane", "Doe")), ("Doe, Jane", ("Jane", "Doe")),
     ("Jane van der Berg", ("Jane", "van der Berg")), ("Dr. Jane Doe", ("Jane", "Doe")),
     ("Cher", ("Cher", None)), ("John Smith, Jr.", ("John", "Smith Jr."))],
)
def test_split_full_name(raw: str, parts: tuple) -> None:
    assert split_full_name(raw) == parts


# ------------------------------------------------------------------ records

HEADERS = ["Lead ID", "Full Name", "E-mail", "Company", "Employees", "Annual Revenue",
           "Created", "Converted", "Website", "Plan", "Zip"]


def test_a_full_record_is_typed_and_normalised() -> None:
    rec = one(HEADERS, ["  L-1 ", "Dr. Ana\u00a0María López", "ANA@Example.com", "Acme\u200b Inc",
                        "51-200", "$1.5M", "2024-03-05 14:22", "Closed Won", "WWW.ACME.COM",
                        " Gold ", "02134"])
    assert set(LEAD_FIELDS) <= rec.keys()
    assert rec["external_id"] == "L-1"
    assert (rec["first_name"], rec["last_name"]) == ("Ana", "María López")
    assert rec["email"] == "ana@example.com"
    assert rec["company_name"] == "Acme Inc"
    assert rec["company_size"] == 125
    assert rec["annual_revenue"] == 1_500_000.0
    assert rec["created_at"] == datetime(2024, 3, 5, 14, 22, tzinfo=UTC)
    assert rec["outcome"] == "converted"
    assert rec["website"] == "https://acme.com"
    assert rec["custom"] == {"plan": "Gold", "zip": "02134"}
    assert rec["dedupe_key"] == "ext:L-1"
    assert len(rec["content_hash"]) == 32
    assert rec["phone"] is None and rec["outcome_date"] is None


def test_empty_and_placeholder_cells_are_none_and_created_at_defaults() -> None:
    rec = one(["Email", "Industry", "Created", "Converted", "Notes"],
              ["a@x.com", "N/A", "", "-", ""])
    assert rec["industry"] is None
    assert rec["created_at"] == NOW
    assert rec["outcome"] is None  # not provided: the repository keeps/defaults it
    assert rec["custom"] == {}


def test_blank_rows_are_skipped_silently() -> None:
    records, rejects = coerce(["Email", "Name"], ["", ""], ["  ", "\u00a0"], ["n/a", "-"],
                              ["a@x.com", ""])
    assert [r["email"] for r in records] == ["a@x.com"]
    assert rejects == []


def test_bad_cells_reject_with_row_field_and_value() -> None:
    rows = [["L1", "Ana", "a@x.com", "Acme", "abc", "", "", "", "", "", ""],
            ["L2", "Bob", "bob@", "Beta", "10", "", "", "", "", "", ""],
            ["L3", "Cy", "c@x.com", "Gam", "10", "", "31/31/2024", "", "", "", ""],
            ["L4", "Di", "d@x.com", "Del", "10", "", "", "perhaps", "", "", ""],
            ["L5", "Ed", "e@x.com", "Eps", "10", "lots", "", "", "", "", ""],
            ["L6", "Fa", "f@x.com", "Fi", "10", "", "", "", "no website", "", ""]]
    records, rejects = coerce(HEADERS, *rows)
    assert records == []
    by_row = {r.row_number: r for r in rejects}
    assert by_row[2].field == "company_size"
    assert "company size 'abc' is not a number or range" in by_row[2].reason
    assert "column 'Employees'" in by_row[2].reason
    assert by_row[3].field == "email" and "bad email 'bob@'" in by_row[3].reason
    assert by_row[4].field == "created_at" and "'31/31/2024'" in by_row[4].reason
    assert by_row[5].field == "outcome" and "'perhaps'" in by_row[5].reason
    assert by_row[6].field == "annual_revenue" and "'lots'" in by_row[6].reason
    assert by_row[7].field == "website" and "'no website'" in by_row[7].reason
    assert by_row[3].raw["E-mail"] == "bob@"
    assert str(by_row[3]).startswith("row 3, email: bad email 'bob@'")


def test_all_problems_of_a_row_are_reported_in_one_reject() -> None:
    r = rejected(HEADERS, ["L1", "Ana", "bad", "Acme", "abc", "", "never", "", "", "", ""])
    assert r.field == "email, company_size, created_at"
    assert r.reason.count(";") == 2


def test_row_without_identity_is_rejected() -> None:
    r = rejected(["Email", "Industry", "Plan"], ["", "Software", "Gold"])
    assert r.field is None
    assert r.reason == "row has no email, external id, name or company to identify the lead"
    assert r.raw == {"Email": "", "Industry": "Software", "Plan": "Gold"}


def test_row_with_more_cells_than_headers_is_rejected() -> None:
    records, rejects = coerce(["Email", "Company"], ["a@x.com", "Acme", "oops", "more"],
                              ["b@x.com", "Beta", "", ""])
    assert [r["email"] for r in records] == ["b@x.com"]  # empty extras are harmless
    assert rejects[0].row_number == 2
    assert rejects[0].field is None
    assert rejects[0].reason == "row has 4 cells, header has 2"
    assert rejects[0].raw["(extra cell 3)"] == "oops"


def test_too_long_text_is_rejected_not_truncated() -> None:
    r = rejected(["Email", "Title"], ["a@x.com", "x" * 301])
    assert r.field == "job_title"
    assert "301 characters long (limit 300)" in r.reason


def test_identity_by_name_or_company_gets_a_row_key() -> None:
    rec = one(["Full Name", "Company"], ["Jane Doe", "Acme"])
    assert rec["dedupe_key"].startswith("row:") and len(rec["dedupe_key"]) == 36
    assert one(["Email"], ["X@Y.com"])["dedupe_key"] == "email:x@y.com"


def test_first_and_last_name_columns_win_over_full_name() -> None:
    rec = one(["First Name", "Name"], ["Janet", "Jane Doe"])
    assert (rec["first_name"], rec["last_name"]) == ("Janet", "Doe")


def test_hash_is_stable_and_column_order_independent() -> None:
    h1 = ["Email", "Company", "Employees", "Created", "Tier"]
    row1 = ["a@x.com", "Acme", "1,200", "2024-03-05", "gold"]
    h2 = ["Tier", "Created", "Employees", "Company", "Email"]
    row2 = ["gold", "03/05/2024", "1200", " Acme ", "A@X.COM"]
    a = one(h1, row1)
    b = one(h2, row2)
    assert a["content_hash"] == b["content_hash"]
    assert a["dedupe_key"] == b["dedupe_key"]
    later = coerce_lead_rows([(2, row1)], list(h1), suggest_mapping(h1),
                             default_created_at=NOW + timedelta(days=1))[0][0]
    assert later["content_hash"] == a["content_hash"]  # not tied to the upload time
    changed = one(h1, ["a@x.com", "Acme", "1,201", "2024-03-05", "gold"])
    assert changed["content_hash"] != a["content_hash"]
    no_email = one(["Company", "Tier"], ["Acme", "gold"])
    assert no_email["dedupe_key"] == one(["Tier", "Company"], ["gold", "Acme"])["dedupe_key"]


def test_duplicate_keys_in_one_batch_are_all_returned_in_row_order() -> None:
    records, _ = coerce(["Email", "Company"], ["a@x.com", "Old"], ["b@x.com", "B"],
                        ["A@x.com", "New"])
    assert [(r["dedupe_key"], r["company_name"]) for r in records] == [
        ("email:a@x.com", "Old"), ("email:b@x.com", "B"), ("email:a@x.com", "New")]


def test_day_first_is_decided_per_column() -> None:
    headers = ["Email", "Created"]
    records, rejects = coerce(headers, ["a@x.com", "03/05/2024"], ["b@x.com", "25/12/2024"])
    assert rejects == []
    assert records[0]["created_at"] == datetime(2024, 5, 3, tzinfo=UTC)  # column is dd/mm
    records, _ = coerce(headers, ["a@x.com", "03/05/2024"], ["b@x.com", "12/25/2024"])
    assert records[0]["created_at"] == datetime(2024, 3, 5, tzinfo=UTC)  # column is mm/dd
    records, _ = coerce(headers, ["a@x.com", "03/05/2024"], date_order="dmy")
    assert records[0]["created_at"] == datetime(2024, 5, 3, tzinfo=UTC)


def test_day_first_decision_carries_to_later_chunks_of_one_upload() -> None:
    headers = ["Email", "Created"]
    coercer = LeadCoercer(headers, suggest_mapping(headers), default_created_at=NOW)
    coercer([(2, ["a@x.com", "25/12/2024"])])
    records, _ = coercer([(3, ["b@x.com", "03/05/2024"])])
    assert records[0]["created_at"] == datetime(2024, 5, 3, tzinfo=UTC)
    fresh = LeadCoercer(headers, suggest_mapping(headers), default_created_at=NOW)
    assert fresh([(3, ["b@x.com", "03/05/2024"])])[0][0]["created_at"].month == 3


def test_custom_values_stay_strings_and_unmapped_headers_are_kept() -> None:
    headers = ["Email", "Score", "Zip"]
    records, _ = coerce_lead_rows([(2, ["a@x.com", "42", "00501"])], headers,
                                  {"Email": "email", "Score": "custom:score"},
                                  default_created_at=NOW)
    assert records[0]["custom"] == {"score": "42", "zip": "00501"}


def test_mapping_errors() -> None:
    with pytest.raises(InvalidInput, match="unknown field 'shoe_size'"):
        coerce(["Email"], ["a@x.com"], mapping={"Email": "shoe_size"})
    with pytest.raises(InvalidInput, match="both mapped to 'email'"):
        coerce(["A", "B"], ["a@x.com", "b@x.com"], mapping={"A": "email", "B": "email"})


def test_ignored_columns_are_dropped() -> None:
    records, _ = coerce(["Email", "Secret"], ["a@x.com", "s3cret"],
                        mapping={"Email": "email", "Secret": "ignore"})
    assert records[0]["custom"] == {}
    assert "s3cret" not in str(records[0])


def test_text_is_cleaned() -> None:
    rec = one(["Email", "Company", "Notes", "Phone"],
              ["a@x.com", "  Acme\u00a0\u00a0 Corp\t", "line 1\r\nline 2", "'+1 (415) 555-0100"])
    assert rec["company_name"] == "Acme Corp"
    assert rec["description"] == "line 1\nline 2"
    assert rec["phone"] == "+1 (415) 555-0100"
    r = rejected(["Email", "Phone"], ["a@x.com", "call me"])
    assert r.field == "phone" and "'call me'" in r.reason


# ------------------------------------------------------------------ activities

ACT_HEADERS = ["Email", "Lead ID", "Activity Type", "Date", "Details", "Source"]


def act(*rows: list[str], **kw):
    numbered = [(i + 2, list(r)) for i, r in enumerate(rows)]
    return coerce_activity_rows(numbered, list(ACT_HEADERS), suggest_activity_mapping(ACT_HEADERS),
                                **kw)


@pytest.mark.parametrize(
    ("raw", "kind"),
    [("page view", "website_visit"), ("Visit", "website_visit"), ("Visit Webpage", "website_visit"),
     ("Opened email", "email_open"), ("email_open", "email_open"), ("Clicked link", "email_click"),
     ("Whitepaper download", "download"), ("Form submission", "form_fill"),
     ("Fill Out Form", "form_fill"), ("Attended webinar", "webinar"), ("Demo", "demo_request"),
     ("Requested a demo", "demo_request"), ("Meeting booked", "meeting"), ("Phone call", "call")],
)
def test_activity_types(raw: str, kind: str) -> None:
    records, rejects = act(["a@x.com", "", raw, "2024-03-05", "", "Marketo"])
    assert rejects == []
    assert records[0]["activity_type"] == kind
    assert kind in ACTIVITY_TYPES


def test_activity_record_shape_and_unknown_type() -> None:
    lead = uuid.uuid4()
    records, rejects = act(
        ["A@X.com", "", "Podcast listen", "03/05/2024 10:00", "Episode 4", "Spotify"],
        ["", str(lead), "visit", "2024-03-05T10:00:00Z", "/pricing", ""],
        ["", "CRM-77", "", "2024-03-06", "", ""],
    )
    assert rejects == []
    first, second, third = records
    assert first["lead_email"] == "a@x.com"
    assert first["activity_type"] == "other"
    assert first["description"] == "Podcast listen: Episode 4"
    assert first["activity_date"] == datetime(2024, 3, 5, 10, tzinfo=UTC)
    assert first["source"] == "Spotify"
    assert second["lead_id"] == lead and second["activity_type"] == "website_visit"
    assert third["lead_id"] is None and third["lead_external_id"] == "CRM-77"
    assert third["activity_type"] == "other" and third["description"] is None
    assert all(len(r["dedupe_key"]) == 40 for r in records)


def test_activity_dedupe_key_is_stable() -> None:
    row = ["a@x.com", "", "visit", "2024-03-05", "/pricing", "GA"]
    r1, _ = act(row)
    r2, _ = act(list(row), list(row))
    assert [r["row_number"] for r in r2] == [2, 3]
    assert r2[1]["raw"]["Details"] == "/pricing"
    assert r1[0]["dedupe_key"] == r2[0]["dedupe_key"] == r2[1]["dedupe_key"]
    r3, _ = act(["a@x.com", "", "visit", "2024-03-05", "/features", "GA"])
    assert r3[0]["dedupe_key"] != r1[0]["dedupe_key"]


def test_activity_rejects() -> None:
    records, rejects = act(
        ["", "", "visit", "2024-03-05", "", ""],
        ["a@x.com", "", "visit", "", "", ""],
        ["a@x.com", "", "visit", "someday", "", ""],
        ["nope@", "", "visit", "2024-03-05", "", ""],
        ["", "", "", "", "", ""],
    )
    assert records == []
    assert [(r.row_number, r.field) for r in rejects] == [
        (2, None), (3, "activity_date"), (4, "activity_date"), (5, "lead_email")]
    assert rejects[0].reason == "row has no lead email, external id or lead id"
    assert rejects[1].reason == "activity date is empty"
    assert "'someday'" in rejects[2].reason
    assert "bad email 'nope@'" in rejects[3].reason
