"""A peer detector beside ours: R's `surveillance` package on the same monthly series.

    version = surveillance_available()          # "1.20.3", or None without R or the package
    alarms = peer_alarms(series, "glrpois")      # series: rows of marts.signal_series

`peer_alarms` writes the covered months of each series (`covered` = true; a month the data do not
cover is left out, not read as zero complaints) to a temporary CSV, runs
`Rscript pipelines/peer_surveillance.R IN OUT METHOD key=value ...` and reads back the first alarm
of each series. The R script documents the calls (`glrpois`: Hoehle & Paul 2008, a Poisson
likelihood-ratio CUSUM against the risk file's expected counts; `farrington`:
`farringtonFlexible`, Noufaily et al. 2012). Install R and the package with `make peer-deps`
(Debian: r-base-core, r-cran-surveillance).
"""

from __future__ import annotations

import math
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from models.trends import CUSUM_DEFAULT_H

R_SCRIPT = Path(__file__).with_name("peer_surveillance.R")
PEER_METHODS = {"glrpois": "peer_glrpois", "farrington": "peer_farrington"}
INSTALL_HINT = "run `make peer-deps` (Debian packages r-base-core, r-cran-surveillance)"

SERIES_SCHEMA = {
    "series_id": pl.String,
    "scope": pl.String,
    "scope_value": pl.String,
    "code": pl.String,
    "month": pl.Date,
    "observed": pl.Float64,
    "expected": pl.Float64,
    "covered": pl.Boolean,
}
ALARM_SCHEMA = {
    "series_id": pl.String,
    "scope": pl.String,
    "scope_value": pl.String,
    "code": pl.String,
    "method": pl.String,
    "alarm_month": pl.Date,
    "detected_on": pl.Date,
    "observed": pl.Float64,
    "expected": pl.Float64,
    "statistic": pl.Float64,
    "threshold": pl.Float64,
}


class PeerError(RuntimeError):
    """The peer could not judge the series: says which series and what R said."""


@dataclass(frozen=True)
class PeerSettings:
    """Parameters of the peer's charts (pipelines/peer_surveillance.R explains each).

    `c_arl` defaults to our own CUSUM's decision interval, ln(600): a likelihood-ratio CUSUM with
    threshold c has an in-control average run length of at least exp(c) months, so both target
    at most 2 false alarms per 100 null series-years against the same alternative (twice the
    expected rate), and any difference in what they catch comes from the implementations."""

    rate_ratio: float = 2.0  # glrpois: theta = ln(rate_ratio)
    c_arl: float = CUSUM_DEFAULT_H  # glrpois: threshold of the LR statistic
    farrington_alpha: float = 0.01  # one-sided level of the Farrington upper bound
    farrington_years_back: int = 2  # b: years of reference months
    farrington_half_window: int = 1  # w: months either side of the same month in those years
    timeout_seconds: float = 600.0

    def arguments(self, method: str) -> list[str]:
        """The key=value arguments of peer_surveillance.R for `method`."""
        if method == "glrpois":
            if self.rate_ratio <= 1:
                raise ValueError(f"rate_ratio must be > 1, found {self.rate_ratio}")
            return [f"theta={math.log(self.rate_ratio)!r}", f"c.ARL={self.c_arl!r}"]
        return [
            f"alpha={self.farrington_alpha!r}",
            f"b={self.farrington_years_back}",
            f"w={self.farrington_half_window}",
        ]


def surveillance_available() -> str | None:
    """The installed version of R's `surveillance` package; None when Rscript or the package is
    missing."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        return None
    try:
        done = subprocess.run(
            [
                rscript,
                "--vanilla",
                "-e",
                'if (requireNamespace("surveillance", quietly = TRUE)) '
                'cat(as.character(packageVersion("surveillance")))',
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    version = done.stdout.strip()
    return version if done.returncode == 0 and version else None


def _checked(series: pl.DataFrame) -> pl.DataFrame:
    """The covered months, checked: whole non-negative counts, finite non-negative expectations,
    one row per series and month. Raises PeerError naming the series otherwise."""
    missing = [c for c in SERIES_SCHEMA if c not in series.columns]
    if missing:
        raise PeerError(f"the series lack the column(s) {', '.join(missing)}")
    covered = series.select(*SERIES_SCHEMA).cast(SERIES_SCHEMA).filter(pl.col("covered"))
    problems = {
        "observed is missing, negative or not a whole count": pl.col("observed").is_null()
        | pl.col("observed").is_nan()
        | (pl.col("observed") < 0)
        | (pl.col("observed") != pl.col("observed").round()),
        "expected is missing, negative or not finite": pl.col("expected").is_null()
        | ~pl.col("expected").is_finite()
        | (pl.col("expected") < 0),
        "the month is missing": pl.col("month").is_null(),
        "the month appears twice": pl.struct("series_id", "month").is_duplicated(),
    }
    for problem, bad in problems.items():
        found = covered.filter(bad)
        if not found.is_empty():
            first = found.sort("series_id", "month").row(0, named=True)
            raise PeerError(
                f"series {first['series_id']} ({first['scope_value']}, {first['code']}), month "
                f"{first['month']}: {problem} (observed {first['observed']}, expected "
                f"{first['expected']}); {found.height} such row(s) in all"
            )
    keys = covered.select("series_id", "scope", "scope_value", "code").unique()
    ambiguous = keys.filter(pl.col("series_id").is_duplicated())
    if not ambiguous.is_empty():
        raise PeerError(
            f"series {ambiguous['series_id'].sort()[0]} has more than one scope, family or code"
        )
    return covered.sort("series_id", "month")


def peer_alarms(
    series: pl.DataFrame, method: str = "glrpois", settings: PeerSettings | None = None
) -> pl.DataFrame:
    """The first alarm of R `surveillance`'s `method` ('glrpois' or 'farrington') on each series.

    `series`: rows of marts.signal_series (series_id, scope, scope_value, code, month, observed,
    expected, covered). Returns `ALARM_SCHEMA` rows sorted by series_id: method 'peer_glrpois' or
    'peer_farrington', the alarm month, detected_on = its last day, the month's observed and
    expected counts, the chart's statistic and the threshold it crossed.
    """
    if method not in PEER_METHODS:
        raise ValueError(f"unknown peer method {method!r}; expected one of {sorted(PEER_METHODS)}")
    settings = settings or PeerSettings()
    covered = _checked(series)
    if covered.is_empty():
        return pl.DataFrame(schema=ALARM_SCHEMA)
    rscript = shutil.which("Rscript")
    if rscript is None:
        raise PeerError(f"Rscript is not on PATH; {INSTALL_HINT}")
    keys = covered.select("series_id", "scope", "scope_value", "code").unique()
    with tempfile.TemporaryDirectory(prefix="pms-peer-") as folder:
        given, found = Path(folder) / "series.csv", Path(folder) / "alarms.csv"
        covered.select(
            "series_id",
            pl.col("month").dt.strftime("%Y-%m-%d"),
            pl.col("observed").round().cast(pl.Int64),
            "expected",
        ).write_csv(given, float_precision=12)
        argv = [
            rscript,
            "--vanilla",
            str(R_SCRIPT),
            str(given),
            str(found),
            method,
            *settings.arguments(method),
        ]
        try:
            done = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                timeout=settings.timeout_seconds,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise PeerError(
                f"R surveillance {method} did not finish within {settings.timeout_seconds:.0f} s "
                f"on {keys.height} series"
            ) from None
        if done.returncode != 0:
            said = done.stderr.strip() or done.stdout.strip() or "(no message)"
            if "there is no package called" in said:
                said += f"\n{INSTALL_HINT}"
            raise PeerError(
                f"R surveillance {method} failed (exit {done.returncode}) on the series below; "
                f"R said:\n{said}"
            )
        alarms = pl.read_csv(
            found,
            schema={
                "series_id": pl.String,
                "alarm_month": pl.Date,
                "observed": pl.Float64,
                "expected": pl.Float64,
                "statistic": pl.Float64,
                "threshold": pl.Float64,
            },
        )
    return (
        alarms.join(keys, on="series_id", how="left")
        .with_columns(
            method=pl.lit(PEER_METHODS[method]),
            detected_on=pl.col("alarm_month").dt.month_end(),
        )
        .select(*ALARM_SCHEMA)
        .cast(ALARM_SCHEMA)
        .sort("series_id")
    )
