"""Great Expectations (GX Core 1.x) suites from `expectations/*.json`, run on Polars frames.

GX has no Polars data source, so a frame is validated as `frame.to_pandas()` through one
ephemeral context per process. Every expectation in a suite carries a `severity` (`critical`,
`warning`, `info`) and in its `meta` a `scope` (`row`: failing rows are quarantined at ingestion
when critical; `table`: judged on the whole staged table by an asset check) and a `reason` that
says what was expected, in words a person can act on. Suite parameters (`{"$PARAMETER": name}`)
carry what a rule needs from elsewhere: the known device models, IMDRF codes, the as-of date.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import polars as pl

EXPECTATIONS_DIR = Path(__file__).resolve().parent.parent.parent / "expectations"
ROW_INDEX = ("source_file", "source_row")  # every judged frame names each record's file and row

# Expectation types that judge each row alone: on a table split into batches (rows by the run that
# loaded them) their result on the whole table is the conjunction of the batch results, and their
# counts are sums. Any type not listed here (uniqueness, aggregates, ordering, a new GX type)
# needs the whole column and is set-wise: judged on the whole table every night.
ROW_WISE_TYPES = frozenset(
    {
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_null",
        "expect_column_values_to_be_in_set",
        "expect_column_values_to_not_be_in_set",
        "expect_column_values_to_be_between",
        "expect_column_values_to_match_regex",
        "expect_column_values_to_not_match_regex",
        "expect_column_values_to_match_regex_list",
        "expect_column_values_to_not_match_regex_list",
        "expect_column_values_to_match_like_pattern",
        "expect_column_values_to_not_match_like_pattern",
        "expect_column_values_to_match_like_pattern_list",
        "expect_column_values_to_not_match_like_pattern_list",
        "expect_column_value_lengths_to_be_between",
        "expect_column_value_lengths_to_equal",
        "expect_column_pair_values_a_to_be_greater_than_b",
        "expect_column_pair_values_to_be_equal",
        "expect_column_pair_values_to_be_in_set",
        "expect_multicolumn_sum_to_equal",
    }
)
# Bump when the split or the aggregation of batch results changes: every batch is judged again.
VALIDATION_LOGIC_VERSION = "1"


@dataclass(frozen=True)
class ExpectationOutcome:
    """The result of one expectation on one frame."""

    expectation_type: str
    columns: tuple[str, ...]
    severity: str
    scope: str
    reason: str
    success: bool
    element_count: int
    unexpected_count: int
    # (file, row in the file, what was found) for each failing row, in file and row order
    failing_rows: tuple[tuple[str, int, str], ...] = ()
    index: int = -1  # position of the expectation in its suite file

    @property
    def check_name(self) -> str:
        return f"{self.expectation_type}({', '.join(self.columns)})"

    def as_record(self) -> dict[str, Any]:
        return {
            "expectation_type": self.expectation_type,
            "columns": list(self.columns),
            "severity": self.severity,
            "scope": self.scope,
            "success": self.success,
            "element_count": self.element_count,
            "unexpected_count": self.unexpected_count,
            "reason": self.reason,
            "failing_rows_sample": [[f, r] for f, r, _ in self.failing_rows[:20]],
        }


@dataclass(frozen=True)
class SuiteOutcome:
    suite: str
    outcomes: tuple[ExpectationOutcome, ...] = field(default_factory=tuple)

    @property
    def success(self) -> bool:
        return all(o.success for o in self.outcomes)

    def failed(self, severity: str | None = None, scope: str | None = None):
        return [
            o
            for o in self.outcomes
            if not o.success
            and (severity is None or o.severity == severity)
            and (scope is None or o.scope == scope)
        ]

    def row_rejections(self) -> dict[tuple[str, int], list[tuple[str, str]]]:
        """Failing rows of critical row-scope rules: (file, row) -> [(column, reason found)]."""
        rejected: dict[tuple[str, int], list[tuple[str, str]]] = {}
        for outcome in self.failed(severity="critical", scope="row"):
            for file_path, row, found in outcome.failing_rows:
                rejected.setdefault((file_path, row), []).append(
                    (outcome.columns[0] if outcome.columns else "", f"{outcome.reason}, {found}")
                )
        return rejected


def suite_path(name: str) -> Path:
    return EXPECTATIONS_DIR / f"{name}.json"


@cache
def suite_definition(name: str) -> dict[str, Any]:
    """The suite as stored (JSON), validated for the fields this project relies on."""
    data = json.loads(suite_path(name).read_text(encoding="utf-8"))
    for i, expectation in enumerate(data.get("expectations", [])):
        where = f"{suite_path(name).name} expectation {i} ({expectation.get('type')})"
        if expectation.get("severity") not in {"critical", "warning", "info"}:
            raise ValueError(f"{where}: severity must be critical, warning or info")
        meta = expectation.get("meta") or {}
        if meta.get("scope") not in {"row", "table"}:
            raise ValueError(f"{where}: meta.scope must be 'row' or 'table'")
        if not meta.get("reason"):
            raise ValueError(f"{where}: meta.reason is required")
    return data


def is_row_wise(expectation: dict[str, Any]) -> bool:
    """True when the expectation judges each row alone (its type is in ROW_WISE_TYPES and no
    `mostly` makes it a proportion of the whole column); anything else is set-wise."""
    kwargs = expectation.get("kwargs") or {}
    return expectation.get("type") in ROW_WISE_TYPES and kwargs.get("mostly") in (None, 1, 1.0)


def split_suite(name: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(row-wise, set-wise) positions of the expectations of suite `name`, in suite order."""
    expectations = suite_definition(name)["expectations"]
    row = tuple(i for i, e in enumerate(expectations) if is_row_wise(e))
    return row, tuple(i for i in range(len(expectations)) if i not in row)


def _part_indexes(name: str, part: str) -> tuple[int, ...]:
    if part == "all":
        return tuple(range(len(suite_definition(name)["expectations"])))
    row, whole = split_suite(name)
    if part == "row":
        return row
    if part == "set":
        return whole
    raise ValueError(f"part must be 'all', 'row' or 'set', not {part!r}")


def suite_parameter_names(name: str) -> list[str]:
    """The `{"$PARAMETER": name}` names suite `name` reads, sorted."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if isinstance(value.get("$PARAMETER"), str):
                found.add(value["$PARAMETER"])
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for expectation in suite_definition(name)["expectations"]:
        walk(expectation.get("kwargs"))
    return sorted(found)


def _gx_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("great_expectations")
    except PackageNotFoundError:  # pragma: no cover - GX is a dependency
        return "unknown"


def validation_fingerprint(name: str, parameters: dict[str, Any] | None) -> str:
    """sha256 of what a verdict on a row depends on: the suite definition, the values of the
    parameters it reads (e.g. the known device models of products.csv), the GX version and the
    version of the batch logic. A batch judged under another fingerprint is judged again."""
    given = parameters or {}
    payload = {
        "suite": suite_definition(name),
        "parameters": {p: given.get(p) for p in suite_parameter_names(name)},
        "great_expectations": _gx_version(),
        "logic": VALIDATION_LOGIC_VERSION,
    }
    text = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@lru_cache(maxsize=1)
def _context() -> Any:
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


@cache
def _validation(name: str, part: str = "all") -> Any:
    import great_expectations as gx

    context = _context()
    data = suite_definition(name)
    indexes = _part_indexes(name, part)
    chosen = [data["expectations"][i] for i in indexes]
    gx_name = name if part == "all" else f"{name}__{part}"
    suite = context.suites.add(
        gx.ExpectationSuite(
            name=gx_name,
            expectations=[{k: v for k, v in e.items() if k != "id"} for e in chosen],
            meta=data.get("meta") or {},
        )
    )
    source = context.data_sources.add_pandas(f"frames_{gx_name}")
    batch = source.add_dataframe_asset(gx_name).add_batch_definition_whole_dataframe("whole")
    validation = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"validate_{gx_name}", data=batch, suite=suite)
    )
    # GX keeps the suite's order; map its ids back to the stored definitions (severity, meta)
    # and their positions in the suite file.
    stored = {
        str(e.id): (index, definition)
        for e, index, definition in zip(suite.expectations, indexes, chosen, strict=True)
    }
    return validation, stored


def _shown(value: Any) -> str:
    """A value as a person reads it: dates without a midnight time, missing as 'empty'."""
    if value is None or (isinstance(value, float) and value != value):
        return "empty"
    text = str(value)
    if text in {"NaT", "None", "nan"}:
        return "empty"
    if text.endswith(" 00:00:00"):
        text = text[: -len(" 00:00:00")]
    return f"'{text}'"


def _found(entry: dict[str, Any], columns: tuple[str, ...]) -> str:
    parts = [f"{c} {_shown(entry[c])}" for c in columns if c in entry]
    return "found " + (", ".join(parts) if parts else "a failing value")


def suite_columns(name: str, available: Sequence[str], part: str = "all") -> list[str]:
    """The columns of `available` that suite `name` reads (its expectations' columns, the
    columns named in a row_condition) plus ROW_INDEX, in `available` order: a table check then
    reads only those, not every column of a table that may hold millions of rows. `part`
    ('row' or 'set', see split_suite) limits this to the row-wise or set-wise expectations."""
    wanted = set(ROW_INDEX)
    expectations = suite_definition(name)["expectations"]
    for index in _part_indexes(name, part):
        kwargs = expectations[index]["kwargs"]
        for key in ("column", "column_A", "column_B"):
            if isinstance(kwargs.get(key), str):
                wanted.add(kwargs[key])
        wanted.update(kwargs.get("column_list") or ())
        condition = kwargs.get("row_condition")
        if isinstance(condition, str):
            wanted.update(c for c in available if re.search(rf"\b{re.escape(c)}\b", condition))
    return [c for c in available if c in wanted]


def _expectation_columns(expectation: dict[str, Any]) -> tuple[str, ...]:
    kwargs = expectation["kwargs"]
    return tuple(
        str(kwargs[k]) for k in ("column", "column_A", "column_B") if isinstance(kwargs.get(k), str)
    ) or tuple(kwargs.get("column_list", ()))


def combine_batch_outcomes(
    name: str, index: int, batches: Sequence[ExpectationOutcome | None], keep: int = 20
) -> ExpectationOutcome:
    """One row-wise expectation (position `index` of suite `name`) on a whole table, from its
    results on the table's batches: it succeeds when every batch did, counts are sums, and the
    failing rows are the first `keep` of all batches in file and row order. A batch without a
    result (None) fails it: no row may skip the gate."""
    expectation = suite_definition(name)["expectations"][index]
    if not is_row_wise(expectation):
        raise ValueError(
            f"{suite_path(name).name} expectation {index} ({expectation['type']}) is set-wise: "
            "its batch results cannot be combined, judge it on the whole table"
        )
    known = [b for b in batches if b is not None]
    return ExpectationOutcome(
        expectation_type=expectation["type"],
        columns=_expectation_columns(expectation),
        severity=expectation["severity"],
        scope=expectation["meta"]["scope"],
        reason=expectation["meta"]["reason"],
        success=len(known) == len(batches) and all(b.success for b in known),
        element_count=sum(b.element_count for b in known),
        unexpected_count=sum(b.unexpected_count for b in known),
        failing_rows=tuple(sorted(r for b in known for r in b.failing_rows))[:keep],
        index=index,
    )


def validate_frame(
    name: str,
    frame: pl.DataFrame,
    parameters: dict[str, Any] | None = None,
    part: str = "all",
) -> SuiteOutcome:
    """Run suite `name` on `frame` (which must have `source_file` and `source_row`); `part`
    'row' or 'set' runs only the row-wise or set-wise expectations (see split_suite)."""
    if frame.is_empty() or not _part_indexes(name, part):
        return SuiteOutcome(name, ())
    pdf = frame.to_pandas()
    validation, stored_by_id = _validation(name, part)
    result = validation.run(
        batch_parameters={"dataframe": pdf},
        expectation_parameters=parameters or {},
        result_format={
            "result_format": "COMPLETE",
            "unexpected_index_column_names": list(ROW_INDEX),
        },
    )
    outcomes = []
    for r in result.results:
        config = r.expectation_config
        index, stored = stored_by_id[str(config.id)]
        columns = _expectation_columns(stored)
        res = r.result or {}
        failing = tuple(
            sorted(
                (str(entry["source_file"]), int(entry["source_row"]), _found(entry, columns))
                for entry in res.get("unexpected_index_list") or []
                if isinstance(entry, dict) and "source_row" in entry
            )
        )
        outcomes.append(
            ExpectationOutcome(
                expectation_type=config.type,
                columns=columns,
                severity=stored["severity"],
                scope=stored["meta"]["scope"],
                reason=stored["meta"]["reason"],
                success=bool(r.success),
                # 0 is a count (a row_condition no row meets), not a missing one: batch counts
                # must add up to the count on the whole table
                element_count=int(
                    res["element_count"] if res.get("element_count") is not None else len(pdf)
                ),
                unexpected_count=int(
                    res["unexpected_count"]
                    if res.get("unexpected_count") is not None
                    else len(failing)
                ),
                failing_rows=failing,
                index=index,
            )
        )
    return SuiteOutcome(name, tuple(sorted(outcomes, key=lambda o: o.index)))
