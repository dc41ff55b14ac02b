"""Core metrics on real speech: properties of louder, padded, pitch-shifted and cut-off copies; caching."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest
from analysis_fixtures import LJ1, LJ1_TEXT, load, pitch_up, table, write

from zonos_lab.analysis import analyze, metric_columns, metric_info, metrics_core
from zonos_lab.errors import MissingExtra
from zonos_lab.params import FRAME_RATE


@pytest.fixture(scope="module")
def variants(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    d = tmp_path_factory.mktemp("variants")
    y, sr = load(LJ1)
    y = y / np.max(np.abs(y)) * 0.3
    silence = np.zeros(int(2.5 * sr), dtype=np.float32)
    paths = [
        write(d / "base.wav", y, sr),
        write(d / "louder.wav", y * 2.0, sr),
        write(d / "padded.wav", np.concatenate([silence, y, silence]), sr),
        write(d / "pitched.wav", pitch_up(y, sr, 1.3), sr),
        None,
    ]
    frames = int(len(y) / sr * FRAME_RATE)
    df = table(paths, max_tokens=pd.array([frames, frames * 2, None, None, 100], dtype="Int64"))
    df["status"] = ["COMPLETED"] * 4 + ["FAILED"]
    return analyze(df, "core", cache_dir=d / "cache", progress=False).set_index("take_id")


def test_every_declared_column_is_added(variants: pd.DataFrame) -> None:
    assert set(metric_columns("core")) <= set(variants.columns)


def test_louder_copy_has_higher_loudness(variants: pd.DataFrame) -> None:
    gain_db = variants.loc["t1", "loudness_lufs"] - variants.loc["t0", "loudness_lufs"]
    assert 5.0 < gain_db < 7.0  # ×2 amplitude = +6.02 dB
    assert variants.loc["t1", "peak_dbfs"] > variants.loc["t0", "peak_dbfs"]


def test_added_silence_raises_silence_ratio_and_lowers_overall_rate(variants: pd.DataFrame) -> None:
    base, padded = variants.loc["t0"], variants.loc["t2"]
    assert padded["silence_ratio"] > base["silence_ratio"] + 0.2
    assert padded["leading_silence_s"] > base["leading_silence_s"] + 2.0
    assert padded["trailing_silence_s"] > base["trailing_silence_s"] + 2.0
    assert padded["speaking_rate_overall"] < base["speaking_rate_overall"] * 0.8
    # per second of *speech*: the pauses do not count, so the rate barely moves
    assert padded["speaking_rate"] == pytest.approx(base["speaking_rate"], rel=0.15)
    assert 1.5 < base["speaking_rate"] < 5.0  # read speech: words per second


def test_pitch_shifted_copy_has_higher_f0(variants: pd.DataFrame) -> None:
    ratio = variants.loc["t3", "f0_mean_hz"] / variants.loc["t0", "f0_mean_hz"]
    assert 1.15 < ratio < 1.45
    assert variants.loc["t3", "f0_mean_st"] - variants.loc["t0", "f0_mean_st"] == pytest.approx(
        12 * np.log2(1.3), abs=1.5)


def test_truncation_against_max_tokens(variants: pd.DataFrame) -> None:
    assert bool(variants.loc["t0", "truncated"]) is True
    assert bool(variants.loc["t1", "truncated"]) is False
    assert pd.isna(variants.loc["t2", "truncated"])


def test_dnsmos_in_range_and_failed_take_is_na(variants: pd.DataFrame) -> None:
    for col in ("dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl"):
        assert 1.0 <= variants.loc["t0", col] <= 5.0
    metric_cols = list(metric_columns("core"))
    assert variants.loc["t4", metric_cols].isna().all()


def test_cache_hit_costs_nothing(tmp_path, monkeypatch) -> None:
    y, sr = load(LJ1)
    df = table([write(tmp_path / "a.wav", y[: sr * 2], sr), write(tmp_path / "b.wav", y[sr: sr * 3], sr)])
    calls: list[int] = []
    real = metrics_core.compute_loudness

    def counting(clip, ctx):
        calls.append(1)
        return real(clip, ctx)

    monkeypatch.setattr(metrics_core, "compute_loudness", counting)
    first = analyze(df, ["loudness"], cache_dir=tmp_path / "c", progress=False)
    assert len(calls) == 2
    second = analyze(df, ["loudness"], cache_dir=tmp_path / "c", progress=False)
    assert len(calls) == 2  # nothing recomputed
    pd.testing.assert_series_equal(first["loudness_lufs"], second["loudness_lufs"])
    write(tmp_path / "b.wav", y[sr: sr * 3] * 0.5, sr)  # changed audio → new sha256 → recomputed
    third = analyze(df.drop(columns=[], errors="ignore"), ["loudness"], cache_dir=tmp_path / "c", progress=False)
    assert len(calls) == 3
    assert third.loc[1, "loudness_lufs"] < second.loc[1, "loudness_lufs"] - 5


def test_process_pool_gives_the_same_values(tmp_path) -> None:
    from concurrent.futures import ProcessPoolExecutor

    y, sr = load(LJ1)
    df = table([write(tmp_path / f"{i}.wav", y[i * sr: (i + 2) * sr], sr) for i in range(3)])
    seq = analyze(df, ["signal", "loudness"], cache_dir=tmp_path / "c1", progress=False)
    with ProcessPoolExecutor(2) as pool:
        par = analyze(df, ["signal", "loudness"], executor=pool, cache_dir=tmp_path / "c2", progress=False)
    pd.testing.assert_frame_equal(seq, par)


def test_any_minimal_frame_works(tmp_path) -> None:
    y, sr = load(LJ1)
    df = pd.DataFrame({"audio_path": [write(tmp_path / "x.wav", y, sr)], "text": [LJ1_TEXT],
                       "reference": ["https://example.org/ref.wav"], "language": ["en_us"]})
    out = analyze(df, ["signal"], cache_dir=tmp_path / "c", progress=False)
    assert out.loc[0, "sample_rate"] == sr and out.loc[0, "take_id"] == "take-0000"
    assert out.loc[0, "duration_s"] == pytest.approx(len(y) / sr)
    assert len(out.loc[0, "sha256"]) == 64


@pytest.mark.parametrize(("metric", "module", "extra"), [("asr", "faster_whisper", "asr"),
                                                          ("speaker", "resemblyzer", "speaker")])
def test_missing_extra_names_the_extra(tmp_path, monkeypatch, metric, module, extra) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` raise ImportError
    df = table([None])
    with pytest.raises(MissingExtra) as info:
        analyze(df, [metric], cache_dir=tmp_path / "c", progress=False)
    assert f"[{extra}]" in str(info.value) and info.value.extra == extra


def test_metric_info_names_models() -> None:
    info = metric_info()
    assert "tiny.en" in info["asr"]["model"] and info["asr"]["extra"] == "asr"
    assert info["speaker"]["extra"] == "speaker" and "resemblyzer" in info["speaker"]["model"]
    assert all(v["version"] for v in info.values())


def test_language_spellings_are_read_as_the_spec_codes_and_unknown_ones_refused(tmp_path) -> None:
    from zonos_lab.errors import InvalidParameter

    df = table([str(LJ1)] * 3, text="one two three four")
    df["language"] = ["en-US", "ZH", None]
    df["take_id"] = ["a", "b", "c"]
    out = analyze(df, ["vad"], cache_dir=tmp_path, progress=False)
    assert list(out["language"][:2]) == ["en_us", "cmn"] and pd.isna(out.loc[2, "language"])
    assert list(out["rate_unit"]) == ["words", "chars", "words"]  # cmn counts characters
    df["language"] = ["en_us", "english", "de"]
    with pytest.raises(InvalidParameter, match=r"language='english'.*en_us, en_gb") as err:
        analyze(df, ["vad"], cache_dir=tmp_path, progress=False)
    assert err.value.field == "language"
