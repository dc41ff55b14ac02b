"""DNSMOS P.835 exactly as Microsoft's ``dnsmos_local.py`` scores it, without recomputing shared work.

The reference procedure scores 9.01 s windows that start every second (a clip under 9.01 s is
repeated until it fills one), so consecutive windows share 8 of their 9 seconds. The model
(``sig_bak_ovr.onnx`` from speechmos) is a log-power STFT (10 ms hop: a 1 s hop is exactly
100 frames), four 3×3 convolutions at full resolution (95 % of its 38 GFLOP), then pooling,
three small convolutions, a global max and a dense head.

So the model is split in three at run time (with ``onnx``):

- ``front``: samples → log-power frames, run per window (about 1 % of the cost);
- ``body``: the four full-resolution convolutions and the 2×2 max-pool after them, run **once**
  over the frames of all windows together (the frames are the same: window *i*'s frame *k* is
  global frame ``100 i + k``, and 100 is even, so the pooling pairs line up too);
- ``tail``: the rest, per window.

A window's zero padding changes the convolutions' output only in its first and last 4 frames
(4 layers, ±1 frame each), that is the first and last 2 pooled frames, so those are recomputed per
window on 8-frame strips and spliced in.
The result equals running the whole model on every window (tests compare with speechmos to
1e-4), at about ``(900 + 100 (n − 1)) / (900 n)`` of the cost for ``n`` windows. Files longer than
`WINDOW_GROUP` windows (~137 s) go group by group, so memory stays under ~1 GB however long they are.

Example:
    >>> import numpy as np
    >>> len(dnsmos_windows(np.zeros(16000 * 6, dtype="float32")))   # 6 s → repeated to 12 s → 3 windows
    3
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

__all__ = ["DNSMOS_RATE", "DNSMOS_WINDOW_S", "dnsmos_scores", "dnsmos_windows", "p808", "p808_features", "p835",
           "shared_frames", "window_starts"]

DNSMOS_RATE = 16000
DNSMOS_WINDOW_S = 9.01
#: samples in one window (144160), as the script computes it
WINDOW_SAMPLES = int(DNSMOS_WINDOW_S * DNSMOS_RATE)
#: samples per STFT hop inside the model; 1 s = 100 hops
HOP = 160
FRAMES_PER_WINDOW = 900
#: frames at each window edge whose convolution output depends on the window's zero padding (4 layers × 1)
EDGE = 4
#: the same at the body's output, after the 2×2 pooling
POOLED_EDGE = EDGE // 2
#: frames of body output computed per run (bounds memory: ~82 kB per frame in the widest layer)
BODY_CHUNK = 1200
TAIL_BATCH = 8
#: edge strips run per call (each strip's activations are ~0.66 MB in the widest layer)
STRIP_BATCH = 64
#: windows whose shared layers run together (~137 s of audio); longer clips go group by group, which
#: repeats 800 frames per group (6 %) but keeps memory flat (~0.5 GB) however long the file is
WINDOW_GROUP = 128

_FRONT_OUT = "mos_estimator_logpow/truediv:0"     # [N, 900, 161] log10 power
_BODY_IN = "adjusted_input6"                       # [N, 1, T, 161]
_BODY_OUT = "mos_estimator_logpow/conv2d_3/Relu:0_pooling0"  # [N, 32, T / 2, 80]
_OUTPUT = "Identity:0"                             # [N, 3] raw SIG, BAK, OVRL


def window_starts(n_samples: int) -> list[int]:
    """Start samples of the windows Microsoft's script scores for a (repeated) clip of `n_samples`.

    Exactly its rule: ``int(floor(seconds) − 9.01) + 1`` hops of 1 s, and a window whose float end
    index ``int((i + 9.01) * 16000)`` falls short of a whole window is skipped, as the script skips it.

    Example:
        >>> window_starts(16000 * 11)
        [0, 16000]
    """
    fs = DNSMOS_RATE
    hops = int(np.floor(n_samples / fs) - DNSMOS_WINDOW_S) + 1
    return [int(i * fs) for i in range(hops)
            if min(int((i + DNSMOS_WINDOW_S) * fs), n_samples) - int(i * fs) >= WINDOW_SAMPLES]


def _repeated_length(n_samples: int) -> int:
    """Length after the script's padding of short clips: doubled until at least one window long."""
    while 0 < n_samples < WINDOW_SAMPLES:
        n_samples *= 2
    return n_samples


def shared_frames(n_samples: int) -> int:
    """Frames the full-resolution layers run on for a clip of `n_samples` (900 × windows without sharing).

    Example:
        >>> shared_frames(16000 * 3), 900 * len(window_starts(16000 * 12))   # 3 s: 3 windows
        (1100, 2700)
    """
    starts = window_starts(_repeated_length(n_samples))
    return FRAMES_PER_WINDOW + (starts[-1] // HOP if starts else 0)


def _windows(y: np.ndarray) -> tuple[list[int], list[np.ndarray]]:
    y = np.asarray(y, dtype=np.float32)
    if len(y):
        y = np.tile(y, _repeated_length(len(y)) // len(y))  # = the script's repeated np.append(y, y)
    starts = window_starts(len(y))
    return starts, [y[s:s + WINDOW_SAMPLES] for s in starts]


def dnsmos_windows(y: np.ndarray) -> list[np.ndarray]:
    """The 9.01 s windows that Microsoft's DNSMOS script scores for 16 kHz audio `y`.

    Example:
        >>> [len(w) for w in dnsmos_windows(np.zeros(16000 * 6, dtype="float32"))]
        [144160, 144160, 144160]
    """
    return _windows(y)[1]


@dataclass(frozen=True)
class _Parts:
    full: Any
    front: Any
    body: Any
    tail: Any


def model_path(name: str = "sig_bak_ovr.onnx") -> str:
    """A DNSMOS model file shipped in the speechmos wheel (default: the P.835 model)."""
    import speechmos

    return os.path.join(os.path.dirname(speechmos.__file__), "dnsmos_models", name)


def _split(path: str) -> tuple[bytes, bytes, bytes]:
    """Cut the model into front / body / tail (serialized), the body with a free time dimension."""
    import onnx
    from onnx.utils import Extractor

    model = onnx.shape_inference.infer_shapes(onnx.load(path))  # the file has no value_info
    extractor = Extractor(model)
    front = extractor.extract_model(["input_1"], [_FRONT_OUT])
    body = extractor.extract_model([_BODY_IN], [_BODY_OUT])
    tail = extractor.extract_model([_BODY_OUT], [_OUTPUT])
    del body.graph.value_info[:]  # inferred for 900 frames; the body runs on any number
    for value, time in ((body.graph.input[0], "T"), (body.graph.output[0], "T_pooled")):
        dims = value.type.tensor_type.shape.dim
        dims[0].dim_param, dims[2].dim_param = "N", time
    for part in (front, tail):
        part.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "N"
    return front.SerializeToString(), body.SerializeToString(), tail.SerializeToString()


@cache
def _parts() -> _Parts:
    from zonos_lab.analysis.metrics_core import onnx_session

    path = model_path()
    front, body, tail = _split(path)
    return _Parts(onnx_session(path), onnx_session(front), onnx_session(body), onnx_session(tail))


def _body_global(parts: _Parts, frames: np.ndarray) -> np.ndarray:
    """Pooled body output over all `frames` [T, 161] (T even) as if unbounded (exact away from the ends).

    Runs in chunks of `BODY_CHUNK` frames with `EDGE` frames of halo; all bounds are even, so the
    chunks' pooling pairs are the global ones.
    """
    total = len(frames)
    out: np.ndarray | None = None
    for start in range(0, total, BODY_CHUNK):
        stop = min(total, start + BODY_CHUNK)
        lo, hi = max(0, start - EDGE), min(total, stop + EDGE)  # halo: exact inside the chunk
        x = frames[lo:hi][np.newaxis, np.newaxis]
        y = parts.body.run(None, {_BODY_IN: x})[0][0]
        if out is None:
            out = np.empty((y.shape[0], total // 2, y.shape[2]), dtype=np.float32)
        skip = (start - lo) // 2
        out[:, start // 2: stop // 2] = y[:, skip: skip + (stop - start) // 2]
    assert out is not None
    return out


def _raw_scores_shared(parts: _Parts, windows: list[np.ndarray], starts: list[int]) -> np.ndarray:
    """Raw scores of `windows` (starting at samples `starts`), `WINDOW_GROUP` windows at a time."""
    return np.concatenate([_raw_scores_group(parts, windows[i:i + WINDOW_GROUP], starts[i:i + WINDOW_GROUP])
                           for i in range(0, len(windows), WINDOW_GROUP)])


def _raw_scores_group(parts: _Parts, windows: list[np.ndarray], starts: list[int]) -> np.ndarray:
    offsets = [(s - starts[0]) // HOP for s in starts]  # frame offset of each window in the group's frames
    total = offsets[-1] + FRAMES_PER_WINDOW
    frames: np.ndarray | None = None
    strips = []  # each window's own edges: 8-frame strips, to be run with the window's zero padding
    for off, window in zip(offsets, windows, strict=True):
        logpow = parts.front.run(None, {"input_1": window[np.newaxis, :]})[0][0]
        if frames is None:
            frames = np.empty((total, logpow.shape[1]), dtype=np.float32)
        frames[off:off + FRAMES_PER_WINDOW] = logpow
        strips += [logpow[:2 * EDGE].copy(), logpow[-2 * EDGE:].copy()]  # copies: a view would keep all 900
    assert frames is not None
    shared = _body_global(parts, frames)
    batch_in = np.stack(strips)[:, np.newaxis]
    edges = np.concatenate([parts.body.run(None, {_BODY_IN: batch_in[i:i + STRIP_BATCH]})[0]  # [2n, 32, 4, 80]
                            for i in range(0, len(batch_in), STRIP_BATCH)])  # of each strip's 4, the outer 2 are exact
    pooled_window = FRAMES_PER_WINDOW // 2
    raw = []
    for i in range(0, len(windows), TAIL_BATCH):
        batch = np.stack([shared[:, offsets[j] // 2: offsets[j] // 2 + pooled_window]
                          for j in range(i, min(len(windows), i + TAIL_BATCH))])
        for k, j in enumerate(range(i, i + len(batch))):
            batch[k, :, :POOLED_EDGE] = edges[2 * j][:, :POOLED_EDGE]
            batch[k, :, -POOLED_EDGE:] = edges[2 * j + 1][:, -POOLED_EDGE:]
        raw.append(parts.tail.run(None, {_BODY_OUT: batch})[0])
    return np.concatenate(raw)


def dnsmos_scores(y16: np.ndarray) -> np.ndarray:
    """Per-window raw SIG, BAK, OVRL (before the P.835 polynomial) of 16 kHz audio, shape ``(n, 3)``.

    One window is scored by the whole model; several share the full-resolution layers (see the
    module docstring). Either way the values are the whole model's on each window.

    Example:
        >>> dnsmos_scores(np.zeros(16000 * 3, dtype="float32")).shape   # doctest: +SKIP
        (3, 3)
    """
    starts, windows = _windows(y16)
    parts = _parts()
    if len(windows) == 1:
        return parts.full.run(None, {"input_1": windows[0][np.newaxis, :]})[0]
    return _raw_scores_shared(parts, windows, starts)


def _polyfit(sig: float, bak: float, ovr: float) -> tuple[float, float, float]:
    # The P.835 calibration of speechmos.dnsmos.DNSMOS.get_polyfit_val (non-personalised).
    p_ovr = np.poly1d([-0.06766283, 1.11546468, 0.04602535])
    p_sig = np.poly1d([-0.08397278, 1.22083953, 0.0052439])
    p_bak = np.poly1d([-0.13166888, 1.60915514, -0.39604546])
    return float(p_sig(sig)), float(p_bak(bak)), float(p_ovr(ovr))


def p835(y16: np.ndarray) -> tuple[float, float, float]:
    """DNSMOS P.835 ``(SIG, BAK, OVRL)`` of 16 kHz audio in [-1, 1]: calibrated, averaged over the windows.

    Example:
        >>> sig, bak, ovrl = p835(np.zeros(16000 * 3, dtype="float32"))   # doctest: +SKIP
    """
    sig, bak, ovr = np.mean([_polyfit(*map(float, raw)) for raw in dnsmos_scores(y16)], axis=0)
    return float(sig), float(bak), float(ovr)


# -- P.808 ---------------------------------------------------------------------------------------

#: the P.808 model: one overall-quality MOS per window from a 120-band log-mel spectrogram
P808_MODEL = "model_v8.onnx"
P808_MELS = 120
P808_BATCH = 16


@cache
def _p808_session() -> Any:
    from zonos_lab.analysis.metrics_core import onnx_session

    return onnx_session(model_path(P808_MODEL))


def p808_features(window: np.ndarray) -> np.ndarray:
    """The P.808 model's input for one 9.01 s window, exactly as ``dnsmos_local.py`` computes it.

    librosa mel power (n_fft 321, hop 160, 120 bands) of the window minus its last 160 samples, in dB
    relative to the window's maximum, then ``(dB + 40) / 40``: shape ``(900, 120)``.

    Example:
        >>> p808_features(np.full(WINDOW_SAMPLES, 0.1, dtype="float32")).shape
        (900, 120)
    """
    import librosa

    mel = librosa.feature.melspectrogram(y=window[:-HOP], sr=DNSMOS_RATE, n_fft=2 * HOP + 1, hop_length=HOP,
                                         n_mels=P808_MELS)
    return ((librosa.power_to_db(mel, ref=np.max) + 40) / 40).T.astype(np.float32)


def p808(y16: np.ndarray) -> float:
    """DNSMOS P.808 MOS of 16 kHz audio: the mean over Microsoft's windows (the same windows as `p835`).

    Example:
        >>> mos = p808(np.zeros(16000 * 3, dtype="float32"))   # doctest: +SKIP
    """
    windows = dnsmos_windows(y16)
    session = _p808_session()
    scores = [session.run(None, {"input_1": np.stack([p808_features(w) for w in windows[i:i + P808_BATCH]])})[0]
              for i in range(0, len(windows), P808_BATCH)]
    return float(np.mean(np.concatenate(scores)[:, 0]))
