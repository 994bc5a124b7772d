"""ICPs, embeddings and vector search for a workspace, and cold-start scores.

The embedding store is pgvector when the database has it, else an in-process usearch
index under the data directory (``open_store``); ``vector_backend()`` says which.
"""

from __future__ import annotations

import threading
import uuid
from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from leadrank.config import get_settings
from leadrank.errors import InvalidInput, NotFound
from leadrank.models import IdealCustomerProfile, Lead
from leadrank.models.base import utcnow
from leadrank.similarity import coldstart
from leadrank.similarity.embeddings import EmbeddingUnavailable, content_hash, profile_text, provider_from_settings
from leadrank.similarity.icp import ICP, icp_components

_store = None
_store_lock = threading.Lock()
EMBED_BATCH = 2048


def provider():  # noqa: ANN201
    return provider_from_settings(get_settings())


def store():  # noqa: ANN201
    """The process-wide embedding store for the configured database and provider."""
    global _store
    with _store_lock:
        if _store is None:
            from leadrank.db import get_engine
            from leadrank.similarity.store import open_store

            engine = get_engine()
            _store = open_store(engine if engine.dialect.name == "postgresql" else None,
                                get_settings().data_dir, provider().dimension)
        return _store


def reset_store() -> None:
    global _store
    with _store_lock:
        _store = None


def vector_backend() -> str:
    try:
        return store().backend
    except Exception as exc:  # noqa: BLE001 - health must answer even when this is broken
        return f"unavailable: {exc}"


# --- ICPs ----------------------------------------------------------------------------------

def list_icps(session: Session, workspace_id: uuid.UUID) -> list[IdealCustomerProfile]:
    return list(session.scalars(select(IdealCustomerProfile).where(
        IdealCustomerProfile.workspace_id == workspace_id).order_by(IdealCustomerProfile.created_at)))


def get_icp(session: Session, workspace_id: uuid.UUID, icp_id: uuid.UUID) -> IdealCustomerProfile:
    icp = session.scalars(select(IdealCustomerProfile).where(
        IdealCustomerProfile.workspace_id == workspace_id, IdealCustomerProfile.id == icp_id)).first()
    if icp is None:
        raise NotFound(f"ICP {icp_id} not found")
    return icp


def save_icp(session: Session, workspace_id: uuid.UUID, definition: dict, *, icp_id: uuid.UUID | None = None,
             primary: bool | None = None) -> IdealCustomerProfile:
    try:
        parsed = ICP.from_dict(definition)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"ICP is not valid: {exc}") from None
    if not (parsed.description.strip() or parsed.has_criteria or parsed.example_lead_ids or parsed.example_profiles):
        raise InvalidInput("an ICP needs a description, criteria or example leads")
    row = get_icp(session, workspace_id, icp_id) if icp_id else IdealCustomerProfile(workspace_id=workspace_id)
    row.name = parsed.name
    row.definition = parsed.to_dict()
    row.updated_at = utcnow()
    existing = list_icps(session, workspace_id)
    if primary or (primary is None and not any(i.is_primary for i in existing if i.id != row.id)):
        for other in existing:
            other.is_primary = False
        row.is_primary = True
    session.add(row)
    session.flush()
    return row


def delete_icp(session: Session, workspace_id: uuid.UUID, icp_id: uuid.UUID) -> None:
    session.delete(get_icp(session, workspace_id, icp_id))


def primary_icp(session: Session, workspace_id: uuid.UUID) -> ICP | None:
    rows = list_icps(session, workspace_id)
    chosen = next((r for r in rows if r.is_primary), rows[0] if rows else None)
    return ICP.from_dict({**chosen.definition, "id": str(chosen.id)}) if chosen else None


# --- embeddings ------------------------------------------------------------------------------

def _texts(leads: pd.DataFrame) -> list[str]:
    return [profile_text(r) for r in leads.to_dict("records")]


def embed_leads(session: Session, workspace_id: uuid.UUID, leads: pd.DataFrame) -> np.ndarray:
    """Vectors for these leads (rows aligned), computing only those whose text changed.
    Raises EmbeddingUnavailable when a remote provider cannot be reached."""
    prov = provider()
    texts = _texts(leads)
    ids = [uuid.UUID(str(i)) for i in leads["lead_id"]]
    hashes = [content_hash(t, prov.model_id) for t in texts]
    st = store()
    stale = set(st.stale(workspace_id, dict(zip(ids, hashes, strict=True))))
    todo = [k for k, i in enumerate(ids) if i in stale and texts[k].strip()]
    if todo:
        # Embedded in batches, stored at once: the in-process store writes its whole index
        # back on every change.
        vecs = np.concatenate([prov.embed([texts[k] for k in todo[start:start + EMBED_BATCH]])
                               for start in range(0, len(todo), EMBED_BATCH)])
        st.upsert(workspace_id, [ids[k] for k in todo], vecs, model_id=prov.model_id,
                  content_hashes=[hashes[k] for k in todo])
    have = st.vectors(workspace_id, ids)
    out = np.zeros((len(ids), prov.dimension), dtype=np.float32)
    for k, i in enumerate(ids):
        if i in have:
            out[k] = have[i]
    return out


def forget_leads(workspace_id: uuid.UUID, lead_ids: list[uuid.UUID]) -> None:
    """Remove leads from the vector index (deletion / privacy erasure)."""
    st = store()
    try:
        st.delete(lead_ids, workspace_id=workspace_id)
    except TypeError:
        st.delete(lead_ids)


def similar_leads(session: Session, workspace_id: uuid.UUID, to: str, k: int = 10) -> dict:
    """Leads most like a lead (``to`` = its id) or like an ICP (``to`` = the ICP's id)."""
    if not 1 <= k <= 200:
        raise InvalidInput("k must be between 1 and 200")
    try:
        ref = uuid.UUID(to)
    except ValueError:
        raise InvalidInput("'to' must be a lead id or an ICP id") from None
    prov = provider()
    lead = session.scalars(select(Lead).where(Lead.workspace_id == workspace_id, Lead.id == ref)).first()
    if lead is not None:
        from leadrank.scoring.repository import ScoringRepository

        frame = ScoringRepository(session).load_leads(workspace_id, lead_ids=[lead.id])
        vector = embed_leads(session, workspace_id, frame)[0]
        kind, exclude = "lead", {lead.id}
    else:
        icp = ICP.from_dict(get_icp(session, workspace_id, ref).definition)
        text = icp.description or " ".join([*icp.industries, *icp.example_profiles])
        if not text.strip():
            raise InvalidInput("this ICP has no description to search with; add one")
        vector = prov.embed([text])[0]
        kind, exclude = "icp", set()
    if not np.any(vector):
        raise InvalidInput("this lead has no profile text (title, company, industry…) to compare")
    hits = [(i, s) for i, s in store().search(workspace_id, vector, k + len(exclude)) if i not in exclude][:k]
    leads = {x.id: x for x in session.scalars(select(Lead).where(Lead.workspace_id == workspace_id,
                                                                  Lead.id.in_([i for i, _ in hits])))}
    return {"to": str(ref), "kind": kind, "backend": store().backend, "results": [
        {"lead_id": str(i), "similarity": round(float(s), 4),
         "first_name": leads[i].first_name, "last_name": leads[i].last_name,
         "company_name": leads[i].company_name, "job_title": leads[i].job_title,
         "industry": leads[i].industry, "score": leads[i].score}
        for i, s in hits if i in leads]}


# --- cold start ------------------------------------------------------------------------------

def _icp_parts(session: Session, workspace_id: uuid.UUID, leads: pd.DataFrame, icp: ICP | None):  # noqa: ANN202
    if icp is None:
        return None
    try:
        emb = embed_leads(session, workspace_id, leads)
        prov = provider()
        desc = prov.embed([icp.description])[0] if icp.description.strip() else None
        examples, names = None, None
        if icp.example_lead_ids:
            from leadrank.scoring.repository import ScoringRepository

            ex_ids = [uuid.UUID(str(i)) for i in icp.example_lead_ids]
            ex = ScoringRepository(session).load_leads(workspace_id, lead_ids=ex_ids)
            if not ex.empty:
                examples = embed_leads(session, workspace_id, ex)
                names = [str(c or f"{f or ''} {lname or ''}".strip()) for c, f, lname in
                         zip(ex["company_name"], ex["first_name"], ex["last_name"], strict=True)]
        if icp.example_profiles:
            extra = prov.embed(list(icp.example_profiles))
            examples = extra if examples is None else np.vstack([examples, extra])
            names = (names or []) + [p[:40] for p in icp.example_profiles]
        return icp_components(leads, icp, embeddings=emb, description_embedding=desc,
                              example_embeddings=examples, example_names=names)
    except EmbeddingUnavailable:
        # Criteria still count; similarity waits for the provider to come back.
        return icp_components(leads, icp)


def cold_start_explanations(session: Session, workspace_id: uuid.UUID, leads: pd.DataFrame,
                            activities: pd.DataFrame, *, as_of: datetime | None = None) -> list[dict]:
    """Scores from ICP fit + engagement + rules, in the learned model's explanation format,
    with grades from fixed bands relative to the workspace prior."""
    from leadrank.scoring.repository import ScoringRepository

    counts = ScoringRepository(session).outcome_counts(workspace_id)
    prior = coldstart.workspace_prior(counts.get("converted", 0), counts.get("lost", 0))
    icp = primary_icp(session, workspace_id)
    parts = _icp_parts(session, workspace_id, leads, icp)
    exps = coldstart.cold_start_scores(leads, icp=icp, icp_parts=parts, activities=activities, now=as_of,
                                       prior=prior, id_column="lead_id")
    for exp in exps:
        exp["grade"] = cold_start_grade(exp["probability"], prior)
        exp["icp"] = icp.name if icp else None
    return exps


def cold_start_grade(probability: float, prior: float) -> str:
    """Without a model there is no score distribution to cut into percentiles, so grades
    are lift over the workspace prior: A ≥ 2×, B ≥ 1.25×, C ≥ 0.75×, D below."""
    lift = probability / max(prior, 1e-9)
    return "A" if lift >= 2 else "B" if lift >= 1.25 else "C" if lift >= 0.75 else "D"


def use_learned_model(counts: dict[str, int]) -> bool:
    return coldstart.should_use_model(counts.get("converted", 0), counts.get("lost", 0))


def _readiness() -> dict:
    backend = vector_backend()
    return {"ok": not backend.startswith("unavailable"), "backend": backend}


def register_readiness() -> None:
    from leadrank.ops.readiness import register_check

    register_check("vector_index", _readiness, required=False)


# --- the learned model's view of similarity ---------------------------------------------------

ICP_FEATURE = "custom.icp_fit"


def with_icp_feature(session: Session, workspace_id: uuid.UUID, leads: pd.DataFrame) -> pd.DataFrame:
    """Add the primary ICP's fit (0–1) as a feature column, so the learned model can use it.
    Only a user-defined ICP is used: one inferred from converted leads would leak the label."""
    from leadrank.similarity.icp import combine

    icp = primary_icp(session, workspace_id)
    if icp is None or leads.empty:
        return leads
    parts = _icp_parts(session, workspace_id, leads, icp)
    fit, _ = combine(parts, icp)
    out = leads.copy()
    out[ICP_FEATURE] = np.round(fit, 4)
    return out


def cold_start_on_holdout(session: Session, workspace_id: uuid.UUID, leads: pd.DataFrame,
                          activities: pd.DataFrame, report: dict) -> dict | None:
    """The cold-start score measured on the model's own holdout (the newest 20% of labelled
    leads), point in time: each lead's activities are seen as of its outcome date."""
    from leadrank.ml import _parsing as P
    from leadrank.ml.metrics import capture_at, safe_auc, time_holdout_split
    from leadrank.ml.model import labels_from_outcome

    mask, y = labels_from_outcome(leads)
    labelled = leads[mask].reset_index(drop=True)
    created = P.to_epoch_ns(labelled["created_at"]) if "created_at" in labelled else None
    split = time_holdout_split(created, y, report.get("evaluation", {}).get("holdout_fraction", 0.2))
    rows = split[1] if split is not None else np.arange(len(y))
    holdout, y_ho = labelled.iloc[rows].reset_index(drop=True), y[rows]
    reference = pd.Timestamp.now(tz="UTC")
    acts = activities
    if not activities.empty and "outcome_date" in holdout:
        # Shift each lead's activities so that its outcome date becomes "now": recency is
        # then measured as it was when the outcome happened, and later activity is dropped.
        cut = pd.to_datetime(holdout.set_index("lead_id")["outcome_date"], utc=True)
        acts = activities[activities["lead_id"].isin(cut.index)].copy()
        lead_cut = acts["lead_id"].map(cut)
        acts = acts[lead_cut.isna() | (acts["activity_date"] < lead_cut)]
        lead_cut = lead_cut.loc[acts.index]
        acts["activity_date"] = acts["activity_date"] + (reference - lead_cut.fillna(reference))
    icp = primary_icp(session, workspace_id)
    parts = _icp_parts(session, workspace_id, holdout, icp)
    exps = coldstart.cold_start_scores(holdout, icp=icp, icp_parts=parts, activities=acts,
                                       now=reference.to_pydatetime(), id_column="lead_id")
    scores = np.array([e["probability"] for e in exps])
    cold = {"roc_auc": safe_auc(y_ho, scores), "capture_at_20": capture_at(y_ho, scores, 0.2)}
    model = {"roc_auc": report.get("roc_auc"), "capture_at_20": report.get("capture_at_20")}
    beats = (model["roc_auc"] or 0) > (cold["roc_auc"] or 0)
    return {"cold_start": cold, "model": model, "model_beats_cold_start": bool(beats),
            "n_holdout": int(len(y_ho)), "icp_used": icp.name if icp else None,
            "summary": (f"On the holdout the learned model's ROC AUC is {model['roc_auc']:.3f} against "
                        f"{cold['roc_auc']:.3f} for the cold-start score; the top 20% hold "
                        f"{100 * (model['capture_at_20'] or 0):.0f}% vs {100 * cold['capture_at_20']:.0f}% "
                        "of conversions.")}
