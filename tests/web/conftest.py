"""Web fixtures: accounts, a signed-in TestClient, and for the browser tests the real app
served by uvicorn on a free port with headless Debian Chromium driving it.

Browser tests are marked ``browser``. Without Chromium they skip locally and FAIL in CI
(``CI=true``), like the PostgreSQL tests.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import IN_CI, Env

CHROMIUM = os.environ.get("LEADRANK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PASSWORD = "correct-horse-battery"


@dataclass
class WebUser:
    email: str
    password: str
    user_id: uuid.UUID
    workspaces: dict[str, uuid.UUID] = field(default_factory=dict)

    @property
    def workspace_id(self) -> uuid.UUID:
        return next(iter(self.workspaces.values()))


def make_user(email: str, workspaces: list[str], *, role: str = "owner", password: str = PASSWORD,
              name: str = "") -> WebUser:
    """An account that is a member of new workspaces with these names (created via the services)."""
    from leadrank.auth.users import add_member, create_user
    from leadrank.db import session_scope
    from leadrank.workspaces.service import create_workspace

    with session_scope() as session:
        user = create_user(session, email, password, name=name or email.split("@")[0].capitalize())
        out = WebUser(email=email, password=password, user_id=user.id)
        for ws_name in workspaces:
            ws = create_workspace(session, ws_name)
            add_member(session, user.id, ws.id, role=role)
            out.workspaces[ws_name] = ws.id
        return out


@pytest.fixture
def web_user(env: Env) -> WebUser:
    return make_user(f"ann-{uuid.uuid4().hex[:6]}@agency.test", ["Acme Client", "Beta Client"], name="Ann Agent")


CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
HTML = {"accept": "text/html,application/xhtml+xml"}


def csrf_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "page has no CSRF field"
    return match.group(1)


def sign_in(client, user: WebUser) -> str:  # noqa: ANN001 - TestClient
    """Sign in through the form; returns the session's CSRF token."""
    page = client.get("/login", headers=HTML)
    r = client.post("/login", data={"email": user.email, "password": user.password,
                                    "csrf_token": csrf_from(page.text), "next": "/"},
                    headers=HTML, follow_redirects=False)
    assert r.status_code == 303, r.text
    return csrf_from(client.get("/", headers=HTML).text)


# --- live server + Chromium ----------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    url: str
    env: Env


@pytest.fixture
def live_server(sqlite_env: Env) -> Iterator[LiveServer]:
    """The real app (create_app, its lifespan, the in-process job runner) on a free port."""
    import uvicorn

    from leadrank.app import create_app

    port = _free_port()
    config = uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning", ws="none",
                            lifespan="on", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the app did not start")
        time.sleep(0.05)
    yield LiveServer(url=f"http://127.0.0.1:{port}", env=sqlite_env)
    server.should_exit = True
    thread.join(timeout=15)
    from leadrank.jobs.runner import get_runner

    wait = getattr(get_runner(), "wait", None)
    if wait:
        wait(timeout=60)


def _require_chromium() -> None:
    if Path(CHROMIUM).exists() or shutil.which("chromium"):
        return
    message = f"Chromium is needed for the browser tests and is not at {CHROMIUM} (make chromium installs it)"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


_shared_browser: list[object] = []  # one Playwright per process: other conftests import this fixture


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    _require_chromium()
    if _shared_browser:
        yield _shared_browser[0]
        return
    from playwright.sync_api import sync_playwright

    executable = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        _shared_browser.append(browser)
        try:
            yield browser
        finally:
            _shared_browser.clear()
            browser.close()


@pytest.fixture
def browser_context(chromium, live_server: LiveServer) -> Iterator[object]:  # noqa: ANN001
    context = chromium.new_context(base_url=live_server.url, viewport={"width": 1440, "height": 900},
                                   accept_downloads=True, locale="en-US")
    context.set_default_timeout(15_000)
    yield context
    context.close()


@pytest.fixture
def page(browser_context) -> Iterator[object]:  # noqa: ANN001
    p = browser_context.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda exc: errors.append(str(exc)))
    p.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    yield p
    # Error pages are visited on purpose; their HTTP status is logged as a "resource" error.
    real = [e for e in errors if "Failed to load resource" not in e]
    assert not real, f"JavaScript errors on the page: {real}"


def screenshot(page, name: str, *, full_page: bool = True) -> Path:  # noqa: ANN001
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
