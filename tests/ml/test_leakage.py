from __future__ import annotations

import numpy as np
import pandas as pd

from leadrank.ml import _parsing as P
from leadrank.ml.leakage import detect_leakage
from leadrank.ml.model import train


def _planted(leads: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y = (leads["outcome"] == "converted").to_numpy()
    out = leads.copy()
    noisy = np.where(rng.random(len(y)) < 0.02, ~y, y)  # a copy of the label with 2 % noise
    out["custom.deal_flag"] = np.where(noisy, "yes", "no")
    # filled only for (some) converters: like Olist's closed-deal columns
    out["custom.contract_id"] = np.where(y & (rng.random(len(y)) < 0.6), [f"C-{i}" for i in range(len(y))], None)
    # 0 for every lost deal: like Maven's close_value
    out["custom.close_value"] = np.where(y, rng.integers(500, 5000, len(y)), 0)
    # a date recorded after the outcome
    out["custom.signed_on"] = (leads["outcome_date"] + pd.to_timedelta(rng.integers(1, 30, len(y)), unit="D")
                               ).dt.strftime("%Y-%m-%d")
    return out


def test_leakage_guard_catches_planted_columns(demo_data):
    leads, _, _ = demo_data
    closed = leads[leads["outcome"].isin(["converted", "lost"])].reset_index(drop=True)
    planted = _planted(closed)
    y = (planted["outcome"] == "converted").to_numpy()
    res = detect_leakage(planted, y, outcome_ns=P.to_epoch_ns(planted["outcome_date"]))
    rules = {f["column"]: f["rule"] for f in res["flagged"]}
    assert rules["custom.deal_flag"] == "single_column_auc"
    assert res["columns"]["custom.deal_flag"]["auc"] > 0.95
    assert rules["custom.contract_id"] == "filled_for_one_class"
    assert rules["custom.close_value"] in ("single_column_auc", "value_marks_one_class")
    assert rules["custom.signed_on"] == "date_after_outcome"
    # honest columns (including real drivers and pure noise) are not flagged
    for col in ("job_title", "industry", "lead_source", "custom.budget_confirmed", "custom.favourite_color",
                "company_size", "email"):
        assert col not in rules, col
    assert all(f["reason"] and f["excluded"] for f in res["flagged"])


def test_training_leaves_leaky_columns_out_unless_insisted(make_tiny):
    leads = make_tiny(600)
    y = leads["outcome"] == "converted"
    rng = np.random.default_rng(1)
    leads["custom.won_stage"] = np.where(rng.random(len(y)) < 0.02, ~y, y).astype(str)
    m = train(leads, time_budget_s=5)
    flagged = {f["column"] for f in m.report["leakage"]["flagged"]}
    assert "custom.won_stage" in flagged
    assert "custom.won_stage" in m.report["leakage"]["excluded_columns"]
    assert not any(g == "custom.won_stage" for g in m.feature_groups_.values())
    assert "predicts the outcome" in m.report["leakage"]["flagged"][0]["reason"]
    insisted = train(leads, time_budget_s=5, include_columns=["custom.won_stage"])
    assert any(g == "custom.won_stage" for g in insisted.feature_groups_.values())
    assert insisted.report["leakage"]["flagged"][0]["excluded"] is False
