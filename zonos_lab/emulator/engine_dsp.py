"""Small, deterministic signal-processing pieces of the emulator's speech engine (numpy + scipy).

- :func:`estimate_f0`: a vectorised normalised-autocorrelation pitch tracker (60–400 Hz).
- :func:`psola`: TD-PSOLA with a time-varying pitch factor and a time-varying duration factor.
- :func:`spectral_tilt` / :func:`apply_tilt`: long-term spectral slope in dB/octave, and a filter
  that changes it.
- :func:`spectral_gate`: a simple stationary-noise gate (used to "clean" a reference).

Everything here is deterministic: the same input array gives the same output bytes.

Example:
    >>> import numpy as np
    >>> sr = 22050; t = np.arange(sr) / sr
    >>> f0, voiced = estimate_f0(np.sin(2 * np.pi * 150 * t).astype("float32"), sr)
    >>> bool(abs(np.median(f0[voiced]) - 150) < 3)
    True
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "F0_HOP_S",
    "F0_MAX",
    "F0_MIN",
    "apply_tilt",
    "estimate_f0",
    "psola",
    "smooth",
    "spectral_gate",
    "spectral_tilt",
]

#: Hop of the pitch tracker, in seconds.
F0_HOP_S = 0.01
F0_MIN = 60.0
F0_MAX = 400.0


def smooth(x: np.ndarray, width: int) -> np.ndarray:
    """Moving average with edge padding (``width`` samples, odd or even)."""
    width = int(width)
    if width <= 1 or len(x) == 0:
        return np.asarray(x, dtype=np.float64)
    pad = width // 2
    xp = np.pad(np.asarray(x, dtype=np.float64), (pad, width - 1 - pad), mode="edge")
    c = np.cumsum(np.concatenate([[0.0], xp]))
    return (c[width:] - c[:-width]) / width


def _frames(x: np.ndarray, length: int, hop: int) -> np.ndarray:
    """Frames centred on ``i * hop`` (zero padded), shape ``(n, length)``."""
    n = max(1, int(np.ceil(len(x) / hop)))
    xp = np.pad(x, (length // 2, length + n * hop))
    idx = np.arange(n)[:, None] * hop + np.arange(length)[None, :]
    return xp[idx]


def estimate_f0(x: np.ndarray, sr: int, *, fmin: float = F0_MIN, fmax: float = F0_MAX,
                hop_s: float = F0_HOP_S, threshold: float = 0.45) -> tuple[np.ndarray, np.ndarray]:
    """Frame-wise F0 (Hz) and a voiced mask, every ``hop_s`` seconds (frame i centred at ``i*hop``).

    Normalised autocorrelation over a 2-period window; the shortest lag whose correlation is within
    8 % of the best one is chosen (avoids octave-down errors), refined by parabolic interpolation.

    Example:
        >>> import numpy as np
        >>> f0, v = estimate_f0(np.zeros(4410, dtype="float32"), 22050)
        >>> bool(v.any())
        False
    """
    x = np.asarray(x, dtype=np.float64)
    hop = max(1, round(sr * hop_s))
    tmin = max(2, int(sr / fmax))
    tmax = int(np.ceil(sr / fmin))
    win = 2 * tmax + 2
    fr = _frames(x, win, hop)
    fr = fr - fr.mean(axis=1, keepdims=True)
    nfft = 1 << int(np.ceil(np.log2(2 * win)))
    spec = np.fft.rfft(fr, n=nfft, axis=1)
    ac = np.fft.irfft(spec * np.conj(spec), n=nfft, axis=1)[:, : tmax + 2]
    sq = np.cumsum(np.concatenate([np.zeros((len(fr), 1)), fr * fr], axis=1), axis=1)
    lags = np.arange(tmax + 2)
    e_head = sq[:, win - lags]               # energy of fr[0 : win-lag]
    e_tail = sq[:, -1:] - sq[:, lags]        # energy of fr[lag : win]
    denom = np.sqrt(np.maximum(e_head * e_tail, 1e-20))
    nacf = ac / denom
    band = nacf[:, tmin: tmax + 1]
    best = band.max(axis=1)
    # best peak with a small octave cost (Praat-style: favours the higher of near-equal candidates)
    lags_b = np.arange(tmin, tmax + 1)
    score = band - 0.02 * np.log2(lags_b / tmin)[None, :]
    k = np.argmax(score, axis=1)
    # second pass: search only within ±0.85 octave of the utterance's median (kills octave errors)
    strong = best > 0.7
    if strong.sum() >= 5:
        med_lag = float(np.median(k[strong] + tmin))
        allowed = (lags_b >= med_lag / 1.8) & (lags_b <= med_lag * 1.8)
        score = np.where(allowed[None, :], score, -np.inf)
        k = np.argmax(score, axis=1)
        best = np.take_along_axis(band, k[:, None], axis=1)[:, 0]
    lag = k + tmin
    # parabolic refinement
    rows = np.arange(len(band))
    y0 = nacf[rows, np.clip(lag - 1, 0, tmax + 1)]
    y1 = nacf[rows, lag]
    y2 = nacf[rows, np.clip(lag + 1, 0, tmax + 1)]
    den = y0 - 2 * y1 + y2
    delta = np.where(np.abs(den) > 1e-12, 0.5 * (y0 - y2) / np.where(np.abs(den) > 1e-12, den, 1.0), 0.0)
    lag_f = lag + np.clip(delta, -0.5, 0.5)
    f0 = sr / lag_f
    rms = np.sqrt(sq[:, -1] / win)
    loud = rms > 0.01 * (np.percentile(rms, 95) + 1e-12)
    voiced = (best > threshold) & loud & (lag > tmin) & (lag < tmax)
    # remove isolated voiced frames
    if len(voiced) > 2:
        v = voiced.copy()
        v[1:-1] &= voiced[:-2] | voiced[2:]
        voiced = v
    f0 = np.where(voiced, f0, 0.0)
    return f0, voiced


def psola(x: np.ndarray, sr: int, f0: np.ndarray, voiced: np.ndarray, pitch_factor: np.ndarray,
          time_factor: np.ndarray, hop_s: float = F0_HOP_S) -> np.ndarray:
    """Time-domain PSOLA with per-frame pitch and duration factors.

    Args:
        x: input samples.
        f0, voiced: per-frame F0 track from :func:`estimate_f0` (same ``hop_s``).
        pitch_factor: per-frame factor on F0 (2.0 = one octave up).
        time_factor: per-frame factor on local duration (1.2 = 20 % slower).

    Returns:
        the output samples (length ≈ ``sum(time_factor) * hop``).
    """
    x = np.asarray(x, dtype=np.float64)
    hop = sr * hop_s
    n_fr = len(f0)
    # period track (samples); unvoiced frames use a fixed 8 ms pseudo-period
    uv_period = sr * 0.008
    f0i = np.where(voiced, f0, 0.0)
    period = np.where(f0i > 0, sr / np.maximum(f0i, 1.0), uv_period)
    frame_t = np.arange(n_fr) * hop
    # analysis marks: one per period in voiced frames, snapped to the signal's positive peaks
    # (of a lightly smoothed copy) so grains stay pitch-synchronous
    xs = smooth(smooth(x, max(1, int(sr / 700))), max(1, int(sr / 700)))
    marks: list[int] = []
    is_v: list[bool] = []
    t = 0.0
    n = len(x)
    while t < n:
        fi = min(n_fr - 1, int(t / hop))
        p = period[fi]
        if voiced[fi]:
            if marks and is_v[-1]:
                lo, hi = int(max(0, t - 0.25 * p)), int(min(n, t + 0.25 * p + 1))
            else:
                lo, hi = int(t), int(min(n, t + p))
            if hi > lo:
                t = float(lo + int(np.argmax(xs[lo:hi])))
        if marks and t <= marks[-1]:
            t = marks[-1] + 1.0
        marks.append(int(t))
        is_v.append(bool(voiced[fi]))
        t += p
    marks_a = np.asarray(marks, dtype=np.int64)
    # local period of each mark: the spacing to the next voiced mark when plausible
    mark_fr = np.minimum(n_fr - 1, (marks_a / hop).astype(np.int64))
    nominal = period[mark_fr]
    spacing = np.diff(np.concatenate([marks_a, [marks_a[-1] + int(nominal[-1])]])).astype(np.float64)
    is_v_a = np.asarray(is_v, dtype=bool)
    nxt_v = np.concatenate([is_v_a[1:], [False]])
    ok_v = is_v_a & nxt_v & (spacing > 0.6 * nominal) & (spacing < 1.6 * nominal)
    ok_uv = ~(is_v_a & nxt_v) & (spacing > 0.5 * nominal) & (spacing < 2.5 * nominal)
    # voiced marks keep the smooth F0-track period (snapping jitter must not reach the output);
    # unvoiced marks use their actual spacing so that unvoiced stretches are copied in step
    mark_period = np.where(ok_uv, spacing, nominal)
    del ok_v
    # time warp: output time of each analysis frame boundary
    tf = np.clip(np.asarray(time_factor, dtype=np.float64), 0.25, 4.0)
    t_out = np.concatenate([[0.0], np.cumsum(tf * hop)])
    t_in = np.concatenate([frame_t, [n_fr * hop]])
    total_out = int(t_out[-1])
    out = np.zeros(total_out + 4 * int(sr / F0_MIN) + 2, dtype=np.float64)
    wsum = np.zeros_like(out)
    pf = np.clip(np.asarray(pitch_factor, dtype=np.float64), 0.25, 4.0)
    ts = 0.0
    win_cache: dict[int, np.ndarray] = {}
    while ts < total_out:
        ti = float(np.interp(ts, t_out, t_in))
        j = int(np.searchsorted(marks_a, ti))
        if j >= len(marks_a):
            j = len(marks_a) - 1
        elif j > 0 and (ti - marks_a[j - 1]) < (marks_a[j] - ti):
            j -= 1
        m = int(marks_a[j])
        fi = int(mark_fr[j])
        p = round(mark_period[j])
        half = max(8, p)
        w = win_cache.get(half)
        if w is None:
            w = np.hanning(2 * half + 1)
            win_cache[half] = w
        a0, a1 = m - half, m + half + 1
        s0 = round(ts) - half
        g = np.zeros(2 * half + 1)
        c0, c1 = max(0, a0), min(n, a1)
        if c1 > c0:
            g[c0 - a0: c1 - a0] = x[c0:c1]
        if s0 < 0:
            g, ww, s0 = g[-s0:], w[-s0:], 0
        else:
            ww = w
        end = min(len(out), s0 + len(g))
        out[s0:end] += (g * ww)[: end - s0]
        wsum[s0:end] += ww[: end - s0]
        step = mark_period[j] / pf[fi] if is_v_a[j] else mark_period[j]
        ts += max(1.0, step)
    out = out / np.maximum(wsum, 1.0)
    return out[:total_out].astype(np.float32)


def _ltas(x: np.ndarray, sr: int, nfft: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Long-term average power spectrum of the louder frames."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) < nfft:
        x = np.pad(x, (0, nfft - len(x)))
    hop = nfft // 2
    n = 1 + (len(x) - nfft) // hop
    idx = np.arange(n)[:, None] * hop + np.arange(nfft)[None, :]
    fr = x[idx] * np.hanning(nfft)
    energy = (fr * fr).sum(axis=1)
    keep = energy >= np.percentile(energy, 50)
    spec = np.abs(np.fft.rfft(fr[keep], axis=1)) ** 2
    return np.fft.rfftfreq(nfft, 1 / sr), spec.mean(axis=0) + 1e-20


def spectral_tilt(x: np.ndarray, sr: int, fmin: float = 200.0, fmax: float = 5000.0) -> float:
    """Slope of the long-term spectrum in dB per octave between ``fmin`` and ``fmax``.

    Example:
        >>> import numpy as np
        >>> round(spectral_tilt(np.random.default_rng(0).standard_normal(44100), 44100))  # white
        0
    """
    freqs, p = _ltas(x, sr)
    fmax = min(fmax, sr / 2 * 0.95)
    sel = (freqs >= fmin) & (freqs <= fmax)
    octs = np.log2(freqs[sel] / 1000.0)
    db = 10 * np.log10(p[sel])
    # equal weight per octave: bin in 1/6-octave bands first
    edges = np.arange(np.floor(octs.min() * 6), np.ceil(octs.max() * 6) + 1) / 6
    band = np.digitize(octs, edges)
    bx = np.array([octs[band == b].mean() for b in np.unique(band)])
    by = np.array([db[band == b].mean() for b in np.unique(band)])
    if len(bx) < 2:
        return 0.0
    return float(np.polyfit(bx, by, 1)[0])


def apply_tilt(x: np.ndarray, sr: int, db_per_octave: float, pivot_hz: float = 1000.0) -> np.ndarray:
    """Filter ``x`` so its spectral slope changes by ``db_per_octave`` (flat below 100 Hz).

    Example:
        >>> import numpy as np
        >>> y = apply_tilt(np.random.default_rng(0).standard_normal(44100), 44100, -3.0)
        >>> bool(spectral_tilt(y, 44100) < -2)
        True
    """
    if abs(db_per_octave) < 1e-6 or len(x) == 0:
        return np.asarray(x, dtype=np.float32)
    from scipy.fft import irfft, next_fast_len, rfft

    n = len(x)
    nfft = next_fast_len(n + 2048, real=True)   # padded: fast length, and room for the filter's tail
    spec = rfft(np.asarray(x, dtype=np.float64), n=nfft)
    f = np.fft.rfftfreq(nfft, 1 / sr)
    octs = np.log2(np.maximum(f, 100.0) / pivot_hz)
    gain = 10 ** (db_per_octave * octs / 20)
    return irfft(spec * gain, n=nfft)[:n].astype(np.float32)


def spectral_gate(x: np.ndarray, sr: int, strength: float = 1.5) -> np.ndarray:
    """Stationary-noise reduction: subtract a per-bin noise floor (20th percentile of the frames).

    Example:
        >>> import numpy as np
        >>> spectral_gate(np.zeros(16000, dtype="float32"), 16000).shape
        (16000,)
    """
    from scipy.signal import istft, stft

    x = np.asarray(x, dtype=np.float64)
    if len(x) < 1024:
        return x.astype(np.float32)
    _, _, z = stft(x, fs=sr, nperseg=512, noverlap=384)
    mag = np.abs(z)
    floor = np.percentile(mag, 20, axis=1, keepdims=True)
    gain = np.clip(1.0 - strength * floor / np.maximum(mag, 1e-12), 0.0, 1.0)
    _, y = istft(z * gain, fs=sr, nperseg=512, noverlap=384)
    return y[: len(x)].astype(np.float32)
