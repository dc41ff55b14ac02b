"""The results table of a sweep: one row per take, proper dtypes, saved as parquet + CSV.

Columns follow `zonos_lab.take.RESULT_COLUMNS` (take id, every request field, mode, reference and its
hash, status, ids, timestamps, timings, audio path, duration, sample rate, sha256, backend, model id),
then any extra coordinate (e.g. ``repeat``). Dtypes: categoricals for ``mode`` and ``language``,
UTC datetimes, nullable ``Int64`` for ``top_k`` / ``max_tokens`` / ``seed`` / ``sample_rate``.

In memory ``audio_path`` and ``reference_path`` are absolute; on disk they are relative to the run
directory, so a copied run directory still works (`read_results`).

Example:
    >>> import pandas as pd
    >>> df = normalize_results(pd.DataFrame([{"take_id": "t1", "seed": 3, "accurate_mode": True}]))
    >>> str(df["seed"].dtype), str(df["mode"].dtype), df.loc[0, "mode"]
    ('Int64', 'category', 'accurate')
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from zonos_lab.params import FIELD_SPECS, LANGUAGES, mode_label
from zonos_lab.take import RESULT_COLUMNS, Take

__all__ = ["INT_COLUMNS", "PATH_COLUMNS", "normalize_results", "read_results", "results_frame", "rows_to_takes",
           "write_results"]

INT_COLUMNS = ("top_k", "max_tokens", "seed", "sample_rate")
FLOAT_COLUMNS = ("temperature", "top_p", "min_p", "queue_seconds", "total_seconds", "duration")
BOOL_COLUMNS = ("accurate_mode", "clean_speaker_background")
TIME_COLUMNS = ("submitted_at", "completed_at")
PATH_COLUMNS = ("audio_path", "reference_path")
MODE_CATEGORIES = ("accurate", "expressive")
STR_COLUMNS = ("take_id", "reference_audio_url", "text", "reference", "reference_sha256", "status",
               "request_id", "error", "sha256", "backend", "model_id")


def _abs(run_dir: Path, value: Any) -> Any:
    if value is None or (isinstance(value, float) and value != value) or value is pd.NA:
        return None
    p = Path(str(value))
    return str(p if p.is_absolute() else (run_dir / p))


def rows_to_takes(rows: Iterable[Mapping[str, Any]], run_dir: Path, backend: str | None = None) -> list[Take]:
    """Journal rows → `Take` objects (absolute paths; `backend` for rows that never reached the server)."""
    takes = []
    for r in rows:
        request = json.loads(r["request"])
        from zonos_lab.params import GenerationParams

        params = GenerationParams(**request)
        coords = json.loads(r["coords"]) if r.get("coords") else {}
        extra = {k: v for k, v in coords.items() if k not in FIELD_SPECS and k not in ("reference", "mode")}
        takes.append(Take(
            params=params, take_id=r["take_id"], reference=r.get("reference"),
            reference_path=_abs(run_dir, r.get("reference_path")), reference_sha256=r.get("reference_sha256"),
            status=r["status"], request_id=r.get("request_id"), error=r.get("error"),
            submitted_at=_ts(r.get("submitted_at")), completed_at=_ts(r.get("completed_at")),
            queue_seconds=r.get("queue_seconds"), total_seconds=r.get("total_seconds"),
            audio_path=_abs(run_dir, r.get("audio_path")), duration=r.get("duration"),
            sample_rate=r.get("sample_rate"), sha256=r.get("sha256"), backend=r.get("backend") or backend or "cloud",
            model_id=r.get("model_id"), metrics=extra))
    return takes


def _ts(value: Any) -> Any:
    if not value:
        return None
    ts = pd.Timestamp(value)
    if ts.tzinfo is None:
        ts = ts.tz_localize("UTC")
    return ts.to_pydatetime()


def results_frame(takes: Iterable[Take]) -> pd.DataFrame:
    """A results DataFrame from takes (coordinates beyond the request fields become extra columns)."""
    rows = [t.to_row() for t in takes]
    return normalize_results(pd.DataFrame(rows) if rows else pd.DataFrame(columns=list(RESULT_COLUMNS)))


def normalize_results(df: pd.DataFrame) -> pd.DataFrame:
    """Give a results table its columns (RESULT_COLUMNS first, then extras) and dtypes."""
    df = df.copy()
    if "mode" not in df.columns and "accurate_mode" in df.columns:
        df["mode"] = [None if v is None or v is pd.NA or v != v else mode_label(bool(v)) for v in df["accurate_mode"]]
    for col in RESULT_COLUMNS:
        if col not in df.columns:
            df[col] = None
    extras = [c for c in df.columns if c not in RESULT_COLUMNS]
    df = df[[*RESULT_COLUMNS, *extras]]
    for col in INT_COLUMNS:
        df[col] = pd.array([None if _missing(v) else int(v) for v in df[col]], dtype="Int64")
    for col in FLOAT_COLUMNS:
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
    for col in BOOL_COLUMNS:
        vals = [None if _missing(v) else bool(v) for v in df[col]]
        df[col] = pd.array(vals, dtype="boolean") if any(v is None for v in vals) else pd.array(vals, dtype=bool)
    for col in TIME_COLUMNS:
        df[col] = pd.to_datetime(df[col], utc=True, errors="coerce", format="ISO8601")
    df["mode"] = pd.Categorical(df["mode"], categories=list(MODE_CATEGORIES))
    langs = [v for v in LANGUAGES if v in set(df["language"].dropna())]
    df["language"] = pd.Categorical(df["language"], categories=langs or None)
    for col in (*STR_COLUMNS, *PATH_COLUMNS):
        df[col] = pd.array([None if _missing(v) else str(v) for v in df[col]], dtype="string")
    return df.reset_index(drop=True)


def _missing(v: Any) -> bool:
    if v is None or v is pd.NA:
        return True
    try:
        return bool(v != v)
    except (TypeError, ValueError):
        return False


def _relative(value: Any, run_dir: Path) -> Any:
    if _missing(value):
        return None
    p = Path(str(value))
    if not p.is_absolute():
        return p.as_posix()
    try:
        return Path(os.path.relpath(p, run_dir)).as_posix()
    except ValueError:  # another drive (Windows)
        return str(p)


def write_results(df: pd.DataFrame, run_dir: str | Path) -> tuple[Path, Path]:
    """Save ``results.parquet`` and ``results.csv`` in `run_dir` (paths made relative to it), atomically."""
    from zonos_lab.audio import atomic_write_bytes

    run_dir = Path(run_dir)
    out = df.copy()
    for col in PATH_COLUMNS:
        if col in out.columns:
            out[col] = pd.array([_relative(v, run_dir) for v in out[col]], dtype="string")
    import io

    buf = io.BytesIO()
    out.to_parquet(buf, index=False)
    pq = atomic_write_bytes(run_dir / "results.parquet", buf.getvalue())
    csv = atomic_write_bytes(run_dir / "results.csv", out.to_csv(index=False).encode("utf-8"))
    return pq, csv


def read_results(run_dir: str | Path) -> pd.DataFrame:
    """Read ``results.parquet`` (or the CSV) back with absolute paths and proper dtypes.

    Example: ``df = read_results("runs/study")``
    """
    run_dir = Path(run_dir).resolve()
    pq, csv = run_dir / "results.parquet", run_dir / "results.csv"
    if pq.exists():
        df = pd.read_parquet(pq)
    elif csv.exists():
        df = pd.read_csv(csv, keep_default_na=True)
    else:
        raise FileNotFoundError(f"no results.parquet or results.csv in {run_dir}")
    for col in PATH_COLUMNS:
        if col in df.columns:
            df[col] = [_abs(run_dir, v) if not _missing(v) else None for v in df[col]]
    return normalize_results(df)
