"""What a rep reads for a lead must not depend on the other leads scored in the same batch:
a missing date, an odd e-mail domain or a website without a domain elsewhere in the batch used
to change (or blank out) every lead's wording."""

from __future__ import annotations

import numpy as np
import pandas as pd

from leadrank.ml.explain import ExplainContext, describe
from leadrank.ml.model import train

# The wording counts whole days elapsed since the moment of explaining, so the fixtures are
# placed relative to that moment (a midnight-based "now" made "2 hours ago" read as
# yesterday late in the day).
NOW = pd.Timestamp.now(tz="UTC")


def labels(group: str, leads: pd.DataFrame, types: dict[str, str] | None = None) -> list[str]:
    ctx = ExplainContext(leads=leads.reset_index(drop=True), stats=None, column_types=types or {})
    text, _ = describe(group, np.arange(len(leads)), ctx)
    return text.tolist()


def each_alone(group: str, leads: pd.DataFrame, types: dict[str, str] | None = None) -> list[str]:
    return [labels(group, leads.iloc[[i]], types)[0] for i in range(len(leads))]


# --------------------------------------------------------------------------- (a) dates

def test_a_missing_custom_date_reads_as_missing_and_the_others_keep_their_dates() -> None:
    leads = pd.DataFrame({"custom.signup": pd.Series([NOW - pd.Timedelta(days=3, hours=1), None,
                                                      NOW - pd.Timedelta(days=40, hours=1), pd.NaT],
                                                     dtype="datetime64[ns, UTC]")})
    got = labels("custom.signup", leads, {"custom.signup": "date"})
    assert got == ["Signup 3 days ago", "Signup not given", "Signup 40 days ago", "Signup not given"]
    assert got == each_alone("custom.signup", leads, {"custom.signup": "date"})
    # dates given as text, one of them empty
    text = pd.DataFrame({"custom.signup": [str((NOW - pd.Timedelta(days=1)).date()), ""]})
    assert labels("custom.signup", text, {"custom.signup": "date"}) == ["Signup yesterday", "Signup not given"]


def test_a_missing_last_activity_date_reads_as_missing() -> None:
    leads = pd.DataFrame({"last_activity_date": [NOW - pd.Timedelta(days=5, hours=1), None,
                                                 NOW - pd.Timedelta(hours=2)]})
    got = labels("last_activity_date", leads)
    assert got == ["Last activity 5 days ago", "No activity date", "Last activity today"]
    assert got == each_alone("last_activity_date", leads)


def test_a_model_explanations_keep_dates_when_a_lead_has_none(make_tiny) -> None:  # noqa: ANN001
    leads = make_tiny(500)
    rng = np.random.default_rng(3)
    # no activity log: the model reads last_activity_date; a custom date column too
    leads["last_activity_date"] = leads["created_at"] + pd.to_timedelta(rng.integers(0, 15, len(leads)), unit="D")
    leads["custom.signup"] = leads["created_at"] - pd.to_timedelta(rng.integers(0, 90, len(leads)), unit="D")
    m = train(leads, time_budget_s=3, algorithms=("logistic_regression",))
    assert {"last_activity_date", "custom.signup"} <= set(m.groups_)
    batch = leads.head(6).drop(columns=["outcome", "outcome_date"]).copy()
    batch.loc[2, ["last_activity_date", "custom.signup"]] = pd.NaT
    as_of = pd.Timestamp("2025-01-01", tz="UTC")
    exps = m.explain(batch, as_of=as_of)

    def label(e: dict, group: str) -> str:
        return next(c["label"] for c in e["contributions"] if c["group"] == group)

    for i, e in enumerate(exps):
        if i == 2:
            assert label(e, "custom.signup") == "Signup not given"
            assert label(e, "last_activity_date") == "No activity date"
        else:
            assert label(e, "custom.signup").startswith("Signup ") and label(e, "custom.signup") != "Signup"
            assert label(e, "custom.signup") != "Signup not given"
            assert label(e, "last_activity_date").startswith("Last activity ")
            # the same wording as when the lead is explained on its own
            alone = m.explain(batch.iloc[[i]], as_of=as_of)[0]
            assert label(alone, "custom.signup") == label(e, "custom.signup")
            assert label(alone, "last_activity_date") == label(e, "last_activity_date")


# --------------------------------------------------------------------------- (b) e-mail domains with "|"

def test_b_an_email_domain_with_a_bar_keeps_everyone_elses_wording() -> None:
    leads = pd.DataFrame({
        "email": ["ann@acme.com", "bob@we|ird.com", "cat@gmail.com", "info@acme.com", None],
        "website": ["https://www.acme.com", "https://we|ird.com", None, "acme.com", None],
    })
    got = labels("email", leads)
    assert got == ["Company email matching the website (acme.com)",
                   "Company email matching the website (we|ird.com)",
                   "Free-mail address (gmail.com)",
                   "Generic mailbox address (@acme.com)",
                   "No valid email address"]
    assert got == each_alone("email", leads)


# --------------------------------------------------------------------------- (c) websites without a domain

def test_c_a_website_without_a_registered_domain_never_matches_whatever_the_batch() -> None:
    # "b.?x" has no registered domain, nor have a missing website and a bare host name
    leads = pd.DataFrame({
        "email": ["ann@b.?x", "bob@b.?x", "cat@b.?x", "dan@acme.com"],
        "website": [None, "intranet", "https://b.?x", "https://acme.com"],
    })
    expected = ["Company email address (b.?x)"] * 3 + ["Company email matching the website (acme.com)"]
    assert labels("email", leads) == expected
    # ... also when no website in the batch has a registered domain
    assert labels("email", leads.head(3)) == expected[:3]
    assert each_alone("email", leads) == expected
