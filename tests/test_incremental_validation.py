"""Staged tables are validated by batch: row-wise expectations once per batch (the rows one run
loaded) under a fingerprint of the suite and its parameters, kept in audit.validated_batches;
set-wise ones on the whole table every night. The night's results do not depend on history."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest

from assets.ingestion.sources import COMPLAINTS
from assets.quality import gx_suites
from assets.quality.gx_suites import (
    ExpectationOutcome,
    combine_batch_outcomes,
    is_row_wise,
    split_suite,
    suite_columns,
    suite_parameter_names,
    validation_fingerprint,
)
from pipelines.cli import main
from tests.test_blocked_night import PRODUCT_ROWS, complaint, run_argv, write_landing

# ---------------------------------------------------------------- the split and the fingerprint


def test_split_by_expectation_type() -> None:
    # lots: four row-wise rules, then the uniqueness of lot_number (set-wise)
    assert split_suite("staging.lots") == ((0, 1, 2, 3), (4,))
    # maude_master: table-scoped not_null and in_set are still row-wise by type
    assert split_suite("staging.maude_master") == ((0, 1), (2,))
    assert split_suite("staging.service") == ((0, 1, 2, 3), ())


def test_unknown_types_and_proportions_are_set_wise() -> None:
    assert is_row_wise({"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a"}})
    assert is_row_wise(
        {
            "type": "expect_column_values_to_not_be_null",
            "kwargs": {"column": "a", "row_condition": 'b=="x"', "condition_parser": "pandas"},
        }
    )
    assert not is_row_wise({"type": "expect_column_values_to_be_unique", "kwargs": {}})
    assert not is_row_wise({"type": "expect_compound_columns_to_be_unique", "kwargs": {}})
    assert not is_row_wise({"type": "expect_column_mean_to_be_between", "kwargs": {}})
    assert not is_row_wise({"type": "expect_some_future_gx_type", "kwargs": {}})
    # `mostly` judges a proportion of the whole column: not row-wise
    assert not is_row_wise(
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a", "mostly": 0.9}}
    )


def test_columns_read_per_part() -> None:
    available = ["lot_number", "device_model", "manufacture_date", "quantity", "expiry_date"]
    available += ["component_lots", "source_file", "source_row", "run_id"]
    assert suite_columns("staging.lots", available, part="set") == [
        "lot_number",
        "source_file",
        "source_row",
    ]
    row = suite_columns("staging.lots", available, part="row")
    assert "lot_number" not in row and "component_lots" not in row
    assert {"device_model", "quantity", "source_file", "source_row"} <= set(row)


PARAMETERS: dict[str, Any] = {
    "known_device_models": ["IP-100", "IP-200"],
    "known_lot_numbers": ["L1", "L2"],
    "as_of": "9999-12-30 00:00:00",
}


def test_fingerprint_follows_the_suite_and_the_parameters_it_reads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert suite_parameter_names("staging.lots") == ["as_of", "known_device_models"]
    base = validation_fingerprint("staging.lots", PARAMETERS)
    assert len(base) == 64 and base == validation_fingerprint("staging.lots", dict(PARAMETERS))
    # a model dropped from products.csv: every batch must be judged again
    dropped = PARAMETERS | {"known_device_models": ["IP-100"]}
    assert validation_fingerprint("staging.lots", dropped) != base
    # a parameter the suite does not read leaves it alone
    more_lots = PARAMETERS | {"known_lot_numbers": ["L1", "L2", "L3"]}
    assert validation_fingerprint("staging.lots", more_lots) == base
    assert validation_fingerprint("staging.distribution", more_lots) != validation_fingerprint(
        "staging.distribution", PARAMETERS
    )
    # an edited suite definition
    stored = gx_suites.suite_definition("staging.lots")
    edited = {**stored, "expectations": [dict(e) for e in stored["expectations"]]}
    edited["expectations"][1] = {**edited["expectations"][1], "severity": "warning"}
    monkeypatch.setattr(gx_suites, "suite_definition", lambda name: edited)
    assert validation_fingerprint("staging.lots", PARAMETERS) != base


def _batch(success: bool, elements: int, failing: list[tuple[str, int]]) -> ExpectationOutcome:
    return ExpectationOutcome(
        "expect_column_values_to_be_in_set",
        (),
        "critical",
        "row",
        "",
        success,
        elements,
        len(failing),
        tuple((f, r, "found device_model 'X'") for f, r in failing),
        0,
    )


def test_batch_results_combine_as_on_the_whole_table() -> None:
    combined = combine_batch_outcomes(
        "staging.lots",
        0,
        [_batch(True, 3, []), _batch(False, 2, [("lots/b.csv", 3)]), _batch(False, 1, [("a", 9)])],
    )
    assert combined.check_name == "expect_column_values_to_be_in_set(device_model)"
    assert not combined.success
    assert (combined.element_count, combined.unexpected_count) == (6, 2)
    assert [r[:2] for r in combined.failing_rows] == [("a", 9), ("lots/b.csv", 3)]
    assert combine_batch_outcomes("staging.lots", 0, [_batch(True, 3, [])]).success
    # a batch without a result fails the expectation: no row skips the gate
    assert not combine_batch_outcomes("staging.lots", 0, [_batch(True, 3, []), None]).success
    with pytest.raises(ValueError, match="set-wise"):
        combine_batch_outcomes("staging.lots", 4, [_batch(True, 3, [])])


# ---------------------------------------------------------------- through the real job


def night(base: Path) -> int:
    return main(run_argv(base))


def last_run_id(base: Path) -> str:
    """The last nightly run (a night stopped by a blocking check is followed by its safety net
    run, whose record names it: the stopped run is the one that judged the batches)."""
    with duckdb.connect(str(base / "pms.duckdb"), read_only=True) as con:
        return con.execute(
            "SELECT run_id FROM audit.runs WHERE reason NOT LIKE '%safety net for the stopped%' "
            "ORDER BY sequence DESC LIMIT 1"
        ).fetchall()[0][0]


def annex_rows(base: Path, run_id: str) -> list[tuple]:
    """The report annex's query (assets/reports/assets.py), plus the counts behind it."""
    with duckdb.connect(str(base / "pms.duckdb"), read_only=True) as con:
        return con.execute(
            """
            SELECT suite, table_name, check_name, severity, success,
                   coalesce(unexpected_count, 0), element_count,
                   CASE WHEN suite LIKE 'staging.%' THEN details END
            FROM audit.check_results
            WHERE run_id = ? AND checked_on = 'staged table'
            ORDER BY ALL
            """,
            [run_id],
        ).fetchall()


def ledger(base: Path, where: str = "true", params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(base / "pms.duckdb"), read_only=True) as con:
        return con.execute(
            "SELECT DISTINCT suite, batch_run_id, validated_by_run_id, gate_passed, batch_rows "
            f"FROM audit.validated_batches WHERE {where} ORDER BY ALL",
            params or [],
        ).fetchall()


def inject_lot(base: Path, batch_run_id: str, lot_number: str, model: str) -> None:
    """Staged lots rows of a run that never reached its checks (killed with SIGKILL after its
    loads committed): the state such a run leaves, made without a timing-dependent kill."""
    with duckdb.connect(str(base / "pms.duckdb")) as con:
        con.execute(
            "INSERT INTO staging.lots SELECT * REPLACE (? AS lot_number, ? AS device_model, "
            "? AS run_id, 99 AS source_row) FROM staging.lots WHERE lot_number = 'L1'",
            [lot_number, model, batch_run_id],
        )


@pytest.fixture(scope="module")
def first_night(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("first_night")
    write_landing(base / "landing", PRODUCT_ROWS)
    assert night(base) == 0
    return base


@pytest.fixture
def after_first_night(first_night: Path, tmp_path: Path) -> Path:
    base = tmp_path / "night"
    shutil.copytree(first_night, base)
    return base


def add_complaint_file(landing: Path) -> None:
    (landing / "complaints" / "c2.csv").write_text(
        ",".join(COMPLAINTS.column_names) + "\n" + complaint("C-3", "IP-100") + "\n"
    )


def test_second_night_validates_only_its_batch_and_matches_a_rebuild(
    first_night: Path, after_first_night: Path, tmp_path: Path
) -> None:
    base = after_first_night
    first = last_run_id(first_night)
    assert {b for _, b, by, gate, _ in ledger(first_night)} == {first}
    add_complaint_file(base / "landing")
    assert night(base) == 0
    second = last_run_id(base)
    # tonight judged only the batch it loaded; every other batch stays validated by night 1
    assert ledger(base, "validated_by_run_id = ?", [second]) == [
        ("staging.complaint_versions", second, second, True, 1)
    ]
    assert {by for _, _, by, _, _ in ledger(base, "batch_run_id = ?", [first])} == {first}
    # a clean rebuild of the same landing (one batch) gives the same results
    rebuilt = tmp_path / "rebuilt"
    write_landing(rebuilt / "landing", PRODUCT_ROWS)
    add_complaint_file(rebuilt / "landing")
    assert night(rebuilt) == 0
    incremental = annex_rows(base, second)
    assert any(r[0] == "staging.complaint_versions" and r[6] == 3 for r in incremental)
    assert incremental == annex_rows(rebuilt, last_run_id(rebuilt))


def test_changed_products_revalidate_every_batch_and_still_block(after_first_night: Path) -> None:
    base = after_first_night
    first = last_run_id(base)
    write_landing(base / "landing", PRODUCT_ROWS[:1])  # drops IP-200 with lots staged for it
    assert night(base) == 1
    second = last_run_id(base)
    index = (base / "reports" / "index.html").read_text()
    assert "staging_lots_critical_rules" in index
    assert "device_model: expected a model listed in products.csv" in index
    # the batch of night 1 was judged again under the new fingerprint, and failed
    with duckdb.connect(str(base / "pms.duckdb"), read_only=True) as con:
        lots = con.execute(
            "SELECT fingerprint, validated_by_run_id, bool_and(gate_passed) "
            "FROM audit.validated_batches WHERE suite = 'staging.lots' AND batch_run_id = ? "
            "GROUP BY ALL ORDER BY min(validation_seq)",
            [first],
        ).fetchall()
    assert [(by, gate) for _, by, gate in lots] == [(first, True), (second, False)]
    assert lots[0][0] != lots[1][0]
    # (the tables downstream of lots are not reached: the blocking check stopped the night)
    assert {s for s, b, by, _, _ in ledger(base) if b == first and by == second} == {"staging.lots"}


def test_a_batch_killed_before_its_check_is_validated_next_night(after_first_night: Path) -> None:
    base = after_first_night
    inject_lot(base, "run-killed-before-its-check", "L9", "IP-999")  # no such model
    assert ledger(base, "batch_run_id = ?", ["run-killed-before-its-check"]) == []
    assert night(base) == 1
    second = last_run_id(base)
    assert ledger(base, "batch_run_id = ?", ["run-killed-before-its-check"]) == [
        ("staging.lots", "run-killed-before-its-check", second, False, 1)
    ]
    assert "staging_lots_critical_rules" in (base / "reports" / "index.html").read_text()
    failed = [r for r in annex_rows(base, second) if r[0] == "staging.lots" and not r[4]]
    assert [(r[2], r[5], r[6]) for r in failed] == [
        ("expect_column_values_to_be_in_set(device_model)", 1, 3)
    ]


def test_a_duplicate_key_in_a_later_batch_is_caught_by_the_set_wise_check(
    after_first_night: Path,
) -> None:
    base = after_first_night
    inject_lot(base, "run-of-a-later-night", "L1", "IP-100")  # L1 again, valid row by row
    assert night(base) == 1
    second = last_run_id(base)
    # row by row the batch passes the gate; the whole-table uniqueness stops the night
    assert ledger(base, "batch_run_id = ?", ["run-of-a-later-night"]) == [
        ("staging.lots", "run-of-a-later-night", second, True, 1)
    ]
    failed = [r for r in annex_rows(base, second) if r[0] == "staging.lots" and not r[4]]
    assert [(r[2], r[5]) for r in failed] == [("expect_column_values_to_be_unique(lot_number)", 2)]
    assert "staging_lots_critical_rules" in (base / "reports" / "index.html").read_text()


def test_a_batch_judged_in_chunks_gives_the_results_of_one_piece(
    first_night: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rebuild loads millions of rows in one batch; GX gets them a chunk at a time, and the
    results, counts and failing rows are those of the whole batch."""
    from assets.quality import checks

    judged: list[int] = []
    real = checks.validate_frame

    def spy(name: str, frame: Any, parameters: Any = None, part: str = "all") -> Any:
        if part == "row":
            judged.append(frame.height)
        return real(name, frame, parameters, part)

    monkeypatch.setattr(checks, "VALIDATION_CHUNK_ROWS", 1)
    monkeypatch.setattr(checks, "validate_frame", spy)
    chunked = tmp_path / "chunked"
    write_landing(chunked / "landing", PRODUCT_ROWS)
    assert night(chunked) == 0
    assert judged and max(judged) == 1 and len(judged) >= 5  # every table, a row at a time
    assert annex_rows(chunked, last_run_id(chunked)) == annex_rows(
        first_night, last_run_id(first_night)
    )
    assert [r[:1] + r[3:] for r in ledger(chunked)] == [r[:1] + r[3:] for r in ledger(first_night)]
