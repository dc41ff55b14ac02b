"""Notebook layer: rich displays, the widget panel, the ``%zonos`` magic and a blind listening test.

Everything here is loaded lazily (ipywidgets, IPython and matplotlib are imported only when used).

Example:
    >>> from zonos_lab.notebook import show_grid, panel, listening_test   # doctest: +SKIP
    >>> show_grid(sweep.results, rows="temperature", cols="mode")          # doctest: +SKIP
"""

from __future__ import annotations

from zonos_lab._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "take_html": "zonos_lab.notebook.display",
    "sweep_html": "zonos_lab.notebook.display",
    "audio_html": "zonos_lab.notebook.display",
    "show_grid": "zonos_lab.notebook.grid",
    "grid_html": "zonos_lab.notebook.grid",
    "GridView": "zonos_lab.notebook.grid",
    "panel": "zonos_lab.notebook.app",
    "ZonosPanel": "zonos_lab.notebook.app",
    "listening_test": "zonos_lab.notebook.listening",
    "ListeningTest": "zonos_lab.notebook.listening",
    "load_ipython_extension": "zonos_lab.notebook.magic",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
