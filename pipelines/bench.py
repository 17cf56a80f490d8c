"""The benchmark behind `make bench` (never a timed test).

    python -m pipelines.bench --scale maude --out data/bench [--seed 42] [--small-scale medium]

Every figure lands in `OUT/bench.json` (keys sorted) and a short table is printed. The
measurements, in order:

1. generate: `pms generate` writes `OUT/<scale>/landing` (reused when its
   `_truth/generation.json` shows the same scale and seed); wall time.
2. history landing: a copy (hard links) of the landing folder without the newest day's files
   (every file whose name carries the newest YYYY-MM-DD date found among the file names).
3. raw_read: a fresh DuckDB file; every file of the history landing becomes a table via
   `CREATE TABLE ... AS SELECT * FROM read_csv(file, all_varchar=true, header=true, ...)`
   (`delim='|'`, `quote=''`, `encoding='latin-1'` for the MAUDE `.txt` files) or
   `read_json(file)` for the openFDA pages. No parsing, no checks, no joins: the practical
   lower bound for reading the same bytes into DuckDB. Wall time.
4. full_rebuild: `pms run` as a subprocess (PMS_USER=bench) of the history landing into a
   fresh warehouse and reports folder, as of the day before the newest day. Wall time; peak
   memory is the child's `ru_maxrss` taken by a small wrapper process that starts only that
   child (getrusage(RUSAGE_CHILDREN) covers the largest waited-for descendant, so earlier
   commands of the benchmark cannot leak into the figure); ratio = rebuild / raw read. Each
   run gets a fresh DAGSTER_HOME (the project's dagster.yaml) under OUT/logs, from which the
   slowest steps are read back (where the time goes).
5. increment: the newest day's files are added and `pms run --as-of <newest day>` on the same
   warehouse is timed: one nightly increment on the full history. Steps 2, 4 and 5 are repeated
   on the small scale (default medium: "small history"); the ratio full / small says whether
   the cost of a night grows with history. The rebuild of the full scale is the history of its
   increment, so the biggest run is made once.
6. disproportionality: every (FDA product code, device problem code) pair of staging.maude_*
   in the full-scale warehouse, all dates (not only the firm's codes), counted as the signals
   asset counts them; `models.disproportionality.disproportionality(pairs)` is timed (the query
   separately).
7. OUT/bench.json: scale, seed, machine (nproc, memory, load, python/duckdb/dagster/polars
   versions), each figure, the targets and pass/fail per target.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.hooks import STEP_MEMORY_MESSAGE

GIB = 1024**3
DATE_IN_NAME = re.compile(r"(\d{4}-\d{2}-\d{2})")

TARGETS: dict[str, dict[str, Any]] = {
    "rebuild_over_raw_read": {"max": 3.0, "text": "full rebuild within 3x the raw read"},
    "peak_memory_gib": {"max": 6.0, "text": "peak memory under 6 GB"},
    "increment_full_s": {"max": 60.0, "text": "nightly increment under 60 s"},
    "increment_full_over_small": {
        "max": 1.3,
        "text": "increment within 1.3x between small and full history",
    },
    "disproportionality_s": {"max": 30.0, "text": "disproportionality on all pairs under 30 s"},
}

# Runs one command and reports its peak RSS (ru_maxrss of its waited-for descendants, KiB on
# Linux) as JSON in the file named by argv[1]; the exit code is passed on.
_WRAPPER = """
import json, resource, subprocess, sys
rc = subprocess.call(sys.argv[2:])
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
with open(sys.argv[1], "w") as fh:
    json.dump({"rc": rc, "maxrss_kib": peak}, fh)
sys.exit(rc)
"""


@dataclass(frozen=True)
class Measured:
    """One measured child process."""

    seconds: float
    peak_rss_gib: float
    returncode: int
    log: Path
    steps: dict[str, float] | None = None  # Dagster step durations, slowest first
    memory: dict[str, dict[str, float]] | None = None  # steps that raised the peak RSS


def run_measured(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> Measured:
    """Run `cmd` through the wrapper; wall time, the child's peak RSS and its output in `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    stats = log.with_suffix(".rusage.json")
    started = time.perf_counter()
    with log.open("w", encoding="utf-8") as out:
        rc = subprocess.call(
            [sys.executable, "-c", _WRAPPER, str(stats), *cmd],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    seconds = time.perf_counter() - started
    peak = json.loads(stats.read_text())["maxrss_kib"] if stats.exists() else 0
    return Measured(round(seconds, 2), round(peak * 1024 / GIB, 3), rc, log)


def pms_env(home: Path) -> dict[str, str]:
    """The environment of a measured `pms run`: PMS_USER=bench and a fresh Dagster instance in
    `home` with the project's dagster.yaml (as `make demo` sets it up), so the run's step
    timings can be read back afterwards."""
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    config = Path(__file__).resolve().parent.parent / "config" / "dagster.yaml"
    if config.is_file():
        shutil.copy2(config, home / "dagster.yaml")
    env = dict(os.environ)
    env["PMS_USER"] = "bench"
    env["DAGSTER_HOME"] = str(home)
    return env


def pms_command() -> list[str]:
    return [sys.executable, "-m", "pipelines.cli"]


def pms_run(landing: Path, warehouse: Path, reports: Path, as_of: str, log: Path) -> Measured:
    """`pms run` as a child process; raises when it fails (a benchmark of a failed night lies)."""
    cmd = [
        *pms_command(),
        "run",
        "--landing",
        str(landing),
        "--warehouse",
        str(warehouse),
        "--reports",
        str(reports),
        "--as-of",
        as_of,
    ]
    home = log.parent / (log.stem + "_dagster_home")
    result = run_measured(cmd, log, pms_env(home))
    if result.returncode != 0:
        raise RuntimeError(f"pms run as of {as_of} failed ({result.returncode}); see {log}")
    return Measured(
        result.seconds,
        result.peak_rss_gib,
        result.returncode,
        result.log,
        step_seconds(home),
        step_memory_peaks(home),
    )


def step_seconds(home: Path, top: int = 10) -> dict[str, float]:
    """The slowest steps of the (only) run in the Dagster instance at `home`, seconds, slowest
    first; empty when the instance cannot be read (the figure is a hint, not a measurement)."""
    try:
        import dagster as dg

        with dg.DagsterInstance.from_config(str(home)) as instance:
            runs = instance.get_runs(limit=1)
            if not runs:
                return {}
            stats = instance.get_run_step_stats(runs[0].run_id)
    except Exception as exc:  # a missing hint must not stop the benchmark
        print(f"[bench] step timings unavailable: {exc}", file=sys.stderr)
        return {}
    found = {
        s.step_key: round(s.end_time - s.start_time, 2)
        for s in stats
        if s.start_time is not None and s.end_time is not None
    }
    return dict(sorted(found.items(), key=lambda kv: (-kv[1], kv[0]))[:top])


STEP_MEMORY_PATTERN = re.compile(
    re.escape(STEP_MEMORY_MESSAGE)
    .replace(re.escape("{rss}"), r"(?P<rss>\d+)")
    .replace(re.escape("{peak}"), r"(?P<peak>\d+)")
)


def peak_raises(lines: list[tuple[str, str]], top: int = 5) -> dict[str, dict[str, float]]:
    """From (step key, log message) in run order: the steps after which the process's peak RSS
    was higher than after the step before (pipelines/hooks.py), by how much, largest first."""
    raised: dict[str, dict[str, float]] = {}
    before = 0
    for step, message in lines:
        found = STEP_MEMORY_PATTERN.search(message)
        if not found:
            continue
        peak, rss = int(found["peak"]), int(found["rss"])
        if peak > before:
            raised[step] = {
                "peak_gib": round(peak / GIB, 3),
                "raised_gib": round((peak - before) / GIB, 3),
                "rss_after_gib": round(rss / GIB, 3),
            }
        before = max(before, peak)
    return dict(sorted(raised.items(), key=lambda kv: (-kv[1]["raised_gib"], kv[0]))[:top])


def step_memory_peaks(home: Path) -> dict[str, dict[str, float]]:
    """`peak_raises` of the (only) run in the Dagster instance at `home`; empty when the
    instance cannot be read (the figure is a hint, not a measurement)."""
    try:
        import dagster as dg

        with dg.DagsterInstance.from_config(str(home)) as instance:
            runs = instance.get_runs(limit=1)
            if not runs:
                return {}
            lines = [
                (entry.step_key or "", entry.user_message)
                for entry in instance.all_logs(runs[0].run_id)
            ]
    except Exception as exc:  # a missing hint must not stop the benchmark
        print(f"[bench] step memory unavailable: {exc}", file=sys.stderr)
        return {}
    return peak_raises(lines)


# --- 1. generation ---------------------------------------------------------------------------


def generation_matches(landing: Path, scale: str, seed: int) -> bool:
    """True when `landing` holds a finished generation of this scale and seed."""
    meta = landing / "_truth" / "generation.json"
    if not meta.is_file():
        return False
    try:
        gen = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return gen.get("scale") == scale and gen.get("seed") == seed


def ensure_landing(root: Path, scale: str, seed: int) -> tuple[Path, dict[str, Any]]:
    """The landing folder of a scale, generated (timed) unless a matching one exists."""
    landing = root / scale / "landing"
    if generation_matches(landing, scale, seed):
        return landing, {"reused": True, "seconds": None}
    if landing.exists():
        shutil.rmtree(landing)
    cmd = [*pms_command(), "generate", "--out", str(landing), "--seed", str(seed)]
    result = run_measured([*cmd, "--scale", scale], root / "logs" / f"generate_{scale}.log")
    if result.returncode != 0:
        raise RuntimeError(f"pms generate failed; see {result.log}")
    return landing, {
        "reused": False,
        "seconds": result.seconds,
        "peak_rss_gib": result.peak_rss_gib,
    }


# --- 2. raw read ----------------------------------------------------------------------------


def landing_files(landing: Path) -> list[Path]:
    """The files a night reads: everything in the landing folder but the generator's `_truth`."""
    return sorted(
        p
        for p in landing.rglob("*")
        if p.is_file() and "_truth" not in p.relative_to(landing).parts
    )


def raw_read_sql(path: Path, table: str) -> str | None:
    """The bare DuckDB read of one landing file into `table`; None for a file of no known kind."""
    lit = "'" + str(path).replace("'", "''") + "'"
    suffix = path.suffix.lower()
    if suffix == ".json":
        return f'CREATE TABLE "{table}" AS SELECT * FROM read_json({lit})'
    if suffix == ".txt":
        options = "delim='|', quote='', escape='', encoding='latin-1'"
    elif suffix == ".csv":
        options = "delim=','"
    else:
        return None
    return (
        f'CREATE TABLE "{table}" AS SELECT * FROM read_csv({lit}, all_varchar=true, '
        f"header=true, {options}, ignore_errors=true)"
    )


def raw_read(landing: Path, database: Path) -> dict[str, Any]:
    """Read every landing file into a fresh DuckDB file; wall time, bytes and rows."""
    import duckdb

    if database.exists():
        database.unlink()
    database.parent.mkdir(parents=True, exist_ok=True)
    files = landing_files(landing)
    started = time.perf_counter()
    nbytes = 0
    with duckdb.connect(str(database)) as con:
        for i, path in enumerate(files):
            sql = raw_read_sql(path, f"t{i:05d}")
            if sql is None:
                continue
            con.execute(sql)
            nbytes += path.stat().st_size
        con.execute("CHECKPOINT")
    seconds = time.perf_counter() - started
    with duckdb.connect(str(database), read_only=True) as con:
        rows = con.execute(
            "SELECT coalesce(sum(estimated_size), 0) FROM duckdb_tables()"
        ).fetchone()[0]
    database.unlink()
    return {
        "seconds": round(seconds, 2),
        "files": len(files),
        "bytes": nbytes,
        "rows": int(rows),
    }


# --- 4. increment ---------------------------------------------------------------------------


def newest_day(landing: Path) -> dt.date:
    """The newest YYYY-MM-DD date carried in a landing file name (the last daily file)."""
    days = []
    for path in landing_files(landing):
        for text in DATE_IN_NAME.findall(path.name):
            try:
                days.append(dt.date.fromisoformat(text))
            except ValueError:
                continue
    if not days:
        raise ValueError(f"no file of {landing} carries a day in its name")
    return max(days)


def files_of_day(landing: Path, day: dt.date) -> list[Path]:
    """The landing files (relative paths) whose name carries `day`."""
    text = day.isoformat()
    return [p.relative_to(landing) for p in landing_files(landing) if text in p.name]


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def landing_without(landing: Path, target: Path, left_out: list[Path]) -> None:
    """`target` = `landing` (hard links, no `_truth`) without the `left_out` relative paths."""
    if target.exists():
        shutil.rmtree(target)
    skip = {str(p) for p in left_out}
    for path in landing_files(landing):
        rel = path.relative_to(landing)
        if str(rel) in skip:
            continue
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        _link_or_copy(str(path), str(target / rel))


def rebuild_and_increment(landing: Path, work: Path, label: str) -> dict[str, Any]:
    """A full rebuild of the history (every file but the newest day's, as of the day before),
    then the newest day as one nightly increment on that warehouse; both timed. The raw read of
    the same history files comes first."""
    day = newest_day(landing)
    new_files = files_of_day(landing, day)
    before = (day - dt.timedelta(days=1)).isoformat()
    history_landing = work / "landing"
    landing_without(landing, history_landing, new_files)
    raw = raw_read(history_landing, work / "raw_read.duckdb")
    if (work / "warehouse").exists():
        shutil.rmtree(work / "warehouse")
    warehouse = work / "warehouse" / "pms.duckdb"
    reports = work / "reports"
    history = pms_run(history_landing, warehouse, reports, before, work / "logs" / "rebuild.log")
    rebuild = {
        "as_of": before,
        "seconds": history.seconds,
        "peak_rss_gib": history.peak_rss_gib,
        "over_raw_read": round(history.seconds / max(raw["seconds"], 1e-9), 2),
        "warehouse_bytes": warehouse.stat().st_size,
        "slowest_steps": history.steps,
        "peak_memory_raised_by": history.memory,
    }
    for rel in new_files:
        _link_or_copy(str(landing / rel), str(history_landing / rel))
    night = pms_run(
        history_landing, warehouse, reports, day.isoformat(), work / "logs" / "night.log"
    )
    return {
        "raw_read": raw,
        "full_rebuild": rebuild,
        "increment": {
            "label": label,
            "day": day.isoformat(),
            "new_files": sorted(str(p) for p in new_files),
            "history_seconds": history.seconds,
            "seconds": night.seconds,
            "peak_rss_gib": night.peak_rss_gib,
            "slowest_steps": night.steps,
            "peak_memory_raised_by": night.memory,
        },
        "warehouse": warehouse,
    }


# --- 5. disproportionality ------------------------------------------------------------------

ALL_PAIRS_SQL = """
SELECT d.device_report_product_code AS product_code,
       CAST(p.device_problem_code AS VARCHAR) AS problem_code,
       count(DISTINCT m.mdr_report_key) AS n11
FROM staging.maude_master m
JOIN staging.maude_devices d USING (mdr_report_key)
JOIN staging.maude_device_problems p USING (mdr_report_key)
WHERE d.device_report_product_code IS NOT NULL AND p.device_problem_code IS NOT NULL
GROUP BY ALL
"""


def time_disproportionality(warehouse: Path) -> dict[str, Any]:
    """The pair query and the model over every product code x problem code pair."""
    import duckdb

    from assets.warehouse import query_frame
    from models.disproportionality import disproportionality

    with duckdb.connect(str(warehouse), read_only=True) as con:
        started = time.perf_counter()
        pairs = query_frame(con, ALL_PAIRS_SQL)
        query_seconds = time.perf_counter() - started
    started = time.perf_counter()
    table = disproportionality(pairs)
    seconds = time.perf_counter() - started
    return {
        "pairs": pairs.height,
        "product_codes": pairs["product_code"].n_unique(),
        "problem_codes": pairs["problem_code"].n_unique(),
        "reports_in_pairs": int(pairs["n11"].sum()),
        "query_seconds": round(query_seconds, 2),
        "seconds": round(seconds, 2),
        "result_rows": table.height,
    }


# --- 6. report ------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    import dagster
    import duckdb
    import polars

    memory = 0
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    memory = int(line.split()[1]) * 1024
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {
        "nproc": os.cpu_count(),
        "memory_gib": round(memory / GIB, 1),
        "load_average_at_start": [round(x, 2) for x in load],
        "platform": platform.platform(),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "dagster": dagster.__version__,
        "polars": polars.__version__,
    }


def judge(figures: dict[str, float | None]) -> dict[str, Any]:
    """Targets with the measured value and pass/fail (None when not measured)."""
    out = {}
    for key, target in TARGETS.items():
        value = figures.get(key)
        out[key] = {
            "target": target["text"],
            "max": target["max"],
            "value": value,
            "pass": None if value is None else bool(value <= target["max"]),
        }
    return out


def print_table(result: dict[str, Any]) -> None:
    rows = [
        ("generate (s)", result["generate"].get("seconds")),
        ("raw read (s)", result["raw_read"]["seconds"]),
        ("full rebuild (s)", result["full_rebuild"]["seconds"]),
        ("peak memory (GiB)", result["full_rebuild"]["peak_rss_gib"]),
    ]
    for inc in result["increment"].values():
        rows.append((f"increment {inc['label']} (s)", inc["seconds"]))
    rows.append(("disproportionality (s)", result["disproportionality"]["seconds"]))
    rows.append(("  pairs", result["disproportionality"]["pairs"]))
    print(f"\nBenchmark, scale {result['scale']}, seed {result['seed']}")
    for name, value in rows:
        print(f"  {name:<32} {value}")
    print("Targets:")
    for key, t in result["targets"].items():
        verdict = {True: "pass", False: "MISS", None: "n/a"}[t["pass"]]
        print(f"  {verdict:<5} {key:<28} {t['value']} (max {t['max']}): {t['target']}")


def save(out: Path, result: dict[str, Any]) -> None:
    """Write what is measured so far (a long run that is stopped still leaves its figures)."""
    (out / "bench.json").write_text(
        json.dumps(result, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )


def run_benchmark(scale: str, seed: int, out: Path, small_scale: str) -> dict[str, Any]:
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"scale": scale, "seed": seed, "machine": machine()}

    print(f"[bench] 1/4 generate {scale}", flush=True)
    landing, result["generate"] = ensure_landing(out, scale, seed)
    save(out, result)

    if small_scale != scale:
        print(
            f"[bench] 2/4 small history ({small_scale}): raw read, rebuild, increment", flush=True
        )
        small_landing, result["generate_small"] = ensure_landing(out, small_scale, seed)
        small = rebuild_and_increment(small_landing, out / small_scale / "bench", "small")
        result["small"] = {k: small[k] for k in ("raw_read", "full_rebuild")}
        result["increment"] = {"small": small["increment"]}
        save(out, result)

    print(f"[bench] 3/4 full history ({scale}): raw read, rebuild, increment", flush=True)
    full = rebuild_and_increment(landing, out / scale / "bench", "full")
    result["raw_read"] = full["raw_read"]
    result["full_rebuild"] = full["full_rebuild"]
    increments = {**result.get("increment", {}), "full": full["increment"]}
    if "small" not in increments:  # the chosen scale is the small one: one measurement serves
        increments["small"] = {**increments["full"], "label": "small"}
    result["increment"] = {k: increments[k] for k in ("small", "full")}
    save(out, result)

    print("[bench] 4/4 disproportionality", flush=True)
    result["disproportionality"] = time_disproportionality(full["warehouse"])

    figures = {
        "rebuild_over_raw_read": result["full_rebuild"]["over_raw_read"],
        "peak_memory_gib": max(
            result["full_rebuild"]["peak_rss_gib"],
            result["increment"]["full"]["peak_rss_gib"],
        ),
        "increment_full_s": result["increment"]["full"]["seconds"],
        "increment_full_over_small": round(
            result["increment"]["full"]["seconds"]
            / max(result["increment"]["small"]["seconds"], 1e-9),
            2,
        ),
        "disproportionality_s": result["disproportionality"]["seconds"],
    }
    result["targets"] = judge(figures)
    result["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    save(out, result)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.bench", description=__doc__)
    parser.add_argument("--scale", default="maude", help="demo, medium or maude")
    parser.add_argument("--out", type=Path, default=Path("data/bench"))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--small-scale", default="medium", help="the scale of the small-history increment"
    )
    args = parser.parse_args(argv)
    result = run_benchmark(args.scale, args.seed, args.out, args.small_scale)
    print_table(result)
    print(f"\nWritten to {args.out / 'bench.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
