"""A small generated landing folder for end-to-end tests that need a whole night but not the
demo's volume: the demo calendar, a fraction of its rows."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from synthetic.generate import generate_landing
from synthetic.scales import SCALES, Scale

SMALL = Scale("small", dt.date(2023, 1, 1), 1_500, 3_000, 50, 400, 0.5, 400_000, 100_000)


def generate_small_landing(landing: Path, seed: int) -> None:
    """`pms generate` at the SMALL scale into `landing` (the scale is registered only meanwhile)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(SCALES, SMALL.name, SMALL)
        generate_landing(landing, seed, SMALL.name)
