"""Great Expectations (GX Core 1.x) suites from `expectations/*.json`, run on Polars frames.

GX has no Polars data source, so a frame is validated as `frame.to_pandas()` through one
ephemeral context per process. Every expectation in a suite carries a `severity` (`critical`,
`warning`, `info`) and in its `meta` a `scope` (`row`: failing rows are quarantined at ingestion
when critical; `table`: judged on the whole staged table by an asset check) and a `reason` that
says what was expected, in words a person can act on. Suite parameters (`{"$PARAMETER": name}`)
carry what a rule needs from elsewhere: the known device models, IMDRF codes, the as-of date.
"""

from __future__ import annotations

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


@lru_cache(maxsize=1)
def _context() -> Any:
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


@cache
def _validation(name: str) -> Any:
    import great_expectations as gx

    context = _context()
    data = suite_definition(name)
    suite = context.suites.add(
        gx.ExpectationSuite(
            name=name,
            expectations=[{k: v for k, v in e.items() if k != "id"} for e in data["expectations"]],
            meta=data.get("meta") or {},
        )
    )
    source = context.data_sources.add_pandas(f"frames_{name}")
    batch = source.add_dataframe_asset(name).add_batch_definition_whole_dataframe("whole")
    validation = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"validate_{name}", data=batch, suite=suite)
    )
    # GX keeps the suite's order; map its ids back to the stored definitions (severity, meta).
    stored = {
        str(e.id): definition
        for e, definition in zip(suite.expectations, data["expectations"], strict=True)
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


def suite_columns(name: str, available: Sequence[str]) -> list[str]:
    """The columns of `available` that suite `name` reads (its expectations' columns, the
    columns named in a row_condition) plus ROW_INDEX, in `available` order: a table check then
    reads only those, not every column of a table that may hold millions of rows."""
    wanted = set(ROW_INDEX)
    for expectation in suite_definition(name)["expectations"]:
        kwargs = expectation["kwargs"]
        for key in ("column", "column_A", "column_B"):
            if isinstance(kwargs.get(key), str):
                wanted.add(kwargs[key])
        wanted.update(kwargs.get("column_list") or ())
        condition = kwargs.get("row_condition")
        if isinstance(condition, str):
            wanted.update(c for c in available if re.search(rf"\b{re.escape(c)}\b", condition))
    return [c for c in available if c in wanted]


def validate_frame(
    name: str, frame: pl.DataFrame, parameters: dict[str, Any] | None = None
) -> SuiteOutcome:
    """Run suite `name` on `frame` (which must have `source_file` and `source_row`)."""
    definition = suite_definition(name)
    if frame.is_empty() or not definition["expectations"]:
        return SuiteOutcome(name, ())
    pdf = frame.to_pandas()
    validation, stored_by_id = _validation(name)
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
        stored = stored_by_id[str(config.id)]
        kwargs = stored["kwargs"]
        columns = tuple(
            str(kwargs[k])
            for k in ("column", "column_A", "column_B")
            if isinstance(kwargs.get(k), str)
        ) or tuple(kwargs.get("column_list", ()))
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
                element_count=int(res.get("element_count") or len(pdf)),
                unexpected_count=int(res.get("unexpected_count") or len(failing)),
                failing_rows=failing,
            )
        )
    return SuiteOutcome(name, tuple(outcomes))
