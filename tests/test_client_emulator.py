"""The auto-emulator path: no key and no base URL → the client starts (and stops) the emulator."""

from __future__ import annotations

import asyncio
import sys
import types
from typing import ClassVar

import httpx
from client_fixtures import Script, resp, status_json

from zonos_lab.client import AsyncZonosClient, ZonosClient


class FakeEmulator:
    instances: ClassVar[list[FakeEmulator]] = []

    def __init__(self, **kw):
        self.started = self.stopped = False
        self.api_key = "emu-secret-xyz"
        self.base_url = "http://127.0.0.1:5555"
        FakeEmulator.instances.append(self)

    def start(self):
        self.started = True
        return self

    def stop(self):
        self.stopped = True


def _install(monkeypatch):
    FakeEmulator.instances.clear()
    mod = types.ModuleType("zonos_lab.emulator")
    mod.Emulator = FakeEmulator
    monkeypatch.setitem(sys.modules, "zonos_lab.emulator", mod)
    monkeypatch.delenv("PIXAZO_API_KEY", raising=False)
    monkeypatch.delenv("PIXAZO_BASE_URL", raising=False)


def test_no_key_no_url_starts_and_stops_emulator(monkeypatch, capsys):
    _install(monkeypatch)
    script = Script(resp(200, status_json("QUEUED")))
    with ZonosClient(transport=httpx.MockTransport(script)) as c:
        emu = FakeEmulator.instances[0]
        assert emu.started and not emu.stopped
        assert c.backend == "emulator" and c.base_url == emu.base_url
        c.status("r1")
        assert script.requests[0].headers["Ocp-Apim-Subscription-Key"] == emu.api_key
        assert "emu-secret" not in repr(c)
    assert emu.stopped
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "*emulator*" in err and emu.base_url in err and "not the real model" in err


def test_async_client_stops_its_emulator(monkeypatch, capsys):
    _install(monkeypatch)

    async def main():
        async with AsyncZonosClient() as c:
            assert c.backend == "emulator"

    asyncio.run(main())
    assert FakeEmulator.instances[0].stopped


def test_key_without_url_uses_cloud_and_no_emulator(monkeypatch, capsys):
    _install(monkeypatch)
    with ZonosClient(api_key="k-123") as c:
        assert c.base_url == "https://gateway.pixazo.ai" and c.backend == "cloud"
    assert FakeEmulator.instances == [] and capsys.readouterr().err == ""


def test_emulator_that_cannot_start_gives_a_typed_error(monkeypatch):
    _install(monkeypatch)

    def broken(**kw):
        raise OSError("port in use")

    sys.modules["zonos_lab.emulator"].Emulator = broken
    import pytest

    from zonos_lab.errors import ConnectionFailed

    with pytest.raises(ConnectionFailed, match="emulator") as info:
        ZonosClient()
    assert "PIXAZO_API_KEY" in info.value.hint


def test_generate_against_the_real_emulator(monkeypatch, tmp_path, capsys):
    """End to end with the project's emulator (runs once zonos_lab.emulator and references exist)."""
    import pytest

    pytest.importorskip("zonos_lab.emulator", reason="emulator helper's module not present yet")
    references = pytest.importorskip("zonos_lab.references")
    from pathlib import Path

    from zonos_lab.params import GenerationParams

    monkeypatch.delenv("PIXAZO_API_KEY", raising=False)
    monkeypatch.delenv("PIXAZO_BASE_URL", raising=False)
    ref = sorted((Path(__file__).parents[1] / "data" / "voices").glob("*.mp3"))[0]
    with references.ReferenceServer() as refs, ZonosClient() as c:
        assert c.backend == "emulator"
        params = GenerationParams(reference_audio_url=refs.url_for(ref), text="Hello there.", seed=1)
        st, path = c.generate(params, tmp_path / "out.wav", timeout=120)
        assert st.is_completed and st.model_id == "zonos-2-emulator"
        assert path.read_bytes()[:4] == b"RIFF"
    assert "*emulator*" in capsys.readouterr().err
