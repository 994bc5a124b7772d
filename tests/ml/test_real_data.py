"""Real data: UCI bank marketing without the leaky ``duration`` column (see shared/data SOURCE.md)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from leadrank.ml.evaluate import evaluate_file_frame, frame_to_leads
from leadrank.ml.model import train

from .conftest import DATA

BANK = DATA / "bank-marketing" / "bank-additional-full.csv"
pytestmark = pytest.mark.skipif(not BANK.exists(), reason="shared data sets not available")


@pytest.fixture(scope="module")
def bank() -> pd.DataFrame:
    df = pd.read_csv(BANK, sep=";")
    return df.iloc[::7].reset_index(drop=True)  # every 7th row: 5,884 rows, keeps the time order


def test_bank_marketing_beats_baselines_and_flags_duration(bank):
    # Rows have no date, so evaluation is stratified 5-fold of the whole pipeline.
    # duration (the length of the call, known only afterwards) is dropped as SOURCE.md says.
    honest = evaluate_file_frame(bank, target="y", drop_columns=["duration"], time_budget_s=10)
    assert honest["evaluation"]["method"] == "stratified_5_fold"
    assert honest["roc_auc"] > 0.76
    assert honest["roc_auc"] >= honest["baselines"]["best_single_feature"]["roc_auc"] + 0.02
    assert honest["pr_auc"] > 2.5 * honest["base_rate"]
    assert honest["capture_at_20"] > 0.5
    assert abs(honest["mean_predicted"] - honest["base_rate"]) < 0.02
    assert {"logistic_regression", "lightgbm", "blend"} == set(honest["alternatives"])


def test_bank_marketing_explanations_add_up(bank):
    leads = frame_to_leads(bank.drop(columns=["duration"]), "y")
    m = train(leads, time_budget_s=10, evaluate=False)
    b = m.explain_batch(leads)
    assert np.max(np.abs(b.base_points + b.points.sum(axis=1) - b.score)) < 1e-6
    text = " ".join(r for r in b.reasons_up[:200].ravel() if r)
    assert "custom." not in text and " is " in text
    assert m.feature_importance()[0]["name"].startswith("custom.")
