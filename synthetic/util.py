"""Small deterministic helpers: named random streams, day arithmetic, byte-stable CSV writing."""

from __future__ import annotations

import datetime as dt
import zlib
from pathlib import Path

import numpy as np
import polars as pl

EPOCH = dt.date(1970, 1, 1)


def stream(seed: int, name: str) -> np.random.Generator:
    """An independent PCG64 generator for one named part of the generator.

    Streams are keyed by the seed and a CRC of the name, so adding a stream or drawing more from
    one never shifts another.
    """
    seed = int(seed) & ((1 << 64) - 1)
    key = [seed & 0xFFFFFFFF, seed >> 32, zlib.crc32(name.encode("utf-8"))]
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(key)))


def day(d: dt.date | str) -> int:
    """Days since 1970-01-01."""
    if isinstance(d, str):
        d = dt.date.fromisoformat(d)
    return (d - EPOCH).days


def date_of(n: int) -> dt.date:
    return EPOCH + dt.timedelta(days=int(n))


def month_index(d: dt.date, start: dt.date) -> int:
    return (d.year - start.year) * 12 + d.month - start.month


def month_start_days(start: dt.date, n_months: int) -> np.ndarray:
    """Day number of the first day of each month from `start` (n_months + 1 entries)."""
    out = np.empty(n_months + 1, dtype=np.int64)
    y, m = start.year, start.month
    for i in range(n_months + 1):
        out[i] = day(dt.date(y, m, 1))
        m += 1
        if m == 13:
            y, m = y + 1, 1
    return out


def pick(rng: np.random.Generator, n: int, weights: np.ndarray | list[float]) -> np.ndarray:
    """n categorical draws with the given (unnormalised) weights."""
    w = np.asarray(weights, dtype=np.float64)
    cdf = np.cumsum(w / w.sum())
    cdf[-1] = 1.0
    return np.searchsorted(cdf, rng.random(n), side="right").astype(np.int64)


def pick_rows(rng: np.random.Generator, cdf_rows: np.ndarray, row: np.ndarray) -> np.ndarray:
    """One categorical draw per item from the row `row[i]` of a matrix of row-wise CDFs."""
    n_rows, width = cdf_rows.shape
    flat = (cdf_rows + np.arange(n_rows)[:, None]).ravel()
    u = rng.random(row.shape[0]) * 0.999999 + row
    idx = np.searchsorted(flat, u, side="right")
    return np.minimum(idx - row * width, width - 1).astype(np.int64)


def row_cdf(weights: np.ndarray) -> np.ndarray:
    w = np.asarray(weights, dtype=np.float64)
    s = w.sum(axis=1, keepdims=True)
    s[s == 0] = 1.0
    cdf = np.cumsum(w / s, axis=1)
    cdf[:, -1] = 1.0
    return cdf


def days_to_iso(expr: pl.Expr) -> pl.Expr:
    """An Int day-number expression as ISO text; negative or null days become null."""
    return (
        pl.when(expr >= 0)
        .then(expr.cast(pl.Int32).cast(pl.Date).dt.strftime("%Y-%m-%d"))
        .otherwise(None)
    )


def days_to_fmt(expr: pl.Expr, fmt: str) -> pl.Expr:
    return (
        pl.when(expr >= 0).then(expr.cast(pl.Int32).cast(pl.Date).dt.strftime(fmt)).otherwise(None)
    )


def fixed(values: np.ndarray, decimals: int) -> pl.Series:
    """Fixed-point text of floats (rounded half away from zero), e.g. 12.30 for 2 decimals."""
    scale = 10**decimals
    v = np.asarray(values, dtype=np.float64)
    scaled = np.floor(np.abs(v) * scale + 0.5).astype(np.int64)
    sign = np.where(v < 0, "-", "")
    whole = scaled // scale
    s = pl.DataFrame(
        {"s": sign, "w": whole, "f": scaled % scale},
        schema={"s": pl.String, "w": pl.Int64, "f": pl.Int64},
    ).select(
        pl.concat_str(
            [
                pl.col("s"),
                pl.col("w").cast(pl.String),
                pl.lit("."),
                pl.col("f").cast(pl.String).str.zfill(decimals),
            ]
        )
        if decimals
        else pl.concat_str([pl.col("s"), pl.col("w").cast(pl.String)])
    )
    return s.to_series()


def write_csv(frame: pl.DataFrame, path: Path, *, append: bool = False) -> None:
    """UTF-8, '\\n' line ends, header row, empty cells for nulls and empty strings."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = frame.with_columns(
        pl.when(pl.col(c).cast(pl.String) == "")
        .then(None)
        .otherwise(pl.col(c).cast(pl.String))
        .alias(c)
        for c in frame.columns
    )
    mode = "ab" if append else "wb"
    with path.open(mode) as fh:
        frame.write_csv(
            fh, include_header=not append, line_terminator="\n", quote_style="necessary"
        )


def lines_bytes(lines: pl.Series, encoding: str = "utf-8") -> bytes:
    """Join text lines with '\\n' (a trailing newline after the last) and encode them."""
    if lines.len() == 0:
        return b""
    text = "\n".join(lines.to_list()) + "\n"
    return text.encode(encoding, errors="replace")


def flat(groups: list[tuple]) -> list:
    return [t for g in groups for t in g]


def choose_index(rng: np.random.Generator, group: np.ndarray, groups: list[tuple]) -> np.ndarray:
    """Per item, the flat index (into `flat(groups)`) of a uniform pick in `groups[group[i]]`."""
    lens = np.array([len(g) for g in groups], dtype=np.int64)
    offs = np.r_[0, np.cumsum(lens)[:-1]].astype(np.int64)
    k = np.floor(rng.random(group.size) * lens[group]).astype(np.int64)
    return offs[group] + k


def choose_from_groups(
    rng: np.random.Generator, group: np.ndarray, groups: list[tuple]
) -> np.ndarray:
    """Per item, a uniformly chosen entry of `groups[group[i]]` (numpy array of the values)."""
    values = flat(groups)
    arr = np.array(
        values, dtype=np.int64 if values and isinstance(values[0], int | np.integer) else object
    )
    return arr[choose_index(rng, group, groups)]


def weighted_from_groups(
    rng: np.random.Generator, group: np.ndarray, groups: list[tuple[tuple[object, float], ...]]
) -> np.ndarray:
    """Per item, an entry of `groups[group[i]]` drawn with the entries' weights."""
    width = max(len(g) for g in groups)
    w = np.zeros((len(groups), width))
    ints = isinstance(groups[0][0][0], int | np.integer)
    vals = (
        np.zeros((len(groups), width), dtype=np.int64)
        if ints
        else np.full((len(groups), width), "", dtype=object)
    )
    for i, g in enumerate(groups):
        for j, (v, p) in enumerate(g):
            w[i, j] = p
            vals[i, j] = v
    k = pick_rows(rng, row_cdf(w), group)
    return vals[group, k]


def take(values: list[str] | tuple[str, ...], idx: np.ndarray) -> pl.Series:
    """Strings by index (no per-item Python objects): values[idx[i]]."""
    return pl.Series(list(values), dtype=pl.String).gather(np.asarray(idx, dtype=np.int64))


def choose_text(
    rng: np.random.Generator, group: np.ndarray, groups: list[tuple[str, ...]]
) -> pl.Series:
    """`choose_from_groups` for text, as a Polars series."""
    return take(flat(groups), choose_index(rng, group, groups))
