"""Fixtures for the ml tests: the generated demo data (true drivers known) and small hand-made frames."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

try:
    import leadrank  # noqa: F401
except ImportError:  # running from a checkout without an installed package
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

from leadrank.demo.generator import generate_activities, generate_leads  # noqa: E402

CUSTOM = ("favourite_color", "lead_owner_initials", "newsletter_subscriber", "budget_confirmed")
DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
if not DATA.exists():
    DATA = Path("/work/shared/data")


def to_contract(leads: pd.DataFrame, acts: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Generator output -> the ml data contract (lead_id, custom.* columns, no hidden truth)."""
    truth = leads["_true_probability"].to_numpy()
    as_of = leads.attrs.get("as_of")
    L = leads[[c for c in leads.columns if not c.startswith("_")]].rename(
        columns={c: f"custom.{c}" for c in CUSTOM})
    L.insert(0, "lead_id", L["external_id"].astype(str))
    L.attrs["as_of"] = as_of
    A = acts.rename(columns={"external_id": "lead_id"})[["lead_id", "activity_type", "activity_date", "description"]]
    return L, A, truth


def demo(n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    leads = generate_leads(n, seed=seed, start=pd.Timestamp("2024-01-01").date(), end=pd.Timestamp("2024-12-31").date())
    return to_contract(leads, generate_activities(leads, seed=seed))


@pytest.fixture(scope="session")
def demo_data() -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    return demo(6000, seed=11)


@pytest.fixture(scope="session")
def demo_model(demo_data):
    from leadrank.ml.model import train

    leads, acts, _ = demo_data
    return train(leads, acts, random_state=0, time_budget_s=20)


def tiny_leads(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """A small hand-made frame with a known signal in job title and a custom flag."""
    rng = np.random.default_rng(seed)
    titles = np.array(["VP of Sales", "Marketing Intern", "Software Engineer", "CEO", "Director of IT", "Analyst"])
    t = rng.integers(0, len(titles), n)
    flag = rng.random(n) < 0.5
    logit = -1.5 + np.where(np.isin(t, [0, 3, 4]), 1.5, -0.5) + np.where(flag, 0.8, 0.0)
    y = rng.random(n) < 1 / (1 + np.exp(-logit))
    created = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(np.sort(rng.integers(0, 300, n)), unit="D")
    return pd.DataFrame({
        "lead_id": [f"L{i}" for i in range(n)],
        "job_title": titles[t],
        "email": np.where(rng.random(n) < 0.3, "a@gmail.com", "a@acme.com"),
        "website": "https://www.acme.com",
        "company_size": rng.integers(1, 5000, n),
        "custom.flag": np.where(flag, "yes", "no"),
        "outcome": np.where(y, "converted", "lost"),
        "created_at": created,
        "outcome_date": created + pd.Timedelta(days=20),
    })


@pytest.fixture
def make_tiny():
    return tiny_leads
