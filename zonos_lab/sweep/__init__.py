"""Sweeps: W&B-style specs over request fields, texts, voices and seeds; a resumable runner; results tables.

Loaded lazily (pandas and the runner import only when used).

Example:
    >>> from zonos_lab.sweep import SweepSpec
    >>> spec = SweepSpec.from_dict({"parameters": {"temperature": {"values": [0.8, 1.2]}}, "seeds": 2,
    ...                             "references": ["https://x.org/a.wav"]})
    >>> spec.dry_run().n_takes
    4
"""

from __future__ import annotations

from zonos_lab._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "SweepSpec": "zonos_lab.sweep.spec",
    "Trial": "zonos_lab.sweep.spec",
    "DryRun": "zonos_lab.sweep.spec",
    "Journal": "zonos_lab.sweep.journal",
    "Sweep": "zonos_lab.sweep.runner",
    "load_run": "zonos_lab.sweep.rundir",
    "results_frame": "zonos_lab.sweep.results",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
