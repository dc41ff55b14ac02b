"""Test helpers for the emulator: a tiny deterministic engine and HTTP helpers.

`SineEngine` is *not* speech: a tone whose pitch depends on the seed and whose length depends
on the text, so protocol tests never need piper. It records every call (thread-safe).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from zonos_lab.emulator import Emulator, EmulatorConfig

DATA = Path(__file__).resolve().parents[1] / "data"
VOICE = DATA / "voices" / "AmericanFemale.mp3"
TERMINAL = ("COMPLETED", "FAILED", "ERROR")


@dataclass
class Out:
    audio: np.ndarray
    sample_rate: int = 44100
    truncated: bool = False
    seed: int = 0
    info: dict[str, Any] = field(default_factory=dict)


class SineEngine:
    """Seed → pitch (100–499 Hz), text → length (60 ms per character); optional delay and failure."""

    name = "test-sine"

    def __init__(self, delay: float = 0.0, fail_on: str | None = None, seconds_per_char: float = 0.06,
                 gather: int | None = None) -> None:
        self.delay = delay
        self.gather = gather  # wait (≤ 3 s) until this many calls run at once: makes overlap certain
        self.fail_on = fail_on
        self.seconds_per_char = seconds_per_char
        self.calls: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.running = 0
        self.max_running = 0

    def synthesize(self, params: Any, reference: np.ndarray, reference_sr: int, seed: int) -> Out:
        with self._lock:
            self.running += 1
            self.max_running = max(self.max_running, self.running)
            self.calls.append({"seed": seed, "text": params.text, "ref_seconds": reference.size / reference_sr,
                               "ref_sr": reference_sr, "ref_id": id(reference)})
        try:
            deadline = time.monotonic() + 3.0
            while self.gather and self.running < self.gather and time.monotonic() < deadline:
                time.sleep(0.005)
            if self.delay:
                time.sleep(self.delay)
            if self.fail_on and self.fail_on in params.text:
                raise RuntimeError("engine exploded on purpose")
            f0 = 100.0 + seed % 400
            n = int(44100 * self.seconds_per_char * len(params.text))
            t = np.arange(n) / 44100.0
            return Out((0.3 * np.sin(2 * np.pi * f0 * t)).astype(np.float32), seed=seed, info={"f0": f0})
        finally:
            with self._lock:
                self.running -= 1


def start(engine: Any = None, **kw: Any) -> Emulator:
    """A started emulator with the sine engine (settings as EmulatorConfig keywords or Emulator keywords)."""
    emu_kw = {k: kw.pop(k) for k in ("api_key", "forbidden_keys", "data_root", "media_dir") if k in kw}
    return Emulator(engine=engine or SineEngine(), config=EmulatorConfig(**kw), **emu_kw).start()


def headers(emu: Emulator, **extra: str) -> dict[str, str]:
    return {"Ocp-Apim-Subscription-Key": emu.api_key, "Content-Type": "application/json", **extra}


def body(**kw: Any) -> dict[str, Any]:
    """A valid request body; the reference is the emulator's data root voice unless given."""
    d: dict[str, Any] = {"reference_audio_url": "voices/AmericanFemale.mp3", "text": "Hello there."}
    d.update(kw)
    return d


def post(emu: Emulator, data: Any, **hdr: str) -> httpx.Response:
    return httpx.post(emu.submit_url, json=data, headers=headers(emu, **hdr), timeout=10)


def poll(emu: Emulator, request_id: str, timeout: float = 20.0, every: float = 0.02) -> dict[str, Any]:
    """Poll raw status until terminal; returns the final status object."""
    deadline = time.monotonic() + timeout
    url = f"{emu.base_url}/v2/requests/status/{request_id}"
    while True:
        st = httpx.get(url, headers=headers(emu), timeout=10).json()
        if st["status"] in TERMINAL:
            return st
        if time.monotonic() > deadline:
            raise AssertionError(f"job {request_id} still {st['status']} after {timeout}s")
        time.sleep(every)


def wait_idle(emu: Emulator, timeout: float = 20.0) -> dict[str, Any]:
    """Wait until no job is queued or processing; returns the stats."""
    deadline = time.monotonic() + timeout
    while True:
        s = emu.stats()
        if s["jobs"]["QUEUED"] == 0 and s["jobs"]["PROCESSING"] == 0:
            return s
        if time.monotonic() > deadline:
            raise AssertionError(f"emulator still busy: {s['jobs']}")
        time.sleep(0.02)
