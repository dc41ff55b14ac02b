"""zonos-lab: sweeps, analysis and reproducible reports for the Zonos 2 text-to-speech API.

Everything is importable from the top level, but loaded lazily (PEP 562): ``import zonos_lab``
stays fast, and heavy libraries load only when a feature that needs them is used.

Example:
    >>> import zonos_lab
    >>> zonos_lab.GenerationParams(reference_audio_url="https://x.org/a.wav").temperature
    1.15
"""

from __future__ import annotations

from typing import Any

from zonos_lab._lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # parameters
    "GenerationParams": "zonos_lab.params",
    "FIELD_SPECS": "zonos_lab.params",
    "LANGUAGES": "zonos_lab.params",
    "FRAME_RATE": "zonos_lab.params",
    "SAMPLE_RATE": "zonos_lab.params",
    "frames_to_seconds": "zonos_lab.params",
    "seconds_to_frames": "zonos_lab.params",
    # errors
    "ZonosError": "zonos_lab.errors",
    "InvalidParameter": "zonos_lab.errors",
    "ApiError": "zonos_lab.errors",
    "BadRequest": "zonos_lab.errors",
    "Unauthorized": "zonos_lab.errors",
    "InsufficientBalance": "zonos_lab.errors",
    "Forbidden": "zonos_lab.errors",
    "NotFound": "zonos_lab.errors",
    "RateLimited": "zonos_lab.errors",
    "ServerError": "zonos_lab.errors",
    "GenerationFailed": "zonos_lab.errors",
    "GenerationError": "zonos_lab.errors",
    "WaitTimeout": "zonos_lab.errors",
    "ProtocolError": "zonos_lab.errors",
    "MediaError": "zonos_lab.errors",
    "ConnectionFailed": "zonos_lab.errors",
    "SubmissionUncertain": "zonos_lab.errors",
    "MissingExtra": "zonos_lab.errors",
    # takes
    "Take": "zonos_lab.take",
    # client
    "ZonosClient": "zonos_lab.client",
    "AsyncZonosClient": "zonos_lab.client",
    "Job": "zonos_lab.client",
    "JobStatus": "zonos_lab.client",
    "ExponentialPollPolicy": "zonos_lab.client",
    "WebhookReceiver": "zonos_lab.webhooks",
    # emulator
    "Emulator": "zonos_lab.emulator",
    "EmulatorConfig": "zonos_lab.emulator",
    "FaultPlan": "zonos_lab.emulator",
    # sessions and sweeps
    "Lab": "zonos_lab.lab",
    "Sweep": "zonos_lab.sweep",
    "SweepSpec": "zonos_lab.sweep",
    "load_run": "zonos_lab.sweep",
    # analysis
    "analyze": "zonos_lab.analysis",
    "metric_info": "zonos_lab.analysis",
    "compare": "zonos_lab.analysis",
    "summarize": "zonos_lab.analysis",
    "reproducibility": "zonos_lab.analysis",
    "spectrogram": "zonos_lab.analysis",
    "spectrogram_grid": "zonos_lab.analysis",
    "metric_plot": "zonos_lab.analysis",
    "paired_plot": "zonos_lab.analysis",
    # reports
    "write_report": "zonos_lab.report",
    "reproduce": "zonos_lab.report",
    # notebook
    "panel": "zonos_lab.notebook",
    "show_grid": "zonos_lab.notebook",
    "listening_test": "zonos_lab.notebook",
}

__all__ = sorted([*_EXPORTS, "__version__", "load_ipython_extension"])


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals(), extra=("__version__", "load_ipython_extension"))


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext zonos_lab``: register the ``%zonos`` / ``%%zonos`` magics."""
    from zonos_lab.notebook.magic import load_ipython_extension as _load

    _load(ipython)
