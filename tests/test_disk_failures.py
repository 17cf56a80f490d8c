"""A read-only or full disk under the warehouse or the reports: `pms run` says which path and
what the OS said, and leaves nothing half-written.

Each night runs the real `pms run` in a subprocess. The disk conditions are made inside a user
and mount namespace (`unshare -rm`), which works unprivileged and as root alike (chmod does not
stop root): a bind mount remounted read-only gives a read-only folder, a small tmpfs a disk that
fills up. What the namespace saw is copied back out before it ends, so the next (recovery) night
starts from the state the failed night left."""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.test_blocked_night import PRODUCT_ROWS, run_argv, write_landing
from tests.test_crash_recovery import AS_OF, snapshot

ENV = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}  # ephemeral instance
# Room left on the small disks above what the previous night's files take: enough for the night
# to start (ingestion, the first transactions), far too little for the whole night.
WAREHOUSE_MARGIN_KIB = 128
REPORTS_MARGIN_KIB = 1024


def pms(argv: list[str], setup: str = "", after: str = "") -> subprocess.CompletedProcess[str]:
    """`pms ARGV`; inside a fresh user + mount namespace when `setup` prepares the disks, then
    `after` runs (whatever the exit code) before the namespace ends."""
    command = [sys.executable, "-m", "pipelines.cli", *argv]
    if setup:
        script = f"set -e; {setup}; set +e; {shlex.join(command)}; rc=$?; {after or ':'}; exit $rc"
        command = ["unshare", "-rm", "sh", "-c", script]
    return subprocess.run(command, capture_output=True, text=True, env=ENV, timeout=600)


def with_option(argv: list[str], option: str, value: Path) -> list[str]:
    argv = list(argv)
    argv[argv.index(option) + 1] = str(value)
    return argv


def kib(path: Path) -> int:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(-(-p.stat().st_size // 4096) * 4 for p in files)


def files_of(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def q(path: Path) -> str:
    return shlex.quote(str(path))


@pytest.fixture(scope="module", autouse=True)
def namespace(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Skip (with the reason) where user + mount namespaces are not available."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is not installed")
    probe = tmp_path_factory.mktemp("probe")
    script = (
        f"mount -t tmpfs -o size=64k tmpfs {q(probe)} && "
        f"mount --bind {q(probe)} {q(probe)} && mount -o remount,bind,ro {q(probe)}"
    )
    result = subprocess.run(
        ["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        pytest.skip(f"user + mount namespaces unavailable here: {result.stderr.strip()}")


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    base = tmp_path_factory.mktemp("clean")
    write_landing(base / "landing", PRODUCT_ROWS)
    result = pms(run_argv(base, AS_OF))
    assert result.returncode == 0, result.stderr
    return snapshot(base)


def prior_night(base: Path) -> dict[str, str]:
    """A published night in `base`; the digests of its report files (manifest included)."""
    write_landing(base / "landing", PRODUCT_ROWS)
    result = pms(run_argv(base, AS_OF))
    assert result.returncode == 0, result.stderr
    return files_of(base / "reports")


def assert_refused_before_the_night(result: subprocess.CompletedProcess[str], folder: Path) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(folder) in lines[0]
    assert "the night was not started" in lines[0]
    assert "pms_nightly" not in result.stdout + result.stderr  # the Dagster job never started


def assert_clear_last_line(result: subprocess.CompletedProcess[str]) -> None:
    """Dagster's log above keeps the step's stack trace; the last line says what happened."""
    last = result.stderr.strip().splitlines()[-1]
    # exit 3: the morning page and the audit record could not be published (README, exit codes)
    assert last.startswith("pms run: exit 3: the night stopped at "), last
    assert "Nothing is half-written" in last and "then run pms run again" in last


def assert_warehouse_sound(base: Path) -> None:
    verify = pms(["verify-audit", "--warehouse", str(base / "pms.duckdb")])
    assert verify.returncode == 0, verify.stdout + verify.stderr
    with duckdb.connect(str(base / "pms.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM staging.complaints").fetchall()[0][0] == 2


def test_read_only_warehouse_folder_is_refused_before_the_night(tmp_path: Path) -> None:
    write_landing(tmp_path / "landing", PRODUCT_ROWS)
    ro = f"mount --bind {q(tmp_path)} {q(tmp_path)} && mount -o remount,bind,ro {q(tmp_path)}"
    result = pms(run_argv(tmp_path, AS_OF), setup=ro)
    assert_refused_before_the_night(result, tmp_path)
    assert "warehouse folder" in result.stderr
    assert "read-only file system" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["landing"]


def test_read_only_reports_folder_is_refused_before_the_night(tmp_path: Path) -> None:
    write_landing(tmp_path / "landing", PRODUCT_ROWS)
    reports = tmp_path / "reports"
    reports.mkdir()
    ro = f"mount --bind {q(reports)} {q(reports)} && mount -o remount,bind,ro {q(reports)}"
    result = pms(run_argv(tmp_path, AS_OF), setup=ro)
    assert_refused_before_the_night(result, reports)
    assert "reports folder" in result.stderr
    assert "read-only file system" in result.stderr
    assert not (tmp_path / "pms.duckdb").exists()
    assert list(reports.iterdir()) == []


def test_a_full_reports_disk_is_refused_before_the_night(tmp_path: Path) -> None:
    write_landing(tmp_path / "landing", PRODUCT_ROWS)
    reports = tmp_path / "reports"
    reports.mkdir()
    full = (
        f"mount -t tmpfs -o size=64k tmpfs {q(reports)} && "
        f"(head -c 1048576 /dev/zero > {q(reports / 'filler')} 2>/dev/null || true)"
    )
    result = pms(run_argv(tmp_path, AS_OF), setup=full, after=f"ls -A {q(reports)}")
    assert_refused_before_the_night(result, reports)
    assert "no space left on device" in result.stderr
    assert result.stdout.split() == ["filler"]  # the preflight's probe file is gone
    assert not (tmp_path / "pms.duckdb").exists()


def test_warehouse_disk_filling_up_mid_night(clean: dict[str, str], tmp_path: Path) -> None:
    published = prior_night(tmp_path)
    disk = tmp_path / "disk"
    disk.mkdir()
    size = kib(tmp_path / "pms.duckdb") + WAREHOUSE_MARGIN_KIB
    setup = (
        f"mount -t tmpfs -o size={size}k tmpfs {q(disk)} && cp {q(tmp_path)}/pms.duckdb {q(disk)}"
    )
    # what the failed night left (the database and its write-ahead log) replaces the original
    after = f"rm -f {q(tmp_path)}/pms.duckdb*; cp {q(disk)}/pms.duckdb* {q(tmp_path)}"
    argv = with_option(run_argv(tmp_path, AS_OF), "--warehouse", disk / "pms.duckdb")
    result = pms(argv, setup=setup, after=after)

    assert result.returncode == 3, result.stdout + result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert f"{disk}/pms.duckdb" in last
    assert "No space left on device (ENOSPC)" in last
    assert_clear_last_line(result)
    assert "Nothing is half-written" in result.stderr
    assert_warehouse_sound(tmp_path)
    assert files_of(tmp_path / "reports") == published

    again = pms(run_argv(tmp_path, AS_OF))
    assert again.returncode == 0, again.stderr
    assert snapshot(tmp_path) == clean


def test_reports_disk_filling_up_mid_night(clean: dict[str, str], tmp_path: Path) -> None:
    published = prior_night(tmp_path)
    reports, disk = tmp_path / "reports", tmp_path / "disk"
    disk.mkdir()
    size = kib(reports) + REPORTS_MARGIN_KIB
    setup = f"mount -t tmpfs -o size={size}k tmpfs {q(disk)} && cp -a {q(reports)} {q(disk)}"
    after = f"rm -rf {q(reports)}; cp -a {q(disk / 'reports')} {q(tmp_path)}"
    result = pms(
        with_option(run_argv(tmp_path, AS_OF), "--reports", disk / "reports"), setup, after
    )

    # The family report did not fit; the morning page (smaller) still did: the safety-critical
    # path published, so the night ends with exit 1 naming the failure (README, exit codes).
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("pms run: exit 1: ") and "reports__pms_reports" in lines[-1]
    storage = next(line for line in lines if line.startswith("pms run: the night stopped at "))
    assert f"{disk}/reports/psur_" in storage
    assert ".tmp" not in storage  # names the report, not its temporary file
    assert "No space left on device (ENOSPC)" in storage and "Nothing is half-written" in storage
    # no temporary or partial file; the last published family reports and PDFs are untouched,
    # and tonight's morning page names the failed step
    now = files_of(reports)
    assert not [name for name in now if name.endswith(".tmp") or name.startswith(".")]
    family = {n for n in published if n.startswith("psur_") or n == "family_reports.json"}
    assert {n: now[n] for n in family} == {n: published[n] for n in family}
    assert "reports__pms_reports" in (reports / "vigilance.html").read_text()
    assert_warehouse_sound(tmp_path)

    again = pms(run_argv(tmp_path, AS_OF))
    assert again.returncode == 0, again.stderr
    assert snapshot(tmp_path) == clean
