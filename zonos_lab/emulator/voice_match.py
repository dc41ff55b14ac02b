"""Measure a reference voice and decide how far to move the engine's voice toward it.

The emulator's engine has one base voice. "Cloning" is emulated by moving its output toward the
reference clip: pitch (median F0), the spectral envelope (a formant warp tied to the pitch ratio)
and the long-term spectral tilt. ``accurate_mode=True`` moves 90 % of the way, ``False`` 50 %.
``clean_speaker_background=False`` means the reference may be noisy, so it is denoised (spectral
gate) before it is measured.

Example:
    >>> import numpy as np
    >>> sr = 16000; t = np.arange(2 * sr) / sr
    >>> prof = measure_reference(np.sin(2 * np.pi * 200 * t).astype("float32"), sr, denoise=False)
    >>> round(prof.median_f0)
    200
    >>> plan = plan_match(prof, base_f0=100.0, base_tilt=-6.0, accurate=True)
    >>> round(plan.pitch_shift_st, 1)                 # 90 % of one octave
    10.8
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import OrderedDict
from dataclasses import asdict, dataclass

import numpy as np

from zonos_lab.emulator.engine_dsp import estimate_f0, spectral_gate, spectral_tilt

__all__ = ["MATCH_FRACTION", "MatchPlan", "ReferenceProfile", "measure_reference", "plan_match"]

#: How far the output moves toward the reference, per mode.
MATCH_FRACTION = {True: 0.9, False: 0.5}
#: Formant (envelope) ratio grows with the pitch ratio to this power (male→female ≈ 1.8× F0, ≈ 1.17× formants).
FORMANT_EXPONENT = 0.27
#: Longest stretch of reference audio analysed (seconds).
MAX_REFERENCE_S = 30.0
_ANALYSIS_SR = 16000


@dataclass(frozen=True)
class ReferenceProfile:
    """What the engine measured on the reference clip."""

    median_f0: float | None   # Hz over voiced frames; None when the clip has no voiced speech
    tilt_db_per_octave: float
    voiced_fraction: float
    duration_s: float
    denoised: bool

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class MatchPlan:
    """How the output is moved toward the reference."""

    fraction: float
    pitch_shift_st: float       # global pitch shift, semitones
    formant_ratio: float        # envelope warp factor (1 = none)
    tilt_change_db: float       # dB/octave added to the output's spectral slope

    def to_dict(self) -> dict:
        return asdict(self)


_CACHE: OrderedDict[tuple[str, int, bool], ReferenceProfile] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 64


def measure_reference(reference: np.ndarray, sr: int, *, denoise: bool) -> ReferenceProfile:
    """Median F0, spectral tilt and voiced fraction of a reference clip (cached by content).

    Args:
        reference: mono samples (float).
        sr: their sample rate.
        denoise: run a spectral gate first (the engine does this when the request says the
            background is *not* clean).
    """
    ref = np.ascontiguousarray(np.asarray(reference, dtype=np.float32).reshape(-1))
    key = (hashlib.sha256(ref.tobytes()).hexdigest(), int(sr), bool(denoise))
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
            return hit
    x = ref[: int(MAX_REFERENCE_S * sr)]
    duration = len(ref) / float(sr) if sr else 0.0
    if len(x) and sr != _ANALYSIS_SR:
        from zonos_lab.audio import resample

        x = resample(x, int(sr), _ANALYSIS_SR)
    if len(x) < _ANALYSIS_SR // 10 or not np.any(np.abs(x) > 1e-6):
        prof = ReferenceProfile(None, 0.0, 0.0, duration, bool(denoise))
    else:
        if denoise:
            x = spectral_gate(x, _ANALYSIS_SR)
        f0, voiced = estimate_f0(x, _ANALYSIS_SR)
        med = float(np.median(f0[voiced])) if voiced.sum() >= 10 else None
        prof = ReferenceProfile(med, spectral_tilt(x, _ANALYSIS_SR), float(voiced.mean()), duration,
                                bool(denoise))
    with _CACHE_LOCK:
        _CACHE[key] = prof
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return prof


def plan_match(profile: ReferenceProfile, *, base_f0: float | None, base_tilt: float,
               accurate: bool) -> MatchPlan:
    """Decide the pitch shift, formant warp and tilt change for one take."""
    frac = MATCH_FRACTION[bool(accurate)]
    if profile.median_f0 is None or not base_f0 or base_f0 <= 0:
        shift, formant = 0.0, 1.0
    else:
        full = 12.0 * math.log2(profile.median_f0 / base_f0)
        shift = float(np.clip(frac * full, -14.0, 14.0))
        formant = float(np.clip(2.0 ** (FORMANT_EXPONENT * shift / 12.0), 0.85, 1.25))
    tilt = float(np.clip(frac * (profile.tilt_db_per_octave - base_tilt), -4.0, 4.0)) \
        if profile.median_f0 is not None else 0.0
    return MatchPlan(frac, shift, formant, tilt)
