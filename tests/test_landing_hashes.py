"""Landing file hashes: taken again only when a file's stat changed, never missing a new content."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import duckdb
import pytest

from assets.ingestion import driver


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files whose bytes were read for a hash, in order."""
    reads: list[str] = []
    real = driver.sha256_of

    def counting(path: Path) -> str:
        reads.append(path.name)
        return real(path)

    monkeypatch.setattr(driver, "sha256_of", counting)
    return reads


def test_a_file_is_read_again_only_when_it_changed(tmp_path: Path, counted: list[str]) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    first, second = landing / "a.csv", landing / "b.csv"
    first.write_text("id\n1\n")
    second.write_text("id\n2\n")
    con = duckdb.connect()
    files = [first, second]
    hashes = driver.landing_hashes(con, landing, files)
    assert hashes == {
        "a.csv": hashlib.sha256(b"id\n1\n").hexdigest(),
        "b.csv": hashlib.sha256(b"id\n2\n").hexdigest(),
    }
    assert counted == ["a.csv", "b.csv"]
    # the next night: nothing changed, nothing is read
    assert driver.landing_hashes(con, landing, files) == hashes
    assert counted == ["a.csv", "b.csv"]
    # same size, and the modification time set back: the status-change time still moved
    stat = first.stat()
    first.write_text("id\n9\n")
    os.utime(first, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert first.stat().st_size == stat.st_size and first.stat().st_mtime_ns == stat.st_mtime_ns
    again = driver.landing_hashes(con, landing, files)
    assert again["a.csv"] == hashlib.sha256(b"id\n9\n").hexdigest()
    assert again["b.csv"] == hashes["b.csv"]
    assert counted == ["a.csv", "b.csv", "a.csv"]


def test_a_changed_file_is_pending_again(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    path = landing / "a.csv"
    path.write_text("id\n1\n")
    con = duckdb.connect()
    con.execute("CREATE SCHEMA audit")
    con.execute("CREATE TABLE audit.ingested_files (file_path VARCHAR, sha256 VARCHAR)")
    [pending] = driver.pending_files(con, landing, [path])
    con.execute(
        "INSERT INTO audit.ingested_files VALUES (?, ?)", [pending.file_path, pending.sha256]
    )
    assert driver.pending_files(con, landing, [path]) == []
    path.write_text("id\n2\n")
    [changed] = driver.pending_files(con, landing, [path])
    assert changed.sha256 == hashlib.sha256(b"id\n2\n").hexdigest()
