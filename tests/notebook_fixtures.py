"""Shared helpers for the notebook tests: fake takes and results tables made from real speech in data/."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from zonos_lab.audio import decode_audio, write_wav_atomic
from zonos_lab.params import GenerationParams
from zonos_lab.take import Take

DATA = Path(__file__).resolve().parents[1] / "data" / "reference"
CLIPS = [DATA / "en_us_ljspeech_LJ001-0001.wav", DATA / "en_gb_vctk_p225_003.wav", DATA / "en_gb_vctk_p226_005.wav",
         DATA / "en_us_jfk.flac", DATA / "en_us_ljspeech_LJ001-0005.mp3"]
REF_URL = "https://example.org/voice.wav"


def clip(i: int, seconds: float, sr: int = 22050) -> tuple[np.ndarray, int]:
    """`seconds` of real speech from clip `i` (mod the list), resampled to `sr`."""
    y, sr = decode_audio(CLIPS[i % len(CLIPS)], sample_rate=sr)
    return y[: int(seconds * sr)], sr


def make_take(audio_dir: Path, take_id: str, *, i: int = 0, seconds: float = 1.5, gain: float = 1.0,
              status: str = "COMPLETED", backend: str = "emulator", **params: Any) -> Take:
    """A completed take whose audio is a slice of real speech written as WAV under `audio_dir`."""
    p = GenerationParams(reference_audio_url=REF_URL, **params)
    if status != "COMPLETED":
        return Take(p, take_id=take_id, status=status, error="the service could not fetch the reference",
                    backend=backend, reference="voice.wav")
    y, sr = clip(i, seconds)
    path = audio_dir / f"{take_id}.wav"
    write_wav_atomic(path, np.clip(y * gain, -1, 1), sr, {"software": "zonos-2-emulator", "mode": p.mode})
    return Take(p, take_id=take_id, status="COMPLETED", audio_path=str(path), duration=len(y) / sr,
                sample_rate=sr, backend=backend, model_id="zonos-2-emulator" if backend == "emulator" else None,
                reference="voice.wav")


def grid_results(run_dir: Path, temps=(0.8, 1.2), modes=(True, False), seeds=(1, 2), seconds: float = 1.0
                 ) -> pd.DataFrame:
    """A results table: every (temperature, mode, seed), audio under run_dir/audio, distinct clips and gains."""
    audio = run_dir / "audio"
    rows = []
    for n, (t, acc, s) in enumerate(itertools.product(temps, modes, seeds)):
        take = make_take(audio, f"t{n:02d}", i=n, seconds=seconds, gain=0.2 + 0.1 * n, temperature=t,
                         accurate_mode=acc, seed=s, text="Printing, in the only sense.")
        rows.append(take.to_row())
    return pd.DataFrame(rows)
