"""Landing CSV ingestion: typing, quarantine with reasons, incremental loading, nothing lost."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assets.ingestion.driver import ingest_files, landing_files
from assets.ingestion.landing_csv import load_landing_csv
from assets.ingestion.sources import COMPLAINTS, DISTRIBUTION, PRODUCTS, SourceSpec
from assets.warehouse import ensure_warehouse

HEADER = ",".join(COMPLAINTS.column_names)
CAFE = "Caf\u00e9 pt"


def complaint_row(
    complaint_id: str = "C-1",
    updated_at: str = "2025-03-02T09:00:00",
    outcome: str = "none",
    description: str = "Pump alarmed during infusion",
    **overrides: str,
) -> str:
    values = {
        "complaint_id": complaint_id,
        "received_date": "2025-03-01",
        "updated_at": updated_at,
        "event_date": "2025-02-28",
        "device_model": "IP-100",
        "lot_number": "L1",
        "serial_number": "SN1",
        "udi_di": "",
        "country": "DE",
        "source": "customer",
        "problem_code": "A0101",
        "health_effect_code": "",
        "component_code": "",
        "patient_outcome": outcome,
        "malfunction": "true",
        "description": description,
        "investigation_status": "open",
        "investigation_closed_date": "",
        "investigation_conclusion_code": "",
        "not_investigated_reason": "",
        "reportability_decision": "",
        "reported_date": "",
        "regulatory_report_id": "",
    }
    values.update(overrides)
    return ",".join(values[c] for c in COMPLAINTS.column_names)


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    ensure_warehouse(connection)
    return connection


def ingest(con: duckdb.DuckDBPyConnection, landing: Path, spec: SourceSpec = COMPLAINTS, run="r1"):
    def loader(con, path, file_path, sha256, run_id):
        return load_landing_csv(
            con, path.read_bytes(), spec, file_path=file_path, sha256=sha256, run_id=run_id
        )

    return ingest_files(
        con, landing, landing_files(landing, spec.glob), source=spec.name, loader=loader, run_id=run
    )


def write(landing: Path, name: str, data: bytes | str) -> Path:
    path = landing / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def quarantine(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute(
        "SELECT file_path, row_number, column_name, reason, raw_record "
        "FROM quarantine.rejected_rows ORDER BY file_path, row_number"
    ).fetchall()


def assert_accounting(con: duckdb.DuckDBPyConnection) -> None:
    bad = con.execute(
        "SELECT file_path FROM audit.ingested_files "
        "WHERE rows_read <> rows_loaded + rows_quarantined"
    ).fetchall()
    assert bad == []
    per_file = con.execute(
        "SELECT a.file_path, a.rows_quarantined, count(q.file_path) FROM audit.ingested_files a "
        "LEFT JOIN quarantine.rejected_rows q USING (file_path, sha256) GROUP BY ALL"
    ).fetchall()
    for file_path, audited, stored in per_file:
        assert audited == stored, file_path


def test_good_file_loads_every_row_with_lineage(con, tmp_path) -> None:
    write(tmp_path, "complaints/a.csv", f"{HEADER}\n{complaint_row()}\n{complaint_row('C-2')}\n")
    [outcome] = ingest(con, tmp_path)
    assert (outcome.result.rows_read, outcome.result.rows_loaded) == (2, 2)
    rows = con.execute(
        "SELECT complaint_id, source_file, source_row FROM staging.complaints ORDER BY 1"
    ).fetchall()
    assert rows == [("C-1", "complaints/a.csv", 2), ("C-2", "complaints/a.csv", 3)]
    assert_accounting(con)


def test_second_run_over_same_folder_loads_nothing(con, tmp_path) -> None:
    write(tmp_path, "complaints/a.csv", f"{HEADER}\n{complaint_row()}\n")
    assert len(ingest(con, tmp_path)) == 1
    assert ingest(con, tmp_path, run="r2") == []
    assert con.execute("SELECT count(*) FROM staging.complaint_versions").fetchall() == [(1,)]
    assert con.execute("SELECT count(*) FROM audit.ingested_files").fetchall() == [(1,)]


def test_same_content_under_another_name_is_a_duplicate(con, tmp_path) -> None:
    body = f"{HEADER}\n{complaint_row()}\n"
    write(tmp_path, "complaints/a.csv", body)
    ingest(con, tmp_path)
    write(tmp_path, "complaints/b_copy.csv", body)
    [outcome] = ingest(con, tmp_path, run="r2")
    assert outcome.result.status == "duplicate"
    assert outcome.duplicate_of == "complaints/a.csv"
    assert con.execute("SELECT count(*) FROM staging.complaint_versions").fetchall() == [(1,)]


def test_new_version_replaces_current_and_keeps_history(con, tmp_path) -> None:
    write(tmp_path, "complaints/a.csv", f"{HEADER}\n{complaint_row(outcome='injury')}\n")
    ingest(con, tmp_path)
    later = complaint_row(outcome="death", updated_at="2025-03-09T10:00:00")
    write(tmp_path, "complaints/b.csv", f"{HEADER}\n{later}\n")
    ingest(con, tmp_path, run="r2")
    assert con.execute("SELECT patient_outcome FROM staging.complaints").fetchall() == [("death",)]
    history = con.execute(
        "SELECT patient_outcome FROM staging.complaint_versions ORDER BY updated_at"
    ).fetchall()
    assert history == [("injury",), ("death",)]


def test_older_version_arriving_late_does_not_replace_current(con, tmp_path) -> None:
    write(
        tmp_path,
        "complaints/b.csv",
        f"{HEADER}\n{complaint_row(updated_at='2025-03-09T10:00:00', outcome='death')}\n",
    )
    ingest(con, tmp_path)
    write(tmp_path, "complaints/c.csv", f"{HEADER}\n{complaint_row(outcome='injury')}\n")
    ingest(con, tmp_path, run="r2")
    assert con.execute("SELECT patient_outcome FROM staging.complaints").fetchall() == [("death",)]


def test_resent_version_is_quarantined_with_where_it_came_from(con, tmp_path) -> None:
    write(tmp_path, "complaints/a.csv", f"{HEADER}\n{complaint_row()}\n")
    ingest(con, tmp_path)
    write(tmp_path, "complaints/b.csv", f"{HEADER}\n{complaint_row()}\n{complaint_row('C-9')}\n")
    [outcome] = ingest(con, tmp_path, run="r2")
    assert (outcome.result.rows_loaded, outcome.result.rows_quarantined) == (1, 1)
    [(_, row, column, reason, _)] = quarantine(con)
    assert row == 2 and column == "complaint_id"
    assert "already loaded from complaints/a.csv row 2" in reason
    assert_accounting(con)


@pytest.mark.parametrize(
    ("override", "column", "expected_text"),
    [
        (
            {"received_date": "03/01/2025"},
            "received_date",
            "expected an ISO date YYYY-MM-DD, found '03/01/2025'",
        ),
        ({"updated_at": "yesterday"}, "updated_at", "expected an ISO 8601 timestamp"),
        ({"country": "Germany"}, "country", "ISO 3166-1 alpha-2"),
        ({"patient_outcome": "dead"}, "patient_outcome", "expected one of none, injury"),
        ({"malfunction": "Y"}, "malfunction", "expected true or false, found 'Y'"),
        ({"device_model": ""}, "device_model", "device_model: required value missing"),
    ],
)
def test_bad_values_are_quarantined_with_column_expected_and_found(
    con, tmp_path, override, column, expected_text
) -> None:
    bad = complaint_row("C-2", **override)
    write(tmp_path, "complaints/a.csv", f"{HEADER}\n{complaint_row()}\n{bad}\n")
    [outcome] = ingest(con, tmp_path)
    assert (outcome.result.rows_loaded, outcome.result.rows_quarantined) == (1, 1)
    [(file_path, row, col, reason, raw)] = quarantine(con)
    assert (file_path, row, col) == ("complaints/a.csv", 3, column)
    assert expected_text in reason
    assert raw == bad
    assert_accounting(con)


def test_units_with_thousands_separator_or_fraction_are_quarantined(con, tmp_path) -> None:
    header = ",".join(DISTRIBUTION.column_names)
    body = (
        f'{header}\n2025-01-02,IP-100,L1,DE,10\n2025-01-02,IP-100,L1,DE,"1,200"\n'
        "2025-01-03,IP-100,L1,FR,2.5\n2025-01-04,IP-100,L1,FR,-3\n"
    )
    write(tmp_path, "distribution/d.csv", body)
    [outcome] = ingest(con, tmp_path, DISTRIBUTION)
    assert (outcome.result.rows_loaded, outcome.result.rows_quarantined) == (2, 2)
    reasons = [r[3] for r in quarantine(con)]
    assert "units: expected a whole number, found '1,200'" in reasons[0]
    assert "found '2.5'" in reasons[1]


@pytest.mark.parametrize(
    ("name", "data", "reason_part"),
    [
        (
            "cp1252.csv",
            f"{HEADER}\n{complaint_row(description=CAFE)}\n".encode("cp1252"),
            "not UTF-8: byte 0xE9 at line 2",
        ),
        ("utf16.csv", f"{HEADER}\n{complaint_row()}\n".encode("utf-16"), "UTF-16"),
        (
            "semicolon.csv",
            f"{HEADER.replace(',', ';')}\n{complaint_row().replace(',', ';')}\n",
            "semicolon-delimited",
        ),
        (
            "missing_col.csv",
            f"{HEADER.replace('complaint_id,', '')}\n{complaint_row()}\n",
            "missing required column(s) complaint_id",
        ),
    ],
)
def test_unreadable_files_are_quarantined_whole_and_the_rest_loads(
    con, tmp_path, name, data, reason_part
) -> None:
    write(tmp_path, f"complaints/{name}", data)
    write(tmp_path, "complaints/zz_good.csv", f"{HEADER}\n{complaint_row('C-ok')}\n")
    outcomes = {o.file_path: o for o in ingest(con, tmp_path)}
    bad = outcomes[f"complaints/{name}"]
    assert bad.result.status == "rejected_file"
    assert bad.result.rows_loaded == 0 and bad.result.rows_quarantined >= 1
    assert all(reason_part in r[3] for r in quarantine(con))
    assert outcomes["complaints/zz_good.csv"].result.rows_loaded == 1
    assert_accounting(con)


def test_bom_crlf_quotes_and_newlines_in_narratives_load(con, tmp_path) -> None:
    narrative = '"Pt said ""it beeped"", then\nstopped; HCP called"'
    body = f"{HEADER}\r\n{complaint_row(description=narrative)}\r\n"
    write(tmp_path, "complaints/a.csv", b"\xef\xbb\xbf" + body.encode())
    [outcome] = ingest(con, tmp_path)
    assert outcome.result.rows_loaded == 1
    [(text,)] = con.execute("SELECT description FROM staging.complaints").fetchall()
    assert text == 'Pt said "it beeped", then\nstopped; HCP called'


def test_truncated_last_line_and_extra_columns(con, tmp_path) -> None:
    body = f"{HEADER},site_note\n{complaint_row()},kept\n{complaint_row('C-2')[:40]}"
    write(tmp_path, "complaints/a.csv", body)
    [outcome] = ingest(con, tmp_path)
    assert (outcome.result.rows_loaded, outcome.result.rows_quarantined) == (1, 1)
    [(extra,)] = con.execute("SELECT extra_fields FROM staging.complaints").fetchall()
    assert extra == '{"site_note": "kept"}'
    [(_, row, _, reason, raw)] = quarantine(con)
    assert (
        row == 3
        and "expected 24 fields (as in the header), found 4: the line looks truncated" in reason
    )
    assert raw == complaint_row("C-2")[:40]


def test_empty_and_header_only_files(con, tmp_path) -> None:
    write(tmp_path, "complaints/empty.csv", b"")
    write(tmp_path, "complaints/header_only.csv", f"{HEADER}\n")
    outcomes = {o.file_path: o.result for o in ingest(con, tmp_path)}
    assert outcomes["complaints/empty.csv"].status == "empty"
    assert outcomes["complaints/header_only.csv"].rows_read == 0
    assert_accounting(con)


def test_products_snapshot_newest_file_wins(con, tmp_path) -> None:
    header = ",".join(PRODUCTS.column_names)
    write(tmp_path, "products.csv", f"{header}\nIP-100,Pumps,FRN,IIb,2,false,2020-01-01,\n")
    ingest(con, tmp_path, PRODUCTS)
    write(
        tmp_path,
        "products.csv",
        f"{header}\nIP-100,Pumps,FRN,IIb,2,false,2020-01-01,\nIP-200,Pumps,FRN,IIb,2,false,2024-01-01,x\n",
    )
    ingest(con, tmp_path, PRODUCTS, run="r2")
    assert con.execute("SELECT device_model FROM staging.products ORDER BY 1").fetchall() == [
        ("IP-100",),
        ("IP-200",),
    ]
    assert con.execute("SELECT count(*) FROM raw.products").fetchall() == [(3,)]


LINE = st.lists(
    st.one_of(
        st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12),
        st.sampled_from(["C-1", "2025-03-01", "DE", "none", "true", '"', ",", "\n", "\r\n"]),
    ),
    max_size=30,
).map(",".join)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(lines=st.lists(LINE, max_size=8), with_header=st.booleans())
def test_random_malformed_csv_keeps_the_accounting_invariant(tmp_path_factory, lines, with_header):
    con = duckdb.connect()
    ensure_warehouse(con)
    landing = tmp_path_factory.mktemp("landing")
    body = "\n".join(([HEADER] if with_header else []) + lines)
    write(landing, "complaints/random.csv", body)
    for outcome in ingest(con, landing):
        r = outcome.result
        assert r.rows_read == r.rows_loaded + r.rows_quarantined
    assert_accounting(con)
