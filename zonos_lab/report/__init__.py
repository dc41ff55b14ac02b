"""Reports for run directories: a self-contained HTML page, a report notebook, and `reproduce`.

Loaded lazily: importing this package imports no numerical library.

Example:
    >>> from zonos_lab.report import write_report, reproduce     # doctest: +SKIP
    >>> write_report("runs/study")                               # doctest: +SKIP
    >>> reproduce("runs/study").summary                          # doctest: +SKIP
"""

from __future__ import annotations

from zonos_lab._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "write_report": "zonos_lab.report.html",
    "reproduce": "zonos_lab.report.repro",
    "ReproduceResult": "zonos_lab.report.repro",
    "run_notebook": "zonos_lab.report.notebook",
    "RunDir": "zonos_lab.report.rundir",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
