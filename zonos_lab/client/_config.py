"""Where the key and the base URL come from, and the auto-started emulator (shared by both clients)."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any

from zonos_lab.client._core import DEFAULT_BASE_URL
from zonos_lab.errors import ConnectionFailed


@dataclass
class Resolved:
    api_key: str | None
    base_url: str
    emulator: Any = None  # the Emulator this client started (and must stop)


def resolve(api_key: str | None, base_url: str | None) -> Resolved:
    """Argument, then ``PIXAZO_API_KEY`` / ``PIXAZO_BASE_URL``; neither → start the offline emulator."""
    key = api_key or os.environ.get("PIXAZO_API_KEY") or None
    url = base_url or os.environ.get("PIXAZO_BASE_URL") or None
    if key or url:
        return Resolved(key, url or DEFAULT_BASE_URL)
    try:
        from zonos_lab.emulator import Emulator  # lazy: only when no key and no URL

        emu = Emulator()
        emu.start()
    except Exception as exc:
        raise ConnectionFailed(
            f"no PIXAZO_API_KEY / PIXAZO_BASE_URL set and the offline emulator could not start: "
            f"{type(exc).__name__}: {exc}",
            hint="Set PIXAZO_API_KEY for the cloud API, or PIXAZO_BASE_URL to a running emulator.") from exc
    print(f"zonos-lab: no PIXAZO_API_KEY set — using the offline Zonos 2 *emulator* at {emu.base_url} "
          "(not the real model)", file=sys.stderr)
    return Resolved(emu.api_key, emu.base_url, emu)
