"""Hostile file names and values: SQL identifiers never come from data, values are bound as
parameters, so names and text built to break a query are stored as text and nothing else."""

from __future__ import annotations

import datetime as dt

import polars as pl

from tests.test_bad_files import HEADER, complaint, night, put, warehouse  # noqa: F401

INJECTION = "x'); DROP TABLE staging.complaints; --"
QUOTES = "Robert'); DELETE FROM audit.ingested_files WHERE ('1'='1"


def tables(con) -> set[str]:
    return {
        f"{s}.{t}"
        for s, t in con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables"
        ).fetchall()
    }


def test_hostile_file_names_and_values_are_only_data(warehouse) -> None:  # noqa: F811
    con, landing = warehouse
    before = tables(con)
    rows = [
        complaint("C-1", description=f'"{INJECTION}"'),
        complaint("C-2", description=f'"{QUOTES}"', serial_number="SN'; --"),
        complaint("C-3", device_model=INJECTION.replace(",", " ")),  # unknown model: quarantined
    ]
    name = put(landing, f"complaints/{INJECTION}.csv", HEADER + "\n" + "\n".join(rows) + "\n")
    outcomes, _ = night(con, landing)
    assert tables(con) >= before  # nothing dropped
    result = outcomes[name].result
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (3, 2, 1)
    stored = dict(
        con.execute("SELECT complaint_id, description FROM staging.complaint_versions").fetchall()
    )
    assert stored == {"C-1": INJECTION, "C-2": QUOTES}
    assert con.execute(
        "SELECT file_path, rows_read FROM audit.ingested_files WHERE file_path LIKE 'complaints/%'"
    ).fetchall() == [(name, 3)]
    [(reason,)] = con.execute("SELECT reason FROM quarantine.rejected_rows").fetchall()
    assert "device_model" in reason and "DROP TABLE" in reason  # shown to a person, not run


def test_hostile_values_reach_the_vigilance_flags_as_text() -> None:
    from models.vigilance import assess_vigilance

    frame = pl.DataFrame(
        [
            {
                "complaint_id": INJECTION,
                "received_date": dt.date(2025, 3, 3),
                "updated_at": dt.datetime(2025, 3, 3, 9),
                "device_model": QUOTES,
                "country": "DE",
                "patient_outcome": "death",
                "malfunction": False,
                "problem_code": INJECTION,
            }
        ]
    )
    flags = assess_vigilance(
        frame,
        pl.DataFrame(
            {"device_model": [QUOTES], "device_family": [INJECTION], "product_code": ["FRN"]}
        ),
        pl.DataFrame(
            {
                "hazard_id": [INJECTION],
                "device_family": [INJECTION],
                "problem_codes": [INJECTION],
                "severity": [5],
            }
        ),
        pl.DataFrame(
            {
                "device_model": [QUOTES, QUOTES],
                "country": ["US", "DE"],
                "ship_date": [dt.date(2024, 1, 1)] * 2,
                "units": [1, 1],
            }
        ),
        dt.date(2025, 3, 20),
    )
    assert set(flags["complaint_id"]) == {INJECTION}
    assert set(flags["rule"]) == {"EU_87_5_10D", "FDA_803_50_30D"}
