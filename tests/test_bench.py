"""Smoke tests of the benchmark's pure helpers (no timing, nothing slow)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from pipelines.bench import (
    files_of_day,
    generation_matches,
    judge,
    landing_files,
    landing_without,
    newest_day,
    peak_raises,
    raw_read_sql,
)
from pipelines.hooks import STEP_MEMORY_MESSAGE


def _landing(tmp_path: Path) -> Path:
    landing = tmp_path / "landing"
    for rel in (
        "products.csv",
        "complaints/complaints_2026-09.csv",
        "complaints/complaints_2026-10.csv",
        "complaints/complaints_2026-10-30.csv",
        "complaints/complaints_2026-10-31.csv",
        "service/service_2026-10.csv",
        "maude/mdrfoi.txt",
        "openfda/device_event_0001.json",
        "_truth/signals_2026-11-01.csv",
    ):
        (landing / rel).parent.mkdir(parents=True, exist_ok=True)
        (landing / rel).write_text("a\n1\n", encoding="utf-8")
    return landing


def test_newest_day_files_ignore_truth_and_months(tmp_path: Path) -> None:
    landing = _landing(tmp_path)
    assert all("_truth" not in p.parts for p in landing_files(landing))
    day = newest_day(landing)
    assert day == dt.date(2026, 10, 31)
    assert files_of_day(landing, day) == [Path("complaints/complaints_2026-10-31.csv")]


def test_landing_without_leaves_out_the_newest_day(tmp_path: Path) -> None:
    landing = _landing(tmp_path)
    target = tmp_path / "copy"
    landing_without(landing, target, files_of_day(landing, newest_day(landing)))
    copied = {str(p.relative_to(target)) for p in landing_files(target)}
    assert "complaints/complaints_2026-10-31.csv" not in copied
    assert "complaints/complaints_2026-10-30.csv" in copied
    assert newest_day(target) == dt.date(2026, 10, 30)
    assert not (target / "_truth").exists()


def test_raw_read_sql_by_kind(tmp_path: Path) -> None:
    maude = raw_read_sql(Path("/x/maude/mdrfoi.txt"), "t1")
    assert maude is not None and "delim='|'" in maude and "quote=''" in maude
    assert "all_varchar=true" in (raw_read_sql(Path("/x/a.csv"), "t2") or "")
    assert "read_json" in (raw_read_sql(Path("/x/a.json"), "t3") or "")
    assert raw_read_sql(Path("/x/README.md"), "t4") is None


def test_generation_matches_and_judge(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    (landing / "_truth").mkdir(parents=True)
    (landing / "_truth" / "generation.json").write_text(
        json.dumps({"scale": "medium", "seed": 42}), encoding="utf-8"
    )
    assert generation_matches(landing, "medium", 42)
    assert not generation_matches(landing, "maude", 42)
    assert not generation_matches(tmp_path / "none", "medium", 42)
    verdict = judge({"peak_memory_gib": 7.0, "disproportionality_s": 1.0})
    assert verdict["peak_memory_gib"]["pass"] is False
    assert verdict["disproportionality_s"]["pass"] is True
    assert verdict["increment_full_s"]["pass"] is None


def test_peak_raises_name_the_steps_that_raised_the_peak() -> None:
    gib = 1024**3

    def line(step: str, rss: float, peak: float) -> tuple[str, str]:
        return step, STEP_MEMORY_MESSAGE.format(rss=int(rss * gib), peak=int(peak * gib))

    lines = [
        line("ingest", 1.0, 2.0),
        ("ingest", "3 new file(s)"),  # other messages are ignored
        line("signals", 1.5, 2.0),  # did not raise it
        line("audit", 1.0, 7.5),
        line("reports", 1.0, 8.0),
    ]
    assert peak_raises(lines) == {
        "audit": {"peak_gib": 7.5, "raised_gib": 5.5, "rss_after_gib": 1.0},
        "ingest": {"peak_gib": 2.0, "raised_gib": 2.0, "rss_after_gib": 1.0},
        "reports": {"peak_gib": 8.0, "raised_gib": 0.5, "rss_after_gib": 1.0},
    }
    assert list(peak_raises(lines, top=1)) == ["audit"]
