"""Prosody codes: what the emulator's engine *samples*, through the real Zonos 2 sampling pipeline.

Per word (segment) the engine draws three discrete codes, like a codec language model draws audio
tokens:

- pitch: an offset in semitones, vocabulary −12…+12 st in 0.1 st steps (241 codes),
  drawn autoregressively (its prior is centred half-way back toward the previous word's offset);
- duration: a log2 scale factor, −0.5…+0.5 in 0.02 steps (51 codes);
- energy: a gain in dB, −9…+9 dB in 0.25 dB steps (73 codes), followed by 100 "glitch" codes of very
  low prior (logit −8.8) — reachable only when the temperature is high and the filters are off, as
  a codec LM's garbage tokens are. A glitch code puts a click or a buzz burst on that word.

Every prior is a Gaussian bump in logit space, peaked at "neutral". ``accurate_mode=False`` widens it
(more prosodic variance). The request's temperature / top_k / top_p / min_p then act through
:func:`zonos_lab.emulator.sampler.sample` with a generator seeded by ``seed``: temperature scales the
spread (σ·√T), ``top_k=1`` always takes the neutral code (flat prosody), a high ``min_p`` keeps only
codes near neutral (conservative).

Example:
    >>> codes = draw_prosody(5, temperature=1.15, top_k=106, top_p=0.0, min_p=0.18,
    ...                      accurate=True, seed=7)
    >>> codes.pitch_st.shape, bool(codes.glitch.any())
    ((5,), False)
    >>> flat = draw_prosody(5, temperature=1.15, top_k=1, top_p=0.0, min_p=0.0, accurate=True, seed=7)
    >>> flat.pitch_st.tolist()
    [0.0, 0.0, 0.0, 0.0, 0.0]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zonos_lab.emulator.sampler import sample

__all__ = [
    "DURATION_VALUES",
    "ENERGY_VALUES",
    "N_GLITCH",
    "PITCH_VALUES",
    "PRIOR_SIGMA",
    "ProsodyCodes",
    "draw_prosody",
]

PITCH_VALUES = np.round(np.arange(-120, 121) * 0.1, 4)            # semitones
DURATION_VALUES = np.round(np.arange(-25, 26) * 0.02, 4)          # log2 duration factor
ENERGY_VALUES = np.round(np.arange(-36, 37) * 0.25, 4)            # dB
N_GLITCH = 100
GLITCH_LOGIT = -8.8
#: Prior standard deviation (in value units) per mode: {accurate: {...}}.
PRIOR_SIGMA = {
    True: {"pitch": 1.5, "duration": 0.04, "energy": 1.0},
    False: {"pitch": 4.0, "duration": 0.12, "energy": 2.5},
}
#: Autoregressive pull of the pitch prior toward the previous word's offset.
PITCH_CARRY = 0.5


@dataclass(frozen=True)
class ProsodyCodes:
    """Drawn codes (indices) and their values, one entry per segment."""

    pitch_code: np.ndarray
    duration_code: np.ndarray
    energy_code: np.ndarray
    pitch_st: np.ndarray          # semitone offsets
    duration_factor: np.ndarray   # multiplicative
    energy_db: np.ndarray         # dB (0 for glitch codes)
    glitch: np.ndarray            # bool: the energy code was a glitch code

    def summary(self) -> dict:
        """Small JSON-able summary (for the engine's info dict)."""
        n = len(self.pitch_st)
        return {
            "segments": n,
            "pitch_st_std": float(np.std(self.pitch_st)) if n else 0.0,
            "duration_factor_mean": float(np.mean(self.duration_factor)) if n else 1.0,
            "energy_db_std": float(np.std(self.energy_db)) if n else 0.0,
            "glitches": int(np.sum(self.glitch)),
        }


def _gauss_logits(values: np.ndarray, center: np.ndarray | float, sigma: float) -> np.ndarray:
    c = np.asarray(center, dtype=np.float64)[..., None]
    return -0.5 * ((values[None, :] - c) / sigma) ** 2


def draw_prosody(n_segments: int, *, temperature: float, top_k: int, top_p: float, min_p: float,
                 accurate: bool, seed: int) -> ProsodyCodes:
    """Draw pitch / duration / energy codes for ``n_segments`` words with a generator seeded by ``seed``.

    The draw order is fixed (all pitch codes word by word, then durations, then energies), so the
    same arguments always give the same codes.
    """
    n = max(0, int(n_segments))
    rng = np.random.default_rng(int(seed))
    kw = dict(temperature=float(temperature), top_k=int(top_k), top_p=float(top_p), min_p=float(min_p))
    sig = PRIOR_SIGMA[bool(accurate)]

    pitch_idx = np.zeros(n, dtype=np.int64)
    prev = 0.0
    for i in range(n):
        # centre snapped to the grid so that greedy decoding of the first word is exactly neutral
        centre = round(PITCH_CARRY * prev / 0.1) * 0.1
        logits = _gauss_logits(PITCH_VALUES, centre, sig["pitch"])[0]
        pitch_idx[i] = sample(logits[None, :], generator=rng, **kw)[0]
        prev = float(PITCH_VALUES[pitch_idx[i]])

    dur_logits = np.repeat(_gauss_logits(DURATION_VALUES, 0.0, sig["duration"]), n, axis=0)
    dur_idx = sample(dur_logits, generator=rng, **kw) if n else np.zeros(0, dtype=np.int64)

    en = _gauss_logits(ENERGY_VALUES, 0.0, sig["energy"])[0]
    en_logits = np.concatenate([en, np.full(N_GLITCH, GLITCH_LOGIT)])
    en_idx = sample(np.repeat(en_logits[None, :], n, axis=0), generator=rng, **kw) if n \
        else np.zeros(0, dtype=np.int64)
    glitch = en_idx >= len(ENERGY_VALUES)
    energy_db = np.where(glitch, 0.0, ENERGY_VALUES[np.minimum(en_idx, len(ENERGY_VALUES) - 1)])

    return ProsodyCodes(
        pitch_code=pitch_idx,
        duration_code=dur_idx,
        energy_code=en_idx,
        pitch_st=PITCH_VALUES[pitch_idx].astype(np.float64),
        duration_factor=(2.0 ** DURATION_VALUES[dur_idx]).astype(np.float64),
        energy_db=energy_db.astype(np.float64),
        glitch=glitch,
    )
