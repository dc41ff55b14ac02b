"""Shared helpers for the client tests: a fake clock, a scripted gateway, and a sync/async adapter."""

from __future__ import annotations

import asyncio
import io
import json
import struct
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from zonos_lab.client import AsyncZonosClient, ZonosClient

SPEC = json.loads((Path(__file__).parent / "fixtures" / "spec_examples.json").read_text())
KEY = "test-key-SECRET-4711"
BASE = "https://gateway.test"


def wav_bytes(n: int = 4410) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(44100)
        w.writeframes(struct.pack(f"<{n}h", *([0] * n)))
    return buf.getvalue()


class FakeTime:
    """Monotonic clock + sleep that only advance virtual time."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        assert s >= 0
        self.sleeps.append(s)
        self.now += s

    async def asleep(self, s: float) -> None:
        self.sleep(s)


def status_json(status: str, rid: str = "r1", **extra: Any) -> dict[str, Any]:
    d: dict[str, Any] = {"request_id": rid, "status": status, "model_id": "zonos-2", "error": None,
                         "output": None}
    if status == "COMPLETED":
        d["output"] = {"media_url": ["https://cdn.test/out.wav"], "media_type": "audio/wav",
                       "file_name": "output.wav", "file_size": 100}
    d.update(extra)
    return d


class Script:
    """A MockTransport handler answering from a queue of responses (or exceptions) per route."""

    def __init__(self, *items: Any) -> None:
        self.items = list(items)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        if not self.items:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        item = self.items.pop(0)
        if isinstance(item, Exception):
            raise item
        if callable(item):
            return item(request)
        return item


def resp(code: int, body: Any = None, headers: dict[str, str] | None = None) -> httpx.Response:
    if isinstance(body, (dict, list)):
        return httpx.Response(code, json=body, headers=headers)
    return httpx.Response(code, content=body or b"", headers=headers)


class Adapter:
    """Calls either client with the same blocking interface (async runs on a private loop)."""

    def __init__(self, kind: str, handler: Callable, media: Callable | None = None, *,
                 time: FakeTime | None = None, **kw: Any) -> None:
        self.kind = kind
        self.time = time or FakeTime()
        media = media or (lambda r: httpx.Response(404))
        kw.setdefault("api_key", KEY)
        kw.setdefault("base_url", BASE)
        if kind == "sync":
            self.client: Any = ZonosClient(transport=httpx.MockTransport(handler),
                                           media_transport=httpx.MockTransport(media),
                                           clock=self.time.clock, sleep=self.time.sleep, **kw)
            self.loop = None
        else:
            self.loop = asyncio.new_event_loop()
            self.client = AsyncZonosClient(transport=httpx.MockTransport(handler),
                                           media_transport=httpx.MockTransport(media),
                                           clock=self.time.clock, sleep=self.time.asleep, **kw)

    def __getattr__(self, name: str) -> Any:
        fn = getattr(self.client, name)
        if self.loop is None or not callable(fn):
            return fn

        def call(*a: Any, **k: Any) -> Any:
            return self.loop.run_until_complete(fn(*a, **k))

        return call

    def shutdown(self) -> None:
        if self.loop is None:
            self.client.close()
        else:
            self.loop.run_until_complete(self.client.aclose())
            self.loop.close()
