"""Trend alarms of monthly complaint counts against the risk-file expectation (EU MDR Art. 88).

Each series is a (device family, IMDRF problem code) pair with monthly observed complaint counts
``x_t`` and monthly expected counts ``mu_t`` (expected rate per 1,000 units in service per year
x units in service / 1000 / 12). Every method below answers "is the observed count above the
expectation?" and reports the first month it would have alarmed using only months ``<= t``:

* ``exact_poisson_upper_p`` + ``fdr_adjust``: exact one-sided Poisson test of a window total,
  Benjamini-Hochberg (1995) false discovery rate across series.
* ``poisson_cusum``: Lucas (1985) Poisson CUSUM, time-varying reference value.
* ``ewma_poisson``: EWMA of standardised counts with exact time-varying limits
  (Roberts 1959; Lucas & Saccucci 1990).
* ``maxsprt_poisson``: Poisson MaxSPRT (Kulldorff, Davis, Kolczak, Lewis, Lieu & Platt 2011)
  with exact continuous-time critical values.
* ``changepoint_month`` / ``first_alarm_scanning``: likelihood-ratio single changepoint for a
  Poisson rate ratio (Worsley 1986), tested by exact conditional binomial tests with a
  Bonferroni bound over candidate changepoints.

All functions are pure; ``series_alarms`` is a Polars convenience wrapper.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import polars as pl
from scipy import optimize, special, stats
from statsmodels.stats.multitest import multipletests

METHODS = ("poisson_exact_fdr", "cusum", "ewma", "maxsprt", "changepoint")

ALARM_SCHEMA = {
    "series_id": pl.String,
    "method": pl.String,
    "first_alarm_month": pl.Date,
    "period_start": pl.Date,
    "period_end": pl.Date,
    "observed": pl.Int64,
    "expected": pl.Float64,
    "statistic": pl.Float64,
    "threshold": pl.Float64,
}

#: Default CUSUM decision interval, in log-likelihood-ratio units. For a likelihood-ratio CUSUM
#: the in-control average run length satisfies ARL0 >= exp(h) (Lorden 1971: the CUSUM is a
#: sequence of one-sided SPRTs, each crossing h with probability <= exp(-h) by Wald's
#: inequality). h = ln(600) guarantees ARL0 >= 600 months (50 years), i.e. at most ~2 false
#: alarms per 100 series-years whatever the expected counts; the measured rate is far lower.
CUSUM_DEFAULT_H = math.log(600.0)


def _as_arrays(observed: Iterable[float], expected: Iterable[float]) -> tuple[np.ndarray, ...]:
    x = np.asarray(observed, dtype=float)
    mu = np.asarray(expected, dtype=float)
    if x.shape != mu.shape or x.ndim != 1:
        raise ValueError("observed and expected must be 1-D arrays of the same length")
    if np.any(x < 0) or np.any(mu < 0) or not np.all(np.isfinite(mu)):
        raise ValueError("observed and expected must be non-negative and finite")
    return x, mu


# --------------------------------------------------------------------------------------------
# Exact Poisson test + Benjamini-Hochberg
# --------------------------------------------------------------------------------------------


def exact_poisson_upper_p(
    observed: np.ndarray | float, expected: np.ndarray | float
) -> np.ndarray | float:
    """One-sided exact Poisson p-value P(X >= observed | X ~ Poisson(expected)).

    ``scipy.stats.poisson.sf(observed - 1, expected)``; 1 when observed is 0, and 0 when
    events occurred although nothing was expected.
    """
    x = np.asarray(observed, dtype=float)
    mu = np.asarray(expected, dtype=float)
    with np.errstate(invalid="ignore"):
        p = np.where(x <= 0, 1.0, stats.poisson.sf(x - 1, mu))
    p = np.where((mu <= 0) & (x > 0), 0.0, p)
    return float(p) if p.ndim == 0 else p


def fdr_adjust(pvalues: np.ndarray, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Benjamini-Hochberg (1995) step-up q-values and rejections at FDR level ``alpha``.

    Thin wrapper over ``statsmodels.stats.multitest.multipletests(method="fdr_bh")``.
    """
    p = np.asarray(pvalues, dtype=float)
    if p.size == 0:
        return np.empty(0), np.empty(0, dtype=bool)
    reject, q, _, _ = multipletests(p, alpha=alpha, method="fdr_bh")
    return q, reject


# A boundary decided on the last bits of floating-point arithmetic can differ between machines
# (z = 0.2 * 3 is 0.6000000000000001 where UCL_1 = 3 * sqrt(0.04) is 0.6), which validated
# consistency forbids. A statistic alarms only when it exceeds its limit by more than this
# relative margin, far above rounding error (1e-16) and far below any difference that means
# something (a chart's limits are set to a few per cent). Every method below decides its
# boundary with `exceeds` (a statistic above its limit) or `falls_below` (a p- or q-value below
# its level): the statistic must clear the boundary by this margin, and a tie is no alarm.
TIE_MARGIN = 1e-9


def exceeds(statistic: np.ndarray, limit: np.ndarray) -> np.ndarray:
    """statistic > limit by more than TIE_MARGIN (relative to max(1, |limit|))."""
    limit = np.asarray(limit, dtype=float)
    return np.asarray(statistic) > limit + TIE_MARGIN * np.maximum(1.0, np.abs(limit))


def falls_below(value: np.ndarray | float, level: np.ndarray | float) -> np.ndarray:
    """value < level by more than TIE_MARGIN (relative to level): a p- or q-value equal to its
    level up to rounding is no alarm."""
    level = np.asarray(level, dtype=float)
    return np.asarray(value) < level * (1.0 - TIE_MARGIN)


# --------------------------------------------------------------------------------------------
# Poisson CUSUM (Lucas 1985)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CusumResult:
    """Log-likelihood-ratio CUSUM path, first alarm index, decision interval and k_t."""

    path: np.ndarray
    alarm_index: int | None
    h: float
    k: np.ndarray
    run_start: np.ndarray  # index of the month where the current excursion above 0 began


def poisson_cusum(
    observed: np.ndarray,
    expected: np.ndarray,
    rate_ratio: float = 2.0,
    h: float = CUSUM_DEFAULT_H,
    reset: bool = False,
) -> CusumResult:
    """Upper Poisson CUSUM of Lucas (1985) with a time-varying in-control mean.

    Tests in-control mean ``mu_t`` against ``rate_ratio * mu_t``. The path is kept in
    log-likelihood-ratio units (not in counts):

        S_t = max(0, S_{t-1} + x_t * ln r - mu_t * (r - 1)),  S_0 = 0,

    which equals ln(r) times Lucas' count-scale CUSUM ``max(0, C_{t-1} + x_t - k_t)`` with
    reference value ``k_t = mu_t (r - 1) / ln r``. Alarm at the first ``t`` with
    ``S_t > h`` by more than `TIE_MARGIN` (`exceeds`; see ``CUSUM_DEFAULT_H`` for how the default
    is chosen: a stricter boundary keeps its bound on the false-alarm rate). With ``reset`` the
    path restarts at 0 after each alarm; ``alarm_index`` is always the first alarm.
    """
    x, mu = _as_arrays(observed, expected)
    if rate_ratio <= 1:
        raise ValueError("rate_ratio must be > 1 for an upper CUSUM")
    log_r = math.log(rate_ratio)
    k = mu * (rate_ratio - 1) / log_r
    path = np.empty_like(x)
    run_start = np.zeros(x.shape, dtype=int)
    s, start, alarm = 0.0, 0, None
    for t in range(x.size):
        if s <= 0:
            start = t
        s = max(0.0, s + x[t] * log_r - mu[t] * (rate_ratio - 1))
        path[t] = s
        run_start[t] = start
        if exceeds(s, h):
            if alarm is None:
                alarm = t
            if reset:
                s = 0.0
    return CusumResult(path=path, alarm_index=alarm, h=h, k=k, run_start=run_start)


# --------------------------------------------------------------------------------------------
# EWMA of standardised Poisson counts
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EwmaResult:
    """EWMA path ``z``, upper control limits ``ucl`` per month and first alarm index."""

    z: np.ndarray
    ucl: np.ndarray
    alarm_index: int | None


def ewma_poisson(
    observed: np.ndarray, expected: np.ndarray, lam: float = 0.2, L: float = 3.0
) -> EwmaResult:
    """Upper EWMA chart (Roberts 1959) of standardised counts u_t = (x_t - mu_t) / sqrt(mu_t).

    z_t = lam * u_t + (1 - lam) * z_{t-1}, z_0 = 0; under control u_t has mean 0 and variance 1,
    so the exact time-varying limit (Lucas & Saccucci 1990) is

        UCL_t = L * sqrt(lam / (2 - lam) * (1 - (1 - lam) ** (2 t))),  t = 1, 2, ...

    (UCL_1 = L * lam). Alarm at the first t with z_t > UCL_t by more than `TIE_MARGIN`
    (`exceeds`): a statistic equal to its limit up to floating-point rounding is no alarm on any
    machine. Months with mu_t = 0 contribute u_t = 0 (no information about the rate).
    """
    x, mu = _as_arrays(observed, expected)
    if not 0 < lam <= 1:
        raise ValueError("lam must be in (0, 1]")
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.where(mu > 0, (x - mu) / np.sqrt(mu), 0.0)
    z = np.empty_like(u)
    prev = 0.0
    for t in range(u.size):
        prev = lam * u[t] + (1 - lam) * prev
        z[t] = prev
    steps = np.arange(1, u.size + 1)
    ucl = L * np.sqrt(lam / (2 - lam) * (1 - (1 - lam) ** (2 * steps)))
    hits = np.flatnonzero(exceeds(z, ucl))
    return EwmaResult(z=z, ucl=ucl, alarm_index=int(hits[0]) if hits.size else None)


# --------------------------------------------------------------------------------------------
# Poisson MaxSPRT (Kulldorff et al. 2011)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MaxSprtResult:
    """MaxSPRT log-likelihood-ratio path, critical value, first alarm index and the T used."""

    llr: np.ndarray
    critical_value: float
    alarm_index: int | None
    max_expected: float


def maxsprt_llr(cum_observed: np.ndarray, cum_expected: np.ndarray) -> np.ndarray:
    """Poisson MaxSPRT statistic: (mu - c) + c ln(c / mu) when c > mu, else 0."""
    c = np.asarray(cum_observed, dtype=float)
    mu = np.asarray(cum_expected, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        llr = np.where(c > mu, (mu - c) + c * np.log(c / mu), 0.0)
    return np.where((mu <= 0) & (c > 0), np.inf, llr)


def _maxsprt_type1(cv: float, T: float, min_events: int) -> float:
    """Exact type I error of the continuous Poisson MaxSPRT with critical value ``cv``.

    The c-th event signals iff it arrives by mu_c, the root below c of
    mu - c + c ln(c / mu) = cv, i.e. mu_c = -c W0(-exp(-1 - cv / c)) (Lambert W). So the test
    signals by T iff N(min(mu_c, T)) >= c for some c >= min_events; the probability of never
    signalling is propagated over the checkpoints mu_c by Poisson convolutions, absorbing states
    with N >= c (the recursion of Kulldorff et al. 2011, R ``Sequential::CV.Poisson``).
    """
    n_max = int(T + 12 * math.sqrt(T + 1) + 4 * cv + 50)
    c = np.arange(1, n_max + 1, dtype=float)
    mu_c = np.real(-c * special.lambertw(-np.exp(-1 - cv / c), 0))
    beyond = np.flatnonzero(mu_c >= T)
    if beyond.size == 0:  # pragma: no cover - n_max is generous
        raise RuntimeError("MaxSPRT boundary search range too small")
    imax = int(beyond[0]) + 1  # smallest event count whose boundary time is beyond T
    checkpoints = [(int(i), float(mu_c[i - 1])) for i in range(min_events, imax)]
    checkpoints.append((max(imax, min_events), T))
    surv = np.array([1.0])  # distribution of N(t) on non-signalled paths, states 0..len-1
    t_prev = 0.0
    for cnt, t_c in checkpoints:
        dt_ = max(t_c - t_prev, 0.0)
        t_prev = t_c
        kmax = min(cnt, int(dt_ + 12 * math.sqrt(dt_) + 30))
        k = np.arange(kmax)
        if dt_ > 0:  # Poisson(dt_) pmf; inlined because scipy.stats call overhead dominates
            pmf = np.exp(k * math.log(dt_) - dt_ - special.gammaln(k + 1))
        else:
            pmf = (k == 0).astype(float)
        surv = np.convolve(surv, pmf)[:cnt]
    return float(1.0 - surv.sum())


@lru_cache(maxsize=4096)
def _maxsprt_cv_cached(alpha: float, T: float, min_events: int) -> float:
    if stats.poisson.sf(min_events - 1, T) <= alpha:
        return 0.0  # even "signal at the first min_events events" keeps type I error <= alpha
    return float(
        optimize.brentq(lambda cv: _maxsprt_type1(cv, T, min_events) - alpha, 1e-6, 30.0, xtol=1e-8)
    )


def _round_up_sig(value: float, digits: int = 3) -> float:
    if value <= 0:
        return value
    scale = 10 ** (math.floor(math.log10(value)) - digits + 1)
    return round(math.ceil(value / scale - 1e-9) * scale, 12)


def maxsprt_critical_value(alpha: float = 0.05, max_expected: float = 1.0, min_events: int = 1):
    """Exact critical value of the continuous Poisson MaxSPRT (Kulldorff et al. 2011, Table 1).

    Computed by the exact recursion (see ``_maxsprt_type1``) and Brent root finding on the
    type I error, not by simulation. ``max_expected`` (T, the upper limit on surveillance in
    expected events) is rounded UP to 3 significant digits for caching; a larger T gives a
    slightly larger critical value, so the rounding is conservative. Values are cached by
    (alpha, rounded T, min_events). Returns 0 when T is too small to ever reach ``alpha``.
    """
    if not 0 < alpha < 1 or max_expected <= 0:
        raise ValueError("need 0 < alpha < 1 and max_expected > 0")
    return _maxsprt_cv_cached(float(alpha), _round_up_sig(float(max_expected)), int(min_events))


def maxsprt_poisson(
    observed: np.ndarray,
    expected: np.ndarray,
    alpha: float = 0.05,
    max_expected: float | None = None,
    min_events: int = 1,
) -> MaxSprtResult:
    """Poisson MaxSPRT of Kulldorff et al. (2011) on cumulative counts, looked at monthly.

    LLR_t = (mu_t - c_t) + c_t ln(c_t / mu_t) if c_t > mu_t else 0, with c_t, mu_t cumulative
    observed and expected counts. Alarm at the first month with LLR_t > CV by more than
    `TIE_MARGIN` (`exceeds`) and c_t >= ``min_events``; months after the cumulative expected
    exceeds ``max_expected`` are not tested (surveillance has ended). The CV is the exact
    continuous-surveillance value, so monthly looks make the test conservative (actual alpha
    below nominal).

    ``max_expected`` = T is the surveillance plan's upper limit. If None, the series' total
    expected count is used: note that this makes the threshold depend on how long the series
    is, so for strictly look-ahead-free alarms pass a T fixed in advance.
    """
    x, mu = _as_arrays(observed, expected)
    c_cum, mu_cum = np.cumsum(x), np.cumsum(mu)
    T = float(mu_cum[-1]) if max_expected is None else float(max_expected)
    llr = maxsprt_llr(c_cum, mu_cum)
    if x.size == 0 or T <= 0:
        return MaxSprtResult(llr=llr, critical_value=math.inf, alarm_index=None, max_expected=T)
    cv = maxsprt_critical_value(alpha, T, min_events)
    in_plan = mu_cum <= T * (1 + 1e-9)
    hits = np.flatnonzero(in_plan & exceeds(llr, cv) & (llr > 0) & (c_cum >= min_events))
    return MaxSprtResult(
        llr=llr,
        critical_value=cv,
        alarm_index=int(hits[0]) if hits.size else None,
        max_expected=T,
    )


# --------------------------------------------------------------------------------------------
# Changepoint in the rate ratio observed / expected
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChangepointResult:
    """Most significant upward changepoint: first month of the new regime and its p-values."""

    index: int | None  # first month of the raised segment when significant, else None
    candidate: int | None  # best candidate even when not significant
    p_min: float  # smallest per-split conditional p-value
    p_adjusted: float  # Bonferroni: p_min x number of candidate splits (capped at 1)
    rate_ratio_before: float
    rate_ratio_after: float


def changepoint_month(
    observed: np.ndarray,
    expected: np.ndarray,
    alpha: float = 0.001,
    min_before: int = 6,
    max_after: int = 6,
    min_rate_ratio: float = 1.0,
) -> ChangepointResult:
    """Upward changepoint in the rate ratio theta_t = E[x_t] / mu_t (Worsley 1986 for Poisson).

    Model: x_t ~ Poisson(theta_1 mu_t) for t < tau and Poisson(theta_2 mu_t) for t >= tau,
    H0: theta_2 <= r theta_1 with r = ``min_rate_ratio`` (r = 1: no rise at all). Conditional on
    the total N the nuisance theta vanishes: at the boundary theta_2 = r theta_1 the count after tau
    is Binomial(N, r M_after / (M_before + r M_after)), so each split has an exact
    one-sided p-value ``scipy.stats.binom.sf``; the split with the smallest p is the candidate
    (for a fixed N this is the likelihood-ratio maximiser up to discreteness), and a Bonferroni
    bound over the candidate splits controls the scan. Splits need ``min_before`` baseline
    months and at most ``max_after`` months after tau (recent changes; keeps the bound tight).
    The change is significant when p_adjusted < alpha (`falls_below`) and theta_2 > r theta_1.

    ``min_rate_ratio`` above 1 asks for a relevant rise, not any rise: on a large series a steady
    seasonal swing of 20-35% is "significant" against a flat expected rate, though it is no signal
    of a device problem (see config/pipeline.toml, ``changepoint_min_rate_ratio``).
    """
    if not min_rate_ratio >= 1.0:
        raise ValueError(f"min_rate_ratio must be at least 1, got {min_rate_ratio}")
    x, mu = _as_arrays(observed, expected)
    n = x.size
    taus = np.arange(max(min_before, n - max_after), n)
    taus = taus[taus >= 1]
    none = ChangepointResult(None, None, 1.0, 1.0, math.nan, math.nan)
    total_x, total_mu = x.sum(), mu.sum()
    if taus.size == 0 or total_x <= 0 or total_mu <= 0:
        return none
    cx = np.concatenate([[0.0], np.cumsum(x)])
    cm = np.concatenate([[0.0], np.cumsum(mu)])
    after_x = total_x - cx[taus]
    after_mu = total_mu - cm[taus]
    before_mu = total_mu - after_mu
    share = np.clip(min_rate_ratio * after_mu / (before_mu + min_rate_ratio * after_mu), 0.0, 1.0)
    p = np.where(after_x > 0, stats.binom.sf(after_x - 1, total_x, share), 1.0)
    best = int(np.argmin(p))
    tau = int(taus[best])
    with np.errstate(divide="ignore", invalid="ignore"):
        before_ratio = cx[tau] / cm[tau] if cm[tau] > 0 else math.nan
        after_ratio = after_x[best] / after_mu[best] if after_mu[best] > 0 else math.inf
    p_min = float(p[best])
    p_adj = min(1.0, p_min * taus.size)
    upward = not (after_ratio <= min_rate_ratio * before_ratio)
    return ChangepointResult(
        index=tau if (falls_below(p_adj, alpha) and upward) else None,
        candidate=tau,
        p_min=p_min,
        p_adjusted=p_adj,
        rate_ratio_before=float(before_ratio),
        rate_ratio_after=float(after_ratio),
    )


def first_alarm_scanning(
    observed: np.ndarray,
    expected: np.ndarray,
    alpha: float = 0.001,
    min_before: int = 6,
    max_after: int = 6,
    min_rate_ratio: float = 1.0,
) -> tuple[int | None, ChangepointResult | None]:
    """Apply ``changepoint_month`` to the growing prefixes months[0..t], t = 0, 1, ...

    Returns (first t whose prefix shows a significant upward change, that prefix's result), or
    (None, None). Each decision uses months <= t only, so the alarm month has no look-ahead.
    """
    x, mu = _as_arrays(observed, expected)
    for t in range(x.size):
        res = changepoint_month(
            x[: t + 1], mu[: t + 1], alpha, min_before, max_after, min_rate_ratio
        )
        if res.index is not None:
            return t, res
    return None, None


# --------------------------------------------------------------------------------------------
# Polars wrapper
# --------------------------------------------------------------------------------------------


def _alarm_row(
    sid: str,
    method: str,
    months: list[dt.date],
    x: np.ndarray,
    mu: np.ndarray,
    start: int,
    end: int,
    statistic: float,
    threshold: float,
) -> dict:
    return {
        "series_id": sid,
        "method": method,
        "first_alarm_month": months[end],
        "period_start": months[start],
        "period_end": months[end],
        "observed": round(float(x[start : end + 1].sum())),
        "expected": float(mu[start : end + 1].sum()),
        "statistic": float(statistic),
        "threshold": float(threshold),
    }


def series_alarms(
    frame: pl.DataFrame,
    methods: Iterable[str] = METHODS,
    *,
    fdr_alpha: float = 0.05,
    window_months: int = 12,
    cusum_rate_ratio: float = 2.0,
    cusum_h: float = CUSUM_DEFAULT_H,
    ewma_lam: float = 0.2,
    ewma_L: float = 3.0,
    maxsprt_alpha: float = 0.05,
    maxsprt_max_expected: float | Mapping[str, float] | None = None,
    maxsprt_min_events: int = 1,
    changepoint_alpha: float = 0.001,
    changepoint_min_before: int = 6,
    changepoint_max_after: int = 6,
    changepoint_min_rate_ratio: float = 1.0,
) -> pl.DataFrame:
    """First alarm per (series_id, method) for a long frame of monthly series.

    Input columns: series_id, month (date), observed (int), expected (float); one row per series
    and month, months contiguous within a series. Output: one row per (series_id, method) that
    alarmed, with the alarm month, the window the statistic refers to, the observed and
    expected totals over that window, the statistic and the threshold it crossed:

    * poisson_exact_fdr: at each calendar month, exact Poisson p of the trailing
      ``window_months`` (fewer at the start of a series), BH across all series present that
      month; alarm at the first month with q < ``fdr_alpha``. statistic = q, threshold = alpha.
    * cusum: window = current CUSUM excursion; statistic = S_t, threshold = h.
    * ewma: window = series start to alarm; statistic = z_t, threshold = UCL_t.
    * maxsprt: window = series start to alarm; statistic = LLR_t, threshold = CV.
      ``maxsprt_max_expected`` gives T (a number, or per series_id); None = each series' total
      expected in ``frame`` (see ``maxsprt_poisson`` about look-ahead in that default).
    * changepoint: window = changepoint month to alarm month; statistic = Bonferroni p,
      threshold = alpha; a rise must exceed ``changepoint_min_rate_ratio`` x the rate before.
    """
    methods = tuple(methods)
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise ValueError(f"unknown methods: {sorted(unknown)}")
    if frame.select(pl.struct("series_id", "month").is_duplicated().any()).item():
        raise ValueError("duplicate (series_id, month) rows")
    df = frame.select(
        pl.col("series_id").cast(pl.String),
        pl.col("month").cast(pl.Date),
        pl.col("observed").cast(pl.Float64),
        pl.col("expected").cast(pl.Float64),
    ).sort("series_id", "month")
    rows: list[dict] = []
    series = {
        sid[0]: (g["month"].to_list(), g["observed"].to_numpy(), g["expected"].to_numpy())
        for sid, g in df.group_by("series_id", maintain_order=True)
    }

    if "poisson_exact_fdr" in methods:
        windows = []
        for sid, (months, x, mu) in series.items():
            # trailing sums from prefix sums: month t uses months max(0, t-w+1)..t only
            cx, cmu = np.concatenate([[0.0], np.cumsum(x)]), np.concatenate([[0.0], np.cumsum(mu)])
            lo = np.maximum(np.arange(1, x.size + 1) - window_months, 0)
            wx, wmu = cx[1:] - cx[lo], cmu[1:] - cmu[lo]
            windows.append(
                pl.DataFrame(
                    {
                        "series_id": [sid] * x.size,
                        "idx": np.arange(x.size),
                        "month": months,
                        "p": exact_poisson_upper_p(wx, wmu),
                    },
                    schema_overrides={"month": pl.Date},
                )
            )
        if windows:
            per_month = pl.concat(windows)
            first: dict[str, tuple[int, float]] = {}
            for _, g in per_month.group_by("month"):
                q, reject = fdr_adjust(g["p"].to_numpy(), fdr_alpha)
                for sid, idx, qi, rej in zip(g["series_id"], g["idx"], q, reject, strict=True):
                    if (
                        rej
                        and falls_below(qi, fdr_alpha)
                        and (sid not in first or idx < first[sid][0])
                    ):
                        first[sid] = (idx, float(qi))
            for sid, (idx, qi) in first.items():
                months, x, mu = series[sid]
                start = max(0, idx - window_months + 1)
                rows.append(
                    _alarm_row(sid, "poisson_exact_fdr", months, x, mu, start, idx, qi, fdr_alpha)
                )

    for sid, (months, x, mu) in series.items():
        if "cusum" in methods:
            r = poisson_cusum(x, mu, cusum_rate_ratio, cusum_h)
            if r.alarm_index is not None:
                t = r.alarm_index
                rows.append(
                    _alarm_row(sid, "cusum", months, x, mu, r.run_start[t], t, r.path[t], r.h)
                )
        if "ewma" in methods:
            r = ewma_poisson(x, mu, ewma_lam, ewma_L)
            if r.alarm_index is not None:
                t = r.alarm_index
                rows.append(_alarm_row(sid, "ewma", months, x, mu, 0, t, r.z[t], r.ucl[t]))
        if "maxsprt" in methods:
            T = (
                maxsprt_max_expected.get(sid)
                if isinstance(maxsprt_max_expected, Mapping)
                else maxsprt_max_expected
            )
            r = maxsprt_poisson(x, mu, maxsprt_alpha, T, maxsprt_min_events)
            if r.alarm_index is not None:
                t = r.alarm_index
                rows.append(
                    _alarm_row(sid, "maxsprt", months, x, mu, 0, t, r.llr[t], r.critical_value)
                )
        if "changepoint" in methods:
            t, res = first_alarm_scanning(
                x,
                mu,
                changepoint_alpha,
                changepoint_min_before,
                changepoint_max_after,
                changepoint_min_rate_ratio,
            )
            if t is not None and res is not None:
                rows.append(
                    _alarm_row(
                        sid,
                        "changepoint",
                        months,
                        x,
                        mu,
                        res.index,
                        t,
                        res.p_adjusted,
                        changepoint_alpha,
                    )
                )

    order = {m: i for i, m in enumerate(METHODS)}
    rows.sort(key=lambda r: (r["series_id"], order[r["method"]]))
    return pl.DataFrame(rows, schema=ALARM_SCHEMA)
