"""`write_report`: one self-contained HTML page for a run directory (CSS, figures and audio inline).

Example:
    >>> from zonos_lab.report import write_report
    >>> write_report("runs/study")                                  # doctest: +SKIP
    PosixPath('/…/runs/study/report.html')
"""

from __future__ import annotations

import html as html_lib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from zonos_lab.errors import InvalidParameter
from zonos_lab.report.rundir import RunDir, is_emulator, swept_fields

if TYPE_CHECKING:
    from zonos_lab.report.media import FigureCache

__all__ = ["KEY_METRICS", "ReportData", "report_data", "scored_results", "write_report"]

#: Metric columns shown in tables and plots, in this order, when present and not all NA.
KEY_METRICS: tuple[str, ...] = (
    "duration_s", "loudness_lufs", "speech_s", "silence_ratio", "speaking_rate", "f0_mean_hz", "f0_std_st",
    "dnsmos_ovrl", "speaker_similarity", "wer", "cer",
)
#: Statuses that cost money on the service (ERROR is not charged; UNCERTAIN may have been).
CHARGED_STATUSES = frozenset({"COMPLETED", "FAILED"})
_NUMERIC_FIELDS = ("temperature", "top_p", "min_p", "top_k", "max_tokens")
#: Metrics drawn against each numeric swept field (the first of `KEY_METRICS` present).
PLOT_METRICS = 6
#: Bump to redraw every cached figure (figures/index.json) after a change in how they are drawn.
_FIGURE_VERSION = "report-figures/1"


# -- metrics ------------------------------------------------------------------------------------

def scored_results(run: RunDir, results: pd.DataFrame, metrics: str | Iterable[str] | None = "core",
                   progress: bool = False) -> tuple[pd.DataFrame, list[str]]:
    """`results` with metric columns, reusing ``metrics.parquet`` when it covers every take; writes it.

    Returns:
        ``(table, notes)`` — notes say what was reused or why metrics are missing.
    """
    from zonos_lab.analysis.metrics import metric_columns
    from zonos_lab.analysis.pipeline import analyze

    if metrics is None or (isinstance(metrics, str) and metrics in ("", "none")):
        return results, ["No metrics computed (metrics=None)."]
    columns = list(metric_columns(metrics))
    cache = run.path / "metrics.parquet"
    with_audio = results[results["audio_path"].notna()]
    if cache.is_file():
        cached = pd.read_parquet(cache)
        if {"take_id", "sha256", *columns} <= set(cached.columns):
            known = dict(zip(cached["take_id"].astype(str), cached["sha256"].astype(str), strict=True))
            shas = with_audio["sha256"] if "sha256" in with_audio.columns else pd.Series(dtype=object)
            if all(known.get(str(t)) == str(s) for t, s in zip(with_audio["take_id"], shas, strict=True)) \
                    and len(shas) == len(with_audio):
                merged = results.drop(columns=[c for c in columns if c in results.columns]).merge(
                    cached[["take_id", *columns]], on="take_id", how="left")
                return merged, ["Metrics read from metrics.parquet (computed earlier for the same audio)."]
    scored = analyze(results, metrics=metrics, progress=progress)
    from zonos_lab.audio import atomic_write_bytes

    table = scored[["take_id", "sha256", *columns]].copy()
    table["sha256"] = table["sha256"].astype("string")
    import io

    buf = io.BytesIO()
    table.to_parquet(buf, index=False)
    atomic_write_bytes(cache, buf.getvalue())
    return scored, []


def _present(df: pd.DataFrame, names: Iterable[str]) -> list[str]:
    out = []
    for n in names:
        if n in df.columns and pd.to_numeric(df[n], errors="coerce").notna().any():
            out.append(n)
    return out


# -- formatting ---------------------------------------------------------------------------------

def _fmt(v: Any) -> str:
    if v is None or (not isinstance(v, str | bool | list | dict) and pd.isna(v)):
        return "–"
    if isinstance(v, bool | np.bool_):
        return str(bool(v))
    if isinstance(v, float | np.floating):
        if v == int(v) and abs(v) < 1e6:
            return f"{v:.1f}" if abs(v) < 100 else f"{int(v)}"
        return f"{v:.4g}"
    return str(v)


def _html_table(df: pd.DataFrame, *, pcols: Iterable[str] = (), table_id: str | None = None) -> str:
    """An escaped HTML table; numbers right-aligned, p-values < 0.05 in bold."""
    pcols = set(pcols)
    head = "".join(f"<th>{html_lib.escape(str(c))}</th>" for c in df.columns)
    body = []
    for row in df.itertuples(index=False):
        cells = []
        for col, v in zip(df.columns, row, strict=True):
            num = isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)
            cls = ["num"] if num else []
            if col in pcols and num and not pd.isna(v) and float(v) < 0.05:
                cls.append("sig")
            attr = f' class="{" ".join(cls)}"' if cls else ""
            cells.append(f"<td{attr}>{html_lib.escape(_fmt(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    tid = f' id="{table_id}"' if table_id else ""
    return f"<table{tid}><tr>{head}</tr>" + "".join(body) + "</table>"


def _values(series: pd.Series, limit: int = 12) -> str:
    vals = sorted(series.dropna().unique().tolist(), key=lambda v: (str(type(v)), v))
    shown = ", ".join(_fmt(v) if not isinstance(v, str) or len(v) < 60 else v[:57] + "…" for v in vals[:limit])
    return shown + (f" … ({len(vals)} values)" if len(vals) > limit else f" ({len(vals)})")


def _parse_time(s: Any) -> datetime | None:
    if not s:
        return None
    try:
        t = datetime.fromisoformat(str(s))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


# -- sections -----------------------------------------------------------------------------------

def _summary(manifest: dict[str, Any], results: pd.DataFrame, emulator: bool) -> tuple[list, list, list, list]:
    spec = manifest.get("spec") or {}
    status = results["status"].astype(str) if "status" in results.columns else pd.Series(["?"] * len(results))
    counts = status.value_counts()
    n_ok = int(counts.get("COMPLETED", 0))
    items: list[tuple[str, str]] = [
        ("Sweep", str(manifest.get("name") or spec.get("name") or "unnamed")),
        ("Method", str(spec.get("method") or (manifest.get("spec_resolved") or {}).get("method") or "–")),
        ("Takes", f"{len(results)} planned, {n_ok} with audio, {len(results) - n_ok} without"),
        ("Backend", f"{manifest.get('backend', '?')} ({manifest.get('model_id', '?')})"
                    + (" — EMULATOR" if emulator else "")),
    ]
    start, end = _parse_time(manifest.get("created_at")), _parse_time(manifest.get("finished_at"))
    if start and end:
        items.append(("Wall time", f"{(end - start).total_seconds():.1f} s ({start:%Y-%m-%d %H:%M:%S} → "
                                   f"{end:%H:%M:%S} UTC)"))
    else:
        items.append(("Wall time", "unknown (the run did not record its end)"))
    if "total_seconds" in results.columns:
        tot = pd.to_numeric(results["total_seconds"], errors="coerce").dropna()
        if len(tot):
            items.append(("Per take", f"median {tot.median():.2f} s from submission to audio "
                                      f"(max {tot.max():.2f} s)"))
    if "duration" in results.columns:
        dur = pd.to_numeric(results["duration"], errors="coerce").dropna()
        if len(dur):
            items.append(("Audio", f"{dur.sum():.1f} s in total, {dur.mean():.2f} s per take"))
    price = manifest.get("price_per_take")
    charged = int(sum(int(counts.get(s, 0)) for s in CHARGED_STATUSES))
    uncertain = int(counts.get("UNCERTAIN", 0))
    if price is not None:
        cost = f"{float(price) * charged:.4g} ({charged} charged takes × {float(price):.4g})"
        if uncertain:
            cost += f"; up to {float(price) * uncertain:.4g} more for {uncertain} uncertain submissions"
        if emulator:
            cost += " — emulated, nothing was paid"
        items.append(("Cost", cost))
    else:
        items.append(("Cost", f"unknown (no price per take given); {charged} takes would be charged"))
    swept = []
    for col in swept_fields(manifest, results):
        swept.append((col, _values(results[col])))
    fixed = [(k, _fmt(v) if not isinstance(v, str) or len(v) < 120 else v[:117] + "…")
             for k, v in (spec.get("fixed") or {}).items()]
    return items, swept, fixed, sorted(counts.items())


def _failures(results: pd.DataFrame) -> list[dict[str, Any]]:
    if "status" not in results.columns:
        return []
    bad = results[results["status"].astype(str) != "COMPLETED"]
    out = []
    err = bad["error"] if "error" in bad.columns else pd.Series([None] * len(bad), index=bad.index)
    frame = pd.DataFrame({"status": bad["status"].astype(str),
                          "error": err.map(lambda e: "–" if e is None or pd.isna(e) else str(e)),
                          "take_id": bad["take_id"].astype(str)})
    for (status, error), g in frame.groupby(["status", "error"], sort=True):
        ids = g["take_id"].tolist()
        out.append({"status": status, "error": error, "n": len(ids),
                    "take_ids": ", ".join(ids[:12]) + (f" … (+{len(ids) - 12})" if len(ids) > 12 else "")})
    return out


def _compare_by(results: pd.DataFrame, swept: list[str]) -> str | None:
    if "mode" in results.columns and results["mode"].dropna().nunique() >= 2:
        return "mode"
    for col in swept:
        if col != "seed" and results[col].dropna().astype(str).nunique() >= 2:
            return col
    return None


def _key(*parts: Any) -> str:
    """A cache key for a figure: a hash of the data (tables as CSV) and arguments drawn."""
    import hashlib

    h = hashlib.sha1(_FIGURE_VERSION.encode())
    for p in parts:
        h.update((p.to_csv(index=False) if isinstance(p, pd.DataFrame) else repr(p)).encode())
    return h.hexdigest()


def _comparison(scored: pd.DataFrame, by: str | None, metrics: list[str], figures: FigureCache
                ) -> tuple[Any, str]:
    from zonos_lab.analysis.stats import compare, summarize
    from zonos_lab.report.media import png_data_uri

    if by is None:
        return None, "Nothing to compare: the sweep varies no field besides the seed."
    if not metrics:
        return None, "No metrics to compare (none computed, or every take failed)."
    ok = scored[scored["status"].astype(str) == "COMPLETED"] if "status" in scored.columns else scored
    cmp = compare(ok, by=by, metric=metrics, pairs="first")
    shown = cmp[["metric", "level_a", "level_b", "n_pairs", "mean_a", "mean_b", "mean_diff", "ci_low", "ci_high",
                 "p_wilcoxon", "cohens_dz"]].rename(columns={"p_wilcoxon": "p", "cohens_dz": "d_z"})
    fig_uri = None
    usable = cmp[cmp["n_pairs"] > 0]
    if len(usable):
        fig_uri = png_data_uri(figures.get(f"compare_{by}.png", _key(usable, by), lambda: _forest(usable, by),
                                           dpi=80))
    summ = summarize(ok, by=by, metrics=metrics)
    summ = summ[[by, "metric", "n", "mean", "std", "ci_low", "ci_high"]]
    return {"by": by, "table": _html_table(shown, pcols=["p"], table_id="comparison-table"), "figure": fig_uri,
            "summary": _html_table(summ, table_id="summary-table")}, ""


def _forest(cmp: pd.DataFrame, by: str) -> Any:
    """One small forest panel per metric (metrics have different units, so no shared axis)."""
    from zonos_lab.analysis.plots import _new_figure, paired_plot

    metrics = list(dict.fromkeys(cmp["metric"]))
    ncols = 2 if len(metrics) > 1 else 1
    nrows = -(-len(metrics) // ncols)
    per = max(1, len(cmp) // max(1, len(metrics)))
    fig = _new_figure((6.2 * ncols, (0.9 + 0.45 * per) * nrows + 0.4))
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    for ax, m in zip(axes, metrics, strict=False):
        paired_plot(cmp[cmp["metric"] == m], ax=ax, title=m)
        ax.set_xlabel("")
    for ax in axes[len(metrics):]:
        ax.set_axis_off()
    fig.suptitle(f"paired differences by {by} (B − A, 95 % bootstrap CI)", fontsize="medium")
    return fig


def _plots(scored: pd.DataFrame, swept: list[str], metrics: list[str], figures: FigureCache
           ) -> tuple[list, str]:
    from zonos_lab.analysis.plots import _new_figure, metric_plot
    from zonos_lab.report.media import png_data_uri

    xs = [c for c in swept if c in _NUMERIC_FIELDS and pd.to_numeric(scored[c], errors="coerce").nunique() >= 2]
    if not metrics:
        return [], "No metric plots: no metrics were computed."
    if not xs:
        return [], "No metric-vs-parameter plots: no numeric sampling field was swept."
    hue = "mode" if "mode" in scored.columns and scored["mode"].dropna().nunique() >= 2 else None
    ok = scored[scored["status"].astype(str) == "COMPLETED"] if "status" in scored.columns else scored
    out = []
    ms = metrics[:PLOT_METRICS]
    for x in xs:
        def draw(x: str = x) -> Any:
            ncols = 2 if len(ms) > 1 else 1
            nrows = -(-len(ms) // ncols)
            fig = _new_figure((6.0 * ncols, 3.4 * nrows))
            axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
            for ax, m in zip(axes, ms, strict=False):
                metric_plot(ok, x=x, y=m, hue=hue, ax=ax, title=f"{m} vs {x}")
            for ax in axes[len(ms):]:
                ax.set_axis_off()
            return fig

        cols = ["take_id", x, *([hue] if hue else []), *ms]
        src = png_data_uri(figures.get(f"metrics_vs_{x}.png", _key(ok[cols], x, hue), draw, dpi=80))
        out.append({"src": src, "alt": f"metrics against {x}",
                    "caption": f"Mean per {x}" + (" and mode" if hue else "")
                               + " with a 95 % CI band across seeds; dots are single takes."})
    return out, ""


def _grid(scored: pd.DataFrame, swept: list[str], figures: FigureCache) -> dict[str, str] | None:
    from zonos_lab.analysis.plots import spectrogram_grid
    from zonos_lab.report.media import png_data_uri

    ok = scored[scored["audio_path"].notna()]
    if "status" in ok.columns:
        ok = ok[ok["status"].astype(str) == "COMPLETED"]
    if ok.empty:
        return None
    rows = "mode" if "mode" in ok.columns and ok["mode"].dropna().nunique() >= 2 else None
    cols = next((c for c in swept if c not in ("seed", "mode") and ok[c].dropna().astype(str).nunique() <= 8), None)
    if rows is None and cols is None and "seed" in swept and ok["seed"].nunique() <= 8:
        cols = "seed"
    cols_used = [c for c in ("take_id", "sha256", "max_tokens", rows, cols) if c and c in ok.columns]
    src = png_data_uri(figures.get("spectrogram_grid.png", _key(ok[cols_used], rows, cols),
                                   lambda: spectrogram_grid(ok, rows=rows, cols=cols, title=None), dpi=80))
    label = " × ".join(c for c in (rows, cols) if c) or "the first take"
    return {"src": src, "caption": f"Mel spectrograms by {label} (first take of each cell, shared colour scale, "
                                   "dashed line = max_tokens limit)."}


def _cards(run: RunDir, scored: pd.DataFrame, swept: list[str], out_dir: Path, max_audio: int, embed: bool,
           codec: str, figures: FigureCache) -> tuple[list[dict[str, Any]], str]:
    from zonos_lab.report.media import audio_data_uri, png_data_uri, thumbnail_png

    ok = scored[scored["audio_path"].notna()]
    if "status" in ok.columns:
        ok = ok[ok["status"].astype(str) == "COMPLETED"]
    ok = ok.sort_values("take_id")
    shown = ok.head(max(0, int(max_audio)))
    cards = []
    for row in shown.to_dict("records"):
        coords = ", ".join(f"{c}={_fmt(row.get(c))}" for c in swept if c in row and c not in ("text", "reference"))
        path = str(row["audio_path"])
        audio = (audio_data_uri(path, codec) if embed  # type: ignore[arg-type]
                 else Path(os.path.relpath(path, out_dir)).as_posix())
        sha = str(row.get("sha256") or "")
        thumb = figures.get(f"takes/{row['take_id']}.png", _key(sha, path if not sha else ""),
                            lambda path=path: thumbnail_png(path))
        cards.append({"take_id": str(row["take_id"]), "coords": coords, "thumb": png_data_uri(thumb),
                      "audio": audio})
    how = (f"embedded as Ogg/Opus 96 kb/s (the original WAVs are in {run.path.name}/audio/)" if embed and
           codec == "opus" else "embedded as the original WAV" if embed else
           "linked to the WAV files next to this report (keep the folder together)")
    note = f"{len(cards)} of {len(ok)} takes with audio have a player here, {how}."
    if len(ok) > len(cards):
        note += f" Raise --max-audio (now {max_audio}) to include more."
    return cards, note


def _reproducibility(scored: pd.DataFrame, run: RunDir) -> dict[str, Any]:
    from zonos_lab.analysis.repeats import reproducibility

    out: dict[str, Any] = {"note": "", "table": None, "comparison": None, "comparison_note": "", "spread": None}
    ok = scored[scored["audio_path"].notna()]
    rep = reproducibility(ok, speaker=False) if len(ok) else pd.DataFrame()
    groups = rep[rep["n_audio"] >= 2] if len(rep) else rep
    if len(groups):
        same = int(groups["identical"].fillna(False).astype(bool).sum())
        out["note"] = (f"{len(groups)} request(s) were sent more than once with the same seed; {same} of them "
                       f"gave byte-identical audio. Distances are log-mel RMS differences in dB (0 = identical, "
                       f"≳ 10 dB = different speech).")
        keep = [c for c in ("mode", "temperature", "seed", "n_audio", "n_distinct_audio", "identical",
                            "mel_distance_db", "mel_distance_max_db", "duration_diff_s", "take_ids")
                if c in groups.columns]
        out["table"] = _html_table(groups[keep], table_id="repro-table")
    else:
        out["note"] = ("No request was repeated with the same seed in this sweep, so reproducibility was not "
                       f"measured here. Run zonos-lab reproduce {run.path.name} to re-run every take and compare.")
    cmp_path = run.path / "comparison.csv"
    if cmp_path.is_file():
        cmp = pd.read_csv(cmp_path)
        out["comparison_note"] = _comparison_summary(cmp)
        keep = [c for c in ("take_id", "identical", "mel_distance_db", "duration_delta_s", "status_old",
                            "status_new") if c in cmp.columns]
        out["comparison"] = _html_table(cmp[keep], table_id="reproduce-table")
        from zonos_lab.report.repro import _spread

        spread = _spread(cmp)
        if len(spread):
            out["spread"] = _html_table(spread, table_id="reproduce-spread")
    return out


def _comparison_summary(cmp: pd.DataFrame) -> str:
    n = len(cmp)
    same = int(cmp["identical"].fillna(False).astype(bool).sum()) if "identical" in cmp.columns else 0
    text = f"{same} of {n} takes byte-identical to the original run"
    if "mel_distance_db" in cmp.columns:
        d = pd.to_numeric(cmp["mel_distance_db"], errors="coerce").dropna()
        if len(d):
            text += f"; log-mel distance median {d.median():.2f} dB, max {d.max():.2f} dB"
    return text + "."


def _reproduces(manifest: dict[str, Any], run: RunDir, out_dir: Path) -> dict[str, Any] | None:
    old = manifest.get("reproduces")
    if not old:
        return None
    old_path = Path(str(old))
    if not old_path.is_absolute():
        old_path = (run.path / old_path).resolve()
    target = old_path / "report.html" if (old_path / "report.html").is_file() else old_path
    href = Path(os.path.relpath(target, out_dir)).as_posix() if old_path.exists() else None
    summary = ""
    if (run.path / "comparison.csv").is_file():
        summary = _comparison_summary(pd.read_csv(run.path / "comparison.csv"))
    return {"href": href, "label": str(old), "summary": summary}


def _references(manifest: dict[str, Any]) -> list[dict[str, str]]:
    out = []
    for name, info in (manifest.get("references") or {}).items():
        info = info or {}
        dur = info.get("duration")
        out.append({"name": name, "sha256": str(info.get("sha256") or "–"),
                    "duration": f"{float(dur):.2f}" if dur is not None else "–"})
    return out


@dataclass
class ReportData:
    """What a report is made of: the run, its scored takes and the choices derived from them.

    Used by `write_report` and by the report notebook (`notebooks/report_template.ipynb`).
    """

    run: RunDir
    scored: pd.DataFrame
    swept: list[str]
    compare_by: str | None
    metrics: list[str]
    emulator: bool
    notes: list[str]

    @property
    def completed(self) -> pd.DataFrame:
        """The takes with audio."""
        if "status" not in self.scored.columns:
            return self.scored
        return self.scored[self.scored["status"].astype(str) == "COMPLETED"]


def report_data(run_dir: str | os.PathLike[str], metrics: str | Iterable[str] | None = "core",
                progress: bool = False) -> ReportData:
    """Load a run directory and compute (or read cached) metrics: the inputs of a report.

    Example:
        >>> data = report_data("runs/study")            # doctest: +SKIP
        >>> data.compare_by, data.metrics[:3]           # doctest: +SKIP
        ('mode', ['duration_s', 'loudness_lufs', 'speech_s'])
    """
    run = RunDir(run_dir)
    results = run.results()
    scored, notes = scored_results(run, results, metrics, progress=progress)
    names = _present(scored, KEY_METRICS)
    if "status" in scored.columns:
        names = _present(scored[scored["status"].astype(str) == "COMPLETED"], names)
    swept = swept_fields(run.manifest, scored)
    return ReportData(run=run, scored=scored, swept=swept, compare_by=_compare_by(scored, swept), metrics=names,
                      emulator=is_emulator(run.manifest, results), notes=notes)


# -- entry point --------------------------------------------------------------------------------

def write_report(run_dir: str | os.PathLike[str], *, out: str | os.PathLike[str] | None = None, max_audio: int = 48,
                 embed_audio: bool = True, metrics: str | Iterable[str] | None = "core",
                 audio_codec: Literal["opus", "wav"] = "opus", progress: bool = False) -> Path:
    """Write one self-contained ``report.html`` for a run directory.

    The page has the sweep summary (what was swept, takes, failures and why, cost, wall time), an
    emulator banner when the emulator made the audio, paired comparison tables (by mode when both
    modes exist, else by the first swept field) with CIs and p-values, metric-vs-parameter plots, a
    spectrogram grid and one player per take, the reproducibility section and the environment.
    Nothing is loaded from the network: CSS is inline, figures are base64 PNGs (also saved under
    ``figures/``), audio is embedded as ``data:`` URIs (or linked with ``embed_audio=False``).

    Args:
        run_dir: a run directory written by a sweep (``manifest.json``, ``results.parquet``, ``audio/``).
        out: where to write (default ``RUN_DIR/report.html``).
        max_audio: at most this many takes get a player (keeps big sweeps light).
        embed_audio: embed the audio (True) or link the WAV files relative to the report (False).
        metrics: analysis metrics to compute (`zonos_lab.analysis.pipeline`), cached in ``metrics.parquet``;
            None for none.
        audio_codec: ``"opus"`` (Ogg/Opus 96 kb/s, small) or ``"wav"`` (the file as is) for embedded audio.
        progress: show the analysis progress bar.

    Returns:
        The path of the written report.

    Raises:
        InvalidParameter: when `run_dir` is not a run directory or an option is out of range.

    Example:
        >>> write_report("runs/study", max_audio=12)   # doctest: +SKIP
    """
    import jinja2

    from zonos_lab import __version__
    from zonos_lab.audio import atomic_write_bytes
    from zonos_lab.report.environment import environment_rows, package_rows
    from zonos_lab.report.template import CSS, TEMPLATE

    if int(max_audio) < 0:
        raise InvalidParameter("max_audio", max_audio, "an integer ≥ 0")
    from zonos_lab.report.media import AUDIO_CODECS

    if audio_codec not in AUDIO_CODECS:
        raise InvalidParameter("audio_codec", audio_codec, ", ".join(repr(c) for c in AUDIO_CODECS))
    data = report_data(run_dir, metrics, progress=progress)
    run, scored, swept, by, metric_names = data.run, data.scored, data.swept, data.compare_by, data.metrics
    emulator, notes = data.emulator, data.notes
    manifest = run.manifest
    out_path = Path(out).resolve() if out is not None else run.path / "report.html"
    out_dir = out_path.parent
    from zonos_lab.report.media import FigureCache

    figures = FigureCache(run.path / "figures")
    summary, swept_rows, fixed, counts = _summary(manifest, scored, emulator)
    comparison, comparison_note = _comparison(scored, by, metric_names, figures)
    plots, plots_note = _plots(scored, swept, metric_names, figures)
    cards, players_note = _cards(run, scored, swept, out_dir, max_audio, embed_audio, audio_codec, figures)
    grid = _grid(scored, swept, figures)
    figures.save()
    metric_help: list[tuple[str, str]] = []
    if metric_names:
        from zonos_lab.analysis.metrics import metric_columns

        helptext = metric_columns("all")
        metric_help = [(m, helptext.get(m, "")) for m in metric_names]

    spec = manifest.get("spec") or {}
    name = str(manifest.get("name") or spec.get("name") or run.path.name)
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    page = env.from_string(TEMPLATE).render(
        css=CSS, version=__version__, title=f"zonos-lab report: {name}", run_name=run.path.name,
        created_at=manifest.get("created_at"), written_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        emulator=emulator, model_id=manifest.get("model_id") or "zonos-2-emulator",
        reproduces=_reproduces(manifest, run, out_dir),
        description=spec.get("description") or manifest.get("description"),
        summary=summary, swept=swept_rows, fixed=fixed, counts=counts, failures=_failures(scored), notes=notes,
        comparison=_markup(comparison), comparison_note=comparison_note, plots=plots, plots_note=plots_note,
        metric_help=metric_help, grid=grid, players_note=players_note, cards=cards,
        repro=_markup(_reproducibility(scored, run)), environment=environment_rows(manifest),
        references=_references(manifest), packages=package_rows(manifest),
    )
    atomic_write_bytes(out_path, page.encode("utf-8"))
    return out_path


def _markup(section: dict[str, Any] | None) -> dict[str, Any] | None:
    """Mark pre-built HTML tables as safe for the autoescaping template."""
    if section is None:
        return None
    from markupsafe import Markup

    return {k: Markup(v) if isinstance(v, str) and v.startswith("<table") else v for k, v in section.items()}
