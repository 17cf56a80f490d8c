"""A blocking check stops the night: no report of it is published and the index says why."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from assets.ingestion.sources import COMPLAINTS, DISTRIBUTION, LOTS, PRODUCTS
from pipelines.cli import main

PRODUCT_ROWS = [
    "IP-100,InfuMax pumps,FRN,IIb,2,false,2022-01-01,Volumetric pump",
    "IP-200,InfuMax pumps,FRN,IIb,2,false,2023-01-01,Syringe pump",
]


def complaint(complaint_id: str, model: str) -> str:
    values = dict.fromkeys(COMPLAINTS.column_names, "")
    values |= {
        "complaint_id": complaint_id,
        "received_date": "2024-05-02",
        "updated_at": "2024-05-02T10:00:00",
        "device_model": model,
        "country": "DE",
        "source": "customer",
        "patient_outcome": "none",
        "malfunction": "true",
        "description": "Alarm during infusion",
        "investigation_status": "open",
    }
    return ",".join(values[c] for c in COMPLAINTS.column_names)


def write_landing(landing: Path, products: list[str]) -> None:
    for folder in ("lots", "distribution", "complaints"):
        (landing / folder).mkdir(parents=True, exist_ok=True)
    (landing / "products.csv").write_text(
        "\n".join([",".join(PRODUCTS.column_names), *products]) + "\n"
    )
    (landing / "lots" / "lots.csv").write_text(
        ",".join(LOTS.column_names) + "\nL1,IP-100,2024-01-01,100,,\nL2,IP-200,2024-01-01,100,,\n"
    )
    (landing / "distribution" / "d.csv").write_text(
        ",".join(DISTRIBUTION.column_names)
        + "\n2024-02-01,IP-100,L1,DE,100\n2024-02-01,IP-200,L2,FR,50\n"
    )
    (landing / "complaints" / "c.csv").write_text(
        ",".join(COMPLAINTS.column_names)
        + "\n"
        + complaint("C-1", "IP-100")
        + "\n"
        + complaint("C-2", "IP-200")
        + "\n"
    )


def run_argv(base: Path, as_of: str = "2024-06-30") -> list[str]:
    """`pms run` arguments for the landing folder, warehouse and reports under `base`."""
    return [
        "run",
        "--landing",
        str(base / "landing"),
        "--warehouse",
        str(base / "pms.duckdb"),
        "--reports",
        str(base / "reports"),
        "--as-of",
        as_of,
    ]


def run(tmp_path: Path) -> int:
    return main(run_argv(tmp_path))


def test_removed_model_blocks_the_night_and_the_safety_net_publishes_the_morning_page(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A blocking check stops the analytics of the night, never the vigilance clocks (issue 13):
    the safety net publishes the morning page from what is known, with a banner naming the
    checks; the family reports stay those of the last good night; exit 1, not 0."""
    write_landing(tmp_path / "landing", PRODUCT_ROWS)
    assert run(tmp_path) == 0
    index = (tmp_path / "reports" / "index.html").read_text()
    assert "stopped" not in index and "night-problems" not in index
    # A new products snapshot drops IP-200 although its lots and complaints are staged; a new
    # complaint file arrives the same night and names a death.
    write_landing(tmp_path / "landing", PRODUCT_ROWS[:1])
    death = complaint("C-3", "IP-100").replace(",none,", ",death,")
    (tmp_path / "landing" / "complaints" / "c3.csv").write_text(
        ",".join(COMPLAINTS.column_names) + "\n" + death + "\n"
    )
    capsys.readouterr()
    assert run(tmp_path) == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("pms run: exit 1:") and "staging_lots_critical_rules" in last
    assert "vigilance.html" in last
    index = (tmp_path / "reports" / "index.html").read_text()
    assert "stopped before publishing" in index
    # The lots of IP-200 are checked first, and stopping there stops everything after them.
    assert "staging_lots_critical_rules" in index
    assert "device_model: expected a model listed in products.csv" in index
    assert "These family reports are from the night of 2024-06-30" in index
    page = (tmp_path / "reports" / "vigilance.html").read_text()
    assert "stopped before publishing" in page and "staging_lots_critical_rules" in page
    # The death that arrived tonight has its clock: the safety net read tonight's complaint file.
    with duckdb.connect(str(tmp_path / "pms.duckdb"), read_only=True) as con:
        flags = con.execute(
            "SELECT regime, status, due_date FROM marts.vigilance_flags "
            "WHERE complaint_id = 'C-3' AND report_kind = 'initial'"
        ).fetchall()
        failed = con.execute(
            "SELECT count(*) FROM audit.check_results WHERE NOT success "
            "AND checked_on = 'staged table' AND severity = 'critical' "
            "AND table_name = 'staging.lots'"
        ).fetchall()
        records = con.execute(
            "SELECT sequence, reason FROM audit.runs ORDER BY sequence"
        ).fetchall()
    assert flags and all(status == "overdue" and due for _, status, due in flags), flags
    assert "C-3" in page
    assert failed[0][0] >= 1
    # The stopped night leaves its run record (what it ingested is sealed, the reason names the
    # check), and the safety net its own, naming the run it stands in for; the chain is intact
    # with nothing left unsealed.
    assert [r[0] for r in records] == [1, 2, 3]
    assert "stopped at blocking check(s)" not in records[0][1]
    assert (
        "stopped at blocking check(s): staging/lots: staging_lots_critical_rules" in records[1][1]
    )
    assert "safety net for the stopped run" in records[2][1]
    assert "staging_lots_critical_rules (blocking check failed)" in records[2][1]
    from pipelines.cli import main

    capsys.readouterr()
    assert main(["verify-audit", "--warehouse", str(tmp_path / "pms.duckdb")]) == 0
    verdict = capsys.readouterr().out
    assert "audit trail intact: 3 runs" in verdict
    assert "left no run record" not in verdict
