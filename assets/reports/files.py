"""Publishing a file so that no reader ever sees half of it."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def write_atomically(path: Path, text: str | bytes) -> bytes:
    """Write via a temporary file and rename, so a reader never sees half a report; on an
    error (full or read-only disk) the temporary file is removed and `path` is left as it was."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with tmp.open("wb") as handle:
            handle.write(data)
            handle.flush()
            # a full disk may only report itself when the data is flushed: before the rename
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        # a full or read-only disk: leave no partial temporary file, keep the previous report
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.filename is None:
            # a failed write() names no file: name the one that could not be written
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise
    return data
