"""Quality benchmark: leadrank's chosen model vs plain logistic regression, LightGBM defaults and
FLAML AutoML (60 s budget) on every data set in shared/data, all on the same time-ordered split.

    .venv/bin/python bench/quality.py [--flaml-budget 60] [--skip-flaml] [--skip-scale] [--only DATA SET]

"train s" is wall time, "cpu s" the process's CPU time (all its threads: FLAML runs with n_jobs=-1,
leadrank's LightGBM with one thread); on a shared machine the CPU column is the steadier one.

FLAML is a benchmark-only dependency (``pip install "flaml[automl]"``); it is imported here only.
Baselines get exactly the same feature matrix as leadrank (its featurizer fitted on the training
part), so the comparison isolates model choice, tuning and calibration.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import lightgbm as lgb  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.impute import SimpleImputer  # noqa: E402

from leadrank.ml.features import LeadFeaturizer, training_cutoffs  # noqa: E402
from leadrank.ml.metrics import probability_metrics  # noqa: E402
from leadrank.ml.model import train  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
if not DATA.exists():
    DATA = Path("/work/shared/data")


# --------------------------------------------------------------------------- data sets -> leads

def bank_marketing() -> pd.DataFrame:
    df = pd.read_csv(DATA / "bank-marketing" / "bank-additional-full.csv", sep=";")
    df = df.drop(columns=["duration"])  # known only after the call (SOURCE.md)
    # rows are in date order without a date: a synthetic, order-preserving created_at
    created = pd.Timestamp("2008-05-01", tz="UTC") + pd.to_timedelta(np.arange(len(df)) * 30, unit="min")
    leads = pd.DataFrame({f"custom.{c}": df[c].to_numpy() for c in df.columns if c != "y"})
    leads.insert(0, "lead_id", [f"b{i}" for i in range(len(df))])
    leads["outcome"] = np.where(df["y"] == "yes", "converted", "lost")
    leads["created_at"] = created
    return leads


def olist() -> pd.DataFrame:
    d = DATA / "olist-marketing-funnel"
    mql = pd.read_csv(d / "olist_marketing_qualified_leads_dataset.csv")
    closed = pd.read_csv(d / "olist_closed_deals_dataset.csv")
    won = closed.set_index("mql_id")["won_date"]
    leads = pd.DataFrame({
        "lead_id": mql["mql_id"],
        "created_at": pd.to_datetime(mql["first_contact_date"], utc=True),
        "lead_source": mql["origin"],
        "custom.landing_page_id": mql["landing_page_id"],
    })
    conv = mql["mql_id"].isin(won.index)
    leads["outcome"] = np.where(conv, "converted", "lost")
    # only pre-outcome columns: closed-deal columns exist only for won leads (SOURCE.md)
    return leads


def crm_sales() -> pd.DataFrame:
    d = DATA / "crm-sales-opportunities"
    pipe = pd.read_csv(d / "sales_pipeline.csv")
    acc = pd.read_csv(d / "accounts.csv")
    teams = pd.read_csv(d / "sales_teams.csv")
    prods = pd.read_csv(d / "products.csv")
    pipe["product"] = pipe["product"].replace({"GTXPro": "GTX Pro"})
    pipe = pipe[pipe["deal_stage"].isin(["Won", "Lost"])].copy()
    df = pipe.merge(acc, on="account", how="left").merge(teams, on="sales_agent", how="left").merge(
        prods, on="product", how="left")
    leads = pd.DataFrame({
        "lead_id": df["opportunity_id"],
        "company_name": df["account"],
        "industry": df["sector"],
        "company_size": df["employees"],
        "annual_revenue": df["revenue"],
        "country": df["office_location"],
        "created_at": pd.to_datetime(df["engage_date"], utc=True),
        "custom.sales_agent": df["sales_agent"], "custom.manager": df["manager"],
        "custom.regional_office": df["regional_office"], "custom.product": df["product"],
        "custom.series": df["series"], "custom.sales_price": df["sales_price"],
        "custom.year_established": df["year_established"], "custom.subsidiary_of": df["subsidiary_of"],
        # close_value / close_date are recorded at the outcome: kept here on purpose so the leakage
        # guard has to catch them
        "custom.close_value": df["close_value"],
        "custom.close_date": df["close_date"],
    })
    leads["outcome"] = np.where(df["deal_stage"] == "Won", "converted", "lost")
    return leads.reset_index(drop=True)


def generated(n: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    from leadrank.demo.generator import generate_activities, generate_leads

    raw = generate_leads(n, seed=seed)
    acts = generate_activities(raw, seed=seed).rename(columns={"external_id": "lead_id"})
    custom = ("favourite_color", "lead_owner_initials", "newsletter_subscriber", "budget_confirmed")
    leads = raw[[c for c in raw.columns if not c.startswith("_")]].rename(columns={c: f"custom.{c}" for c in custom})
    leads.insert(0, "lead_id", leads["external_id"].astype(str))
    leads.attrs["as_of"] = raw.attrs.get("as_of")
    return leads, acts[["lead_id", "activity_type", "activity_date"]]


# --------------------------------------------------------------------------- one data set

def time_split(leads: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(leads["created_at"].to_numpy(), kind="stable")
    k = int(round(len(order) * 0.8))
    return np.sort(order[:k]), np.sort(order[k:])


def run(name: str, leads: pd.DataFrame, acts: pd.DataFrame | None, flaml_budget: float, skip_flaml: bool) -> list[dict]:
    tr, ho = time_split(leads)
    Ltr, Lho = leads.iloc[tr].reset_index(drop=True), leads.iloc[ho].reset_index(drop=True)
    y_tr = (Ltr["outcome"] == "converted").to_numpy().astype(int)
    y_ho = (Lho["outcome"] == "converted").to_numpy().astype(int)
    rows = []

    def add(model: str, p: np.ndarray, seconds: float, cpu: float, note: str = "") -> None:
        m = probability_metrics(y_ho, p)
        rows.append({"data": name, "model": model, "roc_auc": m["roc_auc"], "pr_auc": m["pr_auc"],
                     "brier": m["brier"], "capture_at_20": m["capture_at_20"], "train_s": seconds,
                     "cpu_s": cpu, "note": note})

    # leadrank: train + select + calibrate on the training part (its own internal holdout evaluation
    # is switched off here: the bench's holdout plays that role).
    t, c = time.perf_counter(), time.process_time()
    model = train(Ltr, acts, evaluate=False)
    secs, cpu = time.perf_counter() - t, time.process_time() - c
    cut_ho = training_cutoffs(Lho)
    X_ho, _ = model.featurizer_.transform_array(Lho, acts, cutoff=cut_ho)
    p = 1 / (1 + np.exp(-model._calibrated_margin(X_ho)))
    leak = ",".join(model.report["leakage"]["excluded_columns"]) or "-"
    add(f"leadrank ({model.algorithm})", p, secs, cpu, f"leaky cols dropped: {leak}")

    # same features for the baselines
    # cross-fitted target encodings on the training rows, exactly as leadrank trains (a plain
    # transform would hand the baselines each row's own label through the target-rate columns)
    f = LeadFeaturizer(exclude_columns=tuple(model.report["leakage"]["excluded_columns"]))
    X_tr = f.fit_transform(Ltr, acts, y_tr, cutoff=training_cutoffs(Ltr)).to_numpy(np.float32)
    X_ho, _ = f.transform_array(Lho, acts, cutoff=cut_ho)
    t, c = time.perf_counter(), time.process_time()
    lr = make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), LogisticRegression(max_iter=1000))
    with warnings.catch_warnings():  # an all-missing training column is expected (the imputer skips it)
        warnings.simplefilter("ignore", UserWarning)
        lr.fit(X_tr, y_tr)
    add("plain logistic regression", lr.predict_proba(X_ho)[:, 1], time.perf_counter() - t, time.process_time() - c)
    t, c = time.perf_counter(), time.process_time()
    gbm = lgb.LGBMClassifier(verbose=-1).fit(X_tr, y_tr)
    add("LightGBM defaults", gbm.predict_proba(X_ho)[:, 1], time.perf_counter() - t, time.process_time() - c)
    if not skip_flaml:
        from flaml import AutoML

        t, c = time.perf_counter(), time.process_time()
        automl = AutoML()
        # tree learners only: FLAML's linear/kNN learners reject the NaNs that mark missing values
        with warnings.catch_warnings():  # sklearn's joblib-config warning, once per FLAML trial
            warnings.simplefilter("ignore", UserWarning)
            automl.fit(X_tr, y_tr, task="classification", metric="roc_auc", time_budget=flaml_budget, verbose=0,
                       seed=0, n_jobs=-1, estimator_list=["lgbm", "xgboost", "xgb_limitdepth", "rf", "extra_tree"])
        add(f"FLAML AutoML {flaml_budget:.0f}s ({automl.best_estimator})", automl.predict_proba(X_ho)[:, 1],
            time.perf_counter() - t, time.process_time() - c)
    return rows


def print_table(rows: list[dict]) -> None:
    head = (f"{'data set':<26}{'model':<44}{'ROC AUC':>8}{'PR AUC':>8}{'Brier':>8}{'cap@20':>8}{'train s':>9}"
            f"{'cpu s':>8}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['data']:<26}{r['model']:<44}{r['roc_auc']:>8.4f}{r['pr_auc']:>8.4f}{r['brier']:>8.4f}"
              f"{r['capture_at_20']:>8.3f}{r['train_s']:>9.2f}{r['cpu_s']:>8.2f}  {r['note']}")


def scale(n_train: int = 100_000, n_explain: int = 100_000) -> None:
    leads, acts = generated(n_train, seed=3)
    t, c = time.perf_counter(), time.process_time()
    model = train(leads, acts)
    secs, cpu = time.perf_counter() - t, time.process_time() - c
    r = model.report
    print(f"\ntraining on {n_train:,} generated leads ({len(acts):,} activities): {secs:.1f} s ({cpu:.1f} CPU s) "
          f"(evaluation fit {r['evaluation_seconds']:.1f} s + final refit {r['final_fit_seconds']:.1f} s), "
          f"chosen {model.algorithm} {r['final_model']}, holdout ROC AUC {r['roc_auc']:.4f}, "
          f"alternatives " + ", ".join(f"{a}: {v['roc_auc']:.4f}" for a, v in r["alternatives"].items()))
    sample = leads.iloc[:n_explain]
    as_of = leads.attrs.get("as_of")
    X, _ = model.featurizer_.transform_array(sample, acts, as_of=as_of)
    t = time.perf_counter()
    model.scorer_.margin(X)
    floor = time.perf_counter() - t
    t = time.perf_counter()
    model.predict_proba(sample, acts, as_of=as_of)
    full = time.perf_counter() - t
    t = time.perf_counter()
    model.explain_batch(sample, acts, as_of=as_of, reasons=False)
    contrib = time.perf_counter() - t
    t = time.perf_counter()
    b = model.explain_batch(sample, acts, as_of=as_of, top=5)
    expl = time.perf_counter() - t
    n = len(sample)
    print(f"scoring {n:,} leads: model predict alone {n / floor:,.0f} rows/s; full pipeline (featurise + predict + "
          f"calibrate) {n / full:,.0f} rows/s")
    print(f"explain_batch {n:,} leads: contributions only {n / contrib:,.0f} rows/s; with top-5 reasons up/down and "
          f"next action {n / expl:,.0f} rows/s ({expl:.1f} s)")
    print("example:", b.score[0].round(1), list(r for r in b.reasons_up[0] if r), list(r for r in b.reasons_down[0] if r),
          b.next_action[0])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--flaml-budget", type=float, default=60.0)
    ap.add_argument("--skip-flaml", action="store_true")
    ap.add_argument("--skip-scale", action="store_true")
    ap.add_argument("--only", default=None)
    args = ap.parse_args()
    sets = {"bank-marketing": lambda: (bank_marketing(), None), "olist-marketing-funnel": lambda: (olist(), None),
            "crm-sales-opportunities": lambda: (crm_sales(), None),
            "generated-demo-20k": lambda: generated(20_000, seed=1)}
    rows = []
    for name, load in sets.items():
        if args.only and args.only != name:
            continue
        leads, acts = load()
        rows += run(name, leads, acts, args.flaml_budget, args.skip_flaml)
        print_table(rows[-(3 if args.skip_flaml else 4):])
        sys.stdout.flush()
    print("\n=== all data sets, same time-ordered 80/20 split (newest 20% by created_at held out) ===")
    print_table(rows)
    if not args.skip_scale:
        scale()


if __name__ == "__main__":
    main()
