"""PDF copies of the reports carry their charts (issue 17): printed by the real Chromium path of
assets/reports/pdf.py from a page with the embedded plotly.js, read back with poppler-utils."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from assets.reports.charts import pareto_chart
from assets.reports.pdf import print_to_pdf, without_file_links
from assets.reports.render import plotly_js
from tests.browser import chromium_or_skip


def test_file_links_leave_scripts_alone():
    page = (
        '<p><a href="other.html">other</a> <a href="#s1">here</a></p>'
        "<script>var t = '<a href=\"' + url + '\">';</script>"
        '<SCRIPT type="x">"<a href="y.html">"</SCRIPT><a href="z.pdf">z</a>'
    )
    assert without_file_links(page) == (
        '<p><a>other</a> <a href="#s1">here</a></p>'
        "<script>var t = '<a href=\"' + url + '\">';</script>"
        '<SCRIPT type="x">"<a href="y.html">"</SCRIPT><a>z</a>'
    )
    # the shipped plotly.js holds such text: it must come through untouched
    script = f"<script>{plotly_js()}</script>"
    assert '<a href="' in script and without_file_links(script) == script


def _poppler(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        if os.environ.get("PMS_REQUIRE_BROWSER"):  # CI: .ci/run installs poppler-utils
            pytest.fail(f"PMS_REQUIRE_BROWSER is set but {tool} is missing")
        pytest.skip(f"{tool} missing (apt install poppler-utils)")
    return found


def test_a_printed_chart_is_in_the_pdf(tmp_path: Path):
    chromium = chromium_or_skip()
    pdftotext = _poppler("pdftotext")
    pdftoppm = _poppler("pdftoppm")
    rows = [
        {"code": f"A0{i}01", "count": 50 - 7 * i, "cumulative_pct": 10.0 * (i + 1)}
        for i in range(5)
    ]
    chart = pareto_chart(rows, "pareto-test")
    html = tmp_path / "report.html"
    html.write_text(
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<script>{plotly_js()}</script></head><body>"
        '<p><a href="index.html">Back to the index</a></p>'
        f"<div style='width:700px'>{chart}</div></body></html>",
        encoding="utf-8",
    )
    pdf = tmp_path / "report.pdf"
    printed = print_to_pdf(html, pdf, dt.date(2026, 10, 31), chromium)
    data = printed.data
    assert (printed.charts, printed.charts_drawn) == (1, 1)
    text = subprocess.run(
        [pdftotext, "-layout", str(pdf), "-"], capture_output=True, check=True, text=True
    ).stdout
    # plotly drew the chart: its title and its axis labels are text of the page
    assert "Complaints by IMDRF problem code (Pareto)" in text
    assert "A0001" in text and "A0401" in text
    assert "Back to the index" in text and b"index.html" not in data
    # and the page is not blank where the chart is: many non-white pixels
    subprocess.run(
        [pdftoppm, "-r", "40", "-gray", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")],
        check=True,
    )
    image = next(tmp_path.glob("page*.pgm")).read_bytes()
    header_end = image.index(b"255\n") + 4
    pixels = image[header_end:]
    dark = sum(1 for b in pixels if b < 200)
    assert dark > 0.01 * len(pixels)


def test_running_header_page_numbers_bookmarks_and_the_same_bytes_twice(tmp_path: Path):
    """Issue 17 #8: each printed page says which report it belongs to and its number; the
    headings are PDF bookmarks; two prints of the same page are byte-identical (the tagged-PDF
    node numbers Chromium draws from a counter are renumbered)."""
    chromium = chromium_or_skip()
    pdftotext = _poppler("pdftotext")
    html = tmp_path / "report.html"
    html.write_text(
        "<!doctype html><html><head><meta charset='utf-8'>"
        "<style>@page { size: A4; margin: 15mm; } h2 { break-before: page; }</style></head>"
        "<body><h1>Report</h1><h2 id='s1'>1. First section</h2><p>One.</p>"
        "<h2 id='s2'>2. Second section</h2><table><tr><th>a</th></tr><tr><td>1</td></tr>"
        "</table></body></html>",
        encoding="utf-8",
    )
    header = "PSUR Example · period 2025-10-01 to 2026-09-30 · data as of 2026-10-31"
    first = print_to_pdf(html, tmp_path / "a.pdf", dt.date(2026, 10, 31), chromium, header=header)
    again = print_to_pdf(html, tmp_path / "b.pdf", dt.date(2026, 10, 31), chromium, header=header)
    assert first.data == again.data
    pages = subprocess.run(
        [pdftotext, "-layout", str(tmp_path / "a.pdf"), "-"],
        capture_output=True,
        check=True,
        text=True,
    ).stdout.split("\f")
    pages = [p for p in pages if p.strip()]
    assert len(pages) == 3
    for number, page in enumerate(pages, start=1):
        assert header in page
        assert f"page {number} of 3" in page
    assert b"/Outlines" in first.data and b"First section" in first.data
