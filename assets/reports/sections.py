"""Data for the sections of a PSUR / PMS report (MDCG 2022-21 order).

Plain functions: a DuckDB connection, the as-of date, the device family and the reporting period
in, lists of plain dicts out, every list in a fixed order so the rendered report is deterministic.
Each function names the warehouse table it reads in its docstring; the template repeats it.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import duckdb

from assets.marts.queries import COMPLAINTS_AS_OF_SQL
from assets.warehouse import source_delivered, table_columns
from models.redaction import redact
from models.signal_statistics import statistic_reading

REGIONS = ("EEA", "TR", "XI", "rest of world")
# The timeliness of the reports a rule asked for (marts.vigilance_flags): what was submitted, on
# time or late, and the rule hits without a report, which are for review and never late reports.
TIMELINESS = (
    ("submitted_on_time", "on time"),
    ("submitted_late", "late"),
    ("overdue", "past due: no report and no decision"),
    ("open", "open (not yet due)"),
    ("undetermined", "undetermined (in doubt)"),
    ("decided_not_reportable", "decided not reportable"),
)
WITHOUT_REPORT = ("open", "overdue", "undetermined", "decided_not_reportable")


def eea_countries() -> frozenset[str]:
    """Countries of the EU_MDR regime in config/vigilance_regimes.csv (EU 27 + IS, LI, NO)."""
    from models.vigilance import load_regimes

    for regime in load_regimes():
        if regime.regime == "EU_MDR":
            return regime.countries
    return frozenset()


def region_of(country: str | None, eea: frozenset[str]) -> str:
    """EEA, TR (Turkey), XI (Northern Ireland, only when the data carries the code 'XI') or rest
    of world. Great Britain ('GB') is rest of world."""
    if country in eea:
        return "EEA"
    if country == "TR":
        return "TR"
    if country == "XI":
        return "XI"
    return "rest of world"


# Every section of every family reads the complaints as known on the report's night. Ranking
# all complaint versions for each read costs seconds at millions of versions, so the report
# ranks them once into a temp table (`complaints_as_of_snapshot`) and the sections read that.
SNAPSHOT_TABLE = "report_complaints_as_of"
SNAPSHOT_NIGHT_TABLE = "report_complaints_as_of_night"
# The columns the sections read (not the narratives: they are most of the bytes).
SNAPSHOT_COLUMNS = (
    "complaint_id",
    "received_date",
    "device_model",
    "lot_number",
    "problem_code",
    "country",
    "patient_outcome",
)


@contextmanager
def complaints_as_of_snapshot(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> Iterator[None]:
    """Within the block, sections on `con` asked for the night `as_of` read one ranked copy of
    the complaints as known that night (a temp table: it goes with the connection)."""
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {SNAPSHOT_TABLE} AS "
        f"SELECT {', '.join(SNAPSHOT_COLUMNS)} FROM ({COMPLAINTS_AS_OF_SQL})",
        {"as_of": as_of},
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {SNAPSHOT_NIGHT_TABLE} AS "
        "SELECT CAST($as_of AS DATE) AS night",
        {"as_of": as_of},
    )
    try:
        yield
    finally:
        con.execute(f"DROP TABLE IF EXISTS {SNAPSHOT_NIGHT_TABLE}")
        con.execute(f"DROP TABLE IF EXISTS {SNAPSHOT_TABLE}")


def complaints_as_of(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> str:
    """The source of the complaints as known on `as_of` (its SQL reads $as_of; the columns of
    SNAPSHOT_COLUMNS): the snapshot when one of that very night is open on `con`, else the
    ranking query itself."""
    snapshot = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = ?",
        [SNAPSHOT_NIGHT_TABLE],
    ).fetchall()[0][0]
    if snapshot:
        night = con.execute(f"SELECT night FROM {SNAPSHOT_NIGHT_TABLE}").fetchall()
        if night and night[0][0] == as_of:
            return f"SELECT * FROM {SNAPSHOT_TABLE} WHERE CAST($as_of AS DATE) IS NOT NULL"
    return COMPLAINTS_AS_OF_SQL


def _complaints_cte(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> str:
    return (
        f"WITH c AS ({complaints_as_of(con, as_of)}), fam AS (SELECT device_model, device_family "
        "FROM staging.products)"
    )


def _month_floor(day: dt.date) -> dt.date:
    return day.replace(day=1)


# --- 2. Device description -----------------------------------------------------------------


def device_description(con: duckdb.DuckDBPyConnection, family: str) -> list[dict[str, Any]]:
    """Models of the family with FDA product code, FDA device name, EU and US class.
    Source: staging.products, reference.fda_product_codes."""
    cols = (
        "device_model",
        "product_code",
        "device_name",
        "eu_class",
        "us_class",
        "implantable",
        "launch_date",
        "description",
    )
    rows = con.execute(
        """
        SELECT p.device_model, p.product_code, f.device_name, p.eu_class, p.us_class,
               p.implantable, p.launch_date, p.description
        FROM staging.products p
        LEFT JOIN reference.fda_product_codes f USING (product_code)
        WHERE p.device_family = $family
        ORDER BY p.device_model
        """,
        {"family": family},
    ).fetchall()
    return [dict(zip(cols, r, strict=True)) for r in rows]


# --- 3. Sales volume and population exposed -----------------------------------------------


# Every table of a report counts in the report's own periods: twelve-month windows that end with
# the data collection period's last month (the period itself, then the ones before it), never
# calendar years (a period starting in October would put three months in a "year").
def window_index_sql(column: str) -> str:
    """SQL: how many whole twelve-month windows `column` (a date) lies before the window ending
    with the month of $end (0 = that window). `column` comes from a fixed list in this module."""
    return f"((year($end) * 12 + month($end)) - (year({column}) * 12 + month({column}))) // 12"


def window_label(index: int, period_end: dt.date) -> str:
    """'2025-10 to 2026-09' for the window `index` twelve-month steps before the one ending with
    the month of `period_end`."""
    last = period_end.year * 12 + period_end.month - 1 - 12 * index
    first = last - 11
    return f"{first // 12}-{first % 12 + 1:02d} to {last // 12}-{last % 12 + 1:02d}"


def sales_by_region_year(
    con: duckdb.DuckDBPyConnection,
    family: str,
    period_end: dt.date,
    eea: frozenset[str],
) -> list[dict[str, Any]]:
    """Units shipped per twelve-month window ending with the period's last month (the period,
    then the windows before it, oldest first), split EEA / TR / XI / rest of world, with the
    worldwide total. Source: marts.units_in_service."""
    rows = con.execute(
        f"""
        SELECT {window_index_sql("month")} AS twelve_months, country, sum(units_shipped)
        FROM marts.units_in_service
        WHERE device_family = $family AND month <= $end
        GROUP BY ALL ORDER BY twelve_months DESC, country
        """,
        {"family": family, "end": _month_floor(period_end)},
    ).fetchall()
    by_window: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(REGIONS, 0))
    for window, country, units in rows:
        by_window[int(window)][region_of(country, eea)] += int(units or 0)
    return [
        {
            "year": window_label(window, period_end),
            **by_window[window],
            "worldwide": sum(by_window[window].values()),
        }
        for window in sorted(by_window, reverse=True)
    ]


def in_service_at_end(
    con: duckdb.DuckDBPyConnection,
    family: str,
    period_end: dt.date,
    eea: frozenset[str],
) -> list[dict[str, Any]]:
    """Units in service at the end of the period's last month per model and region.
    Source: marts.units_in_service (units_in_service_end)."""
    rows = con.execute(
        """
        SELECT device_model, country, sum(units_in_service_end)
        FROM marts.units_in_service
        WHERE device_family = $family AND month = $month
        GROUP BY ALL ORDER BY device_model, country
        """,
        {"family": family, "month": _month_floor(period_end)},
    ).fetchall()
    by_model: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(REGIONS, 0))
    for model, country, units in rows:
        by_model[model][region_of(country, eea)] += int(units or 0)
    return [
        {"device_model": model, **by_model[model], "worldwide": sum(by_model[model].values())}
        for model in sorted(by_model)
    ]


# --- 4. Serious incidents ---------------------------------------------------------------------


# A serious incident in the PSUR is one the firm reported (MDR Art. 87, MDCG 2022-21 "serious
# incidents reported"): a complaint with an initial report to an authority in submissions/, not
# withdrawn by a final non-reportable report to that authority. A rule hit without a report is
# not counted here; it is in the review table below.
REPORTED_SQL = """
    sub AS (
        SELECT complaint_id, trim(authority) AS authority, report_kind
        FROM staging.submissions WHERE submitted_date <= CAST($as_of AS DATE)
    ),
    reported AS (
        SELECT DISTINCT s.complaint_id, s.authority FROM sub s
        WHERE s.report_kind = 'initial' AND NOT EXISTS (
            SELECT 1 FROM sub w WHERE w.complaint_id = s.complaint_id
              AND w.authority = s.authority AND w.report_kind = 'final_non_reportable')
    )
"""
AUTHORITY_GROUPS = (
    "EU competent authorities (MIR)",
    "FDA (MDR)",
    "Health Canada",
    "other authorities",
)


def authority_group(authority: str) -> str:
    """The group of an authority of submissions/ (data contract: `FDA`, `EU:<country>`, `HC`, or
    another regulator's short name)."""
    if authority.startswith("EU:"):
        return AUTHORITY_GROUPS[0]
    return {"FDA": AUTHORITY_GROUPS[1], "HC": AUTHORITY_GROUPS[2]}.get(
        authority, AUTHORITY_GROUPS[3]
    )


def _reported_rows(
    con: duckdb.DuckDBPyConnection,
    as_of: dt.date,
    family: str,
    start: dt.date,
    end: dt.date,
) -> list[tuple[str, int, str | None, str | None, list[str]]]:
    """(complaint_id, twelve-month window received (0 = the last of the period), problem_code,
    country, authorities) of each complaint of the family received in the period that the firm
    reported, once."""
    if not source_delivered(con, "submissions"):
        return []
    return con.execute(
        f"""
        {_complaints_cte(con, as_of)}, {REPORTED_SQL}
        SELECT c.complaint_id, {window_index_sql("c.received_date")}, c.problem_code,
               c.country, list_sort(list(r.authority))
        FROM reported r
        JOIN c USING (complaint_id)
        JOIN fam ON fam.device_model = c.device_model
        WHERE fam.device_family = $family
          AND c.received_date BETWEEN $start AND $end
        GROUP BY ALL
        ORDER BY c.complaint_id
        """,
        {"as_of": as_of, "family": family, "start": start, "end": end},
    ).fetchall()


def serious_incidents(
    con: duckdb.DuckDBPyConnection,
    as_of: dt.date,
    family: str,
    start: dt.date,
    end: dt.date,
    eea: frozenset[str],
) -> dict[str, Any]:
    """Serious incidents reported, received in the period (each complaint once), by IMDRF problem
    code × year, region × year and authority. Sources: staging.submissions (initial reports, as
    of the night), staging.complaint_versions (as of), reference.imdrf_terms."""
    rows = _reported_rows(con, as_of, family, start, end)
    # the period's twelve-month windows, oldest first (one for a yearly PSUR, two for IIa's)
    months = (end.year * 12 + end.month) - (start.year * 12 + start.month) + 1
    years = list(range(max((months + 11) // 12, 1) - 1, -1, -1))
    terms = dict(
        con.execute("SELECT code, term FROM reference.imdrf_terms WHERE annex = 'A'").fetchall()
    )
    by_code: dict[str, dict[int, int]] = defaultdict(lambda: dict.fromkeys(years, 0))
    by_region: dict[str, dict[int, int]] = {r: dict.fromkeys(years, 0) for r in REGIONS}
    by_group: dict[str, int] = dict.fromkeys(AUTHORITY_GROUPS, 0)
    others: set[str] = set()
    for _, year, code, country, authorities in rows:
        by_code[code or "(none)"][int(year)] += 1
        by_region[region_of(country, eea)][int(year)] += 1
        groups = {authority_group(a) for a in authorities}
        for group in groups:
            by_group[group] += 1
        others |= {a for a in authorities if authority_group(a) == AUTHORITY_GROUPS[3]}
    code_rows = [
        {
            "code": code,
            "term": terms.get(code, ""),
            "counts": [counts[y] for y in years],
            "total": sum(counts.values()),
        }
        for code, counts in by_code.items()
    ]
    code_rows.sort(key=lambda r: (-r["total"], r["code"]))
    region_rows = [
        {
            "region": region,
            "counts": [by_region[region][y] for y in years],
            "total": sum(by_region[region].values()),
        }
        for region in REGIONS
    ]
    return {
        "years": [window_label(w, end) for w in years],
        "total": len(rows),
        "by_code": code_rows,
        "by_region": region_rows,
        "by_authority": [{"group": g, "total": by_group[g]} for g in AUTHORITY_GROUPS],
        "other_authorities": sorted(others),
        "submissions_known": source_delivered(con, "submissions"),
    }


def decided_otherwise(
    con: duckdb.DuckDBPyConnection,
    as_of: dt.date,
    family: str,
    start: dt.date,
    end: dt.date,
) -> list[dict[str, Any]]:
    """Rule hits on complaints of the period that a person decided not reportable: one row per
    complaint and authority, with the decision, for second review (the human decision stands;
    they are not late reports). Source: marts.vigilance_flags."""
    rows = con.execute(
        f"""
        {_complaints_cte(con, as_of)}
        SELECT f.complaint_id, f.regime, f.authority, f.rule, f.due_date, f.decided_on,
               f.decided_by, f.decision_rationale
        FROM marts.vigilance_flags f
        JOIN c USING (complaint_id)
        JOIN fam ON fam.device_model = c.device_model
        WHERE fam.device_family = $family AND f.status = 'decided_not_reportable'
          AND c.received_date BETWEEN $start AND $end
        ORDER BY f.complaint_id, f.regime, f.authority, f.rule
        """,
        {"as_of": as_of, "family": family, "start": start, "end": end},
    ).fetchall()
    keys = (
        "complaint_id",
        "regime",
        "authority",
        "rule",
        "due_date",
        "decided_on",
        "decided_by",
        "rationale",
    )
    out = [dict(zip(keys, r, strict=True)) for r in rows]
    for row in out:
        row["rationale"] = redact(row["rationale"])
    return out


def reporting_timeliness(
    con: duckdb.DuckDBPyConnection,
    as_of: dt.date,
    family: str,
    start: dt.date,
    end: dt.date,
) -> list[dict[str, Any]]:
    """Reportable flags of complaints received in the period per regime and report kind: the
    reports submitted (on time, late) and the rule hits without a report (open, past due with no
    report and no decision, in doubt, decided not reportable). Source: marts.vigilance_flags."""
    rows = con.execute(
        f"""
        {_complaints_cte(con, as_of)}
        SELECT f.regime, f.report_kind, f.status, count(*)
        FROM marts.vigilance_flags f
        JOIN c USING (complaint_id)
        JOIN fam ON fam.device_model = c.device_model
        WHERE fam.device_family = $family AND f.reportable
          AND c.received_date BETWEEN $start AND $end
        GROUP BY ALL ORDER BY ALL
        """,
        {"as_of": as_of, "family": family, "start": start, "end": end},
    ).fetchall()
    table: dict[tuple[str, str], dict[str, int]] = defaultdict(
        lambda: {s: 0 for s, _ in TIMELINESS}
    )
    for regime, kind, status, n in rows:
        if status in table[(regime, kind)]:
            table[(regime, kind)][status] += int(n)
    return [
        {
            "regime": regime,
            "report_kind": kind,
            **table[(regime, kind)],
            "total": sum(table[(regime, kind)].values()),
            "submitted": table[(regime, kind)]["submitted_on_time"]
            + table[(regime, kind)]["submitted_late"],
            "without_report": sum(table[(regime, kind)][s] for s in WITHOUT_REPORT),
        }
        for regime, kind in sorted(table)
    ]


# --- 5. Trend reports -----------------------------------------------------------------------


def trend_signals(
    con: duckdb.DuckDBPyConnection, family: str, start: dt.date, end: dt.date
) -> list[dict[str, Any]]:
    """Signals of the family-level methods detected in the period, with the hazard or IMDRF
    term of the signalled code. Sources: marts.signals, marts.risk_feedback,
    reference.imdrf_terms."""
    cols = (
        "signal_id",
        "detected_on",
        "method",
        "code",
        "label",
        "observed",
        "expected",
        "statistic",
        "threshold",
        "status",
        "evaluation",
        "evaluated_on",
        "evaluated_by",
    )
    rows = con.execute(
        """
        SELECT s.signal_id, s.detected_on, s.method, s.code,
               coalesce(h.hazard, t.term, '') AS label,
               s.observed, s.expected, s.statistic, s.threshold, s.status, s.evaluation,
               s.evaluated_on, s.evaluated_by
        FROM marts.signals s
        LEFT JOIN (SELECT DISTINCT hazard_id, hazard FROM marts.risk_feedback) h
          ON h.hazard_id = s.code
        LEFT JOIN (SELECT code, min(term) AS term FROM reference.imdrf_terms GROUP BY code) t
          ON t.code = s.code
        WHERE s.scope = 'device_family' AND s.scope_value = $family
          AND s.detected_on BETWEEN $start AND $end
        ORDER BY s.detected_on, s.method, s.code, s.signal_id
        """,
        {"family": family, "start": start, "end": end},
    ).fetchall()
    out = [dict(zip(cols, r, strict=True)) for r in rows]
    for r in out:
        r["reading"] = statistic_reading(r["method"], r["statistic"], r["threshold"])
    return out


def signal_months(
    con: duckdb.DuckDBPyConnection, family: str, end: dt.date
) -> list[dict[str, Any]]:
    """Month (first day) of every family-level signal up to `end`, with its methods and codes,
    for the markers of the control chart. Source: marts.signals."""
    rows = con.execute(
        """
        SELECT date_trunc('month', detected_on)::DATE AS month,
               string_agg(DISTINCT method || ' ' || code, '; ' ORDER BY method || ' ' || code)
        FROM marts.signals
        WHERE scope = 'device_family' AND scope_value = $family AND detected_on <= $end
        GROUP BY 1 ORDER BY 1
        """,
        {"family": family, "end": end},
    ).fetchall()
    return [{"month": m, "label": label} for m, label in rows]


# --- 6. FSCAs ---------------------------------------------------------------------------------


def fsca_signals(
    con: duckdb.DuckDBPyConnection, family: str, start: dt.date, end: dt.date
) -> list[dict[str, Any]]:
    """Lot signals of the family detected in the period with the lots, countries and units an
    FSCA would concern (models.fsca.fsca_summary). Source: marts.fsca_scope."""
    import polars as pl

    from models.fsca import fsca_summary

    cursor = con.execute(
        """
        SELECT * FROM marts.fsca_scope
        WHERE device_family = $family AND detected_on BETWEEN $start AND $end
        ORDER BY signal_id, lot_number, country
        """,
        {"family": family, "start": start, "end": end},
    )
    scope = pl.DataFrame(cursor.fetchall(), schema=[d[0] for d in cursor.description], orient="row")
    if scope.is_empty():
        return []
    return fsca_summary(scope).to_dicts()


# --- 7. Complaints: this period against the preceding one ---------------------------------


def previous_period(start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
    """The period of as many whole months just before [start, end]."""
    months = (end.year * 12 + end.month) - (start.year * 12 + start.month) + 1
    first = start.year * 12 + start.month - 1 - months
    return dt.date(first // 12, first % 12 + 1, 1), start - dt.timedelta(days=1)


def period_comparison(
    con: duckdb.DuckDBPyConnection, family: str, start: dt.date, end: dt.date
) -> list[dict[str, Any]]:
    """Complaint rate per 1,000 unit-months of each model in the period and in the preceding
    period of the same length, with exact Poisson 95% intervals and whether the intervals
    overlap. Source: marts.complaint_rates."""
    from assets.reports.render import poisson_interval_rates

    prev_start, prev_end = previous_period(start, end)
    rows = con.execute(
        """
        SELECT device_model,
               sum(complaints) FILTER (WHERE month BETWEEN $ps AND $pe),
               sum(units_in_service) FILTER (WHERE month BETWEEN $ps AND $pe),
               sum(complaints) FILTER (WHERE month BETWEEN $s AND $e),
               sum(units_in_service) FILTER (WHERE month BETWEEN $s AND $e)
        FROM marts.complaint_rates
        WHERE device_family = $family
        GROUP BY device_model ORDER BY device_model
        """,
        {"family": family, "ps": prev_start, "pe": prev_end, "s": start, "e": end},
    ).fetchall()
    out = []
    for model, pc, pu, c, u in rows:
        pc, pu, c, u = int(pc or 0), float(pu or 0), int(c or 0), float(u or 0)
        (plo, lo), (phi, hi) = poisson_interval_rates([pc, c], [pu, u])
        rate = c * 1000 / u if u else None
        prev = pc * 1000 / pu if pu else None
        if rate is None or prev is None or None in (lo, hi, plo, phi):
            change = "no exposure in one of the periods"
        elif lo > phi:  # type: ignore[operator]
            change = "higher (intervals do not overlap)"
        elif hi < plo:  # type: ignore[operator]
            change = "lower (intervals do not overlap)"
        else:
            change = "intervals overlap"
        out.append(
            {
                "device_model": model,
                "previous_start": prev_start,
                "previous_end": prev_end,
                "previous_rate": prev,
                "previous_lower": plo,
                "previous_upper": phi,
                "rate": rate,
                "lower": lo,
                "upper": hi,
                "change": change,
            }
        )
    return out


# --- 7. Complaints: Pareto and lots -----------------------------------------------------------


def pareto(counts: Iterable[tuple[str, int]]) -> list[dict[str, Any]]:
    """Sort (code, count) by count descending (code ascending on ties) and add the cumulative
    share in percent."""
    ordered = sorted(((c, int(n)) for c, n in counts if n), key=lambda x: (-x[1], x[0]))
    total = sum(n for _, n in ordered)
    out, running = [], 0
    for code, n in ordered:
        running += n
        out.append({"code": code, "count": n, "cumulative_pct": 100.0 * running / total})
    return out


def complaint_pareto(
    con: duckdb.DuckDBPyConnection,
    as_of: dt.date,
    family: str,
    start: dt.date,
    end: dt.date,
) -> list[dict[str, Any]]:
    """Complaints received in the period per IMDRF problem code, Pareto-ordered, with the term.
    Sources: staging.complaint_versions (as of), reference.imdrf_terms."""
    rows = con.execute(
        f"""
        {_complaints_cte(con, as_of)}
        SELECT coalesce(c.problem_code, '(none)'), count(*)
        FROM c JOIN fam ON fam.device_model = c.device_model
        WHERE fam.device_family = $family AND c.received_date BETWEEN $start AND $end
        GROUP BY 1
        """,
        {"as_of": as_of, "family": family, "start": start, "end": end},
    ).fetchall()
    terms = dict(
        con.execute("SELECT code, term FROM reference.imdrf_terms WHERE annex = 'A'").fetchall()
    )
    return [{**r, "term": terms.get(r["code"], "")} for r in pareto(rows)]


def lot_problem_matrix(
    con: duckdb.DuckDBPyConnection,
    as_of: dt.date,
    family: str,
    start: dt.date,
    end: dt.date,
    top_lots: int = 15,
    top_codes: int = 10,
) -> dict[str, Any]:
    """Complaint counts of the period for the `top_lots` lots with most complaints × the
    `top_codes` most frequent problem codes among them (ties broken by name).
    Source: staging.complaint_versions (as of)."""
    rows = con.execute(
        f"""
        {_complaints_cte(con, as_of)}
        SELECT c.lot_number, coalesce(c.problem_code, '(none)'), count(*)
        FROM c JOIN fam ON fam.device_model = c.device_model
        WHERE fam.device_family = $family AND c.received_date BETWEEN $start AND $end
          AND c.lot_number IS NOT NULL
        GROUP BY 1, 2 ORDER BY 1, 2
        """,
        {"as_of": as_of, "family": family, "start": start, "end": end},
    ).fetchall()
    lot_totals: dict[str, int] = defaultdict(int)
    for lot, _, n in rows:
        lot_totals[lot] += int(n)
    lots = [lot for lot, _ in sorted(lot_totals.items(), key=lambda x: (-x[1], x[0]))][:top_lots]
    code_totals: dict[str, int] = defaultdict(int)
    for lot, code, n in rows:
        if lot in lots:
            code_totals[code] += int(n)
    codes = [c for c, _ in sorted(code_totals.items(), key=lambda x: (-x[1], x[0]))][:top_codes]
    cell = {(lot, code): int(n) for lot, code, n in rows}
    return {
        "lots": lots,
        "codes": codes,
        "z": [[cell.get((lot, code), 0) for code in codes] for lot in lots],
        "lot_totals": [lot_totals[lot] for lot in lots],
    }


# --- 8. Comparison with similar devices -----------------------------------------------------


def disproportionality(
    con: duckdb.DuckDBPyConnection,
    product_codes: Sequence[str],
    thresholds: dict[str, float],
    limit: int = 15,
) -> list[dict[str, Any]]:
    """MAUDE disproportionality (PRR, ROR, IC, EB05) of the family's product codes, highest EB05
    first, with the measures above their threshold (the signal_* columns of the mart, computed
    with config/pipeline.toml [signals.disproportionality]; `thresholds` is kept for display).
    Sources: marts.maude_disproportionality, reference.fda_device_problem_codes (term if
    available)."""
    if not product_codes:
        return []
    cols = (
        "product_code",
        "problem_code",
        "n11",
        "expected",
        "prr",
        "prr_chi2",
        "ror_lower",
        "ic025",
        "eb05",
        "signal_prr",
        "signal_ror",
        "signal_ic",
        "signal_mgps",
        "window_months",
    )
    present = set(table_columns(con, "marts.maude_disproportionality"))
    if not set(cols) <= present:  # no MAUDE data landed: the table holds no pairs
        return []
    rows = con.execute(
        f"""
        SELECT {", ".join(cols)}
        FROM marts.maude_disproportionality
        WHERE list_contains($codes, product_code)
        ORDER BY eb05 DESC NULLS LAST, prr DESC NULLS LAST, product_code, problem_code
        LIMIT {int(limit)}
        """,
        {"codes": sorted(product_codes)},
    ).fetchall()
    out = [dict(zip(cols, r, strict=True)) for r in rows]
    terms = {
        str(code): text
        for code, text in con.execute(
            "SELECT device_problem_code, description FROM reference.fda_device_problem_codes"
        ).fetchall()
    }
    for r in out:
        r["term"] = terms.get(str(r["problem_code"]), "")
        r["measures"] = " ".join(
            name
            for name, flag in (
                ("PRR", r["signal_prr"]),
                ("ROR", r["signal_ror"]),
                ("IC", r["signal_ic"]),
                ("EB05", r["signal_mgps"]),
            )
            if flag
        )
        r["above"] = bool(r["measures"])
    return out


# --- 9. Risk-file feedback --------------------------------------------------------------------


RISK_COLUMNS = (
    "hazard_id",
    "hazard",
    "harm",
    "severity",
    "expected_rate",
    "window_name",
    "occurrences",
    "units_in_service_years",
    "observed_rate_per_1000_per_year",
    "ci_lower",
    "ci_upper",
    "update_required",
    "observed_max_severity",
    "severity_exceeded",
    "finding",
)
PERIOD_WINDOW = "data collection period"


def risk_feedback(
    con: duckdb.DuckDBPyConnection,
    as_of: dt.date,
    family: str,
    start: dt.date,
    end: dt.date,
    settings: dict[str, Any],
) -> list[dict[str, Any]]:
    """Observed hazard rates against the risk file over the report's own data collection period
    and since first shipment up to its end (models.risk_feedback on the complaints as known on
    the night), not the trailing months of the night's mart. Rates per 1,000 units per month,
    the report's one unit: the risk file's yearly rate / 12."""
    from assets.signals.queries import FAMILY_EXPOSURE_SQL
    from assets.vigilance.risk import HAZARDS_SQL
    from assets.warehouse import query_frame
    from models.risk_feedback import DEFAULT_OUTCOME_SEVERITY
    from models.risk_feedback import risk_feedback as feedback_model

    months = (end.year * 12 + end.month) - (start.year * 12 + start.month) + 1
    mapping = {
        str(k): int(v)
        for k, v in dict(settings.get("outcome_severity", DEFAULT_OUTCOME_SEVERITY)).items()
    }
    table = feedback_model(
        query_frame(con, HAZARDS_SQL + " WHERE device_family = $family", {"family": family}),
        # the complaints as known on the night, from the report's one ranking of them
        query_frame(
            con,
            f"""
            SELECT c.complaint_id, c.received_date, p.device_family, c.problem_code,
                   c.patient_outcome
            FROM ({complaints_as_of(con, as_of)}) c
            JOIN staging.products p USING (device_model)
            WHERE p.device_family = $family
            """,
            {"as_of": as_of, "family": family},
        ),
        query_frame(con, FAMILY_EXPOSURE_SQL, {"night": end}),
        end,
        window_months=months,
        confidence=float(settings.get("confidence", 0.95)),
        outcome_severity_map=mapping,
        include_cumulative=True,
    )
    rows = []
    for r in table.sort("hazard_id", "window_name", descending=[False, True]).iter_rows(named=True):
        row = {k: r[k] for k in RISK_COLUMNS}
        if row["window_name"] != "since_first_shipment":
            row["window_name"] = PERIOD_WINDOW
        for k in ("expected_rate", "observed_rate_per_1000_per_year", "ci_lower", "ci_upper"):
            row[k] = None if row[k] is None else row[k] / 12.0
        row["observed_per_1000_month"] = row.pop("observed_rate_per_1000_per_year")
        row["expected_per_1000_month"] = row.pop("expected_rate")
        row["unit_months"] = (row.pop("units_in_service_years") or 0.0) * 12.0
        row["finding"] = _monthly_finding(row, r["expected_rate"])
        rows.append(row)
    return rows


def _monthly_finding(row: dict[str, Any], yearly_expected: float) -> str:
    """The hazard's finding in the report's unit (per 1,000 units per month)."""
    if row["unit_months"] <= 0:
        return f"{row['occurrences']} occurrence(s) with no units in service in the window."
    text = (
        f"{row['occurrences']} occurrence(s) over {row['unit_months']:,.0f} unit-months: "
        f"{row['observed_per_1000_month']:.3f} per 1,000 units per month (95% CI "
        f"{row['ci_lower']:.3f}-{row['ci_upper']:.3f}) against the risk file's "
        f"{row['expected_per_1000_month']:.3f} ({yearly_expected:g} per 1,000 per year / 12)"
    )
    if row["update_required"]:
        return text + "; lower bound above the risk file estimate: risk file update required."
    if row["ci_upper"] is not None and row["ci_upper"] < row["expected_per_1000_month"]:
        return text + "; below the risk file estimate."
    return text + "; consistent with the risk file estimate."


# --- 10. Data-quality annex -------------------------------------------------------------------


def group_checks(checks: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Check results grouped by (suite, table) with passed/failed counts; failed checks listed
    one by one. Each check: suite, table, check, severity, passed, failing_rows."""
    groups: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: {"passed": 0, "failed": 0})
    for c in checks:
        groups[(c["suite"], c["table"])]["passed" if c["passed"] else "failed"] += 1
    failed = sorted(
        (c for c in checks if not c["passed"]),
        key=lambda c: (c["suite"], c["table"], c["check"]),
    )
    return {
        "groups": [{"suite": s, "table": t, **groups[(s, t)]} for s, t in sorted(groups)],
        "failed": failed,
    }


# --- 1 and 11. Executive summary and conclusions -------------------------------------------


def serious_statement(serious: dict[str, Any]) -> str:
    """The one sentence on serious incidents reported, by authority and region."""
    if not serious.get("submissions_known", True):
        return (
            "Serious incidents reported: unknown, no submissions/ folder was delivered (the "
            "regulatory-affairs team supplies it, data contract); rule hits are in section 4."
        )
    groups = ", ".join(f"{r['group']} {r['total']}" for r in serious["by_authority"] if r["total"])
    regions = ", ".join(f"{r['region']}: {r['total']}" for r in serious["by_region"])
    return (
        f"{serious['total']} serious incident(s) reported for complaints received in the period"
        + (f" ({groups})" if groups else "")
        + f"; by region of the event {regions}."
    )


def summary_statements(
    serious: dict[str, Any],
    timeliness: Sequence[dict[str, Any]],
    trends: Sequence[dict[str, Any]],
    fscas: Sequence[dict[str, Any]],
    risks: Sequence[dict[str, Any]],
    disprop: Sequence[dict[str, Any]],
    comparison: Sequence[dict[str, Any]] = (),
) -> list[str]:
    """Factual sentences from the section data, no judgement of benefit-risk."""
    out = [serious_statement(serious)]
    submitted = sum(r["submitted"] for r in timeliness)
    late = sum(r["submitted_late"] for r in timeliness)
    out.append(
        f"{submitted} report(s) submitted for complaints of the period on a rule's clock, "
        f"{late} of them late."
    )
    past_due = sum(r["overdue"] for r in timeliness)
    doubt = sum(r["undetermined"] for r in timeliness)
    decided = sum(r["decided_not_reportable"] for r in timeliness)
    out.append(
        f"Rule hits without a report, for review (not late reports): {past_due} past their due "
        f"date with neither a report nor a decision, {doubt} in doubt, {decided} decided not "
        "reportable by a person (section 4, for second review)."
    )
    if trends:
        codes = sorted({f"{t['code']}" for t in trends})
        out.append(
            f"{len(trends)} trend signal(s) from the statistical methods in the period, on "
            f"{', '.join(codes)}."
        )
    else:
        out.append("No trend signal on the device family in the period.")
    own = [f for f in fscas if f["affected_lots"]]
    linked = [f for f in fscas if not f["affected_lots"]]
    if own:
        units = sum(int(f["units_net"] or 0) for f in own)
        out.append(
            f"{len(own)} lot signal(s) with a possible FSCA scope in the period, "
            f"{units:,} units net in the field in the signalled lots."
        )
    if linked:
        out.append(
            f"{len(linked)} lot signal(s) of other device families reach this one through a "
            "shared component lot: "
            + "; ".join(
                f"{f['scope_value']} (component lot {f['shared_component_lots']}, "
                f"{f['candidate_lots']} lot(s) of this family)"
                for f in linked
            )
            + "."
        )
    if not fscas:
        out.append("No lot signal (possible FSCA) in the period.")
    update = sorted({r["hazard_id"] for r in risks if r["update_required"]})
    exceeded = sorted({r["hazard_id"] for r in risks if r["severity_exceeded"]})
    out.append(
        f"Risk file: {len(update)} hazard(s) flagged for update "
        f"({', '.join(update) or 'none'}); observed severity above the assumed one for "
        f"{len(exceeded)} hazard(s) ({', '.join(exceeded) or 'none'})."
    )
    for r in comparison:
        if r["rate"] is not None and r["previous_rate"] is not None:
            out.append(
                f"{r['device_model']}: {r['rate']:.3f} complaints per 1,000 unit-months in the "
                f"period against {r['previous_rate']:.3f} in the preceding period "
                f"({r['change']})."
            )
    above = [d for d in disprop if d["above"]]
    out.append(
        f"MAUDE comparison: {len(above)} product code × problem code pair(s) of the listed ones "
        "above a disproportionality threshold."
    )
    return out


def conclusion_points(
    timeliness: Sequence[dict[str, Any]],
    trends: Sequence[dict[str, Any]],
    fscas: Sequence[dict[str, Any]],
    risks: Sequence[dict[str, Any]],
    comparison: Sequence[dict[str, Any]] = (),
) -> list[str]:
    """The data items of the report that ask for a decision by the responsible person, as
    factual sentences (what the data shows, not what to conclude), in a fixed order."""
    out = []
    overdue = [r for r in timeliness if r["overdue"]]
    if overdue:
        out.append(
            "Rule hits past their due date with neither a report nor a decision (to decide): "
            + ", ".join(f"{r['regime']} {r['report_kind']} {r['overdue']}" for r in overdue)
            + "."
        )
    for r in risks:
        if r["update_required"] and r["window_name"] == PERIOD_WINDOW:
            out.append(f"Risk file, {r['hazard_id']} {r['hazard']}: {r['finding']}")
    exceeded = sorted({f"{r['hazard_id']} {r['hazard']}" for r in risks if r["severity_exceeded"]})
    if exceeded:
        out.append("Observed harm severity above the risk file for: " + "; ".join(exceeded) + ".")
    by_code: dict[str, list[str]] = defaultdict(list)
    for t in trends:
        by_code[f"{t['code']} {t['label']}".strip()].append(f"{t['method']} {t['detected_on']}")
    for code in sorted(by_code):
        out.append(f"Trend signal on {code}: " + ", ".join(by_code[code]) + ".")
    for f in fscas:
        if not f["affected_lots"]:
            out.append(
                f"Lot signal {f['signal_id']} ({f['scope_value']}, another family's lot): "
                f"{f['candidate_lots']} lot(s) of this family share its component lot "
                f"{f['shared_component_lots']}, {int(f['candidate_units_net'] or 0):,} units "
                "net in the field: candidates for the same action."
            )
            continue
        out.append(
            f"Lot signal {f['signal_id']} ({f['scope_value']}, {f['code']} {f['code_term'] or ''})"
            f": {int(f['units_net'] or 0):,} units net in the field in "
            f"{len([c for c in (f['countries'] or '').split(';') if c])} countries."
        )
    for r in comparison:
        if r["change"].startswith("higher"):
            out.append(
                f"{r['device_model']}: complaint rate higher than in the preceding period "
                f"({r['previous_rate']:.3f} to {r['rate']:.3f} per 1,000 unit-months)."
            )
    if not out:
        out.append(
            "No rule hit past due without a report or decision, risk-file update, trend or lot "
            "signal in the data."
        )
    return out
