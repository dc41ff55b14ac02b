"""Paired comparisons (e.g. accurate vs expressive) and per-group summaries with confidence intervals.

Example:
    >>> import pandas as pd
    >>> df = pd.DataFrame({"text": ["a"] * 6, "reference": ["r"] * 6, "language": ["en_us"] * 6,
    ...                    "audio_path": [None] * 6, "seed": [1, 2, 3] * 2,
    ...                    "mode": ["accurate"] * 3 + ["expressive"] * 3, "x": [1.0, 2, 3, 2, 3, 4]})
    >>> row = compare(df, by="mode", metric="x", n_boot=200).iloc[0]
    >>> row["level_a"], row["level_b"], int(row["n_pairs"]), float(row["mean_diff"])
    ('accurate', 'expressive', 3, 1.0)
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from zonos_lab.analysis.frame import EQUIVALENT_COLUMNS, REQUEST_COLUMNS
from zonos_lab.errors import InvalidParameter

__all__ = ["COMPARE_COLUMNS", "bootstrap_ci", "compare", "pair_table", "summarize"]

#: Columns of `compare`'s result, in order.
COMPARE_COLUMNS: tuple[str, ...] = (
    "metric", "by", "level_a", "level_b", "n_pairs", "mean_a", "mean_b", "mean_diff", "ci_low", "ci_high",
    "ci_method", "p_wilcoxon", "cohens_dz", "rank_biserial",
)


def _as_list(x: str | Iterable[str] | None) -> list[str]:
    if x is None:
        return []
    return [x] if isinstance(x, str) else list(x)


def default_pair_on(results: pd.DataFrame, by: str) -> list[str]:
    """Request columns present in `results`, minus `by` and columns equivalent to it.

    Example:
        >>> default_pair_on(pd.DataFrame(columns=["text", "seed", "mode", "accurate_mode"]), "mode")
        ['text', 'seed']
    """
    drop = {by}
    for group in EQUIVALENT_COLUMNS:
        if by in group:
            drop |= group
    return [c for c in REQUEST_COLUMNS if c in results.columns and c not in drop]


def _key_frame(results: pd.DataFrame, cols: Sequence[str]) -> pd.Series:
    """One hashable key per row from `cols` (NA-safe: NA equals NA)."""
    if not cols:
        return pd.Series(["all"] * len(results), index=results.index)
    parts = results[list(cols)].astype(object).where(results[list(cols)].notna(), "<NA>").astype(str)
    return parts.agg("\x1f".join, axis=1)


def pair_table(results: pd.DataFrame, by: str, metric: str, pair_on: Sequence[str] | None = None) -> pd.DataFrame:
    """Wide table: one row per pairing key, one column per level of `by` (mean of repeats).

    Example:
        >>> df = pd.DataFrame({"seed": [1, 1], "mode": ["a", "b"], "x": [1.0, 3.0]})
        >>> pair_table(df, "mode", "x", pair_on=["seed"]).to_dict("records")
        [{'a': 1.0, 'b': 3.0}]
    """
    for col in (by, metric, *(pair_on or [])):
        if col not in results.columns:
            raise InvalidParameter("column", col, f"one of the table's columns: {', '.join(map(str, results.columns))}")
    cols = list(pair_on) if pair_on is not None else default_pair_on(results, by)
    frame = pd.DataFrame({
        "_key": _key_frame(results, cols),
        "_level": results[by].astype(object),
        "_value": pd.to_numeric(results[metric], errors="coerce").astype(float),
    })
    frame = frame.dropna(subset=["_level", "_value"])
    wide = frame.pivot_table(index="_key", columns="_level", values="_value", aggfunc="mean")
    wide.columns.name = None
    return wide.reset_index(drop=True)


def bootstrap_ci(values: np.ndarray, n_boot: int = 2000, seed: int = 0, level: float = 0.95
                 ) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean.

    Example:
        >>> lo, hi = bootstrap_ci(np.array([1.0, 1.1, 0.9, 1.05]), n_boot=500)
        >>> bool(lo < 1.0125 < hi)
        True
    """
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return float("nan"), float("nan")
    if values.size == 1:
        return float(values[0]), float(values[0])
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, values.size, size=(n_boot, values.size))
    means = values[idx].mean(axis=1)
    alpha = (1.0 - level) / 2
    lo, hi = np.quantile(means, [alpha, 1 - alpha])
    return float(lo), float(hi)


def _paired_stats(a: np.ndarray, b: np.ndarray, n_boot: int, seed: int) -> dict[str, Any]:
    from scipy import stats

    d = b - a
    n = d.size
    out: dict[str, Any] = {"n_pairs": n, "mean_a": np.nan, "mean_b": np.nan, "mean_diff": np.nan,
                           "ci_low": np.nan, "ci_high": np.nan, "p_wilcoxon": np.nan,
                           "cohens_dz": np.nan, "rank_biserial": np.nan}
    if n == 0:
        return out
    out.update(mean_a=float(a.mean()), mean_b=float(b.mean()), mean_diff=float(d.mean()))
    out["ci_low"], out["ci_high"] = bootstrap_ci(d, n_boot=n_boot, seed=seed)
    nz = d[d != 0]
    if nz.size == 0:
        out.update(p_wilcoxon=1.0, rank_biserial=0.0, cohens_dz=0.0)
        return out
    if n >= 2:
        sd = d.std(ddof=1)
        out["cohens_dz"] = float(d.mean() / sd) if sd > 0 else float(np.sign(d.mean()) * np.inf)
    ranks = stats.rankdata(np.abs(nz))
    r_plus, r_minus = ranks[nz > 0].sum(), ranks[nz < 0].sum()
    out["rank_biserial"] = float((r_plus - r_minus) / ranks.sum())
    out["p_wilcoxon"] = float(stats.wilcoxon(nz).pvalue)
    return out


def compare(results: pd.DataFrame, by: str = "mode", metric: str | Iterable[str] = "loudness_lufs",
            pair_on: Sequence[str] | None = None, n_boot: int = 2000, seed: int = 0,
            pairs: Literal["first", "all"] = "first") -> pd.DataFrame:
    """Paired comparison of `metric` between the levels of `by`.

    Takes are paired when they agree on every column of `pair_on` (default: every request column
    present — text, reference, language, seed, sampling fields, … — except `by` and its equivalents,
    e.g. ``mode`` ↔ ``accurate_mode``). Repeats of the same key and level are averaged first.

    Args:
        results: the analysed takes table.
        by: a binary or categorical column (``"mode"``, ``"temperature"``, …).
        metric: a metric column or a list of them.
        pair_on: the columns that must match for two takes to pair (None = default above).
        n_boot: bootstrap resamples for the CI of the mean difference.
        seed: bootstrap seed (results are reproducible).
        pairs: with more than two levels, ``"first"`` compares every level with the first (sorted)
            level; ``"all"`` compares every pair of levels.

    Returns:
        One row per (metric, level pair) with `COMPARE_COLUMNS`: ``mean_diff`` is mean(B − A) over
        pairs, ``ci_low``/``ci_high`` its 95 % percentile-bootstrap CI, ``p_wilcoxon`` the two-sided
        Wilcoxon signed-rank p-value (zero differences dropped), ``cohens_dz`` the paired Cohen's d
        (mean difference / SD of differences) and ``rank_biserial`` the matched-pairs rank-biserial
        correlation (−1…1).

    Example:
        >>> compare(scored, by="mode", metric=["speaker_similarity", "wer"])  # doctest: +SKIP
    """
    if by not in results.columns and by == "mode" and "accurate_mode" in results.columns:
        results = results.assign(mode=results["accurate_mode"].map(
            lambda v: pd.NA if pd.isna(v) else ("accurate" if v else "expressive")))
    if by not in results.columns:
        raise InvalidParameter("by", by, f"one of the table's columns: {', '.join(map(str, results.columns))}")
    levels = sorted(results[by].dropna().unique().tolist(), key=lambda v: (str(type(v)), v))
    if len(levels) < 2:
        raise InvalidParameter("by", by, f"a column with at least two levels (found {levels})")
    if pairs not in ("first", "all"):
        raise InvalidParameter("pairs", pairs, "'first', 'all'")
    level_pairs = ([(levels[0], lv) for lv in levels[1:]] if pairs == "first"
                   else list(itertools.combinations(levels, 2)))
    rows = []
    for m in _as_list(metric):
        wide = pair_table(results, by, m, pair_on)
        for la, lb in level_pairs:
            if la in wide.columns and lb in wide.columns:
                col_a, col_b = wide[la], wide[lb]  # one by one: boolean labels must not act as a mask
                keep = (col_a.notna() & col_b.notna()).to_numpy()
                a, b = col_a.to_numpy(float)[keep], col_b.to_numpy(float)[keep]
            else:
                a = b = np.array([], dtype=float)
            stats_ = _paired_stats(a, b, n_boot, seed)
            rows.append({"metric": m, "by": by, "level_a": la, "level_b": lb, **stats_,
                         "ci_method": "percentile bootstrap 95%"})
    return pd.DataFrame(rows, columns=list(COMPARE_COLUMNS))


def summarize(results: pd.DataFrame, by: str | Sequence[str] = "mode", metrics: str | Iterable[str] = "loudness_lufs",
              ci: Literal["t", "bootstrap"] = "t", n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Mean ± 95 % CI of each metric per group (the takes in a group — typically seeds — are the sample).

    Returns:
        Tidy rows: the `by` columns, ``metric``, ``n``, ``mean``, ``std``, ``ci_low``, ``ci_high``,
        ``ci_method`` (Student t or percentile bootstrap). NA values are left out of ``n``.

    Example:
        >>> df = pd.DataFrame({"mode": ["a", "a", "b"], "x": [1.0, 3.0, 5.0]})
        >>> summarize(df, by="mode", metrics="x")[["mode", "n", "mean"]].to_dict("records")
        [{'mode': 'a', 'n': 2, 'mean': 2.0}, {'mode': 'b', 'n': 1, 'mean': 5.0}]
    """
    from scipy import stats

    by_cols = _as_list(by)
    for col in [*by_cols, *_as_list(metrics)]:
        if col not in results.columns:
            raise InvalidParameter("column", col, f"one of the table's columns: {', '.join(map(str, results.columns))}")
    if ci not in ("t", "bootstrap"):
        raise InvalidParameter("ci", ci, "'t', 'bootstrap'")
    rows = []
    grouped = results.groupby(by_cols, dropna=False, sort=True) if by_cols else [((), results)]
    for key, group in grouped:
        key = key if isinstance(key, tuple) else (key,)
        for m in _as_list(metrics):
            x = pd.to_numeric(group[m], errors="coerce").dropna().to_numpy(float)
            n = int(x.size)
            mean = float(x.mean()) if n else np.nan
            std = float(x.std(ddof=1)) if n > 1 else np.nan
            if n > 1 and ci == "t":
                half = float(stats.t.ppf(0.975, n - 1) * std / np.sqrt(n))
                lo, hi = mean - half, mean + half
            elif n > 1:
                lo, hi = bootstrap_ci(x, n_boot=n_boot, seed=seed)
            else:
                lo = hi = np.nan
            rows.append({**dict(zip(by_cols, key, strict=True)), "metric": m, "n": n, "mean": mean, "std": std,
                         "ci_low": lo, "ci_high": hi,
                         "ci_method": "t 95%" if ci == "t" else "percentile bootstrap 95%"})
    return pd.DataFrame(rows)
