"""Each method's statistic named with its direction (issue 17), checked against the rule each
method applies in its own module."""

from __future__ import annotations

import numpy as np

from models.disproportionality import DisproportionalityThresholds
from models.signal_statistics import METHOD_STATISTICS, statistic_legend, statistic_reading
from models.trends import METHODS, exceeds, falls_below


def test_every_method_that_writes_a_signal_is_named():
    from models.signal_replay import DISPROPORTIONALITY_METHODS, NARRATIVE_METHODS

    methods = set(METHODS) | {m for m, _, _ in DISPROPORTIONALITY_METHODS.values()}
    methods |= set(NARRATIVE_METHODS) | {
        "lot_poisson",
        "supplier_lot_poisson",
        "service_isolation_forest",
    }
    assert methods <= set(METHOD_STATISTICS)


def test_directions_match_the_methods_rules():
    # models/trends.py: p- and q-values alarm when they fall below their level, charts when
    # their statistic exceeds its limit
    assert bool(falls_below(0.01, 0.05)) and not bool(falls_below(0.06, 0.05))
    assert bool(exceeds(np.array(5.0), np.array(4.0)))
    for method in ("poisson_exact_fdr", "changepoint"):
        assert METHOD_STATISTICS[method].alarm == "<"
    for method in ("cusum", "ewma", "maxsprt"):
        assert METHOD_STATISTICS[method].alarm == ">"
    # models/disproportionality.py (Evans 2001: PRR >= 2; EB05 >= 2; ROR025 > 1; IC025 > 0)
    defaults = DisproportionalityThresholds()
    assert (defaults.prr, defaults.eb05) == (2.0, 2.0)
    assert METHOD_STATISTICS["prr"].alarm == METHOD_STATISTICS["mgps"].alarm == ">="
    assert METHOD_STATISTICS["ror"].alarm == METHOD_STATISTICS["bcpnn_ic"].alarm == ">"


def test_readings_name_the_statistic():
    assert statistic_reading("cusum", 5.2125, 4.0) == "S 5.213 > 4.000"
    assert statistic_reading("poisson_exact_fdr", 0.00012, 0.05) == "q 1.20e-04 < 0.050"
    assert statistic_reading("mgps", 2.5, 2.0) == "EB05 2.500 >= 2.000"
    assert statistic_reading("unknown", 1.0, 2.0) == "1.000 (threshold 2.000)"
    assert statistic_reading("cusum", None, 4.0) == ""
    legend = statistic_legend(["ewma", "cusum", "cusum"])
    assert len(legend) == 2 and legend[0].startswith("cusum: S is the Poisson CUSUM")
    assert "above the threshold" in legend[0]


def test_distinctive_terms_by_hand():
    from models.narrative_topics import distinctive_terms

    evidence = [
        "Battery swelling noticed, casing cracked",
        "The battery was swelling after charging",
        "Swelling battery; pump alarm",
    ]
    background = ["Pump alarm during infusion", "Occlusion alarm", "Pump alarm, no harm"] * 5
    # battery and swelling: 3 of 3 evidence narratives, none of the 15 others:
    # log(((3 + 1) / 1) / (1 / 16)) = log 64; 'alarm' and 'pump' (1 of 3) need 2 narratives;
    # 'casing', 'charging' ... appear once only
    assert distinctive_terms(evidence, background) == ["battery", "swelling"]
    assert distinctive_terms([], background) == []
