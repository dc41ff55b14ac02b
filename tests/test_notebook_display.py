"""Rich displays: take_html, sweep_html and show_grid, checked on real speech without a browser."""

from __future__ import annotations

import base64
import re
import sys
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from notebook_fixtures import grid_results, make_take

from zonos_lab.analysis.plots import mel_db
from zonos_lab.audio import decode_audio, read_wav_metadata
from zonos_lab.errors import InvalidParameter
from zonos_lab.notebook import display
from zonos_lab.notebook.display import audio_data_uri, sweep_html, take_html
from zonos_lab.notebook.grid import show_grid

URI = re.compile(r'src="data:(audio/[a-z0-9]+);base64,([A-Za-z0-9+/=]+)"')
PNG = re.compile(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


def _decode_uri(b64: str) -> tuple[object, int]:
    return decode_audio(base64.b64decode(b64))


def test_take_html_embeds_playable_audio_spectrogram_and_fields(tmp_path: Path) -> None:
    take = make_take(tmp_path, "take-a", seconds=2.0, temperature=1.3, seed=7, top_k=50, max_tokens=300,
                     accurate_mode=False, text="Ask not <what> your country can do.")
    html = take_html(take)
    assert take._repr_html_() == html
    players = URI.findall(html)
    assert len(players) == 1 and "<audio controls" in html
    y, sr = _decode_uri(players[0][1])
    y0, sr0 = decode_audio(take.audio_path)
    assert sr == sr0 and len(y) == len(y0)  # the whole clip, not a preview
    pngs = PNG.findall(html)
    assert len(pngs) == 1 and base64.b64decode(pngs[0])[:8] == b"\x89PNG\r\n\x1a\n"
    for needle in ("take-a", "expressive", "1.3", ">7<", "50", "300 frames (3.48 s)", "2.00 s", "COMPLETED",
                   "EMULATOR"):
        assert needle in html, needle
    assert "<what>" not in html and "&lt;what&gt;" in html  # escaped


def test_cloud_take_has_no_emulator_badge_and_failed_take_shows_error(tmp_path: Path) -> None:
    cloud = make_take(tmp_path, "c1", backend="cloud", seed=1)
    assert "EMULATOR" not in take_html(cloud)
    failed = make_take(tmp_path, "f1", status="FAILED", seed=1)
    html = take_html(failed)
    assert "could not fetch the reference" in html and "FAILED" in html
    assert "<audio" not in html and "no audio" in html


def test_long_clip_is_embedded_as_compact_mp3(tmp_path: Path) -> None:
    take = make_take(tmp_path, "long", seconds=6.0, seed=1)
    wav_uri = audio_data_uri(take.audio_path, "wav")
    mp3_uri = audio_data_uri(take.audio_path, max_wav_seconds=2.0)
    assert wav_uri.startswith("data:audio/wav;base64,") and mp3_uri.startswith("data:audio/mpeg;base64,")
    assert len(mp3_uri) < len(wav_uri) / 3
    y, sr = decode_audio(base64.b64decode(mp3_uri.split(",", 1)[1]))
    assert abs(len(y) / sr - take.duration) < 0.15
    with pytest.raises(InvalidParameter):
        audio_data_uri(take.audio_path, "flac-please")


def test_wav_reencode_drops_metadata(tmp_path: Path) -> None:
    take = make_take(tmp_path, "m", seed=1)
    assert read_wav_metadata(take.audio_path).get("mode") == "accurate"
    raw = base64.b64decode(audio_data_uri(take.audio_path, "wav").split(",", 1)[1])
    (tmp_path / "re.wav").write_bytes(raw)
    assert "mode" not in read_wav_metadata(tmp_path / "re.wav")


def test_without_analysis_extra_the_picture_is_replaced_by_a_note(tmp_path: Path, monkeypatch) -> None:
    take = make_take(tmp_path, "n1", seed=1)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib → ImportError
    html = take_html(take)
    assert "<audio" in html and not PNG.findall(html)
    assert "[analysis]" in html and "pip install" in html
    grid = show_grid([take], rows="seed", cols=None)
    assert "[analysis]" in grid.html and grid.vmin is None


def test_sweep_html_counts_statuses_and_summarises(tmp_path: Path) -> None:
    df = grid_results(tmp_path, seeds=(1,))
    df.loc[0, "status"] = "FAILED"
    df.loc[0, "error"] = "boom happened"
    df.loc[1, "status"] = "QUEUED"
    sweep = SimpleNamespace(results=df, run_dir=str(tmp_path), spec=SimpleNamespace(name="temps"), done=False)
    html = sweep_html(sweep)
    n = len(df)
    assert f"{n - 1}/{n}" in html  # QUEUED is not finished
    assert "FAILED 1" in html and "QUEUED 1" in html and f"COMPLETED {n - 2}" in html
    assert "temps" in html and str(tmp_path) in html and "EMULATOR" in html and "running" in html
    assert "boom happened" in html
    for t in sorted(df["temperature"].unique()):
        assert f">{t}<" in html


def test_grid_shares_one_colour_scale_and_picks_the_first_seed(tmp_path: Path) -> None:
    df = grid_results(tmp_path)
    g = show_grid(df, rows="temperature", cols="mode")
    assert len(g.cells) == 4 and all(c["n"] == 2 for c in g.cells)
    shown = [tid for c in g.cells for tid in c["take_ids"]]
    assert set(df.set_index("take_id").loc[shown, "seed"]) == {1}
    # The colour scale is the loudest bin among the shown takes, down 80 dB, on every thumbnail.
    top = max(float(mel_db(p, 64)[0].max()) for p in df.set_index("take_id").loc[shown, "audio_path"])
    assert g.vmax == pytest.approx(top, abs=1e-3) and g.vmin == pytest.approx(top - 80, abs=1e-3)
    assert f'data-vmax="{top:.2f}"' in g.html
    assert len(PNG.findall(g.html)) == 4 + 1  # thumbnails + the shared colour bar
    assert g.html.count('preload="none"') == 4 and "preload=\"metadata\"" not in g.html
    for label in ("temperature = 0.8", "temperature = 1.2", "mode = accurate", "mode = expressive"):
        assert label in g.html
    assert g._repr_html_() == g.html


def test_grid_seed_selector_all_and_missing_cells(tmp_path: Path) -> None:
    df = grid_results(tmp_path)
    g2 = show_grid(df, rows="temperature", cols="mode", seed=2)
    assert set(df.set_index("take_id").loc[[t for c in g2.cells for t in c["take_ids"]], "seed"]) == {2}
    g_all = show_grid(df, rows="temperature", cols="mode", seed="all")
    assert sum(len(c["take_ids"]) for c in g_all.cells) == len(df)
    part = df[~((df.temperature == 1.2) & (df["mode"] == "expressive"))]
    g3 = show_grid(part, rows="temperature", cols="mode")
    assert len(g3.cells) == 3 and "(no take)" in g3.html
    with pytest.raises(InvalidParameter):
        show_grid(df, rows="no_such_column")
    with pytest.raises(InvalidParameter):
        show_grid(df, seed=99)


def test_grid_resolves_relative_paths_of_a_copied_run(tmp_path: Path) -> None:
    df = grid_results(tmp_path / "run", temps=(1.0,), seeds=(1,))
    df["audio_path"] = [str(Path(p).relative_to(tmp_path / "run")) for p in df["audio_path"]]
    sweep = SimpleNamespace(results=df, run_dir=str(tmp_path / "run"))
    g = show_grid(sweep, rows="mode", cols=None)
    assert len(URI.findall(g.html)) == 2 and "no audio" not in g.html


def test_large_grid_uses_thumbnails_and_mp3(tmp_path: Path) -> None:
    df = grid_results(tmp_path, temps=(0.6, 0.9, 1.2, 1.5, 1.8), seeds=(1,), seconds=0.6)
    g = show_grid(df, rows="temperature", cols="mode")
    assert len(g.cells) == 10
    kinds = {m for m, _ in URI.findall(g.html)}
    assert kinds == {"audio/mpeg"}
    small = show_grid(df[df.temperature < 1.0], rows="temperature", cols="mode")
    import struct

    def width(b64: str) -> int:
        return struct.unpack(">I", base64.b64decode(b64)[16:20])[0]

    assert width(PNG.findall(g.html)[0]) < width(PNG.findall(small.html)[0])


def test_grid_accepts_a_list_of_takes(tmp_path: Path) -> None:
    takes = [make_take(tmp_path, f"k{s}", seed=s, i=s) for s in (3, 4)]
    g = show_grid(takes, rows="seed", cols=None)
    assert [c["row"] for c in g.cells] == [3, 4]
    assert isinstance(pd.DataFrame([t.to_row() for t in takes]), pd.DataFrame)
    assert display.analysis_available()


def test_shared_scale_shows_a_quieter_take_darker(tmp_path: Path) -> None:
    import io

    from matplotlib.image import imread

    quiet = make_take(tmp_path, "quiet", i=0, gain=0.1, seed=1)
    loud = make_take(tmp_path, "loud", i=0, gain=1.0, seed=2)  # same speech, +20 dB
    g = show_grid([quiet, loud], rows="seed", cols=None)
    thumbs = PNG.findall(g.html)[:2]
    brightness = [float(imread(io.BytesIO(base64.b64decode(t)))[..., :3].mean()) for t in thumbs]
    assert brightness[0] < brightness[1] - 0.05  # one colour scale: the quiet take is visibly darker
