"""The prioritized list, exports, a lead's details, and "more like this"."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, Response, StreamingResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from leadrank.config import get_settings
from leadrank.db import session_scope
from leadrank.errors import InvalidInput
from leadrank.leads import export
from leadrank.leads import service as leads
from leadrank.leads.api import read_session
from leadrank.leads.repository import LeadRepository
from leadrank.models import LEAD_FIELDS
from leadrank.models.base import utcnow
from leadrank.web.charts import sparkline, waterfall
from leadrank.web.csrf import require_csrf
from leadrank.leads.export import iter_selected_csv, write_selected_xlsx
from leadrank.web.explain import breakdown
from leadrank.web.forms import LIST_KEYS, PAGE_SIZES, display_order, parse_list_query
from leadrank.web.session import WebContext, WebDep, get_web_context
from leadrank.web.templating import render

router = APIRouter(dependencies=[Depends(require_csrf)])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/leads")
async def lead_list(request: Request) -> Response:
    # The most visited page: async with its own read session, so that the whole page (who is
    # signed in, its rows, counts and HTML) takes one worker-thread hop and no BEGIN/COMMIT
    # round trips, as the API's list does (the session and web-context dependencies of a sync
    # handler took four hops).
    return await run_in_threadpool(_lead_list_page, request)


def _lead_list_page(request: Request) -> Response:
    with read_session() as db:
        web = get_web_context(request, db)
        query = parse_list_query(request.query_params)
        try:
            rows, next_cursor = leads.list_rows(web.db, web.workspace_id, query.filters, query.sort,
                                                 limit=query.limit, cursor=query.cursor)
        except InvalidInput as exc:  # a stale or hand-edited cursor: start from the first page
            query.errors.append(exc.message)
            query.cursor, query.page = None, 1
            rows, next_cursor = leads.list_rows(web.db, web.workspace_id, query.filters, query.sort,
                                                 limit=query.limit)
        # Counting a million rows costs more than a page of them: count on the first page only
        # and carry the figures along in the "Next" links (they describe the list the user
        # started). Exact up to 10,000; above, the last count made (at most a minute old, or
        # being made again), or "10,000+" while a background thread makes the first one: no
        # page waits for a count (a search in a big industry read it all, 0.4 s of both cores).
        carried = _carried_counts(request) if query.cursor else None
        if carried:
            total, at_least, workspace_total = carried
        else:
            # (The whole workspace's count is kept current on PostgreSQL and cached elsewhere.)
            filtered = bool(query.active_filters or query.filters.q)
            counted = leads.count_leads(web.db, web.workspace_id, query.filters, wait=not filtered)
            total, at_least = counted.total, counted.at_least
            workspace_total = leads.count_leads(web.db, web.workspace_id).total if filtered else total
        first = (query.page - 1) * query.limit
        base = {**query.params, "sort": query.sort.by, "order": display_order(query.sort),
                "limit": query.limit if query.limit != 50 else None}
        return render(
            request, "leads.html", web=web, active="leads", title="Prioritized leads · leadrank",
            rows=rows, query=query, total=total, workspace_total=workspace_total, first=first,
            total_text=f"{total:,}+" if at_least else None,
            next_cursor=next_cursor, base=base, page_sizes=PAGE_SIZES, list_keys=LIST_KEYS,
            counts={"n": f"{total}+" if at_least else total, "of": workspace_total},
            industries=leads.filter_choices(web.db, web.workspace_id, "industry", workspace_total),
            sources=leads.filter_choices(web.db, web.workspace_id, "lead_source", workspace_total),
            order=display_order(query.sort),
        )


def _carried_counts(request: Request) -> tuple[int, bool, int] | None:
    """(total, whether it is a lower bound, workspace total) from a "Next" link."""
    try:
        n = request.query_params["n"]
        total, workspace_total = int(n.removesuffix("+")), int(request.query_params["of"])
    except (KeyError, ValueError):
        return None
    return (total, n.endswith("+"), workspace_total) if 0 <= total <= workspace_total else None


@router.get("/leads/export")
def export_leads(request: Request, web: WebDep) -> Response:
    """The ranked list (with the list's filters) or the ticked leads, as CSV or XLSX."""
    qp = request.query_params
    query = parse_list_query(qp)
    fmt = qp.get("format") if qp.get("format") in ("csv", "xlsx") else "csv"
    scope = qp.get("scope") or "top"
    stamp = utcnow().strftime("%Y%m%d-%H%M")
    workspace_id = web.workspace_id
    if scope == "selected":
        ids = []
        for raw in qp.getlist("ids"):
            try:
                ids.append(uuid.UUID(raw))
            except ValueError:
                continue
        if not ids:
            raise InvalidInput("Tick the leads to export first, or choose “Top” to export the ranked list.")
        if fmt == "xlsx":
            path = write_selected_xlsx(web.db, workspace_id, ids, directory=get_settings().data_dir / "exports")
            return FileResponse(path, filename=f"leads-selected-{stamp}.xlsx", media_type=XLSX,
                                background=BackgroundTask(path.unlink, missing_ok=True))

        def stream_selected():  # noqa: ANN202
            with session_scope() as session:
                yield from iter_selected_csv(session, workspace_id, ids)

        return StreamingResponse(stream_selected(), media_type="text/csv; charset=utf-8",
                                 headers={"Content-Disposition": f'attachment; filename="leads-selected-{stamp}.csv"'})
    try:
        top_percent = float(qp.get("top_percent") or 20)
    except ValueError:
        raise InvalidInput("The share of leads to export must be a number between 1 and 100.") from None
    filters = query.filters
    total = LeadRepository(web.db).count(workspace_id, filters)
    limit = export.resolve_limit(total, None, top_percent)
    name = f"leads-top{top_percent:g}pct-{stamp}"
    if fmt == "xlsx":
        path = export.write_xlsx(web.db, workspace_id, filters, limit=limit,
                                 directory=get_settings().data_dir / "exports")
        return FileResponse(path, filename=f"{name}.xlsx", media_type=XLSX,
                            background=BackgroundTask(path.unlink, missing_ok=True))

    def stream():  # noqa: ANN202 - its own session: the request's closes before streaming ends
        with session_scope() as session:
            yield from export.iter_csv(session, workspace_id, filters, limit=limit)

    return StreamingResponse(stream(), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


@router.get("/leads/similar")
def similar(request: Request, web: WebDep, to: uuid.UUID) -> Response:
    lead = leads.get_lead(web.db, web.workspace_id, to)
    results, available, message = _similar_leads(web, lead.id)
    return render(request, "similar.html", web=web, active="leads", title="Leads like this one · leadrank",
                  lead=lead, results=results, available=available, message=message)


def _similar_leads(web: WebContext, lead_id: uuid.UUID) -> tuple[list, bool, str | None]:
    """Ask the similarity engine, when it is installed, for the nearest leads:
    ``similarity.service.similar_leads(session, workspace_id, to, k) -> {"results": [...]}``."""
    try:
        from leadrank.similarity import service as similarity
    except ImportError:
        return [], False, None
    finder = getattr(similarity, "similar_leads", None)
    if finder is None:
        return [], False, None
    try:
        found = finder(web.db, web.workspace_id, str(lead_id), k=20)
    except InvalidInput as exc:
        return [], True, exc.message
    hits = [h for h in (found or {}).get("results", []) if isinstance(h, dict) and h.get("lead_id")]
    ids = []
    for h in hits:
        try:
            ids.append(uuid.UUID(str(h["lead_id"])))
        except ValueError:
            continue
    by_id = {lead.id: lead for lead in LeadRepository(web.db).get_many(web.workspace_id, ids)}
    out = [{"lead": by_id[i], "similarity": h.get("similarity")} for i, h in zip(ids, hits, strict=False)
           if i in by_id and i != lead_id]
    return out, True, None


@router.get("/leads/{lead_id}")
def lead_detail(lead_id: uuid.UUID, request: Request, web: WebDep) -> Response:
    lead = leads.get_lead(web.db, web.workspace_id, lead_id)
    repo = LeadRepository(web.db)
    history = list(repo.score_history(lead.id, limit=50))
    activities = list(repo.activities(lead.id, limit=200))
    bd = breakdown(lead.explanation, lead.score, lead.conversion_probability, lead.score_kind)
    chart = None
    if bd is not None and not bd.pending:
        chart = waterfall(bd.shown_base, bd.chart_steps(), bd.shown_score,
                          title=f"How the score of {bd.shown_score} is built",
                          desc=f"Starting from {bd.shown_base} points, each factor adds or removes points; "
                               f"together they make {bd.shown_score}.",
                          base_label="Starting point (typical lead)")
    spark = None
    if len(history) >= 2:
        values = [h.score for h in reversed(history)]
        spark = sparkline(values, title="Score over time",
                          desc=f"{len(values)} scores from {values[0]:.0f} to {values[-1]:.0f}")
    fields = [(name, getattr(lead, name)) for name in LEAD_FIELDS if name not in ("created_at",)]
    return render(request, "lead.html", web=web, active="leads",
                  title=f"{_name(lead)} · leadrank", lead=lead, name=_name(lead), bd=bd, chart=chart,
                  history=history, spark=spark, activities=activities, fields=fields,
                  custom=sorted((lead.custom or {}).items()), back=request.headers.get("referer"))


def _name(lead) -> str:  # noqa: ANN001
    full = " ".join(p for p in (lead.first_name, lead.last_name) if p)
    return full or lead.email or lead.company_name or "Unnamed lead"
