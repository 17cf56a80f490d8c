"""The optional PSUR sources of the data contract (`fsca/`, `capa/`, `psur_inputs/`): typed into
staging through the real ingestion path (row rules included), bad rows quarantined with file,
row and column, a missing folder loading nothing; and the generator's demo files for them, from
random streams of their own that leave every other generated file as it was."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import duckdb
import polars as pl
import pytest

from assets.ingestion.assets import ingest_landing_source
from assets.ingestion.landing_csv import ensure_landing_tables, load_landing_csv
from assets.ingestion.sources import (
    CAPA,
    FSCA,
    LANDING_CSV_SOURCES,
    PRODUCTS,
    PSUR_INPUTS,
    SourceSpec,
)
from assets.quality.checks import judge_staged_table
from assets.quality.gx_suites import suite_definition
from assets.quality.row_rules import row_rule_parameters
from assets.resources import LandingFolder, NightSettings
from assets.warehouse import ensure_warehouse
from synthetic import generate, psur_inputs
from synthetic.generate import generate_landing
from synthetic.scales import SCALES, Scale

AS_OF = "2026-10-31"
NIGHT = NightSettings(as_of=AS_OF)
SOURCES = (FSCA, CAPA, PSUR_INPUTS)
NEW_FOLDERS = ("fsca", "capa", "psur_inputs")
TINY = Scale("psur-tiny", dt.date(2023, 1, 1), 1_500, 3_000, 50, 400, 0.5, 400_000, 100_000)

# The fixed interface the report code reads (assets/reports/mdcg.py): table columns, in order.
EXPECTED_COLUMNS = {
    "fsca": [
        ("fsca_id", "VARCHAR"),
        ("device_family", "VARCHAR"),
        ("started_on", "DATE"),
        ("action_type", "VARCHAR"),
        ("reason", "VARCHAR"),
        ("device_models", "VARCHAR"),
        ("lots", "VARCHAR"),
        ("countries", "VARCHAR"),
        ("fsn_reference", "VARCHAR"),
        ("status", "VARCHAR"),
        ("closed_on", "DATE"),
        ("signal_id", "VARCHAR"),
    ],
    "capa": [
        ("capa_id", "VARCHAR"),
        ("device_family", "VARCHAR"),
        ("opened_on", "DATE"),
        ("source", "VARCHAR"),
        ("problem", "VARCHAR"),
        ("root_cause", "VARCHAR"),
        ("actions", "VARCHAR"),
        ("status", "VARCHAR"),
        ("closed_on", "DATE"),
        ("effectiveness", "VARCHAR"),
    ],
    "psur_inputs": [
        ("device_family", "VARCHAR"),
        ("section", "VARCHAR"),
        ("period_end", "DATE"),
        ("text", "VARCHAR"),
        ("source", "VARCHAR"),
        ("author", "VARCHAR"),
        ("updated_on", "DATE"),
    ],
}
LINEAGE = ["extra_fields", "source_file", "source_row", "source_sha256", "run_id"]

FSCA_ROW = {
    "fsca_id": "FSCA-2026-01",
    "device_family": "Infusa",
    "started_on": "2026-03-02",
    "action_type": "exchange",
    "reason": "Battery packs of one supplier lot lose capacity early",
    "device_models": "Infusa VP300;Infusa VP350",
    "lots": "VP3-2504-003;V35-2505-001",
    "countries": "DE;FR;US",
    "fsn_reference": "FSN-2026-01",
    "status": "closed",
    "closed_on": "2026-07-15",
    "signal_id": "lot:LXC-BP-00022:A070504",
}
CAPA_ROW = {
    "capa_id": "CAPA-2026-001",
    "device_family": "Infusa",
    "opened_on": "2026-02-20",
    "source": "trend",
    "problem": "Rising rate of battery complaints",
    "root_cause": "Cells stored too warm before assembly",
    "actions": "Capacity test at incoming inspection",
    "status": "closed",
    "closed_on": "2026-09-01",
    "effectiveness": "Battery complaints back to the expected rate",
}
PSUR_ROW = {
    "device_family": "Infusa",
    "section": "literature",
    "period_end": "2026-09-30",
    "text": 'Search of PubMed, 2025-10-01 to 2026-09-30: 200 records, 9 "relevant"; no new risk.',
    "source": "LSP-INF-04",
    "author": "M. Weber (Clinical Affairs)",
    "updated_on": "2026-10-12",
}
GOOD = {"fsca": FSCA_ROW, "capa": CAPA_ROW, "psur_inputs": PSUR_ROW}
ANOTHER_KEY = {
    "fsca": {"fsca_id": "FSCA-2026-02"},
    "capa": {"capa_id": "CAPA-2026-002"},
    "psur_inputs": {"section": "registries"},
}


def csv_text(spec: SourceSpec, *rows: dict[str, str]) -> str:
    """A landing file of `spec` (values are quoted when they carry a comma or a quote)."""

    def cell(value: str) -> str:
        return (
            f'"{value.replace(chr(34), 2 * chr(34))}"' if any(c in value for c in ',"') else value
        )

    lines = [",".join(spec.column_names)]
    lines += [",".join(cell(r.get(c, "")) for c in spec.column_names) for r in rows]
    return "\n".join(lines) + "\n"


@pytest.fixture
def warehouse(tmp_path: Path) -> tuple[duckdb.DuckDBPyConnection, Path]:
    """A warehouse knowing the families Infusa and OxiSense (staging.products), an empty landing."""
    con = duckdb.connect(str(tmp_path / "pms.duckdb"))
    ensure_warehouse(con)
    ensure_landing_tables(con, PRODUCTS)
    con.execute(
        "INSERT INTO staging.products (device_model, device_family) VALUES "
        "('Infusa VP300', 'Infusa'), ('OxiSense PX10', 'OxiSense')"
    )
    landing = tmp_path / "landing"
    landing.mkdir()
    return con, landing


def ingest(con: duckdb.DuckDBPyConnection, landing: Path, spec: SourceSpec, run: str = "night-1"):
    outcomes, _ = ingest_landing_source(con, spec, LandingFolder(path=str(landing)), NIGHT, run)
    return outcomes


def write(landing: Path, name: str, text: str) -> None:
    path = landing / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def quarantine(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute(
        "SELECT file_path, row_number, column_name, reason FROM quarantine.rejected_rows "
        "ORDER BY file_path, row_number"
    ).fetchall()


def failed_checks(con: duckdb.DuckDBPyConnection, suite: str) -> list[tuple[str, str]]:
    return con.execute(
        "SELECT severity, reason FROM audit.check_results WHERE suite = ? AND NOT success "
        "ORDER BY check_name",
        [suite],
    ).fetchall()


# --------------------------------------------------------------------------------------------
# the sources
# --------------------------------------------------------------------------------------------


def test_the_sources_are_optional_landing_sources_of_the_contract() -> None:
    for spec, folder in zip(SOURCES, NEW_FOLDERS, strict=True):
        assert spec in LANDING_CSV_SOURCES
        assert spec.name == folder and spec.glob == f"{folder}/*.csv" and spec.mode == "upsert"
    assert FSCA.key == ("fsca_id",) and CAPA.key == ("capa_id",)
    assert PSUR_INPUTS.key == ("device_family", "section", "period_end")
    assert FSCA.required_columns == (
        "fsca_id",
        "device_family",
        "started_on",
        "action_type",
        "reason",
        "status",
    )
    assert CAPA.required_columns == (
        "capa_id",
        "device_family",
        "opened_on",
        "source",
        "problem",
        "status",
    )
    assert PSUR_INPUTS.required_columns == PSUR_INPUTS.column_names


@pytest.mark.parametrize("spec", SOURCES, ids=lambda s: s.name)
def test_every_suite_rule_names_columns_of_its_source(spec: SourceSpec) -> None:
    suite = suite_definition(f"staging.{spec.name}")
    assert suite["name"] == f"staging.{spec.name}"
    for expectation in suite["expectations"]:
        kwargs = expectation["kwargs"]
        named = [kwargs[k] for k in ("column", "column_A", "column_B") if k in kwargs]
        named += kwargs.get("column_list", [])
        assert named and set(named) <= set(spec.column_names), expectation


@pytest.mark.parametrize("spec", SOURCES, ids=lambda s: s.name)
def test_a_good_file_loads_typed_into_staging(warehouse, spec: SourceSpec) -> None:
    con, landing = warehouse
    write(landing, f"{spec.name}/export_2026-10-31.csv", csv_text(spec, GOOD[spec.name]))
    [outcome] = ingest(con, landing, spec)
    assert (outcome.result.rows_read, outcome.result.rows_loaded) == (1, 1)
    columns = con.execute(f"DESCRIBE staging.{spec.name}").fetchall()
    assert [(c[0], c[1]) for c in columns][: len(spec.columns)] == EXPECTED_COLUMNS[spec.name]
    assert [c[0] for c in columns][len(spec.columns) :] == LINEAGE
    names = ", ".join(spec.column_names)
    [row] = con.execute(
        f"SELECT {names}, source_file, source_row FROM staging.{spec.name}"
    ).fetchall()
    typed = dict(zip([*spec.column_names, "source_file", "source_row"], row, strict=True))
    for column in spec.columns:
        given = GOOD[spec.name][column.name]
        expected = dt.date.fromisoformat(given) if column.kind == "date" else given
        assert typed[column.name] == expected, column.name
    assert (typed["source_file"], typed["source_row"]) == (
        f"{spec.name}/export_2026-10-31.csv",
        2,
    )
    assert quarantine(con) == []
    assert failed_checks(con, f"staging.{spec.name}") == []


def test_a_missing_folder_loads_nothing_and_fails_nothing(warehouse) -> None:
    con, landing = warehouse
    for spec in SOURCES:
        assert ingest(con, landing, spec) == []
        assert con.execute(f"SELECT count(*) FROM staging.{spec.name}").fetchall() == [(0,)]
    assert quarantine(con) == []


@pytest.mark.parametrize(
    ("spec", "override", "column", "expected_text"),
    [
        (FSCA, {"action_type": "recall"}, "action_type", "expected one of return, modification"),
        (FSCA, {"closed_on": "15.07.2026"}, "closed_on", "expected an ISO date YYYY-MM-DD"),
        (FSCA, {"status": "done"}, "status", "expected one of open, closed, found 'done'"),
        (FSCA, {"reason": ""}, "reason", "reason: required value missing"),
        (
            FSCA,
            {"started_on": "2026-11-02", "status": "open", "closed_on": ""},
            "started_on",
            "started_on: expected on or before the run's as-of date, found started_on '2026-11-02'",
        ),
        (CAPA, {"source": "customer"}, "source", "expected one of complaint, trend, fsca"),
        (CAPA, {"status": "verified"}, "status", "expected one of open, implemented"),
        (CAPA, {"opened_on": "2026-13-01"}, "opened_on", "found '2026-13-01'"),
        (CAPA, {"closed_on": "2026-11-30"}, "closed_on", "on or before the run's as-of date"),
        (PSUR_INPUTS, {"section": "summary"}, "section", "expected one of literature, registries"),
        (PSUR_INPUTS, {"period_end": "Q3 2026"}, "period_end", "expected an ISO date"),
        (PSUR_INPUTS, {"author": ""}, "author", "author: required value missing"),
        (PSUR_INPUTS, {"updated_on": "2026-11-01"}, "updated_on", "run's as-of date"),
    ],
)
def test_a_bad_row_is_quarantined_with_file_row_and_column(
    warehouse, spec: SourceSpec, override: dict[str, str], column: str, expected_text: str
) -> None:
    con, landing = warehouse
    good = GOOD[spec.name]
    bad = {**good, **ANOTHER_KEY[spec.name], **override}
    write(landing, f"{spec.name}/a.csv", csv_text(spec, good, bad))
    [outcome] = ingest(con, landing, spec)
    assert (outcome.result.rows_loaded, outcome.result.rows_quarantined) == (1, 1)
    [(file_path, row, col, reason)] = quarantine(con)
    assert (file_path, row, col) == (f"{spec.name}/a.csv", 3, column)
    assert expected_text in reason, reason
    assert con.execute(f"SELECT count(*) FROM staging.{spec.name}").fetchall() == [(1,)]


def test_a_duplicate_key_inside_a_psur_inputs_file_is_quarantined(warehouse) -> None:
    con, landing = warehouse
    again = {**PSUR_ROW, "text": "A second text for the same family, section and period."}
    write(landing, "psur_inputs/a.csv", csv_text(PSUR_INPUTS, PSUR_ROW, again))
    [outcome] = ingest(con, landing, PSUR_INPUTS)
    assert (outcome.result.rows_loaded, outcome.result.rows_quarantined) == (1, 1)
    [(_, row, col, reason)] = quarantine(con)
    assert (row, col) == (3, "device_family")
    assert "duplicate key device_family + section + period_end inside the file" in reason


def test_a_later_file_updates_the_register_and_replaces_the_text(warehouse) -> None:
    con, landing = warehouse
    opened = {**FSCA_ROW, "status": "open", "closed_on": ""}
    write(landing, "fsca/fsca_2026-06-30.csv", csv_text(FSCA, opened))
    write(landing, "psur_inputs/p_2026-10-05.csv", csv_text(PSUR_INPUTS, PSUR_ROW))
    ingest(con, landing, FSCA)
    ingest(con, landing, PSUR_INPUTS)
    write(landing, "fsca/fsca_2026-10-31.csv", csv_text(FSCA, FSCA_ROW))
    revised = {**PSUR_ROW, "text": "Revised after review.", "updated_on": "2026-10-20"}
    write(landing, "psur_inputs/p_2026-10-20.csv", csv_text(PSUR_INPUTS, revised))
    ingest(con, landing, FSCA, run="night-2")
    ingest(con, landing, PSUR_INPUTS, run="night-2")
    assert con.execute("SELECT fsca_id, status, closed_on FROM staging.fsca").fetchall() == [
        ("FSCA-2026-01", "closed", dt.date(2026, 7, 15))
    ]
    assert con.execute("SELECT text, updated_on FROM staging.psur_inputs").fetchall() == [
        ("Revised after review.", dt.date(2026, 10, 20))
    ]


def test_inconsistent_dates_and_unknown_families_warn_and_load(warehouse) -> None:
    con, landing = warehouse
    odd_fsca = {**FSCA_ROW, "closed_on": "2026-01-10", "countries": "Germany"}
    odd_capa = {**CAPA_ROW, "device_family": "Infuza", "closed_on": ""}
    write(landing, "fsca/a.csv", csv_text(FSCA, odd_fsca))
    write(landing, "capa/a.csv", csv_text(CAPA, odd_capa))
    ingest(con, landing, FSCA)
    ingest(con, landing, CAPA)
    assert quarantine(con) == []
    assert con.execute("SELECT count(*) FROM staging.fsca").fetchall() == [(1,)]
    assert con.execute("SELECT count(*) FROM staging.capa").fetchall() == [(1,)]
    fsca_warnings = failed_checks(con, "staging.fsca")
    assert {s for s, _ in fsca_warnings} == {"warning"}
    assert {r for _, r in fsca_warnings} == {
        "closed_on: expected on or after started_on",
        "countries: expected ISO 3166-1 alpha-2 codes separated by ';'",
    }
    assert set(failed_checks(con, "staging.capa")) == {
        ("warning", "closed_on: expected when status is closed"),
        ("warning", "device_family: expected a family listed in products.csv"),
    }


# --------------------------------------------------------------------------------------------
# the generator
# --------------------------------------------------------------------------------------------


def _hashes(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo landing folder of seed 42 (`pms generate --seed 42 --scale demo`)."""
    out = tmp_path_factory.mktemp("demo42")
    summary = generate_landing(out, 42, "demo")
    assert summary["fsca"] >= 1 and summary["capa"] >= 5 and summary["psur_inputs"] >= 15
    return out


def _read(folder: Path) -> pl.DataFrame:
    files = sorted(folder.glob("*.csv"))
    assert files, folder
    return pl.concat([pl.read_csv(f, infer_schema=False) for f in files])


def test_the_demo_writes_the_three_folders_in_the_contract_layout(demo: Path) -> None:
    families = set(pl.read_csv(demo / "products.csv", infer_schema=False)["device_family"])
    for spec, folder in zip(SOURCES, NEW_FOLDERS, strict=True):
        for f in sorted((demo / folder).glob("*.csv")):
            header = f.read_text(encoding="utf-8").split("\n", 1)[0].split(",")
            assert header == list(spec.column_names), f
        assert set(_read(demo / folder)["device_family"]) <= families
    fsca = _read(demo / "fsca")
    per_family = fsca.group_by("device_family").len()
    assert per_family["len"].max() <= 2
    assert {"open", "closed"} == set(fsca["status"])
    assert fsca.filter(pl.col("signal_id").is_not_null()).height >= 1
    capa = _read(demo / "capa")
    counts = dict(capa.group_by("device_family").len().iter_rows())
    assert set(counts) == families and all(1 <= n <= 4 for n in counts.values())
    # every FSCA has the CAPA behind it
    behind = {p.split(":")[0] for p in capa.filter(pl.col("source") == "fsca")["problem"]}
    assert behind == set(fsca["fsca_id"])


def test_the_demo_fscas_follow_the_fsca_decisions(demo: Path) -> None:
    """The two `fsca_decision` determinations are FSCAs started on their decision day."""
    decisions = _read(demo / "determinations").filter(pl.col("kind") == "fsca_decision")
    fsca = _read(demo / "fsca")
    assert decisions.height == 2
    for model, decided_on in decisions.select("subject", "decided_on").iter_rows():
        match = fsca.filter(
            pl.col("device_models").str.contains(model, literal=True)
            & (pl.col("started_on") == decided_on)
        )
        assert match.height == 1, (model, decided_on)


def test_the_demo_texts_cover_the_reports_period_with_one_section_left_out(demo: Path) -> None:
    texts = _read(demo / "psur_inputs")
    products = pl.read_csv(demo / "products.csv", infer_schema=False)
    # what the reports cover on the demo night with the default configuration
    assert set(texts["period_end"]) == {"2026-09-30"}
    assert psur_inputs.psur_period("IIa") == (dt.date(2024, 10, 1), dt.date(2026, 9, 30))
    assert psur_inputs.psur_period("III") == (dt.date(2025, 10, 1), dt.date(2026, 9, 30))
    have = set(texts.select("device_family", "section").iter_rows())
    every = {(f, s) for f in set(products["device_family"]) for s in psur_inputs.SECTIONS}
    assert every - have == set(psur_inputs.LEFT_OUT) == {("OxiSense", "pmcf")}
    for text in texts["text"]:
        assert 2 <= text.count(". ") + 1 <= 4, text
    assert (texts["updated_on"] > texts["period_end"]).all()
    assert (texts["updated_on"] <= AS_OF).all()


def test_the_demo_files_load_with_no_quarantine_and_pass_their_suites(
    demo: Path, tmp_path: Path
) -> None:
    con = duckdb.connect(str(tmp_path / "pms.duckdb"))
    ensure_warehouse(con)
    data = (demo / "products.csv").read_bytes()
    load_landing_csv(con, data, PRODUCTS, file_path="products.csv", sha256="p", run_id="p")
    for spec in SOURCES:
        outcomes = ingest(con, demo, spec)
        assert outcomes and all(o.result.rows_quarantined == 0 for o in outcomes), spec.name
        assert failed_checks(con, f"staging.{spec.name}") == [], spec.name
        judged = judge_staged_table(
            con,
            f"staging.{spec.name}",
            row_rule_parameters(con, dt.date.fromisoformat(AS_OF)),
            "check",
        )
        assert judged.outcome.success, spec.name


def test_the_new_files_use_their_own_random_streams(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same seed, same bytes; and without the PSUR writer every other file is byte for byte
    the same, so adding it changed no existing generated file (the README of `_truth/` names
    the new folders)."""
    monkeypatch.setitem(SCALES, TINY.name, TINY)
    monkeypatch.setattr(generate.vigilance_truth, "write_truth", lambda out, as_of: 0)
    generate_landing(tmp_path / "a", 42, TINY.name)
    generate_landing(tmp_path / "b", 42, TINY.name)
    with_writer = _hashes(tmp_path / "a")
    assert with_writer == _hashes(tmp_path / "b")
    assert {k.split("/")[0] for k in with_writer} >= set(NEW_FOLDERS)

    monkeypatch.setattr(generate, "write_psur_inputs", lambda *args: {})
    generate_landing(tmp_path / "c", 42, TINY.name)
    without = _hashes(tmp_path / "c")
    assert not set(NEW_FOLDERS) & {k.split("/")[0] for k in without}
    kept = {k: v for k, v in with_writer.items() if k.split("/")[0] not in NEW_FOLDERS}
    assert kept == without
    gen = json.loads((tmp_path / "a" / "_truth" / "generation.json").read_text())
    assert not set(NEW_FOLDERS) & set(gen["counts"])


def test_other_seeds_and_worlds_write_valid_registers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(SCALES, TINY.name, TINY)
    monkeypatch.setattr(generate.vigilance_truth, "write_truth", lambda out, as_of: 0)
    for seed, world in ((7, "launch_mid"), (11, "null")):
        out = tmp_path / f"{seed}-{world}"
        generate_landing(out, seed, TINY.name, world=world)
        fsca, capa = _read(out / "fsca"), _read(out / "capa")
        assert (fsca["started_on"] <= AS_OF).all() and (capa["opened_on"] <= AS_OF).all()
        closed = fsca.filter(pl.col("status") == "closed")
        assert (closed["closed_on"] >= closed["started_on"]).all()
        assert fsca.filter(pl.col("status") == "open")["closed_on"].is_null().all()
        assert fsca["fsca_id"].is_unique().all() and capa["capa_id"].is_unique().all()
        if world == "null":  # no planted signal: no FSCA answers one
            assert fsca["signal_id"].is_null().all()


def test_a_night_without_the_folders_materialises_them_and_passes_their_checks(
    tmp_path: Path,
) -> None:
    """The Dagster assets and their blocking checks, on a landing folder with none of them."""
    import dagster as dg
    from dagster_duckdb import DuckDBResource

    from assets.ingestion.assets import staging_capa, staging_fsca, staging_psur_inputs
    from assets.quality.definitions import QUALITY_CHECKS

    keys = {dg.AssetKey(["staging", folder]) for folder in NEW_FOLDERS}
    checks = [c for c in QUALITY_CHECKS if {k.asset_key for k in c.check_keys} <= keys]
    assert len(checks) == 6  # a suite (critical and warning) and an accounting check each
    (tmp_path / "landing").mkdir()
    result = dg.materialize(
        [staging_fsca, staging_capa, staging_psur_inputs, *checks],
        resources={
            "warehouse": DuckDBResource(database=str(tmp_path / "pms.duckdb")),
            "landing": LandingFolder(path=str(tmp_path / "landing")),
            "night": NIGHT,
        },
    )
    assert result.success
    evaluations = result.get_asset_check_evaluations()
    assert len(evaluations) == 9 and all(e.passed for e in evaluations)
