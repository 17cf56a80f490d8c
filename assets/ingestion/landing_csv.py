"""Read one landing CSV file of the data contract into raw, staging and quarantine.

Plain Python + Polars + DuckDB, no Dagster import. Every record read is accounted for: it is
loaded, or it goes to `quarantine.rejected_rows` with its exact raw text and a reason naming the
column, what was expected and what was found. The caller (the ingestion driver) owns the
transaction around one file.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from typing import Any

import duckdb
import polars as pl

from assets.ingestion.sources import SourceSpec, raw_ddl, staging_ddl
from assets.quality.row_rules import apply_row_rules, record_check_results
from assets.warehouse import (
    FileLoadResult,
    RejectedRow,
    header_names,
    record_quarantine,
    split_raw_fields,
)

# Narratives can be long (a pasted e-mail thread): Python's default 128 KiB field limit would
# reject them. 256 MiB still stops a runaway unterminated quote from eating the memory.
csv.field_size_limit(256 * 1024 * 1024)

# The current version of each complaint, kept beside every version.
CURRENT_COMPLAINTS_TABLE = "complaints"


@dataclass(frozen=True)
class ParsedCsv:
    """A landing CSV split into records, before any typing."""

    header: list[str]
    records: list[tuple[int, str, list[str]]]  # (row_number, raw text, fields)


class FileRejected(Exception):
    """The whole file cannot be read as the contract asks; the reason says why."""


def decode_landing_bytes(data: bytes) -> str:
    """UTF-8 text of a landing file (a UTF-8 byte-order mark is accepted and removed)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FileRejected("the file is UTF-16 encoded (byte-order mark found); expected UTF-8")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        found = data[err.start : err.start + 1].hex().upper()
        raise FileRejected(
            f"not UTF-8: byte 0x{found} at line {line} cannot be decoded "
            "(the file looks Windows-1252 or Latin-1 encoded); expected UTF-8"
        ) from None


def raw_text_for_quarantine(data: bytes) -> str:
    """Readable, lossless text of a rejected file: UTF-16 (by its byte-order mark) is decoded as
    such; otherwise UTF-8 with every undecodable byte kept as a \\xNN escape."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    return data.decode("utf-8", errors="backslashreplace")


LINE_ENDS = re.compile(r"(?<=\n)|(?<=\r)(?!\n)")


def split_records(text: str) -> ParsedCsv:
    """Split CSV text into its header and records, keeping each record's exact raw text."""
    # Every line end a spreadsheet may write (CRLF, LF, and a bare CR as classic Mac OS wrote
    # it) ends a line; inside quotes the reader joins lines again. A stray CR in an unquoted
    # field thus splits its record (each part then fails the field count and is quarantined
    # with its raw text) instead of stopping the reader.
    lines = LINE_ENDS.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    reader = csv.reader(iter(lines), strict=False)
    header: list[str] | None = None
    records: list[tuple[int, str, list[str]]] = []
    consumed = 0
    record_index = 0
    for fields in reader:
        start, consumed = consumed, reader.line_num
        raw = "".join(lines[start:consumed]).rstrip("\r\n")
        if not fields or (len(fields) == 1 and fields[0].strip() == ""):
            continue  # a blank line holds no data
        if header is None:
            header = [h.strip().lstrip("\ufeff").lower() for h in fields]
            continue
        record_index += 1
        records.append((record_index + 1, raw, fields))  # header is row 1
    return ParsedCsv(header=header or [], records=records)


def check_header(header: list[str], spec: SourceSpec) -> None:
    if not header:
        raise FileRejected("the file is empty: no header row")
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise FileRejected(f"the header names column '{name}' twice")
        seen.add(name)
    missing = [c for c in spec.required_columns if c not in seen]
    if missing:
        hint = ""
        if len(header) == 1:
            for delim, label in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe")):
                if delim in header[0]:
                    hint = f"; the header looks {label}-delimited, expected commas"
                    break
        raise FileRejected(
            f"missing required column(s) {', '.join(missing)}; "
            f"the header has: {', '.join(header)[:300]}{hint}"
        )


def _column_check(spec_col, value: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(typed value, reason or null) for one column of the contract."""
    text = value.str.strip_chars()
    empty = text.is_null() | (text == "")
    found = pl.lit("found '") + text + pl.lit("'")
    kind = spec_col.kind
    if kind == "date":
        typed = pl.when(text.str.contains(r"^\d{4}-\d{2}-\d{2}$")).then(
            text.str.to_date("%Y-%m-%d", strict=False)
        )
        expected = "expected an ISO date YYYY-MM-DD"
    elif kind == "timestamp":
        iso = text.str.replace(r"Z$", "+00:00").str.replace(" ", "T")
        with_offset = (
            iso.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%:z", strict=False, time_unit="us")
            .dt.convert_time_zone("UTC")
            .dt.replace_time_zone(None)
        )
        naive = iso.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", strict=False, time_unit="us")
        date_only = pl.when(iso.str.contains(r"^\d{4}-\d{2}-\d{2}$")).then(
            iso.str.to_date("%Y-%m-%d", strict=False).cast(pl.Datetime("us"))
        )
        typed = pl.coalesce(with_offset, naive, date_only)
        expected = "expected an ISO 8601 timestamp such as 2024-03-05T10:22:00"
    elif kind == "int":
        typed = pl.when(text.str.contains(r"^[+-]?\d+$")).then(text.cast(pl.Int64, strict=False))
        expected = "expected a whole number"
    elif kind == "float":
        as_float = text.cast(pl.Float64, strict=False)
        typed = pl.when(as_float.is_finite()).then(as_float)
        expected = "expected a number"
    elif kind == "bool":
        lowered = text.str.to_lowercase()
        typed = pl.when(lowered == "true").then(True).when(lowered == "false").then(False)
        expected = "expected true or false"
    else:
        typed = pl.when(~empty).then(text)
        expected = ""
    bad = ~empty & typed.is_null()
    if spec_col.allowed:
        bad = bad | (~empty & ~text.is_in(list(spec_col.allowed)))
        expected = f"expected one of {', '.join(spec_col.allowed)}"
    if spec_col.pattern:
        bad = bad | (~empty & ~text.str.contains(f"^(?:{spec_col.pattern})$"))
        expected = f"expected {spec_col.pattern_hint}"
    reason = pl.when(bad).then(pl.lit(f"{spec_col.name}: {expected}, ") + found)
    if spec_col.required:
        reason = (
            pl.when(empty)
            .then(pl.lit(f"{spec_col.name}: required value missing"))
            .otherwise(reason)
        )
    return typed.alias(spec_col.name), reason.alias(f"__reason_{spec_col.name}")


def type_records(parsed: ParsedCsv, spec: SourceSpec) -> tuple[pl.DataFrame, list[RejectedRow]]:
    """Typed frame of the well-formed records plus the rejected ones (wrong shape or values)."""
    width = len(parsed.header)
    rejected: list[RejectedRow] = []
    good: list[tuple[int, str, list[str]]] = []
    for row_number, raw, fields in parsed.records:
        if len(fields) != width:
            what = "the line looks truncated" if len(fields) < width else "an unquoted comma?"
            rejected.append(
                RejectedRow(
                    row_number,
                    None,
                    f"expected {width} fields (as in the header), found {len(fields)}: {what}",
                    raw,
                )
            )
        else:
            good.append((row_number, raw, fields))
    raw_by_row = {row_number: raw for row_number, raw, _ in good}
    frame = raw_frame(parsed, spec).with_columns(
        __raw=pl.col("source_row").replace_strict(raw_by_row, return_dtype=pl.String)
    )
    typed_cols, reason_cols = zip(
        *(_column_check(c, pl.col(c.name)) for c in spec.columns), strict=True
    )
    checked = frame.select(
        *typed_cols,
        pl.col("extra_fields", "source_row", "__raw"),
        pl.concat_list(reason_cols).list.drop_nulls().alias("__reasons"),
        pl.concat_list(
            [
                pl.when(r.is_not_null()).then(pl.lit(c.name))
                for c, r in zip(spec.columns, reason_cols, strict=True)
            ]
        )
        .list.drop_nulls()
        .list.first()
        .alias("__first_bad_column"),
    )
    if spec.key:
        first_row = pl.col("source_row").min().over(list(spec.key))
        dup = (pl.col("source_row") != first_row) & pl.all_horizontal(
            [pl.col(k).is_not_null() for k in spec.key]
        )
        key_desc = " + ".join(spec.key)
        checked = checked.with_columns(
            pl.when(dup)
            .then(
                pl.col("__reasons").list.concat(
                    pl.concat_list(
                        pl.lit(f"duplicate key {key_desc} inside the file: first at row ")
                        + first_row.cast(pl.String)
                    )
                )
            )
            .otherwise(pl.col("__reasons"))
            .alias("__reasons"),
            pl.when(dup & pl.col("__first_bad_column").is_null())
            .then(pl.lit(spec.key[0]))
            .otherwise(pl.col("__first_bad_column"))
            .alias("__first_bad_column"),
        )
    bad = checked.filter(pl.col("__reasons").list.len() > 0)
    for row in bad.select("source_row", "__first_bad_column", "__reasons", "__raw").iter_rows():
        rejected.append(RejectedRow(row[0], row[1], "; ".join(row[2]), row[3]))
    loaded = checked.filter(pl.col("__reasons").list.len() == 0).drop(
        "__reasons", "__first_bad_column", "__raw"
    )
    rejected.sort(key=lambda r: r.row_number or 0)
    return loaded, rejected


def raw_frame(parsed: ParsedCsv, spec: SourceSpec) -> pl.DataFrame:
    """Every well-shaped record (as many fields as the header) as text: the contract's columns,
    unknown columns as a JSON object in `extra_fields`, and `source_row`."""
    index = {h: i for i, h in enumerate(parsed.header)}
    width = len(parsed.header)
    shaped = [r for r in parsed.records if len(r[2]) == width]
    extra = [h for h in parsed.header if h not in spec.column_names]
    data: dict[str, list[object]] = {
        c: [f[index[c]] if c in index else None for _, _, f in shaped] for c in spec.column_names
    }
    data["extra_fields"] = [
        json.dumps({h: f[index[h]] for h in extra}, ensure_ascii=False) if extra else None
        for _, _, f in shaped
    ]
    data["source_row"] = [n for n, _, _ in shaped]
    schema = {c: pl.String for c in spec.column_names}
    schema |= {"extra_fields": pl.String, "source_row": pl.Int64}
    return pl.DataFrame(data, schema=schema)


def ensure_landing_tables(con: duckdb.DuckDBPyConnection, spec: SourceSpec) -> None:
    con.execute(raw_ddl(spec))
    con.execute(staging_ddl(spec))
    if spec.mode == "versioned":
        con.execute(staging_ddl(spec, CURRENT_COMPLAINTS_TABLE))


def _insert_frame(
    con: duckdb.DuckDBPyConnection,
    table: str,
    frame: pl.DataFrame,
    columns: tuple[str, ...],
    file_path: str,
    sha256: str,
    run_id: str,
) -> None:
    if frame.is_empty():
        return
    lineage = frame.with_columns(
        source_file=pl.lit(file_path), source_sha256=pl.lit(sha256), run_id=pl.lit(run_id)
    )
    con.register("incoming_frame", lineage.to_arrow())
    try:
        cols = ", ".join(
            (*columns, "extra_fields", "source_file", "source_row", "source_sha256", "run_id")
        )
        con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM incoming_frame")
    finally:
        con.unregister("incoming_frame")


def _drop_resent_versions(
    con: duckdb.DuckDBPyConnection, frame: pl.DataFrame, spec: SourceSpec
) -> tuple[pl.DataFrame, list[RejectedRow]]:
    """Versions (complaint_id, updated_at) already in staging are not loaded twice."""
    if frame.is_empty():
        return frame, []
    keys = frame.select(*spec.key, "source_row")
    con.register("incoming_keys", keys.to_arrow())
    try:
        hits = con.execute(
            f"SELECT k.source_row, v.source_file, v.source_row "
            f"FROM incoming_keys k JOIN staging.{spec.name} v USING ({', '.join(spec.key)})"
        ).fetchall()
    finally:
        con.unregister("incoming_keys")
    if not hits:
        return frame, []
    earlier = {row: (f, r) for row, f, r in hits}
    raws = dict(zip(frame["source_row"].to_list(), frame.rows(), strict=True))
    rejected = [
        RejectedRow(
            row,
            spec.key[0],
            f"this version ({' + '.join(spec.key)}) was already loaded from {f} row {r}; "
            "a re-sent version is not loaded twice",
            json.dumps(
                dict(zip(frame.columns, raws[row], strict=True)), default=str, ensure_ascii=False
            ),
        )
        for row, (f, r) in sorted(earlier.items())
    ]
    return frame.filter(~pl.col("source_row").is_in(list(earlier))), rejected


def refresh_current_complaints(con: duckdb.DuckDBPyConnection, spec: SourceSpec) -> None:
    """staging.complaints := the latest version (by updated_at) of each touched complaint."""
    cols = ", ".join(
        (*spec.column_names, "extra_fields", "source_file", "source_row", "source_sha256", "run_id")
    )
    con.execute(
        f"DELETE FROM staging.{CURRENT_COMPLAINTS_TABLE} WHERE complaint_id IN "
        "(SELECT complaint_id FROM touched_complaints)"
    )
    con.execute(
        f"INSERT INTO staging.{CURRENT_COMPLAINTS_TABLE} ({cols}) SELECT {cols} FROM ("
        f"SELECT *, row_number() OVER (PARTITION BY complaint_id "
        f"ORDER BY updated_at DESC, source_file DESC, source_row DESC) AS version_rank "
        f"FROM staging.{spec.name} WHERE complaint_id IN "
        f"(SELECT complaint_id FROM touched_complaints)) WHERE version_rank = 1"
    )


@dataclass
class PreparedCsv:
    """One landing file read and typed, before any rule that needs the warehouse."""

    file_path: str
    sha256: str
    data: bytes
    parsed: ParsedCsv | None = None
    loaded: pl.DataFrame | None = None  # typed rows that passed parsing and typing
    rejected: list[RejectedRow] = field(default_factory=list)
    file_error: str | None = None  # the reason the whole file is rejected
    empty: bool = False

    @property
    def rows(self) -> int:
        return 0 if self.loaded is None else self.loaded.height


def prepare_landing_csv(data: bytes, spec: SourceSpec, file_path: str, sha256: str) -> PreparedCsv:
    """Decode, split and type one file (no database needed)."""
    prepared = PreparedCsv(file_path, sha256, data)
    try:
        parsed = split_records(decode_landing_bytes(data))
        if not parsed.header and not parsed.records:
            prepared.empty = True
            return prepared
        check_header(parsed.header, spec)
        loaded, rejected = type_records(parsed, spec)
    except FileRejected as err:
        prepared.file_error = str(err)
        return prepared
    except Exception as err:  # a reader bug must not stop the night: the file waits whole
        prepared.file_error = f"the file could not be read: {type(err).__name__}: {err}"
        return prepared
    prepared.parsed = parsed
    prepared.loaded, prepared.rejected = loaded, rejected
    return prepared


def judge_rows(
    con: duckdb.DuckDBPyConnection,
    spec: SourceSpec,
    batch: list[PreparedCsv],
    rule_parameters: dict[str, Any] | None,
    run_id: str,
    record_results: bool = True,
) -> None:
    """Apply the source's row rules to every typed row of a batch of files in one GX run;
    failing rows move from `loaded` to `rejected` of their file."""
    frames = [
        p.loaded.with_columns(source_file=pl.lit(p.file_path))
        for p in batch
        if p.loaded is not None and not p.loaded.is_empty()
    ]
    if rule_parameters is None or not frames:
        return
    raw_by_row = {
        (p.file_path, row): raw
        for p in batch
        if p.parsed is not None
        for row, raw, _ in p.parsed.records
    }
    combined = pl.concat(frames, how="vertical")
    rule_rejected, outcome = apply_row_rules(spec.name, combined, raw_by_row, rule_parameters)
    if outcome is not None and record_results:
        record_check_results(
            con,
            outcome,
            table_name=f"staging.{spec.name}",
            run_id=run_id,
            checked_on="incoming rows",
        )
    by_file: dict[str, list[RejectedRow]] = {}
    for file_path, rejected in rule_rejected:
        by_file.setdefault(file_path, []).append(rejected)
    for p in batch:
        failed = by_file.get(p.file_path)
        if failed and p.loaded is not None:
            rows = [r.row_number for r in failed]
            p.loaded = p.loaded.filter(~pl.col("source_row").is_in(rows))
            p.rejected += failed


def commit_landing_csv(
    con: duckdb.DuckDBPyConnection,
    spec: SourceSpec,
    prepared: PreparedCsv,
    run_id: str,
) -> FileLoadResult:
    """Write one judged file into raw, staging and quarantine (inside the caller's transaction)."""
    ensure_landing_tables(con, spec)
    file_path, sha256 = prepared.file_path, prepared.sha256
    if prepared.empty:
        return FileLoadResult(rows_read=0, rows_loaded=0, rows_quarantined=0, status="empty")
    if prepared.file_error is not None or prepared.parsed is None or prepared.loaded is None:
        return reject_whole_file(
            con,
            prepared.data,
            source=spec.name,
            reason=prepared.file_error or "the file could not be read",
            file_path=file_path,
            sha256=sha256,
            run_id=run_id,
        )
    parsed = prepared.parsed
    _insert_frame(
        con,
        f"raw.{spec.name}",
        raw_frame(parsed, spec),
        spec.column_names,
        file_path,
        sha256,
        run_id,
    )
    loaded, rejected = prepared.loaded, list(prepared.rejected)
    if spec.mode == "versioned":
        loaded, resent = _drop_resent_versions(con, loaded, spec)
        rejected += resent
    if spec.mode == "snapshot":
        con.execute(f"DELETE FROM staging.{spec.name}")
    publish_rows(con, spec, loaded, file_path, sha256, run_id)
    rejected.sort(key=lambda r: r.row_number or 0)
    record_quarantine(
        con,
        source=spec.name,
        file_path=file_path,
        sha256=sha256,
        run_id=run_id,
        rejected=rejected,
        header=json.dumps(parsed.header),
    )
    return FileLoadResult(
        rows_read=len(parsed.records),
        rows_loaded=loaded.height,
        rows_quarantined=len(rejected),
    )


def load_landing_csv(
    con: duckdb.DuckDBPyConnection,
    data: bytes,
    spec: SourceSpec,
    *,
    file_path: str,
    sha256: str,
    run_id: str,
    rule_parameters: dict[str, Any] | None = None,
) -> FileLoadResult:
    """Load one landing CSV (its bytes) of `spec` into raw, staging and quarantine.

    With `rule_parameters`, the typed rows are also judged by the source's GX suite
    (`expectations/staging.<source>.json`); see assets/quality/row_rules.py.
    """
    prepared = prepare_landing_csv(data, spec, file_path, sha256)
    judge_rows(con, spec, [prepared], rule_parameters, run_id)
    return commit_landing_csv(con, spec, prepared, run_id)


def publish_rows(
    con: duckdb.DuckDBPyConnection,
    spec: SourceSpec,
    loaded: pl.DataFrame,
    file_path: str,
    sha256: str,
    run_id: str,
) -> None:
    """Insert validated rows into staging: upsert by key, or a new complaint version."""
    if loaded.is_empty():
        return
    if spec.mode == "upsert":
        con.register("incoming_keys", loaded.select(*spec.key).to_arrow())
        try:
            cond = " AND ".join(f"s.{k} = i.{k}" for k in spec.key)
            con.execute(
                f"DELETE FROM staging.{spec.name} s WHERE EXISTS "
                f"(SELECT 1 FROM incoming_keys i WHERE {cond})"
            )
        finally:
            con.unregister("incoming_keys")
    _insert_frame(con, f"staging.{spec.name}", loaded, spec.column_names, file_path, sha256, run_id)
    if spec.mode == "versioned":
        con.register("touched_complaints", loaded.select("complaint_id").unique().to_arrow())
        try:
            refresh_current_complaints(con, spec)
        finally:
            con.unregister("touched_complaints")


def recheck_quarantine(
    con: duckdb.DuckDBPyConnection,
    spec: SourceSpec,
    rule_parameters: dict[str, Any],
    run_id: str,
) -> int:
    """Re-judge quarantined rows that may pass now (a reference arrived, their date came).

    Rows that pass load into staging with their original file and row as lineage, and
    `quarantine.resolutions` records when and why; the others stay in quarantine unchanged.
    Snapshot sources are not rechecked: their next snapshot sends every row again.
    """
    if spec.mode == "snapshot":
        return 0
    pending = con.execute(
        """
        SELECT q.file_path, q.sha256, q.header, q.row_number, q.raw_record, q.reason
        FROM quarantine.rejected_rows q
        WHERE q.source = ? AND q.recheck AND q.header IS NOT NULL
          AND NOT EXISTS (
            SELECT 1 FROM quarantine.resolutions r
            WHERE r.source = q.source AND r.file_path = q.file_path AND r.sha256 = q.sha256
              AND r.row_number = q.row_number)
        ORDER BY q.file_path, q.sha256, q.row_number
        """,
        [spec.name],
    ).fetchall()
    groups: dict[tuple[str, str, str], list[tuple[int, str, str]]] = {}
    for file_path, sha256, header, row_number, raw, reason in pending:
        groups.setdefault((file_path, sha256, header), []).append((row_number, raw, reason))
    batch: list[PreparedCsv] = []
    was: dict[tuple[str, int], str] = {}
    for (file_path, sha256, header), rows in groups.items():
        names = header_names(header)
        records = []
        for row_number, raw, _ in rows:
            fields = split_raw_fields(raw)
            if fields:  # a record that cannot be split stays in quarantine as it is
                records.append((row_number, raw, fields))
        if not names or not records:
            continue
        parsed = ParsedCsv(header=names, records=records)
        loaded, rejected = type_records(parsed, spec)
        batch.append(PreparedCsv(file_path, sha256, b"", parsed, loaded, rejected))
        was |= {(file_path, row_number): reason for row_number, _, reason in rows}
    judge_rows(con, spec, batch, rule_parameters, run_id, record_results=False)
    resolved = 0
    for prepared in batch:
        loaded = prepared.loaded
        if loaded is None or loaded.is_empty():
            continue
        if spec.mode == "versioned":
            loaded, _ = _drop_resent_versions(con, loaded, spec)
        publish_rows(con, spec, loaded, prepared.file_path, prepared.sha256, run_id)
        resolutions = [
            (
                spec.name,
                prepared.file_path,
                row,
                prepared.sha256,
                f"now passes every rule; was: {was[(prepared.file_path, row)]}",
                run_id,
            )
            for row in sorted(loaded["source_row"].to_list())
        ]
        if resolutions:
            con.executemany(
                "INSERT INTO quarantine.resolutions (source, file_path, row_number, sha256, "
                "resolution, resolved_at, run_id) VALUES (?, ?, ?, ?, ?, now()::TIMESTAMP, ?)",
                resolutions,
            )
        resolved += len(resolutions)
    return resolved


def reject_whole_file(
    con: duckdb.DuckDBPyConnection,
    data: bytes,
    *,
    source: str,
    reason: str,
    file_path: str,
    sha256: str,
    run_id: str,
) -> FileLoadResult:
    """Quarantine a file that cannot be read: one row per physical data line, nothing lost."""
    text = raw_text_for_quarantine(data)
    lines = [ln.rstrip("\r") for ln in text.split("\n")]
    while lines and lines[-1] == "":
        lines.pop()
    body = lines[1:] if len(lines) > 1 else lines
    first_row = 2 if len(lines) > 1 else 1
    rejected = [
        RejectedRow(first_row + i, None, f"file rejected: {reason}", line)
        for i, line in enumerate(body)
    ] or [RejectedRow(None, None, f"file rejected: {reason}", text)]
    record_quarantine(
        con, source=source, file_path=file_path, sha256=sha256, run_id=run_id, rejected=rejected
    )
    return FileLoadResult(
        rows_read=len(rejected),
        rows_loaded=0,
        rows_quarantined=len(rejected),
        status="rejected_file",
    )
