"""Memo of the nightly signal replay: which month-end nights can be reused from an earlier run.

The replay recomputes every month end from the first complaint to the as-of night. A month-end
night's result depends only on the input rows known by that night (and on whole-table inputs,
configuration and code), so each such *canonical* night gets a fingerprint of exactly those rows.
A run reuses the stored detections of the canonical nights before the first night whose
fingerprint is missing or different (the restart point) and replays the nights from there on.

The per-row digests come from the warehouse as monthly totals (rows and a sum of row hashes per
month of the date from which a row is known); this module only combines them. No Dagster here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

# Bump when the meaning of the stored state changes (what is stored, how it is keyed).
STATE_VERSION = "1"

# (month start, rows known from a day of that month, sum of their row hashes)
MonthTotal = tuple[dt.date, int, int]


def is_month_end(day: dt.date) -> bool:
    return (day + dt.timedelta(days=1)).day == 1


def canonical_nights(nights: Iterable[dt.date]) -> list[dt.date]:
    """The nights whose result can be stored: the month ends (an as-of night that is itself a
    month end is computed exactly like one)."""
    return [n for n in nights if is_month_end(n)]


def digest(parts: Mapping[str, Any]) -> str:
    """sha256 of a JSON rendering (sorted keys; dates and other values as text)."""
    text = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def code_version(root: Path, files: Iterable[str]) -> str:
    """sha256 of the named source files (paths relative to `root`, in sorted order)."""
    h = hashlib.sha256()
    for name in sorted(set(files)):
        h.update(name.encode() + b"\x00")
        h.update((root / name).read_bytes())
        h.update(b"\x00")
    return h.hexdigest()


def night_fingerprints(
    nights: Sequence[dt.date], tables: Mapping[str, Iterable[MonthTotal]], context: str
) -> dict[dt.date, str]:
    """Fingerprint of each night: the context plus, per input table, the number and hash sum of
    the rows known by the night (cumulative monthly totals up to the night's month)."""
    cumulative: dict[str, list[MonthTotal]] = {}
    for name, totals in tables.items():
        rows, hashes, running = 0, 0, []
        for month, n, s in sorted(totals):
            rows, hashes = rows + int(n), hashes + int(s)
            running.append((month, rows, hashes))
        cumulative[name] = running
    out: dict[dt.date, str] = {}
    for night in nights:
        parts: dict[str, Any] = {"context": context}
        for name, running in cumulative.items():
            known = [(n, s) for month, n, s in running if month <= night]
            parts[name] = list(known[-1]) if known else [0, 0]
        out[night] = digest(parts)
    return out


def restart_point(
    fingerprints: Mapping[dt.date, str], stored: Mapping[dt.date, str]
) -> dt.date | None:
    """The first canonical night that must be replayed: the earliest whose fingerprint is missing
    from or different in the stored state. The stored nights before it must be exactly the
    canonical nights before it (else everything is replayed); stored nights after the last
    canonical one (a run of a later as-of night) do not matter. None when every night matches."""
    nights = sorted(fingerprints)
    if not nights:
        return None
    restart = next((n for n in nights if stored.get(n) != fingerprints[n]), None)
    bound = restart if restart is not None else nights[-1] + dt.timedelta(days=1)
    if sorted(n for n in stored if n < bound) != [n for n in nights if n < bound]:
        return nights[0]
    return restart
