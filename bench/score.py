"""Scoring throughput: N generated leads (activities held as in-memory frames, no database).

    .venv/bin/python bench/score.py [--n 1000000] [--train 20000] [--chunk 100000] [--job-chunk 10000]
                                    [--algorithms chosen,lightgbm] [--no-dicts]

For each model (the one ``train`` chooses on the demo data, and a LightGBM one for the spec's
floor) it prints, over the same leads in chunks of ``--chunk`` (as a scoring job writes them):

* floor: the model's own predict alone on the already built feature matrix,
* scores: the full pipeline (point-in-time features + predict + calibration),
* scores + reasons: ``explain_batch`` with top-5 reasons up and down and the next action,
* stored explanations: what the reasons pass (``scoring.explain``) computes per chunk of
  ``--job-chunk`` leads before writing it: ``explain_batch()``, ``to_stored_json(version)`` (each
  lead's stored explanation as JSON text, built from the columns) and ``list_columns`` (the first
  reason and insights a list row shows); each share on its own line,
* the former path, for comparison: ``to_stored`` dicts, encoded with orjson, and the list columns
  derived per lead (``leads.insights.list_columns``); the texts are byte-identical
  (tests/ml/test_explain_stored.py),
* peak memory (max RSS of the process, which also holds the generated data).

Wall seconds and CPU seconds (``time.process_time``) are both shown: the 2-core box is shared, and
CPU time is what this code controls. Splitting leads and activities into chunks is data loading
(a database query in the product) and is not timed.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from leadrank.ml.model import train  # noqa: E402


def generated(n: int, seed: int, with_outcomes: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    from leadrank.demo.generator import generate_activities, generate_leads

    raw = generate_leads(n, seed=seed, with_outcomes=with_outcomes)
    acts = generate_activities(raw, seed=seed).rename(columns={"external_id": "lead_id"})
    custom = ("favourite_color", "lead_owner_initials", "newsletter_subscriber", "budget_confirmed")
    leads = raw[[c for c in raw.columns if not c.startswith("_")]].rename(columns={c: f"custom.{c}" for c in custom})
    leads.insert(0, "lead_id", leads["external_id"].astype(str))
    leads.attrs["as_of"] = raw.attrs.get("as_of")
    return leads, acts[["lead_id", "activity_type", "activity_date"]]


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def chunks(leads: pd.DataFrame, acts: pd.DataFrame, size: int) -> list[tuple[pd.DataFrame, pd.DataFrame]]:
    idx = pd.Index(leads["lead_id"].to_numpy())
    chunk_of = pd.Series(np.arange(len(leads)) // size, index=idx)
    act_chunk = chunk_of.reindex(acts["lead_id"].to_numpy()).to_numpy()
    out = []
    for c in range((len(leads) + size - 1) // size):
        out.append((leads.iloc[c * size:(c + 1) * size].reset_index(drop=True),
                    acts.loc[act_chunk == c].reset_index(drop=True)))
    return out


class Timer:
    def __enter__(self) -> "Timer":
        self.w, self.c = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self.w, time.process_time() - self.c


def measure(model, parts, as_of, n: int, job_chunk: int, dicts: bool) -> dict[str, float]:  # noqa: ANN001
    out: dict[str, float] = {}
    mats = []
    with Timer() as t:
        for L, A in parts:
            mats.append(model.featurizer_.transform_array(L, A, as_of=as_of)[0])
    out["features_wall"], out["features_cpu"] = t.wall, t.cpu
    with Timer() as t:
        for X in mats:
            model.scorer_.margin(X)
    out["floor_wall"], out["floor_cpu"] = t.wall, t.cpu
    del mats
    with Timer() as t:
        for L, A in parts:
            model.predict_proba(L, A, as_of=as_of)
    out["scores_wall"], out["scores_cpu"] = t.wall, t.cpu
    with Timer() as t:
        for L, A in parts:
            b = model.explain_batch(L, A, as_of=as_of, top=5)
    out["reasons_wall"], out["reasons_cpu"] = t.wall, t.cpu
    out["example"] = (float(b.score[0]), [r for r in b.reasons_up[0] if r], [r for r in b.reasons_down[0] if r],
                      b.next_action[0])
    del b
    if dicts:
        import orjson

        from leadrank.leads.insights import LIST_INSIGHTS, list_columns

        acc = {k: [0.0, 0.0] for k in ("job", "stored", "listcols", "former", "dicts", "encode")}

        def add(key: str, *timers: Timer) -> None:
            acc[key][0] += sum(t.wall for t in timers)
            acc[key][1] += sum(t.cpu for t in timers)

        version = "00000000-0000-0000-0000-000000000001"
        for L, A in parts:
            for jl, ja in chunks(L, A, job_chunk):  # the job's own chunks (loading: not timed)
                with Timer() as t:
                    b = model.explain_batch(jl, ja, as_of=as_of, top=5)
                with Timer() as d:
                    texts = b.to_stored_json(version, {"score_kind": "model"})
                with Timer() as c:
                    b.list_columns(LIST_INSIGHTS)
                add("job", t, d, c)
                add("stored", d)
                add("listcols", c)
                del b, texts
                with Timer() as t:
                    b = model.explain_batch(jl, ja, as_of=as_of, top=5)
                with Timer() as d:
                    lean = b.to_stored(version)
                with Timer() as c:
                    [orjson.dumps({**e, "score_kind": "model"}) for e in lean]
                    [list_columns(e) for e in lean]
                add("former", t, d, c)
                add("dicts", d)
                add("encode", c)
                del b, lean
        for key, (wall, cpu) in acc.items():
            out[f"{key}_wall"], out[f"{key}_cpu"] = wall, cpu
    out["peak_mb"] = peak_mb()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--train", type=int, default=20_000, help="generated leads to train on (another seed)")
    ap.add_argument("--chunk", type=int, default=100_000)
    ap.add_argument("--job-chunk", type=int, default=10_000, help="leads per scoring-job chunk (SCORE_CHUNK)")
    ap.add_argument("--no-dicts", action="store_true", help="skip the stored-explanations measurement")
    ap.add_argument("--algorithms", default="chosen,lightgbm")
    args = ap.parse_args()

    with Timer() as t:
        tr_leads, tr_acts = generated(args.train, seed=1, with_outcomes=0.8)
        leads, acts = generated(args.n, seed=2, with_outcomes=0.0)
        parts = chunks(leads, acts, args.chunk)
    as_of = leads.attrs.get("as_of")
    print(f"generated {args.n:,} leads to score ({len(acts):,} activities) and {args.train:,} to train on in "
          f"{t.wall:.1f} s; peak RSS so far {peak_mb():,.0f} MB")
    del leads, acts
    models = {}
    for algo in args.algorithms.split(","):
        with Timer() as t:
            m = train(tr_leads, tr_acts, evaluate=False) if algo == "chosen" else \
                train(tr_leads, tr_acts, evaluate=False, algorithms=(algo,))
        label = f"{algo} = {m.algorithm}" if algo == "chosen" else algo
        if any(mm.algorithm == m.algorithm for mm in models.values()):
            continue
        print(f"trained {label} in {t.wall:.1f} s wall / {t.cpu:.1f} s CPU: {m.scorer_.describe()}")
        models[label] = m
    n = args.n
    print(f"\n{'model':<34}{'what':<34}{'leads/s wall':>14}{'leads/s CPU':>13}{'x floor (CPU)':>15}{'s/1M CPU':>10}")
    for label, m in models.items():
        r = measure(m, parts, as_of, n, args.job_chunk, not args.no_dicts)
        floor = n / r["floor_cpu"]
        rows = [("floor: model predict alone", "floor"), ("features alone", "features"),
                ("scores (features + predict)", "scores"), ("scores + top-5 reasons + action", "reasons")]
        if not args.no_dicts:
            rows += [(f"stored explanations ({args.job_chunk:,}/chunk)", "job"),
                     ("  of which to_stored_json", "stored"), ("  of which list columns", "listcols"),
                     ("former: dicts, encoded, insights", "former"), ("  of which to_stored dicts", "dicts"),
                     ("  of which encode + insights", "encode")]
        for what, key in rows:
            w, c = n / r[f"{key}_wall"], n / r[f"{key}_cpu"]
            print(f"{label:<34}{what:<34}{w:>14,.0f}{c:>13,.0f}{floor / c:>14.1f}x{1e6 / c:>10.1f}")
        print(f"{'':<34}peak RSS {r['peak_mb']:,.0f} MB; example: {r['example']}")


if __name__ == "__main__":
    main()
