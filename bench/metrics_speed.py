"""Real-time factor of each analysis metric on this machine (models loaded first, then timed).

RTF here = seconds of audio analysed per second of compute (higher is faster; 20 means 20× real time),
measured in one process on one core's worth of threads (ONNX Runtime / torch / CTranslate2 limited to
1 thread), so the figure is "per core".

Run: ``python bench/metrics_speed.py [--repeat 3] [--threads 1]``
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLIPS = ["en_us_jfk.flac", "en_us_ljspeech_LJ001-0001.wav", "en_gb_vctk_p225_003.wav", "de_fleurs_001.ogg"]
TEXTS = {
    "en_us_jfk.flac": "And so, my fellow Americans, ask not what your country can do for you, ask what you can do "
                      "for your country.",
    "en_us_ljspeech_LJ001-0001.wav": "Printing, in the only sense with which we are at present concerned, differs "
                                     "from most if not from all the arts and crafts represented in the Exhibition",
    "en_gb_vctk_p225_003.wav": "Six spoons of fresh snow peas, five thick slabs of blue cheese, and maybe a snack "
                               "for her brother Bob.",
    "de_fleurs_001.ogg": "er griff auch alles an was ins wasser kam selbst ein großer dinosaurier wie der t rex war "
                         "ihm nicht gewachsen",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="threads per model (default 1 = per core)")
    parser.add_argument("--metrics", nargs="*", default=["signal", "loudness", "vad", "f0", "dnsmos", "speaker", "asr"])
    args = parser.parse_args(argv)
    os.environ["ZONOS_LAB_THREADS"] = str(args.threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    sys.path.insert(0, str(ROOT))

    from zonos_lab.analysis.metrics import METRIC_SETS, MissingExtra, require
    from zonos_lab.analysis.metrics_core import Clip
    from zonos_lab.analysis.pipeline import COMPUTE, _function

    clips = []
    for name in CLIPS:
        path = ROOT / "data" / "reference" / name
        ctx = {"text": TEXTS[name], "language": "de" if name.startswith("de") else "en_us", "max_tokens": 6144,
               "reference_path": str(ROOT / "data" / "reference" / "en_us_ljspeech_LJ001-0005.mp3"),
               "reference_sha256": "bench"}
        clips.append((name, Clip.load(str(path)), ctx))
    audio_s = sum(c.duration for _, c, _ in clips)
    print(f"audio: {len(clips)} clips, {audio_s:.1f} s; threads per model: {args.threads}; repeat {args.repeat}")
    times: dict[str, float] = {}
    for metric in args.metrics:
        try:
            require(metric)
        except MissingExtra as exc:
            print(f"{metric:10s} skipped: {exc}")
            continue
        fn = _function(metric)
        fn(clips[0][1], clips[0][2])  # load models, JIT, warm caches
        best = float("inf")
        for _ in range(args.repeat):
            fresh = [(n, Clip(c.y, c.sr), ctx) for n, c, ctx in clips]  # no resampling cached across runs
            t0 = time.perf_counter()
            for _n, clip, ctx in fresh:
                fn(clip, ctx)
            best = min(best, time.perf_counter() - t0)
        times[metric] = best
        print(f"{metric:10s} {best:7.3f} s  RTF {audio_s / best:7.1f}× real time   ({COMPUTE[metric]})")
    core = [m for m in METRIC_SETS["core"] if m in times]
    if core:
        # the core set shares one decode + resample per take; time it as analyze() runs it
        fresh = [(n, Clip(c.y, c.sr), ctx) for n, c, ctx in clips]
        t0 = time.perf_counter()
        for _n, clip, ctx in fresh:
            for m in core:
                _function(m)(clip, ctx)
        total = time.perf_counter() - t0
        print(f"{'core set':10s} {total:7.3f} s  RTF {audio_s / total:7.1f}× real time   ({', '.join(core)})")
        fast = [m for m in METRIC_SETS["fast"] if m in times]
        fsum = sum(times[m] for m in fast)
        print(f"{'fast set':10s} {fsum:7.3f} s  RTF {audio_s / fsum:7.1f}× real time   ({', '.join(fast)}; sum of best)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
