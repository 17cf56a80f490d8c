"""What each signal method's `statistic` is, and which way it crosses its `threshold`.

marts.signals keeps one number per alarm in `statistic` and `threshold`, but the numbers mean
different things with opposite directions: a q-value alarms below its level, a CUSUM above its
decision interval. A report must name them (issue 17); the rules are those the methods apply
(models/trends.py, models/lot_signals.py, models/disproportionality.py,
models/service_anomalies.py, models/narrative_topics.py).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MethodStatistic:
    name: str  # what the number is
    symbol: str  # its short name in a table cell
    alarm: str  # the comparison with the threshold that raised the alarm: "<", ">", ">="


METHOD_STATISTICS: dict[str, MethodStatistic] = {
    "poisson_exact_fdr": MethodStatistic(
        "Benjamini-Hochberg q-value of the exact Poisson test of the trailing 12 months", "q", "<"
    ),
    "cusum": MethodStatistic("Poisson CUSUM (tuned to a doubling), decision interval h", "S", ">"),
    "ewma": MethodStatistic(
        "EWMA of the standardised monthly counts, upper control limit", "z", ">"
    ),
    "maxsprt": MethodStatistic("MaxSPRT log-likelihood ratio, critical value", "LLR", ">"),
    "changepoint": MethodStatistic(
        "Bonferroni p of a rise of more than the configured ratio since a changepoint", "p", "<"
    ),
    "lot_poisson": MethodStatistic(
        "Benjamini-Hochberg q-value of the lot's exact Poisson test against the other lots",
        "q",
        "<",
    ),
    "supplier_lot_poisson": MethodStatistic(
        "Benjamini-Hochberg q-value of the component lot's exact Poisson test", "q", "<"
    ),
    "prr": MethodStatistic("proportional reporting ratio (Evans 2001)", "PRR", ">="),
    "ror": MethodStatistic("lower 95% bound of the reporting odds ratio", "ROR025", ">"),
    "bcpnn_ic": MethodStatistic(
        "lower 2.5% bound of the information component (BCPNN)", "IC025", ">"
    ),
    "mgps": MethodStatistic("empirical-Bayes geometric mean lower 5% bound (MGPS)", "EB05", ">="),
    "service_isolation_forest": MethodStatistic(
        "Benjamini-Hochberg q-value of the Fisher test of anomalous serial numbers in the lot",
        "q",
        "<=",
    ),
    "narrative_topic": MethodStatistic(
        "Benjamini-Hochberg q-value of the topic's monthly share of narratives", "q", "<="
    ),
    "narrative_novelty": MethodStatistic(
        "Benjamini-Hochberg q-value of the monthly share of narratives no topic explains",
        "q",
        "<=",
    ),
}

_WORDS = {"<": "below", "<=": "at or below", ">": "above", ">=": "at or above"}


def _number(value: float) -> str:
    if value != 0 and abs(value) < 0.001:
        return f"{value:.2e}"
    return f"{value:.3f}"


def statistic_reading(method: str, statistic: float | None, threshold: float | None) -> str:
    """The alarm's statistic against its threshold, named, as a table cell: "q 0.012 < 0.05"."""
    if statistic is None or threshold is None:
        return ""
    known = METHOD_STATISTICS.get(method)
    if known is None:
        return f"{_number(statistic)} (threshold {_number(threshold)})"
    return f"{known.symbol} {_number(statistic)} {known.alarm} {_number(threshold)}"


def statistic_legend(methods: list[str]) -> list[str]:
    """One sentence per method present: what its statistic is and when it alarms."""
    out = []
    for method in sorted(set(methods)):
        known = METHOD_STATISTICS.get(method)
        if known is not None:
            out.append(
                f"{method}: {known.symbol} is the {known.name}; an alarm when it is "
                f"{_WORDS[known.alarm]} the threshold."
            )
    return out
