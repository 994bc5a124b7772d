from __future__ import annotations

import csv
import re
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from leadrank.demo import (
    ACTIVITY_COLUMNS,
    ACTIVITY_TYPES,
    CSV_HEADERS,
    HIDDEN_COLUMNS,
    LEAD_COLUMNS,
    NOISE_COLUMNS,
    TRUE_DRIVERS,
    drop_hidden,
    generate_activities,
    generate_leads,
    write_activities_csv,
    write_demo_csv,
)

START, END = date(2025, 1, 1), date(2025, 12, 31)
AS_OF = pd.Timestamp("2026-01-01", tz="UTC")
FREEMAIL = r"@(?:gmail|yahoo|outlook|hotmail)\.com$"


@pytest.fixture(scope="module")
def leads() -> pd.DataFrame:
    return generate_leads(20_000, seed=11, start=START, end=END, with_outcomes=0.85)


@pytest.fixture(scope="module")
def activities(leads) -> pd.DataFrame:
    return generate_activities(leads, seed=11)


@pytest.fixture(scope="module")
def joined(leads, activities) -> pd.DataFrame:
    return activities.merge(
        leads[["external_id", "created_at", "outcome", "outcome_date"]], on="external_id", how="left"
    )


# ----------------------------------------------------------------- determinism, shapes


def test_deterministic_with_seed():
    a = generate_leads(800, seed=5, start=START, end=END)
    b = generate_leads(800, seed=5, start=START, end=END)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(generate_activities(a, seed=5), generate_activities(b, seed=5))
    c = generate_leads(800, seed=6, start=START, end=END)
    assert not a["email"].equals(c["email"])


def test_columns_and_dtypes(leads):
    assert tuple(leads.columns) == LEAD_COLUMNS
    assert len(leads) == 20_000
    assert str(leads["created_at"].dt.tz) == "UTC"
    assert str(leads["outcome_date"].dt.tz) == "UTC"
    assert leads["company_size"].dtype == np.int64
    assert leads["annual_revenue"].dtype == np.int64
    assert leads["newsletter_subscriber"].dtype == bool
    assert leads["_true_probability"].dtype == np.float64
    for col in ("external_id", "email", "company_name", "job_title", "industry", "lead_source",
                "campaign", "description", "location", "country", "outcome", "budget_confirmed"):
        assert pd.api.types.is_string_dtype(leads[col]), col
        assert leads[col].notna().all(), col
    assert set(NOISE_COLUMNS) <= set(leads.columns)
    assert set(HIDDEN_COLUMNS) <= set(leads.columns)
    assert not any(c.startswith("_") for c in drop_hidden(leads).columns)


def test_ids_emails_and_people(leads):
    assert leads["external_id"].is_unique and leads["external_id"].iloc[0] == "L0000001"
    assert leads["email"].is_unique
    assert leads["email"].str.fullmatch(r"[a-z0-9._]+@[a-z0-9.]+\.[a-z]+").all()
    free = leads["email"].str.contains(FREEMAIL)
    assert 0.08 < free.mean() < 0.30
    students = leads["job_title"].str.lower().str.contains("student|phd")
    assert leads.loc[students, "email"].str.endswith(".edu").mean() > 0.7
    assert not leads.loc[~students, "email"].str.endswith(".edu").any()
    assert 0.1 < leads["phone"].isna().mean() < 0.3
    assert leads["phone"].dropna().str.fullmatch(r"\+\d{1,3} \d{3} \d{7}").all()
    assert 0.03 < leads["website"].isna().mean() < 0.2
    titles = set(leads["job_title"])
    assert {"VP of Sales", "Vice President, Marketing", "CEO & Co-founder", "Student", "CFO"} <= titles
    assert leads["location"].str.fullmatch(r"[^,]+, [^,]+").all()
    assert (leads["location"].str.split(", ").str[1] == leads["country"]).all()
    assert set(leads["budget_confirmed"]) == {"yes", "no", ""}


def test_company_consistency(leads):
    per_company = leads.groupby("company_name").agg(
        n=("external_id", "size"), industry=("industry", "nunique"), size=("company_size", "nunique"),
        revenue=("annual_revenue", "nunique"), desc=("description", "nunique"),
        web=("website", "nunique"),
    )
    assert (per_company["n"] > 1).sum() > 1000  # several leads share a company
    assert (per_company[["industry", "size", "revenue", "desc"]] == 1).all().all()
    assert (per_company["web"] <= 1).all()
    company_mail = ~leads["email"].str.contains(FREEMAIL) & leads["website"].notna()
    sub = leads[company_mail]
    assert (sub["email"].str.split("@").str[1] == sub["website"].str.removeprefix("https://www.")).all()
    # revenue correlates with size
    assert np.corrcoef(np.log(leads["company_size"]), np.log(leads["annual_revenue"]))[0, 1] > 0.6


def test_default_window_is_last_365_days():
    df = generate_leads(300, seed=1)
    today = datetime.now(timezone.utc).date()
    lo = pd.Timestamp(today - timedelta(days=365), tz="UTC")
    assert df["created_at"].min() >= lo
    assert df["created_at"].max() < pd.Timestamp(today, tz="UTC")


def test_tiny_and_empty():
    assert len(generate_leads(0, seed=1, start=START, end=END)) == 0
    one = generate_leads(1, seed=1, start=START, end=END)
    assert len(one) == 1 and len(generate_activities(one)) >= 0


# ----------------------------------------------------------------- outcomes


def test_base_rate(leads):
    assert leads["_true_probability"].mean() == pytest.approx(0.12, abs=0.002)
    closed = leads[leads["outcome"] != "open"]
    assert (closed["outcome"] == "converted").mean() == pytest.approx(0.12, abs=0.012)
    low = generate_leads(20_000, seed=3, start=START, end=END, base_rate=0.05)
    assert (low["outcome"] == "converted").mean() == pytest.approx(0.05, abs=0.008)


def test_outcomes_fraction_and_dates(leads):
    closed = leads["outcome"] != "open"
    assert closed.sum() == round(0.85 * len(leads))
    assert set(leads["outcome"]) == {"converted", "lost", "open"}
    # the newest leads stay open
    assert leads.loc[~closed, "created_at"].median() > leads.loc[closed, "created_at"].median()
    c = leads[closed]
    assert (c["outcome_date"] > c["created_at"]).all()
    assert (c["outcome_date"] <= AS_OF).all()
    assert leads.loc[~closed, "outcome_date"].isna().all()
    assert (leads.loc[closed, "outcome"] == np.where(leads.loc[closed, "_true_outcome"], "converted", "lost")).all()
    everything = generate_leads(2_000, seed=2, start=START, end=END)
    assert (everything["outcome"] != "open").all()
    nothing = generate_leads(2_000, seed=2, start=START, end=END, with_outcomes=0.0)
    assert (nothing["outcome"] == "open").all() and nothing["outcome_date"].isna().all()


def test_true_probability_ranks_outcomes(leads):
    c = leads[leads["outcome"] != "open"]
    assert roc_auc_score(c["outcome"] == "converted", c["_true_probability"]) > 0.8


def test_documented_drivers_show_in_data(leads):
    assert {"job_title", "industry", "company_size", "lead_source", "engagement", "noise"} <= set(TRUE_DRIVERS)
    assert "favourite_color" in TRUE_DRIVERS["noise"] and "lead_owner_initials" in TRUE_DRIVERS["noise"]
    c = leads[leads["outcome"] != "open"].assign(won=lambda d: d["outcome"] == "converted")
    by_sen = c.groupby("_seniority")["won"].mean()
    assert by_sen["vp"] > by_sen["manager"] > by_sen["student"]
    by_src = c.groupby("lead_source")["won"].mean()
    assert by_src["Referral"] > by_src["Paid Search"] > by_src["Purchased List"]
    by_ind = c.groupby("industry")["won"].mean()
    assert by_ind["Software"] > by_ind["Government"]
    free = c["email"].str.contains(FREEMAIL)
    assert c.loc[free, "won"].mean() < c.loc[~free, "won"].mean()
    by_budget = c.groupby("budget_confirmed")["won"].mean()
    assert by_budget["yes"] > by_budget[""] > by_budget["no"]
    by_color = c.groupby("favourite_color")["won"].mean()
    assert by_color.max() - by_color.min() < 0.05


# ----------------------------------------------------------------- activities


def test_activity_columns_and_volume(leads, activities):
    assert tuple(activities.columns) == ACTIVITY_COLUMNS
    assert str(activities["activity_date"].dt.tz) == "UTC"
    assert set(activities["activity_type"]) == set(ACTIVITY_TYPES)
    assert activities["external_id"].isin(leads["external_id"]).all()
    assert 6 <= len(activities) / len(leads) <= 10
    per_lead = activities.groupby("external_id").size()
    assert per_lead.max() <= 30
    small = generate_activities(leads.iloc[:2000], seed=1, max_per_lead=5)
    assert small.groupby("external_id").size().max() <= 5
    emails = leads.set_index("external_id")["email"]
    assert (activities["email"].to_numpy() == emails.loc[activities["external_id"]].to_numpy()).all()
    assert activities["description"].str.startswith("Visited /").sum() > 0
    assert {"website", "hubspot", "mailchimp"} <= set(activities["source"])


def test_activities_after_created_and_before_now(joined):
    assert (joined["activity_date"] > joined["created_at"]).all()
    assert (joined["activity_date"] < AS_OF).all()


def test_converters_request_more_demos_before_outcome(leads, joined):
    pre = joined[joined["outcome"].isin(["converted", "lost"]) & (joined["activity_date"] < joined["outcome_date"])]
    demos = pre[pre["activity_type"] == "demo_request"].groupby("outcome").size()
    n = leads["outcome"].value_counts()
    assert demos["converted"] / n["converted"] > 2 * demos["lost"] / n["lost"]
    meetings = pre[pre["activity_type"] == "meeting"].groupby("outcome").size()
    assert meetings["converted"] / n["converted"] > 2 * meetings["lost"] / n["lost"]


def test_post_outcome_leakage_marker(leads, joined):
    post = joined[joined["activity_date"] > joined["outcome_date"]]
    onboarding = post[(post["activity_type"] == "meeting") & (post["description"] == "Onboarding call")]
    converters = leads.loc[leads["outcome"] == "converted", "external_id"]
    assert onboarding["external_id"].nunique() > 0.5 * len(converters)
    assert (onboarding["outcome"] == "converted").all()
    # onboarding never happens before the outcome, nor for open leads
    ob_all = joined[joined["description"] == "Onboarding call"]
    assert (ob_all["activity_date"] > ob_all["outcome_date"]).all()
    assert joined.loc[joined["outcome"] == "open", "description"].ne("Onboarding call").all()


def _features(leads: pd.DataFrame, activities: pd.DataFrame) -> pd.DataFrame:
    """Point-in-time features (cut at outcome_date) a reasonable model would build."""
    j = activities.merge(leads[["external_id", "outcome_date"]], on="external_id")
    pre = j[j["activity_date"] < j["outcome_date"]]
    counts = pre.pivot_table(index="external_id", columns="activity_type", values="email",
                             aggfunc="size", fill_value=0)
    x = np.log1p(counts.reindex(leads["external_id"]).fillna(0))
    d = leads.set_index("external_id")
    title = d["job_title"].str.lower()
    x["senior"] = title.str.contains(r"\bvp\b|vice|chief|ceo|cfo|cto|coo|cmo|cio|founder|director|head|owner").astype(int)
    x["junior"] = title.str.contains(r"student|intern|phd|trainee").astype(int)
    size = np.log10(d["company_size"])
    x["size"], x["size2"] = size, (size - 2.35) ** 2
    x["free"] = d["email"].str.contains(FREEMAIL).astype(int)
    x["phone_missing"] = d["phone"].isna().astype(int)
    x = x.join(pd.get_dummies(d[["industry", "lead_source", "budget_confirmed"]]).astype(int))
    return x


def test_a_simple_model_learns_the_signal_and_not_the_noise(leads, activities):
    closed = leads[leads["outcome"] != "open"].reset_index(drop=True)
    y = (closed["outcome"] == "converted").to_numpy()
    x = _features(closed, activities)
    train = np.arange(len(x)) % 2 == 0
    model = LogisticRegression(max_iter=3000).fit(x[train], y[train])
    auc = roc_auc_score(y[~train], model.predict_proba(x[~train])[:, 1])
    assert 0.78 < auc < 0.9
    noise = pd.get_dummies(closed[list(NOISE_COLUMNS)]).astype(int)
    noise_model = LogisticRegression(max_iter=1000).fit(noise[train], y[train])
    assert abs(roc_auc_score(y[~train], noise_model.predict_proba(noise[~train])[:, 1]) - 0.5) < 0.05


# ----------------------------------------------------------------- CSV


def test_write_demo_csv_clean(tmp_path):
    path = tmp_path / "leads.csv"
    report = write_demo_csv(path, 500, seed=4, start=START, end=END)
    n_rejected, rejects = report
    assert (n_rejected, rejects) == (0, [])
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert list(df.columns) == list(CSV_HEADERS.values())
    assert len(df) == 500
    assert set(df["Status"]) == {"Closed Won", "Closed Lost", "Open"}
    assert {"First Name", "Email Address", "# of Employees", "Location", "Favourite Color"} <= set(df.columns)
    assert df["# of Employees"].str.fullmatch(r"\d+").all()


_DATE_FORMATS = ("%Y-%m-%dT%H:%M:%SZ", "%m/%d/%Y %H:%M", "%d.%m.%Y", "%Y-%m-%d %H:%M", "%d %b %Y", "%B %d, %Y")


def _parse_date(value: str) -> datetime | None:
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(value.strip(), fmt)
        except ValueError:
            pass
    return None


def _strict_validate(path) -> list[tuple[int, str]]:
    """An independent strict validator: bad email, non-numeric size, duplicate email."""
    rejects: list[tuple[int, str]] = []
    seen: set[str] = set()
    with open(path, encoding="utf-8", newline="") as fh:
        for row_number, row in enumerate(csv.DictReader(fh), start=1):
            email = row["Email Address"].strip().lower()
            size = row["# of Employees"].strip()
            assert _parse_date(row["Created Date"]) is not None, row["Created Date"]
            if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]{2,}", email):
                rejects.append((row_number, "Email Address"))
            elif not re.fullmatch(r"\d+|\d+-\d+|\d+\+", size):
                rejects.append((row_number, "# of Employees"))
            elif email in seen:
                rejects.append((row_number, "Email Address"))
            seen.add(email)
    return rejects


def test_write_demo_csv_messy_rejects_exactly(tmp_path):
    path = tmp_path / "messy.csv"
    report = write_demo_csv(path, 2_000, seed=9, messy=True, start=START, end=END)
    n_rejected, rejects = report
    assert report.n_rows == 2_001
    assert n_rejected == len(rejects) == 10 + 4 + 1
    assert _strict_validate(path) == rejects
    assert len(report.reasons) == len(rejects) and any("duplicate" in r for _, _, r in report.reasons)
    text = path.read_bytes().decode("utf-8")  # UTF-8 even with cp1252-only characters
    assert "’" in text or "Š" in text or "Ž" in text
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert df.duplicated().sum() == 1
    assert df["# of Employees"].str.fullmatch(r"\d+-\d+|\d+\+").any()
    assert (df["# of Employees"] == "lots").sum() == 4
    assert df["Email Address"].isin(["n/a"]).any() and df["Email Address"].str.endswith("@").any()
    assert (df["First Name"] != df["First Name"].str.strip()).any()
    assert not df["Created Date"].str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ").all()


def test_write_activities_csv(tmp_path, leads, activities):
    sub = leads.iloc[:300]
    path = tmp_path / "activities.csv"
    n = write_activities_csv(path, sub, activities)
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert n == len(df) == activities["external_id"].isin(sub["external_id"]).sum()
    assert list(df.columns) == ["Lead ID", "Email", "Activity Type", "Activity Date", "Description", "Source"]
    assert df["Lead ID"].isin(sub["external_id"]).all()
