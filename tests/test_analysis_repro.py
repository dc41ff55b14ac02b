"""Reproducibility: identical repeats, near repeats and different audio under the same request and seed."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
from analysis_fixtures import LJ1, LJ5, load, write

from zonos_lab.analysis import reproducibility


def test_identical_near_and_different_repeats(tmp_path) -> None:
    y, sr = load(LJ1)
    y = y[: sr * 4]
    a = write(tmp_path / "a.wav", y, sr)
    b = str(tmp_path / "b.wav")
    shutil.copy(a, b)  # byte-identical repeat
    noise = np.random.default_rng(0).normal(0, 0.003, len(y)).astype(np.float32)
    near = write(tmp_path / "near.wav", np.concatenate([np.zeros(sr // 10, np.float32), y + noise]), sr)
    z, zsr = load(LJ5)
    other = write(tmp_path / "other.wav", z[: zsr * 4], zsr)
    df = pd.DataFrame({
        "take_id": ["s1-a", "s1-b", "s2-a", "s2-b", "s3-a", "s3-b", "s4"],
        "audio_path": [a, b, a, near, a, other, a],
        "text": ["t"] * 7, "reference": ["r"] * 7, "language": ["en_us"] * 7,
        "temperature": [1.15] * 7, "seed": [1, 1, 2, 2, 3, 3, 4],
    })
    rep = reproducibility(df, speaker=False).set_index("seed")
    assert list(rep["n"]) == [2, 2, 2, 1]
    assert bool(rep.loc[1, "identical"]) and rep.loc[1, "mel_distance_db"] == 0.0
    assert not bool(rep.loc[2, "identical"]) and rep.loc[2, "n_distinct_audio"] == 2
    assert 0 < rep.loc[2, "mel_distance_db"] < rep.loc[3, "mel_distance_db"]
    assert abs(rep.loc[2, "duration_diff_s"] - 0.1) < 0.01
    assert pd.isna(rep.loc[4, "identical"])
    length = reproducibility(df, speaker=False, align="length").set_index("seed")
    assert length.loc[2, "mel_distance_db"] > rep.loc[2, "mel_distance_db"]  # DTW absorbs the 0.1 s shift


def test_speaker_similarity_between_repeats(tmp_path) -> None:
    y, sr = load(LJ1)
    z, zsr = load(LJ5)
    a, other = write(tmp_path / "a.wav", y, sr), write(tmp_path / "o.wav", z, zsr)
    df = pd.DataFrame({"audio_path": [a, other, a, a], "text": ["t"] * 4, "reference": ["r"] * 4,
                       "language": ["en_us"] * 4, "seed": [1, 1, 2, 2]})
    rep = reproducibility(df, speaker=True).set_index("seed")
    assert 0.7 < rep.loc[1, "speaker_similarity_min"] < 1.0  # same speaker, different audio
    assert rep.loc[2, "speaker_similarity_min"] == 1.0
