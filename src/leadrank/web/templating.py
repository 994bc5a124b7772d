"""Jinja2 environment, template filters and the one ``render`` every page uses."""

from __future__ import annotations

import hashlib
import math
import threading
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from leadrank import __version__
from leadrank.config import get_settings
from leadrank.web.csrf import FORM_FIELD, get_token

if TYPE_CHECKING:
    from leadrank.web.session import WebContext

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
TEMPLATE_DIR = HERE / "templates"

# Pages are ours alone: no inline script, no third-party origin, no framing.
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}

FIELD_LABELS = {
    "external_id": "External ID", "first_name": "First name", "last_name": "Last name",
    "email": "Email", "phone": "Phone", "company_name": "Company", "job_title": "Job title",
    "industry": "Industry", "company_size": "Company size", "annual_revenue": "Annual revenue",
    "location": "Location", "country": "Country", "website": "Website", "lead_source": "Lead source",
    "campaign": "Campaign", "description": "Description", "outcome": "Outcome",
    "outcome_date": "Outcome date", "last_activity_date": "Last activity",
    "created_at": "Created", "full_name": "Full name (split into first and last)",
    "lead_email": "Lead email", "lead_external_id": "Lead external ID", "lead_id": "Lead ID",
    "activity_type": "Activity type", "activity_date": "Activity date", "source": "Source",
}


# --- filters ------------------------------------------------------------------------------------

def _is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def pct(value: object, digits: int = 0) -> str:
    if _is_missing(value):
        return "—"
    return f"{float(value) * 100:.{digits}f}%"  # type: ignore[arg-type]


def num(value: object, digits: int = 0) -> str:
    if _is_missing(value):
        return "—"
    if isinstance(value, (int, float)):
        return f"{value:,.{digits}f}"
    return str(value)


def metric(value: object, digits: int = 3) -> str:
    if _is_missing(value):
        return "—"
    try:
        return f"{float(value):.{digits}f}"  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value)


def score_text(value: object) -> str:
    if _is_missing(value):
        return "—"
    return f"{float(value):.0f}"  # type: ignore[arg-type]


def signed(value: object, digits: int = 0) -> str:
    """+12 / −7 with a real minus sign (screen readers read it as minus)."""
    if _is_missing(value):
        return "—"
    v = round(float(value), digits)  # type: ignore[arg-type]
    if v == 0:
        return f"{0:.{digits}f}"
    text = f"{abs(v):.{digits}f}"
    return f"+{text}" if v > 0 else f"\u2212{text}"


def dt(value: object, with_time: bool = False) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        return value.strftime("%b %-d, %Y %H:%M" if with_time else "%b %-d, %Y")
    if isinstance(value, date):
        return value.strftime("%b %-d, %Y")
    return str(value)


def ago(value: datetime | None) -> str:
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    seconds = (datetime.now(UTC) - value).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    for unit, size in (("year", 31_536_000), ("month", 2_592_000), ("day", 86_400), ("hour", 3_600),
                       ("minute", 60)):
        if seconds >= size:
            n = int(seconds // size)
            text = f"{n} {unit}{'s' if n != 1 else ''}"
            return f"in {text}" if future else f"{text} ago"
    return "just now"


def field_label(name: str) -> str:
    if name.startswith("custom:"):
        return name[7:].replace("_", " ").capitalize() + " (custom)"
    return FIELD_LABELS.get(name, name.replace("_", " ").capitalize())


def lead_name(lead: object) -> str:
    """What a lead is called on a page: its name, else its email, else its company."""
    full = f"{lead.first_name or ''} {lead.last_name or ''}".strip()  # type: ignore[attr-defined]
    return full or lead.email or lead.company_name or "Unnamed lead"  # type: ignore[attr-defined]


def clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def humanize(name: object) -> str:
    return str(name or "").replace("_", " ").replace(".", " · ").strip().capitalize()


# --- environment --------------------------------------------------------------------------------

@lru_cache
def _asset_version(name: str) -> str:
    path = STATIC_DIR / name
    try:
        return hashlib.sha1(path.read_bytes()).hexdigest()[:10]
    except OSError:
        return __version__


def static_url(name: str) -> str:
    return f"/static/{name}?v={_asset_version(name)}"


def url_with(base: str, params: dict[str, object], **changes: object) -> str:
    """``base?params`` with some keys changed (``None`` drops a key); lists repeat the key."""
    merged = {**params, **changes}
    pairs: list[tuple[str, str]] = []
    for key, value in merged.items():
        if value is None or value == "" or value == []:
            continue
        if isinstance(value, (list, tuple)):
            pairs.extend((key, str(v)) for v in value)
        else:
            pairs.append((key, str(value)))
    return base + ("?" + urlencode(pairs) if pairs else "")


class _Environment(Environment):
    """Compiles each template once per process: a thread asking for a template another is
    compiling waits for it. (Twenty first requests at once compiled the list page twenty
    times over: about a second of a worker's CPU, the slowest requests after a start.)"""

    _compiling = threading.RLock()

    def _load_template(self, name, globals):  # noqa: ANN001, ANN202, A002 - Jinja's signature
        with self._compiling:
            return super()._load_template(name, globals)


@lru_cache
def environment() -> Environment:
    env = _Environment(
        loader=FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=select_autoescape(["html", "svg"], default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        # Templates change while developing only; elsewhere a page need not stat its files.
        auto_reload=get_settings().env == "development",
    )
    env.filters.update(pct=pct, num=num, metric=metric, score=score_text, signed=signed, dt=dt, ago=ago,
                       field_label=field_label, humanize=humanize, clamp=clamp)
    env.globals.update(static_url=static_url, url_with=url_with, version=__version__, lead_name=lead_name)
    return env


def render(request: Request, template: str, /, *, web: WebContext | None = None, status: int = 200,
           headers: dict[str, str] | None = None, **context: Any) -> HTMLResponse:
    session = request.scope.get("session")
    csrf = get_token(session) if session is not None else ""
    flashes = session.pop("flash", []) if session is not None else []
    token_field = Markup(f'<input type="hidden" name="{FORM_FIELD}" value="{csrf}">')
    base: dict[str, Any] = {
        "request": request, "web": web, "csrf_token": csrf, "csrf_field": token_field,
        "flashes": flashes, "active": context.pop("active", ""), "title": context.pop("title", "leadrank"),
    }
    html = environment().get_template(template).render(**base, **context)
    return HTMLResponse(html, status_code=status, headers={**SECURITY_HEADERS, **(headers or {})})


def flash(request: Request, message: str, kind: str = "info") -> None:
    """A one-time message shown on the next rendered page (after a redirect)."""
    items = list(request.session.get("flash", []))[-3:]
    items.append({"kind": kind, "message": message})
    request.session["flash"] = items
