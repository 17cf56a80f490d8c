"""FDA adverse-event readers: MAUDE bulk files and openFDA pages (assets/ingestion/fda.py)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assets.ingestion import fda
from assets.ingestion.fda import (
    ensure_fda_tables,
    load_maude_file,
    load_openfda_page,
    maude_kind,
)
from assets.ingestion.maude_layout import (
    DEVICE_COLUMNS_34,
    MDRFOI_COLUMNS_81,
    MDRFOI_COLUMNS_84,
    MDRFOI_COLUMNS_86,
    canonical_field_name,
)
from assets.warehouse import FileLoadResult, ensure_warehouse

FIXTURES = Path(__file__).parent / "fixtures" / "fda"
SAMPLE = FIXTURES / "maude-bulk-sample"
WIDE = FIXTURES / "openfda" / "wide_sample.json"


@pytest.fixture
def con(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    c = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    ensure_warehouse(c)
    ensure_fda_tables(c)
    yield c
    c.close()


def _load(con, path: Path, kind: str | None = None, name: str | None = None) -> FileLoadResult:
    """Load like the ingestion driver: one transaction per file, committed by the caller."""
    name = name or path.name
    kind = kind or maude_kind(name)
    assert kind is not None
    con.begin()
    result = load_maude_file(
        con, path, kind=kind, file_path=f"maude/{name}", sha256="0" * 64, run_id="run-1"
    )
    con.commit()
    result.check_accounting(name)
    return result


def _load_page(con, path: Path) -> FileLoadResult:
    con.begin()
    result = load_openfda_page(
        con, path, file_path=f"openfda/{path.name}", sha256="1" * 64, run_id="run-1"
    )
    con.commit()
    result.check_accounting(path.name)
    return result


def _quarantine(con, file_name: str) -> list[tuple]:
    return con.execute(
        "SELECT row_number, column_name, reason, raw_record FROM quarantine.rejected_rows "
        "WHERE file_path LIKE '%' || ? ORDER BY row_number NULLS FIRST",
        [file_name],
    ).fetchall()


def _write(path: Path, text: str | bytes, encoding: str = "latin-1") -> Path:
    path.write_bytes(text if isinstance(text, bytes) else text.encode(encoding))
    return path


def _master_line(values: dict[str, str], layout: tuple[str, ...]) -> str:
    canon = [canonical_field_name(c) for c in layout]
    return "|".join(values.get(c, "") for c in canon)


GOOD = {
    "mdr_report_key": "1001",
    "report_number": "1234567-2024-00001",
    "report_source_code": "M",
    "date_received": "01/15/2024",
    "date_of_event": "20231230",
    "date_report": "2024/01/10",
    "event_type": "IN",
    "adverse_event_flag": "Y",
    "product_problem_flag": "N",
    "manufacturer_name": "ACME MEDICAL",
    "type_of_report": "I,F",
    "source_type": "05, 06",
    "summary_report_flag": "N",
    "mfr_report_type": "30-DAY",
    "reporter_state_code": "MN",
    "manufacturer_g1_address_1": "1 MAIN ST",
    "pma_pmn_number": "K123456",
    "noe_summarized": "1",
}


# ----------------------------------------------------------------------------------------------
# names and layouts
# ----------------------------------------------------------------------------------------------


def test_maude_kind() -> None:
    assert maude_kind("mdrfoithru2023.txt") == "master"
    assert maude_kind("MDRFOIAdd.TXT") == "master"
    assert maude_kind("maude/foidev2019.txt") == "device"
    assert maude_kind("DEVICE2024.txt") == "device"
    assert maude_kind("deviceChange.txt") == "device"
    assert maude_kind("foitext.txt") == "text"
    assert maude_kind("patientThru2023.txt") == "patient"
    assert maude_kind("foidevproblem.txt") == "problem"
    assert maude_kind("deviceproblemcodes.txt") is None
    assert maude_kind("patientproblemcode.txt") is None
    assert maude_kind("products.csv") is None


def test_layouts_and_header_names() -> None:
    assert len(MDRFOI_COLUMNS_84) == 84 and len(MDRFOI_COLUMNS_86) == 86
    assert len(DEVICE_COLUMNS_34) == 34
    assert canonical_field_name("MANUFACTURER_LINK_FLAG_") == "manufacturer_link_flag"
    assert canonical_field_name("MANUFACTURER_G1_STREET_1") == "manufacturer_g1_address_1"
    assert canonical_field_name("MANUFACTURER_CONTACT_STREET_2") == (
        "manufacturer_contact_address_2"
    )
    assert canonical_field_name("PMA_PMN_NUM") == "pma_pmn_number"
    assert canonical_field_name("DEVICE_SEQUENCE_NO") == "device_sequence_number"
    assert canonical_field_name("MANUFACTURER_G1_STATE_CODE") == "manufacturer_g1_state"
    assert canonical_field_name("REPORTER_STATE_CODE") == "reporter_state_code"
    assert canonical_field_name("UDI-DI") == "udi_di"
    assert canonical_field_name("mdr_report_key") == "mdr_report_key"
    # every 84-column name except the three new ones is one of FDA's loader's 81 names
    new = {"noe_summarized", "suppl_dates_fda_received", "suppl_dates_mfr_received"}
    canon84 = [canonical_field_name(c) for c in MDRFOI_COLUMNS_84]
    assert set(canon84) - new == set(MDRFOI_COLUMNS_81)


# ----------------------------------------------------------------------------------------------
# FDA's own samples
# ----------------------------------------------------------------------------------------------


def test_fda_sample_foidev_mixed_28_and_45_fields(con) -> None:
    r = _load(con, SAMPLE / "foidev.txt")
    assert (r.rows_read, r.rows_loaded, r.rows_quarantined, r.status) == (5, 5, 0, "loaded")
    rows = con.execute(
        "SELECT mdr_report_key, device_sequence_number, brand_name, date_received, "
        "device_report_product_code, source_row FROM staging.maude_devices ORDER BY source_row"
    ).fetchall()
    assert rows[0][0] == 1511544 and rows[0][4] == "GXI" and rows[0][5] == 2
    assert str(rows[0][3]) == "2009-10-08"
    assert rows[-1][0] == 538836 and rows[-1][2] == "HEMOCHRON COAGULATION SYSTEM"
    # the raw view keeps every field: the 45-field row has its baseline fields, 28-field rows not
    raw = dict(
        con.execute("SELECT mdr_report_key, baseline_brand_name FROM raw.maude_devices").fetchall()
    )
    assert raw["538836"] == "HEMOCHRON COAGULATION SYSTEM"
    assert raw["1511541"] is None


def test_fda_sample_foitext(con) -> None:
    r = _load(con, SAMPLE / "foitext.txt")
    # 10 narratives; the file's trailing blank line is not a record
    assert (r.rows_read, r.rows_loaded, r.rows_quarantined) == (10, 10, 0)
    texts = con.execute(
        "SELECT mdr_text_key, text_type_code, date_report, text, source_row "
        "FROM staging.maude_texts ORDER BY source_row"
    ).fetchall()
    assert texts[0][0] == "18359358" and texts[0][4] == 2
    assert texts[0][3].startswith("DISCREPANT RESULTS (ACCURACY)")
    assert not texts[-1][3].endswith(("\r", "\n"))
    assert str(texts[-1][2]) == "2004-06-18"


def test_fda_sample_patient(con) -> None:
    r = _load(con, SAMPLE / "patient.txt")
    assert (r.rows_read, r.rows_loaded, r.rows_quarantined) == (5, 5, 0)
    row = con.execute(
        "SELECT patient_sequence_number, date_received, sequence_number_outcome "
        "FROM staging.maude_patients WHERE mdr_report_key = 538836"
    ).fetchone()
    assert row[0] == "1" and str(row[1]) == "2004-08-01" and row[2] == "1. L; 2. R"


def test_openfda_wide_sample(con, tmp_path: Path) -> None:
    record = json.loads(WIDE.read_text())
    page = _write(tmp_path / "page.json", json.dumps({"meta": {}, "results": [record]}), "utf-8")
    r = _load_page(con, page)
    assert (r.rows_read, r.rows_loaded, r.rows_quarantined) == (1, 1, 0)
    m = con.execute(
        "SELECT mdr_report_key, event_type, report_source_code, type_of_report, source_type, "
        "date_received, record_source, source_row FROM staging.maude_master"
    ).fetchone()
    assert m == (538836, "IN", "M", ["I"], ["05"], m[5], "openfda", 1)
    assert str(m[5]) == "2004-08-01"
    counts = [
        con.execute(f"SELECT count(*) FROM staging.{t}").fetchone()[0]
        for t in ("maude_devices", "maude_patients", "maude_texts")
    ]
    assert counts == [len(record["device"]), len(record["patient"]), len(record["mdr_text"])]
    dev = con.execute(
        "SELECT mdr_report_key, brand_name, device_report_product_code FROM staging.maude_devices"
    ).fetchone()
    assert dev == (538836, "HEMOCHRON COAGULATION SYSTEM", "JPA")
    text_types = {
        r[0] for r in con.execute("SELECT text_type_code FROM staging.maude_texts").fetchall()
    }
    assert text_types <= {"D", "N", "E"}
    raw = con.execute(
        "SELECT manufacturer_g1_address_1, manufacturer_contact_phone_number, extra_fields "
        "FROM raw.maude_master"
    ).fetchone()
    assert raw[0] == "*" and raw[1] == "5700" and "source_type_exact" in raw[2]


# ----------------------------------------------------------------------------------------------
# handcrafted quirks
# ----------------------------------------------------------------------------------------------


def test_narrative_with_pipes_and_line_breaks(con, tmp_path: Path) -> None:
    text = (
        "MDR_REPORT_KEY|MDR_TEXT_KEY|TEXT_TYPE_CODE|PATIENT_SEQUENCE_NUMBER|DATE_REPORT|FOI_TEXT\r\n"
        "100|1|D|1|01/02/2020|PUMP ALARM | PRESSURE HIGH | OPERATOR RESTARTED\r\n"
        "101|2|D|1|01/02/2020|FIRST LINE\r\n"
        "SECOND LINE, WITH | A PIPE\r\n"
        "\r\n"
        "AFTER A BLANK LINE\r\n"
        "102|3|N||01/03/2020|SHORT\r\n"
        f"103|{'7' * 600}|N||01/03/2020|AFTER A LONG KEY | AND A PIPE\r\n"
    )
    r = _load(con, _write(tmp_path / "foitext2020.txt", text))
    assert (r.rows_read, r.rows_loaded, r.rows_quarantined) == (4, 4, 0)
    assert con.execute(
        "SELECT length(mdr_text_key), text FROM staging.maude_texts WHERE mdr_report_key = 103"
    ).fetchone() == (600, "AFTER A LONG KEY | AND A PIPE")
    rows = dict(
        con.execute("SELECT mdr_report_key, (text, source_row) FROM staging.maude_texts").fetchall()
    )
    assert rows[100] == ("PUMP ALARM | PRESSURE HIGH | OPERATOR RESTARTED", 2)
    assert rows[101] == ("FIRST LINE\nSECOND LINE, WITH | A PIPE\n\nAFTER A BLANK LINE", 3)
    assert rows[102] == ("SHORT", 7)


def test_lone_carriage_return_is_a_line_break(con, tmp_path: Path) -> None:
    data = b"200|1|D|1|01/02/2020|ONE\rTWO\n201|2|D|1|01/02/2020|THREE\n"
    r = _load(con, _write(tmp_path / "foitext.txt", data))
    assert (r.rows_read, r.rows_loaded) == (2, 2)
    texts = dict(con.execute("SELECT mdr_report_key, text FROM staging.maude_texts").fetchall())
    assert texts == {200: "ONE\nTWO", 201: "THREE"}


def test_padded_device_keys(con, tmp_path: Path) -> None:
    fields = ["" for _ in range(28)]
    lines = []
    for key, seq in ((" 123.0", " 1.0"), (" 124.0", "2"), ("125", " 3.0")):
        f = list(fields)
        f[0], f[4], f[5], f[6], f[25] = key, seq, "03/04/2021", "BRAND", "DQY"
        lines.append("|".join(f))
    r = _load(con, _write(tmp_path / "foidev2021.txt", "\n".join(lines) + "\n"))
    assert (r.rows_read, r.rows_loaded, r.rows_quarantined) == (3, 3, 0)
    rows = con.execute(
        "SELECT mdr_report_key, device_sequence_number, device_report_product_code, source_row "
        "FROM staging.maude_devices ORDER BY source_row"
    ).fetchall()
    assert rows == [(123, "1", "DQY", 1), (124, "2", "DQY", 2), (125, "3", "DQY", 3)]


def test_current_device_header_34_columns(con, tmp_path: Path) -> None:
    values = {
        "MDR_REPORT_KEY": "555",
        "DEVICE_SEQUENCE_NO": "1",
        "DATE_RECEIVED": "2024/02/03",
        "BRAND_NAME": "B",
        "DEVICE_REPORT_PRODUCT_CODE": "FRN",
        "UDI-DI": "00812345678901",
    }
    text = "|".join(DEVICE_COLUMNS_34) + "\n"
    text += "|".join(values.get(c, "") for c in DEVICE_COLUMNS_34) + "\n"
    r = _load(con, _write(tmp_path / "DEVICE2024.txt", text))
    assert (r.rows_loaded, r.rows_quarantined) == (1, 0)
    row = con.execute(
        "SELECT date_received, device_report_product_code, udi_di FROM staging.maude_devices"
    ).fetchone()
    assert (str(row[0]), row[1], row[2]) == ("2024-02-03", "FRN", "00812345678901")
    assert con.execute(
        "SELECT implant_date_year, udi_public FROM raw.maude_devices"
    ).fetchone() == (
        None,
        None,
    )


def test_headerless_patient_file(con, tmp_path: Path) -> None:
    text = "900|1|05/06/2007||1. H\n901|1|05/07/2007|1. O|\n"
    r = _load(con, _write(tmp_path / "patient2007.txt", text))
    assert (r.rows_read, r.rows_loaded) == (2, 2)
    rows = con.execute(
        "SELECT mdr_report_key, date_received, sequence_number_treatment, source_row "
        "FROM staging.maude_patients ORDER BY source_row"
    ).fetchall()
    assert [(k, str(d), t, n) for k, d, t, n in rows] == [
        (900, "2007-05-06", None, 1),
        (901, "2007-05-07", "1. O", 2),
    ]


@pytest.mark.parametrize("layout", [MDRFOI_COLUMNS_84, MDRFOI_COLUMNS_86], ids=["84", "86"])
def test_master_upper_case_headers(con, tmp_path: Path, layout: tuple[str, ...]) -> None:
    older = dict(GOOD, mdr_report_key="1002")
    lines = [
        "|".join(layout),
        _master_line(GOOD, layout),
        _master_line(older, MDRFOI_COLUMNS_81),  # an older row with FDA's 81 fields
        _master_line(dict(GOOD, mdr_report_key="1003"), MDRFOI_COLUMNS_81[:77]),
        "1004|x|y|z|a|b|c|d|e|f|g|h",  # 12 fields
    ]
    name = "mdrfoithru2023.txt" if len(layout) == 84 else "mdrfoi.txt"
    r = _load(con, _write(tmp_path / name, "\r\n".join(lines) + "\r\n"))
    assert (r.rows_read, r.rows_loaded, r.rows_quarantined) == (4, 3, 1)
    row = con.execute(
        "SELECT report_number, date_received, date_of_event, date_report, event_type, "
        "type_of_report, source_type, manufacturer_name, source_row "
        "FROM staging.maude_master WHERE mdr_report_key = 1001"
    ).fetchone()
    assert row[0] == "1234567-2024-00001"
    assert [str(d) for d in row[1:4]] == ["2024-01-15", "2023-12-30", "2024-01-10"]
    assert row[4:] == ("IN", ["I", "F"], ["05", "06"], "ACME MEDICAL", 2)
    raw = con.execute(
        "SELECT mfr_report_type, reporter_state_code, manufacturer_g1_address_1, "
        "pma_pmn_number, noe_summarized FROM raw.maude_master WHERE mdr_report_key = '1001'"
    ).fetchone()
    if len(layout) == 86:
        assert raw == ("30-DAY", "MN", "1 MAIN ST", "K123456", "1")
    else:
        assert raw == (None, None, "1 MAIN ST", "K123456", "1")
    # the 81-field row is mapped by FDA's positions, not by the header
    assert con.execute(
        "SELECT manufacturer_name, pma_pmn_number FROM raw.maude_master "
        "WHERE mdr_report_key = '1002'"
    ).fetchone() == ("ACME MEDICAL", "K123456")
    (q,) = _quarantine(con, name)
    older_counts = "77, 81 or 84" if len(layout) == 86 else "77, 81 or 86"
    assert q[0] == 5 and q[1] is None
    assert (
        q[2] == f"expected {older_counts} fields (or the header's {len(layout)}), found 12 fields"
    )
    assert q[3] == "1004|x|y|z|a|b|c|d|e|f|g|h"


def test_bad_dates_are_quarantined_with_the_column(con, tmp_path: Path) -> None:
    lines = [
        _master_line(GOOD, MDRFOI_COLUMNS_81),
        _master_line(dict(GOOD, mdr_report_key="2", date_received="13/45/2020"), MDRFOI_COLUMNS_81),
        _master_line(dict(GOOD, mdr_report_key="3", date_of_event="1/2/04"), MDRFOI_COLUMNS_81),
        _master_line(dict(GOOD, mdr_report_key="4", date_report="05-MAR-98"), MDRFOI_COLUMNS_81),
        _master_line(
            dict(GOOD, mdr_report_key="5", date_report="2020/01/02 10:11:12.123"),
            MDRFOI_COLUMNS_81,
        ),
        _master_line(dict(GOOD, mdr_report_key="6", event_type="X"), MDRFOI_COLUMNS_81),
    ]
    r = _load(con, _write(tmp_path / "mdrfoi2020.txt", "\n".join(lines) + "\n"))
    assert (r.rows_read, r.rows_loaded, r.rows_quarantined) == (6, 3, 3)
    dates = dict(
        con.execute("SELECT mdr_report_key, date_report FROM staging.maude_master").fetchall()
    )
    assert str(dates[4]) == "1998-03-05" and str(dates[5]) == "2020-01-02"
    q = _quarantine(con, "mdrfoi2020.txt")
    assert [(row, col) for row, col, _, _ in q] == [
        (2, "date_received"),
        (3, "date_of_event"),
        (6, "event_type"),
    ]
    assert q[0][2].startswith("date_received: expected a date (MM/DD/YYYY")
    assert q[0][2].endswith("found '13/45/2020'")
    assert q[2][2] == "event_type: expected one of D, IN, IL, IJ, M, O, *, found 'X'"
    assert q[0][3] == lines[1]


def test_garbage_rows(con, tmp_path: Path) -> None:
    good = _master_line(GOOD, MDRFOI_COLUMNS_81)
    lines = [
        "this is not a record",  # before any record
        good,
        "GARBAGE|LINE",  # would break the record above: quarantined alone
        _master_line(dict(GOOD, mdr_report_key="12.5"), MDRFOI_COLUMNS_81),
        "77|too|few",
    ]
    r = _load(con, _write(tmp_path / "mdrfoi.txt", "\n".join(lines) + "\n"))
    assert (r.rows_read, r.rows_loaded, r.rows_quarantined) == (5, 1, 4)
    assert con.execute("SELECT source_row FROM staging.maude_master").fetchall() == [(2,)]
    q = _quarantine(con, "mdrfoi.txt")
    assert [(row, col) for row, col, _, _ in q] == [
        (1, "mdr_report_key"),
        (3, "mdr_report_key"),
        (4, "mdr_report_key"),
        (5, None),
    ]
    assert "found 'GARBAGE|LINE'" in q[1][2]
    assert q[2][2] == "mdr_report_key: expected a whole number, found '12.5'"
    assert q[3][2] == "expected 77, 81, 84 or 86 fields, found 3 fields"
    assert [x[3] for x in q] == [lines[0], lines[2], lines[3], lines[4]]


def test_unreadable_file_is_rejected_whole(con, tmp_path: Path) -> None:
    data = b"PK\x03\x04\x14\x00binary\xff\xfe\n\x00\x01garbage|more\nlast line"
    r = _load(con, _write(tmp_path / "mdrfoi.zip.txt", data), kind="master")
    assert r.status == "rejected_file"
    assert r.rows_loaded == 0 and r.rows_quarantined == r.rows_read == 3
    q = _quarantine(con, "mdrfoi.zip.txt")
    assert len(q) == 3 and all(x[2].startswith("file rejected: no header row") for x in q)
    empty = _load(con, _write(tmp_path / "patient_empty.txt", b""), kind="patient")
    assert (empty.status, empty.rows_read, empty.rows_quarantined) == ("rejected_file", 1, 1)


def test_header_only_file_loads_nothing(con, tmp_path: Path) -> None:
    r = _load(con, _write(tmp_path / "mdrfoiAdd.txt", "|".join(MDRFOI_COLUMNS_86) + "\n"))
    assert (r.rows_read, r.rows_loaded, r.rows_quarantined, r.status) == (0, 0, 0, "loaded")


def test_latin1_and_utf8_bytes(con, tmp_path: Path) -> None:
    latin = b"300|1|D|1|01/02/2020|CAF\xc9 PATIENT \xb0C\n"
    utf8 = "301|1|D|1|01/02/2020|CAFÉ PATIENT °C\n".encode()
    _load(con, _write(tmp_path / "foitext_latin.txt", latin))
    _load(con, _write(tmp_path / "foitext_utf8.txt", utf8))
    texts = dict(con.execute("SELECT mdr_report_key, text FROM staging.maude_texts").fetchall())
    assert texts == {300: "CAFÉ PATIENT °C", 301: "CAFÉ PATIENT °C"}


def test_windows_1252_bytes_and_long_lines(con, tmp_path: Path) -> None:
    # DuckDB's latin-1 reader refuses 0x80-0x9F; real files carry cp1252 quotes there
    long_text = b"A" * (9 * 1024 * 1024)  # longer than the first read's line limit
    data = b"310|1|D|1|01/02/2020|\x92QUOTED\x93 \x81X\n311|2|D|1|01/02/2020|" + long_text + b"\n"
    r = _load(con, _write(tmp_path / "foitext_cp1252.txt", data))
    assert (r.rows_read, r.rows_loaded) == (2, 2)
    texts = dict(con.execute("SELECT mdr_report_key, text FROM staging.maude_texts").fetchall())
    assert texts[310] == "\u2019QUOTED\u201c \x81X"
    assert len(texts[311]) == len(long_text)


def test_device_problems_resolve_terms(con, tmp_path: Path) -> None:
    r = _load(con, _write(tmp_path / "foidevproblem.txt", "400|1069\n400|9999\n401|ABC\n"))
    assert (r.rows_read, r.rows_loaded) == (3, 3)
    rows = con.execute(
        "SELECT mdr_report_key, device_problem_code, device_problem_term "
        "FROM staging.maude_device_problems ORDER BY source_row"
    ).fetchall()
    assert rows[0] == (400, "1069", "Break")
    assert rows[1] == (400, "9999", None)


@pytest.mark.parametrize("ordered", [True, False], ids=["default", "caller-unordered"])
def test_line_numbers_follow_file_order_across_many_buffers(
    con, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ordered: bool
) -> None:
    monkeypatch.setattr(fda, "_BUFFER_SIZE", 64 * 1024)
    con.execute(f"SET preserve_insertion_order = {str(ordered).lower()}")
    n = 40_000
    lines = [
        "MDR_REPORT_KEY|PATIENT_SEQUENCE_NUMBER|DATE_RECEIVED|SEQUENCE_NUMBER_TREATMENT|"
        "SEQUENCE_NUMBER_OUTCOME"
    ]
    lines += [f"{i}|1|01/01/2020|{'T' * (i % 37)}|" for i in range(1, n + 1)]
    r = _load(con, _write(tmp_path / "patient.txt", "\n".join(lines) + "\n"))
    assert r.rows_loaded == n
    (wrong,) = con.execute(
        "SELECT count(*) FROM staging.maude_patients WHERE source_row <> mdr_report_key + 1"
    ).fetchone()
    assert wrong == 0
    setting = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()
    assert setting == (ordered,)
    con.execute("SET preserve_insertion_order = true")


def test_loader_does_not_commit(con, tmp_path: Path) -> None:
    con.begin()
    load_maude_file(
        con,
        SAMPLE / "patient.txt",
        kind="patient",
        file_path="maude/patient.txt",
        sha256="x",
        run_id="r",
    )
    con.rollback()
    assert con.execute("SELECT count(*) FROM staging.maude_patients").fetchone() == (0,)


# ----------------------------------------------------------------------------------------------
# openFDA pages
# ----------------------------------------------------------------------------------------------


def test_openfda_not_json_is_rejected(con, tmp_path: Path) -> None:
    r = _load_page(con, _write(tmp_path / "page1.json", "<html>rate limited</html>"))
    assert (r.status, r.rows_read, r.rows_quarantined) == ("rejected_file", 1, 1)
    (q,) = _quarantine(con, "page1.json")
    assert q[0] is None and q[2].startswith("file rejected: expected a JSON document")
    assert q[3] == "<html>rate limited</html>"
    r = _load_page(con, _write(tmp_path / "page2.json", '{"meta": {}, "error": "x"}'))
    assert r.status == "rejected_file"
    assert "'results' list" in _quarantine(con, "page2.json")[0][2]


def test_openfda_missing_nested_fields_and_missing_key(con, tmp_path: Path) -> None:
    page = {
        "meta": {"results": {"total": 4}},
        "results": [
            {"mdr_report_key": "700", "date_received": "20200102", "event_type": "Malfunction"},
            {"report_number": "no key"},
            {"mdr_report_key": "701", "device": [{"date_received": "2020-99-01"}]},
            {
                "mdr_report_key": "702",
                "device": [{"brand_name": "X", "device_sequence_number": " 1.0"}],
                "product_problems": ["Break", "Not A Known Term"],
                "mdr_text": [{"text": "CAFÉ", "text_type_code": "Description of Event or Problem"}],
            },
        ],
    }
    r = _load_page(con, _write(tmp_path / "page3.json", json.dumps(page), "utf-8"))
    assert (r.rows_read, r.rows_loaded, r.rows_quarantined) == (4, 2, 2)
    master = con.execute(
        "SELECT mdr_report_key, event_type, source_row FROM staging.maude_master ORDER BY 1"
    ).fetchall()
    assert master == [(700, "M", 1), (702, None, 4)]
    assert con.execute("SELECT count(*) FROM staging.maude_patients").fetchone() == (0,)
    assert con.execute(
        "SELECT mdr_report_key, device_sequence_number FROM staging.maude_devices"
    ).fetchall() == [(702, "1")]
    assert con.execute(
        "SELECT device_problem_code, device_problem_term FROM staging.maude_device_problems "
        "ORDER BY 2"
    ).fetchall() == [("1069", "Break"), (None, "Not A Known Term")]
    assert con.execute("SELECT text, text_type_code FROM staging.maude_texts").fetchall() == [
        ("CAFÉ", "D")
    ]
    q = _quarantine(con, "page3.json")
    assert [(row, col) for row, col, _, _ in q] == [
        (2, "mdr_report_key"),
        (3, "device.date_received"),
    ]
    assert q[1][2].startswith("device[0].date_received: expected a date")
    assert json.loads(q[0][3]) == {"report_number": "no key"}


# ----------------------------------------------------------------------------------------------
# property: the accounting always holds
# ----------------------------------------------------------------------------------------------

_line = st.one_of(
    st.text(alphabet=st.characters(codec="latin-1", exclude_characters="\n\r"), max_size=40),
    st.lists(
        st.one_of(
            st.from_regex(r"[0-9]{1,6}(\.0)?", fullmatch=True),
            st.sampled_from(["", " 12.0", "01/02/2003", "2003/02/01", "99/99/9999", "D", "é"]),
            st.text(alphabet="AB|x ", max_size=5),
        ),
        min_size=1,
        max_size=90,
    ).map("|".join),
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    kind=st.sampled_from(["master", "device", "text", "patient", "problem"]),
    header=st.booleans(),
    lines=st.lists(_line, max_size=25),
    newline=st.sampled_from(["\n", "\r\n", "\r"]),
)
def test_accounting_always_holds(kind: str, header: bool, lines: list[str], newline: str) -> None:
    heads = {
        "master": "|".join(MDRFOI_COLUMNS_86),
        "device": "|".join(DEVICE_COLUMNS_34),
        "text": "MDR_REPORT_KEY|MDR_TEXT_KEY|TEXT_TYPE_CODE|PATIENT_SEQUENCE_NUMBER|"
        "DATE_REPORT|FOI_TEXT",
        "patient": "MDR_REPORT_KEY|PATIENT_SEQUENCE_NUMBER|DATE_RECEIVED|"
        "SEQUENCE_NUMBER_TREATMENT|SEQUENCE_NUMBER_OUTCOME",
        "problem": "MDR_REPORT_KEY|DEVICE_PROBLEM_CODE",
    }
    body = ([heads[kind]] if header else []) + lines
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "maude.txt"
        path.write_bytes(newline.join(body).encode("latin-1"))
        con = duckdb.connect()
        ensure_warehouse(con)
        ensure_fda_tables(con)
        con.begin()
        r = load_maude_file(con, path, kind=kind, file_path="maude/x.txt", sha256="s", run_id="r")
        con.commit()
        assert r.rows_read == r.rows_loaded + r.rows_quarantined
        (n_q,) = con.execute("SELECT count(*) FROM quarantine.rejected_rows").fetchone()
        assert n_q == r.rows_quarantined
        staging = fda._SPECS[kind].staging
        (n_s,) = con.execute(f"SELECT count(*) FROM {staging}").fetchone()
        assert n_s == r.rows_loaded
        if fda._SPECS[kind].raw:
            (n_raw,) = con.execute(f"SELECT count(*) FROM {fda._SPECS[kind].raw}").fetchone()
            assert n_raw == r.rows_loaded
        con.close()


_json_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(max_size=12),  # includes lone surrogates from JSON escapes
    st.sampled_from(["20200102", "01/02/2020", "2020-99-99", "Injury", "Break", " 12.0"]),
)
_json_value = st.recursive(
    _json_scalar,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["date_received", "brand_name", "text", "x"]), inner, max_size=3
        )
    ),
    max_leaves=6,
)
_record = st.dictionaries(
    st.sampled_from(
        [
            "mdr_report_key",
            "date_received",
            "event_type",
            "device",
            "patient",
            "mdr_text",
            "product_problems",
            "type_of_report",
            "other",
        ]
    ),
    _json_value,
    max_size=6,
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(results=st.lists(st.one_of(_record, _json_scalar), max_size=6))
def test_openfda_accounting_always_holds(results: list) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "page.json"
        path.write_text(json.dumps({"meta": {}, "results": results}), encoding="utf-8")
        con = duckdb.connect()
        ensure_warehouse(con)
        ensure_fda_tables(con)
        con.begin()
        r = load_openfda_page(con, path, file_path="openfda/p.json", sha256="s", run_id="r")
        con.commit()
        assert r.rows_read == len(results) == r.rows_loaded + r.rows_quarantined
        (n_q,) = con.execute("SELECT count(*) FROM quarantine.rejected_rows").fetchone()
        (n_m,) = con.execute("SELECT count(*) FROM staging.maude_master").fetchone()
        assert (n_q, n_m) == (r.rows_quarantined, r.rows_loaded)
        con.close()
