"""The offline emulator of the Zonos 2 gateway: same protocol, a local speech engine, no money spent.

Loaded lazily: importing this package imports neither uvicorn nor the speech engine (piper).

Example:
    >>> from zonos_lab.emulator import Emulator, EmulatorConfig, FaultPlan
    >>> cfg = EmulatorConfig(concurrency=2, faults=FaultPlan.parse("post_429@1"))
    >>> with Emulator(config=cfg) as emu:                       # doctest: +SKIP
    ...     print(emu.base_url, emu.stats()["posts"])
"""

from __future__ import annotations

from zonos_lab._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "Emulator": "zonos_lab.emulator.runner",
    "EmulatorConfig": "zonos_lab.emulator.service",
    "EmulatorService": "zonos_lab.emulator.service",
    "FaultPlan": "zonos_lab.emulator.faults",
    "create_app": "zonos_lab.emulator.server",
    "MODEL_ID": "zonos_lab.emulator.service",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
