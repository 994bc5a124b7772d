"""The customization panel in a real browser (headless Debian Chromium): move a slider, see the
what-if figures change, save, and see the ranked list reorder."""

from __future__ import annotations

import re

import pytest

from tests.web.conftest import LiveServer, make_user, screenshot
from tests.web.test_browser import sign_in, wait_for_jobs_on_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _workspace_with_model(workspace_id) -> None:  # noqa: ANN001
    from rich.console import Console

    from leadrank.demo.setup import _load_data
    from leadrank.jobs.runner import get_runner
    from leadrank.scoring.service import train_and_activate

    _load_data(workspace_id, 1200, 4, Console(quiet=True))
    get_runner().wait()
    train_and_activate(workspace_id)


def _top_names(page, n: int = 15) -> list[str]:  # noqa: ANN001
    page.goto("/leads")
    return page.locator("tbody a.lead-link").all_inner_texts()[:n]


def test_slider_what_if_save_reorders_the_list(page, live_server: LiveServer) -> None:  # noqa: ANN001
    user = make_user("lena@agency.test", ["Customize Client"], name="Lena Ortiz")
    _workspace_with_model(user.workspace_id)
    sign_in(page, user)
    before = _top_names(page)
    assert len(before) == 15

    page.goto("/customize")
    form = page.locator("form[data-customize]")
    assert page.locator("[data-weight]").count() >= 3
    assert page.locator("[data-ws=entering_top]").inner_text() == "0"
    auc_now = page.locator("tr[data-metric=roc_auc] [data-fig-current]").inner_text()
    assert re.fullmatch(r"0\.\d{3}", auc_now)
    screenshot(page, "16-customize-before")

    # Switch the engagement sub-score off with the keyboard: the figures are measured live.
    slider = page.locator("#c-engagement")
    slider.focus()
    page.keyboard.press("Home")
    assert slider.input_value() == "0"
    assert page.locator("output[for=c-engagement]").inner_text() == "0.0×"
    page.wait_for_function("() => document.querySelector('form[data-customize]').dataset.measured")
    moved = int(page.locator("[data-ws=entering_top]").inner_text().replace(",", ""))
    assert moved > 0
    assert page.locator("[data-ws=leaving_top]").inner_text().replace(",", "") == str(moved)
    change = page.locator("tr[data-metric=roc_auc] [data-fig-change]").inner_text()
    assert change not in ("—", "0.000"), change
    assert page.locator("tr[data-metric=roc_auc] [data-fig-proposed]").inner_text() != auc_now
    assert "not saved yet" in page.locator("[data-whatif-status]").inner_text()
    assert form.get_attribute("data-measured") == "1"
    screenshot(page, "17-customize-what-if")

    page.get_by_label("Note for the history (optional)").fill("No engagement")
    page.get_by_role("button", name="Save and rescore").click()
    page.wait_for_url(re.compile(r".*/customize\?job=.*"))
    assert page.get_by_role("status").filter(has_text="Saved as configuration v1").is_visible()
    wait_for_jobs_on_page(page)
    assert "leads rescored" in page.locator("[data-rescored]").inner_text()
    history = page.locator("[data-history] tbody tr")
    assert history.count() == 1 and "No engagement" in history.first.inner_text()
    screenshot(page, "18-customize-saved")

    after = _top_names(page)
    assert after != before, "the ranked list did not change after saving"
    assert len(set(before) - set(after)) > 0
    page.locator("tbody a.lead-link").first.click()
    page.wait_for_url(re.compile(r".*/leads/[0-9a-f-]{36}$"))
    screenshot(page, "19-lead-after-customize")
