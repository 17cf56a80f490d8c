"""The life of a signal (data contract, `marts.signals.status`; EMA GVP Module IX signal
management): a signal is raised, evaluated once by a person, and confirmed, refuted or closed.

Status of each alarm on the night:
- `new`: first detected on the night itself;
- `ongoing`: detected on an earlier night and not evaluated since;
- `established`: present since the data let the series or pair be judged at all (a hazard above
  its expected rate from its first judged months, a disproportion already there on the first
  night the MAUDE window could be judged). It is not a change, and it is still a signal to
  evaluate once: it is listed, never hidden;
- `confirmed`, `refuted`, `closed`: the value of the latest `signal_evaluation` determination
  that answers the alarm, decided on or after the night it was first detected.

A determination answers an alarm when its subject is the alarm's `signal_id`, or the signal's
topic `<scope>:<scope value>:<code>` (a review board evaluates "Infusa x A1407", whichever methods
raised it); for a hazard series the topic may also name one of the problem codes the hazard maps.
An evaluation decided before the alarm was first detected does not close it: new evidence after
an evaluation is a new signal to evaluate (it is shown as the previous evaluation).
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from models.exposure import month_end

OUTCOMES = ("confirmed", "refuted", "closed")
EVALUATION_SCHEMA = {
    "determination_id": pl.String,
    "subject": pl.String,
    "value": pl.String,
    "decided_on": pl.Date,
    "decided_by": pl.String,
    "rationale": pl.String,
}
LIFE_COLUMNS = {
    "status": pl.String,
    "established_until": pl.Date,
    "evaluation": pl.String,
    "evaluated_on": pl.Date,
    "evaluated_by": pl.String,
    "evaluation_rationale": pl.String,
    "evaluation_id": pl.String,
}


def topic(scope: str, scope_value: str, code: str) -> str:
    """The subject a person names to evaluate a signal whatever method raised it."""
    return f"{scope}:{scope_value}:{code}"


def _subjects(alarm: dict, hazard_codes: dict[tuple[str, str], list[str]]) -> set[str]:
    names = {alarm["signal_id"], topic(alarm["scope"], alarm["scope_value"], alarm["code"])}
    for code in hazard_codes.get((alarm["scope_value"], alarm["code"]), []):
        names.add(topic(alarm["scope"], alarm["scope_value"], code))
    return names


def signal_life(
    alarms: pl.DataFrame,
    as_of: dt.date,
    established_until: dict[tuple[str, str, str], dt.date],
    evaluations: pl.DataFrame | None,
    hazard_codes: dict[tuple[str, str], list[str]] | None = None,
) -> pl.DataFrame:
    """`alarms` with LIFE_COLUMNS added.

    `alarms`: signal_id, scope, scope_value, code, method, detected_on.
    `established_until`: (scope, scope_value, code) -> the last night on which an alarm still counts
    as present since judging began (the first night the series or pair could be judged, plus
    the grace the caller allows); topics absent are never `established`.
    `evaluations`: determinations of kind `signal_evaluation`: determination_id, subject, value,
    decided_on, decided_by, rationale (all of them; those decided after `as_of` are ignored;
    None when there is no determinations source yet).
    `hazard_codes`: (device family, hazard_id) -> the problem codes the hazard maps.
    """
    hazard_codes = hazard_codes or {}
    if evaluations is None:  # no determinations source yet
        evaluations = pl.DataFrame(schema=EVALUATION_SCHEMA)
    known = evaluations.filter(pl.col("decided_on") <= as_of).sort("decided_on", "determination_id")
    by_subject: dict[str, list[dict]] = {}
    for row in known.iter_rows(named=True):
        by_subject.setdefault(str(row["subject"]).strip(), []).append(row)
    rows = []
    for alarm in alarms.iter_rows(named=True):
        key = (alarm["scope"], alarm["scope_value"], alarm["code"])
        judged_until = established_until.get(key)
        if judged_until is not None and alarm["detected_on"] <= judged_until:
            status = "established"  # even when tonight is the first night it could be judged
        elif alarm["detected_on"] == as_of:
            status = "new"
        else:
            status = "ongoing"
        answers = sorted(
            (e for name in _subjects(alarm, hazard_codes) for e in by_subject.get(name, [])),
            key=lambda e: (e["decided_on"], e["determination_id"]),
        )
        latest = answers[-1] if answers else None
        value = str(latest["value"]).strip().lower() if latest else None
        if (
            latest is not None
            and latest["decided_on"] >= alarm["detected_on"]
            and value in OUTCOMES
        ):
            status = value
        rows.append(
            {
                **alarm,
                "status": status,
                "established_until": judged_until,
                "evaluation": value,
                "evaluated_on": latest["decided_on"] if latest else None,
                "evaluated_by": latest["decided_by"] if latest else None,
                "evaluation_rationale": latest["rationale"] if latest else None,
                "evaluation_id": latest["determination_id"] if latest else None,
            }
        )
    return pl.DataFrame(rows, schema={**alarms.schema, **LIFE_COLUMNS}, orient="row")


def established_windows(
    alarms: pl.DataFrame,
    series: pl.DataFrame,
    maude_first_judged: dt.date | None,
    grace_months: int,
) -> dict[tuple[str, str, str], dt.date]:
    """For `signal_life`: the last night on which an alarm counts as present since judging began.

    Trend series (`series`: scope_value as device_family, code, month, judged): the end of the
    month `grace_months` after the series' first judged month (an alarm that soon reflects the
    rate since the data began, not a change). MAUDE pairs (scope `product_code`): the first night
    the window was judged. Lots, narratives and service cohorts are never established."""
    windows: dict[tuple[str, str, str], dt.date] = {}
    if not series.is_empty():
        first = (
            series.filter(pl.col("judged"))
            .group_by("device_family", "code")
            .agg(pl.col("month").min())
        )
        for family, code, month in first.iter_rows():
            windows[("device_family", family, code)] = month_end(month, grace_months)
    if maude_first_judged is not None:
        for scope, value, code in (
            alarms.filter(pl.col("scope") == "product_code")
            .select("scope", "scope_value", "code")
            .unique()
            .iter_rows()
        ):
            windows[(scope, value, code)] = maude_first_judged
    return windows
