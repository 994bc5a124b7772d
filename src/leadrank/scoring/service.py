"""Applies a workspace's active model to its leads; trains, versions and activates models.

The request or job owns the transaction: functions taking a ``session`` never commit.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import OrderedDict
from datetime import datetime

from sqlalchemy.orm import Session

from leadrank.customize import hooks as customize_hooks
from leadrank.db import JSONTexts
from leadrank.errors import InvalidInput, NotFound
from leadrank.jobs.service import create_job
from leadrank.leads.insights import LIST_INSIGHTS
from leadrank.models import Job, ModelVersion
from leadrank.models.base import utcnow
from leadrank.scoring import stored as stored_explanation
from leadrank.scoring.repository import FRAME_COLUMNS, ScoringRepository, leads_frame
from leadrank.similarity import coldstart
from leadrank.similarity import service as similarity

log = logging.getLogger("leadrank.scoring")

# A learned model needs enough closed outcomes of both classes; below that the workspace is
# scored cold-start (ICP fit + engagement). The thresholds and the learning curves behind
# them are in similarity/coldstart.py.
MIN_OUTCOMES = coldstart.MIN_OUTCOMES_FOR_MODEL
MIN_PER_CLASS = coldstart.MIN_PER_CLASS_FOR_MODEL
# A retrained model whose holdout ROC AUC is this much worse than the active one's is kept
# but not activated: the user decides.
ACTIVATION_TOLERANCE = 0.005


# --- model versions ---------------------------------------------------------------------------

def list_versions(session: Session, workspace_id: uuid.UUID) -> list[ModelVersion]:
    return ScoringRepository(session).versions(workspace_id)


def get_version(session: Session, workspace_id: uuid.UUID, version_id: uuid.UUID) -> ModelVersion:
    version = ScoringRepository(session).version(workspace_id, version_id)
    if version is None:
        raise NotFound(f"model version {version_id} not found")
    return version


def active_version(session: Session, workspace_id: uuid.UUID) -> ModelVersion | None:
    ws = ScoringRepository(session).workspace(workspace_id)
    if ws.active_model_version_id is None:
        return None
    return ScoringRepository(session).version(workspace_id, ws.active_model_version_id)


def _activate(session: Session, workspace_id: uuid.UUID, version: ModelVersion) -> None:
    repo = ScoringRepository(session)
    ws = repo.workspace(workspace_id)
    previous = ws.active_model_version_id
    if previous == version.id:
        return
    if previous is not None:
        old = repo.version(workspace_id, previous)
        if old is not None:
            old.status = "archived"
    history = list((ws.settings or {}).get("activation_history", []))
    history.append(str(version.id))
    ws.settings = {**(ws.settings or {}), "activation_history": history[-50:]}
    ws.active_model_version_id = version.id
    version.status = "active"
    version.activated_at = utcnow()


def activate_version(session: Session, workspace_id: uuid.UUID, version_id: uuid.UUID) -> Job:
    """Make a version the active one and rescore the workspace with it."""
    version = get_version(session, workspace_id, version_id)
    _activate(session, workspace_id, version)
    return request_rescore(session, workspace_id)


def rollback(session: Session, workspace_id: uuid.UUID) -> Job:
    """Re-activate the version that was active before the current one."""
    ws = ScoringRepository(session).workspace(workspace_id)
    history = [h for h in (ws.settings or {}).get("activation_history", [])]
    current = str(ws.active_model_version_id) if ws.active_model_version_id else None
    previous = next((h for h in reversed(history) if h != current), None)
    if previous is None:
        raise InvalidInput("there is no earlier model version to roll back to")
    return activate_version(session, workspace_id, uuid.UUID(previous))


def feature_importance(session: Session, workspace_id: uuid.UUID) -> list[dict]:
    version = active_version(session, workspace_id)
    if version is None:
        return []
    return list(version.features or [])


# --- jobs ---------------------------------------------------------------------------------------

def request_retrain(session: Session, workspace_id: uuid.UUID, *, include_columns: list[str] | None = None
                    ) -> Job:
    counts = ScoringRepository(session).outcome_counts(workspace_id)
    check_enough_outcomes(counts)
    return create_job(session, workspace_id, "model.train", {"include_columns": include_columns or []})


def check_enough_outcomes(counts: dict[str, int]) -> None:
    converted, lost = counts.get("converted", 0), counts.get("lost", 0)
    if not coldstart.should_use_model(converted, lost):
        raise InvalidInput(
            f"training needs at least {MIN_OUTCOMES} closed leads with {MIN_PER_CLASS} converted and "
            f"{MIN_PER_CLASS} lost; this workspace has {converted} converted and {lost} lost. Until then leads "
            "get cold-start scores (ICP fit + engagement), labelled as such."
        )


def request_rescore(session: Session, workspace_id: uuid.UUID, lead_ids: list[uuid.UUID] | None = None) -> Job:
    params: dict = {}
    if lead_ids is not None:
        params["lead_ids"] = [str(i) for i in lead_ids]
    return create_job(session, workspace_id, "scoring.score", params)


def schedule_after_upload(session: Session, workspace_id: uuid.UUID, *, kind: str, lead_count: int,
                          upload_job_id: uuid.UUID, scored_as_of: datetime | None = None) -> Job | None:
    """After an upload: rescore what changed (activities change every affected lead's
    engagement, so an activity upload rescores the workspace). New leads the upload scored as
    it inserted them (``scored_as_of``, :func:`score_new_leads`) only get their reasons."""
    if kind == "leads" and lead_count == 0:
        return None
    params: dict = {"upload_job_id": str(upload_job_id), "only_upload": kind == "leads"}
    if kind == "leads":
        # Embeddings feed "similar leads" search: the scoring job queues them after its reasons
        # pass (reps wait for scores and reasons, not for search; a slow provider only delays them).
        params["embed_upload"] = True
        if scored_as_of is not None:
            params["scored_as_of"] = scored_as_of.isoformat()
    return create_job(session, workspace_id, "scoring.score", params)


def score_new_leads(session: Session, workspace_id: uuid.UUID, columns: dict[str, list],
                    constants: dict[str, object], *, as_of: datetime) -> bool:
    """Score leads an upload is about to insert, given column by column: adds the score
    columns (and the version, kind and time as constants) so that a new lead is stored
    scored, with no second write. Their reasons follow in the upload's scoring job. New leads
    have no activities yet; with a configuration that shapes scores, or a primary ICP (its
    fit needs the leads' embeddings), the scoring job scores them instead. Returns whether
    it scored them."""
    version = active_version(session, workspace_id)
    if version is None or customize_hooks.shapes_scores(session, workspace_id) \
            or similarity.primary_icp(session, workspace_id) is not None:
        return False
    n = len(columns["dedupe_key"])
    frame = {"lead_id": [str(i) for i in range(n)]}
    for name in FRAME_COLUMNS:
        values = columns.get(name)
        if values is None and name in constants:
            values = [constants[name]] * n
        frame[name] = values if values is not None else [None] * n
    custom = columns.get("custom") or [{}] * n
    leads = leads_frame(list(zip(*frame.values(), custom, strict=True)), [*frame, "custom"])
    model = load_model(version)
    probability = model.predict_proba(leads, None, as_of=as_of)
    columns["score"] = [round(v, 4) for v in (100.0 * probability).tolist()]  # as score_chunk rounds
    columns["sort_score"] = columns["score"]
    columns["conversion_probability"] = probability.tolist()
    columns["grade"] = [str(g) for g in model.grade_for(100.0 * probability, grade_bands(session, workspace_id))]
    constants.pop("sort_score", None)
    constants.update(model_version_id=version.id, score_kind="model", scored_at=as_of)
    customize_hooks.scores_changed(session, workspace_id)
    return True


# --- training -----------------------------------------------------------------------------------

def train_version(session: Session, workspace_id: uuid.UUID, *, include_columns: list[str] | None = None,
                  as_of: datetime | None = None) -> tuple[ModelVersion, bool]:
    """Train on every labelled lead, store the version; activate it when it is the first or
    not worse than the active one. Returns (version, activated)."""
    from leadrank.ml.model import train

    repo = ScoringRepository(session)
    counts = repo.outcome_counts(workspace_id)
    check_enough_outcomes(counts)
    leads = repo.load_leads(workspace_id, labelled_only=True)
    # A rep's override that is an outcome ("junk") labels an open lead for this run.
    leads, override_labels = customize_hooks.with_override_labels(
        session, workspace_id, leads, lambda ids: repo.load_leads(workspace_id, lead_ids=ids))
    activities = repo.load_activities(workspace_id, lead_ids=[uuid.UUID(i) for i in leads["lead_id"]])
    leads = similarity.with_icp_feature(session, workspace_id, leads)
    started = utcnow()
    trained = train(leads, activities, as_of=as_of, include_columns=tuple(include_columns or ()))
    report = dict(trained.report)
    try:
        report["cold_start_comparison"] = similarity.cold_start_on_holdout(session, workspace_id, leads,
                                                                           activities, report)
    except Exception:  # noqa: BLE001 - the comparison informs; it must not sink a training run
        log.warning("could not compare with the cold-start score", exc_info=True)
    version = ModelVersion(
        workspace_id=workspace_id, version=repo.next_version_number(workspace_id), status="ready",
        algorithm=trained.algorithm, params=getattr(trained, "params", {}) or {}, report=report,
        features=trained.feature_importance(), artefact=trained.to_artefact(),
        data_summary={
            "labelled_leads": int(len(leads)), "converted": counts.get("converted", 0),
            "lost": counts.get("lost", 0), "open": counts.get("open", 0), "activities": int(len(activities)),
            "trained_at": started.isoformat(), "override_labels": override_labels,
        },
    )
    session.add(version)
    session.flush()
    # The holdout the customization what-if measures on (rebuilt from the artefact if this fails).
    try:
        customize_hooks.store_holdout(session, workspace_id, version.id, trained, leads, activities, as_of=as_of)
    except Exception:  # noqa: BLE001 - never fail a training run over the what-if's cache
        log.warning("could not store the holdout of model version %s", version.id, exc_info=True)
    current = active_version(session, workspace_id)
    activated = False
    comparison = report.get("cold_start_comparison") or {}
    if current is None or _not_worse(report, current.report):
        # The first model is activated (the product promise); the report says plainly when
        # the cold-start score did better on the same holdout, so nobody is misled.
        _activate(session, workspace_id, version)
        activated = True
        if comparison and not comparison.get("model_beats_cold_start"):
            version.note = ("on the holdout the cold-start score did better than this model: "
                            f"{comparison['summary']} More outcomes usually fix this; retrain later.")
    else:
        version.note = (f"not activated: holdout ROC AUC {report.get('roc_auc', 0):.3f} is below the active "
                        f"version {current.version}'s {current.report.get('roc_auc', 0):.3f}; activate it by hand "
                        "if you prefer it")
    return version, activated


def _not_worse(new: dict, old: dict) -> bool:
    new_auc, old_auc = new.get("roc_auc"), old.get("roc_auc")
    if new_auc is None or old_auc is None:
        return True
    return new_auc >= old_auc - ACTIVATION_TOLERANCE


def train_and_activate(workspace_id: uuid.UUID) -> str:
    """Synchronous train + rescore (the demo and the CLI)."""
    from leadrank.db import session_scope
    from leadrank.jobs.service import run_job

    with session_scope() as session:
        version, activated = train_version(session, workspace_id)
        summary = (f"model v{version.version} ({version.algorithm}): ROC AUC {version.report.get('roc_auc', 0):.3f}, "
                   f"top 20% hold {100 * version.report.get('capture_at_20', 0):.0f}% of conversions")
        job = request_rescore(session, workspace_id) if activated else None
        session.info.pop("leadrank_jobs_to_enqueue", None)
        job_id = job.id if job else None
    if job_id:
        run_job(job_id)
    return summary + ("" if activated else " — kept inactive (worse than the active model)")


# --- applying a model ------------------------------------------------------------------------------

_model_cache: OrderedDict[uuid.UUID, object] = OrderedDict()
_cache_lock = threading.Lock()


def load_model(version: ModelVersion):  # noqa: ANN201 - ml.model.TrainedModel
    """Parsed models are cached per version (artefacts are immutable)."""
    from leadrank.ml.model import TrainedModel

    with _cache_lock:
        model = _model_cache.get(version.id)
        if model is not None:
            _model_cache.move_to_end(version.id)
            return model
    model = TrainedModel.from_artefact(version.artefact)
    with _cache_lock:
        _model_cache[version.id] = model
        while len(_model_cache) > 8:
            _model_cache.popitem(last=False)
    return model


def score_chunk(session: Session, workspace_id: uuid.UUID, lead_ids: list[uuid.UUID],
                version: ModelVersion | None, *, as_of: datetime | None = None) -> dict:
    """Score one chunk of leads and write the results. Returns ``{"processed": n, "reasons":
    "written" | "pending"}``.

    Model scores come first: probability, score and grade are written on their own (the cheap
    part: features and one predict) and the reasons follow in a second pass
    (:func:`explain_chunk`, the ``scoring.explain`` job). A configuration that changes scores
    (weights, rules) needs the model's contributions to compute a score, and cold-start scores
    are built from their reasons: those are written in one pass."""
    repo = ScoringRepository(session)
    leads = repo.load_leads(workspace_id, lead_ids=lead_ids)
    if leads.empty:
        return {"processed": 0, "reasons": "written"}
    activities = repo.load_activities(workspace_id, lead_ids=lead_ids)
    now = as_of or utcnow()
    if version is not None and not customize_hooks.shapes_scores(session, workspace_id):
        leads = similarity.with_icp_feature(session, workspace_id, leads)
        model = load_model(version)
        probability = model.predict_proba(leads, activities, as_of=now)
        score = 100.0 * probability
        grades = model.grade_for(score, grade_bands(session, workspace_id)).tolist()
        rows = [{"id": uuid.UUID(lead_id), "score": round(float(s), 4), "conversion_probability": float(p),
                 "grade": grade, "explanation": None, "model_version_id": version.id, "score_kind": "model",
                 "scored_at": now}
                for lead_id, s, p, grade in zip(leads["lead_id"], score.tolist(), probability.tolist(), grades,
                                                strict=True)]
        repo.write_scores(workspace_id, rows)
        customize_hooks.scores_changed(session, workspace_id)
        return {"processed": len(rows), "reasons": "pending"}
    rows = _explained_rows(session, workspace_id, leads, activities, version, now)
    repo.write_scores(workspace_id, rows)
    return {"processed": len(rows), "reasons": "written"}


def explain_chunk(session: Session, workspace_id: uuid.UUID, lead_ids: list[uuid.UUID | str] | None = None, *,
                  version: ModelVersion, as_of: datetime, id_range: dict[str, uuid.UUID | None] | None = None) -> int:
    """The second pass: reasons for leads (``lead_ids``, or those in ``id_range``: ``after``,
    ``upto``) whose score this version gave at ``as_of``. A lead rescored since (new data,
    another model) is left to the scoring that replaced it."""
    repo = ScoringRepository(session)
    leads = repo.load_leads(workspace_id, lead_ids=lead_ids, id_range=id_range, scored_by=(version.id, as_of))
    if leads.empty:
        return 0
    activities = repo.load_activities(workspace_id, lead_ids=leads["lead_id"].tolist())
    if customize_hooks.shapes_scores(session, workspace_id):
        # A configuration was activated between the passes: its scores come with these reasons.
        rows = _explained_rows(session, workspace_id, leads, activities, version, as_of)
        repo.write_scores(workspace_id, rows)
        return len(rows)
    leads = similarity.with_icp_feature(session, workspace_id, leads)
    batch = load_model(version).explain_batch(leads, activities, as_of=as_of, top=5,
                                              bands=grade_bands(session, workspace_id))
    # Stored as JSON text built straight from the batch (no dicts: they would only be encoded).
    explanations = JSONTexts(batch.to_stored_json(str(version.id), {"score_kind": "model"}))
    repo.write_explanations([uuid.UUID(x) for x in leads["lead_id"]], explanations, scored_at=as_of,
                            columns=batch.list_columns(LIST_INSIGHTS))
    customize_hooks.scores_changed(session, workspace_id)  # the what-if cache reads these contributions
    return len(explanations)


def _explained_rows(session: Session, workspace_id: uuid.UUID, leads, activities,  # noqa: ANN001
                    version: ModelVersion | None, now: datetime) -> list[dict]:
    """Scores written together with their explanations, as lead rows: cold-start scores (built
    from their reasons) and scores a configuration shapes (it needs the contributions)."""
    bands = grade_bands(session, workspace_id)
    if version is None:
        explanations = _cold_start(session, workspace_id, leads, activities, now)
        kind, version_id = "cold_start", None
        grades = [e.get("grade") for e in explanations]
        batch, model_bands = None, None
    else:
        leads = similarity.with_icp_feature(session, workspace_id, leads)
        model = load_model(version)
        kind, version_id = "model", version.id
        model_bands = bands or {**model.grade_thresholds, "D": 0.0}
        batch = model.explain_batch(leads, activities, as_of=now, top=5, bands=bands, keep_features=True)
        explanations, grades = batch.to_dicts(), list(batch.grade)
    explanations, grades = customize_hooks.configure_scores(
        session, workspace_id, leads, activities, explanations, grades, now=now, model_bands=model_bands,
        batch=batch, model_version_id=version_id)
    rows = []
    for lead_id, exp, grade in zip(leads["lead_id"], explanations, grades, strict=True):
        exp = stored_explanation.compact({**exp, "score_kind": kind})
        exp.pop("lead_id", None)
        rows.append({
            "id": uuid.UUID(lead_id), "score": round(float(exp["score"]), 4),
            "conversion_probability": float(exp["probability"]), "grade": grade, "explanation": exp,
            "model_version_id": version_id, "score_kind": kind, "scored_at": now,
        })
    return rows


def grade_bands(session: Session, workspace_id: uuid.UUID) -> dict[str, float] | None:
    """User-configured fixed bands ``{grade: minimum score}``, or None for the model's own
    (A = top 10% of the training distribution, B the next 20%, C the next 30%)."""
    ws = ScoringRepository(session).workspace(workspace_id)
    return (ws.settings or {}).get("grade_bands")


def _cold_start(session: Session, workspace_id: uuid.UUID, leads, activities, now: datetime) -> list[dict]:  # noqa: ANN001
    from leadrank.similarity.service import cold_start_explanations

    return cold_start_explanations(session, workspace_id, leads, activities, as_of=now)
