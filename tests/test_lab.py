"""Lab: the session object — backend choice, defaults, say() → Take, sweep() → Sweep, no key leaks."""

from __future__ import annotations

import wave
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from zonos_lab.emulator import Emulator, EmulatorConfig
from zonos_lab.errors import InvalidParameter, Unauthorized
from zonos_lab.lab import Lab
from zonos_lab.take import Take


class ToneEngine:
    name = "test-tone"

    def synthesize(self, params, reference, reference_sr, seed):
        rng = np.random.default_rng(seed)
        n = 8820
        audio = (0.2 * np.sin(2 * np.pi * 200 * np.arange(n) / 44100) + 0.01 * rng.standard_normal(n))
        return SimpleNamespace(audio=audio.astype(np.float32), sample_rate=44100, truncated=False, info={})


@pytest.fixture
def emu():
    e = Emulator(engine=ToneEngine(), config=EmulatorConfig(processing_latency=0.02)).start()
    yield e
    e.stop()


@pytest.fixture
def voice(tmp_path):
    path = tmp_path / "voice.wav"
    pcm = (0.3 * np.sin(2 * np.pi * 150 * np.arange(22050) / 22050) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(22050)
        w.writeframes(pcm.tobytes())
    return path


@pytest.fixture(autouse=True)
def no_env(monkeypatch):
    monkeypatch.delenv("PIXAZO_API_KEY", raising=False)
    monkeypatch.delenv("PIXAZO_BASE_URL", raising=False)


def test_say_returns_a_completed_take_with_audio(tmp_path, emu, voice):
    with Lab(emu.api_key, emu.base_url, backend="emulator", runs_dir=tmp_path / "runs", language="en_gb") as lab:
        assert lab.backend == "emulator" and emu.api_key not in repr(lab)
        take = lab.say("Good morning.", ref=voice, temperature=0.9)
    assert isinstance(take, Take) and take.ok
    assert take.status == "COMPLETED" and take.request_id
    assert take.params.language == "en_gb" and take.params.temperature == 0.9 and take.seed is not None
    assert Path(take.audio_path).parent == tmp_path / "runs" / "takes"
    assert take.duration == pytest.approx(0.2, abs=0.01) and take.sample_rate == 44100
    assert take.reference_sha256 and take.backend == "emulator" and take.model_id == "zonos-2-emulator"
    audio, sr = take.audio()
    assert sr == 44100 and audio.size > 0


def test_say_with_the_same_seed_reproduces_on_the_emulator(tmp_path, emu, voice):
    with Lab(emu.api_key, emu.base_url, runs_dir=tmp_path) as lab:
        assert lab.backend == "emulator"  # found by probing the loopback URL
        a = lab.say("Same.", ref=voice, seed=42)
        b = lab.say("Same.", ref=voice, seed=42)
    assert a.audio_path != b.audio_path and a.take_id != b.take_id
    (xa, _), (xb, _) = a.audio(), b.audio()
    assert np.array_equal(xa, xb)  # same request + seed → same samples (the WAV metadata holds the request id)


def test_bad_parameters_fail_before_any_request(tmp_path, emu, voice):
    with Lab(emu.api_key, emu.base_url, runs_dir=tmp_path) as lab:
        posts = emu.stats()["posts"]
        with pytest.raises(InvalidParameter) as e:
            lab.say("Hi.", ref=voice, temperature=5)
        assert e.value.field == "temperature"
        with pytest.raises(InvalidParameter) as e:
            lab.say("Hi.", ref=voice, tempreature=1)
        assert e.value.field == "tempreature"
        with pytest.raises(InvalidParameter) as e:
            lab.say("Hi.", ref=tmp_path / "nope.wav")
        assert emu.stats()["posts"] == posts
    with pytest.raises(InvalidParameter) as e:
        Lab(backend="moon")
    assert e.value.field == "backend"
    with pytest.raises(InvalidParameter):
        Lab(emu.api_key, emu.base_url, top_k=-1)


def test_cloud_needs_a_key_and_urls(tmp_path, voice):
    with pytest.raises(Unauthorized):
        Lab(backend="cloud")
    lab = Lab("sk-SECRET-999", "https://gateway.example.invalid", runs_dir=tmp_path)
    try:
        assert lab.backend == "cloud" and "SECRET" not in repr(lab)
        with pytest.raises(InvalidParameter) as e:
            lab.say("Hi.", ref=voice)
        assert e.value.field == "ref" and "URL" in str(e.value)
    finally:
        lab.close()


def test_in_process_emulator_is_started_and_stopped(tmp_path, capsys):
    lab = Lab(backend="emulator", runs_dir=tmp_path)
    assert lab.emulator is not None and lab.emulator.running
    assert "emulator" in capsys.readouterr().err
    lab.close()
    assert not lab.emulator.running


def test_sweep_uses_the_session_and_its_defaults(tmp_path, emu, voice):
    with Lab(emu.api_key, emu.base_url, runs_dir=tmp_path / "runs", language="fr_fr", ref=str(voice)) as lab:
        sw = lab.sweep({"name": "modes", "mode": ["accurate", "expressive"], "seeds": 2,
                        "fixed": {"max_tokens": 100}}, progress=False)
        assert sw.run_dir == tmp_path / "runs" / "modes"
        df = sw.run()
    assert len(df) == 4 and (df.status == "COMPLETED").all()
    assert set(df.language.astype(str)) == {"fr_fr"} and set(df["mode"].astype(str)) == {"accurate", "expressive"}
    assert set(df.reference) == {str(voice)}
    assert (tmp_path / "runs" / "modes" / "results.parquet").is_file()
