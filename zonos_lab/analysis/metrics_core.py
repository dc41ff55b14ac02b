"""Core metrics (no torch): signal, loudness, voice activity, F0 and DNSMOS.

Each ``compute_*`` function takes a `Clip` (decoded audio, resampled on demand) and the take's
row context, and returns ``{column: value}``. Models load once per process (`functools.cache`).

The tools are the references themselves, so values can be checked against them directly:
loudness is pyloudnorm (ITU-R BS.1770-4) on the file's own channels and rate, F0 is Praat's
autocorrelation pitch (parselmouth, Praat's standard 75–600 Hz settings) at the file's rate,
voice activity is the official Silero VAD v6 ONNX model computed as its authors run it
(`zonos_lab.analysis.vad`), and DNSMOS is Microsoft's P.835 model on Microsoft's windows
(`zonos_lab.analysis.dnsmos`).

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
    "compute_dnsmos_p808",
    "compute_f0",
    "compute_loudness",
    "compute_signal",
    "compute_vad",
    "f0_track",
    "onnx_session",
    "ort_threads",
]

NA: Any = None

#: Frames of slack when deciding that a take reached `max_tokens` (codec edges, resampling).
TRUNCATION_SLACK_FRAMES = 2
#: Samples at or above this magnitude count as clipped.
CLIP_LEVEL = 0.999
VAD_THRESHOLD = 0.5
#: Praat's standard pitch range for speech ("To Pitch...": floor 75 Hz, ceiling 600 Hz).
F0_MIN_HZ = 75.0
F0_MAX_HZ = 600.0


class Clip:
    """Mono float32 audio with cached resampled versions.

    Example:
        >>> Clip(np.zeros(32000, dtype="float32"), 32000).at(16000).shape
        (16000,)
    """

    def __init__(self, y: np.ndarray, sr: int, channels: np.ndarray | None = None,
                 channel_names: tuple[str, ...] | None = None) -> None:
        self.y = np.asarray(y, dtype=np.float32)
        self.sr = int(sr)
        #: the file's own channels, shape ``(channels, samples)`` (None: `y` is the only channel)
        self.channels = None if channels is None or channels.shape[0] < 2 else channels
        #: FFmpeg's names of those channels (``FL``, ``LFE``, …; ``NONE`` when the file does not say)
        self.channel_names: tuple[str, ...] | None = None
        if self.channels is not None:
            names = tuple(channel_names or ())
            self.channel_names = names if len(names) == self.channels.shape[0] else ("NONE",) * self.channels.shape[0]
        self._resampled: dict[int, np.ndarray] = {self.sr: self.y}

    @classmethod
    def load(cls, path: str) -> Clip:
        """Decode a file (any format PyAV reads); `y` is the mono mix, `channels` the original channels."""
        from zonos_lab.audio import decode_channels

        data, sr, names = decode_channels(path)
        return cls(data.mean(axis=0), sr, channels=data, channel_names=names)

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


def onnx_session(model: str | bytes) -> Any:
    """An ONNX Runtime CPU session for a model file or serialized model (threads: `ort_threads`)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = ort_threads()
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    return ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])


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
    """Integrated loudness in LUFS over the file's own channels (NA under 0.4 s or for digital silence).

    A stereo file is measured as stereo (BS.1770 sums the channels' power), as pyloudnorm does
    when given the file's samples, not as its mono mix (which reads 3 dB lower for identical channels).
    Multichannel files are weighted by channel name (`zonos_lab.analysis.channels`): the LFE is left
    out and surrounds count 1.41, so 5.1 and quad files are measured as BS.1770 says.
    """
    if clip.duration < 0.4:
        return {"loudness_lufs": NA}
    if clip.channels is None:
        data = clip.y
    else:
        from zonos_lab.analysis.channels import bs1770_input

        arranged = bs1770_input(clip.channels, clip.channel_names or ())  # set whenever channels are
        data = arranged[0] if len(arranged) == 1 else arranged.T
    with np.errstate(divide="ignore"):
        value = _meter(clip.sr).integrated_loudness(np.asarray(data, dtype=np.float64))  # no copy if float64
    return {"loudness_lufs": _finite(value)}


# -- voice activity ------------------------------------------------------------------------------

def compute_vad(clip: Clip, ctx: Mapping[str, Any]) -> dict[str, Any]:
    """Speech time, silence ratio, leading/trailing silence and speaking rate."""
    from zonos_lab.analysis.vad import VAD_CHUNK, VAD_RATE, speech_probabilities

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

def f0_track(y: np.ndarray, sr: int) -> np.ndarray:
    """F0 in Hz per 10 ms frame (0 where unvoiced): Praat's "To Pitch (ac)" with its standard settings.

    Praat (via parselmouth) at the audio's own rate, pitch floor 75 Hz, ceiling 600 Hz, and Praat's
    default costs and thresholds, so values can be checked against Praat on the same file. `y` is
    mono samples or ``(channels, samples)``: Praat analyses a multi-channel sound as one, as it does
    when it opens the file itself.

    Example:
        >>> t = np.arange(16000) / 16000
        >>> f0 = f0_track((0.5 * np.sin(2 * np.pi * 150 * t)).astype("float32"), 16000)
        >>> round(float(np.median(f0[f0 > 0])))
        150
    """
    import parselmouth

    sound = parselmouth.Sound(np.asarray(y, dtype=np.float64), sampling_frequency=float(sr))
    pitch = sound.to_pitch_ac(pitch_floor=F0_MIN_HZ, pitch_ceiling=F0_MAX_HZ)
    return np.asarray(pitch.selected_array["frequency"], dtype=float)


def compute_f0(clip: Clip, ctx: Mapping[str, Any]) -> dict[str, Any]:
    """F0 mean / std / 5–95 % range in Hz and semitones (re 100 Hz) of voiced frames, voiced ratio."""
    empty = {k: NA for k in ("f0_mean_hz", "f0_std_hz", "f0_range_hz", "f0_mean_st", "f0_std_st", "f0_range_st")}
    if clip.duration < 3.0 / F0_MIN_HZ:  # Praat needs three periods of the floor in a window
        return {**empty, "voiced_ratio": NA}
    f0 = f0_track(clip.y if clip.channels is None else clip.channels, clip.sr)
    voiced = f0 > 0
    ratio = float(voiced.mean()) if voiced.size else NA
    if voiced.sum() < 3:
        return {**empty, "voiced_ratio": ratio}
    hz = f0[voiced]
    st = 12.0 * np.log2(hz / 100.0)
    p5, p95 = np.percentile(hz, [5, 95])
    s5, s95 = np.percentile(st, [5, 95])
    return {
        "f0_mean_hz": float(hz.mean()), "f0_std_hz": float(hz.std()), "f0_range_hz": float(p95 - p5),
        "f0_mean_st": float(st.mean()), "f0_std_st": float(st.std()), "f0_range_st": float(s95 - s5),
        "voiced_ratio": ratio,
    }


# -- DNSMOS --------------------------------------------------------------------------------------

def _dnsmos_input(clip: Clip) -> np.ndarray | None:
    """The clip at 16 kHz in [-1, 1] as both DNSMOS models take it; None under 0.1 s (no score)."""
    from zonos_lab.analysis.dnsmos import DNSMOS_RATE

    y = np.clip(clip.at(DNSMOS_RATE), -1.0, 1.0).astype(np.float32)
    return None if y.size < DNSMOS_RATE // 10 else y


def compute_dnsmos(clip: Clip, ctx: Mapping[str, Any]) -> dict[str, Any]:
    """DNSMOS P.835 SIG / BAK / OVRL: the mean over Microsoft's windows (`zonos_lab.analysis.dnsmos`).

    Cost: a clip under 9.01 s is repeated to fill at least one window, so even a 2 s take is scored
    on several windows (7 for 2.0 s, 3 for 3.5 s, 1 for 5 s); windows share their common frames.
    """
    from zonos_lab.analysis.dnsmos import p835

    y = _dnsmos_input(clip)
    if y is None:
        return {"dnsmos_sig": NA, "dnsmos_bak": NA, "dnsmos_ovrl": NA}
    sig, bak, ovr = p835(y)
    return {"dnsmos_sig": sig, "dnsmos_bak": bak, "dnsmos_ovrl": ovr}


def compute_dnsmos_p808(clip: Clip, ctx: Mapping[str, Any]) -> dict[str, Any]:
    """DNSMOS P.808 MOS: Microsoft's ``model_v8.onnx`` over the same windows as `compute_dnsmos`.

    About 20× cheaper than P.835 (a small network on mel features), so it is not what bounds the cost.
    """
    from zonos_lab.analysis.dnsmos import p808

    y = _dnsmos_input(clip)
    return {"dnsmos_p808": NA if y is None else p808(y)}
