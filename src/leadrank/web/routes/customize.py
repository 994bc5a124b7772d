"""Customization: the home of weights and rules (issue 6 supplies the engine).

Today it lists the data points the active model uses, grouped as the engine groups them,
with their influence and a weight of 1.0 (the model as trained). Nothing here saves yet: the
controls are disabled and say so."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from leadrank.web.csrf import require_csrf
from leadrank.web.model_view import CATEGORY_LABELS, scoring_service
from leadrank.web.routes.model import _importance
from leadrank.web.session import WebDep
from leadrank.web.templating import render

router = APIRouter(dependencies=[Depends(require_csrf)])
CATEGORY_ORDER = ("fit", "engagement", "similarity", "contact", "source", "profile", "custom")


@router.get("/customize")
def customize(request: Request, web: WebDep) -> Response:
    service = scoring_service()
    active = service.active_version(web.db, web.workspace_id) if service else None
    items = _importance(list(service.feature_importance(web.db, web.workspace_id))) if service else []
    groups: dict[str, list[dict]] = {}
    for item in items:
        groups.setdefault(item["category"], []).append(item)
    ordered = [(c, CATEGORY_LABELS.get(c, c.capitalize()), groups[c])
               for c in sorted(groups, key=lambda c: CATEGORY_ORDER.index(c) if c in CATEGORY_ORDER else 99)]
    settings_engine = _settings_engine()
    return render(request, "customize.html", web=web, active="customize", title="Customize scoring · leadrank",
                  model=active, groups=ordered, engine=settings_engine)


def _settings_engine():  # noqa: ANN202
    """The customizable-scoring engine (issue 6), once it exists."""
    try:
        from leadrank.scoring import settings as engine  # type: ignore[attr-defined]
    except ImportError:
        return None
    return engine
