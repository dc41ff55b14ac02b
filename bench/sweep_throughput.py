"""Sweep throughput on the emulator: wall time vs the lower bound ⌈N/C⌉·L, and status requests per take.

The emulator holds every job for a fixed processing latency L with C jobs at once; an ideal client
finishes N takes in ⌈N/C⌉·L. We print wall / bound (target ≤ 1.15 at N=96, C=8, L=0.5 s) and the
status requests per completed take (target ≤ 2 when polling, 0 with webhooks).

By default a trivial tone engine stands in for speech so that L, not the engine, sets the pace
(``--engine default`` uses the emulator's real engine), and the emulator runs in its own process (as a
gateway would; ``--in-process`` shares this process). Each configuration is run with the sweep's
concurrency = C (no server queue: every wave pays the poll and submit round trips) and = 2·C (the server
always has the next job queued). An idealised client (no journal, no downloads, 20 Hz polling) is timed
first, to show what the machine itself allows at that moment.

Example:
    $ python bench/sweep_throughput.py                 # N=96, C=8, L=0.5, poll and webhook
    $ python bench/sweep_throughput.py --n 48 --completion poll
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
import wave
from pathlib import Path
from types import SimpleNamespace

import numpy as np


class ToneEngine:
    """Instant stand-in for the speech engine (0.2 s of tone)."""

    name = "bench-tone"

    def synthesize(self, params, reference, reference_sr, seed):
        n = 8820
        audio = 0.2 * np.sin(2 * np.pi * 220 * np.arange(n) / 44100)
        return SimpleNamespace(audio=audio.astype(np.float32), sample_rate=44100, truncated=False, info={})


def _voice(folder: Path) -> Path:
    path = folder / "voice.wav"
    pcm = (0.3 * np.sin(2 * np.pi * 150 * np.arange(22050) / 22050) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(22050)
        w.writeframes(pcm.tobytes())
    return path


class ServerProcess:
    """The emulator in its own process (as a real gateway would be): no GIL shared with the sweep."""

    def __init__(self, c: int, latency: float, engine: str) -> None:
        import json
        import subprocess
        import sys

        self.proc = subprocess.Popen([sys.executable, __file__, "--serve", str(c), str(latency), engine],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        info = json.loads(self.proc.stdout.readline())
        self.base_url, self.api_key = info["base_url"], info["api_key"]

    def stats(self) -> dict:
        import httpx

        return httpx.get(self.base_url + "/_emulator/stats", timeout=10).json()

    def stop(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def serve(c: int, latency: float, engine: str) -> None:
    """Child process: run an emulator until stdin closes."""
    import json
    import sys

    from zonos_lab.emulator import Emulator, EmulatorConfig

    emu = Emulator(engine=None if engine == "default" else ToneEngine(),
                   config=EmulatorConfig(concurrency=c, processing_latency=latency)).start()
    print(json.dumps({"base_url": emu.base_url, "api_key": emu.api_key}), flush=True)
    sys.stdin.read()
    emu.stop()


def run_once(n: int, c: int, latency: float, completion: str, engine: str, workdir: Path,
             client_concurrency: int | None = None, in_process: bool = False) -> dict[str, float]:
    """One sweep of `n` takes on a fresh emulator; returns wall, bound, ratios and request counts."""
    import sqlite3

    import pandas as pd

    from zonos_lab.sweep.runner import Sweep

    if in_process:
        from zonos_lab.emulator import Emulator, EmulatorConfig

        emu = Emulator(engine=None if engine == "default" else ToneEngine(),
                       config=EmulatorConfig(concurrency=c, processing_latency=latency)).start()
    else:
        emu = ServerProcess(c, latency, engine)
    cc = client_concurrency or c
    run_dir = workdir / f"run-{completion}-{cc}-{n}"
    try:
        spec = {"name": f"bench-{completion}", "references": [str(_voice(workdir))], "seeds": n,
                "texts": ["The quick brown fox jumps over the lazy dog."], "fixed": {"max_tokens": 200}}
        sweep = Sweep(spec, run_dir, api_key=emu.api_key, base_url=emu.base_url, concurrency=cc,
                      completion=completion, progress=False)
        t0 = time.perf_counter()
        df = sweep.run()
        wall = time.perf_counter() - t0
        stats = emu.stats()
    finally:
        emu.stop()
    db = sqlite3.connect(str(run_dir / "journal.sqlite"))
    ev = pd.DataFrame(db.execute("SELECT status, at FROM events").fetchall(), columns=["status", "at"])
    db.close()
    at = pd.to_datetime(ev["at"], format="ISO8601")
    span = (at[ev.status == "COMPLETED"].max() - at[ev.status == "SUBMITTING"].min()).total_seconds()
    done = int((df.status == "COMPLETED").sum())
    bound = math.ceil(n / c) * latency
    polls = sum(stats["polls"].values())
    return {"n": n, "cc": cc, "completed": done, "wall": wall, "span": span, "bound": bound, "ratio": wall / bound,
            "span_ratio": span / bound, "status_per_take": polls / max(done, 1), "posts": stats["posts"]}


def ideal_floor(n: int, c: int, latency: float, workdir: Path) -> float:
    """Wall time of an idealised client on this machine now: all N submitted at once, status polled every
    50 ms, no downloads, no journal. It shows what the emulator and the machine allow (context for the ratio)."""
    import asyncio

    import httpx

    from zonos_lab.emulator import Emulator, EmulatorConfig
    from zonos_lab.params import GenerationParams
    from zonos_lab.references import default_server

    emu = Emulator(engine=ToneEngine(), config=EmulatorConfig(concurrency=c, processing_latency=latency)).start()
    url = default_server().url_for(_voice(workdir))

    async def go() -> float:
        async with httpx.AsyncClient(headers={"Ocp-Apim-Subscription-Key": emu.api_key}) as cl:
            t0 = time.perf_counter()
            ids = []
            for i in range(n):
                body = GenerationParams(reference_audio_url=url, seed=i, max_tokens=200).to_request_json()
                r = await cl.post(emu.base_url + "/zonos-2/v1/zonos-2-request", json=body)
                ids.append(r.json()["request_id"])
            pending = set(ids)
            while pending:
                await asyncio.sleep(0.05)
                for rid in list(pending):
                    st = (await cl.get(f"{emu.base_url}/v2/requests/status/{rid}")).json()["status"]
                    if st in ("COMPLETED", "FAILED", "ERROR"):
                        pending.discard(rid)
            return time.perf_counter() - t0

    try:
        return asyncio.run(go())
    finally:
        emu.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=96)
    ap.add_argument("--c", type=int, default=8, help="emulator concurrency")
    ap.add_argument("--latency", type=float, default=0.5)
    ap.add_argument("--client-concurrency", type=int, nargs="*", default=None,
                    help="sweep concurrencies to try (default: C and 2·C)")
    ap.add_argument("--completion", choices=("poll", "webhook", "both"), default="both")
    ap.add_argument("--engine", choices=("tone", "default"), default="tone")
    ap.add_argument("--no-warmup", action="store_true", help="include one-time imports / TLS set-up in the first run")
    ap.add_argument("--in-process", action="store_true", help="run the emulator in this process (shares the GIL)")
    ap.add_argument("--serve", nargs=3, metavar=("C", "L", "ENGINE"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.serve:
        serve(int(args.serve[0]), float(args.serve[1]), args.serve[2])
        return 0
    modes = ("poll", "webhook") if args.completion == "both" else (args.completion,)
    ccs = args.client_concurrency or [args.c, 2 * args.c]
    bound = math.ceil(args.n / args.c) * args.latency
    print(f"N={args.n} C={args.c} L={args.latency}s  lower bound ⌈N/C⌉·L = {bound:.2f}s  (engine: {args.engine}, "
          f"emulator {'in this process' if args.in_process else 'in its own process'})")
    print("wall = Sweep.run() (set-up, journal, downloads, results files); span = first POST → last audio on disk")
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        if not args.no_warmup:  # one-time process costs (imports, TLS context) are not the sweep's
            run_once(args.c, args.c, 0.05, modes[0], args.engine, Path(tmp), in_process=args.in_process)
        if args.engine == "tone":
            floor = ideal_floor(args.n, args.c, args.latency, Path(tmp))
            print(f"idealised client on this machine now (no downloads, no journal): {floor:.2f}s "
                  f"→ {floor / bound:.3f} × bound")
        for mode in modes:
            for cc in ccs:
                r = run_once(args.n, args.c, args.latency, mode, args.engine, Path(tmp), cc, args.in_process)
                target = 2.0 if mode == "poll" else 0.0
                passed = r["ratio"] <= 1.15 and r["status_per_take"] <= target and r["completed"] == args.n
                ok &= passed
                print(f"{mode:8s} concurrency {cc:3d}: completed {r['completed']}/{r['n']}  wall {r['wall']:.2f}s "
                      f"→ wall/bound {r['ratio']:.3f} (target ≤1.15), span/bound {r['span_ratio']:.3f}  "
                      f"status requests/take {r['status_per_take']:.2f} (target ≤{target:g})  "
                      f"{'OK' if passed else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
