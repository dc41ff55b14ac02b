"""Figures: spectrograms (single and grid with one colour scale), metric curves with CI bands, paired plots.

Every function builds a `matplotlib.figure.Figure` directly (Agg canvas, no pyplot state, no
``plt.show()``) and returns it; pass ``ax=`` to draw into your own axes instead.

Example:
    >>> fig = spectrogram("data/reference/en_us_jfk.flac", max_tokens=600)    # doctest: +SKIP
    >>> fig.savefig("jfk.png")                                                # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from zonos_lab.analysis.frame import audio_ok, is_na
from zonos_lab.errors import InvalidParameter
from zonos_lab.params import FRAME_RATE

__all__ = ["mel_db", "metric_plot", "paired_plot", "spectrogram", "spectrogram_grid"]

HOP = 512
N_FFT = 2048
#: Floor of the dB scale (re full scale) used by every spectrogram.
DB_FLOOR = -100.0


def _new_figure(figsize: tuple[float, float]) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _resolve(take_or_path: Any, max_tokens: int | None) -> tuple[str, int | None, str]:
    """(audio path, max_tokens, label) from a path, a Take-like object or a table row."""
    if isinstance(take_or_path, str | os.PathLike):
        return str(take_or_path), max_tokens, os.path.basename(str(take_or_path))
    if isinstance(take_or_path, pd.Series | dict):
        row = dict(take_or_path)
        path, label = row.get("audio_path"), str(row.get("take_id", ""))
        mt = row.get("max_tokens")
    else:
        path, label = getattr(take_or_path, "audio_path", None), str(getattr(take_or_path, "take_id", "") or "")
        params = getattr(take_or_path, "params", None)
        mt = getattr(params, "max_tokens", None) if params is not None else getattr(take_or_path, "max_tokens", None)
    if is_na(path) or not path:
        raise InvalidParameter("take_or_path", take_or_path, "a file path or a take with audio (audio_path set)")
    if max_tokens is None and not is_na(mt):
        max_tokens = int(mt)
    return str(path), max_tokens, label or os.path.basename(str(path))


def mel_db(path: str, n_mels: int = 128) -> tuple[np.ndarray, int]:
    """Mel power spectrogram in dB re full scale (floored at −100 dB), 512-sample hop: ``(S_db, sr)``.

    At 44.1 kHz one column is one Zonos audio frame.
    """
    import librosa

    from zonos_lab.audio import decode_audio

    y, sr = decode_audio(path)
    mel = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=N_FFT, hop_length=HOP, n_mels=n_mels)
    return np.maximum(librosa.power_to_db(mel, ref=1.0, amin=1e-10), DB_FLOOR), sr


def _draw(ax: Any, s_db: np.ndarray, sr: int, vmin: float | None, vmax: float | None,
          max_tokens: int | None, ylabel: bool = True, xlabel: bool = True) -> Any:
    import librosa.display

    img = librosa.display.specshow(s_db, sr=sr, hop_length=HOP, x_axis="time", y_axis="mel", ax=ax,
                                   vmin=vmin, vmax=vmax, cmap="magma")
    duration = s_db.shape[1] * HOP / sr
    if max_tokens is not None:
        limit = max_tokens / FRAME_RATE
        ax.axvline(limit, color="cyan", linestyle="--", linewidth=1.2,
                   label=f"max_tokens = {max_tokens} frames ({limit:.2f} s)")
        ax.set_xlim(0, max(duration, limit) * 1.02)
        ax.legend(loc="upper right", fontsize="x-small", framealpha=0.6)
    ax.set_xlabel("Time (s)" if xlabel else "")
    ax.set_ylabel("Frequency (Hz, mel scale)" if ylabel else "")
    return img


def spectrogram(take_or_path: Any, ax: Any = None, max_tokens: int | None = None, vmin: float | None = None,
                vmax: float | None = None, n_mels: int = 128, title: str | None = None) -> Any:
    """Mel spectrogram (dB re full scale, time in seconds) with the `max_tokens` limit as a dashed line.

    Args:
        take_or_path: a file path, a `Take` (``.audio_path``, ``.params.max_tokens``) or a results row.
        ax: draw into these axes (None: a new figure with a colour bar).
        max_tokens: frame limit to mark (default: the take's own ``max_tokens``).
        vmin, vmax: colour scale in dB (default: the clip's range).

    Returns:
        The Figure.

    Example:
        >>> fig = spectrogram("data/reference/en_us_ljspeech_LJ001-0001.wav", max_tokens=832)  # doctest: +SKIP
    """
    path, max_tokens, label = _resolve(take_or_path, max_tokens)
    s_db, sr = mel_db(path, n_mels)
    own = ax is None
    if own:
        fig = _new_figure((8, 3))
        ax = fig.add_subplot()
    img = _draw(ax, s_db, sr, vmin, vmax, max_tokens)
    ax.set_title(title if title is not None else label, fontsize="medium")
    if own:
        ax.figure.colorbar(img, ax=ax, format="%+.0f dB", label="dB re full scale")
    return ax.figure


def _levels(df: pd.DataFrame, col: str | None) -> list[Any]:
    if col is None:
        return [None]
    if col not in df.columns:
        raise InvalidParameter("column", col, f"one of the table's columns: {', '.join(map(str, df.columns))}")
    return sorted(df[col].dropna().unique().tolist(), key=lambda v: (str(type(v)), v))


def _short(value: Any, width: int = 28) -> str:
    """A level as a compact label (long texts and paths are cut so that titles do not collide)."""
    text = str(value)
    if "/" in text and len(text) > width:
        text = text.rsplit("/", 1)[-1]
    return text if len(text) <= width else text[: width - 1] + "…"


def spectrogram_grid(results: pd.DataFrame, rows: str | None = "mode", cols: str | None = "temperature",
                     max_tokens: int | None = None, vmin: float | None = None, vmax: float | None = None,
                     n_mels: int = 96, cell_size: tuple[float, float] = (3.6, 2.2), title: str | None = None) -> Any:
    """A grid of spectrograms, one per (row level, column level), on one shared colour scale.

    Each cell shows the first take (by ``take_id``) with audio in that cell; its label gives the
    cell's values and how many takes it holds. The colour scale spans the loudest bin of the grid
    down 80 dB unless `vmin` / `vmax` are given.

    Example:
        >>> fig = spectrogram_grid(results[results.seed == 1], rows="mode", cols="temperature")  # doctest: +SKIP
    """
    df = results[[audio_ok(r) for r in results.to_dict("records")]]
    if df.empty:
        raise InvalidParameter("results", "no takes with audio", "a table with at least one take with audio")
    if "take_id" in df.columns:
        df = df.sort_values("take_id")
    row_levels, col_levels = _levels(df, rows), _levels(df, cols)
    cells: dict[tuple[int, int], tuple[np.ndarray, int, int | None, str, int]] = {}
    for i, rv in enumerate(row_levels):
        for j, cv in enumerate(col_levels):
            sel = df
            if rows is not None:
                sel = sel[sel[rows] == rv]
            if cols is not None:
                sel = sel[sel[cols] == cv]
            if sel.empty:
                continue
            path, mt, _ = _resolve(sel.iloc[0], max_tokens)
            s_db, sr = mel_db(path, n_mels)
            cells[(i, j)] = (s_db, sr, mt, str(sel.iloc[0].get("take_id", "")), len(sel))
    top = max(float(c[0].max()) for c in cells.values())
    vmax = top if vmax is None else vmax
    vmin = vmax - 80.0 if vmin is None else vmin
    nr, nc = len(row_levels), len(col_levels)
    fig = _new_figure((cell_size[0] * nc + 1.2, cell_size[1] * nr + 0.6))
    axes = np.atleast_2d(fig.subplots(nr, nc, sharex=True, sharey=True, squeeze=False))
    img = None
    for i, rv in enumerate(row_levels):
        for j, cv in enumerate(col_levels):
            ax = axes[i, j]
            if (i, j) not in cells:
                ax.set_axis_off()
                ax.set_title("(no take)", fontsize="small")
                continue
            s_db, sr, mt, take_id, n = cells[(i, j)]
            img = _draw(ax, s_db, sr, vmin, vmax, mt, ylabel=(j == 0), xlabel=(i == nr - 1))
            parts = [f"{rows} = {_short(rv)}" if rows else "", f"{cols} = {_short(cv)}" if cols else ""]
            label = ", ".join(p for p in parts if p)
            ax.set_title(f"{label}\n{take_id}" + (f" (1 of {n})" if n > 1 else ""), fontsize="small")
    if img is not None:
        fig.colorbar(img, ax=axes, format="%+.0f dB", label="dB re full scale (shared scale)")
    if title:
        fig.suptitle(title)
    return fig


def metric_plot(results: pd.DataFrame, x: str = "temperature", y: str = "loudness_lufs", hue: str | None = "mode",
                ax: Any = None, ci: str = "t", points: bool = True, title: str | None = None) -> Any:
    """Mean of `y` against `x` per `hue` level, with a 95 % CI band across seeds (and the takes as dots).

    Example:
        >>> fig = metric_plot(scored, x="temperature", y="speaker_similarity", hue="mode")  # doctest: +SKIP
    """
    from zonos_lab.analysis.stats import summarize

    by = [x] if hue is None else [x, hue]
    summary = summarize(results, by=by, metrics=y, ci=ci)  # type: ignore[arg-type]
    own = ax is None
    if own:
        fig = _new_figure((6, 3.8))
        ax = fig.add_subplot()
    colors = ["C0", "C1", "C2", "C3", "C4", "C5", "C6", "C7"]
    for k, level in enumerate(_levels(results, hue)):
        part = summary if hue is None else summary[summary[hue] == level]
        part = part.sort_values(x)
        color = colors[k % len(colors)]
        name = y if hue is None else f"{hue} = {level}"
        xs = pd.to_numeric(part[x], errors="coerce").to_numpy(float)
        ax.plot(xs, part["mean"], marker="o", color=color, label=name)
        ax.fill_between(xs, part["ci_low"].astype(float), part["ci_high"].astype(float), color=color, alpha=0.2,
                        linewidth=0)
        if points:
            raw = results if hue is None else results[results[hue] == level]
            ax.scatter(pd.to_numeric(raw[x], errors="coerce"), pd.to_numeric(raw[y], errors="coerce"),
                       color=color, s=8, alpha=0.35)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(title if title is not None else f"{y} vs {x} (mean, 95% CI across seeds)", fontsize="medium")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    return ax.figure


def paired_plot(data: pd.DataFrame, by: str = "mode", metric: str | Sequence[str] | None = None,
                pair_on: Sequence[str] | None = None, ax: Any = None, title: str | None = None) -> Any:
    """Paired view: a `compare` result as a forest plot (mean difference and CI per metric), or a
    results table as a slope plot (one line per pair from level A to level B, means in black).

    Example:
        >>> fig = paired_plot(compare(scored, by="mode", metric=["wer", "speaker_similarity"]))  # doctest: +SKIP
        >>> fig = paired_plot(scored, by="mode", metric="speaker_similarity")                   # doctest: +SKIP
    """
    from zonos_lab.analysis.stats import COMPARE_COLUMNS, pair_table

    own = ax is None
    if own:
        fig = _new_figure((6, 3.8))
        ax = fig.add_subplot()
    if set(COMPARE_COLUMNS) <= set(data.columns):
        labels = [f"{r.metric}\n{r.level_b} − {r.level_a}" for r in data.itertuples()]
        ys = np.arange(len(data))[::-1]
        mean = data["mean_diff"].to_numpy(float)
        err = np.vstack([mean - data["ci_low"].to_numpy(float), data["ci_high"].to_numpy(float) - mean])
        ax.errorbar(mean, ys, xerr=err, fmt="o", color="C0", capsize=4)
        ax.axvline(0, color="grey", linestyle="--", linewidth=1)
        ax.set_yticks(ys, labels, fontsize="small")
        ax.set_xlabel("mean paired difference (B − A), 95% bootstrap CI")
        for yv, p in zip(ys, data["p_wilcoxon"], strict=True):
            if not is_na(p):
                ax.annotate(f"p={p:.3g}", (1.0, yv), xycoords=("axes fraction", "data"), ha="right",
                            va="bottom", fontsize="x-small")
        ax.set_title(title if title is not None else "paired differences", fontsize="medium")
        return ax.figure
    if metric is None or not isinstance(metric, str):
        raise InvalidParameter("metric", metric, "one metric column name when plotting a results table")
    wide = pair_table(data, by, metric, pair_on)
    levels = list(wide.columns)
    xs = np.arange(len(levels))
    for _, row in wide.iterrows():
        ax.plot(xs, row.to_numpy(float), color="C0", alpha=0.35, marker="o", markersize=3)
    ax.plot(xs, wide.mean().to_numpy(float), color="black", marker="s", linewidth=2, label="mean")
    ax.set_xticks(xs, [str(v) for v in levels])
    ax.set_xlabel(by)
    ax.set_ylabel(metric)
    ax.legend(fontsize="small")
    ax.set_title(title if title is not None else f"{metric} by {by} ({len(wide)} pairs)", fontsize="medium")
    return ax.figure
