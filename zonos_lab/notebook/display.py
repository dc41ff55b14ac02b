"""Rich notebook displays: a take as player + spectrogram + key fields; a sweep as progress + summary.

Audio is embedded as a base64 ``data:`` URI, so a saved notebook still plays with no server and no
files next to it. Short WAVs are embedded as they are; long clips (or ``fmt="mp3"``) are embedded
as a compact MP3 copy (64 kbit/s mono, encoded with PyAV). Spectrograms are PNGs drawn with
`zonos_lab.analysis.plots` (the ``[analysis]`` extra); without it the picture is left out with a
note saying what to install.

Example:
    >>> from zonos_lab.notebook.display import take_html
    >>> html = take_html(take)            # what `Take._repr_html_` shows     # doctest: +SKIP
"""

from __future__ import annotations

import base64
import html
import io
import logging
import os
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

from zonos_lab.params import frames_to_seconds

log = logging.getLogger(__name__)

__all__ = [
    "ANALYSIS_NOTE",
    "audio_data_uri",
    "audio_html",
    "badge",
    "errors_in_words",
    "spectrogram_png",
    "sweep_html",
    "table_html",
    "take_html",
]

#: Clips longer than this are embedded as MP3 when ``fmt="auto"``.
MAX_WAV_SECONDS = 20.0
#: Bit rate of the compact MP3 copies.
MP3_BITRATE = 64_000
ANALYSIS_NOTE = ("Spectrogram not shown: it needs the [analysis] extra (matplotlib, librosa). "
                 "Install it with: pip install 'zonos-lab[analysis]'")

_MIME = {".wav": "audio/wav", ".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".opus": "audio/ogg",
         ".m4a": "audio/mp4", ".aac": "audio/aac", ".flac": "audio/flac"}
_STATUS_COLOURS = {"COMPLETED": "#1a7f37", "FAILED": "#cf222e", "ERROR": "#cf222e", "UNCERTAIN": "#9a6700",
                   "CANCELLED": "#6e7781", "SKIPPED": "#6e7781"}
_CSS_BOX = ("border:1px solid #d0d7de;border-radius:6px;padding:8px 10px;margin:4px 0;max-width:820px;"
            "font-family:system-ui,-apple-system,'Segoe UI',sans-serif;font-size:13px;line-height:1.35")


def esc(value: Any) -> str:
    """HTML-escape any value (None → empty)."""
    return "" if value is None else html.escape(str(value), quote=True)


def badge(label: str, colour: str = "#57606a", title: str = "") -> str:
    """A small coloured label (e.g. the EMULATOR badge)."""
    t = f' title="{esc(title)}"' if title else ""
    return (f'<span{t} style="display:inline-block;padding:0 6px;margin-right:4px;border-radius:9px;'
            f'font-size:11px;font-weight:600;color:#fff;background:{colour}">{esc(label)}</span>')


def emulator_badge() -> str:
    """The label every emulator take carries."""
    return badge("EMULATOR", "#8250df", "made by the offline zonos-2-emulator, not the real Zonos 2 service")


def _is_na(value: Any) -> bool:
    """True for None, NaN, pd.NA and NaT (False for containers and everything else)."""
    if value is None:
        return True
    if isinstance(value, str | bytes | list | tuple | dict):
        return False
    try:
        import pandas as pd

        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _val(value: Any) -> Any:
    """`value`, or None when it is missing (NA/NaN)."""
    return None if _is_na(value) else value


def _stamp(path: str) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_mtime_ns, st.st_size


# -- audio ----------------------------------------------------------------------------------------

def _encode_mp3(y: Any, sr: int, bitrate: int = MP3_BITRATE) -> bytes:
    import av
    import numpy as np

    from zonos_lab.audio import resample

    if sr not in (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000):
        y, sr = resample(y, sr, 22050), 22050
    y = np.ascontiguousarray(np.clip(y, -1.0, 1.0), dtype=np.float32)
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp3") as out:
        stream = out.add_stream("libmp3lame", rate=sr)
        stream.bit_rate = bitrate
        stream.layout = "mono"
        size = stream.codec_context.frame_size or 1152
        for i in range(0, len(y), size):
            chunk = y[i:i + size]
            if len(chunk) < size:
                chunk = np.pad(chunk, (0, size - len(chunk)))
            frame = av.AudioFrame.from_ndarray(chunk[None, :], format="fltp", layout="mono")
            frame.sample_rate = sr
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


def _wav_bytes(y: Any, sr: int) -> bytes:
    import numpy as np
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.clip(y, -1.0, 1.0), sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


@lru_cache(maxsize=256)
def _audio_uri_cached(path: str, stamp: tuple[int, int], fmt: str, max_wav_seconds: float) -> str:
    ext = Path(path).suffix.lower()
    size = stamp[1]
    if fmt == "auto":
        # 16-bit mono 44.1 kHz WAV is 88 kB/s: decide on the file size when the file is a WAV.
        if ext == ".wav":
            fmt = "original" if size <= max_wav_seconds * 88_200 + 4096 else "mp3"
        elif ext in _MIME and size <= max_wav_seconds * 40_000:
            fmt = "original"
        else:
            fmt = "mp3"
    if fmt == "original" and ext in _MIME:
        data, mime = Path(path).read_bytes(), _MIME[ext]
    else:
        from zonos_lab.audio import decode_audio

        y, sr = decode_audio(path)
        if fmt == "mp3":
            try:
                data, mime = _encode_mp3(y, sr), "audio/mpeg"
            except Exception:  # an FFmpeg build without LAME: a 16 kHz WAV is still small enough
                log.warning("MP3 encoding failed for %s; embedding a 16 kHz WAV instead", path, exc_info=True)
                from zonos_lab.audio import resample

                data, mime = _wav_bytes(resample(y, sr, 16000), 16000), "audio/wav"
        else:
            data, mime = _wav_bytes(y, sr), "audio/wav"
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def audio_data_uri(path: str | os.PathLike[str], fmt: str = "auto",
                   max_wav_seconds: float = MAX_WAV_SECONDS) -> str:
    """The audio file as a ``data:`` URI a browser can play.

    Args:
        path: an audio file.
        fmt: ``"auto"`` (the file as it is when short, else a compact MP3), ``"original"``,
            ``"wav"`` (16-bit PCM) or ``"mp3"`` (64 kbit/s mono).
        max_wav_seconds: above this length ``"auto"`` embeds the MP3 copy.

    Example:
        >>> audio_data_uri("data/reference/en_us_ljspeech_LJ001-0001.wav")[:22]
        'data:audio/wav;base64,'
    """
    if fmt not in ("auto", "original", "wav", "mp3"):
        from zonos_lab.errors import InvalidParameter

        raise InvalidParameter("fmt", fmt, "'auto', 'original', 'wav' or 'mp3'")
    p = str(path)
    return _audio_uri_cached(p, _stamp(p), fmt, float(max_wav_seconds))


def audio_html(path: str | os.PathLike[str] | None, *, fmt: str = "auto", preload: str = "metadata",
               width: str = "100%", label: str = "") -> str:
    """An ``<audio controls>`` element with the clip embedded (or a short note when there is none).

    Example:
        >>> audio_html("data/reference/en_us_ljspeech_LJ001-0001.wav").startswith("<audio")
        True
    """
    if path is None or _is_na(path) or not os.path.exists(str(path)):
        return f'<div style="color:#6e7781;font-style:italic">no audio{" — " + esc(label) if label else ""}</div>'
    try:
        uri = audio_data_uri(str(path), fmt)
    except Exception as exc:
        log.warning("could not embed audio %s", path, exc_info=True)
        return f'<div style="color:#cf222e">audio could not be embedded: {esc(exc)}</div>'
    title = f' title="{esc(label)}"' if label else ""
    return (f'<audio controls preload="{esc(preload)}"{title} style="width:{width};min-width:160px;height:32px" '
            f'src="{uri}"></audio>')


# -- spectrograms ---------------------------------------------------------------------------------

def analysis_available() -> bool:
    """True when matplotlib and librosa can be imported (the ``[analysis]`` extra)."""
    try:
        import librosa  # noqa: F401
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _figure(size: tuple[float, float]) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def figure_png(fig: Any, dpi: int = 72) -> str:
    """A Matplotlib figure as a base64 PNG string."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return base64.b64encode(buf.getvalue()).decode("ascii")


@lru_cache(maxsize=128)
def _spectrogram_cached(path: str, stamp: tuple[int, int], max_tokens: int | None, vmin: float | None,
                        vmax: float | None, size: tuple[float, float], dpi: int) -> str:
    from zonos_lab.analysis.plots import spectrogram

    fig = _figure(size)
    ax = fig.add_subplot()
    spectrogram(path, ax=ax, max_tokens=max_tokens, vmin=vmin, vmax=vmax, title="")
    ax.tick_params(labelsize=8)
    ax.xaxis.label.set_size(8)
    ax.yaxis.label.set_size(8)
    return figure_png(fig, dpi)


def spectrogram_png(path: str, *, max_tokens: int | None = None, vmin: float | None = None,
                    vmax: float | None = None, size: tuple[float, float] = (6.4, 2.0), dpi: int = 72) -> str:
    """A mel spectrogram (via `zonos_lab.analysis.plots.spectrogram`) as a base64 PNG string.

    Raises:
        MissingExtra: when matplotlib or librosa is not installed.
    """
    if not analysis_available():
        from zonos_lab.errors import MissingExtra

        raise MissingExtra("spectrograms", "analysis", "matplotlib/librosa")
    p = str(path)
    return _spectrogram_cached(p, _stamp(p), max_tokens, vmin, vmax, tuple(size), int(dpi))


def _spectrogram_block(path: str, max_tokens: int | None) -> str:
    if not analysis_available():
        return f'<div style="color:#6e7781;font-size:11px">{esc(ANALYSIS_NOTE)}</div>'
    try:
        png = spectrogram_png(path, max_tokens=max_tokens)
    except Exception as exc:  # a broken file must not break the whole display
        log.warning("spectrogram failed for %s", path, exc_info=True)
        return f'<div style="color:#cf222e;font-size:11px">spectrogram failed: {esc(exc)}</div>'
    return (f'<img alt="mel spectrogram" style="max-width:100%;display:block;margin-top:4px" '
            f'src="data:image/png;base64,{png}"/>')


# -- tables ---------------------------------------------------------------------------------------

def _fmt(value: Any) -> str:
    if _is_na(value):
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    if hasattr(value, "isoformat"):
        return value.isoformat(sep=" ", timespec="seconds") if hasattr(value, "hour") else value.isoformat()
    return str(value)


def table_html(rows: Iterable[dict[str, Any]], columns: list[str], *, max_rows: int = 50,
               cell_style: str = "padding:2px 8px;border-bottom:1px solid #eaeef2;text-align:left") -> str:
    """A small, plain HTML table (no index) of the given columns."""
    rows = list(rows)
    head = "".join(f'<th style="{cell_style}">{esc(c)}</th>' for c in columns)
    body = []
    for row in rows[:max_rows]:
        cells = []
        for c in columns:
            v = row.get(c)
            text = esc(_fmt(v))
            if c == "status" and not _is_na(v):
                text = f'<span style="color:{_STATUS_COLOURS.get(str(v), "#24292f")}">{text}</span>'
            cells.append(f'<td style="{cell_style}">{text}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = (f'<div style="color:#6e7781;font-size:11px">… {len(rows) - max_rows} more rows</div>'
            if len(rows) > max_rows else "")
    return (f'<table style="border-collapse:collapse;font-size:12px"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table>{more}')


# -- takes ----------------------------------------------------------------------------------------

def errors_in_words(exc: BaseException) -> str:
    """A one-paragraph, traceback-free description of an error, with what to do next."""
    from zonos_lab.errors import ZonosError

    if isinstance(exc, ZonosError):
        return str(exc)
    name = type(exc).__name__
    return f"{name}: {exc}" if str(exc) else name


def _take_fields(take: Any) -> list[tuple[str, str]]:
    p = take.params
    mt = p.max_tokens
    fields: list[tuple[str, str]] = [
        ("mode", p.mode),
        ("language", p.language),
        ("seed", "random (not sent)" if p.seed is None else str(p.seed)),
        ("temperature", _fmt(p.temperature)),
        ("top_p", _fmt(p.top_p) + (" (off)" if p.top_p == 0 else "")),
        ("min_p", _fmt(p.min_p)),
        ("top_k", str(p.top_k) + (" (off)" if p.top_k < 1 else "")),
        ("max_tokens", "service default" if mt is None else f"{mt} frames ({frames_to_seconds(mt):.2f} s)"),
        ("clean background", "yes" if p.clean_speaker_background else "no"),
        ("duration", "" if _val(take.duration) is None else f"{float(take.duration):.2f} s"),
        ("status", take.status),
    ]
    ref = _val(take.reference) or p.reference_audio_url
    fields.append(("reference", os.path.basename(str(ref)) if ref else ""))
    total, queued = _val(take.total_seconds), _val(take.queue_seconds)
    if total is not None:
        fields.append(("time", f"{float(total):.2f} s" + (f" (queued {float(queued):.2f} s)" if queued is not None
                                                          else "")))
    if _val(take.request_id):
        fields.append(("request id", str(take.request_id)))
    if _val(take.model_id):
        fields.append(("model", str(take.model_id)))
    return fields


def take_html(take: Any, *, fmt: str = "auto", spectrogram: bool = True) -> str:
    """HTML for one take: player (embedded audio), mel spectrogram and key fields.

    A failed take shows its error; an emulator take carries an EMULATOR badge.

    Example:
        >>> from zonos_lab import Take, GenerationParams
        >>> t = Take(GenerationParams(reference_audio_url="https://x.org/a.wav", seed=3), take_id="t1",
        ...          status="FAILED", error="reference audio could not be fetched")
        >>> "could not be fetched" in take_html(t)
        True
    """
    status = str(take.status)
    head = [f'<b style="font-size:13px">{esc(_val(take.take_id) or "take")}</b>&nbsp;',
            badge(status, _STATUS_COLOURS.get(status, "#57606a")), badge(take.params.mode, "#0969da")]
    if str(take.backend) == "emulator" or "emulator" in str(_val(take.model_id) or ""):
        head.append(emulator_badge())
    parts = [f'<div class="zonos-take" style="{_CSS_BOX}">', "<div>" + "".join(head) + "</div>",
             f'<div style="margin:4px 0 6px 0">“{esc(take.params.text[:400])}'
             f'{"…" if len(take.params.text) > 400 else ""}”</div>']
    error = _val(take.error)
    if error:
        parts.append(f'<div style="color:#cf222e;margin-bottom:4px"><b>Error:</b> {esc(error)}</div>')
    audio_path = _val(take.audio_path)
    if audio_path and os.path.exists(str(audio_path)):
        parts.append(audio_html(audio_path, fmt=fmt, label=str(_val(take.take_id) or "")))
        if spectrogram:
            parts.append(_spectrogram_block(str(audio_path), take.params.max_tokens))
    elif status == "COMPLETED":
        parts.append(f'<div style="color:#9a6700">audio file missing: {esc(audio_path)}</div>')
    else:
        parts.append(f'<div style="color:#6e7781;font-style:italic">no audio (status {esc(status)})</div>')
    cells = "".join(f'<tr><td style="color:#57606a;padding:0 10px 0 0">{esc(k)}</td><td>{esc(v)}</td></tr>'
                    for k, v in _take_fields(take) if v)
    parts.append(f'<table style="font-size:12px;margin-top:6px;border-collapse:collapse">{cells}</table>')
    parts.append("</div>")
    return "".join(parts)


# -- sweeps ---------------------------------------------------------------------------------------

def varying_columns(df: Any, candidates: Iterable[str] | None = None) -> list[str]:
    """Request columns whose value differs between rows (what a sweep swept)."""
    cands = list(candidates) if candidates is not None else [
        "text", "reference", "language", "mode", "clean_speaker_background", "temperature", "top_p", "min_p",
        "top_k", "max_tokens", "seed"]
    out = []
    for c in cands:
        if c in df.columns:
            try:
                n = df[c].astype(str).nunique(dropna=True)
            except Exception:
                n = 0
            if n > 1:
                out.append(c)
    return out


def status_counts(df: Any) -> dict[str, int]:
    """Takes per status, in `TAKE_STATUSES` order."""
    from zonos_lab.take import TAKE_STATUSES

    if df is None or len(df) == 0 or "status" not in df.columns:
        return {}
    counts = df["status"].astype(str).value_counts().to_dict()
    return {s: int(counts[s]) for s in (*TAKE_STATUSES, *sorted(set(counts) - set(TAKE_STATUSES))) if s in counts}


def progress_html(done: int, total: int, counts: dict[str, int]) -> str:
    """A progress bar with per-status counts."""
    pct = 100.0 * done / total if total else 0.0
    chips = " ".join(badge(f"{k} {v}", _STATUS_COLOURS.get(k, "#57606a")) for k, v in counts.items())
    return (f'<div><progress value="{done}" max="{max(total, 1)}" style="width:260px;vertical-align:middle">'
            f'</progress> <b>{done}/{total}</b> ({pct:.0f}%) {chips}</div>')


def _sweep_results(sweep: Any) -> Any:
    import pandas as pd

    if isinstance(sweep, pd.DataFrame):
        return sweep
    try:
        res = sweep.results
    except Exception:  # a sweep that has not planned its trials yet
        log.debug("sweep.results unavailable", exc_info=True)
        return pd.DataFrame()
    return res if isinstance(res, pd.DataFrame) else pd.DataFrame(res)


def sweep_html(sweep: Any, *, max_rows: int = 40) -> str:
    """HTML for a sweep (or a results table): name, backend, progress by status, a summary table.

    Example:
        >>> import pandas as pd
        >>> "2/2" in sweep_html(pd.DataFrame({"take_id": ["a", "b"], "status": ["COMPLETED", "FAILED"]}))
        True
    """
    from zonos_lab.take import TERMINAL_STATUSES

    df = _sweep_results(sweep)
    spec = getattr(sweep, "spec", None)
    name = getattr(spec, "name", None) or getattr(sweep, "name", None) or "sweep"
    run_dir = getattr(sweep, "run_dir", None)
    counts = status_counts(df)
    total = len(df)
    done = sum(v for k, v in counts.items() if k in TERMINAL_STATUSES)
    head = [f'<b style="font-size:14px">{esc(name)}</b>&nbsp;']
    backends = set(df["backend"].dropna().astype(str)) if "backend" in df.columns else set()
    if "emulator" in backends or getattr(sweep, "backend", None) == "emulator":
        head.append(emulator_badge())
    running = getattr(sweep, "done", None)
    if running is False:
        head.append(badge("running", "#0969da"))
    parts = [f'<div class="zonos-sweep" style="{_CSS_BOX}">', "<div>" + "".join(head) + "</div>"]
    if run_dir:
        parts.append(f'<div style="color:#57606a;font-size:11px">run directory: {esc(run_dir)}</div>')
    parts.append(progress_html(done, total, counts))
    stopped = getattr(sweep, "stopped_reason", None)
    if stopped:
        parts.append(f'<div style="color:#9a6700">stopped: {esc(stopped)}</div>')
    if total:
        varying = varying_columns(df)
        cols = ["take_id", *[c for c in varying if c != "text"], "status", "duration"]
        if "seed" not in cols and "seed" in df.columns:
            cols.insert(1, "seed")
        if "error" in df.columns and df["error"].notna().any():
            cols.append("error")
        cols = [c for c in cols if c in df.columns]
        summary = _group_summary(df, [c for c in varying if c not in ("seed", "text")])
        if summary:
            parts.append('<div style="margin-top:6px"><b>By setting</b></div>' + summary)
        parts.append('<details style="margin-top:6px"><summary>Takes</summary>'
                     + table_html(df.to_dict("records"), cols, max_rows=max_rows) + "</details>")
    parts.append("</div>")
    return "".join(parts)


def _group_summary(df: Any, by: list[str]) -> str:
    if not by or "status" not in df.columns:
        return ""
    import pandas as pd

    d = df.copy()
    d["_ok"] = d["status"].astype(str) == "COMPLETED"
    agg: dict[str, Any] = {"takes": ("status", "size"), "completed": ("_ok", "sum")}
    if "duration" in d.columns:
        d["duration"] = pd.to_numeric(d["duration"], errors="coerce")
        agg["mean duration (s)"] = ("duration", "mean")
    by = [b for b in by if b in d.columns][:3]
    if not by:
        return ""
    for b in by:
        d[b] = d[b].astype(str)
    g = d.groupby(by, sort=True, observed=True).agg(**agg).reset_index()
    return table_html(g.to_dict("records"), list(g.columns), max_rows=60)
