"""The `pms` command line (data contract §2).

    pms generate --out DIR --seed N [--scale NAME]
    pms run --landing DIR --warehouse FILE --reports DIR [--as-of DATE]
    pms verify-audit --warehouse FILE

`pms run` executes the same Dagster definitions the UI shows, in one process.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import errno
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
    from synthetic.worlds import WORLDS

    generate.add_argument(
        "--world",
        choices=list(WORLDS),
        default="baseline",
        help="structure of the synthetic data and its planted signals (docs/worlds.md)",
    )

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
        "evaluate",
        help="score the alarms against the planted truth over worlds and seeds, beside a peer "
        "detector (R surveillance) on the same series",
    )
    evaluate.add_argument(
        "--worlds",
        nargs="+",
        default=["baseline"],
        metavar="NAME",
        help="generator worlds to evaluate, or 'all' (default: baseline)",
    )
    evaluate.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    evaluate.add_argument("--scale", default="demo")
    evaluate.add_argument(
        "--out",
        type=Path,
        default=Path("data/evaluation"),
        help="folder for the runs, evaluation.json and evaluation.md",
    )
    evaluate.add_argument(
        "--jobs", type=int, default=1, help="world x seed pairs evaluated in parallel processes"
    )
    evaluate.add_argument(
        "--peer",
        choices=["glrpois", "farrington"],
        default="glrpois",
        help="the R surveillance chart run beside ours (default: glrpois)",
    )
    triage_eval = commands.add_parser(
        "triage-eval",
        help="how the triage base model generalises: held out by product code and by source, "
        "on the shipped real MAUDE reports and a landing folder's complaints",
    )
    triage_eval.add_argument(
        "--landing", type=Path, default=None, help="landing folder (default: generate demo)"
    )
    triage_eval.add_argument("--seed", type=int, default=1, help="generator seed (no --landing)")
    triage_eval.add_argument("--out", type=Path, default=Path("data/evaluation"))
    return parser


def command_triage_eval(args: argparse.Namespace) -> int:
    from pipelines.triage_eval import run_triage_evaluation

    if args.landing is not None and not (args.landing / "complaints").is_dir():
        print(f"pms triage-eval: {args.landing} has no complaints/ folder", file=sys.stderr)
        return 2
    print(run_triage_evaluation(args.out, args.landing, args.seed))
    print(f"Written to {args.out / 'triage_evaluation.md'} and .json")
    return 0


def command_evaluate(args: argparse.Namespace) -> int:
    from pipelines.evaluate import EvaluationFailed, resolve_worlds, run_evaluation

    try:
        worlds = resolve_worlds(args.worlds)
    except ValueError as exc:
        print(f"pms evaluate: {exc}", file=sys.stderr)
        return 2
    if args.jobs < 1:
        print(f"pms evaluate: --jobs must be at least 1, found {args.jobs}", file=sys.stderr)
        return 2
    try:
        report = run_evaluation(
            args.out, args.seeds, args.scale, worlds, jobs=args.jobs, peer_method=args.peer
        )
    except EvaluationFailed as exc:
        print(f"pms evaluate: {exc}", file=sys.stderr)
        return 1
    print(report)
    print(f"Written to {args.out / 'evaluation.md'} and {args.out / 'evaluation.json'}")
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
    summary = generate_landing(args.out, args.seed, args.scale, world=args.world)
    world = "" if args.world == "baseline" else f", world {args.world}"
    print(
        f"Landing folder written to {args.out} (seed {args.seed}, scale {args.scale}{world}) "
        f"in {time.perf_counter() - started:.1f} s"
    )
    for name, count in sorted(summary.items()):
        print(f"  {name}: {count}")
    return 0


# Exit codes of `pms run` (README, "Exit codes"); the last line printed says which.
EXIT_COMPLETED = 0  # every step ran and passed
EXIT_COMPLETED_WITH_FAILURES = 1  # named failures; the morning page and audit record published
EXIT_NOT_STARTED = (
    2  # bad arguments, a missing landing folder, unwritable storage, a busy warehouse
)
EXIT_SAFETY_PATH_FAILED = 3  # the morning page or the audit record could not be published


def _published_safety_path(result: dg.ExecuteInProcessResult | None) -> bool:
    """Whether a run materialised the morning page and the audit record."""
    if result is None:
        return False
    from assets.night_outcome import publishes_the_morning

    return publishes_the_morning(
        {
            event.asset_key
            for event in result.all_events
            if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION
        }
    )


def _failed_steps(result: dg.ExecuteInProcessResult | None) -> list[str]:
    if result is None:
        return []
    from assets.night_outcome import is_blocking_check_stop

    return sorted(
        {
            e.step_key
            for e in result.all_events
            if e.is_step_failure and e.step_key and not is_blocking_check_stop(e)
        }
    )


# A run made in this process carries no code location, and the Dagster UI lists a job's runs (the
# job page, the overview timeline) by the repository label the webserver gives its own runs:
# "<repository>@<location>" under the hidden tag REPOSITORY_LABEL_TAG. The workspace's one
# location is "pms" (workspace.yaml) and a Definitions object's repository is Dagster's singleton
# name; with the label, `pms run`'s nights show on the pms_nightly job page as the scheduled ones
# do (Dagster issue 17707: runs made outside the webserver lack it).
CODE_LOCATION = "pms"


def _ui_repository_tag() -> dict[str, str]:
    from dagster._core.definitions.repository_definition import SINGLETON_REPOSITORY_NAME
    from dagster._core.storage.tags import REPOSITORY_LABEL_TAG

    return {REPOSITORY_LABEL_TAG: f"{SINGLETON_REPOSITORY_NAME}@{CODE_LOCATION}"}


def command_run(args: argparse.Namespace) -> int:
    from assets.night_outcome import RESCUES_RUN_TAG
    from pipelines.definitions import build_definitions
    from pipelines.jobs import (
        KNOWN_DATA_ONLY,
        NIGHTLY_JOB_NAME,
        SAFETY_NET_JOB_NAME,
        SAFETY_NET_TIER_TAG,
        SAFETY_PATH_KEYS,
    )
    from pipelines.run_lock import WarehouseBusy, warehouse_lock
    from pipelines.settings import Locations

    if not args.landing.is_dir():
        print(f"pms run: landing folder {args.landing} does not exist", file=sys.stderr)
        print("pms run: exit 2: the night was not started", file=sys.stderr)
        return EXIT_NOT_STARTED
    as_of = args.as_of or dt.datetime.now(dt.UTC).date().isoformat()
    locations = Locations(args.landing.resolve(), args.warehouse.resolve(), args.reports.resolve())
    problem = preflight_storage(locations.warehouse, locations.reports)
    if problem:
        print(f"pms run: {problem}", file=sys.stderr)
        return EXIT_NOT_STARTED
    defs = build_definitions(locations, as_of=as_of)
    job = defs.resolve_job_def(NIGHTLY_JOB_NAME)
    tags = {"pms/as_of": as_of, "pms/trigger": "cli", **_ui_repository_tag()}
    started = time.perf_counter()
    rescue: dg.ExecuteInProcessResult | None = None
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
            if not _published_safety_path(result):
                # still under the lock: the stopped night's loads get their run record too
                try:
                    seal_stopped_night_record(locations.warehouse, result.run_id, as_of, result)
                except Exception as exc:  # a full disk, say: the safety net still runs
                    print(
                        f"pms run: the record of the stopped run {result.run_id} could not be "
                        f"written ({type(exc).__name__}: {exc}); pms verify-audit will name "
                        "what it loaded as unsealed",
                        file=sys.stderr,
                    )
                # The safety-critical path alone, on the staged data as it stands plus what
                # waits in quarantine: the clocks of known obligations stay on the page.
                safety_net = defs.resolve_job_def(SAFETY_NET_JOB_NAME)
                rescue = safety_net.execute_in_process(
                    instance=instance,
                    raise_on_error=False,
                    run_config=CLI_RUN_CONFIG,
                    tags={**tags, RESCUES_RUN_TAG: result.run_id},
                )
                if not _published_safety_path(rescue):
                    # tonight's complaint files could not be read: what is already known
                    rescue = safety_net.execute_in_process(
                        instance=instance,
                        raise_on_error=False,
                        run_config=CLI_RUN_CONFIG,
                        asset_selection=list(SAFETY_PATH_KEYS),
                        tags={
                            **tags,
                            RESCUES_RUN_TAG: result.run_id,
                            SAFETY_NET_TIER_TAG: KNOWN_DATA_ONLY,
                        },
                    )
    except WarehouseBusy as busy:
        print(f"pms run: {busy}", file=sys.stderr)
        print("pms run: exit 2: the night was not started", file=sys.stderr)
        return EXIT_NOT_STARTED
    except OSError as exc:
        if exc.errno not in STORAGE_ERRNOS:
            raise
        print(f"pms run: {storage_failure_message(exc.filename, exc.errno)}", file=sys.stderr)
        return EXIT_SAFETY_PATH_FAILED
    elapsed = time.perf_counter() - started
    published = _published_safety_path(result) or _published_safety_path(rescue)
    if result.success and published:
        failed_checks = sorted(
            f"{e.asset_key.to_user_string()}: {e.check_name}"
            for e in result.get_asset_check_evaluations()
            if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR
        )
        flagged = (
            f"; {len(failed_checks)} failed check(s) on the morning page: "
            + ", ".join(failed_checks)
            if failed_checks
            else ""
        )
        print(f"Run {result.run_id} as of {as_of} completed in {elapsed:.1f} s{flagged}")
        print(f"  warehouse: {locations.warehouse}")
        print(f"  reports:   {locations.reports / 'index.html'}")
        print(f"pms run: exit 0: the night of {as_of} completed")
        return EXIT_COMPLETED
    return report_failed_night(locations, as_of, result, rescue, published)


def report_failed_night(
    locations: Any,
    as_of: str,
    result: dg.ExecuteInProcessResult,
    rescue: dg.ExecuteInProcessResult | None,
    published: bool,
) -> int:
    """Say what failed, what was still published and what to do; the exit code."""
    blocked = blocking_failures(result)
    if blocked:
        print(
            f"pms run: the night of {as_of} stopped at {len(blocked)} blocking check(s):",
            file=sys.stderr,
        )
        for failure in blocked:
            print(
                f"  {failure['table']}: {failure['check']}: {failure['detail']}",
                file=sys.stderr,
            )
    failed = _failed_steps(result)
    for run in (result, rescue):
        if run is None:
            continue
        for event in run.all_events:
            if event.is_step_failure and event.step_failure_data and event.step_failure_data.error:
                print(
                    f"pms run: step {event.step_key} of run {run.run_id} failed:\n"
                    + event.step_failure_data.error.to_string(),
                    file=sys.stderr,
                )
    storage = (storage_failures(rescue) if rescue is not None else None) or storage_failures(result)
    if not published:
        if blocked:
            try:
                publish_stopped_night(locations.reports, as_of, blocked, result.run_id)
            except OSError as exc:
                if exc.errno not in STORAGE_ERRNOS:
                    raise
        safety_failed = _failed_steps(rescue) or failed
        reason = (
            storage_failure_message(*storage)
            if storage
            else f"the morning page or the audit record of {as_of} was NOT published "
            f"(failed: {', '.join(safety_failed) or 'unknown step'}); the last published "
            f"page stays in {locations.reports}. Fix the cause named above and run again."
        )
        print(f"pms run: exit 3: {reason}", file=sys.stderr)
        return EXIT_SAFETY_PATH_FAILED
    if storage:
        print(f"pms run: {storage_failure_message(*storage)}", file=sys.stderr)
    named = [f"{f['table']}: {f['check']}" for f in blocked] + failed
    where = f"run {rescue.run_id} (pms_safety_net)" if rescue is not None else "the nightly run"
    print(
        f"pms run: exit 1: the night of {as_of} completed with {len(named)} named failure(s) "
        f"({', '.join(named) or 'see above'}); the morning page and the audit record were "
        f"published by {where}: {locations.reports / VIGILANCE_PAGE_NAME}",
        file=sys.stderr,
    )
    return EXIT_COMPLETED_WITH_FAILURES


VIGILANCE_PAGE_NAME = "vigilance.html"


# Errors of the disk rather than of the pipeline: the person running the night must act on them.
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES})
_WHAT_IS_WRONG = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "file too large (file size limit reached)",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
}
_WHAT_TO_DO = {
    errno.ENOSPC: "free space on that disk (see `df -h {folder}`) or choose a folder on a larger "
    "disk",
    errno.EDQUOT: "free space within the quota or ask for a larger one",
    errno.EFBIG: "raise the file size limit (`ulimit -f`) or choose a file system that allows "
    "larger files",
    errno.EROFS: "remount the file system read-write or choose a writable folder",
    errno.EACCES: "give the user running pms write permission on {folder} or choose a writable "
    "folder",
}
# "Could not write file "/x/pms.duckdb.wal": No space left on device" (DuckDB) and
# "[Errno 28] No space left on device: '/x/.index.html.tmp'" (Python).
_QUOTED_PATH = re.compile(r"""["'](/[^"']+)["']""")
_TEMPORARY_NAME = re.compile(r"\.(.+)\.tmp")
MIN_FREE_BYTES = 100 * 1024**2


def _what_is_wrong(code: int) -> str:
    return _WHAT_IS_WRONG.get(code) or os.strerror(code).lower()


def _what_to_do(code: int, folder: Path) -> str:
    return _WHAT_TO_DO.get(code, "fix the folder or choose another one").format(folder=folder)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _probe_folder(folder: Path) -> OSError | None:
    """Create the folder if needed, then create, write, flush and remove a small file in it;
    the OS error when any of that fails. (`os.access` would not do: root passes it on a
    read-only mount and it knows nothing of free space.)"""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not folder.is_dir():
            return NotADirectoryError(errno.ENOTDIR, "not a folder", str(folder))
        handle, name = tempfile.mkstemp(prefix=".pms-preflight-", dir=folder)
    except OSError as exc:
        return exc
    try:
        os.write(handle, b"\0" * 4096)
        os.fsync(handle)
    except OSError as exc:
        return exc
    finally:
        os.close(handle)
        with contextlib.suppress(OSError):
            os.unlink(name)
    return None


def preflight_storage(warehouse: Path, reports: Path) -> str | None:
    """Before the night starts: the warehouse's folder and the reports folder exist (or can be
    created) and take a file, and an existing warehouse file opens for writing. Returns one line
    naming the path, what is wrong and what to do, or None; prints the free space."""
    checks = [
        ("warehouse folder", warehouse.parent, "--warehouse"),
        ("reports folder", reports, "--reports"),
    ]
    for what, folder, option in checks:
        error = _probe_folder(folder)
        if error is not None:
            code = error.errno or 0
            return (
                f"cannot write to the {what} {folder}: {_what_is_wrong(code)}. "
                f"{_sentence(_what_to_do(code, folder))} (pass {option}), then run again; "
                "the night was not started."
            )
    if warehouse.exists():
        try:
            os.close(os.open(warehouse, os.O_RDWR))
        except OSError as exc:
            code = exc.errno or 0
            return (
                f"cannot open the warehouse {warehouse} for writing: {_what_is_wrong(code)}. "
                f"{_sentence(_what_to_do(code, warehouse.parent))}, then run again; the night "
                "was not started."
            )
    free = {}
    for what, folder, _option in checks:
        usage = shutil.disk_usage(folder)
        free[what] = f"{what} {folder}: {usage.free / 1024**3:.1f} GiB free"
        if usage.free < MIN_FREE_BYTES:
            print(
                f"pms run: warning: only {usage.free / 1024**2:.1f} MiB free for the {what} "
                f"{folder}; the night may stop when the disk fills up",
                file=sys.stderr,
            )
    print("Storage: " + "; ".join(dict.fromkeys(free.values())))
    return None


def _error_texts(error: object) -> Iterator[str]:
    """The messages of a Dagster error and of its causes and contexts."""
    seen: set[int] = set()
    pending = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield str(getattr(current, "message", "") or "")
        pending.extend([getattr(current, "cause", None), getattr(current, "context", None)])


def storage_failures(
    result: dg.ExecuteInProcessResult,
) -> tuple[str | None, int, list[str]] | None:
    """(path, errno, failed steps) when steps of the run failed on a full, read-only or
    forbidden disk; None when no failure was of that kind."""
    texts = {os.strerror(code): code for code in STORAGE_ERRNOS}
    found: tuple[str | None, int] | None = None
    steps = []
    for event in result.all_events:
        if not (event.is_step_failure and event.step_failure_data):
            continue
        for text in _error_texts(event.step_failure_data.error):
            code = next((c for t, c in texts.items() if t in text), None)
            if code is None:
                continue
            if event.step_key not in steps:
                steps.append(event.step_key)
            if found is None:
                quoted = _QUOTED_PATH.search(text)
                path = quoted.group(1) if quoted else None
                if path:  # name the report, not its temporary file (write_atomically)
                    temporary = _TEMPORARY_NAME.fullmatch(Path(path).name)
                    path = str(Path(path).with_name(temporary.group(1))) if temporary else path
                found = (path, code)
            break
    return (found[0], found[1], steps) if found else None


def storage_failure_message(path: str | None, code: int, steps: list[str] | None = None) -> str:
    """One line: which file, what the OS said, where the night stopped, what state is left and
    what to do."""
    shown = ", ".join((steps or [])[:3]) + (
        f" and {len(steps) - 3} more" if len(steps or []) > 3 else ""
    )
    where = f" at {shown}" if steps else ""
    target = f"writing {path}" if path else "writing the warehouse or the reports"
    folder = Path(path).parent if path else Path(".")
    return (
        f"the night stopped{where}: {target} failed: {os.strerror(code)} "
        f"({errno.errorcode.get(code, code)}). Nothing is half-written: the warehouse keeps its "
        "last committed state and the reports folder its last published files. "
        f"{_sentence(_what_to_do(code, folder))}, then run pms run again."
    )


def seal_stopped_night_record(
    warehouse: Path, run_id: str, as_of: str, result: dg.ExecuteInProcessResult
) -> None:
    """Append the audit run record of a night stopped before its own (what it loaded is sealed;
    the reason names the blocking checks and failed steps); nothing when it has one."""
    import duckdb

    from assets.audit.trail import seal_stopped_night
    from pipelines.settings import code_version, load_config

    checks = sorted({f"{f['table']}: {f['check']}" for f in blocking_failures(result)})
    checks += _failed_steps(result)
    con = duckdb.connect(str(warehouse))
    try:
        seal_stopped_night(
            con,
            run_id=run_id,
            as_of=dt.date.fromisoformat(as_of),
            code_version=code_version(),
            config_sha256=load_config().sha256,
            stopped_at=checks,
        )
    finally:
        con.close()


def blocking_failures(result: dg.ExecuteInProcessResult) -> list[dict[str, str]]:
    """The blocking asset checks that failed in a run (they stopped the downstream assets)."""
    from assets.night_outcome import check_finding

    failures = []
    for evaluation in result.get_asset_check_evaluations():
        if evaluation.passed or not evaluation.blocking:
            continue
        failures.append(
            {
                "table": evaluation.asset_key.to_user_string(),
                "check": evaluation.check_name,
                "detail": check_finding(evaluation.metadata)[:2000],
            }
        )
    return sorted(failures, key=lambda f: (f["table"], f["check"]))


def publish_stopped_night(
    reports_dir: Path, as_of: str, failures: list[dict[str, str]], run_id: str
) -> None:
    """Write index.html saying which checks stopped the night, linking the last reports."""
    from assets.reports.files import write_atomically
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
    if args.command == "triage-eval":
        return command_triage_eval(args)
    if args.command == "verify-audit":
        return command_verify_audit(args)
    return command_run(args)


if __name__ == "__main__":
    sys.exit(main())
