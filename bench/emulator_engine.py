"""Real-time factor of the emulator's speech engine (audio seconds produced per wall-clock second).

Run:  python bench/emulator_engine.py [--repeats 3]
Target on the 2-core reference machine: ≥ 5× faster than real time.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

SENTENCES = [
    "Hello, this is a sample of my cloned voice speaking naturally.",
    "The quick brown fox jumps over the lazy dog while the researcher listens carefully.",
    "Every take in a sweep is stored with its seed, its parameters and a hash of its audio.",
    "Bonjour, ceci est un essai de la voix de l'émulateur.",
    "Researchers compare accurate and expressive modes across many temperatures and seeds.",
]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)

    from zonos_lab.audio import decode_audio
    from zonos_lab.emulator.engine import default_engine
    from zonos_lab.params import GenerationParams

    root = Path(__file__).resolve().parents[1]
    ref, sr = decode_audio(root / "data" / "voices" / "AmericanFemale.mp3")
    t0 = time.perf_counter()
    engine = default_engine()
    warm = GenerationParams(reference_audio_url="https://example.org/r.wav", text="Warm up.")
    engine.synthesize(warm, ref, sr, seed=0)
    print(f"engine: {engine.name}   load + warm-up: {time.perf_counter() - t0:.2f} s")

    audio_s = wall_s = 0.0
    for rep in range(args.repeats):
        for i, text in enumerate(SENTENCES):
            lang = "fr_fr" if text.startswith("Bonjour") else "en_us"
            p = GenerationParams(reference_audio_url="https://example.org/r.wav", text=text, language=lang,
                                 accurate_mode=bool(i % 2), seed=rep * 100 + i)
            t = time.perf_counter()
            out = engine.synthesize(p, ref, sr, seed=rep * 100 + i)
            wall_s += time.perf_counter() - t
            audio_s += len(out.audio) / out.sample_rate
    rtf = audio_s / wall_s if wall_s else float("nan")
    print(f"{args.repeats * len(SENTENCES)} takes, {audio_s:.1f} s of audio in {wall_s:.2f} s "
          f"-> real-time factor {rtf:.1f}x (target >= 5x)")
    print(f"mean per take: {wall_s / (args.repeats * len(SENTENCES)):.3f} s "
          f"({np.round(audio_s / (args.repeats * len(SENTENCES)), 2)} s of audio)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
