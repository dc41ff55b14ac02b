"""Read a run directory (manifest, results with absolute audio paths, cached metrics).

Works on a run directory copied anywhere: audio paths in ``results.parquet`` are relative to it.

Example:
    >>> run = RunDir("runs/study")                                  # doctest: +SKIP
    >>> run.manifest["name"], len(run.results())                    # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from zonos_lab.errors import InvalidParameter

__all__ = ["RunDir", "is_emulator", "swept_fields"]

RUN_FORMAT = "zonos-lab-run/1"


class RunDir:
    """A run directory on disk: ``manifest.json``, ``results.parquet`` (or ``.csv``), ``audio/``."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).resolve()
        if not (self.path / "manifest.json").is_file():
            raise InvalidParameter("run_dir", str(path), "a run directory containing manifest.json "
                                   "(written by a sweep: zonos-lab sweep SPEC --out DIR)")

    @cached_property
    def manifest(self) -> dict[str, Any]:
        """The parsed ``manifest.json``."""
        return json.loads((self.path / "manifest.json").read_text(encoding="utf-8"))

    def results(self) -> pd.DataFrame:
        """The takes table with ``audio_path`` made absolute (missing files become NA)."""
        parquet, csv = self.path / "results.parquet", self.path / "results.csv"
        if parquet.is_file():
            df = pd.read_parquet(parquet)
        elif csv.is_file():
            df = pd.read_csv(csv)
        else:
            df = _from_trials(self.manifest)
        df = df.reset_index(drop=True)
        if "audio_path" not in df.columns:
            df["audio_path"] = pd.NA
        df["audio_path"] = [self.absolute(p) for p in df["audio_path"]]
        if "reference" not in df.columns:
            df["reference"] = df.get("reference_audio_url", pd.Series([pd.NA] * len(df)))
        if "reference_path" in df.columns:
            refs = self.manifest.get("references") or {}
            df["reference_path"] = [self._reference_path(rp, ref, refs)
                                    for rp, ref in zip(df["reference_path"], df["reference"], strict=True)]
            df["reference_path"] = df["reference_path"].astype(object)
        return df

    def absolute(self, p: Any) -> Any:
        """`p` resolved against the run directory (NA when empty or the file is missing)."""
        if p is None or (not isinstance(p, str) and pd.isna(p)) or not str(p):
            return pd.NA
        path = Path(str(p))
        if not path.is_absolute():
            path = self.path / path
        if not path.exists():
            # a copied run whose results hold absolute paths from the old place: look under audio/
            alt = self.path / "audio" / path.name
            return str(alt) if alt.exists() else pd.NA
        return str(path)

    def relative(self, p: str | os.PathLike[str]) -> str:
        """`p` relative to the run directory (POSIX separators, for links in the report)."""
        return Path(os.path.relpath(Path(p).resolve(), self.path)).as_posix()

    def _reference_path(self, rp: Any, ref: Any, refs: dict[str, Any]) -> Any:
        """A local copy of the reference: the recorded path (relative to the run), the run's copy, the original."""
        info = (refs.get(str(ref)) if isinstance(ref, str) else None) or {}
        for cand in (rp, info.get("copy"), info.get("local_path")):
            if isinstance(cand, str) and cand:
                path = Path(cand) if Path(cand).is_absolute() else self.path / cand
                if path.is_file():
                    return str(path)
        return pd.NA


def _from_trials(manifest: dict[str, Any]) -> pd.DataFrame:
    """A results table from the manifest's trials alone (a run that never wrote results)."""
    rows = []
    for t in manifest.get("trials", []):
        req = dict(t.get("request", {}))
        rows.append({"take_id": t["take_id"], **req, "reference": req.get("reference_audio_url"),
                     "status": "PLANNED", "audio_path": pd.NA, **{f"coord_{k}": v for k, v in
                                                                   (t.get("coords") or {}).items()}})
    return pd.DataFrame(rows)


def is_emulator(manifest: dict[str, Any], results: pd.DataFrame | None = None) -> bool:
    """True when anything says the emulator produced the audio (manifest flag, backend, model id)."""
    if manifest.get("emulator") or manifest.get("backend") == "emulator":
        return True
    if "emulator" in str(manifest.get("model_id") or ""):
        return True
    if results is not None:
        for col in ("backend", "model_id"):
            if col in results.columns and results[col].astype(str).str.contains("emulator").any():
                return True
    return False


def swept_fields(manifest: dict[str, Any], results: pd.DataFrame) -> list[str]:
    """Result columns that vary across the takes, in the order the spec names them.

    Looks at the trials' coordinates first, then at the spec's ``parameters``, and keeps only
    columns of `results` with at least two distinct values (``accurate_mode`` is reported as ``mode``).
    """
    names: list[str] = []
    for t in manifest.get("trials", []):
        for k in (t.get("coords") or {}):
            if k not in names:
                names.append(k)
    spec = manifest.get("spec") or {}
    for k in (spec.get("parameters") or {}):
        if k not in names:
            names.append(k)
    for k in ("texts", "references"):
        if spec.get(k) and k[:-1] not in names:
            names.append(k[:-1])
    out: list[str] = []
    for k in names:
        col = {"accurate_mode": "mode", "texts": "text", "references": "reference", "reference_audio_url":
               "reference"}.get(k, k)
        if col in results.columns and col not in out and results[col].dropna().astype(str).nunique() >= 2:
            out.append(col)
    return out
