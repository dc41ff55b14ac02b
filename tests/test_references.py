"""Local references: the loopback server, resolve_reference, and every spec format through the emulator."""

from __future__ import annotations

import shutil

import httpx
import numpy as np
import pytest
from emulator_fixtures import DATA, VOICE, SineEngine, body, headers, poll, post, start

from zonos_lab.audio import decode_audio, sha256_bytes, sha256_file
from zonos_lab.emulator import Emulator
from zonos_lab.errors import InvalidParameter
from zonos_lab.references import ReferenceServer, ResolvedReference, default_server, resolve_reference

REF = DATA / "reference"
FORMATS = {".wav": "en_us_ljspeech_LJ001-0001.wav", ".mp3": "en_us_ljspeech_LJ001-0005.mp3",
           ".ogg": "fr_fr_fleurs_003.ogg", ".m4a": "en_us_jfk.m4a", ".flac": "en_us_jfk.flac"}


@pytest.fixture(scope="module")
def refs():
    with ReferenceServer() as server:
        yield server


@pytest.fixture(scope="module")
def aac_file(tmp_path_factory):
    """A raw ADTS .aac file (the spec lists AAC; none ships in data/), made with PyAV from a WAV."""
    import av

    y, sr = decode_audio(REF / FORMATS[".m4a"])
    path = tmp_path_factory.mktemp("aac") / "ref.aac"
    with av.open(str(path), "w", format="adts") as out:
        stream = out.add_stream("aac", rate=sr, layout="mono")
        frame_size = 1024
        pts = 0
        for i in range(0, y.size - frame_size, frame_size):
            frame = av.AudioFrame.from_ndarray(y[None, i:i + frame_size].astype(np.float32), format="fltp",
                                               layout="mono")
            frame.sample_rate, frame.pts = sr, pts
            pts += frame_size
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def test_url_for_serves_exact_bytes_and_only_registered_files(refs, tmp_path):
    url = refs.url_for(VOICE)
    assert url.startswith("http://127.0.0.1:") and url.endswith("/AmericanFemale.mp3")
    r = httpx.get(url)
    assert r.status_code == 200 and r.content == VOICE.read_bytes() and r.headers["content-type"] == "audio/mpeg"
    assert refs.url_for(VOICE) == url  # stable
    base = url.rsplit("/", 2)[0]
    for path in ("/ref/0000000000000000/AmericanFemale.mp3", "/etc/passwd", "/ref/../pyproject.toml",
                 url.replace("AmericanFemale", "AmericanMale").removeprefix(refs.base_url)):
        assert httpx.get(refs.base_url + path).status_code == 404
    assert base.startswith(refs.base_url)
    # the URL follows the content
    copy = tmp_path / "v.mp3"
    shutil.copy(VOICE, copy)
    u1 = refs.url_for(copy)
    copy.write_bytes((DATA / "voices" / "AmericanMale.mp3").read_bytes())
    u2 = refs.url_for(copy)
    assert u1 != u2 and httpx.get(u2).content == copy.read_bytes()
    assert httpx.get(u1).status_code == 404  # the old URL no longer names this content
    with pytest.raises(InvalidParameter) as info:
        refs.url_for(tmp_path / "missing.wav")
    assert info.value.field == "reference"


def test_resolve_reference_local_http_and_file_urls(refs):
    r = resolve_reference("https://example.org/ref.wav")
    assert r == ResolvedReference(url="https://example.org/ref.wav")
    for ref in (VOICE, str(VOICE), VOICE.as_uri()):
        r = resolve_reference(ref, server=refs)
        assert r.local_path == VOICE.resolve() and r.sha256 == sha256_file(VOICE)
        y, sr = decode_audio(VOICE)
        assert abs(r.duration - y.size / sr) < 0.1
        assert httpx.get(r.url).content == VOICE.read_bytes()


@pytest.mark.parametrize("ref,reason", [("nope/missing.wav", "no such file"), ("ftp://host/x.wav", "scheme"),
                                        ("https://", "no host")])
def test_resolve_reference_errors_name_the_field(ref, reason):
    with pytest.raises(InvalidParameter) as info:
        resolve_reference(ref)
    assert info.value.field == "reference" and reason in str(info.value)


def test_undecodable_local_file_is_refused_before_sending(tmp_path, refs):
    bad = tmp_path / "notes.wav"
    bad.write_text("this is not audio")
    with pytest.raises(InvalidParameter, match="not decodable"):
        resolve_reference(bad, server=refs)


def test_default_server_is_shared():
    assert default_server() is default_server()
    url = resolve_reference(VOICE).url
    assert url.startswith(default_server().base_url)


def test_every_spec_format_decodes_in_the_emulator(refs, aac_file):
    eng = SineEngine(seconds_per_char=0.01)
    files = [REF / name for name in FORMATS.values()] + [aac_file]
    with start(engine=eng, concurrency=3) as emu:
        ids = [post(emu, body(reference_audio_url=refs.url_for(f), seed=i)).json()["request_id"]
               for i, f in enumerate(files)]
        finals = [poll(emu, rid, timeout=60) for rid in ids]
    assert [f["status"] for f in finals] == ["COMPLETED"] * len(files), [f["error"] for f in finals]
    by_seed = {c["seed"]: c for c in eng.calls}
    for i, f in enumerate(files):
        y, sr = decode_audio(f)
        assert by_seed[i]["ref_sr"] == sr and abs(by_seed[i]["ref_seconds"] - y.size / sr) < 0.2


def test_unreachable_and_undecodable_urls_fail_the_job(refs, tmp_path):
    bad = tmp_path / "x.mp3"
    bad.write_bytes(b"\x00" * 5000)
    with start() as emu:
        st = poll(emu, post(emu, body(reference_audio_url=refs.url_for(bad))).json()["request_id"])
        assert st["status"] == "FAILED" and "not decodable" in st["error"]
        missing = refs.url_for(VOICE).replace("/ref/", "/ref/x")
        st = poll(emu, post(emu, body(reference_audio_url=missing)).json()["request_id"])
        assert st["status"] == "FAILED" and "HTTP 404" in st["error"]


def _median_f0(y: np.ndarray, sr: int, frame: int = 2048) -> float:
    """Median autocorrelation pitch (Hz) of the loud frames: a crude but honest speech check."""
    f0s = []
    rms_all = float(np.sqrt(np.mean(y**2)))
    for i in range(0, y.size - frame, frame // 2):
        x = y[i:i + frame] - y[i:i + frame].mean()
        if float(np.sqrt(np.mean(x**2))) < rms_all:
            continue
        ac = np.correlate(x, x, mode="full")[frame - 1:]
        lo, hi = sr // 400, sr // 60
        lag = lo + int(np.argmax(ac[lo:hi]))
        if ac[lag] > 0.3 * ac[0]:
            f0s.append(sr / lag)
    assert len(f0s) >= 5, "too few voiced frames"
    return float(np.median(f0s))


def test_default_engine_end_to_end_speech():
    pytest.importorskip("zonos_lab.emulator.engine", reason="the engine helper's module is not present yet")
    with ReferenceServer() as refs, Emulator() as emu:
        text = "The quick brown fox jumps over the lazy dog."
        r = httpx.post(emu.submit_url, json={"reference_audio_url": refs.url_for(VOICE), "text": text, "seed": 1},
                       headers=headers(emu))
        st = poll(emu, r.json()["request_id"], timeout=120, every=0.1)
        assert st["status"] == "COMPLETED", st["error"]
        assert st["engine"] and st["model_id"] == "zonos-2-emulator"
        y, sr = decode_audio(httpx.get(st["output"]["media_url"][0]).content)
        assert sr == 44100
        assert 1.0 < y.size / sr < 10.0  # plausible for 9 words
        assert float(np.sqrt(np.mean(y**2))) > 0.01
        if "fallback" not in (st["engine"] or ""):  # real speech: a voice-like pitch
            assert 60.0 < _median_f0(y, sr) < 400.0
        first = sha256_bytes(y.tobytes())
        st2 = poll(emu, httpx.post(emu.submit_url, json={"reference_audio_url": refs.url_for(VOICE), "text": text,
                                                          "seed": 1}, headers=headers(emu)).json()["request_id"],
                   timeout=120, every=0.1)
        y2, _ = decode_audio(httpx.get(st2["output"]["media_url"][0]).content)
        assert sha256_bytes(y2.tobytes()) == first
