"""Headless Chromium for the tests: Debian's `chromium`, driven through Playwright's CDP client
(no browser download). Without Chromium the browser tests skip, unless PMS_REQUIRE_BROWSER is
set (CI sets it, so there they fail instead)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from assets.reports.pdf import LAUNCH_ARGS, find_chromium

LOCAL_SCHEMES = ("file:", "data:", "about:", "blob:")


def chromium_or_skip() -> str:
    chromium = find_chromium()
    if chromium is None:
        if os.environ.get("PMS_REQUIRE_BROWSER"):
            pytest.fail("PMS_REQUIRE_BROWSER is set but no Chromium found (apt install chromium)")
        pytest.skip("no Chromium on this machine (apt install chromium)")
    return chromium


@dataclass
class PageVisit:
    path: Path
    console_errors: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    tables: int = 0
    tables_without_header: int = 0
    chart_divs: int = 0
    rendered_charts: int = 0
    title: str = ""


def visit(pages: list[Path], screenshots: dict[Path, Path] | None = None) -> list[PageVisit]:
    """Open each page offline in one headless Chromium; record console errors, any request that
    leaves the file, tables and rendered Plotly charts; optionally save full-page screenshots."""
    from playwright.sync_api import sync_playwright

    chromium = chromium_or_skip()
    visits = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=list(LAUNCH_ARGS))
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        for path in pages:
            found = PageVisit(path)
            page = context.new_page()
            page.on(
                "console",
                lambda m, f=found: f.console_errors.append(m.text) if m.type == "error" else None,
            )
            page.on("pageerror", lambda e, f=found: f.console_errors.append(str(e)))
            page.on(
                "request",
                lambda r, f=found: (
                    None if r.url.startswith(LOCAL_SCHEMES) else f.external_requests.append(r.url)
                ),
            )
            page.goto(path.resolve().as_uri(), wait_until="load")
            page.wait_for_timeout(300)
            found.title = page.title()
            found.tables = page.locator("table").count()
            found.tables_without_header = page.locator("table:not(:has(th))").count()
            found.chart_divs = page.locator("div.plotly-graph-div").count()
            found.rendered_charts = page.locator("div.plotly-graph-div:has(.main-svg)").count()
            if screenshots and path in screenshots:
                page.screenshot(path=str(screenshots[path]), full_page=True)
            page.close()
            visits.append(found)
        browser.close()
    return visits
