"""How the simulated firm decides reportability (its practice, not the ground truth).

The firm's decision drives what the landing folder holds: the `reportability_decision` column,
the legacy `reported_date` and the submissions. It follows the law roughly (a malfunction of a type
that hurt someone before is serious from the next complaint on, exact codes only; a deterioration
is unanticipated when its health effect is not in the family's risk register; doubt is never
reported), so that the truth (`synthetic/vigilance_truth.py`, computed from the landing files
alone) finds the places where practice and law part.
"""

from __future__ import annotations

import numpy as np

SERIOUS_SEVERITY = 4  # risk-register severity from which a malfunction could cause serious harm

# outcome indices (catalog.OUTCOMES order)
NONE, INJURY, SERIOUS, DEATH, UNKNOWN = range(5)


def harmed(outcome: np.ndarray) -> np.ndarray:
    return (outcome == INJURY) | (outcome == SERIOUS) | (outcome == DEATH)


def serious_malfunction(
    malfunction: np.ndarray,
    severity: np.ndarray,
    implant: np.ndarray,
    life_supporting: np.ndarray,
    type_hurt: np.ndarray,
) -> np.ndarray:
    """A malfunction of a severity >= 4 hazard, of an implant or of a life-supporting device, or
    of a type that already caused a death or serious injury."""
    return malfunction & ((severity >= SERIOUS_SEVERITY) | implant | life_supporting | type_hurt)


def firm_reportable(
    outcome: np.ndarray,
    malfunction: np.ndarray,
    severity: np.ndarray,
    implant: np.ndarray,
    life_supporting: np.ndarray,
    type_hurt: np.ndarray,
    hospitalised: np.ndarray,
    unlisted_effect: np.ndarray,
    unrelated: np.ndarray,
    regimes: dict[str, np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """(reportable anywhere, shortest due period in days; -1 when not reportable).

    regimes: bool arrays `fda`, `eu`, `hc`, `local` (a local authority that the firm treats as
    the EU does)."""
    death = (outcome == DEATH) & ~unrelated
    serious = (outcome == SERIOUS) & ~unrelated
    deterioration = serious | (hospitalised & harmed(outcome) & ~unrelated)
    sm = serious_malfunction(malfunction, severity, implant, life_supporting, type_hurt)
    big = 10_000
    fda = regimes["fda"] & (death | serious | sm)
    eu_like = regimes["eu"] | regimes["local"]
    eu10 = eu_like & (death | (deterioration & unlisted_effect))
    eu15 = eu_like & (deterioration | sm)
    hc10 = regimes["hc"] & (death | serious)
    hc30 = regimes["hc"] & sm
    due = np.full(outcome.shape, big)
    for hit, days in ((fda, 30), (eu15, 15), (eu10, 10), (hc30, 30), (hc10, 10)):
        due = np.where(hit, np.minimum(due, days), due)
    rep = due < big
    return rep, np.where(rep, due, -1)
