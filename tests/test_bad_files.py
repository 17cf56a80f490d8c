"""The bad-file corpus: each kind of broken landing file, through the real ingestion path
(row rules included), with its expected outcome. The night goes on and nothing is lost."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from assets.ingestion.assets import ingest_landing_source
from assets.ingestion.driver import ingest_files
from assets.ingestion.fda import ensure_fda_tables, load_maude_file, load_openfda_page
from assets.ingestion.reference import REFERENCE_DIR, REFERENCE_LOADERS
from assets.ingestion.sources import COMPLAINTS, DISTRIBUTION, LOTS, PRODUCTS
from assets.resources import LandingFolder, NightSettings
from assets.warehouse import ensure_warehouse

AS_OF = "2025-06-30"
NIGHT = NightSettings(as_of=AS_OF)
HEADER = ",".join(COMPLAINTS.column_names)
PRODUCTS_CSV = (
    ",".join(PRODUCTS.column_names) + "\n"
    "IP-100,InfuMax pumps,FRN,IIb,2,false,2020-01-01,Volumetric infusion pump\n"
)
LOTS_CSV = ",".join(LOTS.column_names) + "\nL1,IP-100,2024-01-10,500,SUP-7,2029-01-10\n"


def complaint(complaint_id: str = "C-1", **overrides: str) -> str:
    values = dict(
        complaint_id=complaint_id,
        received_date="2025-03-01",
        updated_at="2025-03-02T09:00:00",
        event_date="2025-02-28",
        device_model="IP-100",
        lot_number="L1",
        serial_number="SN1",
        udi_di="",
        country="DE",
        source="customer",
        problem_code="A0101",
        health_effect_code="",
        component_code="",
        patient_outcome="none",
        malfunction="true",
        description="Pump alarmed during infusion",
        investigation_status="open",
        investigation_closed_date="",
        investigation_conclusion_code="",
        not_investigated_reason="",
        reportability_decision="",
        reported_date="",
        regulatory_report_id="",
    )
    values.update(overrides)
    return ",".join(values[c] for c in COMPLAINTS.column_names)


@pytest.fixture
def warehouse(tmp_path: Path) -> tuple[duckdb.DuckDBPyConnection, Path]:
    con = duckdb.connect(str(tmp_path / "pms.duckdb"))
    ensure_warehouse(con)
    ensure_fda_tables(con)
    for file_path, loader in sorted(REFERENCE_LOADERS.items()):
        ingest_files(
            con,
            REFERENCE_DIR,
            [REFERENCE_DIR / file_path],
            source="reference",
            loader=loader,
            run_id="ref",
        )
    landing = tmp_path / "landing"
    (landing / "lots").mkdir(parents=True)
    (landing / "products.csv").write_text(PRODUCTS_CSV)
    (landing / "lots" / "lots.csv").write_text(LOTS_CSV)
    for spec in (PRODUCTS, LOTS):
        ingest_landing_source(con, spec, LandingFolder(path=str(landing)), NIGHT, "night-0")
    return con, landing


def night(con, landing: Path, spec=COMPLAINTS, run_id: str = "night-1"):
    outcomes, recovered = ingest_landing_source(
        con, spec, LandingFolder(path=str(landing)), NIGHT, run_id
    )
    return {o.file_path: o for o in outcomes}, recovered


def put(landing: Path, name: str, data: str | bytes) -> str:
    path = landing / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return name


@dataclass(frozen=True)
class Case:
    kind: str
    file: str
    data: str | bytes
    status: str
    loaded: int
    quarantined: int
    reason: str = ""  # a part of every quarantine reason of the file


CSV_CASES = [
    Case("empty file", "complaints/empty.csv", b"", "empty", 0, 0),
    Case("header only", "complaints/header.csv", HEADER + "\n", "loaded", 0, 0),
    Case(
        "missing required column",
        "complaints/missing.csv",
        HEADER.replace("complaint_id,", "") + "\n" + complaint() + "\n",
        "rejected_file",
        0,
        1,
        "missing required column(s) complaint_id",
    ),
    Case(
        "extra unknown columns are kept",
        "complaints/extra.csv",
        HEADER + ",site\n" + complaint() + ",Ward 3\n",
        "loaded",
        1,
        0,
    ),
    Case(
        "wrong delimiter",
        "complaints/semicolon.csv",
        HEADER.replace(",", ";") + "\n" + complaint().replace(",", ";") + "\n",
        "rejected_file",
        0,
        1,
        "semicolon-delimited",
    ),
    Case(
        "cp1252 encoding",
        "complaints/cp1252.csv",
        (HEADER + "\n" + complaint(description="Patientin M\u00fcller") + "\n").encode("cp1252"),
        "rejected_file",
        0,
        1,
        "not UTF-8",
    ),
    Case(
        "UTF-16 encoding",
        "complaints/utf16.csv",
        (HEADER + "\n" + complaint() + "\n").encode("utf-16"),
        "rejected_file",
        0,
        1,
        "UTF-16",
    ),
    Case(
        "byte-order mark",
        "complaints/bom.csv",
        b"\xef\xbb\xbf" + (HEADER + "\n" + complaint() + "\n").encode(),
        "loaded",
        1,
        0,
    ),
    Case(
        "CRLF line ends",
        "complaints/crlf.csv",
        HEADER + "\r\n" + complaint() + "\r\n",
        "loaded",
        1,
        0,
    ),
    Case(
        "quotes and newlines in a narrative",
        "complaints/quoted.csv",
        HEADER + "\n" + complaint(description='"Pt said ""stop"",\nthen it alarmed"') + "\n",
        "loaded",
        1,
        0,
    ),
    Case(
        "a 1 MB narrative",
        "complaints/long.csv",
        HEADER + "\n" + complaint(description="occlusion alarm " * 65_536) + "\n",
        "loaded",
        1,
        0,
    ),
    Case(
        "truncated last line",
        "complaints/truncated.csv",
        HEADER + "\n" + complaint() + "\n" + complaint("C-2")[:50],
        "loaded",
        1,
        1,
        "the line looks truncated",
    ),
    Case(
        "dates in another format",
        "complaints/dates.csv",
        HEADER + "\n" + complaint(received_date="01.03.2025") + "\n",
        "loaded",
        0,
        1,
        "received_date: expected an ISO date YYYY-MM-DD, found '01.03.2025'",
    ),
    Case(
        "future received_date",
        "complaints/future.csv",
        HEADER
        + "\n"
        + complaint(received_date="2025-07-15", event_date="", updated_at="2025-06-01T00:00:00")
        + "\n",
        "loaded",
        0,
        1,
        "received_date: expected on or before the run's as-of date",
    ),
    Case(
        "unknown device model",
        "complaints/model.csv",
        HEADER + "\n" + complaint(device_model="IP-900") + "\n",
        "loaded",
        0,
        1,
        "device_model: expected a model listed in products.csv, found device_model 'IP-900'",
    ),
    Case(
        "unknown lot",
        "complaints/lot.csv",
        HEADER + "\n" + complaint(lot_number="L404") + "\n",
        "loaded",
        0,
        1,
        "lot_number: expected a lot listed in lots/*.csv",
    ),
    Case(
        "a code that does not exist",
        "complaints/code.csv",
        HEADER + "\n" + complaint(problem_code="A9999") + "\n",
        "loaded",
        0,
        1,
        "problem_code: expected an IMDRF Annex A code, found problem_code 'A9999'",
    ),
    Case(
        "event after awareness",
        "complaints/event.csv",
        HEADER + "\n" + complaint(event_date="2025-03-05") + "\n",
        "loaded",
        0,
        1,
        "event_date: expected on or before received_date",
    ),
    Case(
        "closed investigation without closed date",
        "complaints/closed.csv",
        HEADER + "\n" + complaint(investigation_status="closed") + "\n",
        "loaded",
        0,
        1,
        "investigation_closed_date: required when investigation_status is closed",
    ),
    Case(
        "not_required without a reason",
        "complaints/notreq.csv",
        HEADER + "\n" + complaint(investigation_status="not_required") + "\n",
        "loaded",
        0,
        1,
        "not_investigated_reason: required when investigation_status is not_required",
    ),
    Case(
        "duplicate key inside the file",
        "complaints/dupkey.csv",
        HEADER + "\n" + complaint() + "\n" + complaint() + "\n",
        "loaded",
        1,
        1,
        "duplicate key complaint_id + updated_at inside the file: first at row 2",
    ),
    Case(
        "blank lines between records",
        "complaints/blank.csv",
        HEADER + "\n\n" + complaint() + "\n\n\n" + complaint("C-2") + "\n",
        "loaded",
        2,
        0,
    ),
    Case(
        "a boolean spelled Y",
        "complaints/bool.csv",
        HEADER + "\n" + complaint(malfunction="Y") + "\n",
        "loaded",
        0,
        1,
        "malfunction: expected true or false, found 'Y'",
    ),
]

DISTRIBUTION_HEADER = ",".join(DISTRIBUTION.column_names)
DISTRIBUTION_CASES = [
    Case(
        "thousands separator in units",
        "distribution/thousands.csv",
        DISTRIBUTION_HEADER + '\n2025-01-02,IP-100,L1,DE,"1,200"\n',
        "loaded",
        0,
        1,
        "units: expected a whole number, found '1,200'",
    ),
    Case(
        "fractional units",
        "distribution/fraction.csv",
        DISTRIBUTION_HEADER + "\n2025-01-02,IP-100,L1,DE,2.5\n",
        "loaded",
        0,
        1,
        "units: expected a whole number, found '2.5'",
    ),
    Case(
        "negative units are returns",
        "distribution/returns.csv",
        DISTRIBUTION_HEADER + "\n2025-01-02,IP-100,L1,DE,-3\n",
        "loaded",
        1,
        0,
    ),
    Case(
        "a country that is not ISO 3166-1",
        "distribution/country.csv",
        DISTRIBUTION_HEADER + "\n2025-01-02,IP-100,L1,QQ,10\n",
        "loaded",
        0,
        1,
        "country: expected an ISO 3166-1 alpha-2 country code, found country 'QQ'",
    ),
]


def assert_case(con, outcome, case: Case) -> None:
    result = outcome.result
    assert (result.status, result.rows_loaded, result.rows_quarantined) == (
        case.status,
        case.loaded,
        case.quarantined,
    ), case.kind
    assert result.rows_read == result.rows_loaded + result.rows_quarantined
    reasons = [
        r[0]
        for r in con.execute(
            "SELECT reason FROM quarantine.rejected_rows WHERE file_path = ?", [case.file]
        ).fetchall()
    ]
    assert len(reasons) == case.quarantined, case.kind
    assert all(case.reason in r for r in reasons), (case.kind, reasons)


@pytest.mark.parametrize("case", CSV_CASES, ids=[c.kind for c in CSV_CASES])
def test_bad_complaint_files(warehouse, case: Case) -> None:
    con, landing = warehouse
    put(landing, case.file, case.data)
    put(landing, "complaints/zz_good.csv", HEADER + "\n" + complaint("C-good") + "\n")
    outcomes, _ = night(con, landing)
    assert_case(con, outcomes[case.file], case)
    assert outcomes["complaints/zz_good.csv"].result.rows_loaded == 1  # the night goes on


@pytest.mark.parametrize("case", DISTRIBUTION_CASES, ids=[c.kind for c in DISTRIBUTION_CASES])
def test_bad_distribution_files(warehouse, case: Case) -> None:
    con, landing = warehouse
    put(landing, case.file, case.data)
    outcomes, _ = night(con, landing, DISTRIBUTION)
    assert_case(con, outcomes[case.file], case)


def test_same_file_under_another_name_loads_nothing(warehouse) -> None:
    con, landing = warehouse
    body = HEADER + "\n" + complaint() + "\n"
    put(landing, "complaints/a.csv", body)
    night(con, landing)
    put(landing, "complaints/a_copy.csv", body)
    outcomes, _ = night(con, landing, run_id="night-2")
    assert outcomes["complaints/a_copy.csv"].result.status == "duplicate"
    assert outcomes["complaints/a_copy.csv"].duplicate_of == "complaints/a.csv"


def test_new_file_resending_old_rows(warehouse) -> None:
    con, landing = warehouse
    put(landing, "complaints/a.csv", HEADER + "\n" + complaint() + "\n")
    night(con, landing)
    put(landing, "complaints/b.csv", HEADER + "\n" + complaint() + "\n" + complaint("C-2") + "\n")
    outcomes, _ = night(con, landing, run_id="night-2")
    assert_case(
        con,
        outcomes["complaints/b.csv"],
        Case(
            "re-sent rows",
            "complaints/b.csv",
            "",
            "loaded",
            1,
            1,
            "already loaded from complaints/a.csv row 2",
        ),
    )


def test_quarantined_row_loads_when_its_model_arrives(warehouse) -> None:
    con, landing = warehouse
    put(landing, "complaints/a.csv", HEADER + "\n" + complaint(device_model="IP-900") + "\n")
    _, recovered = night(con, landing)
    assert recovered == 0
    assert con.execute("SELECT count(*) FROM staging.complaints").fetchall() == [(0,)]
    put(
        landing,
        "products.csv",
        PRODUCTS_CSV + "IP-900,InfuMax pumps,FRN,IIb,2,false,2025-01-01,New pump\n",
    )
    ingest_landing_source(con, PRODUCTS, LandingFolder(path=str(landing)), NIGHT, "night-2")
    _, recovered = night(con, landing, run_id="night-2")
    assert recovered == 1
    rows = con.execute(
        "SELECT complaint_id, source_file, source_row, run_id FROM staging.complaints"
    ).fetchall()
    assert rows == [("C-1", "complaints/a.csv", 2, "night-2")]
    [(resolution, run_id)] = con.execute(
        "SELECT resolution, run_id FROM quarantine.resolutions"
    ).fetchall()
    assert run_id == "night-2"
    assert "was: device_model: expected a model listed in products.csv" in resolution
    # the original quarantine record stays: the audit shows what happened and when
    assert con.execute("SELECT count(*) FROM quarantine.rejected_rows").fetchall() == [(1,)]


def test_maude_file_in_an_older_year_layout(warehouse, tmp_path: Path) -> None:
    con, _ = warehouse
    sample = Path(__file__).parent / "fixtures" / "fda" / "maude-bulk-sample" / "foidev.txt"
    con.begin()
    result = load_maude_file(
        con, sample, kind="device", file_path="maude/foidev.txt", sha256="0" * 64, run_id="r"
    )
    con.commit()
    assert (result.rows_read, result.rows_loaded) == (5, 5)  # 4 rows in the 28-field layout


def test_openfda_page_with_missing_nested_fields(warehouse, tmp_path: Path) -> None:
    con, _ = warehouse
    page = tmp_path / "page.json"
    page.write_text(
        '{"meta": {}, "results": [{"mdr_report_key": "77", "date_received": '
        '"20240105", "event_type": "Malfunction"}]}'
    )
    con.begin()
    result = load_openfda_page(
        con, page, file_path="openfda/page.json", sha256="1" * 64, run_id="r"
    )
    con.commit()
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (1, 1, 0)


def test_corpus_covers_at_least_25_kinds() -> None:
    kinds = {c.kind for c in CSV_CASES + DISTRIBUTION_CASES}
    extra = {
        "same file under another name",
        "re-sent rows",
        "recovery",
        "old MAUDE layout",
        "openFDA missing nested fields",
    }
    assert len(kinds | extra) >= 25


def test_a_death_waiting_in_quarantine_keeps_its_regulatory_clock(warehouse) -> None:
    """The quality gate must not stop a reporting clock: a death whose row is quarantined (here
    for a model typo) still gets a vigilance flag, until a staged version supersedes it."""
    import datetime as dt

    import polars as pl

    from assets.vigilance.assets import quarantined_complaints
    from models.vigilance import quarantined_complaint_flags

    con, landing = warehouse
    row = complaint("C-9", device_model="IP 100", patient_outcome="death", country="FR")
    put(landing, "complaints/a.csv", HEADER + "\n" + row + "\n")
    night(con, landing)
    as_of = dt.date(2025, 3, 20)
    waiting = quarantined_complaints(con, as_of)
    assert waiting["complaint_id"].to_list() == ["C-9"]
    no_codes = pl.DataFrame(schema={"device_family": pl.String, "problem_code": pl.String})
    no_markets = pl.DataFrame(schema={"device_model": pl.String, "country": pl.String})
    flags = quarantined_complaint_flags(waiting, no_codes, no_markets, as_of)
    eu = flags.filter(pl.col("regime") == "EU_MDR").to_dicts()[0]
    assert (eu["rule"], eu["due_date"], eu["status"]) == (
        "EU_87_5_10D",
        dt.date(2025, 3, 11),
        "overdue",
    )
    # the corrected row arrives as a later version: the staged version now carries the clock
    fixed = complaint(
        "C-9", patient_outcome="death", country="FR", updated_at="2025-03-05T10:00:00"
    )
    put(landing, "complaints/b.csv", HEADER + "\n" + fixed + "\n")
    night(con, landing, run_id="night-2")
    assert quarantined_complaints(con, as_of).is_empty()
