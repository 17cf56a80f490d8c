"""Disproportionality analysis of product-code x problem-code report counts.

Four published screening statistics on the 2x2 table of each (product_code, problem_code) pair:

- PRR with a Yates-corrected chi-squared (Evans, Waller & Davis 2001, Pharmacoepidemiol Drug Saf
  10:483-486); signal when PRR >= 2, chi2 >= 4 and n >= 3.
- ROR with a Woolf (log-normal) confidence interval (van Puijenbroek et al. 2002); signal when the
  lower 95% bound > 1 and n >= 3.
- BCPNN information component (Bate et al. 1998, Eur J Clin Pharmacol 54:315-321) in the shrunk
  observed-to-expected form of Norén et al. 2006 (Stat Med 25:3740-3757), IC = log2((n + 0.5) /
  (E + 0.5)), with the credibility interval from gamma quantiles (Norén, Hopstadius & Bate 2013,
  Stat Methods Med Res 22:57-69); signal when IC025 > 0.
- MGPS / empirical Bayes geometric mean (DuMouchel 1999, Am Stat 53:177-190; as implemented in
  FDA's openEBGM, Canida & Ihrie 2017, R Journal 9(2):499-519); signal when EB05 >= 2.

The 2x2 table of a pair (a = n11, b = n12, c = n21, d = n22):

                      problem      other problems
    product code      n11          n12 = n1_ - n11
    other products    n21          n22 = N - n1_ - n_1 + n11
    = n21 = n_1 - n11

Pure functions: NumPy/Polars in, NumPy/Polars out. Thresholds are arguments (defaults from the
regulatory rules spec, "Signal thresholds in common use").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from numpy.typing import ArrayLike
from scipy import optimize, special, stats

__all__ = [
    "DisproportionalityThresholds",
    "GammaMixturePrior",
    "contingency_counts",
    "disproportionality",
    "ebgm",
    "fit_gamma_mixture_prior",
    "information_component",
    "posterior_mixture_fraction",
    "prr_chi2",
    "ror_interval",
]


@dataclass(frozen=True)
class DisproportionalityThresholds:
    """Signal thresholds (regulatory-rules spec).

    prr, prr_chi2, min_count: PRR >= prr and chi2 >= prr_chi2 and n11 >= min_count (Evans 2001).
    ror_lower: lower confidence bound of the ROR > ror_lower, with n11 >= min_count.
    ic025: BCPNN IC025 > ic025.  eb05: MGPS EB05 >= eb05 (DuMouchel 1999; openEBGM).
    """

    prr: float = 2.0
    prr_chi2: float = 4.0
    min_count: int = 3
    ror_lower: float = 1.0
    ic025: float = 0.0
    eb05: float = 2.0


@dataclass(frozen=True)
class GammaMixturePrior:
    """DuMouchel's (1999) prior for the relative reporting ratio lambda.

    lambda ~ p * Gamma(alpha1, rate=beta1) + (1 - p) * Gamma(alpha2, rate=beta2). Same order as
    openEBGM's theta_hat (alpha1, beta1, alpha2, beta2, P).
    """

    alpha1: float
    beta1: float
    alpha2: float
    beta2: float
    p: float


# ---------------------------------------------------------------------------------------------
# Counts


def contingency_counts(pairs: pl.DataFrame) -> pl.DataFrame:
    """Add the margins and cells of each pair's 2x2 table.

    `pairs` has one row per (product_code, problem_code) with n11 = number of reports that name
    both (a report is counted once per pair). Adds n1_ (sum of n11 over the product code's
    problems), n_1 (sum of n11 over the problem's product codes), N (sum of all n11),
    n12 = n1_ - n11, n21 = n_1 - n11, n22 = N - n1_ - n_1 + n11 and expected = n1_ * n_1 / N.

    The margins are therefore over report-problem pairs, not over distinct reports: a report
    with two problem codes counts twice in its product code's margin and once in each problem's
    margin, as in openEBGM's processRaw() (and DuMouchel 1999). Rows with the same key are summed.
    """
    keys = ["product_code", "problem_code"]
    counted = pairs.group_by(keys).agg(pl.col("n11").sum().cast(pl.Int64))
    return (
        counted.with_columns(
            n1_=pl.col("n11").sum().over("product_code"),
            n_1=pl.col("n11").sum().over("problem_code"),
            N=pl.col("n11").sum(),
        )
        .with_columns(
            n12=pl.col("n1_") - pl.col("n11"),
            n21=pl.col("n_1") - pl.col("n11"),
            n22=pl.col("N") - pl.col("n1_") - pl.col("n_1") + pl.col("n11"),
            expected=pl.col("n1_").cast(pl.Float64)
            * pl.col("n_1").cast(pl.Float64)
            / pl.col("N").cast(pl.Float64),
        )
        .sort(keys)
    )


# ---------------------------------------------------------------------------------------------
# Frequentist statistics


def prr_chi2(
    n11: ArrayLike, n12: ArrayLike, n21: ArrayLike, n22: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    """Proportional reporting ratio and its Yates-corrected chi-squared (Evans et al. 2001).

    PRR = [a / (a + b)] / [c / (c + d)].
    chi2 = N * max(|ad - bc| - N / 2, 0)^2 / ((a + b)(c + d)(a + c)(b + d)), the 1-df Pearson
    statistic with Yates' continuity correction that Evans 2001 used (equal to
    scipy.stats.chi2_contingency(correction=True)). PRR is inf when c = 0 and NaN when a row or
    column of the table is empty; chi2 is NaN when a margin is 0.
    """
    a, b, c, d = (np.asarray(x, dtype=float) for x in (n11, n12, n21, n22))
    n = a + b + c + d
    with np.errstate(divide="ignore", invalid="ignore"):
        prr = (a / (a + b)) / (c / (c + d))
        diff = np.maximum(np.abs(a * d - b * c) - n / 2.0, 0.0)
        chi2 = n * diff**2 / ((a + b) * (c + d) * (a + c) * (b + d))
    return prr, chi2


def ror_interval(
    n11: ArrayLike, n12: ArrayLike, n21: ArrayLike, n22: ArrayLike, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reporting odds ratio ad / bc with Woolf's log-normal interval.

    SE(log ROR) = sqrt(1/a + 1/b + 1/c + 1/d); bounds ROR * exp(-/+ z * SE), z the normal
    quantile for `confidence`. Haldane's correction (0.5 added to all four cells) is applied only
    to tables with a zero cell, so tables without zeros give the plain estimate.
    """
    a, b, c, d = (np.asarray(x, dtype=float) for x in (n11, n12, n21, n22))
    zero = (a == 0) | (b == 0) | (c == 0) | (d == 0)
    add = np.where(zero, 0.5, 0.0)
    a, b, c, d = a + add, b + add, c + add, d + add
    z = stats.norm.ppf(0.5 + confidence / 2.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ror = np.log(a) + np.log(d) - np.log(b) - np.log(c)
        se = np.sqrt(1.0 / a + 1.0 / b + 1.0 / c + 1.0 / d)
    return np.exp(log_ror), np.exp(log_ror - z * se), np.exp(log_ror + z * se)


def information_component(
    n11: ArrayLike,
    expected: ArrayLike | None,
    n1_: ArrayLike | None = None,
    n_1: ArrayLike | None = None,
    N: ArrayLike | None = None,
    confidence: float = 0.95,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BCPNN information component with its credibility interval (Bate 1998; Norén 2006/2013).

    IC = log2((n11 + 0.5) / (E + 0.5)), the shrunk observed-to-expected ratio of Norén et al.
    2006. The interval is NOT the normal approximation: its bounds are log2 of the quantiles of
    Gamma(shape = n11 + 0.5, rate = E + 0.5) (Norén, Hopstadius & Bate 2013), so IC025 is the
    2.5% quantile for the default 95% `confidence`. E = n1_ * n_1 / N; pass `expected=None` to
    have it computed from the margins (which are otherwise unused).
    """
    n = np.asarray(n11, dtype=float)
    if expected is None:
        if n1_ is None or n_1 is None or N is None:
            raise ValueError("give `expected` or all of n1_, n_1 and N")
        e = np.asarray(n1_, dtype=float) * np.asarray(n_1, dtype=float) / np.asarray(N, float)
    else:
        e = np.asarray(expected, dtype=float)
    alpha = 1.0 - confidence
    shape, rate = n + 0.5, e + 0.5
    ic = np.log2(shape / rate)
    lower = np.log2(stats.gamma.ppf(alpha / 2.0, shape) / rate)
    upper = np.log2(stats.gamma.ppf(1.0 - alpha / 2.0, shape) / rate)
    return ic, lower, upper


# ---------------------------------------------------------------------------------------------
# MGPS (DuMouchel 1999)


def _nb_logpmf(n: np.ndarray, e: np.ndarray, a: float, b: float) -> np.ndarray:
    """log P(N = n) for N | lambda ~ Poisson(lambda E), lambda ~ Gamma(a, rate b).

    The marginal is negative binomial with size a and success probability b / (b + E)
    (DuMouchel 1999, eq. 4). Computed from scipy.special primitives so it vectorises over n, E.
    """
    return (
        special.gammaln(a + n)
        - special.gammaln(a)
        - special.gammaln(n + 1.0)
        + a * (np.log(b) - np.log(b + e))
        + n * (np.log(e) - np.log(b + e))
    )


def posterior_mixture_fraction(n: ArrayLike, e: ArrayLike, prior: GammaMixturePrior) -> np.ndarray:
    """Q_n, the posterior probability that lambda comes from the first component (DuMouchel eq. 6).

    Same quantity as openEBGM's Qn(); computed in log space.
    """
    n_ = np.asarray(n, dtype=float)
    e_ = np.asarray(e, dtype=float)
    l1 = np.log(prior.p) + _nb_logpmf(n_, e_, prior.alpha1, prior.beta1)
    l2 = np.log1p(-prior.p) + _nb_logpmf(n_, e_, prior.alpha2, prior.beta2)
    return np.exp(l1 - np.logaddexp(l1, l2))


def _mixture_quantile(
    prob: float,
    q: np.ndarray,
    a1: np.ndarray,
    r1: np.ndarray,
    a2: np.ndarray,
    r2: np.ndarray,
    iterations: int = 45,
) -> np.ndarray:
    """Quantile of q * Gamma(a1, rate r1) + (1 - q) * Gamma(a2, rate r2), element-wise.

    The mixture quantile lies between the two component quantiles (from scipy's gammaincinv), so
    that bracket is bisected on the mixture CDF (scipy.special.gammainc) for all elements at once;
    45 halvings leave a bracket of ~3e-14 of its initial width. Equivalent to brentq on the CDF
    per element (openEBGM's quantBisect does the same bisection per element).
    """
    x1 = special.gammaincinv(a1, prob) / r1
    x2 = special.gammaincinv(a2, prob) / r2
    lo, hi = np.minimum(x1, x2), np.maximum(x1, x2)
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        cdf = q * special.gammainc(a1, mid * r1) + (1.0 - q) * special.gammainc(a2, mid * r2)
        below = cdf < prob
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    return 0.5 * (lo + hi)


def ebgm(
    n: ArrayLike, e: ArrayLike, prior: GammaMixturePrior
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Empirical Bayes geometric mean with its 5% and 95% posterior quantiles (DuMouchel 1999).

    Given N = n the posterior of lambda is Q_n * Gamma(alpha1 + n, rate beta1 + E) +
    (1 - Q_n) * Gamma(alpha2 + n, rate beta2 + E). EBGM = 2^E[log2 lambda] = exp(E[ln lambda])
    with E[ln lambda] = Q_n (psi(alpha1 + n) - ln(beta1 + E)) + (1 - Q_n) (psi(alpha2 + n) -
    ln(beta2 + E)) (DuMouchel eq. 11). EB05 and EB95 are the 5% and 95% quantiles of the
    posterior mixture, found by vectorised bisection on its CDF (as openEBGM's quantBisect).
    """
    n_ = np.asarray(n, dtype=float)
    e_ = np.asarray(e, dtype=float)
    q = posterior_mixture_fraction(n_, e_, prior)
    a1, r1 = prior.alpha1 + n_, prior.beta1 + e_
    a2, r2 = prior.alpha2 + n_, prior.beta2 + e_
    e_log = q * (special.digamma(a1) - np.log(r1)) + (1.0 - q) * (special.digamma(a2) - np.log(r2))
    eb05 = _mixture_quantile(0.05, q, a1, r1, a2, r2)
    eb95 = _mixture_quantile(0.95, q, a1, r1, a2, r2)
    return np.exp(e_log), eb05, eb95


# Starting points: DuMouchel's (1999) first, then the set from openEBGM's vignettes.
_STARTS: tuple[tuple[float, float, float, float, float], ...] = (
    (0.2, 0.1, 2.0, 4.0, 1 / 3),
    (0.1, 0.1, 10.0, 10.0, 0.2),
    (0.5, 0.3, 12.0, 12.0, 0.8),
    (0.2, 0.2, 5.0, 5.0, 0.4),
)
_BOUND = 12.0  # bound on log(alpha), log(beta) and logit(p) during the search


def _squash(
    n: np.ndarray, e: np.ndarray, log_width: float = 0.01
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Deterministic data squashing (the idea of DuMouchel et al. 2001 / openEBGM's squashData).

    Points with the same count n whose E fall in the same bin of width `log_width` on the
    natural-log scale (about 1% relative) are merged into one point at their mean E with a weight
    equal to their number. Unlike openEBGM's fixed-size bins of sorted E, the bins never span
    the wide gaps of the tail of E, so the likelihood is barely changed. Returns (n, E, weight).
    """
    key = np.column_stack([n, np.floor(np.log(e) / log_width)])
    _, inverse, weight = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.ravel()
    n_sq = np.bincount(inverse, weights=n) / weight
    e_sq = np.bincount(inverse, weights=e) / weight
    return n_sq, e_sq, weight.astype(float)


def _neg_loglik_and_grad(
    theta: np.ndarray, n: np.ndarray, e: np.ndarray, w: np.ndarray, n_star: int
) -> tuple[float, np.ndarray]:
    """Negative log-likelihood of the two-component negative-binomial mixture and its gradient.

    theta = (log a1, log b1, log a2, log b2, logit p). With n_star >= 1 the likelihood is the one
    conditional on N >= n_star (DuMouchel 1999 section 3; openEBGM's negLLsquash with N_star),
    which is the right one when only pairs with at least n_star reports are in the data.
    """
    a1, b1, a2, b2 = np.exp(theta[:4])
    p = special.expit(theta[4])

    def comp(k: np.ndarray, a: float, b: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        logf = _nb_logpmf(k, e, a, b)
        d_loga = a * (special.digamma(a + k) - special.digamma(a) + np.log(b) - np.log(b + e))
        d_logb = a - b * (a + k) / (b + e)
        return logf, d_loga, d_logb

    l1, da1, db1 = comp(n, a1, b1)
    l2, da2, db2 = comp(n, a2, b2)
    lp1, lp2 = np.log(p) + l1, np.log1p(-p) + l2
    logm = np.logaddexp(lp1, lp2)
    r1 = np.exp(lp1 - logm)
    r2 = 1.0 - r1
    loglik = logm
    grads = [r1 * da1, r1 * db1, r2 * da2, r2 * db2, r1 - p]

    if n_star > 0:
        p0 = np.zeros_like(e)
        g0 = [np.zeros_like(e) for _ in range(5)]
        for k in range(n_star):
            kk = np.full_like(e, float(k))
            k1, ka1, kb1 = comp(kk, a1, b1)
            k2, ka2, kb2 = comp(kk, a2, b2)
            f1, f2 = np.exp(k1), np.exp(k2)
            p0 += p * f1 + (1 - p) * f2
            g0[0] += p * f1 * ka1
            g0[1] += p * f1 * kb1
            g0[2] += (1 - p) * f2 * ka2
            g0[3] += (1 - p) * f2 * kb2
            g0[4] += (f1 - f2) * p * (1 - p)
        tail = np.maximum(1.0 - p0, 1e-300)
        loglik = loglik - np.log(tail)
        grads = [g + g0i / tail for g, g0i in zip(grads, g0, strict=True)]

    value = -float(np.sum(w * loglik))
    grad = -np.array([np.sum(w * g) for g in grads])
    if not np.isfinite(value):
        return 1e300, np.zeros(5)
    return value, grad


def fit_gamma_mixture_prior(
    n: np.ndarray,
    e: np.ndarray,
    seed: int = 0,
    n_star: int = 1,
    squash: bool = True,
) -> GammaMixturePrior:
    """Maximum-likelihood fit of DuMouchel's (1999) gamma-mixture prior.

    Maximises the marginal likelihood, a mixture of two negative binomials (DuMouchel eq. 4-5),
    over the pairs with n >= n_star (conditional on N >= n_star, as openEBGM's N_star; the
    default 1 suits tables that only list observed pairs; use 0 when zero cells are included).
    L-BFGS-B with the analytic gradient on (log alpha, log beta, logit p) from DuMouchel's
    starting point, three of openEBGM's, and two drawn with numpy's default_rng(seed): the
    result is deterministic for a given seed. With `squash`, pairs with equal n and E within
    ~1% are merged (see _squash), which makes the fit on ~1e5 pairs take about a second.
    The components are labelled so that component 1 has the larger prior mean alpha/beta
    (the "signal" component, as in DuMouchel's starting point and openEBGM's estimates).
    """
    n_ = np.asarray(n, dtype=float).ravel()
    e_ = np.asarray(e, dtype=float).ravel()
    keep = (n_ >= n_star) & np.isfinite(e_) & (e_ > 0)
    n_, e_ = n_[keep], e_[keep]
    if n_.size == 0:
        raise ValueError("no pairs with n >= n_star and E > 0 to fit the prior on")
    if squash:
        n_, e_, w_ = _squash(n_, e_)
    else:
        w_ = np.ones_like(n_)

    rng = np.random.default_rng(seed)
    starts = [np.asarray(s) for s in _STARTS]
    for _ in range(2):
        starts.append(
            np.array(
                [
                    rng.uniform(0.05, 1.0),
                    rng.uniform(0.05, 1.0),
                    rng.uniform(1.0, 10.0),
                    rng.uniform(1.0, 10.0),
                    rng.uniform(0.05, 0.5),
                ]
            )
        )
    best: optimize.OptimizeResult | None = None
    bounds = [(-_BOUND, _BOUND)] * 5
    for s in starts:
        x0 = np.concatenate([np.log(s[:4]), [special.logit(s[4])]])
        res = optimize.minimize(
            _neg_loglik_and_grad,
            x0,
            args=(n_, e_, w_, n_star),
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": 500},
        )
        if np.isfinite(res.fun) and (best is None or res.fun < best.fun):
            best = res
    assert best is not None
    a1, b1, a2, b2 = (float(v) for v in np.exp(best.x[:4]))
    p = float(special.expit(best.x[4]))
    if a1 / b1 < a2 / b2:
        a1, b1, a2, b2, p = a2, b2, a1, b1, 1.0 - p
    return GammaMixturePrior(alpha1=a1, beta1=b1, alpha2=a2, beta2=b2, p=p)


# ---------------------------------------------------------------------------------------------
# All together


def disproportionality(
    pairs: pl.DataFrame,
    thresholds: DisproportionalityThresholds = DisproportionalityThresholds(),
    prior: GammaMixturePrior | None = None,
) -> pl.DataFrame:
    """PRR, ROR, BCPNN IC and MGPS EBGM for every (product_code, problem_code) pair, with flags.

    `pairs`: product_code, problem_code, n11 (see contingency_counts). When `prior` is None it
    is fitted on the pairs' (n11, expected) with fit_gamma_mixture_prior (n_star = 1).
    Flags: signal_prr = PRR >= prr and chi2 >= prr_chi2 and n11 >= min_count (Evans 2001);
    signal_ror = ror_lower > ror_lower threshold and n11 >= min_count; signal_ic = IC025 > ic025;
    signal_mgps = EB05 >= eb05. A NaN statistic never flags. Sorted by product_code, problem_code.
    """
    t = contingency_counts(pairs)
    n11 = t["n11"].to_numpy().astype(float)
    n12 = t["n12"].to_numpy().astype(float)
    n21 = t["n21"].to_numpy().astype(float)
    n22 = t["n22"].to_numpy().astype(float)
    expected = t["expected"].to_numpy()

    prr, chi2 = prr_chi2(n11, n12, n21, n22)
    ror, ror_lo, ror_hi = ror_interval(n11, n12, n21, n22)
    ic, ic025, _ = information_component(n11, expected)
    if prior is None:
        prior = fit_gamma_mixture_prior(n11, expected)
    eb, eb05, eb95 = ebgm(n11, expected, prior)

    enough = n11 >= thresholds.min_count
    with np.errstate(invalid="ignore"):
        signal_prr = (prr >= thresholds.prr) & (chi2 >= thresholds.prr_chi2) & enough
        signal_ror = (ror_lo > thresholds.ror_lower) & enough
        signal_ic = ic025 > thresholds.ic025
        signal_mgps = eb05 >= thresholds.eb05

    return t.select("product_code", "problem_code", "n11", "expected").with_columns(
        pl.Series("prr", prr),
        pl.Series("prr_chi2", chi2),
        pl.Series("ror", ror),
        pl.Series("ror_lower", ror_lo),
        pl.Series("ror_upper", ror_hi),
        pl.Series("ic", ic),
        pl.Series("ic025", ic025),
        pl.Series("ebgm", eb),
        pl.Series("eb05", eb05),
        pl.Series("eb95", eb95),
        pl.Series("signal_prr", signal_prr),
        pl.Series("signal_ror", signal_ror),
        pl.Series("signal_ic", signal_ic),
        pl.Series("signal_mgps", signal_mgps),
    )
