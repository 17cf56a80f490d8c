"""One writer per warehouse: every step that writes it runs in the warehouse pool, and a second
night on the same warehouse waits or refuses with a message instead of crashing on DuckDB's lock."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from assets.quality.definitions import QUALITY_CHECKS
from assets.resources import WAREHOUSE_POOL
from pipelines.definitions import ALL_ASSETS
from pipelines.run_lock import WarehouseBusy, lock_path_for, warehouse_lock

HOLD = """
import sys, time
from pathlib import Path
from pipelines.run_lock import warehouse_lock
with warehouse_lock(Path(sys.argv[1]), "pms run as of 2026-10-31"):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_every_step_that_writes_the_warehouse_is_in_its_pool() -> None:
    assert {a.node_def.pool for a in ALL_ASSETS} == {WAREHOUSE_POOL}
    assert {c.node_def.pool for c in QUALITY_CHECKS} == {WAREHOUSE_POOL}


def hold(warehouse: Path, seconds: float) -> subprocess.Popen:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(warehouse), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def test_a_second_night_refuses_with_the_holder_named(tmp_path: Path) -> None:
    warehouse = tmp_path / "pms.duckdb"
    holder = hold(warehouse, 30)
    try:
        with pytest.raises(WarehouseBusy) as refused, warehouse_lock(warehouse, "second"):
            pass
        message = str(refused.value)
        assert "pms run as of 2026-10-31" in message and f"pid {holder.pid}" in message
        assert "--wait" in message
    finally:
        holder.kill()
        holder.wait()
    # the kernel dropped the killed holder's lock: no stale lock after a crash
    with warehouse_lock(warehouse, "third") as path:
        assert path == lock_path_for(warehouse)


def test_a_second_night_can_queue_behind_the_first(tmp_path: Path) -> None:
    warehouse = tmp_path / "pms.duckdb"
    holder = hold(warehouse, 1.5)
    started = time.monotonic()
    with warehouse_lock(warehouse, "queued", wait_seconds=30):
        waited = time.monotonic() - started
    holder.wait()
    assert holder.returncode == 0 and waited > 0.5


def test_the_instance_settings_limit_the_warehouse_pool_to_one_step(tmp_path: Path) -> None:
    import shutil

    import dagster as dg

    shutil.copy(Path(__file__).resolve().parent.parent / "config" / "dagster.yaml", tmp_path)
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        settings = instance.get_concurrency_config()
        assert settings.pool_config.default_pool_limit == 1


def test_pms_run_refuses_while_another_night_holds_the_warehouse(tmp_path: Path, capsys) -> None:
    from pipelines.cli import main
    from tests.test_blocked_night import PRODUCT_ROWS, write_landing

    write_landing(tmp_path / "landing", PRODUCT_ROWS)
    warehouse = tmp_path / "pms.duckdb"
    holder = hold(warehouse, 60)
    try:
        argv = ["run", "--landing", str(tmp_path / "landing"), "--warehouse", str(warehouse)]
        argv += ["--reports", str(tmp_path / "reports"), "--as-of", "2024-06-30"]
        assert main([*argv, "--wait", "1"]) == 2  # could not start
    finally:
        holder.kill()
        holder.wait()
    err = capsys.readouterr().err
    assert f"is in use by pms run as of 2026-10-31 (pid {holder.pid}" in err
    assert not warehouse.exists()  # refused before anything was written
