"""The web tests' fixtures (live app server, headless Chromium, signed-in page), reused."""

from tests.web.conftest import browser_context, chromium, live_server, page  # noqa: F401
