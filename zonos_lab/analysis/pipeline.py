"""`analyze`: add metric columns to a results table, cached by audio content, optionally in parallel.

Example:
    >>> from zonos_lab.analysis import analyze                       # doctest: +SKIP
    >>> scored = analyze(results, metrics="core", cache_dir="/tmp/zl")  # doctest: +SKIP
    >>> scored[["take_id", "loudness_lufs", "dnsmos_ovrl"]]             # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import importlib
import json
import multiprocessing
import os
import warnings
from collections.abc import Iterable, Mapping
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from zonos_lab.analysis.frame import audio_ok, is_na, prepare
from zonos_lab.analysis.metrics import METRICS, require, resolve_metrics

__all__ = ["COMPUTE", "TakeJob", "analyze", "compute_take"]

#: metric name → "module:function" computing it (resolved at call time, so it can be patched).
COMPUTE: dict[str, str] = {
    "signal": "zonos_lab.analysis.metrics_core:compute_signal",
    "loudness": "zonos_lab.analysis.metrics_core:compute_loudness",
    "vad": "zonos_lab.analysis.metrics_core:compute_vad",
    "f0": "zonos_lab.analysis.metrics_core:compute_f0",
    "dnsmos": "zonos_lab.analysis.metrics_core:compute_dnsmos",
    "dnsmos_p808": "zonos_lab.analysis.metrics_core:compute_dnsmos_p808",
    "speaker": "zonos_lab.analysis.metrics_speaker:compute_speaker",
    "asr": "zonos_lab.analysis.metrics_asr:compute_asr",
}

_ERROR = "__error__"


@dataclass(frozen=True)
class TakeJob:
    """The work for one take: which metrics, on which file, with what context (picklable)."""

    row: Any
    audio_path: str
    metrics: tuple[str, ...]
    context: dict[str, Any] = field(default_factory=dict)


def _function(name: str) -> Any:
    module, func = COMPUTE[name].split(":")
    return getattr(importlib.import_module(module), func)


def compute_take(job: TakeJob) -> dict[str, dict[str, Any]]:
    """Decode the take once and compute each requested metric (errors are returned, not raised).

    Example:
        >>> compute_take(TakeJob(0, "data/reference/en_us_jfk.flac", ("signal",)))["signal"]["sample_rate"]  # doctest: +SKIP
        44100
    """
    from zonos_lab.analysis.metrics_core import Clip

    try:
        clip = Clip.load(job.audio_path)
    except Exception as exc:  # undecodable file: every metric is NA, with the reason
        return {m: {_ERROR: f"{type(exc).__name__}: {exc}"} for m in job.metrics}
    out: dict[str, dict[str, Any]] = {}
    for name in job.metrics:
        try:
            out[name] = dict(_function(name)(clip, job.context))
        except Exception as exc:
            out[name] = {_ERROR: f"{type(exc).__name__}: {exc}"}
    return out


def _context(row: Mapping[str, Any]) -> dict[str, Any]:
    ctx: dict[str, Any] = {}
    for key in ("text", "language", "max_tokens", "reference_path", "reference_sha256"):
        value = row.get(key)
        ctx[key] = None if is_na(value) else (int(value) if key == "max_tokens" else str(value))
    ctx["has_reference"] = ctx["reference_path"] is not None  # a reference found later must not hit a cached NA
    return ctx


def _cache_key(sha: str, name: str, ctx: Mapping[str, Any]) -> str:
    metric = METRICS[name]
    inputs = json.dumps({k: ctx.get(k) for k in metric.inputs}, sort_keys=True, ensure_ascii=False)
    digest = hashlib.sha1(inputs.encode()).hexdigest()[:16] if metric.inputs else "-"
    return f"{sha}:{name}:v{metric.version}:{digest}"


_TEXT_COLUMNS = frozenset({"asr_text", "rate_unit"})
_INT_COLUMNS = frozenset({"sample_rate", "frames"})


def _typed(values: list[Any], column: str) -> Any:
    """A column array: boolean / Int64 / object for text / float64 (NaN for NA)."""
    if column == "truncated":
        return pd.array(values, dtype="boolean")
    if column in _INT_COLUMNS:
        return pd.array([None if v is None else int(v) for v in values], dtype="Int64")
    if column in _TEXT_COLUMNS:
        return pd.array(values, dtype=object)
    return pd.array([float("nan") if v is None else float(v) for v in values], dtype="float64")


def analyze(results: pd.DataFrame, metrics: str | Iterable[str] = "core", executor: Executor | int | None = None,
            cache_dir: str | os.PathLike[str] | None = None, progress: bool = True) -> pd.DataFrame:
    """A copy of `results` with metric columns added (see `metric_columns()` for names and units).

    Args:
        results: a takes table (at least ``audio_path``, ``text``, ``reference``, ``language``).
        metrics: ``"core"`` (signal, loudness, vad, f0, dnsmos), ``"fast"`` (core without DNSMOS),
            ``"all"``, or a list of metric / set names (``"speaker"``, ``"asr"``, …).
        executor: None runs in this process, one take after another; an int starts that many worker
            processes; any `concurrent.futures.Executor` (ProcessPoolExecutor, a Dask client's
            ``get_executor()``) is used as given.
        cache_dir: folder of the persistent cache (default ``$ZONOS_LAB_CACHE`` or ``~/.cache/zonos-lab``).
            Values are keyed by audio sha256 + metric + version (+ text/language/max_tokens/reference
            where the metric depends on them): re-analysing an unchanged take computes nothing.
        progress: show a tqdm progress bar over the takes computed.

    Returns:
        A new DataFrame (same rows and index) with the metric columns; failed takes get NA.

    Raises:
        MissingExtra: when a metric's extra is not installed (names the extra to install).
        InvalidParameter: for an unknown metric name or a table without the required columns.

    Example:
        >>> scored = analyze(results, ["core", "speaker"], cache_dir=tmp)  # doctest: +SKIP
    """
    from zonos_lab.analysis.cache import MetricCache

    names = resolve_metrics(metrics)
    for name in names:
        require(name)
    df = prepare(results)
    cache = MetricCache(cache_dir)

    rows = list(df.to_dict("records"))
    contexts = [_context(r) for r in rows]
    keys: dict[tuple[int, str], str] = {}
    for i, row in enumerate(rows):
        if audio_ok(row) and not is_na(row.get("sha256")):
            for name in names:
                keys[(i, name)] = _cache_key(str(row["sha256"]), name, contexts[i])
    found = cache.get_many(keys.values())
    values: dict[tuple[int, str], dict[str, Any]] = {ik: found[k] for ik, k in keys.items() if k in found}

    todo: dict[int, list[str]] = {}
    for (i, name) in keys:
        if (i, name) not in values:
            todo.setdefault(i, []).append(name)
    jobs = [TakeJob(i, str(rows[i]["audio_path"]), tuple(ms), contexts[i]) for i, ms in todo.items()]
    errors: list[str] = []

    def collect(job: TakeJob, result: Mapping[str, Mapping[str, Any]]) -> None:
        fresh: dict[str, dict[str, Any]] = {}
        for name, vals in result.items():
            if _ERROR in vals:
                errors.append(f"{rows[job.row]['take_id']} {name}: {vals[_ERROR]}")
                continue
            values[(job.row, name)] = dict(vals)
            fresh[keys[(job.row, name)]] = dict(vals)
        cache.put_many(fresh)

    if jobs:
        _run(jobs, executor, progress, collect)
    if errors:
        warnings.warn(f"{len(errors)} metric computation(s) failed (NA), first: {errors[0]}", RuntimeWarning,
                      stacklevel=2)

    out = df.copy()
    for name in names:
        for column in METRICS[name].columns:
            col_values = [values.get((i, name), {}).get(column) for i in range(len(rows))]
            out[column] = _typed(col_values, column)
    return out


def _run(jobs: list[TakeJob], executor: Executor | int | None, progress: bool, collect: Any) -> None:
    from tqdm.auto import tqdm

    bar = tqdm(total=len(jobs), desc="analysis", unit="take", disable=not progress)
    try:
        if executor is None:
            for job in jobs:
                collect(job, compute_take(job))
                bar.update()
            return
        own = isinstance(executor, int)
        pool: Executor = (ProcessPoolExecutor(max_workers=int(executor),  # type: ignore[arg-type]
                                              mp_context=multiprocessing.get_context("spawn"))
                          if own else executor)  # type: ignore[assignment]
        try:
            futures = {pool.submit(compute_take, job): job for job in jobs}
            for fut in as_completed(futures):
                collect(futures[fut], fut.result())
                bar.update()
        finally:
            if own:
                pool.shutdown()
    finally:
        bar.close()
