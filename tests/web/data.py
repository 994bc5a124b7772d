"""A messy but realistic lead file for the web tests: odd headers, a semicolon delimiter,
CRM outcome labels, a custom column, a column to ignore, and three rows that must be
rejected (a bad email, a non-numeric company size, an unparseable date)."""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass, field
from datetime import date, timedelta

INDUSTRIES = ("Software", "Retail", "Healthcare", "Finance", "Manufacturing")
SOURCES = ("Referral", "Webinar", "Paid Search", "Organic", "LinkedIn")
TITLES = (("VP Sales", 0.9), ("Head of Growth", 0.8), ("CEO", 0.7), ("Marketing Manager", 0.3),
          ("Sales Engineer", 0.2), ("Analyst", 0.1), ("Student", 0.0), ("Director of Operations", 0.6))
HEADERS = ["Email Address", "First Name", "Last Name", "Company", "Job Title", "Industry", "# of Employees",
           "Lead Source", "Created Date", "Status", "Budget Band", "Internal Notes"]
# Row number in the file (header = row 1) -> the field its problem is in.
BAD_ROWS = {6: "email", 11: "company_size", 17: "created_at"}


@dataclass
class LeadFile:
    content: bytes
    emails: set[str] = field(default_factory=set)          # rows that must be stored
    industries: dict[str, str] = field(default_factory=dict)
    converted: int = 0
    lost: int = 0

    @property
    def stored(self) -> int:
        return len(self.emails)


def messy_leads(n: int = 300, seed: int = 11) -> LeadFile:
    rng = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(HEADERS)
    lf = LeadFile(content=b"")
    start = date(2025, 3, 1)
    for i in range(n):
        row_number = i + 2
        title, title_fit = TITLES[rng.randrange(len(TITLES))]
        industry = INDUSTRIES[rng.randrange(len(INDUSTRIES))]
        source = SOURCES[rng.randrange(len(SOURCES))]
        size = rng.choice([8, 25, 60, 140, 320, 900, 2500])
        email = f"lead{i:03d}@{('acme', 'globex', 'initech', 'umbrella', 'hooli')[i % 5]}{i}.com"
        created = start + timedelta(days=i // 2)
        fit = 0.45 * title_fit + 0.25 * (industry == "Software") + 0.2 * (source in ("Referral", "Webinar")) \
            + 0.1 * (size >= 140)
        if rng.random() < 0.3:
            status = "Open"
        else:
            status = "Closed Won" if rng.random() < 0.08 + 0.7 * fit else "Closed Lost"
        size_cell = f"{size:,}" if size >= 1000 else str(size)
        date_cell = created.strftime("%m/%d/%Y") if i % 4 == 0 else created.isoformat()
        if row_number in BAD_ROWS:
            problem = BAD_ROWS[row_number]
            if problem == "email":
                email = "bob@"
            elif problem == "company_size":
                size_cell = "lots"
            else:
                date_cell = "not a date"
        writer.writerow([email, f"First{i}", f"Last{i}", f"{industry} Co {i}", title, industry, size_cell, source,
                         date_cell, status, rng.choice(["<10k", "10k-50k", "50k+"]), f"note {i}"])
        if row_number not in BAD_ROWS:
            lf.emails.add(email)
            lf.industries[email] = industry
            lf.converted += status == "Closed Won"
            lf.lost += status == "Closed Lost"
    lf.content = out.getvalue().encode("utf-8")
    return lf
