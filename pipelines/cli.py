"""The `pms` command line (data contract §2).

    pms generate --out DIR --seed N [--scale NAME]
    pms run --landing DIR --warehouse FILE --reports DIR [--as-of DATE]
    pms verify-audit --warehouse FILE

`pms run` executes the same Dagster definitions the UI shows, in one process.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

import dagster as dg

# The terminal shows what a person needs (step starts, ends, warnings); the full event log stays
# in the Dagster instance.
CLI_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


def _iso_date(text: str) -> str:
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, found {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pms", description="Post-market surveillance pipeline.")
    commands = parser.add_subparsers(dest="command", required=True)

    generate = commands.add_parser(
        "generate", help="write a realistic landing folder with planted ground truth"
    )
    generate.add_argument("--out", type=Path, required=True, help="landing folder to write")
    generate.add_argument("--seed", type=int, required=True, help="random seed")
    generate.add_argument("--scale", default="demo", help="demo, medium or maude")

    run = commands.add_parser("run", help="materialise the whole asset graph in one process")
    run.add_argument("--landing", type=Path, required=True, help="landing folder to read")
    run.add_argument("--warehouse", type=Path, required=True, help="DuckDB file to write")
    run.add_argument("--reports", type=Path, required=True, help="folder for the reports")
    run.add_argument(
        "--as-of",
        type=_iso_date,
        default=None,
        help="replay the night of this date (default: today, UTC)",
    )
    run.add_argument(
        "--wait",
        type=float,
        default=0,
        metavar="SECONDS",
        help="when another night holds the warehouse, wait this long for it (default: refuse)",
    )
    verify = commands.add_parser(
        "verify-audit",
        help="recompute the audit trail's hash chain and sealed digests; exit 1 if tampered",
    )
    verify.add_argument("--warehouse", type=Path, required=True, help="DuckDB file to check")
    evaluate = commands.add_parser(
        "evaluate", help="score the alarms against the planted truth over several seeds"
    )
    evaluate.add_argument("--out", type=Path, default=Path("data/evaluation"))
    evaluate.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    evaluate.add_argument("--scale", default="demo")
    return parser


def command_evaluate(args: argparse.Namespace) -> int:
    from pipelines.evaluate import run_evaluation

    print(run_evaluation(args.out, args.seeds, args.scale))
    print(f"\nWritten to {args.out / 'evaluation.md'} and {args.out / 'evaluation.json'}")
    return 0


def command_verify_audit(args: argparse.Namespace) -> int:
    """Read-only: recompute every run record's hash, its link to the record before, and the
    digests of the rows each run wrote; print the findings (exit 1) or the last hash (exit 0)."""
    import duckdb

    from assets.audit.trail import format_report, verify_audit_trail

    if not args.warehouse.is_file():
        print(f"pms verify-audit: warehouse {args.warehouse} does not exist", file=sys.stderr)
        return 2
    with duckdb.connect(str(args.warehouse), read_only=True) as con:
        try:
            report = verify_audit_trail(con)
        except LookupError as exc:
            print(f"pms verify-audit: {exc}", file=sys.stderr)
            return 1
    print(format_report(report))
    return 0 if report.intact else 1


def command_generate(args: argparse.Namespace) -> int:
    from synthetic.generate import SCALES, generate_landing

    if args.scale not in SCALES:
        print(
            f"pms generate: unknown scale {args.scale!r}; choose {', '.join(SCALES)}",
            file=sys.stderr,
        )
        return 2
    started = time.perf_counter()
    summary = generate_landing(args.out, args.seed, args.scale)
    print(
        f"Landing folder written to {args.out} (seed {args.seed}, scale {args.scale}) "
        f"in {time.perf_counter() - started:.1f} s"
    )
    for name, count in sorted(summary.items()):
        print(f"  {name}: {count}")
    return 0


def command_run(args: argparse.Namespace) -> int:
    from pipelines.definitions import build_definitions
    from pipelines.jobs import NIGHTLY_JOB_NAME
    from pipelines.run_lock import WarehouseBusy, warehouse_lock
    from pipelines.settings import Locations

    if not args.landing.is_dir():
        print(f"pms run: landing folder {args.landing} does not exist", file=sys.stderr)
        return 2
    as_of = args.as_of or dt.datetime.now(dt.UTC).date().isoformat()
    locations = Locations(args.landing.resolve(), args.warehouse.resolve(), args.reports.resolve())
    defs = build_definitions(locations, as_of=as_of)
    job = defs.resolve_job_def(NIGHTLY_JOB_NAME)
    tags = {"pms/as_of": as_of, "pms/trigger": "cli"}
    started = time.perf_counter()
    try:
        with (
            warehouse_lock(locations.warehouse, f"pms run as of {as_of}", args.wait),
            dg.DagsterInstance.get()
            if os.environ.get("DAGSTER_HOME")
            else dg.DagsterInstance.ephemeral() as instance,
        ):
            result = job.execute_in_process(
                instance=instance, raise_on_error=False, run_config=CLI_RUN_CONFIG, tags=tags
            )
    except WarehouseBusy as busy:
        print(f"pms run: {busy}", file=sys.stderr)
        return 3
    elapsed = time.perf_counter() - started
    if not result.success:
        blocked = blocking_failures(result)
        if blocked:
            publish_stopped_night(locations.reports, as_of, blocked, result.run_id)
            print(
                f"pms run: the night of {as_of} stopped at {len(blocked)} blocking check(s); "
                f"see {locations.reports / 'index.html'}",
                file=sys.stderr,
            )
            for failure in blocked:
                print(
                    f"  {failure['table']}: {failure['check']}: {failure['detail']}",
                    file=sys.stderr,
                )
            return 1
        failed = [e.step_key for e in result.all_events if e.is_step_failure]
        print(
            f"pms run: the run {result.run_id} failed at {', '.join(failed) or 'an unknown step'}",
            file=sys.stderr,
        )
        for event in result.all_events:
            if event.is_step_failure and event.step_failure_data:
                print(
                    event.step_failure_data.error.to_string()
                    if event.step_failure_data.error
                    else "",
                    file=sys.stderr,
                )
        return 1
    print(f"Run {result.run_id} as of {as_of} completed in {elapsed:.1f} s")
    print(f"  warehouse: {locations.warehouse}")
    print(f"  reports:   {locations.reports / 'index.html'}")
    return 0


def blocking_failures(result: dg.ExecuteInProcessResult) -> list[dict[str, str]]:
    """The blocking asset checks that failed in a run (they stopped the downstream assets)."""
    failures = []
    for evaluation in result.get_asset_check_evaluations():
        if evaluation.passed or not evaluation.blocking:
            continue
        detail = ""
        for key in ("failures", "broken_files", "rows"):
            value = evaluation.metadata.get(key)
            if value is not None:
                detail = str(getattr(value, "value", value))
                break
        failures.append(
            {
                "table": evaluation.asset_key.to_user_string(),
                "check": evaluation.check_name,
                "detail": detail.replace("**", "").replace("\n- ", "; ").removeprefix("- ")[:2000],
            }
        )
    return sorted(failures, key=lambda f: (f["table"], f["check"]))


def publish_stopped_night(
    reports_dir: Path, as_of: str, failures: list[dict[str, str]], run_id: str
) -> None:
    """Write index.html saying which checks stopped the night, linking the last reports."""
    from assets.reports.assets import write_atomically
    from assets.reports.render import previous_manifest, render_stopped_index
    from pipelines.settings import code_version

    html = render_stopped_index(
        {
            "as_of": as_of,
            "failures": failures,
            "previous": previous_manifest(reports_dir),
            "run_id": run_id,
            "code_version": code_version(),
        }
    )
    write_atomically(reports_dir / "index.html", html)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "generate":
        return command_generate(args)
    if args.command == "evaluate":
        return command_evaluate(args)
    if args.command == "verify-audit":
        return command_verify_audit(args)
    return command_run(args)


if __name__ == "__main__":
    sys.exit(main())
