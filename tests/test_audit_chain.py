"""The audit trail: the hash chain over run records, and `pms verify-audit` catching tampering."""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import shutil
from pathlib import Path

import duckdb
import pytest

from assets.audit.trail import CHANGE_COLUMNS, SHOWN_CHANGES, append_run_record, dict_rows
from assets.ingestion.sources import COMPLAINTS
from assets.warehouse import ensure_warehouse
from models.audit_chain import (
    DECISION_FIELDS,
    DECISION_KEY,
    GENESIS_HASH,
    chain,
    record_hash,
    reportability_changes,
    verify_chain,
)
from pipelines.cli import main
from tests.test_blocked_night import PRODUCT_ROWS, complaint, run_argv, write_landing

# The columns of marts.vigilance_flags the audit reads, with their warehouse types.
FLAG_TYPES = {
    "complaint_id": "VARCHAR",
    "regime": "VARCHAR",
    "report_kind": "VARCHAR",
    "received_date": "DATE",
    "rule": "VARCHAR",
    "route": "VARCHAR",
    "reportable": "BOOLEAN",
    "status": "VARCHAR",
    "due_date": "DATE",
    "reported_date": "DATE",
    "data_state": "VARCHAR",
}


def hand_made_chain(n: int = 4) -> list[dict]:
    return chain(
        [
            {
                "sequence": i,
                "run_id": f"run-{i}",
                "as_of": dt.date(2026, 10, i),
                "recorded_at": dt.datetime(2026, 10, i, 2, 0, 0, 123456),
                "user_name": "qa",
                "code_version": "abc123",
                "config_sha256": "f" * 64,
                "versions_digest": hashlib.sha256(f"C-{i}".encode()).hexdigest(),
            }
            for i in range(1, n + 1)
        ]
    )


def test_intact_chain_has_no_finding() -> None:
    records = hand_made_chain()
    assert records[0]["prev_hash"] == GENESIS_HASH
    assert records[1]["prev_hash"] == records[0]["record_hash"]
    assert verify_chain(records) == []


def test_hash_is_canonical_whatever_the_field_order() -> None:
    record = hand_made_chain(1)[0]
    reordered = dict(reversed(list(record.items())))
    assert record_hash(GENESIS_HASH, reordered) == record["record_hash"]


def test_evidence_digest_does_not_depend_on_storage_order() -> None:
    import hashlib

    import duckdb

    from assets.audit.trail import evidence_digest

    digests = []
    for order in ("ASC", "DESC"):
        with duckdb.connect() as con:
            con.execute(
                "CREATE TABLE t AS SELECT i AS a, 'r' AS run_id FROM range(5) r(i) "
                f"ORDER BY i {order}"
            )
            digests.append(evidence_digest(con, "t", "r"))
            con.execute("UPDATE t SET a = 9 WHERE a = 3")
            digests.append(evidence_digest(con, "t", "r"))
            assert evidence_digest(con, "t", "no such run") == (0, hashlib.sha256(b"").hexdigest())
    assert digests[0] == digests[2] and digests[1] == digests[3]
    assert digests[0] != digests[1] and digests[0][0] == 5
    # by hand: the sorted JSON lines joined by newlines
    lines = "\n".join(sorted(f'{{"a":{i},"run_id":"r"}}' for i in range(5)))
    assert digests[0][1] == hashlib.sha256(lines.encode()).hexdigest()


def test_evidence_digest_streams_many_rows_in_batches() -> None:
    """More rows than one batch give the digest of the whole sorted text (the records of runs
    sealed before the digest was streamed stay valid)."""
    import duckdb

    from assets.audit.trail import EVIDENCE_BATCH_ROWS, evidence_digest

    rows = EVIDENCE_BATCH_ROWS * 2 + 7
    with duckdb.connect() as con:
        con.execute(f"CREATE TABLE t AS SELECT i AS a, 'r' AS run_id FROM range({rows}) r(i)")
        whole = con.execute(
            "SELECT count(*), sha256(string_agg(line, chr(10) ORDER BY line)) FROM "
            "(SELECT CAST(to_json(t) AS VARCHAR) AS line FROM t WHERE run_id = 'r')"
        ).fetchall()[0]
        assert evidence_digest(con, "t", "r") == (whole[0], whole[1])


def test_edited_field_is_found_at_its_record() -> None:
    records = hand_made_chain()
    records[1]["code_version"] = "evil"
    [finding] = verify_chain(records)
    assert (finding.position, finding.run_id, finding.problem) == (2, "run-2", "record_hash")
    assert "run run-2 (#2): record hash mismatch" in finding.message


def test_edit_with_recomputed_hash_breaks_the_next_link() -> None:
    records = hand_made_chain()
    records[1]["code_version"] = "evil"
    records[1]["record_hash"] = record_hash(records[1]["prev_hash"], records[1])
    [finding] = verify_chain(records)
    assert (finding.position, finding.run_id, finding.problem) == (3, "run-3", "link")


def test_deleted_record_is_found_at_the_next_one() -> None:
    records = hand_made_chain()
    del records[1]
    findings = verify_chain(records)
    assert {(f.position, f.run_id) for f in findings} == {(2, "run-3")}
    assert {f.problem for f in findings} == {"sequence", "link"}


def test_reordered_records_are_found() -> None:
    records = hand_made_chain()
    records[1], records[2] = records[2], records[1]
    findings = verify_chain(records)
    assert findings
    assert findings[0].position == 2 and findings[0].run_id == "run-3"
    assert {f.run_id for f in findings} >= {"run-3", "run-2"}


def test_reportability_changes_only_for_changed_decisions() -> None:
    key = {"complaint_id": "C-1", "regime": "EU_MDR", "report_kind": "initial"}
    key["received_date"] = dt.date(2024, 5, 2)
    quiet = {
        **key,
        "rule": "EU_88_TREND",
        "route": "trend",
        "reportable": False,
        "status": "not_reportable",
        "due_date": None,
        "reported_date": None,
        "data_state": "staged",
    }
    first = reportability_changes([], [quiet])
    assert [(c["old_status"], c["new_status"]) for c in first] == [(None, "not_reportable")]
    assert reportability_changes([quiet], [quiet]) == []
    serious = {**quiet, "rule": "EU_87_1_SERIOUS", "status": "overdue", "reportable": True}
    [change] = reportability_changes([quiet], [serious])
    assert (change["old_rule"], change["new_status"]) == ("EU_88_TREND", "overdue")
    [gone] = reportability_changes([quiet], [])
    assert (gone["old_status"], gone["new_status"]) == ("not_reportable", None)


def change_rows(changes: list[dict]) -> list[tuple]:
    return sorted(
        (tuple(c[k] for k in CHANGE_COLUMNS) for c in changes),
        key=lambda r: tuple((v is None, str(v)) for v in r),
    )


def test_night_changes_in_duckdb_equal_the_python_reference() -> None:
    """append_run_record decides the change rows in SQL; models.audit_chain decides them in
    Python. Random histories (decisions gone, back again, NULL keys and fields, two flag rows
    of one key) give the same rows both ways, night after night."""
    rng = random.Random(7)
    days = [None, dt.date(2024, 5, 1), dt.date(2024, 5, 2)]

    def flag_row(i: int) -> dict:
        return {
            "complaint_id": f"C-{i % 40}",
            "regime": rng.choice(["EU_MDR", "FDA_803"]),
            "report_kind": rng.choice(["initial", "supplemental"]),
            "received_date": rng.choice(days),
            "rule": rng.choice(["R1", "R2", None]),
            "route": rng.choice(["trend", "individual"]),
            "reportable": rng.choice([True, False, None]),
            "status": rng.choice(["open", "overdue", "not_reportable"]),
            "due_date": rng.choice(days),
            "reported_date": rng.choice(days),
            "data_state": "staged",
        }

    con = duckdb.connect()
    ensure_warehouse(con)
    columns = ", ".join(f"{k} {t}" for k, t in FLAG_TYPES.items())
    con.execute(f"CREATE TABLE marts.vigilance_flags ({columns})")
    recorded = dt.datetime(2026, 10, 1, 2, 0)
    for night in range(1, 7):
        flags = [flag_row(i) for i in range(rng.randrange(30, 90))]
        con.execute("DELETE FROM marts.vigilance_flags")
        con.executemany(
            f"INSERT INTO marts.vigilance_flags VALUES ({', '.join(['?'] * len(FLAG_TYPES))})",
            [list(f.values()) for f in flags],
        )
        previous: dict[tuple, dict] = {}
        for row in dict_rows(con, "SELECT * FROM audit.reportability_changes ORDER BY sequence"):
            key = tuple(row[k] for k in DECISION_KEY)
            previous[key] = {
                **dict(zip(DECISION_KEY, key, strict=True)),
                **{f: row[f"new_{f}"] for f in DECISION_FIELDS},
            }
        first_of_key = sorted(
            flags,
            key=lambda f: (
                tuple((f[k] is None, str(f[k])) for k in DECISION_KEY),
                (f["status"] is None, str(f["status"])),
                (f["rule"] is None, str(f["rule"])),
            ),
        )
        expected = reportability_changes(previous.values(), first_of_key)
        record = append_run_record(
            con,
            run_id=f"run-{night}",
            as_of=dt.date(2026, 10, night),
            code_version="c",
            config_sha256="f" * 64,
            user_name="qa",
            hostname="h",
            reason="test",
            recorded_at=recorded,
        )
        CHANGE_COLUMNS = [
            *DECISION_KEY,
            *(f"{p}_{f}" for f in DECISION_FIELDS for p in ("old", "new")),
        ]
        got = dict_rows(
            con,
            f"SELECT {', '.join(CHANGE_COLUMNS)} FROM audit.reportability_changes "
            "WHERE sequence = ?",
            [record["sequence"]],
        )

        assert change_rows(got) == change_rows(expected), f"night {night}"
        assert record["status_changes_rows"] == len(expected)
        assert record["status_changes"] == [
            {k: c[k] for k in CHANGE_COLUMNS} for c in expected[:SHOWN_CHANGES]
        ]
        assert expected, "every night of this history changes something"


# --- the real pipeline on a tiny landing folder --------------------------------------------


def run_night(base: Path, as_of: str) -> int:
    return main(run_argv(base, as_of))


def verify(warehouse: Path) -> int:
    return main(["verify-audit", "--warehouse", str(warehouse)])


@pytest.fixture(scope="module")
def trail(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Night 1 (2024-06-30): two non-serious complaints. Night 2 (2024-07-10): a new version of
    C-1 says the patient died. Night 3: night 2 again, with nothing new."""
    base = tmp_path_factory.mktemp("audit")
    write_landing(base / "landing", PRODUCT_ROWS)
    assert run_night(base, "2024-06-30") == 0
    death = complaint("C-1", "IP-100").split(",")
    columns = list(COMPLAINTS.column_names)
    death[columns.index("updated_at")] = "2024-07-01T09:00:00"
    death[columns.index("patient_outcome")] = "death"
    (base / "landing" / "complaints" / "c2.csv").write_text(
        ",".join(columns) + "\n" + ",".join(death) + "\n"
    )
    assert run_night(base, "2024-07-10") == 0
    assert run_night(base, "2024-07-10") == 0
    with duckdb.connect(str(base / "pms.duckdb"), read_only=True) as con:
        runs = con.execute(
            "SELECT sequence, run_id, as_of, versions_rows, status_changes_rows "
            "FROM audit.runs ORDER BY sequence"
        ).fetchall()
        changes = con.execute(
            "SELECT sequence, complaint_id, regime, report_kind, old_status, new_status, "
            "old_rule, new_rule FROM audit.reportability_changes ORDER BY sequence, complaint_id"
        ).fetchall()
    return {"base": base, "runs": runs, "changes": changes}


def tampered_copy(trail: dict, tmp_path: Path, sql: str) -> Path:
    copy = tmp_path / "tampered.duckdb"
    shutil.copy(trail["base"] / "pms.duckdb", copy)
    with duckdb.connect(str(copy)) as con:
        con.execute(sql)
    return copy


def test_every_night_leaves_a_chained_record(trail: dict) -> None:
    runs = trail["runs"]
    assert [r[0] for r in runs] == [1, 2, 3]
    night_1, night_2 = dt.date(2024, 6, 30), dt.date(2024, 7, 10)
    assert [r[2] for r in runs] == [night_1, night_2, night_2]
    assert [r[3] for r in runs] == [2, 1, 0]  # complaint versions each run loaded
    assert runs[2][4] == 0  # the same night again: a new record, no duplicate status change


def test_escalation_to_death_is_recorded_as_a_status_change(trail: dict) -> None:
    first = [c for c in trail["changes"] if c[0] == 1]
    # night 1: a malfunction without a problem code is in doubt (MDR Art. 87(7)), not "not
    # reportable"; night 2: the death makes it a definite obligation
    assert {(c[1], c[4], c[5]) for c in first} >= {("C-1", None, "undetermined")}
    escalated = [c for c in trail["changes"] if c[0] == 2 and c[1] == "C-1" and c[3] == "initial"]
    assert escalated, trail["changes"]
    assert any(c[4] == "undetermined" and c[5] in ("open", "overdue") for c in escalated), escalated


def test_verify_audit_passes_on_the_untouched_trail(
    trail: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    assert verify(trail["base"] / "pms.duckdb") == 0
    assert "audit trail intact: 3 runs, last hash " in capsys.readouterr().out


def test_verify_audit_finds_an_edited_run_record(
    trail: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first_run = trail["runs"][0][1]
    copy = tampered_copy(trail, tmp_path, "UPDATE audit.runs SET code_version = 'x'")
    capsys.readouterr()
    assert verify(copy) == 1
    out = capsys.readouterr().out
    assert f"run {first_run} (#1): record hash mismatch" in out


def test_verify_audit_finds_an_edited_complaint_version(
    trail: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    second_run = trail["runs"][1][1]
    copy = tampered_copy(
        trail,
        tmp_path,
        "UPDATE staging.complaint_versions SET patient_outcome = 'none' "
        "WHERE complaint_id = 'C-1' AND patient_outcome = 'death'",
    )
    capsys.readouterr()
    assert verify(copy) == 1
    out = capsys.readouterr().out
    assert f"complaint versions loaded by run {second_run} changed since it was recorded" in out
    assert trail["runs"][0][1] not in out  # the first night's versions are untouched


def test_verify_audit_finds_a_deleted_status_change(
    trail: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    second_run = trail["runs"][1][1]
    copy = tampered_copy(
        trail, tmp_path, "DELETE FROM audit.reportability_changes WHERE sequence = 2"
    )
    capsys.readouterr()
    assert verify(copy) == 1
    assert f"status changes of run {second_run} changed" in capsys.readouterr().out


def test_verify_audit_finds_a_deleted_run_record(
    trail: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    third_run = trail["runs"][2][1]
    copy = tampered_copy(trail, tmp_path, "DELETE FROM audit.runs WHERE sequence = 2")
    capsys.readouterr()
    assert verify(copy) == 1
    assert f"run {third_run} (#3): chain broken" in capsys.readouterr().out
