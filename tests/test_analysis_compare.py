"""Paired comparisons and summaries: a louder side must show a significant difference with a CI excluding 0."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from analysis_fixtures import DATA, load, write

from zonos_lab.analysis import analyze, compare, summarize
from zonos_lab.errors import InvalidParameter

CLIPS = ["en_us_ljspeech_LJ001-0001.wav", "en_us_ljspeech_LJ001-0005.mp3", "en_us_jfk.flac",
         "en_gb_vctk_p225_003.wav", "en_gb_vctk_p226_005.wav", "en_gb_vctk_p240_rtvc.mp3",
         "de_fleurs_001.ogg", "fr_fr_fleurs_007.ogg"]


@pytest.fixture(scope="module")
def louder_pairs(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """8 seeds × {accurate, expressive}: the expressive take is the same clip, 1.5× louder."""
    d = tmp_path_factory.mktemp("pairs")
    rows = []
    for seed, name in enumerate(CLIPS):
        y, sr = load(DATA / name)
        y = y[: sr * 3] / np.max(np.abs(y)) * 0.4
        for mode, gain in (("accurate", 1.0), ("expressive", 1.5)):
            rows.append({"take_id": f"{mode}-{seed}", "audio_path": write(d / f"{mode}-{seed}.wav", y * gain, sr),
                         "text": "same text", "reference": "ref.wav", "language": "en_us", "seed": seed,
                         "mode": mode, "accurate_mode": mode == "accurate", "temperature": 1.15})
    return analyze(pd.DataFrame(rows), ["loudness"], cache_dir=d / "cache", progress=False)


def test_louder_side_is_significant_and_ci_excludes_zero(louder_pairs: pd.DataFrame) -> None:
    res = compare(louder_pairs, by="mode", metric="loudness_lufs", n_boot=1000)
    row = res.iloc[0]
    assert (row["level_a"], row["level_b"], row["n_pairs"]) == ("accurate", "expressive", 8)
    assert row["mean_diff"] == pytest.approx(20 * np.log10(1.5), abs=0.3)  # 3.5 dB
    assert row["ci_low"] > 0 and row["ci_high"] >= row["mean_diff"] >= row["ci_low"]
    assert row["p_wilcoxon"] < 0.05
    assert row["rank_biserial"] == 1.0 and row["cohens_dz"] > 1


def test_no_difference_gives_ci_around_zero(louder_pairs: pd.DataFrame) -> None:
    df = louder_pairs.copy()
    rng = np.random.default_rng(1)
    df["noise"] = rng.normal(0, 1, len(df))
    row = compare(df, by="mode", metric="noise", n_boot=1000).iloc[0]
    assert row["ci_low"] < 0 < row["ci_high"] and row["p_wilcoxon"] > 0.05


def test_takes_that_differ_in_another_field_do_not_pair(louder_pairs: pd.DataFrame) -> None:
    df = louder_pairs.copy()
    df.loc[df["take_id"] == "expressive-0", "temperature"] = 0.5
    res = compare(df, by="mode", metric="loudness_lufs")
    assert res.iloc[0]["n_pairs"] == 7
    # pairing on seed only brings the pair back
    assert compare(df, by="mode", metric="loudness_lufs", pair_on=["seed"]).iloc[0]["n_pairs"] == 8


def test_by_accurate_mode_and_categorical_levels(louder_pairs: pd.DataFrame) -> None:
    res = compare(louder_pairs, by="accurate_mode", metric="loudness_lufs", n_boot=200)
    assert res.iloc[0]["n_pairs"] == 8 and res.iloc[0]["mean_diff"] < 0  # True (quieter) − False
    df = louder_pairs.copy()
    df["level"] = df["mode"]
    third = df[df["mode"] == "accurate"].assign(level="quiet")
    third["loudness_lufs"] -= 10
    df = pd.concat([df, third], ignore_index=True).drop(columns=["mode", "accurate_mode"])
    first = compare(df, by="level", metric="loudness_lufs", n_boot=200)
    every = compare(df, by="level", metric="loudness_lufs", n_boot=200, pairs="all")
    assert len(first) == 2 and set(first["level_a"]) == {"accurate"}
    assert len(every) == 3
    with pytest.raises(InvalidParameter):
        compare(df, by="no_such_column", metric="loudness_lufs")


def test_summarize_mean_and_ci(louder_pairs: pd.DataFrame) -> None:
    s = summarize(louder_pairs, by="mode", metrics=["loudness_lufs"]).set_index("mode")
    assert list(s["n"]) == [8, 8]
    assert s.loc["expressive", "mean"] > s.loc["accurate", "mean"]
    for _, r in s.iterrows():
        assert r["ci_low"] < r["mean"] < r["ci_high"]
    boot = summarize(louder_pairs, by="mode", metrics="loudness_lufs", ci="bootstrap").set_index("mode")
    assert boot.loc["accurate", "ci_low"] < boot.loc["accurate", "mean"] < boot.loc["accurate", "ci_high"]
