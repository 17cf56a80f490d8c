"""The audit trail's hash chain and reportability change log (pure logic, no Dagster, no DuckDB).

In the spirit of 21 CFR 11.10(e) and EU GMP Annex 11 §9: every run leaves one record saying who
ran what code with which configuration, why, and on which evidence; each record carries the hash
of the record before it, so that editing, deleting, inserting or reordering a stored record
breaks the chain at that point and `pms verify-audit` names the run.

- `canonical(value)`: the one serialisation every hash is taken over: JSON with sorted keys,
  no spaces, dates and timestamps in ISO 8601, decimals as text. Two equal records always
  serialise to the same bytes, whatever the order their fields were built in.
- `record_hash(prev_hash, record)`: sha256 hex of `prev_hash + "\\n" + canonical(record)`, the
  record without its own `prev_hash`/`record_hash` fields. The first record's prev_hash is
  `GENESIS_HASH` (64 zeros).
- A run record also keeps digests of the rows the run wrote elsewhere (ingested files, complaint
  versions, reportability changes), computed inside DuckDB (`assets/audit/trail.py`): a silent
  edit of one of those rows no longer matches the digest sealed in the chain.
- `verify_chain(records)`: the broken links of a chain, each as a `Finding` naming the run,
  its position and what was expected and found.
- `reportability_changes(previous, current)`: which reportability decisions changed since the
  last recorded state (first appearance is a change from nothing; disappearance a change to
  nothing).

The chain proves that nothing was changed *inside* the warehouse without rewriting every later
record; someone able to rewrite them all recomputes a consistent chain. The last hash is
therefore also kept outside the warehouse (the Dagster event log of the run, and printed by
`pms verify-audit`), where it can be compared.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

GENESIS_HASH = "0" * 64

# The fields of a run record that are not hashed as content: the links themselves.
LINK_FIELDS = ("prev_hash", "record_hash")

# What identifies one reportability decision, and what of it is tracked.
DECISION_KEY = ("complaint_id", "regime", "report_kind", "received_date")
DECISION_FIELDS = (
    "rule",
    "route",
    "reportable",
    "status",
    "due_date",
    "reported_date",
    "data_state",
)

# (digest field, row-count field, what a person reads) per evidence table sealed in a record.
SEALED_EVIDENCE = (
    ("inputs_digest", "inputs_rows", "files ingested by run {run}"),
    ("versions_digest", "versions_rows", "complaint versions loaded by run {run}"),
    ("status_changes_digest", "status_changes_rows", "status changes of run {run}"),
)


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def canonical(value: Any) -> str:
    """The canonical JSON text of a value (sorted keys, no spaces, ISO dates)."""
    return json.dumps(_plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def hashed_content(record: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a run record its hash covers: everything except the links."""
    return {k: v for k, v in record.items() if k not in LINK_FIELDS}


def record_hash(prev_hash: str, record: Mapping[str, Any]) -> str:
    """sha256 (hex) of the previous record's hash and this record's canonical content."""
    text = prev_hash + "\n" + canonical(hashed_content(record))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def chain(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Link records (in order) into a chain: sets prev_hash and record_hash of each."""
    linked, prev = [], GENESIS_HASH
    for record in records:
        content = hashed_content(record)
        current = record_hash(prev, content)
        linked.append({**content, "prev_hash": prev, "record_hash": current})
        prev = current
    return linked


@dataclass(frozen=True)
class Finding:
    """One way the audit trail does not match what was recorded."""

    run_id: str
    position: int  # 1-based place in the stored order
    sequence: int | None  # the record's own sequence number
    problem: str  # sequence | link | record_hash | evidence
    message: str
    expected: str | None = None
    found: str | None = None

    def __str__(self) -> str:
        return self.message


def _short(value: str | None) -> str:
    return f"{value[:16]}…" if value else "(none)"


def verify_chain(records: Sequence[Mapping[str, Any]]) -> list[Finding]:
    """Every broken link of a chain given in stored order (by sequence), in order.

    Per record: its sequence number must follow the one before it (1 for the first; a gap
    means a deleted record, a repeat or a step back an inserted or reordered one); its
    prev_hash must be the stored hash of the record before it (genesis for the first); its
    record_hash must be the hash of its own content and prev_hash (otherwise the stored record
    was edited after it was written). An intact chain gives no finding.
    """
    findings: list[Finding] = []
    expected_prev, expected_sequence = GENESIS_HASH, 1
    for position, record in enumerate(records, start=1):
        run_id = str(record.get("run_id"))
        sequence = record.get("sequence")
        label = f"run {run_id} (#{sequence})"
        if sequence != expected_sequence:
            findings.append(
                Finding(
                    run_id,
                    position,
                    sequence,
                    "sequence",
                    f"{label}: sequence number {sequence} where {expected_sequence} was expected "
                    f"at position {position}: a run record was deleted, inserted or reordered",
                    str(expected_sequence),
                    str(sequence),
                )
            )
        expected_sequence = (sequence if isinstance(sequence, int) else position) + 1
        stored_prev = record.get("prev_hash")
        if stored_prev != expected_prev:
            findings.append(
                Finding(
                    run_id,
                    position,
                    sequence,
                    "link",
                    f"{label}: chain broken: its prev_hash {_short(stored_prev)} is not the hash "
                    f"{_short(expected_prev)} of the record before it: a run record was deleted, "
                    "inserted or reordered, or a hash was edited",
                    expected_prev,
                    stored_prev,
                )
            )
        recomputed = record_hash(str(stored_prev), record)
        stored = record.get("record_hash")
        if recomputed != stored:
            findings.append(
                Finding(
                    run_id,
                    position,
                    sequence,
                    "record_hash",
                    f"{label}: record hash mismatch: the stored record was edited after it was "
                    f"written (its content hashes to {_short(recomputed)}, stored "
                    f"{_short(stored)})",
                    recomputed,
                    stored,
                )
            )
        expected_prev = str(stored)
    return findings


def verify_evidence(
    records: Sequence[Mapping[str, Any]], recomputed: Mapping[str, Mapping[str, Any]]
) -> list[Finding]:
    """Digests sealed in each record compared with the digests of the rows found now.

    `recomputed[run_id]` holds the same digest and row-count fields as a record, computed from
    the tables today. A mismatch means rows the run wrote were edited, deleted or added later;
    when the record's own hash is also broken, the sealed digest itself may have been edited.
    """
    findings: list[Finding] = []
    for position, record in enumerate(records, start=1):
        run_id = str(record.get("run_id"))
        now = recomputed.get(run_id, {})
        for digest_field, rows_field, what in SEALED_EVIDENCE:
            if digest_field not in record:
                continue
            if record[digest_field] == now.get(digest_field):
                continue
            findings.append(
                Finding(
                    run_id,
                    position,
                    record.get("sequence"),
                    "evidence",
                    f"run {run_id} (#{record.get('sequence')}): {what.format(run=run_id)} "
                    f"changed since it was recorded ({digest_field}: recorded "
                    f"{record.get(rows_field)} rows {_short(record[digest_field])}, found "
                    f"{now.get(rows_field)} rows {_short(now.get(digest_field))})",
                    str(record[digest_field]),
                    None if now.get(digest_field) is None else str(now.get(digest_field)),
                )
            )
    return findings


def _key(row: Mapping[str, Any]) -> tuple:
    return tuple(row.get(k) for k in DECISION_KEY)


def _sort_key(key: tuple) -> tuple:
    return tuple((v is None, "" if v is None else str(v)) for v in key)


def reportability_changes(
    previous: Iterable[Mapping[str, Any]], current: Iterable[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Decisions whose tracked fields differ from the last recorded state, in key order.

    `previous`: the latest recorded state per decision key (the `new_*` values of its last
    change, as plain field names; a decision recorded as gone has status None). `current`: the
    night's flags (marts.vigilance_flags rows). Each change has the key, `old_<field>` and
    `new_<field>` for every tracked field. A key seen twice in `current` keeps its first row.
    """
    before = {_key(row): row for row in previous if row.get("status") is not None}
    now: dict[tuple, Mapping[str, Any]] = {}
    for row in current:
        now.setdefault(_key(row), row)
    changes = []
    for key in sorted(before.keys() | now.keys(), key=_sort_key):
        old, new = before.get(key, {}), now.get(key, {})
        if all(old.get(f) == new.get(f) for f in DECISION_FIELDS):
            continue
        change: dict[str, Any] = dict(zip(DECISION_KEY, key, strict=True))
        for field in DECISION_FIELDS:
            change[f"old_{field}"] = old.get(field)
            change[f"new_{field}"] = new.get(field)
        changes.append(change)
    return changes
