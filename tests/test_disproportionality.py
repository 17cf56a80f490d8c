"""Tests for models.disproportionality against hand-worked and published values."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from scipy import integrate, optimize, stats

from models.disproportionality import (
    DisproportionalityThresholds,
    GammaMixturePrior,
    contingency_counts,
    disproportionality,
    ebgm,
    fit_gamma_mixture_prior,
    information_component,
    posterior_mixture_fraction,
    prr_chi2,
    ror_interval,
)

# One 2x2 table used by the hand calculations: a = 20, b = 80, c = 100, d = 9800, N = 10000.
A, B, C, D = 20, 80, 100, 9800


def test_prr_and_yates_chi2_by_hand() -> None:
    # PRR = (20/100) / (100/9900) = 0.2 / 0.01010101 = 19.8
    # Yates: N (|ad - bc| - N/2)^2 / ((a+b)(c+d)(a+c)(b+d))
    #   ad - bc = 196000 - 8000 = 188000; 188000 - 5000 = 183000; 183000^2 = 3.3489e10
    #   numerator 1e4 * 3.3489e10 = 3.3489e14; denominator 100 * 9900 * 120 * 9880 = 1.173744e12
    #   chi2 = 3.3489e14 / 1.173744e12 = 285.3178
    prr, chi2 = prr_chi2(A, B, C, D)
    assert prr == pytest.approx(19.8, rel=1e-12)
    assert chi2 == pytest.approx(285.3178, abs=1e-3)
    # same as scipy's Yates-corrected Pearson chi-squared
    assert chi2 == pytest.approx(stats.chi2_contingency([[A, B], [C, D]], correction=True)[0])
    # |ad - bc| < N/2: the correction floors at 0, as scipy does
    small = [[5, 95], [50, 950]]
    assert prr_chi2(5, 95, 50, 950)[1] == pytest.approx(stats.chi2_contingency(small)[0])


def test_ror_woolf_interval_by_hand() -> None:
    # ROR = ad/bc = 196000 / 8000 = 24.5
    # SE = sqrt(1/20 + 1/80 + 1/100 + 1/9800) = sqrt(0.05 + 0.0125 + 0.01 + 0.00010204)
    #    = sqrt(0.07260204) = 0.269448; z = 1.959964; z*SE = 0.528108
    # lower = 24.5 * exp(-0.528108) = 24.5 * 0.589720 = 14.448
    # upper = 24.5 * exp(+0.528108) = 24.5 * 1.695720 = 41.545
    ror, lower, upper = ror_interval(A, B, C, D)
    assert ror == pytest.approx(24.5)
    assert lower == pytest.approx(14.448, abs=2e-3)
    assert upper == pytest.approx(41.545, abs=2e-3)
    # Haldane only with a zero cell: a=0 -> (0.5 * 9800.5) / (80.5 * 100.5)
    ror0, lo0, hi0 = ror_interval(0, B, C, D)
    assert ror0 == pytest.approx(0.5 * 9800.5 / (80.5 * 100.5))
    assert 0 < lo0 < ror0 < hi0 < math.inf


def test_information_component_by_hand() -> None:
    # E = n1_ n_1 / N = 100 * 120 / 10000 = 1.2
    # IC = log2((20 + 0.5) / (1.2 + 0.5)) = log2(12.0588) = 3.5920
    # IC025 = log2(q / 1.7), q the 2.5% quantile of Gamma(shape 20.5, rate 1) = chi2(0.025; 41)/2.
    # Wilson-Hilferty: chi2(0.025; 41) ~ 41 (1 - 2/369 - 1.959964 sqrt(2/369))^3
    #   = 41 (1 - 0.005420 - 0.144296)^3 = 41 * 0.850284^3 = 41 * 0.614737 = 25.204
    # q = 12.602 (rate 1) -> 12.602 / 1.7 = 7.413 -> IC025 = log2(7.413) = 2.890
    ic, ic025, ic975 = information_component(20, 1.2)
    assert ic == pytest.approx(3.5920, abs=1e-4)
    assert ic025 == pytest.approx(2.890, abs=5e-3)
    assert ic025 < ic < ic975
    # the margins give the same E
    ic_m, ic025_m, _ = information_component(20, None, 100, 120, 10000)
    assert (ic_m, ic025_m) == pytest.approx((ic, ic025))


# openEBGM vignette "Empirical Bayes Metrics with openEBGM" (vignette04-posteriorCalculation,
# CRAN openEBGM, 2023-09-14), CAERS data: theta_hat and the head() rows of N, E, ebgm,
# QUANT_05 and QUANT_95 (rounded to 2 decimals there); first Qn = 0.2819737.
OPENEBGM_PRIOR = GammaMixturePrior(3.25379356, 0.39988854, 2.02612692, 1.90807970, 0.06534557)
OPENEBGM_ROWS = [
    # N, E, EBGM, QUANT_05, QUANT_95
    (1, 0.0360548272, 2.23, 0.49, 13.85),
    (1, 0.0038736591, 2.58, 0.52, 15.78),
    (1, 0.0002979738, 2.63, 0.52, 16.02),
    (1, 0.0765792610, 1.92, 0.47, 11.77),
    (1, 0.0527413588, 2.09, 0.48, 12.95),
    (16, 0.40643623, 23.26, 15.68, 33.48),
    (19, 0.89690107, 16.78, 11.65, 23.55),
    (6, 0.07866508, 18.28, 10.16, 30.83),
    (8, 0.30482718, 15.25, 9.00, 24.52),
    (11, 0.56317044, 14.28, 8.98, 21.78),
]


def test_ebgm_matches_openebgm_vignette() -> None:
    n = np.array([r[0] for r in OPENEBGM_ROWS], dtype=float)
    e = np.array([r[1] for r in OPENEBGM_ROWS])
    eb, eb05, eb95 = ebgm(n, e, OPENEBGM_PRIOR)
    assert posterior_mixture_fraction(1, 0.0360548272, OPENEBGM_PRIOR) == pytest.approx(
        0.2819737, abs=1e-6
    )
    np.testing.assert_allclose(eb, [r[2] for r in OPENEBGM_ROWS], atol=0.0051)
    # quantiles: the printed QUANT_05 values differ from ours by up to 0.007 (15.6857 vs 15.68,
    # 8.9933 vs 9.00), more than 2-decimal rounding, consistent with openEBGM's quantBisect
    # stopping its bisection at about 2-decimal precision; the exact check against quadrature
    # and brentq is the next test.
    np.testing.assert_allclose(eb05, [r[3] for r in OPENEBGM_ROWS], atol=0.01)
    np.testing.assert_allclose(eb95, [r[4] for r in OPENEBGM_ROWS], atol=0.01)


def test_ebgm_against_numerical_integration_and_brentq() -> None:
    prior = GammaMixturePrior(0.2, 0.1, 2.0, 4.0, 1 / 3)  # DuMouchel's (1999) starting values
    n, e = 7.0, 1.3
    q = float(posterior_mixture_fraction(n, e, prior))
    comps = [(q, prior.alpha1 + n, prior.beta1 + e), (1 - q, prior.alpha2 + n, prior.beta2 + e)]

    def density(x: float) -> float:
        return sum(w * stats.gamma.pdf(x, a, scale=1 / r) for w, a, r in comps)

    # posterior weights from Bayes' rule by quadrature of prior x Poisson likelihood
    def unnorm(x: float, a: float, b: float, w: float) -> float:
        return w * stats.gamma.pdf(x, a, scale=1 / b) * stats.poisson.pmf(n, x * e)

    m1 = integrate.quad(unnorm, 0, np.inf, args=(prior.alpha1, prior.beta1, prior.p))[0]
    m2 = integrate.quad(unnorm, 0, np.inf, args=(prior.alpha2, prior.beta2, 1 - prior.p))[0]
    assert q == pytest.approx(m1 / (m1 + m2), rel=1e-6)

    e_log2 = integrate.quad(lambda x: np.log2(x) * density(x), 0, np.inf, limit=200)[0]
    cdf = lambda x: integrate.quad(density, 0, x)[0] - 0.05  # noqa: E731
    eb, eb05, eb95 = ebgm(n, e, prior)
    assert eb == pytest.approx(2.0**e_log2, rel=1e-6)
    assert eb05 == pytest.approx(optimize.brentq(cdf, 1e-6, 50), rel=1e-6)
    cdf95 = lambda x: cdf(x) - 0.90  # noqa: E731
    assert eb95 == pytest.approx(optimize.brentq(cdf95, 1e-6, 50), rel=1e-6)


def _simulate(seed: int, m: int = 20_000) -> tuple[GammaMixturePrior, np.ndarray, np.ndarray]:
    true = GammaMixturePrior(2.0, 0.5, 5.0, 5.0, 0.1)  # signal mean 4, background mean 1
    rng = np.random.default_rng(seed)
    first = rng.random(m) < true.p
    lam = np.where(
        first,
        rng.gamma(true.alpha1, 1 / true.beta1, m),
        rng.gamma(true.alpha2, 1 / true.beta2, m),
    )
    e = np.exp(rng.normal(0.5, 1.0, m))
    return true, rng.poisson(lam * e).astype(float), e


def test_prior_fit_recovers_simulated_mixture() -> None:
    true, n, e = _simulate(seed=0)
    # all cells, zeros included (n_star = 0): the parameters themselves come back
    full = fit_gamma_mixture_prior(n, e, n_star=0)
    assert full.alpha1 == pytest.approx(true.alpha1, rel=0.25)
    assert full.beta1 == pytest.approx(true.beta1, rel=0.25)
    assert full.alpha2 == pytest.approx(true.alpha2, rel=0.25)
    assert full.beta2 == pytest.approx(true.beta2, rel=0.25)
    assert full.p == pytest.approx(true.p, abs=0.03)
    # only observed pairs (n >= 1, the pipeline's case): the component means and weight
    seen = fit_gamma_mixture_prior(n[n > 0], e[n > 0])
    assert seen.alpha1 / seen.beta1 == pytest.approx(4.0, rel=0.3)
    assert seen.alpha2 / seen.beta2 == pytest.approx(1.0, rel=0.05)
    assert seen.p == pytest.approx(true.p, abs=0.06)
    # deterministic
    assert fit_gamma_mixture_prior(n[n > 0], e[n > 0]) == seen


def _designed_pairs() -> pl.DataFrame:
    # background: 10 products x 10 problems, 10 reports each (no disproportionality), plus
    #   SIG-RARE 12 reports of a problem seen once elsewhere   -> all four methods
    #   SIG-E0   8 reports (E ~ 2.0)                           -> PRR, ROR, IC; EB05 ~ 1.54 < 2
    #   TWO-E1   40 reports (E ~ 5.5)                          -> all four
    #   TWO-RARE 2 reports (PRR 3.7 but n < 3, chi2 1.5)       -> none
    rows = [(f"P{i}", f"E{j}", 10) for i in range(10) for j in range(10)]
    rows += [("SIG", "RARE", 12), ("SIG", "E0", 8), ("TWO", "RARE", 2), ("TWO", "E1", 40)]
    rows += [("P0", "RARE", 1)]
    return pl.DataFrame(rows, schema=["product_code", "problem_code", "n11"], orient="row")


def _flagged(out: pl.DataFrame, column: str) -> set[tuple[str, str]]:
    hits = out.filter(pl.col(column)).select("product_code", "problem_code")
    return set(hits.iter_rows())


def test_contingency_counts_margins() -> None:
    t = contingency_counts(_designed_pairs())
    row = t.filter((pl.col("product_code") == "SIG") & (pl.col("problem_code") == "RARE"))
    # n1_ = 12 + 8 = 20; n_1 = 12 + 2 + 1 = 15; N = 1000 + 12 + 8 + 2 + 40 + 1 = 1063
    assert row.select("n11", "n1_", "n_1", "N", "n12", "n21", "n22").row(0) == (
        12,
        20,
        15,
        1063,
        8,
        3,
        1063 - 20 - 15 + 12,
    )
    assert row["expected"][0] == pytest.approx(20 * 15 / 1063)


def test_thresholds_flag_exactly_the_designed_pairs() -> None:
    prior = GammaMixturePrior(0.2, 0.1, 2.0, 4.0, 1 / 3)
    out = disproportionality(_designed_pairs(), prior=prior)
    assert out.columns == [
        "product_code",
        "problem_code",
        "n11",
        "expected",
        "prr",
        "prr_chi2",
        "ror",
        "ror_lower",
        "ror_upper",
        "ic",
        "ic025",
        "ebgm",
        "eb05",
        "eb95",
        "signal_prr",
        "signal_ror",
        "signal_ic",
        "signal_mgps",
    ]
    assert out.select("product_code", "problem_code").rows() == sorted(
        out.select("product_code", "problem_code").rows()
    )
    three = {("SIG", "RARE"), ("SIG", "E0"), ("TWO", "E1")}
    assert _flagged(out, "signal_prr") == three
    assert _flagged(out, "signal_ror") == three
    assert _flagged(out, "signal_ic") == three
    assert _flagged(out, "signal_mgps") == {("SIG", "RARE"), ("TWO", "E1")}

    # thresholds are arguments: looser ones pick up the borderline pairs
    loose = DisproportionalityThresholds(prr_chi2=1.0, min_count=2, eb05=1.5)
    out2 = disproportionality(_designed_pairs(), thresholds=loose, prior=prior)
    assert _flagged(out2, "signal_prr") == three | {("TWO", "RARE")}
    assert _flagged(out2, "signal_mgps") == three


def test_zero_cells_do_not_crash() -> None:
    # one product with one problem only and nothing else: b = c = d = 0 for its pair;
    # n11 = 0 rows too.
    pairs = pl.DataFrame(
        {
            "product_code": ["A", "B", "B", "C"],
            "problem_code": ["x", "y", "z", "z"],
            "n11": [5, 3, 0, 4],
        }
    )
    prior = GammaMixturePrior(0.2, 0.1, 2.0, 4.0, 1 / 3)
    out = disproportionality(pairs, prior=prior)
    assert out.height == 4
    for col in ("signal_prr", "signal_ror", "signal_ic", "signal_mgps"):
        assert out[col].null_count() == 0
    assert np.all(np.isfinite(out["ror_lower"].to_numpy()))
    assert np.all(np.isfinite(out["eb05"].to_numpy()))
    # single-table edge cases of the pure functions
    prr, chi2 = prr_chi2(np.array([3, 0, 3]), np.array([0, 5, 2]), np.array([0, 4, 0]), [0, 9, 7])
    assert np.isinf(prr[2]) and np.isfinite(chi2[1])
    ic, ic025, _ = information_component(0, 0.0)
    assert ic == 0.0 and ic025 < 0
    eb, eb05, eb95 = ebgm(np.array([0.0]), np.array([1e-9]), prior)
    assert np.all(np.isfinite([eb, eb05, eb95]))


def test_disproportionality_fits_prior_when_none() -> None:
    rng = np.random.default_rng(3)
    rows = [
        (f"P{i}", f"E{j}", int(rng.poisson(3)) + 1)
        for i in range(40)
        for j in range(30)
        if rng.random() < 0.6
    ]
    rows.append(("P0", "HOT", 30))
    pairs = pl.DataFrame(rows, schema=["product_code", "problem_code", "n11"], orient="row")
    out = disproportionality(pairs)
    hot = out.filter(pl.col("problem_code") == "HOT")
    assert hot["signal_mgps"][0] and hot["signal_prr"][0] and hot["signal_ic"][0]
    assert out["eb05"].is_finite().all()
