"""PDF copies of the HTML reports, printed by headless Chromium (Debian's `chromium` package).

Chromium runs the report's embedded plotly.js, so the PDF shows the same charts as the page;
WeasyPrint runs no JavaScript and would print empty chart boxes. The page's print CSS sets A4.
Chromium stamps the wall clock into /CreationDate and /ModDate; those 14 digits are replaced by
the night's as-of date (same length, so the cross-reference offsets stay valid). Links to other
files would be printed as absolute file:// addresses of wherever the reports folder happens to
be, so the printed copy keeps only in-page links (a PDF sent on cannot follow them anyway): the
links are taken out of the markup only, never out of a script (plotly.js holds the same text
inside its code, and editing it there broke every chart of every PDF). The
PDF is then byte-identical for the same report, wherever it is written. Without Chromium no PDF
is written and the caller says so.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from assets.reports.files import write_atomically

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
# No background traffic: the machine may have no network and the report needs none.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-pdf-header-footer",
    "--virtual-time-budget=15000",
)
_PDF_DATE = re.compile(rb"(/(?:CreationDate|ModDate) \(D:)(\d{14})")
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


def normalise_pdf_dates(data: bytes, as_of: dt.date) -> bytes:
    stamp = as_of.strftime("%Y%m%d000000").encode()
    return _PDF_DATE.sub(lambda m: m.group(1) + stamp, data)


def print_to_pdf(
    html_path: Path, pdf_path: Path, as_of: dt.date, chromium: str, timeout_s: int = 300
) -> bytes:
    """Print `html_path` to `pdf_path` (written atomically); returns the PDF bytes."""
    with tempfile.TemporaryDirectory(prefix="pms-chromium-") as profile:
        out = Path(profile) / "out.pdf"
        page = Path(profile) / html_path.name
        page.write_text(without_file_links(html_path.read_text(encoding="utf-8")), encoding="utf-8")
        result = subprocess.run(
            [
                chromium,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}/user",
                f"--print-to-pdf={out}",
                page.as_uri(),
            ],
            capture_output=True,
            timeout=timeout_s,
            check=False,
        )
        if result.returncode != 0 or not out.exists() or not out.read_bytes().startswith(b"%PDF"):
            stderr = result.stderr.decode("utf-8", "replace")[-500:]
            raise RuntimeError(
                f"{chromium} could not print {html_path.name} to PDF "
                f"(exit {result.returncode}): {stderr}"
            )
        data = normalise_pdf_dates(out.read_bytes(), as_of)
    write_atomically(pdf_path, data)
    return data
