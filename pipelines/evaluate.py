"""`pms evaluate`: score the nightly alarms against the generator's planted truth, over worlds and
seeds, beside a peer detector on the same series.

For each world x seed: generate a landing folder (`synthetic.generate.generate_landing`), `pms run`
the whole pipeline into its own DuckDB file as of the generator's as-of night, run the peer (R
`surveillance`, pipelines/peer.py) on `marts.signal_series` of that warehouse, then compare
`marts.signals` and the peer's alarms with `_truth/signals.csv` (models/signal_evaluation.py).
Prints one table per world and one over all of them, and writes `evaluation.json` and
`evaluation.md`. Without R or its package the peer is left out and the output says so.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import inspect
import json
import multiprocessing
import statistics
from dataclasses import asdict
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from assets.warehouse import table_exists
from models.signal_evaluation import COMBINED, PEER_PREFIX, TREND_METHODS, score
from pipelines.peer import PEER_METHODS, PeerError, PeerSettings, peer_alarms

BASELINE = "baseline"
ALL_WORLDS = "all"
WITHIN_3_MONTHS_DAYS = 92
# the kinds of planted signal a chart on a family's monthly series sees (models/signal_evaluation)
SERIES_KINDS = ("drift", "rate_step")
NULL_KIND = "null"
PEER_RAN = "ran"
PEER_NOT_INSTALLED = "R surveillance not installed; run `make peer-deps`"
PEER_NO_SERIES = "marts.signal_series is not in the warehouse; the signals asset did not publish it"


class EvaluationFailed(RuntimeError):
    """A world x seed could not be evaluated: says which and why."""


def available_worlds() -> dict[str, str]:
    """The generator's worlds by name, with their descriptions (the baseline alone until
    `synthetic.worlds` exists)."""
    try:
        from synthetic.worlds import WORLDS
    except ImportError:
        return {BASELINE: "today's generator"}
    return {name: WORLDS[name].description for name in sorted(WORLDS)}


def resolve_worlds(names: list[str]) -> list[str]:
    """`all` or world names -> the sorted names; ValueError naming the unknown ones."""
    known = available_worlds()
    if ALL_WORLDS in names:
        return sorted(known)
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise ValueError(
            f"unknown world(s) {', '.join(unknown)}; choose {ALL_WORLDS} or "
            f"{', '.join(sorted(known))}"
        )
    return sorted(set(names))


def _generate(landing: Path, seed: int, scale: str, world: str) -> None:
    from synthetic.generate import generate_landing

    if "world" in inspect.signature(generate_landing).parameters:
        generate_landing(landing, seed, scale, world=world)
    elif world == BASELINE:
        generate_landing(landing, seed, scale)
    else:
        raise EvaluationFailed(f"this generator has no worlds; world {world!r} cannot be made")


def _hazards(landing: Path) -> pl.DataFrame:
    register = pl.read_csv(landing / "risk_register.csv", infer_schema=False)
    return (
        register.select("hazard_id", "device_family", "problem_codes")
        .with_columns(problem_code=pl.col("problem_codes").str.split(";"))
        .explode("problem_code")
        .select("hazard_id", "device_family", pl.col("problem_code").str.strip_chars())
    )


def run_peer(
    warehouse: Path, method: str, version: str | None, settings: PeerSettings
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """The peer's alarms on the warehouse's `marts.signal_series` (scope, scope_value, code,
    method, detected_on) and what happened: status, series judged, alarms."""
    status: dict[str, Any] = {
        "method": PEER_METHODS[method],
        "version": version,
        "arguments": settings.arguments(method),
        "series_judged": 0,
        "alarms": 0,
    }
    no_alarms = pl.DataFrame(
        schema={
            "scope": pl.String,
            "scope_value": pl.String,
            "code": pl.String,
            "method": pl.String,
            "detected_on": pl.Date,
        }
    )
    if version is None:
        return no_alarms, status | {"status": PEER_NOT_INSTALLED}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        if not table_exists(con, "marts.signal_series"):
            return no_alarms, status | {"status": PEER_NO_SERIES}
        series = con.sql("SELECT * FROM marts.signal_series").pl()
    try:
        alarms = peer_alarms(series, method, settings)
    except PeerError as exc:
        return no_alarms, status | {"status": f"failed: {exc}"}
    judged = series.filter(pl.col("covered"))["series_id"].n_unique()
    return alarms.select(no_alarms.columns), status | {
        "status": PEER_RAN,
        "series_judged": judged,
        "alarms": alarms.height,
    }


def evaluate_seed(
    out: Path,
    seed: int,
    scale: str,
    world: str = BASELINE,
    peer_method: str = "glrpois",
    peer_version: str | None = None,
    peer_settings: PeerSettings | None = None,
) -> dict[str, Any]:
    """Generate, run and score one world x seed; its detections, false alarms and peer status."""
    from pipelines.cli import main

    folder = out / world / f"seed-{seed}"
    landing, warehouse = folder / "landing", folder / "pms.duckdb"
    _generate(landing, seed, scale, world)
    generation = json.loads((landing / "_truth" / "generation.json").read_text())
    if warehouse.exists():
        warehouse.unlink()
    code = main(
        [
            "run",
            "--landing",
            str(landing),
            "--warehouse",
            str(warehouse),
            "--reports",
            str(folder / "reports"),
            "--as-of",
            generation["as_of"],
        ]
    )
    if code != 0:
        raise EvaluationFailed(f"the run for world {world}, seed {seed} failed (exit {code})")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        ours = con.sql(
            "SELECT scope, scope_value, code, method, detected_on FROM marts.signals"
        ).pl()
    peer, peer_status = run_peer(
        warehouse, peer_method, peer_version, peer_settings or PeerSettings()
    )
    truth = pl.read_csv(landing / "_truth" / "signals.csv", infer_schema=False)
    scored = score(
        pl.concat([ours, peer], how="vertical_relaxed"),
        truth,
        _hazards(landing),
        start=dt.date.fromisoformat(generation["start_date"]),
        extract=dt.date.fromisoformat(generation["extract_date"]),
    )
    return {
        "world": world,
        "seed": seed,
        "detections": scored.detections.with_columns(
            pl.col("onset", "target_onset", "detected_on").cast(pl.String)
        ).to_dicts(),
        "false_alarms": scored.false_alarms.to_dicts(),
        "null_series_years": scored.null_series_years,
        "other_alarms": scored.other_alarms.to_dicts(),
        "peer": peer_status,
    }


def _median(values: list[int]) -> float | None:
    return float(statistics.median(values)) if values else None


def evaluation_rows(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per kind of signal and method over `results` (world x seed dicts of
    `evaluate_seed`): planted, caught, caught within 3 months and median delay in days; for kind
    `null`, the false alarms of each method on the null series and their rate per 100 null
    series-years. Our methods, then the combined set, then the peer when it ran on every result."""
    detection_rows = [d for r in results for d in r["detections"]]
    null_years = sum(r["null_series_years"] for r in results)
    peers = sorted({r["peer"]["method"] for r in results})
    peer_ran = all(r["peer"]["status"] == PEER_RAN for r in results) and len(peers) == 1
    false_alarms: dict[str, int] = {}
    for r in results:
        for f in r["false_alarms"]:
            false_alarms[f["method"]] = false_alarms.get(f["method"], 0) + int(f["false_alarms"])
    rows = []
    kinds = sorted({d["kind"] for d in detection_rows})
    for kind in kinds:
        of_kind = [d for d in detection_rows if d["kind"] == kind]
        planted = sum(1 for d in of_kind if d["method"] == COMBINED)
        ours = {
            d["method"]
            for d in of_kind
            if d["method"] != COMBINED and not d["method"].startswith(PEER_PREFIX)
        }
        if kind in SERIES_KINDS:
            ours |= set(TREND_METHODS)
        methods = [*sorted(ours), COMBINED, *(peers if peer_ran and kind in SERIES_KINDS else [])]
        for method in methods:
            delays = [
                d["delay_days"]
                for d in of_kind
                if d["method"] == method and d["delay_days"] is not None
            ]
            rows.append(
                {
                    "kind": kind,
                    "method": method,
                    "planted": planted,
                    "caught": len(delays),
                    "caught_within_3_months": sum(1 for d in delays if d <= WITHIN_3_MONTHS_DAYS),
                    "median_delay_days": _median(delays),
                    "false_alarms": None,
                    "false_alarms_per_100_null_series_years": None,
                }
            )
    for method in [*sorted(TREND_METHODS), COMBINED, *(peers if peer_ran else [])]:
        n = false_alarms.get(method, 0)
        rows.append(
            {
                "kind": NULL_KIND,
                "method": method,
                "planted": None,
                "caught": None,
                "caught_within_3_months": None,
                "median_delay_days": None,
                "false_alarms": n,
                "false_alarms_per_100_null_series_years": round(100 * n / null_years, 2)
                if null_years
                else None,
            }
        )
    return rows


def _cell(value: float | int | None) -> str:
    if value is None:
        return ""
    return f"{value:g}" if isinstance(value, float) else str(value)


def rows_markdown(rows: list[dict[str, Any]]) -> list[str]:
    """A markdown table of `evaluation_rows`."""
    lines = [
        "| kind | method | caught / planted | caught within 3 months | median delay (days) "
        "| false alarms per 100 null series-years (alarms) |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r["kind"] == NULL_KIND:
            rate = r["false_alarms_per_100_null_series_years"]
            false = f"{'n/a' if rate is None else f'{rate:.2f}'} ({r['false_alarms']})"
            lines.append(f"| {NULL_KIND} | {r['method']} |  |  |  | {false} |")
        else:
            lines.append(
                f"| {r['kind']} | {r['method']} | {r['caught']} / {r['planted']} | "
                f"{r['caught_within_3_months']} | {_cell(r['median_delay_days'])} |  |"
            )
    return lines


def _runs(n: int) -> str:
    return f"{n} run" if n == 1 else f"{n} runs"


def _peer_notes(results: list[dict[str, Any]]) -> list[str]:
    """One line per way the peer did not run, naming the world x seed pairs."""
    missed: dict[str, list[str]] = {}
    for r in results:
        if r["peer"]["status"] != PEER_RAN:
            missed.setdefault(r["peer"]["status"], []).append(f"{r['world']} seed {r['seed']}")
    return [
        f"peer: {status} ({'all runs' if len(pairs) == len(results) else ', '.join(pairs)}); "
        "the peer rows are left out"
        for status, pairs in sorted(missed.items())
    ]


def summarise(
    results: list[dict[str, Any]], worlds: dict[str, str] | None = None
) -> tuple[dict[str, list[dict[str, Any]]], str]:
    """The rows over all results (key "all") and per world, and the markdown report."""
    results = sorted(results, key=lambda r: (r["world"], r["seed"]))
    worlds = worlds or {}
    names = sorted({r["world"] for r in results})
    tables: dict[str, list[dict[str, Any]]] = {"all": evaluation_rows(results)}
    seeds = sorted({r["seed"] for r in results})
    peers = sorted(
        {
            f"{r['peer']['method']} (R surveillance {r['peer']['version'] or 'not installed'}; "
            f"{', '.join(r['peer']['arguments'])})"
            for r in results
        }
    )
    lines = [
        "# Signal evaluation",
        "",
        f"Worlds: {', '.join(names)}; seeds: {', '.join(map(str, seeds))}. "
        f"Peer: {', '.join(peers)} on marts.signal_series, scored like a trend method and kept "
        "out of the combined set.",
        *_peer_notes(results),
        "",
        "A planted signal is caught by a method's first alarm on its scope on or after its onset "
        "(a drift: from when it doubles the baseline); within 3 months = within "
        f"{WITHIN_3_MONTHS_DAYS} days. False alarms are trend and peer alarms on the null series "
        "(family x code with nothing planted), per 100 null series-years.",
        "",
    ]
    groups = [("all", f"All worlds ({_runs(len(results))})", results)]
    for name in names:
        of_world = [r for r in results if r["world"] == name]
        tables[name] = evaluation_rows(of_world)
        description = f": {worlds[name]}" if worlds.get(name) else ""
        groups.append((name, f"World {name}{description} ({_runs(len(of_world))})", of_world))
    for key, title, group in groups:
        null_years = sum(r["null_series_years"] for r in group)
        lines += [
            f"## {title}",
            "",
            *rows_markdown(tables[key]),
            "",
            f"Null series-years: {null_years:.1f}.",
            "",
        ]
    return tables, "\n".join(lines).rstrip() + "\n"


def _evaluate_job(job: dict[str, Any]) -> dict[str, Any]:
    """`evaluate_seed` on keyword arguments (what a worker process receives)."""
    return evaluate_seed(**job)


def run_evaluation(
    out: Path,
    seeds: list[int],
    scale: str,
    worlds: list[str] | None = None,
    jobs: int = 1,
    peer_method: str = "glrpois",
    peer_settings: PeerSettings | None = None,
) -> str:
    """Evaluate every world x seed (in `jobs` processes), write evaluation.json and
    evaluation.md under `out`; returns the markdown."""
    from pipelines.peer import surveillance_available

    worlds = resolve_worlds(worlds or [BASELINE])
    settings = peer_settings or PeerSettings()
    version = surveillance_available()
    if version is None:
        print(f"peer: {PEER_NOT_INSTALLED}")
    out.mkdir(parents=True, exist_ok=True)
    pending = [
        {
            "out": out,
            "seed": seed,
            "scale": scale,
            "world": world,
            "peer_method": peer_method,
            "peer_version": version,
            "peer_settings": settings,
        }
        for world in worlds
        for seed in sorted(set(seeds))
    ]
    if jobs <= 1 or len(pending) == 1:
        results = [_evaluate_job(job) for job in pending]
    else:
        # spawn, not fork: each run starts Dagster and DuckDB afresh
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(jobs, mp_context=context) as pool:
            results = list(pool.map(_evaluate_job, pending))
    known = available_worlds()
    tables, report = summarise(results, {w: known.get(w, "") for w in worlds})
    (out / "evaluation.json").write_text(
        json.dumps(
            {
                "worlds": worlds,
                "seeds": sorted(set(seeds)),
                "scale": scale,
                "peer": {
                    "method": PEER_METHODS[peer_method],
                    "version": version,
                    "settings": asdict(settings),
                },
                "tables": tables,
                "per_seed": sorted(results, key=lambda r: (r["world"], r["seed"])),
            },
            indent=2,
            sort_keys=True,
            default=str,
        )
        + "\n"
    )
    (out / "evaluation.md").write_text(report)
    return report
