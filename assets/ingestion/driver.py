"""The ingestion driver: which landing files are new, and loading each one exactly once.

For every file: its sha256 is computed (or taken from `ingest_state.file_hashes` while the file's
stat is unchanged); a (path, sha256) already in `audit.ingested_files` is
skipped; the same content under another path is recorded as a duplicate and loads nothing; a new
file is loaded inside one transaction together with its audit row, so a crash leaves either the
whole file or none of it. A loader that fails unexpectedly does not stop the night: the file is
quarantined whole with the error as the reason.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from assets.ingestion.landing_csv import reject_whole_file
from assets.warehouse import FileLoadResult, already_ingested, record_ingested_file

# A loader gets (connection, file bytes or path, file_path, sha256, run_id).
FileLoader = Callable[[duckdb.DuckDBPyConnection, Path, str, str, str], FileLoadResult]


@dataclass(frozen=True)
class FileOutcome:
    file_path: str
    sha256: str
    source: str
    result: FileLoadResult
    duplicate_of: str | None = None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def landing_files(landing: Path, pattern: str) -> list[Path]:
    """Files matching a contract glob, in a fixed order (sorted by relative path)."""
    if not landing.is_dir():
        return []
    return sorted(
        (p for p in landing.glob(pattern) if p.is_file() and not p.name.startswith(".")),
        key=lambda p: p.relative_to(landing).as_posix(),
    )


def _seen_path_and_hash(con: duckdb.DuckDBPyConnection, file_path: str, sha256: str) -> bool:
    rows = con.execute(
        "SELECT 1 FROM audit.ingested_files WHERE file_path = ? AND sha256 = ? LIMIT 1",
        [file_path, sha256],
    ).fetchall()
    return bool(rows)


@dataclass(frozen=True)
class PendingFile:
    """A landing file whose (path, content) the warehouse has not seen yet."""

    path: Path
    file_path: str  # relative to the landing folder, '/'-separated
    sha256: str
    size: int


# The sha256 of every landing file is needed each night (a file whose content changed under the
# same name is new). Reading years of MAUDE files for it costs more than the night's work, so the
# hash is kept with the file's stat: size, modification and status-change times (ns) and inode.
# Any write to a file moves its status-change time, which no user tool can set back (unlike the
# modification time), so a changed content is always hashed again; a copied or restored landing
# folder is hashed again once. One row per landing path seen; a cache, never
# evidence (audit.ingested_files keeps the hashes of what was loaded).
FILE_HASHES_DDL = (
    "CREATE SCHEMA IF NOT EXISTS ingest_state",
    """
    CREATE TABLE IF NOT EXISTS ingest_state.file_hashes (
        file_path VARCHAR, size BIGINT, mtime_ns BIGINT, ctime_ns BIGINT, inode BIGINT,
        sha256 VARCHAR
    )
    """,
)

FileStat = tuple[int, int, int, int]  # size, mtime_ns, ctime_ns, inode


def file_stat(path: Path) -> FileStat:
    st = path.stat()
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def landing_hashes(
    con: duckdb.DuckDBPyConnection, landing: Path, files: list[Path]
) -> dict[str, str]:
    """sha256 of each file by its landing path; read again only for a file whose stat changed
    since it was hashed (FILE_HASHES_DDL)."""
    for statement in FILE_HASHES_DDL:
        con.execute(statement)
    names = [path.relative_to(landing).as_posix() for path in files]
    known = {
        row[0]: (tuple(row[1:5]), row[5])
        for row in con.execute(
            "SELECT file_path, size, mtime_ns, ctime_ns, inode, sha256 "
            "FROM ingest_state.file_hashes WHERE file_path IN (SELECT unnest(?))",
            [names],
        ).fetchall()
    }
    hashes: dict[str, str] = {}
    fresh: list[tuple] = []
    for path, file_path in zip(files, names, strict=True):
        before = file_stat(path)
        cached = known.get(file_path)
        if cached is not None and cached[0] == before:
            hashes[file_path] = cached[1]
            continue
        hashes[file_path] = sha256_of(path)
        if file_stat(path) == before:  # not being written while it was read
            fresh.append((file_path, *before, hashes[file_path]))
    if fresh:
        con.execute(
            "DELETE FROM ingest_state.file_hashes WHERE file_path IN (SELECT unnest(?))",
            [[row[0] for row in fresh]],
        )
        con.executemany("INSERT INTO ingest_state.file_hashes VALUES (?, ?, ?, ?, ?, ?)", fresh)
    return hashes


def pending_files(
    con: duckdb.DuckDBPyConnection, landing: Path, files: list[Path]
) -> list[PendingFile]:
    """The files among `files` not yet ingested with the same path and content, in order."""
    hashes = landing_hashes(con, landing, files)
    pending = []
    for path in files:
        file_path = path.relative_to(landing).as_posix()
        sha256 = hashes[file_path]
        if not _seen_path_and_hash(con, file_path, sha256):
            pending.append(PendingFile(path, file_path, sha256, path.stat().st_size))
    return pending


def ingest_files(
    con: duckdb.DuckDBPyConnection,
    landing: Path,
    files: list[Path],
    *,
    source: str,
    loader: FileLoader,
    run_id: str,
) -> list[FileOutcome]:
    """Load each new file of one source; returns what happened to every new file."""
    return ingest_pending(
        con, pending_files(con, landing, files), source=source, loader=loader, run_id=run_id
    )


def ingest_pending(
    con: duckdb.DuckDBPyConnection,
    pending: list[PendingFile],
    *,
    source: str,
    loader: FileLoader,
    run_id: str,
) -> list[FileOutcome]:
    """Load each pending file in its own transaction together with its audit row."""
    outcomes: list[FileOutcome] = []
    # Content first met tonight: a copy under another name is a duplicate of the file that
    # sorts first, whether or not the warehouse shows the first one yet.
    tonight: dict[str, str] = {}
    for item in pending:
        path, file_path, sha256, size = item.path, item.file_path, item.sha256, item.size
        first = tonight.get(sha256) or already_ingested(con, sha256)
        if first is None:
            tonight[sha256] = file_path
        con.begin()
        try:
            if first is not None:
                result = FileLoadResult(0, 0, 0, status="duplicate")
            else:
                try:
                    result = loader(con, path, file_path, sha256, run_id)
                except Exception as err:  # a loader bug must not stop the night
                    con.rollback()
                    con.begin()
                    result = reject_whole_file(
                        con,
                        path.read_bytes(),
                        source=source,
                        reason=f"the loader failed: {type(err).__name__}: {err}",
                        file_path=file_path,
                        sha256=sha256,
                        run_id=run_id,
                    )
            record_ingested_file(
                con,
                file_path=file_path,
                sha256=sha256,
                source=source,
                result=result,
                run_id=run_id,
                file_bytes=size,
                duplicate_of=first,
            )
            con.commit()
        except BaseException:
            con.rollback()
            raise
        outcomes.append(FileOutcome(file_path, sha256, source, result, first))
    return outcomes
