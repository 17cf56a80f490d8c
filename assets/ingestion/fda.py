"""FDA adverse-event readers: MAUDE bulk files and openFDA device/event pages.

Plain Python + DuckDB, no Dagster import. The ingestion driver computes the sha256, skips files
already ingested, opens one transaction per file and writes the audit row; these functions only
write rows (staging, raw, quarantine) on the connection they are given and never commit or roll
back (and never run a statement that fails, which would abort the driver's transaction).

MAUDE bulk files are parsed in DuckDB SQL, not in a Python loop per line:

1. the file is read as one VARCHAR column per physical line (a delimiter that does not occur,
   no quoting, no escaping), numbered with ``row_number() OVER ()`` in file order, into a
   private in-memory database reached through a cursor, so that a read the reader refuses
   (bytes 0x80-0x9F under latin-1, a wrong encoding guess) is retried without harm;
2. the first line is a header when its first field is a name, not a number, and it names the
   report key; header names map to canonical field names (``canonical_field_name``), and a
   record whose field count is not the header's falls back to FDA's positional layout of that
   count (master 77/81/84/86, device 28/34/45, patient 5, text 6, problem 2);
3. a physical line that does not start with a numeric report key continues the record before
   it (narratives with unescaped line breaks); the few such lines are grouped into runs of
   consecutive line numbers and appended to the record line just before each run;
4. records are split on ``|``; surplus fields of a narrative are joined back into the text;
5. keys, dates and codes are typed with TRY_ functions; the first failing column names the
   reason; good records are inserted in one pass, failed ones go to
   ``quarantine.rejected_rows`` with INSERT ... SELECT (a second pass only when some failed).

Raw archive: ``raw.maude_master`` and ``raw.maude_devices`` are views with every canonical
column as VARCHAR over ``raw.maude_<kind>_records`` (each record exactly as read, plus the
layout that maps its fields) so that the archive costs one narrow write, not a 86-column one.

Layout facts: ``assets/ingestion/maude_layout.py`` and the reference README (FDA/openfda
``openfda/maude/pipeline.py``).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
import mmap
import os
import re
import tempfile
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import duckdb
import numpy as np

from assets.ingestion.maude_layout import (
    DEVICE_COLUMNS_34,
    FOIDEV_CANONICAL_COLUMNS,
    FOIDEV_COLUMNS_28,
    FOIDEV_COLUMNS_45,
    FOIDEVPROBLEM_COLUMNS,
    FOITEXT_COLUMNS,
    MDRFOI_CANONICAL_COLUMNS,
    MDRFOI_COLUMNS_81,
    MDRFOI_COLUMNS_84,
    MDRFOI_COLUMNS_86,
    PATIENT_COLUMNS,
    canonical_field_name,
)
from assets.warehouse import FileLoadResult, RejectedRow, record_quarantine

SOURCE_BULK = "maude_bulk"
SOURCE_OPENFDA = "openfda"

_REFERENCE_DIR = Path(__file__).resolve().parents[1] / "reference" / "fda"
_PROBLEM_CODES_FILE = _REFERENCE_DIR / "deviceproblemcodes.txt"
_ENUMS_FILE = _REFERENCE_DIR / "openfda" / "enums.csv"

# Four-byte sequences of control characters that do not occur in MAUDE text: the first one
# absent from the file is the "delimiter", so every physical line arrives as one column.
_NO_DELIMS = ("\x1f\x1e\x1d\x1c", "\x1e\x1f\x1c\x1d", "\x1c\x1d\x1e\x1f", "\x01\x02\x03\x04")
_MAX_LINE = 8 * 1024 * 1024  # longest physical line read (larger: retried with _MAX_LINE_BIG)
_MAX_LINE_BIG = 512 * 1024 * 1024
_BUFFER_SIZE: int | None = None  # read_csv buffer size; tests make it small to force many buffers
_SAMPLE = 256 << 10
_HEAD_CHARS = 512  # a narrative record's fields before the text are within its first chars
_CHUNK = 64 << 20

# A record starts with a numeric report key (device files pad it: ' 1234.0').
_RECORD_START_RE = r"^ *[0-9]+(\.[0-9]*)? *\|"
_HEADER_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_ \-]*")

_DATE_EXPECTED = (
    "a date (MM/DD/YYYY, YYYYMMDD, YYYY/MM/DD, YYYY/MM/DD HH:MM:SS.mmm, DD-MON-YY or YYYY-MM-DD)"
)
EVENT_TYPES: tuple[str, ...] = ("D", "IN", "IL", "IJ", "M", "O", "*")

_LINEAGE_DDL = (
    "record_source VARCHAR NOT NULL, source_file VARCHAR NOT NULL, source_row BIGINT, "
    "run_id VARCHAR NOT NULL"
)
_LINEAGE = ("record_source", "source_file", "source_row", "run_id")


# ------------------------------------------------------------------------------------------
# Table specifications
# ------------------------------------------------------------------------------------------


def _canon(layout: Iterable[str]) -> tuple[str, ...]:
    return tuple(canonical_field_name(c) for c in layout)


@dataclass(frozen=True)
class _Spec:
    """How one MAUDE file kind maps to its staging table (and raw records, if any)."""

    kind: str
    staging: str
    raw: str | None  # raw view name; its storage is <raw>_records + <raw>_layouts
    columns: tuple[str, ...]  # every canonical field this kind can carry (raw view columns)
    staging_columns: tuple[str, ...]  # staging columns besides lineage (and extra_fields)
    layouts: dict[int, tuple[str, ...]]  # positional layouts by field count (no header)
    bigint: tuple[str, ...] = ("mdr_report_key",)
    dates: tuple[str, ...] = ()
    lists: tuple[str, ...] = ()
    sequences: tuple[str, ...] = ()  # ' 1.0' -> '1'
    enums: dict[str, tuple[str, ...]] = field(default_factory=dict)
    join_tail: bool = False  # the last field (narrative) may contain unescaped '|'
    keep_untrimmed: tuple[str, ...] = ()

    @property
    def records(self) -> str:
        return f"{self.raw}_records"

    @property
    def layouts_table(self) -> str:
        return f"{self.raw}_layouts"


_MASTER = _Spec(
    kind="master",
    staging="staging.maude_master",
    raw="raw.maude_master",
    columns=MDRFOI_CANONICAL_COLUMNS,
    staging_columns=(
        "mdr_report_key",
        "report_number",
        "report_source_code",
        "date_received",
        "date_of_event",
        "date_report",
        "event_type",
        "adverse_event_flag",
        "product_problem_flag",
        "manufacturer_name",
        "type_of_report",
        "source_type",
        "summary_report_flag",
    ),
    layouts={
        77: MDRFOI_COLUMNS_81[:77],
        81: MDRFOI_COLUMNS_81,
        84: _canon(MDRFOI_COLUMNS_84),
        86: _canon(MDRFOI_COLUMNS_86),
    },
    dates=("date_received", "date_of_event", "date_report"),
    lists=("type_of_report", "source_type"),
    enums={"event_type": EVENT_TYPES},
)

_DEVICE = _Spec(
    kind="device",
    staging="staging.maude_devices",
    raw="raw.maude_devices",
    columns=FOIDEV_CANONICAL_COLUMNS,
    staging_columns=(
        "mdr_report_key",
        "device_event_key",
        "device_sequence_number",
        "brand_name",
        "generic_name",
        "manufacturer_d_name",
        "model_number",
        "catalog_number",
        "lot_number",
        "other_id_number",
        "device_report_product_code",
        "implant_flag",
        "udi_di",
        "date_received",
    ),
    layouts={28: FOIDEV_COLUMNS_28, 45: FOIDEV_COLUMNS_45, 34: _canon(DEVICE_COLUMNS_34)},
    dates=("date_received",),
    sequences=("device_sequence_number", "device_event_key"),
)

_PATIENT_EXTRA = (
    "patient_age",
    "patient_sex",
    "patient_weight",
    "patient_ethnicity",
    "patient_race",
)
_PATIENT = _Spec(
    kind="patient",
    staging="staging.maude_patients",
    raw=None,
    columns=PATIENT_COLUMNS + _PATIENT_EXTRA,
    staging_columns=PATIENT_COLUMNS + _PATIENT_EXTRA,
    layouts={5: PATIENT_COLUMNS},
    dates=("date_received",),
    sequences=("patient_sequence_number",),
)

_TEXT = _Spec(
    kind="text",
    staging="staging.maude_texts",
    raw=None,
    columns=FOITEXT_COLUMNS,
    staging_columns=FOITEXT_COLUMNS,
    layouts={6: FOITEXT_COLUMNS},
    dates=("date_report",),
    sequences=("patient_sequence_number", "mdr_text_key"),
    join_tail=True,
    keep_untrimmed=("text",),
)

_PROBLEM = _Spec(
    kind="problem",
    staging="staging.maude_device_problems",
    raw=None,
    columns=FOIDEVPROBLEM_COLUMNS,
    staging_columns=(*FOIDEVPROBLEM_COLUMNS, "device_problem_term"),
    layouts={2: FOIDEVPROBLEM_COLUMNS},
    sequences=("device_problem_code",),
)

_SPECS: dict[str, _Spec] = {s.kind: s for s in (_MASTER, _DEVICE, _PATIENT, _TEXT, _PROBLEM)}
MAUDE_KINDS: tuple[str, ...] = tuple(_SPECS)


def maude_kind(file_name: str) -> str | None:
    """The MAUDE file kind from its name (case-insensitive), or None for anything else.

    mdrfoi* -> 'master'; foidev*, device* -> 'device'; foitext* -> 'text'; patient* ->
    'patient'; foidevproblem* -> 'problem'. Code tables (deviceproblemcodes*,
    patientproblem*) are not adverse-event files and give None.
    """
    name = Path(file_name.replace("\\", "/")).name.lower()
    if name.startswith("foidevproblem"):
        return "problem"
    if name.startswith("mdrfoi"):
        return "master"
    if name.startswith(("deviceproblem", "patientproblem")):
        return None
    if name.startswith(("foidev", "device")):
        return "device"
    if name.startswith("foitext"):
        return "text"
    if name.startswith("patient"):
        return "patient"
    return None


# ------------------------------------------------------------------------------------------
# DDL
# ------------------------------------------------------------------------------------------


def _staging_type(spec: _Spec, col: str) -> str:
    if col in spec.keep_untrimmed:  # narratives: zstd writes them several times faster
        return "VARCHAR USING COMPRESSION zstd"
    if col in spec.bigint:
        return "BIGINT"
    if col in spec.dates:
        return "DATE"
    if col in spec.lists:
        return "VARCHAR[]"
    return "VARCHAR"


def _staging_ddl(spec: _Spec) -> str:
    cols = ", ".join(f"{_q(c)} {_staging_type(spec, c)}" for c in spec.staging_columns)
    extra = "" if spec.raw else "extra_fields VARCHAR, "
    return f"CREATE TABLE IF NOT EXISTS {spec.staging} ({cols}, {extra}{_LINEAGE_DDL})"


def _raw_ddl(spec: _Spec) -> list[str]:
    """The raw archive of one kind: every record as FDA sent it, and a view with its columns.

    Storage is one row per record (``record``: the bulk line as read, stored uncompressed: an
    archive is written once and read rarely, and DuckDB's default string compression would
    triple the cost of writing it; ``record_json``: an openFDA record's fields) plus the
    layout (canonical field -> position) of each header or field count seen. The view
    ``raw.maude_<kind>`` splits the records back into every canonical column as VARCHAR
    (missing ones NULL), so nothing FDA sent is lost and no wide copy is written.
    """
    positions = ", ".join(f"{_q(c)} INTEGER" for c in spec.columns)
    view_cols = ",\n".join(
        f"CASE WHEN r.record_json IS NOT NULL THEN json_extract_string(r.record_json, "
        f"{_lit('$.' + json.dumps(c))}) ELSE NULLIF(r.f[l.{_q(c)}], '') END AS {_q(c)}"
        for c in spec.columns
    )
    return [
        f"""CREATE TABLE IF NOT EXISTS {spec.records} (
            record VARCHAR USING COMPRESSION uncompressed,
            record_json VARCHAR,
            layout_id VARCHAR,
            extra_fields VARCHAR,
            {_LINEAGE_DDL})""",
        f"""CREATE TABLE IF NOT EXISTS {spec.layouts_table} (
            layout_id VARCHAR NOT NULL, description VARCHAR, {positions})""",
        f"""CREATE OR REPLACE VIEW {spec.raw} AS
            SELECT {view_cols},
                   r.extra_fields, r.record_source, r.source_file, r.source_row, r.run_id
            FROM (SELECT *, string_split(record, '|') AS f FROM {spec.records}) r
            LEFT JOIN (SELECT * FROM {spec.layouts_table}
                       QUALIFY row_number() OVER (PARTITION BY layout_id) = 1) l
                   ON l.layout_id = CASE
                WHEN split_part(r.layout_id, ':', 2) = len(r.f)::VARCHAR THEN r.layout_id
                ELSE 'fields:' || len(r.f)::VARCHAR END""",
    ]


def ensure_fda_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the FDA staging tables and raw archives (and their schemas) if they do not exist."""
    for schema in ("raw", "staging", "quarantine"):
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    for spec in _SPECS.values():
        con.execute(_staging_ddl(spec))
        if spec.raw:
            existing = con.execute(
                "SELECT count(*) FROM duckdb_views() WHERE schema_name = ? AND view_name = ?",
                spec.raw.split("."),
            ).fetchone()
            for ddl in _raw_ddl(spec):
                if ddl.lstrip().startswith("CREATE OR REPLACE VIEW") and existing and existing[0]:
                    continue
                con.execute(ddl)


# ------------------------------------------------------------------------------------------
# SQL building blocks
# ------------------------------------------------------------------------------------------


def _q(ident: str) -> str:
    return '"' + ident.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _found(v: str) -> str:
    """SQL for "'value'" (cut to 80 characters) or 'nothing'."""
    return (
        f"CASE WHEN {v} IS NULL THEN 'nothing' WHEN length({v}) > 80 "
        f"THEN '''' || left({v}, 80) || '…''' ELSE '''' || {v} || '''' END"
    )


def _key_sql(v: str) -> str:
    """A whole-number key: '123', ' 123.0' (device files) -> 123; anything else NULL."""
    return (
        f"CASE WHEN TRY_CAST({v} AS BIGINT)::VARCHAR = {v} THEN TRY_CAST({v} AS BIGINT) "
        f"WHEN regexp_full_match({v}, ' *[0-9]{{1,18}}(\\.0*)? *') "
        f"THEN TRY_CAST(split_part(trim({v}), '.', 1) AS BIGINT) END"
    )


def _date_sql(v: str) -> str:
    dmy = f"try_strptime({v}, '%d-%b-%y')::DATE"
    return (
        f"coalesce(try_strptime({v}, ['%m/%d/%Y', '%Y%m%d', '%Y/%m/%d', '%Y-%m-%d', "
        f"'%Y/%m/%d %H:%M:%S.%g'])::DATE, "
        # DD-MON-YY: a two-digit year in the future belongs to the previous century
        f"CASE WHEN {dmy} > current_date + INTERVAL 1 YEAR "
        f"THEN ({dmy} - INTERVAL 100 YEAR)::DATE ELSE {dmy} END)"
    )


def _date_bad_sql(v: str, d: str) -> str:
    return (
        f"({v} IS NOT NULL AND {v} <> '*' AND ({d} IS NULL OR year({d}) NOT BETWEEN 1900 AND 2100))"
    )


def _list_sql(v: str) -> str:
    return (
        f"CASE WHEN {v} IS NOT NULL THEN list_filter(list_transform(string_split({v}, ','), "
        f"lambda x: trim(x)), lambda x: x <> '') END"
    )


def _seq_sql(v: str) -> str:
    return (
        f"CASE WHEN regexp_full_match({v}, ' *[0-9]+\\.0* *') THEN split_part(trim({v}), '.', 1) "
        f"ELSE NULLIF(trim({v}), '') END"
    )


def _typed_exprs(spec: _Spec, src: Callable[[str], str]) -> list[str]:
    """Typed staging expressions, one per staging column, named ``t__<column>``.

    ``src(col)`` is the SQL of the column's VARCHAR value (NULL when empty or absent).
    """
    exprs: list[str] = []
    for col in spec.staging_columns:
        v = src(col)
        if col in spec.bigint:
            e = _key_sql(v)
        elif col in spec.dates:
            e = f"CASE WHEN {v} IS NULL OR {v} = '*' THEN NULL ELSE {_date_sql(v)} END"
        elif col in spec.lists:
            e = _list_sql(v)
        elif col in spec.sequences:
            e = _seq_sql(v)
        elif col in spec.keep_untrimmed:
            e = v
        else:
            e = f"NULLIF(trim({v}), '')"
        exprs.append(f"{e} AS {_q('t__' + col)}")
    return exprs


def _error_expr(spec: _Spec, src: Callable[[str], str]) -> str:
    """SQL of the first failing column's reason ('column: expected ..., found ...'), or NULL.

    Refers to the typed columns ``t__<column>`` and to the VARCHAR values ``src(col)``.
    """
    checks: list[str] = []
    for col in spec.staging_columns:
        v, t = src(col), _q("t__" + col)
        if col in spec.bigint:
            checks.append(
                f"WHEN {t} IS NULL THEN '{col}: expected a whole number, found ' || {_found(v)}"
            )
        elif col in spec.dates:
            checks.append(
                f"WHEN {_date_bad_sql(v, t)} THEN "
                f"'{col}: expected {_DATE_EXPECTED}, found ' || {_found(v)}"
            )
        elif col in spec.enums:
            allowed = ", ".join(_lit(a) for a in spec.enums[col])
            checks.append(
                f"WHEN {t} NOT IN ({allowed}) THEN "
                f"'{col}: expected one of {', '.join(spec.enums[col])}, found ' || {_found(v)}"
            )
    return "CASE " + " ".join(checks) + " END" if checks else "NULL::VARCHAR"


# ------------------------------------------------------------------------------------------
# Reading a bulk file as physical lines
# ------------------------------------------------------------------------------------------


def _guess_encoding(path: Path, size: int) -> str:
    """'utf-8' when sampled non-ASCII bytes are UTF-8, else 'latin-1' (FDA's encoding).

    Samples the start, the end and eight places in between. A wrong guess costs little: a
    read that fails on the encoding is retried (see _read_lines).
    """
    spots = sorted({0, *(size * i // 9 for i in range(1, 9)), max(0, size - _SAMPLE)})
    guess = "latin-1"
    with open(path, "rb") as fh:
        for spot in spots:
            fh.seek(spot)
            sample = fh.read(_SAMPLE)
            if sample.isascii():
                continue
            try:  # a sample may cut a multi-byte sequence at either end
                sample[4:-4].decode("utf-8")
            except UnicodeDecodeError as exc:
                if 4 < exc.start < len(sample) - 12:
                    return "latin-1"
            guess = "utf-8"
    return guess


def _scan(path: Path, size: int) -> tuple[str, str | None]:
    """Line endings and a one-column delimiter that does not occur in the file.

    Endings: 'lf' (no CR at all), 'crlf' (every CR ends a CRLF) or 'mixed' (a lone CR).
    The delimiter is None when every candidate occurs (not a text file). Memory-mapped and
    vectorised: a pass over the bytes, no copy of the file.
    """
    if size == 0:
        return "lf", _NO_DELIMS[0]
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        # a candidate whose first byte is absent is absent (memchr-fast); else look for it whole
        delim = next((d for d in _NO_DELIMS if mm.find(d[0].encode("latin-1")) < 0), None)
        if delim is None:
            delim = next((d for d in _NO_DELIMS if mm.find(d.encode("latin-1")) < 0), None)
        if mm.find(b"\r") < 0:
            return "lf", delim
        data = np.frombuffer(mm, dtype=np.uint8)
        try:
            for start in range(0, size, _CHUNK):
                cr = np.flatnonzero(data[start : start + _CHUNK] == 13)
                if cr.size:
                    after = cr + (start + 1)
                    if after[-1] >= size or (data[after] != 10).any():
                        return "mixed", delim
        finally:
            del data  # the mmap closes only once no array views it
    return "crlf", delim


def _cp1252_or_latin1(exc: UnicodeError) -> tuple[str, int]:
    """Decode-error handler: bytes cp1252 leaves undefined (0x81, 0x8D, ...) as latin-1."""
    assert isinstance(exc, UnicodeDecodeError)
    return exc.object[exc.start : exc.end].decode("latin-1"), exc.end


codecs.register_error("fda_latin1", _cp1252_or_latin1)


def _rewrite(path: Path, *, transcode: bool) -> Path:
    """A temporary copy with every line break a LF (CRLF and lone CR, universal newlines, as
    FDA's own loader reads these files) and, with ``transcode``, re-encoded to UTF-8 from
    latin-1 read as windows-1252 (DuckDB's latin-1 reader refuses bytes 0x80-0x9F, which
    real files carry as cp1252 quotes and dashes).
    """
    fd, tmp = tempfile.mkstemp(prefix="maude_", suffix=".txt")
    with os.fdopen(fd, "wb") as out, open(path, "rb") as fh:
        carry = b""
        while chunk := fh.read(_CHUNK):
            data = carry + chunk
            carry = b""
            if data.endswith(b"\r"):
                data, carry = data[:-1], b"\r"
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            if transcode:
                data = data.decode("cp1252", errors="fda_latin1").encode("utf-8")
            out.write(data)
        if carry:
            out.write(b"\n")
    return Path(tmp)


class _Unreadable(Exception):
    """The file cannot be read as text lines at all."""


class _Scratch:
    """A private in-memory database, reached through a cursor of the caller's connection.

    The lines of a file are read there, in the cursor's own transaction: a read that fails
    (an encoding the reader refuses) is retried another way without aborting the caller's
    transaction, which only ever reads the finished tables.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.name = f"fda_scratch_{uuid.uuid4().hex[:12]}"
        self.cur = con.cursor()
        self.cur.execute(f"ATTACH ':memory:' AS {self.name}")
        self.temp_files: list[Path] = []

    def close(self) -> None:
        try:
            self.cur.execute(f"DETACH {self.name}")
        finally:
            self.cur.close()
            for f in self.temp_files:
                f.unlink(missing_ok=True)

    def read_lines(self, path: Path, table: str) -> None:
        """Physical lines of the file in order: ln (1-based), line, st (starts a record).

        ``row_number() OVER ()`` numbers the lines in the order the reader delivers them,
        which is file order (insertion order is preserved; the tests check it on a file read
        in many small buffers).
        """
        # Line numbers rely on the reader keeping file order; the setting is global, so a
        # caller that turned it off gets it back as it was.
        (ordered,) = self.cur.execute(
            "SELECT current_setting('preserve_insertion_order')"
        ).fetchone()
        if not ordered:
            self.cur.execute("SET preserve_insertion_order = true")
        try:
            self._read_lines(path, table)
        finally:
            if not ordered:
                self.cur.execute("SET preserve_insertion_order = false")

    def _read_lines(self, path: Path, table: str) -> None:
        size = path.stat().st_size
        if self._read_plain_lf(path, size, table):
            return
        endings, delim = _scan(path, size)
        if delim is None:
            raise _Unreadable(
                "found binary content (every control-byte sequence used to read lines occurs)"
            )
        source, new_line = path, {"lf": "\\n", "crlf": "\\r\\n"}.get(endings, "\\n")
        if endings == "mixed":
            source = _rewrite(path, transcode=False)
            self.temp_files.append(source)
        guess = _guess_encoding(path, size)
        other = "latin-1" if guess == "utf-8" else "utf-8"
        error = ""
        for step in range(3):
            if step == 2:  # neither encoding as is: transcode windows-1252/latin-1 to UTF-8
                source = _rewrite(path, transcode=True)
                self.temp_files.append(source)
                new_line = "\\n"
            encoding = (guess, other, "utf-8")[step]
            for max_line in (_MAX_LINE, _MAX_LINE_BIG):
                try:
                    self.cur.execute(
                        self._read_sql(table, source, encoding, new_line, delim, max_line)
                    )
                    return
                except duckdb.Error as exc:
                    message = str(exc)
                    error = " ".join(message.split())[:300]
                    if "line size" not in message.lower():
                        break
        raise _Unreadable(f"found content that cannot be read as text lines ({error})")

    def _read_plain_lf(self, path: Path, size: int, table: str) -> bool:
        """The common case without a scan of the file: no CR at its start, read with LF breaks.

        Accepted only when the lines account for every byte of the file (a delimiter byte
        sequence inside a line would cut it short) and none is empty (a CRLF or a blank line,
        which need the careful path); otherwise the table is dropped and False returned.
        """
        if size == 0:
            return False
        with open(path, "rb") as fh:
            if b"\r" in fh.read(_SAMPLE):
                return False
        encoding = _guess_encoding(path, size)
        try:
            self.cur.execute(self._read_sql(table, path, encoding, "\\n", _NO_DELIMS[0], _MAX_LINE))
        except duckdb.Error:
            return False
        nbytes = "length(line)" if encoding == "latin-1" else "strlen(line)"
        n_empty, total = self.cur.execute(
            f"SELECT count(*) FILTER (WHERE line IS NULL OR line = ''), "
            f"coalesce(sum({nbytes}), 0) + count(*) FROM {self.name}.{table}"
        ).fetchone()
        if n_empty == 0 and total in (size, size + 1):
            return True
        self.cur.execute(f"DROP TABLE {self.name}.{table}")
        return False

    def _read_sql(
        self, table: str, path: Path, encoding: str, new_line: str, delim: str, max_line: int
    ) -> str:
        buffer = ""
        if _BUFFER_SIZE:
            buffer = f", buffer_size = {_BUFFER_SIZE}"
            max_line = min(max_line, _BUFFER_SIZE // 2)
        return (
            f"CREATE TABLE {self.name}.{table} AS SELECT row_number() OVER () AS ln, line, "
            f"regexp_matches(line, '{_RECORD_START_RE}') AS st "
            f"FROM read_csv({_lit(str(path))}, "
            f"columns = {{'line': 'VARCHAR'}}, delim = {_lit(delim)}, "
            f"new_line = '{new_line}', quote = '', escape = '', header = false, "
            f"auto_detect = false, encoding = '{encoding}', strict_mode = false, "
            f"max_line_size = {max_line}{buffer})"
        )


# ------------------------------------------------------------------------------------------
# Bulk loader
# ------------------------------------------------------------------------------------------


@dataclass
class _Layout:
    header: list[str] | None  # canonical names by position (None: no header)
    header_id: str | None  # layout id of the header's field order
    extras: list[tuple[int, str]]  # (1-based position, original name) of unknown header fields
    counts: dict[int, dict[str, int]]  # field count -> {canonical column: 1-based position}
    tail_col: str | None  # narrative column taking surplus fields
    tail_min: int  # minimum field count for the narrative layout

    def count_ok_sql(self, nf: str) -> str:
        if self.tail_col:
            return f"({nf} >= {self.tail_min})"
        return f"({nf} IN ({', '.join(str(n) for n in sorted(self.counts))}))"

    def expected_text(self) -> str:
        if self.tail_col:
            return f"at least {self.tail_min} fields"
        nums = sorted(self.counts)
        hdr = len(self.header) if self.header else None
        older = [n for n in nums if n != hdr]

        def words(ns: list[int]) -> str:
            s = [str(n) for n in ns]
            return s[0] if len(s) == 1 else ", ".join(s[:-1]) + " or " + s[-1]

        if hdr is None:
            return f"{words(nums)} fields"
        if not older:
            return f"{hdr} fields (the header's)"
        return f"{words(older)} fields (or the header's {hdr})"


def _detect_header(first_line: str | None) -> tuple[list[str], list[str]] | None:
    """(raw names, canonical names) when the first line is a header, else None.

    A header's first field is a name, not a number, and one of its fields is the report key.
    """
    if first_line is None:
        return None
    fields = [f.replace("\ufeff", "").replace("ï»¿", "") for f in first_line.split("|")]
    first = fields[0].strip().strip('"').strip()
    if not first or not _HEADER_NAME_RE.fullmatch(first):
        return None
    names = [canonical_field_name(f) for f in fields]
    if "mdr_report_key" not in names:
        return None
    return fields, names


def _layout(spec: _Spec, header: tuple[list[str], list[str]] | None) -> _Layout:
    counts: dict[int, dict[str, int]] = {
        n: {c: i + 1 for i, c in enumerate(cols)} for n, cols in spec.layouts.items()
    }
    extras: list[tuple[int, str]] = []
    names = None
    header_id = None
    if header is not None:
        raw_names, names = header
        mapping: dict[str, int] = {}
        for i, (raw_name, name) in enumerate(zip(raw_names, names, strict=True)):
            if name in spec.columns and name not in mapping:
                mapping[name] = i + 1
            elif raw_name.strip() or i + 1 < len(names):
                extras.append((i + 1, raw_name.strip() or f"field_{i + 1}"))
        counts[len(names)] = mapping
        digest = hashlib.sha1("|".join(names).encode()).hexdigest()[:12]
        header_id = f"header:{len(names)}:{digest}"
    tail_col = None
    tail_min = 0
    if spec.join_tail:
        if names is not None:
            tail_col, tail_min = names[-1], len(names)
            counts = {tail_min: counts[tail_min]}
        else:
            ((tail_min, cols),) = spec.layouts.items()
            tail_col = cols[-1]
            counts = {tail_min: counts[tail_min]}
    return _Layout(names, header_id, extras, counts, tail_col, tail_min)


def _column_sql(col: str, layout: _Layout) -> str:
    """SQL of a canonical column's VARCHAR value from the split fields f and their count nf."""
    if layout.tail_col is not None:
        pos = layout.counts[layout.tail_min].get(col)
        if pos is None:
            return "NULL::VARCHAR"
        if col == layout.tail_col:  # the rest of the record after the field before it
            return f"NULLIF(substr(rec, length(array_to_string(f[1:{pos - 1}], '|')) + 2), '')"
        return f"NULLIF(f[{pos}], '')"
    by_pos: dict[int, list[int]] = {}
    for n, mapping in layout.counts.items():
        if col in mapping:
            by_pos.setdefault(mapping[col], []).append(n)
    if not by_pos:
        return "NULL::VARCHAR"
    if len(by_pos) == 1:
        ((pos, ns),) = by_pos.items()
        if set(ns) == set(layout.counts):
            return f"NULLIF(f[{pos}], '')"
        return f"CASE WHEN nf IN ({', '.join(map(str, ns))}) THEN NULLIF(f[{pos}], '') END"
    whens = " ".join(
        f"WHEN nf IN ({', '.join(map(str, ns))}) THEN NULLIF(f[{pos}], '')"
        for pos, ns in by_pos.items()
    )
    return f"CASE {whens} END"


def _extras_sql(layout: _Layout) -> str:
    """JSON object of the header's unknown fields (kept, not refused), else NULL."""
    if not layout.extras or layout.header is None:
        return "NULL::VARCHAR"
    n = len(layout.header)
    args = ", ".join(f"{_lit(name)}, NULLIF(f[{pos}], '')" for pos, name in layout.extras)
    cond = f"nf >= {n}" if layout.tail_col else f"nf = {n}"
    return f"CASE WHEN {cond} THEN json_object({args})::VARCHAR END"


def _nf_sql(x: str) -> str:
    return f"(length({x}) - length(replace({x}, '|', '')) + 1)"


def _build_records(
    cur: duckdb.DuckDBPyConnection, db: str, skip: int, layout: _Layout, n_cont: int
) -> None:
    """Create the view ``<db>.recs`` (ln, rec, orphan): every logical record of the file.

    Without continuation lines it is the lines after the header. Otherwise the continuation
    lines (not starting with a numeric key; few) are grouped into runs of consecutive line
    numbers, and each run is appended to the record line just before it; only those records
    are materialised, the others stay the lines themselves. When appending makes a record
    with a wrong field count although the record line alone was right (a stray line in a
    master or device file), the record loads alone and each stray line is quarantined on its
    own. Lines before the first record are quarantined too. Blank lines only count inside a
    record.
    """
    lines = f"{db}.lines"
    if n_cont == 0:
        cur.execute(
            f"CREATE VIEW {db}.recs AS "
            f"SELECT ln, line AS rec, NULL::VARCHAR AS orphan FROM {lines} WHERE ln > {skip}"
        )
        return
    orphan_reason = (
        _lit(
            "mdr_report_key: expected a record starting with a numeric mdr_report_key followed "
            "by '|' (or a continuation line completing the record above it), found "
        )
        + f" || {_found('c.line')}"
    )
    cur.execute(
        f"""
        CREATE TABLE {db}.cont AS
        SELECT ln, coalesce(line, '') AS line, ln - row_number() OVER (ORDER BY ln) AS island
        FROM {lines} WHERE ln > {skip} AND NOT coalesce(st, false)
        """
    )
    cur.execute(
        f"""
        CREATE TABLE {db}.runs AS
        SELECT island, min(ln) - 1 AS start_ln, string_agg(line, chr(10) ORDER BY ln) AS tail
        FROM {db}.cont GROUP BY island
        """
    )
    cur.execute(
        f"""
        CREATE TABLE {db}.joined AS
        WITH heads AS (
            SELECT r.island, r.start_ln AS ln, l.line AS head,
                   regexp_replace(l.line || chr(10) || r.tail, '(\\n[ \\t\\r]*)+$', '')
                       AS joined
            FROM {db}.runs r JOIN {lines} l ON l.ln = r.start_ln
            WHERE r.start_ln > {skip}
        )
        SELECT *, (NOT {layout.count_ok_sql(_nf_sql("joined"))}
                   AND {layout.count_ok_sql(_nf_sql("head"))}) AS split
        FROM heads
        """
    )
    cur.execute(
        f"""
        CREATE TABLE {db}.orphans AS
        SELECT c.ln, c.line, {orphan_reason} AS orphan
        FROM {db}.cont c JOIN {db}.runs r USING (island)
        LEFT JOIN {db}.joined d USING (island)
        WHERE trim(c.line) <> '' AND (r.start_ln <= {skip} OR d.split)
        """
    )
    cur.execute(
        f"""
        CREATE VIEW {db}.recs AS
        SELECT l.ln, l.line AS rec, NULL::VARCHAR AS orphan
        FROM {lines} l
        WHERE l.ln > {skip} AND coalesce(l.st, false)
          AND l.ln NOT IN (SELECT ln FROM {db}.joined)
        UNION ALL
        SELECT ln, CASE WHEN split THEN head ELSE joined END, NULL::VARCHAR FROM {db}.joined
        UNION ALL
        SELECT ln, line, orphan FROM {db}.orphans
        """
    )


def load_maude_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    kind: str,
    file_path: str,
    sha256: str,
    run_id: str,
) -> FileLoadResult:
    """Load one MAUDE bulk file of the given kind into staging (and raw), bad rows to quarantine.

    Writes on ``con`` without committing. Returns the row accounting for the audit row:
    rows_read counts logical records (a narrative spread over several physical lines is one
    record; the header and blank lines between records are not records).
    """
    if kind not in _SPECS:
        raise ValueError(f"unknown MAUDE file kind {kind!r}; expected one of {MAUDE_KINDS}")
    spec = _SPECS[kind]
    path = Path(path)
    ensure_fda_tables(con)
    scratch = _Scratch(con)
    bad = f"_fda_bad_{uuid.uuid4().hex[:12]}"
    try:
        cur = scratch.cur
        lines, recs = f"{scratch.name}.lines", f"{scratch.name}.recs"
        try:
            scratch.read_lines(path, "lines")
        except _Unreadable as exc:
            return _reject_unreadable(con, spec, path, str(exc), file_path, sha256, run_id)
        row = cur.execute(f"SELECT line FROM {lines} WHERE ln = 1").fetchone()
        header = _detect_header(row[0] if row else None)
        layout = _layout(spec, header)
        skip = 1 if header is not None else 0
        (n_cont,) = cur.execute(
            f"SELECT count(*) FROM {lines} WHERE ln > {skip} AND NOT coalesce(st, false)"
        ).fetchone()
        _build_records(cur, scratch.name, skip, layout, n_cont)
        # from here on the caller's connection reads the finished scratch tables
        return _load_records(con, spec, layout, recs, bad, path, file_path, sha256, run_id)
    finally:
        scratch.close()


def _reject_unreadable(
    con: duckdb.DuckDBPyConnection,
    spec: _Spec,
    path: Path,
    found: str,
    file_path: str,
    sha256: str,
    run_id: str,
) -> FileLoadResult:
    text = path.read_bytes().decode("latin-1").replace("\x00", "")
    reason = f"file rejected: expected a MAUDE {spec.kind} file (pipe-delimited text), {found}"
    n = record_quarantine(
        con,
        source=SOURCE_BULK,
        file_path=file_path,
        sha256=sha256,
        run_id=run_id,
        rejected=[RejectedRow(None, None, reason, text)],
    )
    return FileLoadResult(n, 0, n, "rejected_file")


def _typed_sql(spec: _Spec, layout: _Layout, recs: str) -> str:
    """SELECT of every record: ln, orphan, nf, count_ok, [extra_fields], t__<col>..., err.

    Splits each record on '|', maps fields to canonical columns by the layout of its field
    count, types the staging columns and names the first failure (``column: expected ...,
    found ...``) in err (NULL when the record loads).
    """
    src_sql = ",\n".join(f"{_column_sql(c, layout)} AS {_q(c)}" for c in spec.staging_columns)
    extras = "" if spec.raw else f"{_extras_sql(layout)} AS extra_fields,"
    ref: Callable[[str], str] = _q
    count_reason = (
        f"{_lit('expected ' + layout.expected_text() + ', found ')} || nf::VARCHAR || "
        f"CASE WHEN nf = 1 THEN ' field' ELSE ' fields' END"
    )
    typed_cols = ", ".join(_q("t__" + c) for c in spec.staging_columns)
    if layout.tail_col is not None:
        # a narrative is long and only the fields before it matter: split the record's start,
        # and the whole record only when its start does not hold all those fields
        split = (
            f"SELECT ln, orphan, rec, CASE WHEN len(g) >= {layout.tail_min} THEN g "
            f"ELSE string_split(rec, '|') END AS f "
            f"FROM (SELECT *, string_split(left(rec, {_HEAD_CHARS}), '|') AS g FROM {recs})"
        )
    else:
        split = f"SELECT ln, orphan, rec, string_split(rec, '|') AS f FROM {recs}"
    return f"""
        WITH s AS (
            {split}
        ), c AS (
            SELECT ln, orphan, len(f) AS nf, {extras} {src_sql} FROM s
        ), t AS (
            SELECT *, {layout.count_ok_sql("nf")} AS count_ok,
                   {", ".join(_typed_exprs(spec, ref))}
            FROM c
        )
        SELECT ln, orphan, nf, count_ok, {"extra_fields," if not spec.raw else ""} {typed_cols},
               CASE WHEN orphan IS NOT NULL THEN orphan
                    WHEN NOT count_ok THEN {count_reason}
                    ELSE {_error_expr(spec, ref)} END AS err
        FROM t
        """


def _load_records(
    con: duckdb.DuckDBPyConnection,
    spec: _Spec,
    layout: _Layout,
    recs: str,
    bad: str,
    path: Path,
    file_path: str,
    sha256: str,
    run_id: str,
) -> FileLoadResult:
    """Insert the good records (staging, raw), then quarantine the others.

    One pass types and inserts the good records; only when some records failed does a second
    pass collect the failures with their reasons.
    """
    (n_rows,) = con.execute(f"SELECT count(*) FROM {recs}").fetchone()
    if layout.header is None and n_rows == 0:
        text = path.read_bytes().decode("latin-1")
        reason = (
            f"file rejected: no header row and no record starting with a numeric "
            f"mdr_report_key; expected a MAUDE {spec.kind} file, found "
            f"{'an empty file' if not text else 'only blank lines'}"
        )
        n = record_quarantine(
            con,
            source=SOURCE_BULK,
            file_path=file_path,
            sha256=sha256,
            run_id=run_id,
            rejected=[RejectedRow(None, None, reason, text)],
        )
        return FileLoadResult(n, 0, n, "rejected_file")

    typed = _typed_sql(spec, layout, recs)
    lineage = f"{_lit(SOURCE_BULK)}, {_lit(file_path)}, ln, {_lit(run_id)}"
    stage_cols = ", ".join(_q(c) for c in spec.staging_columns)
    stage_vals = [_q("t__" + c) for c in spec.staging_columns]
    extra = "" if spec.raw else "extra_fields, "
    join = ""
    params: list[object] = []
    if spec.kind == "problem":
        stage_vals[spec.staging_columns.index("device_problem_term")] = (
            'coalesce("t__device_problem_term", p.term)'
        )
        join = (
            "LEFT JOIN (SELECT unnest(?::VARCHAR[]) AS code, unnest(?::VARCHAR[]) AS term) p "
            'ON p.code = "t__device_problem_code"'
        )
        params = list(_problem_code_lists())
    row = con.execute(
        f"INSERT INTO {spec.staging} ({stage_cols}, {extra}{', '.join(_LINEAGE)}) "
        f"SELECT {', '.join(stage_vals)}, {extra}{lineage} FROM ({typed}) {join} "
        f"WHERE err IS NULL",
        params,
    ).fetchone()
    n_loaded = int(row[0]) if row else 0

    n_bad = n_rows - n_loaded
    if n_bad:
        con.execute(
            f"CREATE TEMP TABLE {bad} AS SELECT ln, orphan, count_ok, err "
            f"FROM ({typed}) WHERE err IS NOT NULL"
        )
        try:
            rejected = _quarantine_bulk(
                con, spec, layout, recs, bad, n_loaded, file_path, sha256, run_id
            )
            if rejected:
                return FileLoadResult(n_rows, 0, n_rows, "rejected_file")
            if spec.raw and n_loaded:
                _insert_raw_records(con, spec, layout, recs, bad, lineage)
        finally:
            con.execute(f"DROP TABLE {bad}")
    elif spec.raw and n_loaded:
        _insert_raw_records(con, spec, layout, recs, None, lineage)
    return FileLoadResult(n_rows, n_loaded, n_bad, "loaded")


def _quarantine_bulk(
    con: duckdb.DuckDBPyConnection,
    spec: _Spec,
    layout: _Layout,
    recs: str,
    bad: str,
    n_loaded: int,
    file_path: str,
    sha256: str,
    run_id: str,
) -> bool:
    """Quarantine the failed records; True when the whole file is rejected.

    A file is rejected whole when it has no header and not one record has a field count of
    the kind's layouts: it is not a MAUDE file of that kind at all.
    """
    rejected = False
    if n_loaded == 0 and layout.header is None:
        (n_recognised,) = con.execute(
            f"SELECT count(*) FROM {bad} WHERE count_ok AND orphan IS NULL"
        ).fetchone()
        rejected = n_recognised == 0
    prefix = (
        f"file rejected: no header row and no record with {layout.expected_text()} "
        f"(not a readable MAUDE {spec.kind} file); "
        if rejected
        else ""
    )
    con.execute(
        f"""
        INSERT INTO quarantine.rejected_rows (source, file_path, row_number, column_name,
            reason, raw_record, run_id, sha256, quarantined_at)
        SELECT ?, ?, b.ln,
               CASE WHEN b.orphan IS NOT NULL THEN 'mdr_report_key'
                    WHEN NOT b.count_ok THEN NULL
                    ELSE split_part(b.err, ':', 1) END,
               ? || b.err, coalesce(r.rec, ''), ?, ?, now()::TIMESTAMP
        FROM {bad} b JOIN {recs} r USING (ln)
        ORDER BY b.ln
        """,
        [SOURCE_BULK, file_path, prefix, run_id, sha256],
    )
    return rejected


def _insert_raw_records(
    con: duckdb.DuckDBPyConnection,
    spec: _Spec,
    layout: _Layout,
    recs: str,
    bad: str | None,
    lineage: str,
) -> None:
    """Archive every loaded record as read, with the id of the layout that maps its fields."""
    _register_layouts(con, spec, layout)
    bad_filter = f"WHERE ln NOT IN (SELECT ln FROM {bad})" if bad else ""
    if layout.extras:
        source = (
            f"(SELECT ln, rec, len(f) AS nf, f FROM "
            f"(SELECT ln, rec, string_split(rec, '|') AS f FROM {recs} {bad_filter}))"
        )
    else:
        source = f"(SELECT ln, rec, {_nf_sql('rec')} AS nf FROM {recs} {bad_filter})"
    # The header's layout id, or 'fields' without a header; the view picks the positional
    # layout of a record's own field count when it differs from the header's.
    layout_id = _lit(str(layout.header_id) if layout.header is not None else "fields")
    if not layout.extras:
        source = f"(SELECT ln, rec FROM {recs} {bad_filter})"
    con.execute(
        f"""
        INSERT INTO {spec.records} (record, record_json, layout_id, extra_fields,
                                    {", ".join(_LINEAGE)})
        SELECT rec, NULL, {layout_id}, {_extras_sql(layout)}, {lineage}
        FROM {source}
        """
    )


def _register_layouts(con: duckdb.DuckDBPyConnection, spec: _Spec, layout: _Layout) -> None:
    """Record the field positions of the header and of FDA's positional layouts (once each)."""
    wanted: dict[str, tuple[str, dict[str, int]]] = {
        f"fields:{n}": (f"FDA positional layout with {n} fields", m)
        for n, m in (
            (n, {c: i + 1 for i, c in enumerate(cols)}) for n, cols in spec.layouts.items()
        )
    }
    if layout.header is not None:
        wanted[str(layout.header_id)] = (
            f"header with {len(layout.header)} fields",
            layout.counts[len(layout.header)],
        )
    have = {
        r[0]
        for r in con.execute(
            f"SELECT layout_id FROM {spec.layouts_table} WHERE list_contains(?, layout_id)",
            [list(wanted)],
        ).fetchall()
    }
    for layout_id, (description, mapping) in wanted.items():
        if layout_id in have:
            continue
        cols = ["layout_id", "description", *mapping]
        con.execute(
            f"INSERT INTO {spec.layouts_table} ({', '.join(_q(c) for c in cols)}) "
            f"VALUES ({', '.join('?' for _ in cols)})",
            [layout_id, description, *mapping.values()],
        )


# ------------------------------------------------------------------------------------------
# Reference code lists
# ------------------------------------------------------------------------------------------


@cache
def _problem_codes() -> dict[str, str]:
    """FDA device problem code -> description, from assets/reference/fda/deviceproblemcodes.txt."""
    out: dict[str, str] = {}
    with open(_PROBLEM_CODES_FILE, encoding="latin-1") as fh:
        for i, line in enumerate(fh):
            parts = line.rstrip("\r\n").split("|")
            if i == 0 or len(parts) < 2 or not parts[0].strip().isdigit():
                continue
            out.setdefault(parts[0].strip(), parts[1].strip())
    return out


def _problem_code_lists() -> tuple[list[str], list[str]]:
    codes = _problem_codes()
    return list(codes), list(codes.values())


@cache
def _problem_terms() -> dict[str, str]:
    """Lower-case description -> code (the first code listed for a description)."""
    out: dict[str, str] = {}
    for code, term in _problem_codes().items():
        out.setdefault(term.strip().lower(), code)
    return out


@cache
def _enum_codes() -> dict[str, dict[str, str]]:
    """openFDA decoded value -> FDA code, per field (first code listed for a description)."""
    out: dict[str, dict[str, str]] = {}
    with open(_ENUMS_FILE, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            key = canonical_field_name(row["key_name"])
            out.setdefault(key, {}).setdefault(row["code_desc"].strip().lower(), row["code"])
    return out


# ------------------------------------------------------------------------------------------
# openFDA device/event pages
# ------------------------------------------------------------------------------------------

# openFDA spellings that differ from the bulk files' canonical names.
_OPENFDA_ALIASES: dict[str, str] = {
    "device_date_of_manufacturere": "device_date_of_manufacturer",
    "baseline_510_k_number": "baseline_510_k__number",
    "baseline_510_k_flag": "baseline_510_k__flag",
    "baseline_510_k_exempt_flag": "baseline_510_k__exempt_flag",
}
_NESTED = {"device": _DEVICE, "patient": _PATIENT, "mdr_text": _TEXT}
_LIST_JOIN = {"sequence_number_treatment": "; ", "sequence_number_outcome": "; "}


def _utf8_safe(text: str) -> str:
    """JSON escapes can decode to lone surrogates, which DuckDB refuses: replace them."""
    return text.encode("utf-8", "replace").decode("utf-8")


def _openfda_name(key: str) -> str:
    return _OPENFDA_ALIASES.get(key) or canonical_field_name(key)


def _as_text(value: object, sep: str = ",") -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "Y" if value else "N"
    if isinstance(value, list):
        parts = [_as_text(v) or "" for v in value]
        joined = sep.join(parts)
        return joined if joined.strip(sep.strip() + " ") else None
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    text = str(value)
    return text if text.strip() else None


def _to_code(col: str, value: object) -> str | None:
    """The FDA code for an openFDA decoded value ('Injury' -> 'IN'), else the value as text."""
    table = _enum_codes().get(col)
    if table is None or col in _LIST_JOIN:
        return _as_text(value, _LIST_JOIN.get(col, ","))
    items = value if isinstance(value, list) else [value]
    codes = []
    for item in items:
        text = _as_text(item)
        if text is not None:
            codes.append(table.get(text.strip().lower(), text.strip()))
    return ",".join(codes) or None


class _BadRecord(Exception):
    def __init__(self, column: str | None, reason: str) -> None:
        super().__init__(reason)
        self.column = column
        self.reason = reason


def _flatten(
    spec: _Spec, obj: dict, skip: Iterable[str] = (), parent_key: str | None = None
) -> dict[str, str | None]:
    """Canonical raw columns, staging sources (s__) and extra_fields of one openFDA object."""
    row: dict[str, str | None] = {}
    if parent_key is not None:
        obj = {**obj, "mdr_report_key": parent_key}
    extras: dict[str, object] = {}
    skip = set(skip)
    stage_src: dict[str, object] = {}
    for key, value in obj.items():
        if key in skip:
            continue
        col = _openfda_name(key)
        if col in spec.columns and col not in row:
            row[col] = _as_text(value, _LIST_JOIN.get(col, ","))
            stage_src[col] = value
        elif col in spec.staging_columns and col not in stage_src:
            stage_src[col] = value
        else:
            extras[key] = value
    row["record_json"] = json.dumps(
        {k: v for k, v in row.items() if v is not None}, ensure_ascii=False
    )
    for col in spec.staging_columns:
        row["s__" + col] = _to_code(col, stage_src.get(col))
    row["extra_fields"] = json.dumps(extras, ensure_ascii=False, sort_keys=True) if extras else None
    return row


def _nested_list(record: dict, key: str) -> list[dict]:
    value = record.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        kind = type(value).__name__ if not isinstance(value, list) else "a list with non-objects"
        raise _BadRecord(key, f"{key}: expected a list of objects, found {kind}")
    return value


def _record_rows(record: dict) -> dict[str, list[dict[str, str | None]]]:
    key = _as_text(record.get("mdr_report_key"))
    if key is None:
        raise _BadRecord(
            "mdr_report_key",
            "mdr_report_key: expected a whole number, found nothing (the record has none)",
        )
    rows: dict[str, list[dict[str, str | None]]] = {k: [] for k in _SPECS}
    master = _flatten(_MASTER, record, skip=(*_NESTED, "product_problems"))
    rows["master"].append(master)
    for nested_key, spec in _NESTED.items():
        for child in _nested_list(record, nested_key):
            rows[spec.kind].append(_flatten(spec, child, parent_key=key))
    problems = record.get("product_problems")
    if problems is not None and not isinstance(problems, list):
        raise _BadRecord(
            "product_problems",
            f"product_problems: expected a list of terms, found {type(problems).__name__}",
        )
    for term in problems or []:
        text = _as_text(term)
        if text is None:
            continue
        code = _problem_terms().get(text.strip().lower())
        rows["problem"].append(
            {
                "mdr_report_key": key,
                "device_problem_code": code,
                "s__mdr_report_key": key,
                "s__device_problem_code": code,
                "s__device_problem_term": text,
                "extra_fields": None,
            }
        )
    return rows


def _reject_page(
    con: duckdb.DuckDBPyConnection, text: str, reason: str, file_path: str, sha256: str, run_id: str
) -> FileLoadResult:
    n = record_quarantine(
        con,
        source=SOURCE_OPENFDA,
        file_path=file_path,
        sha256=sha256,
        run_id=run_id,
        rejected=[RejectedRow(None, None, f"file rejected: {reason}", _utf8_safe(text))],
    )
    return FileLoadResult(n, 0, n, "rejected_file")


def load_openfda_page(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    file_path: str,
    sha256: str,
    run_id: str,
) -> FileLoadResult:
    """Load one openFDA device/event page ({"meta": ..., "results": [...]}) into staging.

    One result record = one row read; its device[], patient[], mdr_text[] and
    product_problems[] go to the device, patient, text and device-problem staging tables. A
    record that fails (no mdr_report_key, a bad date anywhere in it) is quarantined whole with
    its JSON text. A file that is not JSON or has no results list is rejected whole.
    """
    ensure_fda_tables(con)
    data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    try:
        page = json.loads(text)
    except json.JSONDecodeError as exc:
        return _reject_page(
            con,
            text,
            f"expected a JSON document (openFDA page), found invalid JSON: {exc}",
            file_path,
            sha256,
            run_id,
        )
    if not isinstance(page, dict) or not isinstance(page.get("results"), list):
        found = (
            f"a JSON {type(page).__name__}"
            if not isinstance(page, dict)
            else "an object without a 'results' list"
            + (f" (keys: {', '.join(sorted(page)[:10])})" if page else "")
        )
        return _reject_page(
            con,
            text,
            f"expected a JSON object with a 'results' list (openFDA device/event "
            f"page), found {found}",
            file_path,
            sha256,
            run_id,
        )
    results = page["results"]
    rejected: dict[int, RejectedRow] = {}
    tables: dict[str, list[dict[str, object]]] = {k: [] for k in _SPECS}
    raw_text: dict[int, str] = {}
    for i, record in enumerate(results, start=1):
        raw_text[i] = _utf8_safe(json.dumps(record, ensure_ascii=False))
        if not isinstance(record, dict):
            rejected[i] = RejectedRow(
                i,
                None,
                f"results[{i - 1}]: expected a JSON object, found {type(record).__name__}",
                raw_text[i],
            )
            continue
        try:
            rows = _record_rows(record)
        except _BadRecord as bad:
            rejected[i] = RejectedRow(i, bad.column, bad.reason, raw_text[i])
            continue
        for kind, kind_rows in rows.items():
            for j, row in enumerate(kind_rows, start=1):
                tables[kind].append({"rec_no": i, "child_no": j, **row})
    tag = uuid.uuid4().hex[:12]
    temps: list[str] = []
    try:
        typed_tables: dict[str, str] = {}
        for kind, rows in tables.items():
            if not rows:
                continue
            spec = _SPECS[kind]
            t = f"_fda_ofda_{kind}_{tag}"
            temps.append(t)
            typed_tables[kind] = t
            _openfda_typed(con, spec, rows, t)
        # the first failure of each record, in table order (master, device, patient, text, ...)
        for kind, t in typed_tables.items():
            label = {
                "master": "",
                "device": "device",
                "patient": "patient",
                "text": "mdr_text",
                "problem": "product_problems",
            }[kind]
            for rec_no, child_no, err in con.execute(
                f"SELECT rec_no, child_no, err FROM {t} WHERE err IS NOT NULL "
                f"ORDER BY rec_no, child_no"
            ).fetchall():
                if rec_no in rejected:
                    continue
                col = err.split(":", 1)[0]
                if label:
                    col = f"{label}.{col}"
                    err = f"{label}[{child_no - 1}].{err}"
                rejected[rec_no] = RejectedRow(rec_no, col, err, raw_text[rec_no])
        bad = sorted(rejected)
        lineage = f"{_lit(SOURCE_OPENFDA)}, {_lit(file_path)}, rec_no, {_lit(run_id)}"
        for kind, t in typed_tables.items():
            spec = _SPECS[kind]
            stage_cols = ", ".join(_q(c) for c in spec.staging_columns)
            stage_vals = ", ".join(_q("t__" + c) for c in spec.staging_columns)
            extra = "" if spec.raw else "extra_fields, "
            keep = "NOT list_contains(?::BIGINT[], rec_no)"
            con.execute(
                f"INSERT INTO {spec.staging} ({stage_cols}, {extra}{', '.join(_LINEAGE)}) "
                f"SELECT {stage_vals}, {extra}{lineage} "
                f"FROM {t} WHERE {keep} ORDER BY rec_no, child_no",
                [bad],
            )
            if spec.raw:
                con.execute(
                    f"INSERT INTO {spec.records} (record, record_json, layout_id, extra_fields, "
                    f"{', '.join(_LINEAGE)}) SELECT NULL, record_json, NULL, extra_fields, "
                    f"{lineage} FROM {t} WHERE {keep} ORDER BY rec_no, child_no",
                    [bad],
                )
    finally:
        for t in temps:
            con.execute(f"DROP TABLE IF EXISTS {t}")
    n_bad = record_quarantine(
        con,
        source=SOURCE_OPENFDA,
        file_path=file_path,
        sha256=sha256,
        run_id=run_id,
        rejected=[rejected[i] for i in sorted(rejected)],
    )
    return FileLoadResult(len(results), len(results) - n_bad, n_bad, "loaded")


def _openfda_typed(
    con: duckdb.DuckDBPyConnection, spec: _Spec, rows: list[dict[str, object]], table: str
) -> None:
    """Put flattened openFDA rows in a temp table with typed columns and the first error."""
    names = [
        "rec_no",
        "child_no",
        "record_json",
        *("s__" + c for c in spec.staging_columns),
        "extra_fields",
    ]
    structure = {n: ("BIGINT" if n in ("rec_no", "child_no") else "VARCHAR") for n in names}
    payload = _utf8_safe(
        json.dumps([{n: r.get(n) for n in names} for r in rows], ensure_ascii=False)
    )
    src: Callable[[str], str] = lambda c: _q("s__" + c)  # noqa: E731
    con.execute(
        f"""
        CREATE TEMP TABLE {table} AS
        WITH c AS (
            SELECT unnest(from_json(?::JSON, ?), recursive := true)
        ), t AS (
            SELECT *, {", ".join(_typed_exprs(spec, src))} FROM c
        )
        SELECT *, {_error_expr(spec, src)} AS err FROM t
        """,
        [payload, json.dumps([structure])],
    )
