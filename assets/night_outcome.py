"""What went wrong in a night: failed and skipped steps and failed checks, from Dagster's event log.

The safety-critical path of a night (README, "The safety-critical path") is
`marts/vigilance_flags` -> `reports/vigilance_page` -> `audit/run_record`. Nothing else is
upstream of it, so a failure anywhere else (a report section, the PDF printer, the narrative
model, MAUDE, service anomalies, a WARN check) never stops it. Those failures stay red in the
Dagster UI, and the morning page, the index and the run's audit record name them, read here
from the run's own event log. The page and the record run last among the steps that can run
(`PAGE_STEP_PRIORITY`, `AUDIT_STEP_PRIORITY`), so every other step has already succeeded,
failed or been skipped when they read it.

A night stopped by a blocking check (or a failure upstream of the vigilance flags) is rescued by
the job `pms_safety_net`, run by `pms run` and by the sensor `safety_net_after_failed_night`,
with the tag `RESCUES_RUN_TAG` naming the stopped run: its page and record name what stopped
that run.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg

# Tag of a pms_safety_net run: the id of the nightly run it publishes the morning page for.
RESCUES_RUN_TAG = "pms/rescues_run"
# Tag of the safety net's second attempt, which leaves tonight's complaint files out.
SAFETY_NET_TIER_TAG = "pms/safety_net_tier"
KNOWN_DATA_ONLY = "known_data_only"
# Dagster's op priority (higher runs first among ready steps of the in-process executor): the
# morning page after every step that may run, the audit record last of all.
PAGE_STEP_PRIORITY = "-50"
AUDIT_STEP_PRIORITY = "-100"

SAFETY_CRITICAL_ASSETS = (
    dg.AssetKey(["marts", "vigilance_flags"]),
    dg.AssetKey(["reports", "vigilance_page"]),
    dg.AssetKey(["audit", "run_record"]),
)
DETAIL_CHARS = 300


@dataclass(frozen=True)
class Problem:
    """One thing that went wrong in a run, for a person to read."""

    run_id: str
    what: str  # a step key or "table: check"
    kind: str  # "step failed" | "step skipped" | "check failed" | "blocking check failed"
    detail: str

    def line(self) -> str:
        detail = f": {self.detail}" if self.detail else ""
        return f"{self.what} ({self.kind}){detail}"


def _one_line(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= DETAIL_CHARS else text[: DETAIL_CHARS - 1] + "…"


def _failure_detail(event: dg.DagsterEvent) -> str:
    data = event.step_failure_data
    error = getattr(data, "error", None) if data is not None else None
    if error is None:
        return ""
    # the innermost cause is what the step's own code raised (Dagster wraps it)
    cause = error
    while getattr(cause, "cause", None) is not None:
        cause = cause.cause
    return _one_line(getattr(cause, "message", "") or "")


NOT_RUN = "not run: a step upstream failed or stopped"


def is_blocking_check_stop(event: dg.DagsterEvent) -> bool:
    data = event.step_failure_data
    error = getattr(data, "error", None) if data is not None else None
    return getattr(error, "cls_name", None) == "DagsterAssetCheckFailedError"


# The safety-critical steps read the run's events while they run: they are not "not run".
SAFETY_STEP_KEYS = frozenset("__".join(key.path) for key in SAFETY_CRITICAL_ASSETS)


def _steps_not_run(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """Steps of the run's plan that never started (Dagster abandons the steps downstream of a
    failure without an event of their own), except the safety-critical ones."""
    run = instance.get_run_by_id(run_id)
    if run is None or not run.execution_plan_snapshot_id:
        return []
    plan = instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id)
    planned = {step.key for step in plan.steps}
    started = {
        entry.dagster_event.step_key
        for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_START)
        if entry.dagster_event is not None
    }
    return sorted(planned - started - SAFETY_STEP_KEYS)


def check_finding(metadata: dict) -> str:
    """What a failed check found, from the metadata the project's checks attach, as plain text
    (the Markdown list joined by "; ")."""
    for key in ("failures", "broken_files", "rows"):
        value = metadata.get(key)
        if value is not None:
            text = str(getattr(value, "value", value))
            return text.replace("**", "").replace("\n- ", "; ").removeprefix("- ")
    return ""


def check_detail(metadata: dict) -> str:
    """`check_finding` on one line of at most DETAIL_CHARS characters."""
    return _one_line(check_finding(metadata))


# What a night must publish for the morning to be covered: the page and the audit record.
MORNING_OUTPUTS = frozenset(SAFETY_CRITICAL_ASSETS[1:])


def publishes_the_morning(materialised: set[dg.AssetKey]) -> bool:
    """Whether a run that materialised these assets published the page and the record."""
    return materialised >= MORNING_OUTPUTS


def run_problems(instance: dg.DagsterInstance, run_id: str) -> list[Problem]:
    """The failed and skipped steps and the failed checks of one run, in a fixed order."""
    kinds = {
        dg.DagsterEventType.STEP_FAILURE,
        dg.DagsterEventType.STEP_SKIPPED,
        dg.DagsterEventType.ASSET_CHECK_EVALUATION,
    }
    problems: set[Problem] = set()
    for entry in instance.all_logs(run_id, of_type=kinds):
        event = entry.dagster_event
        if event is None:
            continue
        if event.event_type == dg.DagsterEventType.STEP_FAILURE:
            if is_blocking_check_stop(event):
                continue  # the failed blocking check is listed itself, with what it found
            problems.add(
                Problem(run_id, event.step_key or "?", "step failed", _failure_detail(event))
            )
        elif event.event_type == dg.DagsterEventType.STEP_SKIPPED:
            problems.add(Problem(run_id, event.step_key or "?", "step skipped", ""))
        else:
            evaluation = event.event_specific_data
            if getattr(evaluation, "passed", True):
                continue
            severity = getattr(evaluation, "severity", None)
            if severity != dg.AssetCheckSeverity.ERROR:
                continue  # a failed WARN check is shown in the quality annex, not here
            kind = "blocking check failed" if evaluation.blocking else "check failed"
            what = f"{evaluation.asset_key.to_user_string()}: {evaluation.check_name}"
            problems.add(Problem(run_id, what, kind, check_detail(evaluation.metadata)))
    not_run = _steps_not_run(instance, run_id)
    if not_run:
        problems.add(Problem(run_id, ", ".join(not_run), NOT_RUN, ""))
    order = {"blocking check failed": 0, "step failed": 1, "check failed": 2, "step skipped": 3}
    return sorted(problems, key=lambda p: (order.get(p.kind, 9), p.what, p.detail))


def rescued_run_id(tags: dict[str, str]) -> str | None:
    """The nightly run a pms_safety_net run stands in for (its tag), or None."""
    return tags.get(RESCUES_RUN_TAG) or None


def night_problems(context: dg.AssetExecutionContext) -> list[Problem]:
    """What went wrong tonight: in the run of this step (the steps before it), and, in a
    pms_safety_net run, in the nightly run it rescues."""
    instance = context.instance
    run = context.run
    problems = []
    rescued = rescued_run_id(dict(run.tags))
    if rescued:
        problems += run_problems(instance, rescued)
    return problems + run_problems(instance, run.run_id)
