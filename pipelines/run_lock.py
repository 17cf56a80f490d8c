"""One night at a time per warehouse: an advisory lock beside the DuckDB file.

DuckDB lets one process write a database file; a second `pms run` on the same warehouse would
fail somewhere inside the job on DuckDB's own lock. `warehouse_lock` takes an exclusive `flock`
on `<warehouse>.lock` before the job starts, so a second run waits (up to `wait_seconds`) or
refuses at once with a message naming the run that holds it. The kernel releases the lock when
the holder exits, however it exits (SIGKILL included), so a crash never leaves a stale lock.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class WarehouseBusy(RuntimeError):
    """Another process holds the warehouse."""


def lock_path_for(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".lock")


def _holder(fd: int) -> str:
    os.lseek(fd, 0, os.SEEK_SET)
    text = os.read(fd, 4096).decode("utf-8", "replace").strip()
    try:
        info = json.loads(text)
    except ValueError:
        return "another process"
    return (
        f"{info.get('what', 'a run')} (pid {info.get('pid')} on {info.get('host')}, "
        f"started {info.get('started')})"
    )


@contextmanager
def warehouse_lock(warehouse: Path, what: str, wait_seconds: float = 0) -> Iterator[Path]:
    """Hold the warehouse for the duration of the block; raise WarehouseBusy when another
    process still holds it after `wait_seconds`."""
    path = lock_path_for(warehouse)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + max(wait_seconds, 0)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise WarehouseBusy(
                        f"warehouse {warehouse} is in use by {_holder(fd)}; "
                        f"waited {wait_seconds:g} s. Run again when it has finished, or pass "
                        "--wait SECONDS to queue behind it."
                    ) from None
                time.sleep(0.5)
        info = {
            "what": what,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        try:
            yield path
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
