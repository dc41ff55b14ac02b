"""Run directories for the report tests.

* `build_run` / `emulator_sweep`: a real 8-take sweep on an in-process emulator (webhook completion).
* `make_run`: a synthetic run (layout of interfaces.md) made of cuts of real recordings from
  data/reference/, resampled to 44.1 kHz and varied by take (gain, speed) so that metrics differ; one
  take is FAILED and one request is repeated — cases a small emulator sweep does not give cheaply.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from zonos_lab.audio import decode_audio, resample, sha256_file, write_wav_atomic
from zonos_lab.params import GenerationParams

DATA = Path(__file__).resolve().parents[1] / "data" / "reference"
LJ1 = DATA / "en_us_ljspeech_LJ001-0001.wav"
#: Metric cache shared by the report test files (same audio → computed once per machine).
ANALYSIS_CACHE = Path(tempfile.gettempdir()) / f"zonos-lab-test-analysis-{os.getuid()}"
TEXT = "Printing, in the only sense with which we are at present concerned, differs from most"


def make_run(run_dir: Path, *, failed: bool = True, emulator: bool = True, seconds: float = 2.5,
             repeat: bool = True) -> Path:
    """Write a 2 modes × 2 temperatures × 2 seeds run (+ one repeated request when `repeat`)."""
    run_dir = Path(run_dir)
    (run_dir / "audio").mkdir(parents=True, exist_ok=True)
    y, sr = decode_audio(LJ1, sample_rate=44100)
    ref_sha = sha256_file(LJ1)
    trials: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    t0 = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
    combos = [(acc, temp, seed) for acc in (True, False) for temp in (0.8, 1.2) for seed in (1, 2)]
    if repeat:
        combos.append((True, 0.8, 1))
    for i, (acc, temp, seed) in enumerate(combos):
        take_id = f"t{i:03d}-{'acc' if acc else 'exp'}-T{temp}-s{seed}"
        params = GenerationParams(reference_audio_url=f"http://127.0.0.1:9/{LJ1.name}", text=TEXT, accurate_mode=acc,
                                  temperature=temp, seed=seed, max_tokens=400)
        coords = {"accurate_mode": acc, "temperature": temp, "seed": seed}
        trials.append({"take_id": take_id, "coords": coords, "request": params.to_request_json()})
        speed = 1.0 + 0.04 * seed + (0.05 if not acc else 0.0)
        gain = 0.5 + 0.3 * (temp - 0.8)
        start = int((0.2 + 0.1 * (i % 4 if i < 8 else 0)) * sr)
        clip = resample(y[start:start + int(seconds * sr * speed)], int(sr * speed), sr) * gain
        status, error, rel, sha, dur = "COMPLETED", None, None, None, None
        if failed and i == 5:
            status, error = "FAILED", "generation failed: emulated fault (FaultPlan failed)"
        else:
            rel = f"audio/{take_id}.wav"
            write_wav_atomic(run_dir / rel, clip.astype(np.float32), 44100,
                             {"software": "zonos-2-emulator", "take_id": take_id})
            sha, dur = sha256_file(run_dir / rel), len(clip) / 44100
        row = {"take_id": take_id, **params.model_dump(), "mode": params.mode, "reference": str(LJ1),
               "reference_path": str(LJ1), "reference_sha256": ref_sha, "status": status,
               "request_id": f"req-{i:04d}", "error": error, "submitted_at": t0 + timedelta(seconds=i),
               "completed_at": t0 + timedelta(seconds=i + 2), "queue_seconds": 0.1, "total_seconds": 2.0,
               "audio_path": rel, "duration": dur, "sample_rate": 44100 if rel else None, "sha256": sha,
               "backend": "emulator" if emulator else "cloud",
               "model_id": "zonos-2-emulator" if emulator else "zonos-2"}
        rows.append(row)
    df = pd.DataFrame(rows)
    df.to_parquet(run_dir / "results.parquet")
    df.to_csv(run_dir / "results.csv", index=False)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    manifest = {
        "format": "zonos-lab-run/1", "zonos_lab_version": "0.1.0", "name": "synthetic-mode-temperature",
        "created_at": t0.isoformat(), "finished_at": (t0 + timedelta(seconds=42)).isoformat(),
        "spec": {"name": "synthetic-mode-temperature", "description": "accurate vs expressive over temperature",
                 "method": "grid", "parameters": {"accurate_mode": {"values": [True, False]},
                                                  "temperature": {"values": [0.8, 1.2]}},
                 "seeds": [1, 2], "fixed": {"text": TEXT, "max_tokens": 400}, "references": [str(LJ1)]},
        "trials": trials, "backend": "emulator" if emulator else "cloud",
        "endpoint": "http://127.0.0.1:8787" if emulator else "https://api.example.invalid",
        "emulator": emulator, "model_id": "zonos-2-emulator" if emulator else "zonos-2",
        "references": {str(LJ1): {"sha256": ref_sha, "duration": len(y) / sr, "local_path": str(LJ1)}},
        "environment": {"python": "3.11.2", "platform": "Linux-x86_64", "packages": {"numpy": np.__version__,
                                                                                   "pandas": pd.__version__}},
        "price_per_take": 0.01, "counts": counts, "reproduces": None,
    }
    (run_dir / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return run_dir


VOICE = Path(__file__).resolve().parents[1] / "data" / "voices" / "AmericanFemale.mp3"
#: A small study: 2 modes × 2 temperatures × 2 seeds = 8 takes.
SPEC: dict[str, Any] = {
    "name": "report-test", "description": "accurate vs expressive over temperature (test)",
    "parameters": {"accurate_mode": {"values": [True, False]}, "temperature": {"values": [0.8, 1.2]}},
    "seeds": [1, 2], "references": [str(VOICE)],
    "fixed": {"text": "The quick brown fox jumps over the lazy dog.", "max_tokens": 300},
}


def emulator_sweep(run_dir: Path, emulator: Any = None, *, faults: str | None = None, **sweep_kwargs: Any) -> Any:
    """Run `SPEC` on an in-process emulator (started here unless given); returns the `Sweep`."""
    from zonos_lab.emulator import Emulator, EmulatorConfig, FaultPlan
    from zonos_lab.sweep import Sweep

    own = emulator is None
    if own:
        config = EmulatorConfig(faults=FaultPlan.parse(faults)) if faults else None
        emulator = Emulator(config=config).start()
    try:
        sweep_kwargs.setdefault("completion", "webhook")
        sweep = Sweep(SPEC, run_dir, base_url=emulator.base_url, api_key=emulator.api_key, progress=False,
                      price_per_take=0.02, **sweep_kwargs)
        sweep.run()
        return sweep
    finally:
        if own:
            emulator.stop()


def build_run(run_dir: Path) -> Path:
    """A real 8-take emulator sweep whose 6th job ends FAILED (a failure for the report to explain)."""
    emulator_sweep(run_dir, faults="failed@6")
    return Path(run_dir)
