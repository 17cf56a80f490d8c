"""The second backend: the same nightly job into a DuckLake catalogued in PostgreSQL.

Runs only where the packaged DuckDB extensions for the installed DuckDB are importable
(`make test-lake`, .venv-lake from requirements-lake.lock) and PostgreSQL's server binaries are
installed (Debian: `apt-get install postgresql`); elsewhere it skips, unless PMS_REQUIRE_LAKE=1
(`make test-lake`) turns a missing piece into a failure. Each module starts a throwaway
PostgreSQL cluster on a unix socket in a temporary folder and stops it afterwards.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from pipelines.cli import main
from pipelines.warehouse_backends import (
    BACKEND_ENV,
    CATALOG_ENV,
    DATA_PATH_ENV,
    DuckLakeResource,
    WarehouseConfigError,
    attach_statement,
    lake_extensions_available,
)
from tests.test_blocked_night import PRODUCT_ROWS, run_argv, write_landing

REQUIRED = os.environ.get("PMS_REQUIRE_LAKE") == "1"
PROJECT = Path(__file__).resolve().parents[2]
MAUDE_SAMPLE = PROJECT / "tests" / "fixtures" / "fda" / "maude-bulk-sample"


def _unavailable(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"PMS_REQUIRE_LAKE=1 but {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


_missing = lake_extensions_available()
if _missing:
    _unavailable(
        f"DuckLake backend not testable in this environment: {_missing}. Run `make test-lake`."
    )


def postgres_bin() -> Path | None:
    """The folder of initdb/pg_ctl: on PATH, else Debian's /usr/lib/postgresql/<major>/bin."""
    for tool in ("initdb", "pg_ctl"):  # Debian links only pg_ctl onto PATH, if anything
        found = shutil.which(tool)
        if found and (Path(found).resolve().parent / "initdb").is_file():
            return Path(found).resolve().parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return Path(candidates[-1]).parent if candidates else None


def _as_server_user(argv: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: run them as `postgres` then."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[tuple[Path, Path]]:
    """A throwaway PostgreSQL cluster on a unix socket: (its bin folder, its socket folder)."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        _unavailable("PostgreSQL server binaries not found (Debian: apt-get install postgresql)")
    assert bin_dir is not None
    root = Path(tempfile.mkdtemp(prefix="pms-lake-pg-"))  # short: unix socket paths are short
    if os.geteuid() == 0:
        server = pwd.getpwnam("postgres")
        os.chown(root, server.pw_uid, server.pw_gid)
    data = root / "data"
    log = root / "server.log"
    run = dict(check=True, capture_output=True, text=True, timeout=120)
    try:
        subprocess.run(
            _as_server_user(
                [
                    str(bin_dir / "initdb"),
                    *("-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"),
                ]
            ),
            **run,
        )
        options = f"-k {root} -c listen_addresses='' -c fsync=off -c full_page_writes=off"
        subprocess.run(
            _as_server_user(
                [
                    str(bin_dir / "pg_ctl"),
                    *("-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60", "start"),
                ]
            ),
            **run,
        )
        yield bin_dir, root
    except subprocess.CalledProcessError as failed:
        pytest.fail(f"PostgreSQL did not start: {failed.cmd}\n{failed.stdout}\n{failed.stderr}")
    finally:
        subprocess.run(
            _as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres(postgres_server: tuple[Path, Path], request: pytest.FixtureRequest) -> str:
    """A new catalog database on the module's server (a DuckLake remembers its data path)."""
    bin_dir, socket_dir = postgres_server
    name = "pms_lake_" + "".join(c if c.isalnum() else "_" for c in request.node.name).lower()
    subprocess.run(
        [str(bin_dir / "createdb"), "-h", str(socket_dir), "-U", "postgres", name[:60]],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return f"host={socket_dir} dbname={name[:60]} user=postgres"


# Columns that name the run or the wall clock: they differ between any two runs.
PER_RUN_COLUMNS = {"run_id", "ingested_at", "checked_at", "changed_at", "recorded_at"}
# audit.runs digests cover run ids and timestamps of the rows they seal, so they differ too.
PER_RUN_AUDIT_RUNS = {
    "inputs_digest",
    "versions_digest",
    "status_changes_digest",
    "record_hash",
}
COMPARED_TABLES = (
    "marts.vigilance_flags",
    "marts.complaint_rates",
    "marts.units_in_service",
    "marts.signals",
    "marts.compliance_flags",
    "marts.triage_suggestions",
    "audit.runs",
    "audit.ingested_files",
    "audit.check_results",
    "staging.complaint_versions",
    "staging.maude_texts",
    "raw.maude_devices_records",
)


def published_rows(con: duckdb.DuckDBPyConnection, table: str) -> tuple[list[str], list[tuple]]:
    """The table's columns minus per-run ones, and its rows in a fixed order."""
    columns = [d[0] for d in con.execute(f"SELECT * FROM {table} LIMIT 0").description]
    dropped = PER_RUN_COLUMNS | (PER_RUN_AUDIT_RUNS if table == "audit.runs" else set())
    kept = [c for c in columns if c not in dropped]
    select = ", ".join(f'"{c}"' for c in kept)
    return kept, con.execute(f"SELECT {select} FROM {table} ORDER BY ALL").fetchall()


def landing_with_fda(base: Path) -> None:
    write_landing(base / "landing", PRODUCT_ROWS)
    shutil.copytree(MAUDE_SAMPLE, base / "landing" / "maude")


def test_nightly_job_publishes_the_same_tables_in_the_lake(
    postgres: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    file_base, lake_base = tmp_path / "file", tmp_path / "lake"
    landing_with_fda(file_base)
    landing_with_fda(lake_base)

    monkeypatch.delenv(BACKEND_ENV, raising=False)
    assert main(run_argv(file_base)) == 0

    data_path = tmp_path / "lake-data"
    monkeypatch.setenv(BACKEND_ENV, "ducklake")
    monkeypatch.setenv(CATALOG_ENV, postgres)
    monkeypatch.setenv(DATA_PATH_ENV, str(data_path))
    started = time.perf_counter()
    assert main(run_argv(lake_base)) == 0
    print(f"lake run: {time.perf_counter() - started:.1f} s")
    # Nothing went to a DuckDB file: the lake run's --warehouse only holds the run lock.
    assert not (lake_base / "pms.duckdb").exists()
    assert (lake_base / "reports" / "index.html").is_file()

    lake = DuckLakeResource(catalog=postgres, data_path=str(data_path))
    with (
        duckdb.connect(str(file_base / "pms.duckdb"), read_only=True) as file_con,
        lake.get_connection() as lake_con,
    ):
        assert lake_con.execute("SELECT current_database()").fetchall() == [("lake",)]
        for table in COMPARED_TABLES:
            file_columns, file_rows = published_rows(file_con, table)
            lake_columns, lake_rows = published_rows(lake_con, table)
            assert lake_columns == file_columns, table
            assert lake_rows == file_rows, table
            file_types = [str(t) for t in file_con.sql(f"SELECT * FROM {table}").dtypes]
            lake_types = [str(t) for t in lake_con.sql(f"SELECT * FROM {table}").dtypes]
            assert lake_types == file_types, table
        # The tiny night still publishes something in each key table.
        for table in ("marts.vigilance_flags", "marts.complaint_rates", "audit.runs"):
            assert file_con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0] > 0
        # Every table of the file warehouse exists in the lake, and nothing else.
        listing = (
            "SELECT table_schema || '.' || table_name FROM information_schema.tables "
            "WHERE table_catalog = current_database() ORDER BY 1"
        )
        assert lake_con.execute(listing).fetchall() == file_con.execute(listing).fetchall()
        # The published tables are Parquet files under the data path.
        assert list(data_path.rglob("*.parquet"))

        # The catalog is in PostgreSQL: DuckLake's metadata tables, with a snapshot per commit.
        lake_con.execute(f"ATTACH {_literal(postgres)} AS pg_catalog_db (TYPE postgres, READ_ONLY)")
        metadata = {
            name
            for (name,) in lake_con.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_catalog = 'pg_catalog_db' AND table_schema = 'public'"
            ).fetchall()
        }
        assert {"ducklake_metadata", "ducklake_snapshot", "ducklake_table"} <= metadata
        snapshots = lake_con.execute(
            "SELECT count(*) FROM pg_catalog_db.public.ducklake_snapshot"
        ).fetchall()[0][0]
        assert snapshots > 10


def _literal(value: str) -> str:
    assert "'" not in value
    return f"'{value}'"


def _writers(postgres: str, data_path: Path, tmp_path: Path, mode: str) -> list[dict]:
    start = tmp_path / f"start-{mode}"
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                *("-m", "tests.lake.lake_writer", postgres, str(data_path), writer),
                *("8", str(start), mode),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=PROJECT,
            env=env,
        )
        for writer in ("a", "b")
    ]
    time.sleep(1)
    start.touch()  # both have attached the lake (or soon will): commit at the same time
    results = []
    for process in processes:
        out, err = process.communicate(timeout=180)
        assert process.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def test_two_processes_commit_to_the_lake_at_once(postgres: str, tmp_path: Path) -> None:
    data_path = tmp_path / "lake-data"
    lake = DuckLakeResource(catalog=postgres, data_path=str(data_path))
    with lake.get_connection() as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS probe")
        con.execute("CREATE TABLE probe.appends (writer VARCHAR, txn BIGINT, n BIGINT)")

    # Appends from two processes: every transaction commits, each exactly once.
    results = _writers(postgres, data_path, tmp_path, "append")
    assert [r["errors"] for r in results] == [[], []]
    with lake.get_connection() as con:
        counts = con.execute(
            "SELECT writer, count(DISTINCT txn), count(*), count(DISTINCT (txn, n)) "
            "FROM probe.appends GROUP BY writer ORDER BY writer"
        ).fetchall()
    assert counts == [("a", 8, 80, 80), ("b", 8, 80, 80)]

    # Two processes replacing one table (what two unguarded asset steps would do): the
    # catalog refuses a conflicting commit as a whole, never half of it; the table holds the
    # rows of exactly one committed transaction. The pool `duckdb_warehouse` keeps steps
    # from racing like this in the first place.
    results = _writers(postgres, data_path, tmp_path, "replace")
    for result in results:
        assert result["committed"] + len(result["errors"]) == 8
        for error in result["errors"]:
            assert "conflict" in error.lower(), error
    assert sum(r["committed"] for r in results) >= 1
    with lake.get_connection() as con:
        final = con.execute(
            "SELECT count(DISTINCT (writer, txn)), count(*), count(DISTINCT n) FROM probe.replaced"
        ).fetchall()
    assert final == [(1, 10, 10)]
    conflicts = sum(len(r["errors"]) for r in results)
    print(f"replace: {16 - conflicts} commits, {conflicts} refused as conflicts")


@pytest.mark.parametrize(
    "catalog",
    ["dbname=x password='secret'", "dbname=x' AS y; --", "host=h dbname=x\x00"],
)
def test_a_conninfo_that_could_break_the_attach_is_refused(catalog: str) -> None:
    with pytest.raises(WarehouseConfigError, match="single quote"):
        attach_statement(catalog, "/data/lake")


def test_an_unknown_backend_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from pipelines.warehouse_backends import warehouse_resource

    monkeypatch.setenv(BACKEND_ENV, "sqlite")
    with pytest.raises(WarehouseConfigError, match="expected one of"):
        warehouse_resource(tmp_path / "pms.duckdb")
    monkeypatch.setenv(BACKEND_ENV, "ducklake")
    monkeypatch.delenv(CATALOG_ENV, raising=False)
    with pytest.raises(WarehouseConfigError, match=CATALOG_ENV):
        warehouse_resource(tmp_path / "pms.duckdb")
