"""The sweep runner against the emulator on loopback: faults, SIGKILL + resume (no second POST), running
inside an event loop, webhooks, 402, budgets, cancel, local references, run directory and load_run."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import wave
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from zonos_lab.emulator import Emulator, EmulatorConfig, FaultPlan
from zonos_lab.errors import InvalidParameter, ZonosError
from zonos_lab.params import GenerationParams
from zonos_lab.references import ReferenceServer
from zonos_lab.sweep.cli import main as sweep_main
from zonos_lab.sweep.rundir import load_run
from zonos_lab.sweep.runner import Sweep

ROOT = Path(__file__).resolve().parent.parent


class ToneEngine:
    """A fast, deterministic stand-in for the speech engine (these tests are about the protocol)."""

    name = "test-tone"

    def synthesize(self, params, reference, reference_sr, seed):
        rng = np.random.default_rng(seed)
        n = 4410 + int(rng.integers(0, 2000))
        t = np.arange(n) / 44100.0
        audio = (0.2 * np.sin(2 * np.pi * (150 + 50 * params.temperature) * t)
                 + 0.01 * rng.standard_normal(n)).astype(np.float32)
        return SimpleNamespace(audio=audio, sample_rate=44100, truncated=False, seed=seed, info={})


@pytest.fixture(scope="module")
def ref_wav(tmp_path_factory):
    path = tmp_path_factory.mktemp("refs") / "voice.wav"
    t = np.arange(22050) / 22050.0
    pcm = (0.3 * np.sin(2 * np.pi * 180 * t) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(22050)
        w.writeframes(pcm.tobytes())
    return path


@pytest.fixture(scope="module")
def ref_url(ref_wav):
    with ReferenceServer() as srv:
        yield srv.url_for(ref_wav)


def emulator(**cfg):
    cfg.setdefault("processing_latency", 0.02)
    return Emulator(engine=ToneEngine(), config=EmulatorConfig(**cfg)).start()


def spec_of(ref, n_seeds=2, temps=(0.8, 1.2), modes=("accurate", "expressive"), texts=("Hello there.",), **kw):
    d = {"name": kw.pop("name", "t"), "parameters": {"temperature": {"values": list(temps)}}, "mode": list(modes),
         "seeds": n_seeds, "texts": list(texts), "references": [ref], "fixed": {"max_tokens": 200}}
    d.update(kw)
    return d


def fingerprints(run_dir: Path) -> dict[str, str]:
    db = sqlite3.connect(str(run_dir / "journal.sqlite"))
    try:
        return {tid: GenerationParams(**json.loads(req)).fingerprint()
                for tid, req in db.execute("SELECT take_id, request FROM takes")}
    finally:
        db.close()


def check_audio(df):
    import soundfile as sf

    from zonos_lab.audio import sha256_file

    done = df[df.status == "COMPLETED"]
    for _, r in done.iterrows():
        assert Path(r.audio_path).is_file(), r.take_id
        assert sha256_file(r.audio_path) == r.sha256
        assert r.duration > 0 and r.sample_rate == 44100
        assert sf.info(r.audio_path).frames > 0
    assert done["audio_path"].notna().all()


def no_secret_in(run_dir: Path, key: str):
    for p in run_dir.rglob("*"):
        if p.is_file():
            assert key.encode() not in p.read_bytes(), p


# ---------------------------------------------------------------------------------------------------------
def test_200_takes_with_injected_faults_are_all_accounted_for(tmp_path, ref_url):
    faults = FaultPlan.parse("post_429=0.08,post_500=0.03,drop=0.03,drop_after=0.03,failed=0.05,error=0.05,"
                             "status_500=0.05,retry_after=0.1", seed=11)
    emu = emulator(concurrency=8, faults=faults)
    try:
        spec = spec_of(ref_url, n_seeds=10, temps=(0.6, 0.8, 1.0, 1.2, 1.4), texts=("One.", "Two."), name="faults")
        sw = Sweep(spec, tmp_path / "run", api_key=emu.api_key, base_url=emu.base_url, concurrency=12,
                   progress=False)
        assert len(sw.trials) == 200
        df = sw.run()
        stats = emu.stats()
    finally:
        emu.stop()
    assert len(df) == 200 and df.take_id.is_unique
    assert set(df.status) <= {"COMPLETED", "FAILED", "ERROR", "UNCERTAIN"}, df.status.value_counts()
    counts = df.status.value_counts().to_dict()
    assert counts.get("COMPLETED", 0) > 120 and counts.get("FAILED", 0) > 0 and counts.get("ERROR", 0) > 0
    assert counts.get("UNCERTAIN", 0) > 0
    assert df[df.status != "COMPLETED"].error.notna().all()
    check_audio(df)
    assert sw.backend == "emulator" and set(df.backend) == {"emulator"}
    # the server saw every fault kind, and no take was ever accepted twice
    for kind in ("post_429", "post_500", "drop", "drop_after", "failed", "error"):
        assert stats["faults"].get(kind, 0) > 0, kind
    fps = fingerprints(sw.run_dir)
    assert len(set(fps.values())) == 200
    assert max(stats["submissions"].values()) == 1
    with_id = df[df.request_id.notna()]
    assert set(with_id.status) <= {"COMPLETED", "FAILED", "ERROR"}
    # accepted jobs = takes with an id + the ones whose 202 was dropped (flagged UNCERTAIN, never resent)
    assert sum(stats["submissions"].values()) == len(with_id) + stats["faults"]["drop_after"]
    for tid in df[df.status == "UNCERTAIN"].take_id:
        assert stats["submissions"].get(fps[tid], 0) <= 1
    assert counts.get("FAILED", 0) <= stats["jobs"]["FAILED"]
    assert sw.retries > 0
    # run directory
    for name in ("manifest.json", "journal.sqlite", "results.parquet", "results.csv"):
        assert (sw.run_dir / name).is_file()
    man = json.loads((sw.run_dir / "manifest.json").read_text())
    assert man["format"] == "zonos-lab-run/1" and man["emulator"] is True and len(man["trials"]) == 200
    assert sum(man["counts"].values()) == 200 and man["finished_at"]
    no_secret_in(sw.run_dir, emu.api_key)


# ---------------------------------------------------------------------------------------------------------
def test_sigkill_mid_run_then_resume_never_posts_a_take_twice(tmp_path, ref_url):
    emu = emulator(concurrency=4, processing_latency=0.25)
    run_dir = tmp_path / "killed"
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(spec_of(ref_url, n_seeds=8, temps=(0.7, 1.0, 1.3), name="killme")))  # 48 takes
    env = {**os.environ, "PIXAZO_BASE_URL": emu.base_url, "PIXAZO_API_KEY": emu.api_key,
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    try:
        proc = subprocess.Popen([sys.executable, "-m", "zonos_lab.sweep.cli", str(spec_path), "--out", str(run_dir),
                                 "--concurrency", "8", "--no-progress"], env=env, cwd=str(tmp_path),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        submitted = completed = 0
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
            if not (run_dir / "journal.sqlite").exists():
                continue
            try:
                db = sqlite3.connect(str(run_dir / "journal.sqlite"), timeout=5)
                submitted = db.execute("SELECT COUNT(*) FROM takes WHERE request_id IS NOT NULL").fetchone()[0]
                completed = db.execute("SELECT COUNT(*) FROM takes WHERE status='COMPLETED'").fetchone()[0]
                db.close()
            except sqlite3.Error:
                continue
            if completed >= 6 and submitted >= 12:
                break
        assert proc.poll() is None, proc.communicate()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        posts_at_kill = emu.stats()["accepted"]
        assert 12 <= posts_at_kill < 48

        resumed = subprocess.run([sys.executable, "-m", "zonos_lab.sweep.cli", "--resume", "--out", str(run_dir),
                                  "--no-progress", "--concurrency", "8"], env=env, cwd=str(tmp_path),
                                 capture_output=True, text=True, timeout=120)
        stats = emu.stats()
    finally:
        emu.stop()
    assert resumed.returncode in (0, 1), resumed.stderr
    assert "48 takes" in resumed.stdout
    sw = load_run(run_dir)
    df = sw.results
    assert len(df) == 48
    assert set(df.status) <= {"COMPLETED", "UNCERTAIN"}
    uncertain = df[df.status == "UNCERTAIN"]
    assert len(uncertain) <= 8  # at most the POSTs in flight at the kill
    assert (resumed.returncode == 0) == uncertain.empty
    check_audio(df)
    # the server's own counter: no take was POSTed (accepted) twice
    assert max(stats["submissions"].values()) == 1
    assert stats["accepted"] > posts_at_kill  # the resume did submit the never-sent takes
    fps = fingerprints(run_dir)
    assert sum(stats["submissions"].values()) == stats["accepted"]
    assert all(stats["submissions"].get(fps[t], 0) == 1 for t in df[df.status == "COMPLETED"].take_id)
    assert not [p for p in (run_dir / "audio").iterdir() if p.suffix == ".wav" and p.stat().st_size == 0]


# ---------------------------------------------------------------------------------------------------------
async def test_run_works_inside_a_running_event_loop(tmp_path, ref_url):
    asyncio.get_running_loop()  # as in Jupyter: a loop is already running in this thread
    emu = emulator()
    try:
        sw = Sweep(spec_of(ref_url, name="nb"), tmp_path / "nb", api_key=emu.api_key, base_url=emu.base_url,
                   progress=False)
        df = sw.run()
        assert (df.status == "COMPLETED").all() and len(df) == 8
        # the async path on the same loop
        sw2 = Sweep(spec_of(ref_url, name="nb2", n_seeds=1), tmp_path / "nb2", api_key=emu.api_key,
                    base_url=emu.base_url, progress=False)
        df2 = await sw2.arun()
        assert (df2.status == "COMPLETED").all() and len(df2) == 4
    finally:
        emu.stop()


def test_webhook_completion_makes_no_status_requests(tmp_path, ref_url):
    emu = emulator(concurrency=4)
    try:
        sw = Sweep(spec_of(ref_url, name="hooks"), tmp_path / "hooks", api_key=emu.api_key,
                   base_url=emu.base_url, completion="webhook", progress=False)
        df = sw.run()
        stats = emu.stats()
    finally:
        emu.stop()
    assert (df.status == "COMPLETED").all()
    check_audio(df)
    assert sum(stats["polls"].values()) == 0 and sw.request_counts.get("status_gets", 0) == 0
    assert stats["webhooks"]["sent"] >= 8


def test_stops_cleanly_on_402_and_keeps_what_was_done(tmp_path, ref_url, monkeypatch, capsys):
    emu = emulator(concurrency=2, balance=5.0, price_per_take=1.0)
    try:
        monkeypatch.setenv("PIXAZO_API_KEY", emu.api_key)
        monkeypatch.delenv("PIXAZO_BASE_URL", raising=False)
        spec_path = tmp_path / "s.json"
        spec_path.write_text(json.dumps(spec_of(ref_url, n_seeds=3, name="broke")))  # 12 takes
        code = sweep_main([str(spec_path), "--out", str(tmp_path / "broke"), "--base-url", emu.base_url,
                           "--concurrency", "2", "--no-progress"])
        stats = emu.stats()
    finally:
        emu.stop()
    assert code == 3
    out = capsys.readouterr().out
    assert "insufficient_balance" in out and out.count("\n") == 1
    df = load_run(tmp_path / "broke").results
    assert len(df) == 12
    assert (df.status == "COMPLETED").sum() == stats["charged_jobs"] == 5
    assert set(df.status) == {"COMPLETED", "SKIPPED"}
    assert df[df.status == "SKIPPED"].error.str.contains("402|stopped|insufficient", regex=True).all()
    check_audio(df)
    assert json.loads((tmp_path / "broke" / "manifest.json").read_text())["stopped_reason"] == "insufficient_balance"


def test_budget_caps_then_resume_finishes_without_resending(tmp_path, ref_url):
    emu = emulator()
    try:
        kw = dict(api_key=emu.api_key, base_url=emu.base_url, progress=False)
        sw = Sweep(spec_of(ref_url, name="budget"), tmp_path / "b", max_takes=3, **kw)
        df = sw.run()
        assert (df.status == "COMPLETED").sum() == 3 and (df.status == "SKIPPED").sum() == 5
        assert emu.stats()["accepted"] == 3 and "max_takes" in sw.stopped_reason
        sw2 = Sweep(spec_of(ref_url, name="budget"), tmp_path / "b", max_cost=1.0, price_per_take=0.5, **kw)
        df2 = sw2.run()
        assert (df2.status == "COMPLETED").sum() == 5 and emu.stats()["accepted"] == 5
        df3 = Sweep.resume(tmp_path / "b", **kw).results
        assert (df3.status == "COMPLETED").all()
        stats = emu.stats()
        assert stats["accepted"] == 8 and max(stats["submissions"].values()) == 1
        with pytest.raises(InvalidParameter) as e:
            Sweep(spec_of(ref_url, name="budget"), tmp_path / "x", max_cost=1.0, **kw)
        assert e.value.field == "price_per_take"
    finally:
        emu.stop()


def test_cancel_a_background_sweep_then_resume(tmp_path, ref_url):
    emu = emulator(concurrency=2, processing_latency=0.3)
    try:
        kw = dict(api_key=emu.api_key, base_url=emu.base_url, progress=False)
        sw = Sweep(spec_of(ref_url, n_seeds=4, name="cancel"), tmp_path / "c", concurrency=2, **kw).start()
        assert not sw.done
        time.sleep(0.3)
        with pytest.raises(ZonosError, match="in use"):  # a second process/sweep on the same run dir
            Sweep(spec_of(ref_url, n_seeds=4, name="cancel"), tmp_path / "c", **kw).run()
        time.sleep(0.5)
        sw.cancel()
        df = sw.wait(30)
        assert sw.done and sw.stopped_reason == "cancelled"
        assert "SUBMITTING" not in set(df.status) and "PLANNED" not in set(df.status)
        assert (df.status == "CANCELLED").sum() > 0
        assert df[df.status.isin(["QUEUED", "PROCESSING"])].request_id.notna().all()
        accepted = emu.stats()["accepted"]
        df2 = Sweep.resume(tmp_path / "c", **kw).results
        stats = emu.stats()
        assert set(df2.status) <= {"COMPLETED", "UNCERTAIN"} and (df2.status == "COMPLETED").sum() >= 15
        assert max(stats["submissions"].values()) == 1 and stats["accepted"] > accepted
    finally:
        emu.stop()


def test_rpm_limit_spaces_requests(tmp_path, ref_url):
    emu = emulator()
    try:
        sw = Sweep(spec_of(ref_url, n_seeds=1, modes=("accurate",), name="rpm"), tmp_path / "r",
                   api_key=emu.api_key, base_url=emu.base_url, requests_per_minute=600, progress=False)
        t0 = time.monotonic()
        df = sw.run()
        wall = time.monotonic() - t0
    finally:
        emu.stop()
    assert (df.status == "COMPLETED").all()
    n = sw.request_counts["posts"] + sw.request_counts["status_gets"]
    assert wall >= (n - 1) * 0.1 * 0.95


def test_local_reference_is_served_and_copied(tmp_path, ref_wav):
    emu = emulator()
    try:
        local = tmp_path / "my voice.wav"
        shutil.copy(ref_wav, local)
        sw = Sweep(spec_of(str(local), n_seeds=1, name="local"), tmp_path / "l", api_key=emu.api_key,
                   base_url=emu.base_url, progress=False)
        df = sw.run()
    finally:
        emu.stop()
    assert (df.status == "COMPLETED").all()
    assert set(df.reference) == {str(local)}
    from zonos_lab.audio import sha256_file

    assert set(df.reference_sha256) == {sha256_file(local)}
    assert all(Path(p).is_file() and Path(p).parent.name == "references" for p in df.reference_path)
    man = json.loads((tmp_path / "l" / "manifest.json").read_text())
    assert man["references"][str(local)]["sha256"] == sha256_file(local)
    assert man["references"][str(local)]["duration"] == pytest.approx(1.0, abs=0.05)


def test_local_reference_with_a_remote_backend_fails_before_sending(tmp_path, ref_wav):
    sw = Sweep(spec_of(str(ref_wav), n_seeds=1, name="cloud"), tmp_path / "cl", api_key="k-SECRET-123",
               base_url="https://gateway.example.invalid", progress=False)
    with pytest.raises(InvalidParameter) as e:
        sw.run()
    assert e.value.field == "references" and "URL" in str(e.value)
    no_secret_in(tmp_path / "cl", "k-SECRET-123")


def test_other_spec_in_same_run_dir_is_refused_and_load_run_works_after_copy(tmp_path, ref_url):
    emu = emulator()
    try:
        kw = dict(api_key=emu.api_key, base_url=emu.base_url, progress=False)
        sw = Sweep(spec_of(ref_url, n_seeds=1, name="copyme"), tmp_path / "orig", **kw)
        df = sw.run()
        with pytest.raises(InvalidParameter) as e:
            Sweep(spec_of(ref_url, n_seeds=2, name="copyme"), tmp_path / "orig", **kw).run()
        assert e.value.field == "run_dir"
        # same spec again: nothing is resent
        before = emu.stats()["posts"]
        Sweep(spec_of(ref_url, n_seeds=1, name="copyme"), tmp_path / "orig", **kw).run()
        assert emu.stats()["posts"] == before
    finally:
        emu.stop()
    shutil.copytree(tmp_path / "orig", tmp_path / "moved" / "copy")
    shutil.rmtree(tmp_path / "orig")
    back = load_run(tmp_path / "moved" / "copy")
    got = back.results
    assert list(got.take_id) == list(df.take_id) and (got.status == "COMPLETED").all()
    assert all(str(tmp_path / "moved" / "copy") in p for p in got.audio_path)
    check_audio(got)
    assert back.manifest["name"] == "copyme" and back.backend == "emulator"
    assert "copyme" in back._repr_html_()


def test_cli_dry_run_and_bad_input_exit_codes(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("PIXAZO_API_KEY", raising=False)
    monkeypatch.delenv("PIXAZO_BASE_URL", raising=False)
    spec = tmp_path / "s.json"
    spec.write_text(json.dumps({"references": ["https://x.org/a.wav"], "seeds": 3, "fixed": {"max_tokens": 862}}))
    assert sweep_main([str(spec), "--out", str(tmp_path / "o"), "--dry-run", "--price", "0.5"]) == 0
    out = capsys.readouterr().out
    assert "3 takes" in out and "1.50" in out and not (tmp_path / "o").exists()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"references": ["https://x.org/a.wav"], "parameters": {"temperature": [0.5, 9]}}))
    assert sweep_main([str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "temperature=9" in capsys.readouterr().err
    assert sweep_main([str(tmp_path / "missing.toml"), "--out", str(tmp_path / "o")]) == 2
    assert sweep_main(["--resume", "--out", str(tmp_path / "none")]) == 2
    assert not (tmp_path / "o").exists()
