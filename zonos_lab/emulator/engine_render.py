"""The engine-independent half of synthesis: prosody codes + voice matching applied to base audio.

A base engine (Piper, or the non-speech fallback) produces neutral audio and the sample spans of
its words. :func:`render` then

1. draws prosody codes per word with the request's sampling fields and seed
   (:mod:`zonos_lab.emulator.engine_prosody`);
2. measures the reference and plans how far to move toward it (:mod:`zonos_lab.emulator.voice_match`);
3. applies energy codes, then one TD-PSOLA pass (per-word pitch offsets + the voice-match pitch
   shift, per-word duration factors), then a resampling step that both warps the spectral envelope
   (formants) and converts to 44.1 kHz, then a spectral-tilt filter;
4. normalises loudness, adds glitch artefacts for glitch codes, and cuts at ``max_tokens`` frames.

Everything is deterministic given its inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from zonos_lab.emulator.engine_dsp import F0_HOP_S, apply_tilt, estimate_f0, psola, smooth, spectral_tilt
from zonos_lab.emulator.engine_prosody import ProsodyCodes, draw_prosody
from zonos_lab.emulator.voice_match import measure_reference, plan_match
from zonos_lab.params import HOP_LENGTH, MAX_TOKENS_LIMIT, SAMPLE_RATE, GenerationParams

__all__ = ["TARGET_RMS_DB", "BaseAudio", "render"]

#: Loudness target of the active speech (dBFS RMS).
TARGET_RMS_DB = -20.0
#: RMS of the noise floor added to every take (−66 dBFS).
NOISE_FLOOR = 10 ** (-66.0 / 20.0)


@dataclass(frozen=True)
class BaseAudio:
    """Neutral audio from a base engine and the sample span ``[start, end)`` of each word."""

    audio: np.ndarray
    sample_rate: int
    segments: list[tuple[int, int]]


def _frame_curves(n_frames: int, hop: float, segments: list[tuple[int, int]],
                  codes: ProsodyCodes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pitch = np.zeros(n_frames)
    logdur = np.zeros(n_frames)
    energy = np.zeros(n_frames)
    for i, (s, e) in enumerate(segments):
        a, b = int(s / hop), int(np.ceil(e / hop))
        a, b = max(0, a), min(n_frames, max(b, a + 1))
        pitch[a:b] = codes.pitch_st[i]
        logdur[a:b] = np.log2(codes.duration_factor[i])
        energy[a:b] = codes.energy_db[i]
    return smooth(pitch, 5), smooth(logdur, 3), smooth(energy, 5)


def _glitch(kind: int, sr: int, variant: int) -> np.ndarray:
    """A short artefact: a click (kind 0) or a buzz burst (kind 1)."""
    if kind == 0:
        n = int(0.004 * sr)
        t = np.arange(n) / sr
        return (0.9 * np.exp(-t / 0.0008) * np.cos(2 * np.pi * (2500 + 40 * variant) * t)).astype(np.float32)
    n = int((0.025 + 0.001 * (variant % 20)) * sr)
    t = np.arange(n) / sr
    sq = np.sign(np.sin(2 * np.pi * (900 + 25 * variant) * t))
    return (0.35 * sq * np.hanning(n)).astype(np.float32)


def _gate_silence(x: np.ndarray, sr: int, floor_db: float = -50.0) -> np.ndarray:
    """Zero the near-silent stretches (< ``floor_db`` below the loud frames), with 10 ms ramps.

    Piper leaves a faint (≈ −85 dB) hum in pauses; pitch trackers would follow it.
    """
    hop = max(1, sr // 100)
    n = len(x) // hop
    if n < 3:
        return x
    rms = np.sqrt(np.mean(x[: n * hop].reshape(n, hop) ** 2, axis=1))
    rms = np.concatenate([rms, [rms[-1]]])
    keep = (rms > np.percentile(rms, 95) * 10 ** (floor_db / 20)).astype(np.float64)
    keep = np.maximum.reduce([keep, np.roll(keep, 1), np.roll(keep, -1)])   # one frame of margin
    gain = smooth(keep, 3)
    g = np.interp(np.arange(len(x)), (np.arange(len(gain)) + 0.5) * hop, gain)
    return x * g


def render(base: BaseAudio, params: GenerationParams, reference: np.ndarray, reference_sr: int,
           seed: int) -> tuple[np.ndarray, bool, dict]:
    """Shape ``base`` by the request; returns ``(audio44k float32, truncated, info)``."""
    sr = int(base.sample_rate)
    x = np.asarray(base.audio, dtype=np.float64)
    segments = list(base.segments)
    codes = draw_prosody(len(segments), temperature=params.temperature, top_k=params.top_k,
                         top_p=params.top_p, min_p=params.min_p, accurate=params.accurate_mode, seed=seed)

    x = _gate_silence(x, sr)
    f0, voiced = estimate_f0(x, sr)
    base_f0 = float(np.median(f0[voiced])) if voiced.sum() >= 5 else None
    base_tilt = spectral_tilt(x, sr) if len(x) > 2048 else 0.0
    profile = measure_reference(reference, reference_sr, denoise=not params.clean_speaker_background)
    plan = plan_match(profile, base_f0=base_f0, base_tilt=base_tilt, accurate=params.accurate_mode)

    hop = sr * F0_HOP_S
    n_fr = len(f0)
    pitch_st, logdur, energy_db = _frame_curves(n_fr, hop, segments, codes)
    # prosody varies *around* the matched voice: remove the codes' mean offset over voiced frames,
    # so the take's median F0 is set by voice matching and its spread by the sampling fields
    if voiced.any():
        pitch_st = pitch_st - float(np.mean(pitch_st[voiced]))

    # energy codes (per-sample gain, interpolated from frames)
    gain = 10.0 ** (np.interp(np.arange(len(x)), np.arange(n_fr) * hop, energy_db) / 20.0)
    x = x * gain

    # envelope warp factor, quantised so the resampling ratio is a small fraction
    q = round(64 * plan.formant_ratio)
    alpha = q / 64.0
    pitch_factor = 2.0 ** ((plan.pitch_shift_st + pitch_st) / 12.0) / alpha
    time_factor = (2.0 ** logdur) * alpha
    y = psola(x, sr, f0, voiced, pitch_factor, time_factor)

    from scipy.signal import resample_poly

    ratio = Fraction(SAMPLE_RATE * 64, sr * q)
    y = resample_poly(y.astype(np.float64), ratio.numerator, ratio.denominator)
    y = apply_tilt(y, SAMPLE_RATE, plan.tilt_change_db).astype(np.float64)

    # loudness: active-speech RMS to the target, then a global peak limit
    if len(y):
        frame = 1024
        nfr = len(y) // frame
        if nfr:
            rms = np.sqrt(np.mean(y[: nfr * frame].reshape(nfr, frame) ** 2, axis=1))
            active = rms[rms > 0.1 * rms.max()] if rms.max() > 0 else rms
            level = float(np.sqrt(np.mean(active ** 2))) if len(active) else 0.0
        else:
            level = float(np.sqrt(np.mean(y ** 2)))
        if level > 1e-9:
            y = y * (10 ** (TARGET_RMS_DB / 20) / level)

    y = _gate_silence(y, SAMPLE_RATE, floor_db=-60.0)   # filter leakage into pauses (≈ −140 dB)

    # glitch codes → artefacts at the word's (warped) position
    if codes.glitch.any() and len(y):
        t_out = np.concatenate([[0.0], np.cumsum(np.clip(time_factor, 0.25, 4.0) * hop)])
        t_in = np.arange(n_fr + 1) * hop
        scale = SAMPLE_RATE / (sr * alpha)
        for i in np.flatnonzero(codes.glitch):
            s, e = segments[i]
            pos = int(np.interp((s + e) / 2.0, t_in, t_out) * scale)
            code = int(codes.energy_code[i])
            g = _glitch(code % 2, SAMPLE_RATE, code)
            end = min(len(y), pos + len(g))
            if end > pos >= 0:
                y[pos:end] += g[: end - pos]

    peak = float(np.max(np.abs(y))) if len(y) else 0.0
    if peak > 0.97:
        y = y * (0.97 / peak)
    # a faint, seeded noise floor (−66 dBFS, survives 16-bit WAV): real takes are never digital
    # silence, and the gated pauses should not be either
    y = y + NOISE_FLOOR * np.random.default_rng([int(seed), 0x5EED]).standard_normal(len(y))

    max_frames = min(params.max_tokens or MAX_TOKENS_LIMIT, MAX_TOKENS_LIMIT)
    max_samples = int(max_frames) * HOP_LENGTH
    truncated = len(y) > max_samples
    y = y[:max_samples].astype(np.float32)

    info = {
        "base_f0_hz": base_f0,
        "base_tilt_db_per_octave": base_tilt,
        "reference": profile.to_dict(),
        "voice_match": plan.to_dict(),
        "prosody": codes.summary(),
        "max_frames": int(max_frames),
        "frames": int(np.ceil(len(y) / HOP_LENGTH)),
    }
    return y, truncated, info
