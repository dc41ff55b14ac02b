"""`reproduce`: re-run a run's takes (same requests, same seeds, same backend) and compare the audio.

On the emulator every take should come back byte-identical; on the real service batching can change
the audio for the same seed — this measures by how much.

Example:
    >>> res = reproduce("runs/study")          # doctest: +SKIP
    >>> print(res.summary)                     # doctest: +SKIP
    8 of 8 takes identical (…)
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from zonos_lab.errors import InvalidParameter
from zonos_lab.report.rundir import RunDir

__all__ = ["COMPARISON_COLUMNS", "ReproduceResult", "compare_runs", "pcm_sha256", "reproduce"]

#: First columns of ``comparison.csv`` (metric deltas ``delta_<metric>`` follow).
COMPARISON_COLUMNS: tuple[str, ...] = (
    "take_id", "status_old", "status_new", "identical", "identical_file", "sha256_old", "sha256_new",
    "pcm_sha256_old", "pcm_sha256_new", "mel_distance_db", "duration_old_s", "duration_new_s", "duration_delta_s",
)


@dataclass
class ReproduceResult:
    """What `reproduce` found.

    Attributes:
        table: one row per take (`COMPARISON_COLUMNS` + ``delta_<metric>``), also in ``comparison.csv``.
        summary: a short text (identical count, distances, metric delta spread).
        run_dir: the new run directory; ``old_run_dir`` the reproduced one.
        report: the new run's ``report.html`` (None when not written).
    """

    table: pd.DataFrame
    summary: str
    run_dir: Path
    old_run_dir: Path
    report: Path | None = None
    metric_spread: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def n_identical(self) -> int:
        """Takes whose audio samples came back identical."""
        return int(self.table["identical"].fillna(False).astype(bool).sum())

    @property
    def all_identical(self) -> bool:
        """True when every take has audio in both runs and the samples are identical."""
        return bool(len(self.table)) and self.n_identical == len(self.table)

    def __repr__(self) -> str:
        return f"ReproduceResult({self.summary!r}, run_dir={str(self.run_dir)!r})"


def pcm_sha256(path: str | os.PathLike[str]) -> str:
    """sha256 of the decoded samples (ignores WAV metadata such as timestamps or request ids).

    Example:
        >>> pcm_sha256("runs/x/audio/t1.wav")[:12]   # doctest: +SKIP
    """
    from zonos_lab.audio import decode_audio

    y, sr = decode_audio(path, mono=False)
    h = hashlib.sha256(f"{sr}:{y.shape}".encode())
    h.update(np.ascontiguousarray(y).tobytes())
    return h.hexdigest()


def _num(v: Any) -> float:
    """A float (booleans as 0/1), NaN when missing or not a number."""
    try:
        return np.nan if v is None or pd.isna(v) else float(v)
    except (TypeError, ValueError):
        return np.nan


def _has_audio(row: dict[str, Any]) -> bool:
    p = row.get("audio_path")
    ok = isinstance(p, str) and bool(p) and Path(p).is_file()
    return ok and str(row.get("status", "COMPLETED")) == "COMPLETED"


def compare_runs(old: pd.DataFrame, new: pd.DataFrame, metrics: Iterable[str] = ()) -> pd.DataFrame:
    """Per take (joined on ``take_id``): identical or not, hashes, log-mel distance, duration and metric deltas.

    ``identical`` compares the decoded samples (``identical_file`` the files byte for byte); the
    log-mel distance (dB, DTW-aligned, `zonos_lab.analysis.mel_distance`) is 0 for identical audio.
    Takes missing audio on either side get NA.
    """
    from zonos_lab.analysis.repeats import log_mel, mel_distance

    metrics = [m for m in metrics if m in old.columns and m in new.columns]
    new_by_id = {str(r["take_id"]): r for r in new.to_dict("records")}
    rows = []
    for o in old.to_dict("records"):
        tid = str(o["take_id"])
        n = new_by_id.get(tid, {})
        row: dict[str, Any] = {"take_id": tid, "status_old": o.get("status"), "status_new": n.get("status", "MISSING")}
        row.update(identical=pd.NA, identical_file=pd.NA, sha256_old=None, sha256_new=None, pcm_sha256_old=None,
                   pcm_sha256_new=None, mel_distance_db=np.nan, duration_old_s=np.nan, duration_new_s=np.nan,
                   duration_delta_s=np.nan)
        have_old, have_new = _has_audio(o), bool(n) and _has_audio(n)
        from zonos_lab.audio import decode_audio, sha256_file

        if have_old:
            row["sha256_old"] = sha256_file(o["audio_path"])
            row["pcm_sha256_old"] = pcm_sha256(o["audio_path"])
            y, sr = decode_audio(o["audio_path"])
            row["duration_old_s"] = len(y) / sr
        if have_new:
            row["sha256_new"] = sha256_file(n["audio_path"])
            row["pcm_sha256_new"] = pcm_sha256(n["audio_path"])
            y, sr = decode_audio(n["audio_path"])
            row["duration_new_s"] = len(y) / sr
        if have_old and have_new:
            row["identical_file"] = row["sha256_old"] == row["sha256_new"]
            row["identical"] = row["pcm_sha256_old"] == row["pcm_sha256_new"]
            row["duration_delta_s"] = row["duration_new_s"] - row["duration_old_s"]
            row["mel_distance_db"] = 0.0 if row["identical"] else mel_distance(
                log_mel(o["audio_path"]), log_mel(n["audio_path"]))
        for m in metrics:
            a, b = _num(o.get(m)), _num(n.get(m)) if n else np.nan
            row[f"delta_{m}"] = b - a
        rows.append(row)
    out = pd.DataFrame(rows)
    for col in ("identical", "identical_file"):
        out[col] = out[col].astype("boolean")
    return out


def _spread(table: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for col in [c for c in table.columns if c.startswith("delta_")]:
        d = pd.to_numeric(table[col], errors="coerce").dropna()
        if len(d):
            rows.append({"metric": col[len("delta_"):], "n": len(d), "mean_delta": float(d.mean()),
                         "std_delta": float(d.std(ddof=1)) if len(d) > 1 else np.nan,
                         "max_abs_delta": float(d.abs().max())})
    return pd.DataFrame(rows, columns=["metric", "n", "mean_delta", "std_delta", "max_abs_delta"])


def _summary(table: pd.DataFrame, spread: pd.DataFrame) -> str:
    n = len(table)
    both = table["identical"].notna()
    same = int(table["identical"].fillna(False).astype(bool).sum())
    text = f"{same} of {n} takes identical"
    if int(both.sum()) < n:
        text += f" ({n - int(both.sum())} without audio in one of the runs)"
    diff = table[both & ~table["identical"].fillna(False).astype(bool)]
    if len(diff):
        d = diff["mel_distance_db"].astype(float)
        text += (f"; {len(diff)} different: log-mel distance median {d.median():.2f} dB, max {d.max():.2f} dB, "
                 f"duration delta up to {diff['duration_delta_s'].abs().max():.3f} s")
    if len(spread):
        moved = spread[spread["max_abs_delta"] > 0]
        if len(moved):
            parts = [f"{r.metric} {r.mean_delta:+.3g}±{(r.std_delta if pd.notna(r.std_delta) else 0):.2g}"
                     for r in moved.head(4).itertuples()]
            text += "; metric deltas (mean±sd): " + ", ".join(parts)
    return text + "."


def _scored(run: RunDir, metrics: Any) -> pd.DataFrame:
    results = run.results()
    if metrics is None:
        return results
    from zonos_lab.report.html import scored_results

    return scored_results(run, results, metrics)[0]


def reproduce(run_dir: str | os.PathLike[str], out: str | os.PathLike[str] | None = None, *,
              progress: bool = True, emulator: Any = None, api_key: str | None = None,
              base_url: str | None = None, metrics: Any = "core", report: bool = True,
              concurrency: int | None = None) -> ReproduceResult:
    """Re-run every take of a run (same requests and seeds, recorded backend) and compare the audio.

    A new run directory is written (its manifest says ``"reproduces": <old run dir>``) with
    ``comparison.csv``: per take identical / different, file and sample sha256s, log-mel distance,
    duration delta and metric deltas; its report links back to the old run.

    Args:
        run_dir: the run to reproduce.
        out: the new run directory (default ``<run_dir>-repro-<timestamp>`` next to it; must not hold a run).
        progress: show progress bars.
        emulator: an `Emulator` to use when the run was made on the emulator (default: a new in-process
            one with the default configuration, stopped afterwards).
        api_key, base_url: for a cloud run (default: ``PIXAZO_API_KEY`` / ``PIXAZO_BASE_URL``); the key is
            never written anywhere.
        metrics: analysis metrics whose deltas to report (None for none).
        report: also write the new run's ``report.html``.
        concurrency: takes in flight (default: as recorded).

    Returns:
        A `ReproduceResult`.

    Raises:
        InvalidParameter: when `run_dir` is not a run, `out` already holds a run, the spec no longer expands
            to the recorded requests, or a cloud run has no key.

    Example:
        >>> res = reproduce("runs/study", out="runs/study-again")   # doctest: +SKIP
        >>> res.all_identical                                       # doctest: +SKIP
        True
    """
    from zonos_lab.sweep import Sweep

    old = RunDir(run_dir)
    manifest = old.manifest
    new_dir = Path(out) if out is not None else old.path.parent / (
        f"{old.path.name}-repro-{datetime.now().strftime('%Y%m%d-%H%M%S')}")
    new_dir = new_dir.resolve()
    if new_dir == old.path:
        raise InvalidParameter("out", str(out), "a directory other than the run being reproduced")
    if (new_dir / "manifest.json").exists() or (new_dir / "journal.sqlite").exists():
        raise InvalidParameter("out", str(new_dir), "a new (or empty) directory: this one already holds a run")
    backend = manifest.get("backend") or "emulator"
    opts = manifest.get("options") or {}
    kwargs: dict[str, Any] = {"progress": progress, "reproduces": str(old.path),
                              "concurrency": int(concurrency or opts.get("concurrency") or 4),
                              "price_per_take": manifest.get("price_per_take")}
    if opts.get("take_timeout"):
        kwargs["take_timeout"] = float(opts["take_timeout"])
    own_emulator = None
    if backend == "emulator" and base_url is None:
        if emulator is None:
            from zonos_lab.emulator import Emulator

            own_emulator = emulator = Emulator().start()
        kwargs.update(base_url=emulator.base_url, api_key=emulator.api_key)
    else:
        key = api_key or os.environ.get("PIXAZO_API_KEY")
        if backend != "emulator" and not key:
            raise InvalidParameter("api_key", None, "a key for the cloud backend (api_key= or PIXAZO_API_KEY)",
                                   f"run {old.path.name} was made on the {backend} backend")
        kwargs.update(base_url=base_url or os.environ.get("PIXAZO_BASE_URL") or manifest.get("endpoint"),
                      api_key=key)
    try:
        sweep = Sweep(manifest["spec"], new_dir, **kwargs)
        _check_trials(sweep, manifest)
        new_dir.mkdir(parents=True, exist_ok=True)
        if (old.path / "references").is_dir():  # local references travel with the run
            shutil.copytree(old.path / "references", new_dir / "references", dirs_exist_ok=True)
        sweep.manifest = {"references": manifest.get("references") or {}}
        sweep.run()
    finally:
        if own_emulator is not None:
            own_emulator.stop()
    new = RunDir(new_dir)
    old_scored, new_scored = _scored(old, metrics), _scored(new, metrics)
    metric_cols: list[str] = []
    if metrics is not None:
        from zonos_lab.analysis.metrics import metric_columns

        metric_cols = [c for c in metric_columns(metrics) if c not in ("sample_rate", "rate_unit")]
    table = compare_runs(old_scored, new_scored, metric_cols)
    from zonos_lab.audio import atomic_write_bytes

    atomic_write_bytes(new_dir / "comparison.csv", table.to_csv(index=False).encode("utf-8"))
    spread = _spread(table)
    summary = _summary(table, spread)
    path = None
    if report:
        from zonos_lab.report.html import write_report

        path = write_report(new_dir, metrics=metrics)
    return ReproduceResult(table=table, summary=summary, run_dir=new_dir, old_run_dir=old.path, report=path,
                           metric_spread=spread)


def _check_trials(sweep: Any, manifest: dict[str, Any]) -> None:
    """The spec must expand to the recorded takes (same ids, same request fields and seeds)."""
    recorded = {t["take_id"]: t.get("request") or {} for t in manifest.get("trials", [])}
    planned = {t.take_id: t.request() for t in sweep.trials}
    if set(recorded) != set(planned):
        missing = sorted(set(recorded) - set(planned))[:3]
        raise InvalidParameter("run_dir", str(sweep.run_dir), "a run whose spec expands to its recorded takes",
                               f"the spec no longer gives the recorded take ids (e.g. {missing})")
    for tid, req in recorded.items():
        a = {k: v for k, v in req.items() if k != "reference_audio_url"}
        b = {k: v for k, v in planned[tid].items() if k != "reference_audio_url"}
        if a != b:
            raise InvalidParameter("run_dir", str(sweep.run_dir), "a run whose spec expands to its recorded takes",
                                   f"take {tid}: recorded {a} but the spec now gives {b}")
