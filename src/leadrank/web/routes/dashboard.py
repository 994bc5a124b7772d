"""Home: where the workspace stands, what to do next."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from leadrank.jobs.repository import JobRepository
from leadrank.leads import service as leads
from leadrank.leads.filters import LeadFilters, LeadSort
from leadrank.web.charts import grade_bar, histogram
from leadrank.web.csrf import require_csrf
from leadrank.scoring import service as scoring
from leadrank.web.model_view import ReportView, algorithm_label
from leadrank.leads.summary import score_histogram, workspace_summary
from leadrank.web.session import WebDep
from leadrank.web.templating import render

router = APIRouter(dependencies=[Depends(require_csrf)])


@router.get("/")
def home(web: WebDep) -> Response:
    summary = workspace_summary(web.db, web.workspace_id)
    top, _ = leads.list_leads(web.db, web.workspace_id, LeadFilters(), LeadSort(), limit=8)
    top = [lead for lead in top if lead.score is not None]
    jobs = list(JobRepository(web.db).list(web.workspace_id, limit=6))
    active = scoring.active_version(web.db, web.workspace_id)
    report = ReportView(active.report if active else None)
    hist = score_histogram(web.db, web.workspace_id) if summary.scored else []
    return render(
        web.request, "dashboard.html", web=web, active="home", title=f"{web.workspace.name} · leadrank",
        summary=summary, top=top, jobs=jobs, model=active, report=report,
        model_name=algorithm_label(active.algorithm) if active else None,
        grade_chart=grade_bar(summary.by_grade, title="Leads by grade") if summary.by_grade else None,
        hist_chart=histogram(hist, title="Score distribution", desc="How many leads have each score, in bands "
                             "of 5 points.", bands=report.grade_cuts(), height=180) if hist else None,
    )
