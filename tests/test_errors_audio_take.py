"""Errors are typed and picklable; audio decodes every reference format; Take rows round-trip."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from zonos_lab import errors
from zonos_lab.audio import (
    decode_audio,
    is_wav_bytes,
    read_wav_metadata,
    sha256_bytes,
    sha256_file,
    write_wav_atomic,
)
from zonos_lab.params import GenerationParams
from zonos_lab.take import RESULT_COLUMNS, Take

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.mark.parametrize(
    ("code", "cls"),
    [(400, errors.BadRequest), (401, errors.Unauthorized), (402, errors.InsufficientBalance),
     (403, errors.Forbidden), (404, errors.NotFound), (429, errors.RateLimited),
     (500, errors.ServerError), (503, errors.ServerError)],
)
def test_error_for_status(code: int, cls: type) -> None:
    err = errors.error_for_status(code, error="E", server_message="M", retry_after=2.0, request_id="zonos-2_x")
    assert type(err) is cls and err.status_code == code
    assert "E: M" in str(err) and "zonos-2_x" in str(err)
    assert err.hint and err.hint in str(err)
    clone = pickle.loads(pickle.dumps(err))
    assert type(clone) is cls and str(clone) == str(err)


def test_generation_error_is_not_charged_subclass() -> None:
    err = errors.GenerationError("boom", error="x", request_id="r")
    assert isinstance(err, errors.GenerationFailed) and "not charged" in err.hint


def test_missing_extra_names_install_command() -> None:
    err = errors.MissingExtra("speaker similarity", "speaker", "resemblyzer")
    assert isinstance(err, ImportError)
    assert "pip install 'zonos-lab[speaker]'" in str(err)


def test_protocol_error_truncates_body() -> None:
    err = errors.ProtocolError("bad json", body="x" * 5000)
    assert len(str(err)) < 600


@pytest.mark.parametrize("name", ["reference/en_us_jfk.flac", "reference/en_us_jfk.m4a",
                                  "reference/fr_fr_fleurs_003.ogg", "voices/AmericanFemale.mp3",
                                  "reference/en_gb_vctk_p225_003.wav"])
def test_decode_every_format(name: str) -> None:
    y, sr = decode_audio(DATA / name)
    assert y.dtype == np.float32 and y.ndim == 1
    assert sr in (16000, 22050, 24000, 44100, 48000)
    assert 2.0 < len(y) / sr < 40 and 0.05 < np.abs(y).max() <= 1.0


def test_decode_resamples_and_rejects_garbage(tmp_path: Path) -> None:
    y, sr = decode_audio(DATA / "reference/en_us_jfk.flac", sample_rate=16000)
    assert sr == 16000 and abs(len(y) / sr - 11.0) < 0.05
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio at all" * 10)
    with pytest.raises(ValueError, match=r"bad\.wav"):
        decode_audio(bad)


def test_wav_write_is_atomic_with_metadata(tmp_path: Path) -> None:
    tone = 0.3 * np.sin(2 * np.pi * 220 * np.arange(4410) / 44100).astype(np.float32)
    out = write_wav_atomic(tmp_path / "a" / "t.wav", tone, 44100, {"software": "zonos-2-emulator", "seed": 7})
    assert is_wav_bytes(out.read_bytes()[:12])
    assert read_wav_metadata(out) == {"software": "zonos-2-emulator", "seed": 7}
    assert list(out.parent.iterdir()) == [out]  # no temp file left
    assert sha256_file(out) == sha256_bytes(out.read_bytes())
    y, sr = decode_audio(out)
    assert sr == 44100 and np.allclose(y, tone, atol=1e-3)


def test_take_row_round_trip(tmp_path: Path) -> None:
    params = GenerationParams(reference_audio_url="https://x.org/a.wav", seed=3, accurate_mode=False, max_tokens=50)
    take = Take(params=params, take_id="t1", status="COMPLETED", duration=1.5, sample_rate=44100,
                metrics={"lufs": -20.0})
    row = take.to_row()
    assert set(RESULT_COLUMNS) <= set(row)
    assert row["mode"] == "expressive" and row["lufs"] == -20.0
    back = Take.from_row(row)
    assert back.params == params and back.metrics == {"lufs": -20.0} and back.duration == 1.5
    assert "t1" in repr(take) and not take.ok
    with pytest.raises(FileNotFoundError):
        take.audio()
