"""Quarantined text is data: re-reading it for the safety net never raises (issue 13).

The data contract (§1 "Bad input") says a bad row or file never stops the night; the vigilance
safety net re-reads every quarantined complaint line to keep its clock. A landing folder written
by someone else had a complaint file rejected whole with a bare carriage return inside one line:
`csv.reader(io.StringIO(raw))` raised `new-line character seen in unquoted field` and took the
vigilance flags, the morning page and the audit record down with it. These cases are the bytes
real extracts carry (CR, LF, NUL, the DOS end-of-file mark, a BOM in the middle, invalid UTF-8,
one huge field, thousands of fields), each through the real ingestion path into DuckDB.
"""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assets.vigilance.assets import quarantined_complaints
from assets.warehouse import split_raw_record, unresolved_quarantined_records
from models.vigilance import (
    QUARANTINE_ID_PREFIX,
    UNREADABLE_CRITERIA,
    load_regimes,
    quarantined_complaint_flags,
)
from tests.test_bad_files import HEADER, complaint, night, put, warehouse  # noqa: F401

AS_OF = dt.date(2025, 6, 30)
NO_SERIOUS_CODES = pl.DataFrame(schema={"device_family": pl.String, "problem_code": pl.String})
NO_MARKETS = pl.DataFrame(schema={"device_model": pl.String, "country": pl.String})
# Every byte a real extract was seen to carry inside one line.
HOSTILE_LINES = {
    "bare carriage return": b"C-9,2025-03-01,\r2025-03-02T09:00:00,death",
    "line feed in a quoted field": b'C-9,"two\nlines",death',
    "NUL": b"C-9,2025-03-01\x00,death",
    "DOS end-of-file mark": b"C-9,2025-03-01,\x1a,death",
    "BOM in the middle": b"C-9,\xef\xbb\xbf2025-03-01,death",
    "invalid UTF-8": b"C-9,\xff\xfe\xc3(,death",
    "unbalanced quote": b'C-9,"never closed,death',
    "one field of 1 MB": b"C-9," + b"x" * 1_048_576 + b",death",
    "5,000 fields": b",".join([b"f"] * 5_000),
}


def test_every_hostile_line_is_read_back_without_raising(warehouse) -> None:  # noqa: F811
    con, landing = warehouse
    # A header the contract does not know: the file is rejected whole, each line quarantined.
    body = b"not,the,complaint,header\n" + b"\n".join(HOSTILE_LINES.values()) + b"\n"
    put(landing, "complaints/hostile.csv", body)
    outcomes, _ = night(con, landing)
    result = outcomes["complaints/hostile.csv"].result
    assert result.status == "rejected_file"
    assert result.rows_read == result.rows_quarantined >= len(HOSTILE_LINES)

    records = unresolved_quarantined_records(con, "complaint_versions")  # raised before the fix
    assert len(records) == result.rows_quarantined
    assert all(not r.readable for r in records)  # no header: nothing can be named
    waiting = quarantined_complaints(con, AS_OF)
    flags = quarantined_complaint_flags(waiting, NO_SERIOUS_CODES, NO_MARKETS, AS_OF)
    # Each unreadable line is a complaint of unknown seriousness under every regime, open,
    # with no due date known (the safety net's rule for unreadable dates).
    regimes = {r.regime for r in load_regimes()}
    assert flags.height == len(records) * len(regimes)
    assert set(flags["criteria_met"]) == {UNREADABLE_CRITERIA}
    assert set(flags["status"]) == {"open"} and flags["due_date"].null_count() == flags.height
    assert (
        flags["complaint_id"].str.starts_with(QUARANTINE_ID_PREFIX + "complaints/hostile.csv").all()
    )
    assert flags.group_by("complaint_id").len()["len"].to_list() == [len(regimes)] * len(records)


def test_a_hostile_line_under_a_known_header_keeps_its_fields(warehouse) -> None:  # noqa: F811
    con, landing = warehouse
    # A row of a well-formed file that fails its row rules: quarantined with the header.
    death = complaint("C-7", patient_outcome="death", device_model="IP-999")
    put(landing, "complaints/c.csv", HEADER + "\n" + death + "\n")
    night(con, landing)
    [record] = unresolved_quarantined_records(con, "complaint_versions")
    assert record.readable and record.fields["patient_outcome"] == "death"
    flags = quarantined_complaint_flags(
        quarantined_complaints(con, AS_OF), NO_SERIOUS_CODES, NO_MARKETS, AS_OF
    )
    assert set(flags["complaint_id"]) == {"C-7"}
    assert set(flags["criteria_met"]) == {"death"}
    assert flags["due_date"].null_count() == 0  # its received date is readable


@given(
    raw=st.one_of(st.text(), st.binary().map(lambda b: b.decode("utf-8", "replace")), st.none()),
    header=st.one_of(
        st.none(),
        st.text(),
        st.lists(st.text(), max_size=30).map(json.dumps),
        st.just("{not json"),
        st.just('{"a": 1}'),
    ),
)
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_split_raw_record_never_raises(raw: str | None, header: str | None) -> None:
    fields = split_raw_record(raw, header)
    assert isinstance(fields, dict)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in fields.items())


def test_split_raw_record_by_hand() -> None:
    header = json.dumps(["complaint_id", "patient_outcome"])
    assert split_raw_record("C-1,death", header) == {
        "complaint_id": "C-1",
        "patient_outcome": "death",
    }
    # a field too many or too few: no field can be named by its position
    assert split_raw_record("C-1,death,extra", header) == {}
    assert split_raw_record("C-1", header) == {}
    # a bare CR inside a field is read as a space, the fields stay named
    assert split_raw_record("C-1,de\rath", header) == {
        "complaint_id": "C-1",
        "patient_outcome": "de ath",
    }
    assert split_raw_record('C-1,"quoted, with comma"', header)["patient_outcome"] == (
        "quoted, with comma"
    )
    assert split_raw_record("C-1,death", None) == {}  # no header: nothing can be named
    assert split_raw_record("C-1,death", "[]") == {}
    assert split_raw_record("C-1,death", "{broken") == {}
    assert split_raw_record("", header) == {}
    big = "x" * 1_048_576
    assert split_raw_record(f"C-1,{big}", header)["patient_outcome"] == big


def test_same_content_twice_in_one_night_loads_once_whichever_name_sorts_first(
    warehouse,  # noqa: F811
) -> None:
    """README: "the same content under another name is recorded as a duplicate". Within one
    night too, and deterministically: the name that sorts first is the original."""
    con, landing = warehouse
    body = HEADER + "\n" + complaint() + "\n" + complaint("C-2") + "\n"
    put(landing, "complaints/b.csv", body)
    put(landing, "complaints/a_copy.csv", body)
    outcomes, _ = night(con, landing)
    assert outcomes["complaints/a_copy.csv"].result.status == "loaded"
    assert outcomes["complaints/b.csv"].result.status == "duplicate"
    assert outcomes["complaints/b.csv"].duplicate_of == "complaints/a_copy.csv"
    assert con.execute("SELECT count(*) FROM staging.complaint_versions").fetchall() == [(2,)]
    rows = con.execute(
        "SELECT file_path, status, rows_read, rows_loaded FROM audit.ingested_files "
        "WHERE source = 'complaint_versions' ORDER BY file_path"
    ).fetchall()
    assert rows == [
        ("complaints/a_copy.csv", "loaded", 2, 2),
        ("complaints/b.csv", "duplicate", 0, 0),
    ]
