from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from leadrank.errors import InvalidInput
from leadrank.ml import _parsing as P
from leadrank.ml.features import LeadFeaturizer, activity_stats, training_cutoffs


@pytest.mark.parametrize("title,level", [
    ("VP of Sales", "vp"), ("Vice President, Marketing", "vp"), ("SVP Sales", "vp"), ("EVP, Business Development", "vp"),
    ("CEO", "c_level"), ("Co-Founder & CTO", "c_level"), ("Chief Revenue Officer", "c_level"), ("Owner", "c_level"),
    ("Geschäftsführer", "c_level"), ("Managing Director", "c_level"), ("Head of Growth", "head"),
    ("Director of IT", "director"), ("Sr. Director, Finance", "director"), ("Marketing Manager", "manager"),
    ("Team Lead Support", "manager"), ("Senior Software Engineer", "senior_ic"), ("Principal Engineer", "senior_ic"),
    ("Data Analyst", "ic"), ("Executive Assistant to the CEO", "ic"), ("Marketing Intern", "student"),
    ("PhD Candidate", "student"), ("Student", "student"), ("", "unknown"), (None, "unknown"),
])
def test_seniority_from_many_spellings(title, level):
    assert P.parse_seniority(title) == level


@pytest.mark.parametrize("title,dept", [
    ("VP of Sales", "sales"), ("Head of Growth", "marketing"), ("IT Manager", "engineering_it"),
    ("CFO", "finance"), ("HR Business Partner", "hr"), ("Director of Operations", "operations"), ("CEO", "executive"),
])
def test_department_from_title(title, dept):
    assert P.parse_department(title) == dept


def test_contact_quality_features():
    leads = pd.DataFrame({
        "lead_id": ["a", "b", "c", "d"],
        "email": ["jo@gmail.com", "jo@acme.co.uk", "info@other.com", None],
        "website": ["acme.co.uk", "https://www.acme.co.uk/about", None, "x.com"],
        "phone": ["+44 20 1234 5678", None, "", "123"],
    })
    f = LeadFeaturizer().fit(leads)
    X = f.transform(leads)
    assert X["email:free_mail"].tolist() == [1, 0, 0, 0]
    assert X["email:domain_matches_website"].tolist() == [0, 1, 0, 0]
    assert X["email:generic_mailbox"].tolist() == [0, 0, 1, 0]
    assert X["email:present"].tolist() == [1, 1, 1, 0]
    assert X["phone:present"].tolist() == [1, 0, 0, 1]
    assert f.feature_groups_["email:free_mail"] == "email"


def test_custom_columns_are_typed_automatically():
    n = 200
    rng = np.random.default_rng(0)
    leads = pd.DataFrame({
        "lead_id": [str(i) for i in range(n)],
        "custom.budget": [str(v) for v in rng.integers(1000, 9000, n)],
        "custom.opt_in": rng.choice(["Yes", "No", None], n),
        "custom.first_seen": [f"2024-0{1 + i % 9}-1{i % 9}" for i in range(n)],
        "custom.tier": rng.choice(["gold", "silver", "bronze"], n),
        "custom.notes": [f"Customer asked about pricing for {i} seats and a long onboarding plan" for i in range(n)],
        "custom.crm_key": [f"K{i:05d}" for i in range(n)],
    })
    f = LeadFeaturizer().fit(leads)
    assert f.column_types_ == {"custom.budget": "numeric", "custom.opt_in": "boolean", "custom.first_seen": "date",
                               "custom.tier": "categorical", "custom.notes": "text", "custom.crm_key": "identifier"}
    X = f.transform(leads, as_of="2025-01-01")
    assert X["custom.budget"].notna().all()
    assert set(X["custom.opt_in"].dropna().unique()) <= {0.0, 1.0}
    assert (X["custom.first_seen:days_ago"] > 0).all()
    assert {"custom.tier=gold", "custom.tier=silver", "custom.tier=bronze"} <= set(X.columns)
    assert not any(c.startswith("custom.crm_key") for c in X.columns)


def test_every_feature_knows_its_user_column(demo_data):
    leads, acts, _ = demo_data
    f = LeadFeaturizer().fit(leads.head(2000), acts)
    user_columns = set(leads.columns) | {"completeness", "engagement", "activity_recency"}
    for name in f.feature_names_:
        g = f.feature_groups_[name]
        assert g in user_columns or g.startswith("activities."), (name, g)
    assert "_true_probability" not in " ".join(f.feature_names_)
    assert not any(g in ("outcome", "outcome_date", "lead_id", "external_id") for g in f.feature_groups_.values())


def test_point_in_time_ignores_activities_after_the_outcome(demo_data):
    leads, acts, _ = demo_data
    closed = leads[leads["outcome"].isin(["converted", "lost"])].head(500).reset_index(drop=True)
    cut = training_cutoffs(closed)
    f = LeadFeaturizer().fit(closed, acts)
    before = f.transform(closed, acts, cutoff=cut)
    # plant strong post-outcome activity for every lead: demo requests and meetings after the outcome,
    # and one exactly at the cut-off (which must not count either: "strictly before")
    extra = pd.concat([
        pd.DataFrame({"lead_id": closed["lead_id"], "activity_type": t,
                      "activity_date": closed["outcome_date"] + pd.Timedelta(days=d)})
        for t, d in (("demo_request", 1), ("meeting", 3), ("website_visit", 0))
    ])
    after = f.transform(closed, pd.concat([acts, extra], ignore_index=True), cutoff=cut)
    pd.testing.assert_frame_equal(before, after)
    # and the generator's own post-outcome "onboarding" meetings exist but are ignored
    st = activity_stats(closed["lead_id"], cut, acts, 21.0)
    later = acts.merge(closed[["lead_id", "outcome_date"]], on="lead_id")
    assert (later["activity_date"] >= later["outcome_date"]).any()
    n_before = (later["activity_date"] < later["outcome_date"]).groupby(later["lead_id"]).sum()
    got = pd.Series(st.total, index=closed["lead_id"]).reindex(n_before.index)
    assert (got.to_numpy() == n_before.to_numpy()).all()


def test_unfitted_featurizer_refuses(make_tiny):
    with pytest.raises(NotFittedError):
        LeadFeaturizer().transform(make_tiny(10))


def test_state_round_trip_is_exact(make_tiny):
    leads = make_tiny(300)
    y = (leads["outcome"] == "converted").to_numpy()
    f = LeadFeaturizer().fit(leads, y=y)
    g = LeadFeaturizer.from_state(f.get_state())
    pd.testing.assert_frame_equal(f.transform(leads, as_of="2025-01-01"), g.transform(leads, as_of="2025-01-01"))


def test_missing_columns_and_empty_activities_are_fine():
    leads = pd.DataFrame({"lead_id": ["a", "b"], "industry": ["Software", None]})
    f = LeadFeaturizer().fit(leads, pd.DataFrame(columns=["lead_id", "activity_type", "activity_date"]))
    X = f.transform(pd.DataFrame({"lead_id": ["c"]}))
    assert X.shape == (1, len(f.feature_names_))


HOSTS = [
    "acme.com", "ACME.com", " www.acme.co.uk ", "https://www.acme.co.uk/about", "http://shop.acme.co.uk/",
    "https://acme.com:8443/x", "ftp://user@files.acme.com", "acme..com", ".acme.com.", "www.com", "https://www.www.com",
    "co.uk", "www.co.uk", "x.y.z.co.jp", "a-b.c-d.org", "bücher.de", "localhost", "", "   ", None,
    "mail.acme.com", "jo@acme.com", "acme.com?ref=1", "acme.com#top",
]


def test_vectorised_registered_domains_agree_with_the_scalar_rule():
    """The e-mail/website match feature (vectorised) and the explanation wording (per value) must
    agree on what a company's domain is, for plain hosts, URLs and odd input alike."""
    got = P.registered_domains(P.arrow_strings(pd.Series(HOSTS, dtype="str"))).to_pylist()
    assert got == [P.registered_domain(h) for h in HOSTS]
    mapped = P.map_registered_domain(pd.Series(HOSTS, dtype=object))
    assert mapped.tolist() == [P.registered_domain(h) for h in HOSTS]


def test_email_matches_website_for_urls_and_subdomains():
    leads = pd.DataFrame({
        "lead_id": list("abcdefg"),
        "email": ["jo@acme.co.uk", "jo@mail.acme.com", "jo@acme.com", "JO@ACME.COM ", "info@acme.com",
                  "jo@gmail.com", "not-an-address"],
        "website": ["https://www.acme.co.uk/about", "http://acme.com", "other.com", "www.acme.com", "acme.com",
                    "gmail.com", "acme.com"],
    })
    X = LeadFeaturizer().fit(leads).transform(leads)
    assert X["email:domain_matches_website"].tolist() == [1, 1, 0, 1, 1, 1, 0]
    assert X["email:generic_mailbox"].tolist() == [0, 0, 0, 0, 1, 0, 0]
    assert X["email:free_mail"].tolist() == [0, 0, 0, 0, 0, 1, 0]
    assert X["email:present"].tolist() == [1, 1, 1, 1, 1, 1, 0]


def test_activity_order_and_strays_do_not_change_features(demo_data):
    """Activities as a database returns them (grouped by lead) or in any order, with rows for
    unknown leads and missing dates mixed in, give the same features."""
    leads, acts, _ = demo_data
    L = leads.head(1500).reset_index(drop=True)
    f = LeadFeaturizer().fit(L, acts)
    grouped = f.transform(L, acts, as_of="2025-01-01")
    strays = pd.DataFrame({"lead_id": ["nobody", None, L["lead_id"][0]], "activity_type": ["call", "meeting", "call"],
                           "activity_date": [pd.Timestamp("2024-06-01", tz="UTC"), pd.Timestamp("2024-06-01", tz="UTC"),
                                             pd.NaT]})
    shuffled = pd.concat([acts, strays], ignore_index=True).sample(frac=1.0, random_state=1)
    pd.testing.assert_frame_equal(grouped, f.transform(L, shuffled, as_of="2025-01-01"))
    assert grouped["activities.website_visit:count"].gt(0).any()


def test_activity_types_in_any_spelling_count_alike():
    leads = pd.DataFrame({"lead_id": ["a", "b"]})
    t = pd.Timestamp("2024-12-01", tz="UTC")
    acts = pd.DataFrame({"lead_id": ["a", "a", "a", "b", "b", "b"],
                         "activity_type": ["page_view", " Website Visit", "website-visit", "website_visit", None, "fax"],
                         "activity_date": [t] * 6})
    st = activity_stats(leads["lead_id"], np.full(2, pd.Timestamp("2025-01-01", tz="UTC").value), acts, 21.0)
    visits, other = st.col("website_visit"), st.col("other")
    assert st.counts[:, visits].tolist() == [3.0, 1.0]
    assert st.counts[:, other].tolist() == [0.0, 2.0]


def test_duplicate_lead_ids_are_refused():
    acts = pd.DataFrame({"lead_id": ["a"], "activity_type": ["call"], "activity_date": [pd.Timestamp("2024-01-01")]})
    with pytest.raises(InvalidInput):
        activity_stats(pd.Series(["a", "b", "a"]), np.zeros(3, dtype=np.int64), acts, 21.0)


def test_repeated_texts_get_the_same_text_features():
    leads = pd.DataFrame({
        "lead_id": [str(i) for i in range(60)],
        "description": ["Needs pricing for SSO and audit logs", "needs PRICING", None, "", "  "] * 12,
        "outcome": ["converted", "lost", "lost", "lost", "lost"] * 12,
    })
    y = (leads["outcome"] == "converted").to_numpy()
    f = LeadFeaturizer(text_tokens=3).fit(leads, y=y)
    X = f.transform(leads)
    length = X["description:length"].to_numpy()
    assert length[0] == pytest.approx(np.log1p(len("Needs pricing for SSO and audit logs")))
    assert length[1] == pytest.approx(np.log1p(len("needs pricing")))
    assert (length[2::5] == 0).all() and (length[3::5] == 0).all() and (length[4::5] == 0).all()
    assert (X.iloc[::5].to_numpy() == X.iloc[0].to_numpy()).all()
