"""The sweep journal: write-ahead ordering, resume classification, durability across a killed process,
and the results table (dtypes, relative paths, reading back from a copied run directory)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

from zonos_lab.sweep.journal import Journal
from zonos_lab.sweep.results import read_results, results_frame, rows_to_takes, write_results

REQ = {"reference_audio_url": "https://x.org/a.wav", "text": "Hi.", "seed": 5}


def make(tmp_path, n=6):
    j = Journal(tmp_path / "journal.sqlite")
    j.plan_many((f"t{i}", {**REQ, "seed": i}, {"seed": i}, "https://x.org/a.wav", i) for i in range(n))
    return j


def test_plan_is_idempotent_and_records_events(tmp_path):
    j = make(tmp_path)
    assert j.plan_many([("t0", REQ, {}, "r", 0), ("t9", REQ, {}, "r", 9)]) == 1
    assert j.counts() == {"PLANNED": 7}
    j.mark_submitting("t0", REQ)
    j.mark_submitted("t0", "req-0", "QUEUED", "2026-01-01T00:00:00+00:00")
    j.mark_status("t0", "PROCESSING")
    j.mark_completed("t0", audio_path="audio/t0.wav", sha256="ab", duration=1.0, sample_rate=44100,
                     completed_at="2026-01-01T00:00:05+00:00", model_id="m", queue_seconds=0.1, total_seconds=5.0)
    assert [e["status"] for e in j.events("t0")] == ["PLANNED", "SUBMITTING", "QUEUED", "PROCESSING", "COMPLETED"]
    row = j.get("t0")
    assert row["request_id"] == "req-0" and row["attempts"] == 1 and row["sha256"] == "ab"
    with pytest.raises(ValueError):
        j.mark_status("t1", "DONE")
    with pytest.raises(KeyError):
        j.mark_status("nope", "QUEUED")
    j.close()


def test_prepare_resume_sorts_every_state(tmp_path):
    j = make(tmp_path, 8)
    (tmp_path / "audio").mkdir()
    (tmp_path / "audio" / "t0.wav").write_bytes(b"RIFF")
    # t0 completed with audio; t1 completed but the file is gone; t2 queued; t3 submitting (no id);
    # t4 planned; t5 failed; t6 error; t7 cancelled
    for tid in ("t0", "t1", "t2", "t3", "t5", "t6"):
        j.mark_submitting(tid, REQ)
    for tid in ("t0", "t1", "t2", "t5", "t6"):
        j.mark_submitted(tid, f"r-{tid}", "QUEUED", "2026-01-01T00:00:00+00:00")
    for tid in ("t0", "t1"):
        j.mark_completed(tid, audio_path=f"audio/{tid}.wav", sha256="x", duration=1.0, sample_rate=44100,
                         completed_at=None, model_id=None, queue_seconds=None, total_seconds=None)
    j.mark_status("t5", "FAILED", error="bad")
    j.mark_status("t6", "ERROR", error="oops")
    j.mark_not_sent("t7", "CANCELLED", "cancelled")
    plan = j.prepare_resume(tmp_path)
    assert plan["skip"] == ["t0"]
    assert sorted(plan["poll"]) == ["t1", "t2"]
    assert plan["uncertain"] == ["t3"] and j.get("t3")["status"] == "UNCERTAIN"
    assert "may have been accepted" in j.get("t3")["error"]
    assert sorted(plan["submit"]) == ["t4", "t7"]
    assert sorted(plan["final"]) == ["t5", "t6"]
    # uncertain stays uncertain on a second resume, unless asked
    assert j.prepare_resume(tmp_path)["uncertain"] == ["t3"]
    plan2 = j.prepare_resume(tmp_path, resubmit_uncertain=True, retry_errors=True)
    assert sorted(plan2["submit"]) == ["t3", "t4", "t6", "t7"]
    assert j.get("t6")["request_id"] is None
    j.close()


def test_commits_survive_sigkill(tmp_path):
    """A process killed right after a commit leaves that commit in the journal (WAL, no clean close)."""
    path = tmp_path / "journal.sqlite"
    code = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {os.getcwd()!r})
        from zonos_lab.sweep.journal import Journal
        j = Journal({str(path)!r})
        j.plan_many([("a", {{}}, {{}}, "r", 0), ("b", {{}}, {{}}, "r", 1)])
        j.mark_submitting("a", {{"x": 1}})
        j.mark_submitted("a", "req-a", "QUEUED", "2026-01-01T00:00:00+00:00")
        j.mark_submitting("b", {{"x": 2}})
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL
    j = Journal(path)
    assert j.get("a")["request_id"] == "req-a" and j.get("a")["status"] == "QUEUED"
    assert j.get("b")["status"] == "SUBMITTING"
    plan = j.prepare_resume(tmp_path)
    assert plan["poll"] == ["a"] and plan["uncertain"] == ["b"] and plan["submit"] == []
    j.close()


def test_results_dtypes_relative_paths_and_copy(tmp_path):
    run = tmp_path / "run"
    (run / "audio").mkdir(parents=True)
    j = Journal(run / "journal.sqlite")
    j.plan_many([("t0", {**REQ, "accurate_mode": True, "language": "en_gb"}, {"seed": 5, "repeat": 0}, "ref", 0),
                 ("t1", {**REQ, "accurate_mode": False, "max_tokens": 100}, {"seed": 5, "repeat": 1}, "ref", 1)])
    (run / "audio" / "t0.wav").write_bytes(b"RIFF....WAVE")
    j.mark_submitting("t0", {**REQ, "accurate_mode": True, "language": "en_gb"})
    j.mark_submitted("t0", "r0", "QUEUED", "2026-01-01T00:00:00+00:00")
    j.mark_completed("t0", audio_path="audio/t0.wav", sha256="s", duration=1.5, sample_rate=44100,
                     completed_at="2026-01-01T00:00:03+00:00", model_id="zonos-2-emulator", queue_seconds=0.2,
                     total_seconds=3.0)
    df = results_frame(rows_to_takes(j.rows(), run))
    j.close()
    assert str(df["mode"].dtype) == "category" and list(df["mode"].cat.categories) == ["accurate", "expressive"]
    assert str(df["language"].dtype) == "category"
    for col in ("top_k", "max_tokens", "seed", "sample_rate"):
        assert str(df[col].dtype) == "Int64", col
    assert pd.api.types.is_datetime64_any_dtype(df["submitted_at"]) and str(df["submitted_at"].dt.tz) == "UTC"
    assert df.loc[1, "max_tokens"] == 100 and pd.isna(df.loc[0, "max_tokens"])
    assert list(df.columns[:3]) == ["take_id", "reference_audio_url", "text"] and "repeat" in df.columns
    assert df.loc[0, "audio_path"] == str(run / "audio" / "t0.wav")
    write_results(df, run)
    csv = pd.read_csv(run / "results.csv")
    assert csv.loc[0, "audio_path"] == "audio/t0.wav"
    assert pd.read_parquet(run / "results.parquet").loc[0, "audio_path"] == "audio/t0.wav"
    # a copied run directory reads back with paths inside the copy
    copy = tmp_path / "elsewhere" / "run"
    shutil.copytree(run, copy)
    shutil.rmtree(run)
    back = read_results(copy)
    assert back.loc[0, "audio_path"] == str(copy.resolve() / "audio" / "t0.wav")
    assert (copy / "audio" / "t0.wav").exists()
    assert back["seed"].dtype == "Int64" and back.loc[0, "status"] == "COMPLETED"
    assert json.loads(back.to_json(date_format="iso"))  # serialisable


def test_readonly_journal_and_missing(tmp_path):
    with pytest.raises(FileNotFoundError):
        Journal(tmp_path / "none.sqlite", readonly=True)
    make(tmp_path).close()
    ro = Journal(tmp_path / "journal.sqlite", readonly=True)
    assert ro.counts() == {"PLANNED": 6}
    ro.close()
