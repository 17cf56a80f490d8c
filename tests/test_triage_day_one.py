"""Day one (issue 16): a firm lands its open complaints with no decision taken yet. The real
Dagster job publishes a suggestion, with a probability and the words behind it, for every one of
them, from the base model learnt from public MAUDE reports, and says so in its model card."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.cli import main
from tests.small_landing import generate_small_landing

AS_OF = "2026-10-31"


def forget_every_decision(landing: Path) -> None:
    """No reportability decision anywhere: the complaints' column emptied, no determinations,
    no submissions (a new team has filed nothing through this pipeline yet)."""
    for path in sorted((landing / "complaints").glob("*.csv")):
        frame = pl.read_csv(path, infer_schema_length=0)
        frame.with_columns(reportability_decision=pl.lit(None, pl.String)).write_csv(path)
    for folder in ("determinations", "submissions", "_truth"):
        shutil.rmtree(landing / folder, ignore_errors=True)


@pytest.fixture(scope="module")
def day_one(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("day_one")
    landing = base / "landing"
    generate_small_landing(landing, 11)
    forget_every_decision(landing)
    argv = ["run", "--landing", str(landing), "--warehouse", str(base / "pms.duckdb")]
    argv += ["--reports", str(base / "reports"), "--as-of", AS_OF]
    assert main(argv) == 0
    return base


def test_every_open_complaint_gets_a_suggestion_on_day_one(day_one: Path) -> None:
    with duckdb.connect(str(day_one / "pms.duckdb"), read_only=True) as con:
        current = con.execute(
            "SELECT count(DISTINCT complaint_id) FROM staging.complaint_versions "
            "WHERE received_date <= ?",
            [dt.date.fromisoformat(AS_OF)],
        ).fetchall()[0][0]
        rows = con.execute(
            """
            SELECT count(*), count(p_reportable), count(likely_reportable),
                   count(p_serious_base), count(drivers) FILTER (WHERE drivers <> ''),
                   min(suggestion_basis), max(suggestion_basis),
                   bool_and(model_version LIKE 'base-%'), count(DISTINCT likely_reportable)
            FROM marts.triage_suggestions
            """
        ).fetchall()[0]
        card = json.loads(
            con.execute("SELECT card_json FROM marts.triage_model_card").fetchall()[0][0]
        )
    total, with_p, with_flag, with_base, with_words, low, high, base_version, kinds = rows
    assert current > 500
    assert total == with_p == with_flag == with_base == current  # none without a suggestion
    assert with_words >= 0.9 * total  # nearly every narrative has words that raised its score
    assert (low, high, base_version) == ("base", "base", True)
    assert kinds == 2  # some likely reportable, some not: not one answer for all
    assert card["suggestion_basis"] == "base" and card["firm_model"] is None
    assert card["base_model"]["reports_by_source"]["maude_reference"] == 1994
    page = (day_one / "reports" / "vigilance.html").read_text("utf-8")
    assert "Triage model card" in page and card["base_model"]["version"] in page
