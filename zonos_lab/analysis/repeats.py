"""Does a fixed seed reproduce? Group identical requests and measure how far apart the repeats are.

Zonos 2's server batches requests (and takes the minimum top_k / maximum top_p, min_p across a
batch), so the same request with the same seed may not give the same audio under load.

Example:
    >>> rep = reproducibility(results)                                    # doctest: +SKIP
    >>> rep[["seed", "n", "identical", "mel_distance_db", "duration_diff_s"]]  # doctest: +SKIP
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from zonos_lab.analysis.frame import REQUEST_COLUMNS, audio_ok, file_sha256, is_na
from zonos_lab.errors import InvalidParameter, MissingExtra

__all__ = ["REPRO_COLUMNS", "log_mel", "mel_distance", "reproducibility"]

#: Measurement columns of `reproducibility`'s result (after the request columns).
REPRO_COLUMNS: tuple[str, ...] = (
    "n", "n_audio", "n_distinct_audio", "identical", "mel_distance_db", "mel_distance_max_db",
    "duration_diff_s", "speaker_similarity_min", "take_ids",
)
MEL_RATE = 16000
MEL_HOP = 256
MEL_BINS = 64


def log_mel(path: str) -> np.ndarray:
    """Log-mel spectrogram (dB re full scale, floored at −100 dB), shape ``(64, frames)``, 16 ms hop."""
    import librosa

    from zonos_lab.audio import decode_audio

    y, _ = decode_audio(path, sample_rate=MEL_RATE)
    mel = librosa.feature.melspectrogram(y=y, sr=MEL_RATE, n_fft=1024, hop_length=MEL_HOP, n_mels=MEL_BINS)
    return np.maximum(librosa.power_to_db(mel, ref=1.0, amin=1e-10), -100.0)


def mel_distance(a: np.ndarray, b: np.ndarray, align: Literal["dtw", "length"] = "dtw") -> float:
    """RMS difference per mel bin (dB) between two log-mel spectrograms, aligned by DTW or by cutting
    to the shorter one. 0 for identical audio; a few dB for near-identical; ≳ 10 dB for different speech.

    Example:
        >>> x = np.zeros((64, 10)); mel_distance(x, x + 3.0)
        3.0
    """
    if align == "length":
        n = min(a.shape[1], b.shape[1])
        if n == 0:
            return float("nan")
        diff = a[:, :n] - b[:, :n]
        return float(np.sqrt(np.mean(diff ** 2)))
    import librosa

    _, path = librosa.sequence.dtw(X=a, Y=b, metric="euclidean", backtrack=True)
    diff = a[:, path[:, 0]] - b[:, path[:, 1]]
    return float(np.sqrt(np.mean(diff ** 2)))


def _speaker_available() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("torch", "resemblyzer"))


def reproducibility(results: pd.DataFrame, group_on: Sequence[str] | None = None,
                    speaker: bool | None = None, align: Literal["dtw", "length"] = "dtw") -> pd.DataFrame:
    """One row per group of takes with identical request fields and seed.

    Args:
        results: a takes table (``audio_path`` plus the request columns; ``sha256`` computed if missing).
        group_on: columns that define "the same request" (default: every request column present —
            text, reference, language, mode, clean_speaker_background, sampling fields, max_tokens, seed).
        speaker: compare repeats by speaker similarity (None = when the [speaker] extra is installed;
            True requires it).
        align: ``"dtw"`` (default, robust to timing shifts) or ``"length"`` for the mel distance.

    Returns:
        The group's request columns plus: ``n`` takes, ``n_audio`` with audio, ``n_distinct_audio``
        (distinct sha256), ``identical`` (all audio byte-identical; NA when fewer than 2 have audio),
        ``mel_distance_db`` / ``mel_distance_max_db`` (mean / max log-mel distance of each repeat to
        the first, dB), ``duration_diff_s`` (longest − shortest), ``speaker_similarity_min`` (lowest
        similarity of a repeat to the first), ``take_ids``.

    Example:
        >>> reproducibility(results)["identical"].mean()   # share of seeds that reproduced  # doctest: +SKIP
    """
    if "audio_path" not in results.columns:
        raise InvalidParameter("results", "a table without audio_path", "a takes table with an audio_path column")
    if align not in ("dtw", "length"):
        raise InvalidParameter("align", align, "'dtw', 'length'")
    if speaker is True and not _speaker_available():
        raise MissingExtra("speaker similarity between repeats", "speaker", "resemblyzer")
    use_speaker = _speaker_available() if speaker is None else bool(speaker)
    df = results.copy()
    if "take_id" not in df.columns:
        df["take_id"] = [f"take-{i:04d}" for i in range(len(df))]
    cols = list(group_on) if group_on is not None else [
        c for c in REQUEST_COLUMNS if c in df.columns and c != "accurate_mode"]
    if not cols:
        raise InvalidParameter("group_on", group_on, "request columns of the table (text, reference, seed, …)")
    ok = [audio_ok(r) for r in df.to_dict("records")]
    shas = []
    for has, (s, p) in zip(ok, zip(df.get("sha256", pd.Series([None] * len(df))), df["audio_path"], strict=True),
                           strict=True):
        shas.append(None if not has else (s if not is_na(s) else file_sha256(str(p))))
    df["_ok"], df["_sha"] = ok, shas
    rows: list[dict[str, Any]] = []
    for key, group in df.groupby(cols, dropna=False, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        good = group[group["_ok"]]
        paths = good["audio_path"].astype(str).tolist()
        digests = good["_sha"].tolist()
        row: dict[str, Any] = dict(zip(cols, key, strict=True))
        row.update(n=len(group), n_audio=len(good), n_distinct_audio=len(set(digests)),
                   identical=pd.NA if len(good) < 2 else len(set(digests)) == 1,
                   mel_distance_db=np.nan, mel_distance_max_db=np.nan, duration_diff_s=np.nan,
                   speaker_similarity_min=np.nan, take_ids=",".join(map(str, group["take_id"])))
        if len(good) >= 2:
            row.update(_distances(paths, digests, use_speaker, align))
        rows.append(row)
    out = pd.DataFrame(rows, columns=[*cols, *REPRO_COLUMNS])
    out["identical"] = out["identical"].astype("boolean")
    return out


def _distances(paths: list[str], digests: list[str], use_speaker: bool, align: Literal["dtw", "length"]
               ) -> dict[str, Any]:
    from zonos_lab.audio import decode_audio

    durations = []
    for p in paths:
        y, sr = decode_audio(p)
        durations.append(len(y) / sr)
    first_mel = None
    dists, sims = [], []
    for i, (p, d) in enumerate(zip(paths, digests, strict=True)):
        if i == 0:
            continue
        if d == digests[0]:
            dists.append(0.0)
            if use_speaker:
                sims.append(1.0)
            continue
        if first_mel is None:
            first_mel = log_mel(paths[0])
        dists.append(mel_distance(first_mel, log_mel(p), align))
        if use_speaker:
            from zonos_lab.analysis.metrics_speaker import speaker_similarity

            sims.append(speaker_similarity(p, paths[0]))
    return {
        "mel_distance_db": float(np.mean(dists)),
        "mel_distance_max_db": float(np.max(dists)),
        "duration_diff_s": float(max(durations) - min(durations)),
        "speaker_similarity_min": float(min(sims)) if sims else np.nan,
    }
