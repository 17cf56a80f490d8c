"""A night killed with SIGKILL at any point, then run again, leaves the warehouse and the reports
as a clean night would: no duplicate and no missing row. Each file loads in one transaction with
its audit row, marts are replaced whole, and report files are written by rename.

The kill points are steps of the night, not moments on a clock: the night's log says when each
step has ended, and the kill follows the n-th such line. A busy or a fast machine kills at the
same place in the night."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pipelines.hooks import STEP_MEMORY_MESSAGE
from tests.test_blocked_night import PRODUCT_ROWS, run_argv, write_landing

AS_OF = "2024-06-30"
KILL_POINTS = 10
# the words the night logs when a step has ended
STEP_ENDED = STEP_MEMORY_MESSAGE.split(":")[0]
# Columns that name the run or the wall-clock moment: they differ between any two runs.
VOLATILE = {
    "run_id",
    "ingested_at",
    "checked_at",
    "recorded_at",
    "resolved_at",
    "changed_at",
    # where and when the landing files sit on disk (ingest_state.file_hashes): a copy of the
    # same landing folder has other times and inodes, and the same contents
    "mtime_ns",
    "ctime_ns",
    "inode",
}
# Evidence of every run is kept on purpose (a killed run's checks happened): compared apart.
PER_RUN_TABLES = {
    "audit.check_results",
    "audit.runs",
    "audit.reportability_changes",
    "audit.validated_batches",
}


def pms_run(base: Path, log: bool = False) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", *run_argv(base, AS_OF)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE if log else subprocess.DEVNULL,
        text=log,
        env={k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"},  # ephemeral instance
    )


def steps_ended(night: subprocess.Popen) -> int:
    """Read the night's log to its end; the number of steps it ended."""
    return sum(STEP_ENDED in line for line in night.stderr)


def snapshot(
    base: Path, warehouse: Path | None = None, reports: Path | None = None
) -> dict[str, str]:
    """A digest of every table's rows (volatile columns left out, rows sorted) and every
    report file but the manifest, which names the run (default paths: those of run_argv)."""
    digests = {}
    with duckdb.connect(str(warehouse or base / "pms.duckdb"), read_only=True) as con:
        tables = con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_type = 'BASE TABLE' ORDER BY 1, 2"
        ).fetchall()
        for schema, table in tables:
            if f"{schema}.{table}" in PER_RUN_TABLES:
                continue
            columns = [
                c
                for (c,) in con.execute(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
                    [schema, table],
                ).fetchall()
                if c not in VOLATILE
            ]
            listed = ", ".join(f'"{c}"' for c in columns)
            rows = con.execute(f'SELECT {listed} FROM "{schema}"."{table}" ORDER BY ALL').fetchall()
            digests[f"{schema}.{table}"] = hashlib.sha256(repr(rows).encode()).hexdigest()
    for path in sorted((reports or base / "reports").iterdir()):
        if path.name != "manifest.json":
            digests[f"reports/{path.name}"] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], int, dict]:
    """Two clean nights' snapshots, and how many steps a clean night ends."""
    steps, snapshots = [], []
    for _ in range(2):
        base = tmp_path_factory.mktemp("clean")
        write_landing(base / "landing", PRODUCT_ROWS)
        night = pms_run(base, log=True)
        steps.append(steps_ended(night))
        assert night.wait(timeout=600) == 0
        snapshots.append(snapshot(base))
    assert steps[0] == steps[1] > KILL_POINTS
    return snapshots[0], steps[0], snapshots[1]


def test_two_clean_nights_snapshot_alike(clean) -> None:
    first, _, second = clean
    assert first == second


@pytest.mark.parametrize("point", range(1, KILL_POINTS + 1))
def test_a_night_killed_at_any_point_recovers_on_the_next_run(clean, tmp_path: Path, point) -> None:
    expected, steps, _ = clean
    # kill points spread over the whole night: ingestion, checks, marts, reports; the last one
    # leaves steps to run, so the night is always killed before its end
    kill_after = steps * point // (KILL_POINTS + 1)
    write_landing(tmp_path / "landing", PRODUCT_ROWS)
    night = pms_run(tmp_path, log=True)
    ended = 0
    for line in night.stderr:
        ended += STEP_ENDED in line
        if ended == kill_after:
            os.kill(night.pid, signal.SIGKILL)
            break
    assert night.wait(timeout=600) == -signal.SIGKILL, (
        f"the night was not killed after step {kill_after}"
    )
    assert pms_run(tmp_path).wait(timeout=600) == 0
    assert snapshot(tmp_path) == expected
