"""PDF copies of the HTML reports, printed by headless Chromium (Debian's `chromium` package)
driven by Playwright (its DevTools client; no browser download).

Chromium runs the report's embedded plotly.js, so the PDF shows the same charts as the page
(WeasyPrint runs no JavaScript and would print empty chart boxes); the page is printed once every
chart is drawn. The page's print CSS sets A4; each page carries a running header (the report, its
period, the data's night and the code version) and "page n of N", and the headings become PDF
bookmarks. Chromium stamps the wall clock into /CreationDate and /ModDate; those 14 digits are
replaced by the night's as-of date (same length, so the cross-reference offsets stay valid).
Links to other files would be printed as absolute file:// addresses of wherever the reports
folder happens to be, so the printed copy keeps only in-page links (a PDF sent on cannot follow
them anyway): the links are taken out of the markup only, never out of a script (plotly.js holds
the same text inside its code, and editing it there broke every chart of every PDF). The PDF is
then byte-identical for the same report, wherever it is written. Without Chromium no PDF is
written and the caller says so.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import shutil
import tempfile
from html import escape
from pathlib import Path
from typing import NamedTuple

from assets.reports.files import write_atomically

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
# Playwright starts Chromium headless; no background traffic: the machine may have no network
# and the report needs none.
LAUNCH_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
_PDF_DATE = re.compile(rb"(/(?:CreationDate|ModDate) \(D:)(\d{14})")
_NODE_ID = re.compile(rb"\(node(\d{8})\)")
_FILE_LINK = re.compile(r'<a href="(?!#)[^"]*"')
_SCRIPT = re.compile(r"(<script\b[^>]*>.*?</script\s*>)", re.IGNORECASE | re.DOTALL)


def without_file_links(html: str) -> str:
    """`html` with links to other files turned into plain anchors (`<a href="x.html">` becomes
    `<a>`), in the markup only: script elements are left exactly as they are."""
    parts = _SCRIPT.split(html)
    # split with one capturing group: even indices are markup, odd ones whole script elements
    return "".join(p if i % 2 else _FILE_LINK.sub("<a", p) for i, p in enumerate(parts))


def find_chromium() -> str | None:
    """`PMS_CHROMIUM` when set, else the first Chromium on the PATH."""
    configured = os.environ.get("PMS_CHROMIUM")
    if configured:
        return configured if Path(configured).exists() else None
    return next((p for p in map(shutil.which, CHROMIUM_NAMES) if p), None)


def normalise_pdf(data: bytes, as_of: dt.date) -> bytes:
    """The PDF with what differs between two prints of the same page made the same: the dates
    Chromium stamps (the as-of night instead) and the DOM node numbers it names the tagged
    structure elements by (`(node00000059)`: the same nodes in the same order, counted from
    another start each time), renumbered by rank. Same lengths, so the offsets stay valid."""
    stamp = as_of.strftime("%Y%m%d000000").encode()
    data = _PDF_DATE.sub(lambda m: m.group(1) + stamp, data)
    ranks = {n: b"%08d" % i for i, n in enumerate(sorted(set(_NODE_ID.findall(data)), key=int))}
    return _NODE_ID.sub(lambda m: b"(node" + ranks[m.group(1)] + b")", data)


# A4 less the page's 15 mm margins (@page in base.html.j2), at CSS's 96 px per inch.
PRINT_VIEWPORT = {"width": round(180 / 25.4 * 96), "height": round(267 / 25.4 * 96)}
# Every chart drawn (plotly replaces its placeholder div's content with an svg) before printing.
CHARTS_DRAWN_JS = """() => [...document.querySelectorAll('div.plotly-graph-div')]
    .every(d => d.querySelector('.main-svg'))"""
CHART_COUNTS_JS = """() => {
    const charts = [...document.querySelectorAll('div.plotly-graph-div')];
    return [charts.length, charts.filter(d => d.querySelector('.main-svg')).length]; }"""
# The running header and the page numbers, in the margin Chromium leaves for them (its templates
# take inline styles only; pageNumber and totalPages are filled in by Chromium).
_MARGIN_STYLE = "font: 7pt sans-serif; color: #5b6675; width: 100%; margin: 0 15mm;"


def _header_template(header: str) -> str:
    return f'<div style="{_MARGIN_STYLE}">{escape(header)}</div>'


FOOTER_TEMPLATE = (
    f'<div style="{_MARGIN_STYLE} text-align: right;">page <span class="pageNumber"></span> of '
    '<span class="totalPages"></span></div>'
)


class PrintedPdf(NamedTuple):
    data: bytes
    charts: int  # plotly charts on the page
    charts_drawn: int  # of them, drawn when the page was printed


def print_to_pdf(
    html_path: Path,
    pdf_path: Path,
    as_of: dt.date,
    chromium: str,
    timeout_s: int = 300,
    header: str | None = None,
    charts_timeout_s: int = 60,
) -> PrintedPdf:
    """Print `html_path` to `pdf_path` (written atomically) once its charts are drawn (at most
    `charts_timeout_s`; a chart still blank then is counted, not hidden), with `header` running
    at the top of every page, "page n of N" at the foot and the headings as PDF bookmarks."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="pms-chromium-") as profile:
        page_file = Path(profile) / html_path.name
        page_file.write_text(
            without_file_links(html_path.read_text(encoding="utf-8")), encoding="utf-8"
        )
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=chromium,
                    args=list(LAUNCH_ARGS),
                    timeout=timeout_s * 1000,
                )
                try:
                    # laid out and its charts drawn for the printed page, not a screen: print
                    # media at A4's printable width, so nothing is shrunk to fit
                    page = browser.new_page(viewport=PRINT_VIEWPORT)
                    page.emulate_media(media="print")
                    page.goto(page_file.as_uri(), wait_until="load", timeout=timeout_s * 1000)
                    with contextlib.suppress(PlaywrightTimeout):
                        page.wait_for_function(CHARTS_DRAWN_JS, timeout=charts_timeout_s * 1000)
                    charts, drawn = page.evaluate(CHART_COUNTS_JS)
                    data = page.pdf(
                        prefer_css_page_size=True,
                        print_background=True,
                        display_header_footer=header is not None,
                        header_template=_header_template(header or ""),
                        footer_template=FOOTER_TEMPLATE,
                        outline=True,
                        tagged=True,
                    )
                finally:
                    browser.close()
        except PlaywrightError as exc:
            raise RuntimeError(
                f"{chromium} could not print {html_path.name} to PDF: {str(exc)[-500:]}"
            ) from exc
    if not data.startswith(b"%PDF"):
        raise RuntimeError(f"{chromium} printed no PDF for {html_path.name}")
    data = normalise_pdf(data, as_of)
    write_atomically(pdf_path, data)
    return PrintedPdf(data, int(charts), int(drawn))
