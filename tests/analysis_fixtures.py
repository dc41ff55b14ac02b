"""Shared helpers for the analysis tests: real speech from data/, written as WAVs into tmp dirs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from zonos_lab.audio import decode_audio, resample, write_wav_atomic

DATA = Path(__file__).resolve().parents[1] / "data" / "reference"
LJ1 = DATA / "en_us_ljspeech_LJ001-0001.wav"
LJ5 = DATA / "en_us_ljspeech_LJ001-0005.mp3"
JFK = DATA / "en_us_jfk.flac"
P225 = DATA / "en_gb_vctk_p225_003.wav"
P226 = DATA / "en_gb_vctk_p226_005.wav"
LJ1_TEXT = ("Printing, in the only sense with which we are at present concerned, differs from most if not "
            "from all the arts and crafts represented in the Exhibition")
JFK_TEXT = ("And so, my fellow Americans, ask not what your country can do for you, ask what you can do "
            "for your country.")


def load(path: Path, sr: int | None = None) -> tuple[np.ndarray, int]:
    return decode_audio(path, sample_rate=sr)


def write(path: Path, y: np.ndarray, sr: int) -> str:
    write_wav_atomic(path, np.clip(y, -1, 1).astype(np.float32), sr)
    return str(path)


def pitch_up(y: np.ndarray, sr: int, factor: float) -> np.ndarray:
    """Play faster by `factor` (resample, keep the rate label): pitch × factor, duration ÷ factor."""
    return resample(y, int(sr * factor), sr)


def table(paths: list[str | None], text: str = LJ1_TEXT, reference: str = str(LJ1), language: str = "en_us",
          **cols: list) -> pd.DataFrame:
    n = len(paths)
    data = {"take_id": [f"t{i}" for i in range(n)], "audio_path": paths, "text": [text] * n,
            "reference": [reference] * n, "language": [language] * n}
    data.update(cols)
    return pd.DataFrame(data)
