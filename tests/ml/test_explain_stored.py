"""``ExplanationBatch.to_stored`` builds exactly what a scoring job used to store: the full
explanation dicts, the model block the customization hooks add when no configuration shapes the
scores, then ``scoring.stored.compact``. Checked dict by dict on generated leads with missing
values, custom attributes (dates, decimals, flags, categories) and leads without activities."""

from __future__ import annotations

import numpy as np
import orjson
import pandas as pd
import pytest

from leadrank.customize import engine as E
from leadrank.ml import explain as X
from leadrank.ml.model import train
from leadrank.scoring import stored
from .conftest import demo

VERSION = "5b0d7c1e-2f43-4c55-9a0e-3d2c8f0b6a11"


def slow_stored(batch: X.ExplanationBatch, version: str | None) -> list[dict]:
    """The former path: to_dicts, the hooks' model block for the identity case, compact."""
    contrib = E.Contributions.from_model(batch.groups, batch.log_odds, batch.base_logit)
    out = []
    for i, exp in enumerate(batch.to_dicts()):
        exp["model"] = {"base_logit": float(contrib.base_logit[i]), "names": contrib.names,
                        "categories": contrib.categories,
                        "log_odds": [float(v) for v in contrib.log_odds[i]], "version": version}
        out.append(stored.compact({**exp, "score_kind": "model"}))
    return out


def with_custom_attributes(leads: pd.DataFrame, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = len(leads)
    L = leads.copy()
    signup = L["created_at"] - pd.to_timedelta(rng.integers(0, 200 * 86400, n), unit="s")  # before the outcome
    L["custom.signup"] = signup.where(rng.random(n) > 0.2)  # NaT where missing
    # decimals with many digits, some exactly on a rounding half, some missing
    ratio = rng.random(n) * 1000
    halves = rng.random(n) < 0.05
    ratio[halves] = rng.choice([0.00005, 1.23445, 2.00015, 0.12345, 1e-7, 123456.78905], halves.sum())
    ratio[rng.random(n) < 0.15] = np.nan
    L["custom.ratio"] = ratio
    L["custom.tier"] = pd.Series(rng.choice(["gold", "silver", "bronze"], n)).where(rng.random(n) > 0.1)
    return L


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    leads, acts, _ = demo(1800, seed=23)
    leads = with_custom_attributes(leads, seed=23)
    train_leads, score_leads = leads.iloc[:1400].reset_index(drop=True), leads.iloc[1400:].reset_index(drop=True)
    score_leads = score_leads.drop(columns=["outcome", "outcome_date"])
    rng = np.random.default_rng(5)
    n = len(score_leads)
    # missing values everywhere a user could leave a cell empty
    for col in ("email", "job_title", "website", "phone", "company_name", "lead_source", "country",
                "custom.favourite_color", "custom.budget_confirmed", "description"):
        score_leads.loc[rng.random(n) < 0.15, col] = None
    score_leads["company_size"] = score_leads["company_size"].astype("float64").where(rng.random(n) > 0.15)
    score_leads["annual_revenue"] = score_leads["annual_revenue"].astype(object).where(rng.random(n) > 0.15)
    score_leads["created_at"] = score_leads["created_at"].where(rng.random(n) > 0.1)
    score_leads.loc[:9, "custom.ratio"] = np.nan
    # a third of the leads lose all their activities
    quiet = set(score_leads["lead_id"].sample(frac=1 / 3, random_state=1))
    score_acts = acts[~acts["lead_id"].isin(quiet)].reset_index(drop=True)
    return train_leads, acts, score_leads, score_acts


@pytest.fixture(scope="module", params=["logistic_regression", "lightgbm", "blend"])
def model(request, data):  # noqa: ANN001
    train_leads, acts, _, _ = data
    m = train(train_leads, acts, random_state=0, time_budget_s=4, algorithms=(request.param,))
    assert m.algorithm == request.param
    assert {"custom.signup", "custom.ratio", "custom.tier"} <= set(m.groups_)
    return m


def test_to_stored_equals_compact_of_the_full_dicts(model, data) -> None:  # noqa: ANN001
    _, _, leads, acts = data
    as_of = pd.Timestamp("2025-01-15", tz="UTC")
    full = model.explain_batch(leads, acts, as_of=as_of, top=5, keep_features=True)
    lean = model.explain_batch(leads, acts, as_of=as_of, top=5, keep_features=False)
    expected = slow_stored(full, VERSION)
    got = lean.to_stored(VERSION)
    assert len(got) == len(expected) == len(leads)
    for g, e in zip(got, expected, strict=True):
        assert {**g, "score_kind": "model"} == e
        assert list(g["model"]["log_odds"]) == list(e["model"]["log_odds"])  # group order kept
    # what the check covers: missing values, no activities, rounding of values and points
    contributions = [c for e in got for c in e["contributions"]]
    assert any(c["value"] is None for c in contributions)
    assert any(c["group"] == "custom.ratio" and isinstance(c["value"], float) for c in contributions)
    assert any(c["group"] == "custom.signup" and isinstance(c["value"], str) for c in contributions)
    assert any(e["next_action"] is None for e in got) and any(e["next_action"] for e in got)
    # keep_features changes nothing in the stored form
    assert lean.to_stored(None) == full.to_stored(None)


def test_to_stored_without_activities_and_without_version(model, data) -> None:  # noqa: ANN001
    _, _, leads, _ = data
    batch = model.explain_batch(leads.head(120), None, as_of="2025-01-15", top=3, keep_features=True)
    assert [{**g, "score_kind": "model"} for g in batch.to_stored(None)] == slow_stored(batch, None)


def test_to_stored_of_a_single_lead_and_of_none(model, data) -> None:  # noqa: ANN001
    _, _, leads, acts = data
    one = model.explain_batch(leads.iloc[[7]], acts, as_of="2025-01-15", keep_features=True)
    assert [{**g, "score_kind": "model"} for g in one.to_stored(VERSION)] == slow_stored(one, VERSION)
    none = model.explain_batch(leads.iloc[:0], acts, as_of="2025-01-15")
    assert none.to_stored(VERSION) == []


def test_stored_form_version_agrees_with_scoring() -> None:
    assert X.STORED_FORM == stored.STORAGE_VERSION


@pytest.mark.parametrize("digits", [4, 5, 6])
def test_column_wise_rounding_is_pythons(digits: int) -> None:
    rng = np.random.default_rng(digits)
    x = np.concatenate([
        rng.normal(0, 30, 200_000), rng.normal(0, 1e-3, 50_000), rng.normal(0, 1e9, 20_000),
        # scaled values on or next to a half: where numpy's scale-and-rint alone differs from round()
        (np.arange(-5000, 5000) + 0.5) / 10.0 ** digits,
        np.nextafter((np.arange(-5000, 5000) + 0.5) / 10.0 ** digits, np.inf),
        [0.0, -0.0, 1e300, -1e300, np.inf, -np.inf, 2.0 ** 60 + 0.5, 1.0000000000000002],
    ])
    got = X._round_like_python(x, digits).tolist()
    want = [round(v, digits) for v in x.tolist()]
    assert got == want
    assert [np.copysign(1, v) for v in got] == [np.copysign(1, v) for v in want]  # -0.0 stays -0.0
    assert np.isnan(X._round_like_python(np.array([np.nan]), digits)[0])


@pytest.mark.parametrize("top", [10, 3, 100])
def test_list_columns_equal_those_derived_from_the_stored_form(model, data, top: int) -> None:  # noqa: ANN001
    from leadrank.leads import insights

    _, _, leads, acts = data
    batch = model.explain_batch(leads, acts, as_of="2025-01-15", top=5)
    reasons, texts = batch.list_columns(top)
    want = []
    for exp in batch.to_stored(VERSION):
        rows = insights.insights(exp)
        kept = [r for r in rows if r["direction"] != "action"][:top] + [r for r in rows if r["direction"] == "action"]
        want.append((insights.top_reason(exp), kept))
    assert [(r, orjson.loads(t)) for r, t in zip(reasons, texts, strict=True)] == want
    # and with the product's own setting, exactly the text leads.insights.list_columns writes
    if top == insights.LIST_INSIGHTS:
        assert [{"top_reason": r, "insights": t} for r, t in zip(reasons, texts, strict=True)] == \
            [insights.list_columns(e) for e in batch.to_stored(VERSION)]
    # what the check covers: leads with and without a next step, points of both signs
    assert any('"direction":"action"' in t for t in texts) and any('"direction":"action"' not in t for t in texts)
    assert any('"direction":"down"' in t for t in texts)
    none = model.explain_batch(leads.iloc[:0], acts, as_of="2025-01-15")
    assert none.list_columns(top) == ([], [])


def test_stored_json_is_the_stored_form_encoded(model, data) -> None:  # noqa: ANN001
    _, _, leads, acts = data
    leads = leads.copy()
    # text that JSON must escape, or that is not ASCII, beside plain values of the same column
    leads.loc[:3, "company_name"] = ['O"Brien & Söhne', "back\\slash", "tab\there", "Zürich \u2028 AG"]
    leads.loc[4:6, "job_title"] = ['VP "Growth"', "Directrice générale", "CEO\n"]
    batch = model.explain_batch(leads, acts, as_of="2025-01-15", top=5)
    extra = {"score_kind": "model"}
    texts = batch.to_stored_json(VERSION, extra)
    assert [t.encode() for t in texts] == [orjson.dumps({**e, **extra}) for e in batch.to_stored(VERSION)]
    assert any('\\"' in t for t in texts) and any("ü" in t for t in texts)  # the escapes were exercised
    # without a version or extra keys, without activities, and for a single lead
    quiet = model.explain_batch(leads.head(50), None, as_of="2025-01-15", top=3)
    assert [t.encode() for t in quiet.to_stored_json(None)] == [orjson.dumps(e) for e in quiet.to_stored(None)]
    one = model.explain_batch(leads.iloc[[3]], acts, as_of="2025-01-15")
    assert [orjson.loads(t) for t in one.to_stored_json(VERSION)] == one.to_stored(VERSION)
    assert model.explain_batch(leads.iloc[:0], acts, as_of="2025-01-15").to_stored_json(VERSION) == []
