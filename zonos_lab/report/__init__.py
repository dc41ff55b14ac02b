"""Reports for run directories: a self-contained HTML page, a report notebook, and `reproduce`.

Loaded lazily: importing this package imports no numerical library.

Example:
    >>> from zonos_lab.report import write_report, reproduce     # doctest: +SKIP
    >>> write_report("runs/study")                               # doctest: +SKIP
    >>> reproduce("runs/study").summary                          # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "write_report": "zonos_lab.report.html",
    "reproduce": "zonos_lab.report.repro",
    "ReproduceResult": "zonos_lab.report.repro",
    "run_notebook": "zonos_lab.report.notebook",
    "RunDir": "zonos_lab.report.rundir",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'zonos_lab.report' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
