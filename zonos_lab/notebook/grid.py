"""`show_grid`: players and spectrogram thumbnails laid out by any two fields, on one colour scale.

Every thumbnail uses the same dB range (the loudest bin of the grid down 80 dB, or your
``vmin``/``vmax``) and the same time axis (the longest clip), so brightness and length compare
across cells. Players are lazy (``preload="none"``) and, in larger grids, embedded as compact MP3
copies, so a grid of a hundred takes stays light in the saved notebook.

Example:
    >>> from zonos_lab.notebook import show_grid
    >>> show_grid(sweep.results, rows="temperature", cols="mode", seed=0)   # doctest: +SKIP
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from zonos_lab.errors import InvalidParameter
from zonos_lab.notebook.display import (
    ANALYSIS_NOTE,
    _figure,
    _is_na,
    _stamp,
    analysis_available,
    audio_html,
    emulator_badge,
    esc,
    figure_png,
)

log = logging.getLogger(__name__)

__all__ = ["GridView", "grid_html", "results_frame", "show_grid"]

#: Above this many cells, thumbnails are small and players use MP3 copies (when not forced).
LARGE_GRID = 8
#: Refuse grids bigger than this (filter with ``where=`` or ``seed=``).
MAX_CELLS = 400
_MODE_ORDER = {"accurate": 0, "expressive": 1}


@dataclass
class GridView:
    """A rendered grid: ``html`` plus the shared colour scale and what each cell holds.

    Shows itself in a notebook (``_repr_html_``).
    """

    html: str
    rows: str | None
    cols: str | None
    vmin: float | None = None
    vmax: float | None = None
    max_seconds: float | None = None
    cells: list[dict[str, Any]] = field(default_factory=list)

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        scale = f", dB {self.vmin:.1f}..{self.vmax:.1f}" if self.vmin is not None and self.vmax is not None else ""
        return f"GridView({self.rows} × {self.cols}, {len(self.cells)} cells{scale})"


def results_frame(results: Any) -> tuple[pd.DataFrame, str | None]:
    """A results DataFrame and its base directory from a DataFrame, a `Sweep` or a list of takes."""
    base = None
    if hasattr(results, "results") and not isinstance(results, pd.DataFrame):
        base = getattr(results, "run_dir", None)
        results = results.results
    if isinstance(results, pd.DataFrame):
        return results, (str(base) if base else None)
    if isinstance(results, list | tuple):
        rows = [r.to_row() if hasattr(r, "to_row") else dict(r) for r in results]
        return pd.DataFrame(rows), None
    if hasattr(results, "to_row"):
        return pd.DataFrame([results.to_row()]), None
    raise InvalidParameter("results", type(results).__name__, "a results DataFrame, a Sweep or a list of Takes")


def resolve_audio(path: Any, base_dir: str | None) -> str | None:
    """An existing audio file for a row's ``audio_path`` (relative paths are tried under `base_dir`)."""
    if _is_na(path) or not str(path):
        return None
    p = Path(str(path))
    if p.exists():
        return str(p)
    if base_dir and not p.is_absolute() and (Path(base_dir) / p).exists():
        return str(Path(base_dir) / p)
    return None


def _sort_key(v: Any) -> tuple[Any, ...]:
    if isinstance(v, str) and v in _MODE_ORDER:
        return (0, _MODE_ORDER[v], "")
    if isinstance(v, bool):
        return (1, int(v), "")
    if isinstance(v, int | float):
        return (1, float(v), "")
    return (2, 0, str(v))


def _levels(df: pd.DataFrame, col: str | None) -> list[Any]:
    if col is None:
        return [None]
    if col not in df.columns:
        raise InvalidParameter("rows/cols", col, "a column of the results: " + ", ".join(map(str, df.columns)))
    vals = [v for v in df[col].unique().tolist() if not _is_na(v)]
    return sorted(vals, key=_sort_key) + ([None] if df[col].isna().any() else [])


def _select(df: pd.DataFrame, col: str | None, level: Any) -> pd.DataFrame:
    if col is None:
        return df
    if level is None:
        return df[df[col].isna()]
    return df[df[col] == level]


@lru_cache(maxsize=512)
def _mel(path: str, stamp: tuple[int, int], n_mels: int) -> tuple[Any, int]:
    from zonos_lab.analysis.plots import mel_db

    return mel_db(path, n_mels)


def _thumbnail(s_db: Any, sr: int, vmin: float, vmax: float, max_seconds: float, max_tokens: int | None,
               size: tuple[float, float]) -> str:
    from zonos_lab.params import FRAME_RATE

    fig = _figure(size)
    fig.set_layout_engine(None)
    ax = fig.add_axes((0, 0, 1, 1))
    dur = s_db.shape[1] * 512 / sr
    ax.imshow(s_db, origin="lower", aspect="auto", cmap="magma", vmin=vmin, vmax=vmax,
              extent=(0, dur, 0, s_db.shape[0]), interpolation="nearest")
    ax.set_xlim(0, max_seconds)
    ax.set_facecolor("#f6f8fa")
    if max_tokens is not None and max_tokens / FRAME_RATE <= max_seconds:
        ax.axvline(max_tokens / FRAME_RATE, color="cyan", linestyle="--", linewidth=1)
    ax.set_axis_off()
    return figure_png(fig, dpi=72)


def _colourbar(vmin: float, vmax: float) -> str:
    from matplotlib import cm, colors

    fig = _figure((3.2, 0.55))
    ax = fig.add_subplot()
    fig.colorbar(cm.ScalarMappable(colors.Normalize(vmin, vmax), cmap="magma"), cax=ax, orientation="horizontal",
                 format="%+.0f dB")
    ax.tick_params(labelsize=7)
    return figure_png(fig, dpi=72)


def _label(col: str | None, level: Any) -> str:
    if col is None:
        return ""
    return f"{col} = {'(none)' if level is None else level}"


def grid_html(results: Any, rows: str | None = "temperature", cols: str | None = "mode", **kw: Any) -> str:
    """The HTML of `show_grid` (same arguments)."""
    return show_grid(results, rows, cols, **kw).html


def show_grid(results: Any, rows: str | None = "temperature", cols: str | None = "mode", *,
              seed: int | str | None = "first", where: dict[str, Any] | None = None,
              spectrograms: bool = True, thumbnails: bool | None = None, audio: str | None = None,
              vmin: float | None = None, vmax: float | None = None, n_mels: int = 64,
              title: str | None = None, base_dir: str | None = None, max_cells: int = MAX_CELLS) -> GridView:
    """A labelled grid of players and spectrogram thumbnails: one row per `rows` level, one column per `cols` level.

    Args:
        results: a results DataFrame (``audio_path`` plus the fields), a `Sweep`, or a list of `Take`.
        rows, cols: the fields to lay out (any column; None for a single row/column).
        seed: when a cell holds several takes: ``"first"`` (lowest seed, then take id), a seed value
            (only takes with that seed), or ``"all"`` (every take of the cell, stacked).
        where: keep only rows matching these ``{column: value}`` (a list/tuple value means "any of").
        spectrograms: draw thumbnails (needs the ``[analysis]`` extra).
        thumbnails: small thumbnails (default: when the grid has more than 8 cells).
        audio: ``"auto"``, ``"wav"``, ``"mp3"``, ``"original"`` or ``"none"`` (default: MP3 copies for larger grids).
        vmin, vmax: the shared colour scale in dB (default: the grid's loudest bin down 80 dB).

    Returns:
        a `GridView` (displays itself; ``.html``, ``.vmin``, ``.vmax``, ``.cells``).

    Example:
        >>> show_grid(results, rows="temperature", cols="mode", seed=1)        # doctest: +SKIP
    """
    df, base = results_frame(results)
    base = base_dir or base
    if df.empty:
        raise InvalidParameter("results", "an empty table", "a table with at least one take")
    for k, v in (where or {}).items():
        if k not in df.columns:
            raise InvalidParameter("where", k, "a column of the results: " + ", ".join(map(str, df.columns)))
        df = df[df[k].isin(list(v))] if isinstance(v, list | tuple | set) else df[df[k] == v]
    if isinstance(seed, int) and not isinstance(seed, bool):
        if "seed" not in df.columns:
            raise InvalidParameter("seed", seed, "'first' or 'all': the results have no seed column")
        df = df[df["seed"] == seed]
    elif seed not in ("first", "all", None):
        raise InvalidParameter("seed", seed, "'first', 'all' or a seed value")
    if df.empty:
        raise InvalidParameter("where/seed", {"where": where, "seed": seed}, "a filter that keeps some takes")
    df = df.copy()
    df["_audio"] = [resolve_audio(p, base) for p in df.get("audio_path", pd.Series([None] * len(df)))]
    order = [c for c in ("seed", "take_id") if c in df.columns]
    if order:
        df = df.sort_values(order, kind="stable", na_position="last")
    row_levels, col_levels = _levels(df, rows), _levels(df, cols)
    n_cells = len(row_levels) * len(col_levels)
    if n_cells > max_cells:
        raise InvalidParameter("rows/cols", f"{rows} × {cols} ({n_cells} cells)",
                               f"at most {max_cells} cells: filter with where= or choose other fields")
    large = n_cells > LARGE_GRID
    small = large if thumbnails is None else bool(thumbnails)

    # Pick the takes of each cell.
    picked: dict[tuple[int, int], tuple[list[dict[str, Any]], int]] = {}
    for i, rv in enumerate(row_levels):
        for j, cv in enumerate(col_levels):
            sel = _select(_select(df, rows, rv), cols, cv)
            if sel.empty:
                continue
            recs = sel.to_dict("records")
            with_audio = [r for r in recs if r["_audio"]]
            show = recs if seed == "all" else [(with_audio or recs)[0]]
            picked[(i, j)] = (show, len(recs))

    n_shown = sum(len(show) for show, _ in picked.values())
    fmt = audio or ("mp3" if n_shown > 4 else "auto")

    # Spectrograms on one colour scale and one time axis.
    draw = spectrograms and analysis_available()
    mels: dict[str, tuple[Any, int]] = {}
    if draw:
        for show, _ in picked.values():
            for r in show:
                if r["_audio"] and r["_audio"] not in mels:
                    try:
                        mels[r["_audio"]] = _mel(r["_audio"], _stamp(r["_audio"]), n_mels)
                    except Exception:
                        log.warning("spectrogram failed for %s", r["_audio"], exc_info=True)
    g_vmin = g_vmax = max_seconds = None
    if mels:
        top = max(float(s.max()) for s, _ in mels.values())
        g_vmax = top if vmax is None else float(vmax)
        g_vmin = g_vmax - 80.0 if vmin is None else float(vmin)
        max_seconds = max(s.shape[1] * 512 / sr for s, sr in mels.values())
    size = (2.3, 0.8) if small else (3.6, 1.25)

    cell_style = "border:1px solid #eaeef2;padding:4px;vertical-align:top;min-width:170px"
    head_style = "padding:4px 8px;background:#f6f8fa;font-weight:600;white-space:nowrap"
    out = ['<div class="zonos-grid" style="font-family:system-ui,sans-serif;font-size:12px">']
    backends = set(df["backend"].dropna().astype(str)) if "backend" in df.columns else set()
    title_bits = [f"<b>{esc(title)}</b> " if title else "", emulator_badge() if "emulator" in backends else ""]
    if any(title_bits):
        out.append("<div>" + "".join(title_bits) + "</div>")
    out.append(f'<table style="border-collapse:collapse" data-rows="{esc(rows)}" data-cols="{esc(cols)}"'
               + (f' data-vmin="{g_vmin:.2f}" data-vmax="{g_vmax:.2f}"' if g_vmin is not None else "") + ">")
    out.append(f'<tr><th style="{head_style}">{esc(rows or "")} \\ {esc(cols or "")}</th>'
               + "".join(f'<th style="{head_style}">{esc(_label(cols, cv))}</th>' for cv in col_levels) + "</tr>")
    cells: list[dict[str, Any]] = []
    for i, rv in enumerate(row_levels):
        out.append(f'<tr><th style="{head_style};text-align:left">{esc(_label(rows, rv))}</th>')
        for j, cv in enumerate(col_levels):
            if (i, j) not in picked:
                out.append(f'<td style="{cell_style};color:#6e7781">(no take)</td>')
                continue
            show, n = picked[(i, j)]
            inner = []
            for r in show:
                inner.append(_cell(r, fmt, draw, mels, g_vmin, g_vmax, max_seconds, size))
            if n > len(show):
                inner.append(f'<div style="color:#6e7781;font-size:11px">showing {len(show)} of {n} takes</div>')
            out.append(f'<td style="{cell_style}">' + "".join(inner) + "</td>")
            cells.append({"row": rv, "col": cv, "take_ids": [r.get("take_id") for r in show], "n": n})
        out.append("</tr>")
    out.append("</table>")
    if g_vmin is not None and g_vmax is not None and max_seconds is not None:
        out.append(f'<div style="margin-top:4px;color:#57606a">Shared colour scale {g_vmin:+.0f} to {g_vmax:+.0f} dB '
                   f're full scale; thumbnail width = {max_seconds:.2f} s (mel frequency axis, low at the bottom).'
                   f'<br/><img alt="colour scale" src="data:image/png;base64,{_colourbar(g_vmin, g_vmax)}"/></div>')
    elif spectrograms and not analysis_available():
        out.append(f'<div style="color:#6e7781">{esc(ANALYSIS_NOTE)}</div>')
    out.append("</div>")
    return GridView("".join(out), rows, cols, g_vmin, g_vmax, max_seconds, cells)


def _cell(r: dict[str, Any], fmt: str, draw: bool, mels: dict[str, tuple[Any, int]], vmin: float | None,
          vmax: float | None, max_seconds: float | None, size: tuple[float, float]) -> str:
    bits = []
    tid = r.get("take_id")
    status = None if _is_na(r.get("status")) else r.get("status")
    path = r["_audio"]
    if path:
        if fmt != "none":
            bits.append(audio_html(path, fmt=fmt, preload="none", label="" if _is_na(tid) else str(tid)))
        if draw and path in mels and vmin is not None and vmax is not None and max_seconds is not None:
            s_db, sr = mels[path]
            mt = r.get("max_tokens")
            mt = None if _is_na(mt) else int(mt)
            png = _thumbnail(s_db, sr, vmin, vmax, max_seconds, mt, size)
            bits.append(f'<img alt="spectrogram {esc(tid)}" style="display:block;margin-top:2px" '
                        f'src="data:image/png;base64,{png}"/>')
    else:
        err = r.get("error")
        bits.append(f'<div style="color:#cf222e">{esc(status or "no audio")}'
                    f'{": " + esc(err) if not _is_na(err) and err else ""}</div>')
    meta = [str(tid) if not _is_na(tid) and tid else ""]
    if "seed" in r and not _is_na(r.get("seed")):
        meta.append(f"seed {int(r['seed'])}")
    dur = r.get("duration")
    if dur is not None and not _is_na(dur):
        meta.append(f"{float(dur):.2f} s")
    bits.append(f'<div style="color:#57606a;font-size:11px">{esc(" · ".join(m for m in meta if m))}</div>')
    return "<div>" + "".join(bits) + "</div>"


def default_axes(df: pd.DataFrame) -> tuple[str | None, str | None]:
    """The two most natural grid axes of a results table (its varying request fields, seed last)."""
    from zonos_lab.notebook.display import varying_columns

    vary = [c for c in varying_columns(df) if c != "seed"]
    if "mode" in vary:
        vary.remove("mode")
        vary.insert(min(1, len(vary)), "mode")
    vary = vary or ["seed"] if "seed" in df.columns else vary
    rows = vary[0] if vary else None
    cols = vary[1] if len(vary) > 1 else None
    return rows, cols
