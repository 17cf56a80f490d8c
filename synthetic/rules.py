"""The generator's own, independent encoding of the reportability rules (the truth oracle).

FDA_MDR (21 CFR 803.50) applies to every complaint about a model shipped to the US, wherever the
event happened; EU_MDR (Art. 87 of Regulation (EU) 2017/745) to events in the EEA. Day 0 of every
clock is the complaint's received_date; due dates are calendar days.
"""

from __future__ import annotations

import numpy as np

FDA = "FDA_MDR"
EU = "EU_MDR"
FDA_30D = "FDA_803_50_30D"
EU_10D = "EU_87_5_10D"
EU_15D = "EU_87_3_15D"
NOT_REPORTABLE = "NOT_REPORTABLE"
SERIOUS_SEVERITY = 4  # risk-register severity from which a malfunction could cause serious harm

# outcome indices (catalog.OUTCOMES order)
NONE, INJURY, SERIOUS, DEATH, UNKNOWN = range(5)


def fda_rule(
    outcome: np.ndarray, malfunction: np.ndarray, severity: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(reportable, due days) under 21 CFR 803.50: death/serious injury, or a malfunction whose
    problem code the risk register maps to a hazard of severity >= 4."""
    rep = (outcome == DEATH) | (outcome == SERIOUS) | (malfunction & (severity >= SERIOUS_SEVERITY))
    return rep, np.where(rep, 30, -1)


def eu_rule(
    outcome: np.ndarray, malfunction: np.ndarray, severity: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(reportable, due days) under MDR Art. 87: death 10 days (87(5)); serious injury or a
    malfunction mapped to a severity >= 4 hazard 15 days (87(3))."""
    death = outcome == DEATH
    other = (outcome == SERIOUS) | (malfunction & (severity >= SERIOUS_SEVERITY))
    rep = death | other
    return rep, np.where(death, 10, np.where(other, 15, -1))


def eu_rule_name(outcome: np.ndarray, reportable: np.ndarray) -> np.ndarray:
    return np.where(~reportable, NOT_REPORTABLE, np.where(outcome == DEATH, EU_10D, EU_15D))


def fda_rule_name(reportable: np.ndarray) -> np.ndarray:
    return np.where(reportable, FDA_30D, NOT_REPORTABLE)


def status(
    reportable: np.ndarray, due_day: np.ndarray, reported_day: np.ndarray, extract_day: int
) -> np.ndarray:
    """not_reportable | submitted_on_time | submitted_late | overdue | open."""
    reported = reported_day >= 0
    return np.select(
        [~reportable, reported & (reported_day <= due_day), reported, extract_day > due_day],
        ["not_reportable", "submitted_on_time", "submitted_late", "overdue"],
        default="open",
    )
