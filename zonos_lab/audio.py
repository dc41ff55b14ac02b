"""Audio I/O: decode any reference format, write WAV files atomically, hash content.

Decoding goes through PyAV (its wheel bundles FFmpeg), so MP3, OGG/Vorbis, OGG/Opus, M4A/AAC,
raw AAC, FLAC and WAV all work without a system ffmpeg.

Example:
    >>> import numpy as np, tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> write_wav_atomic(d / "a.wav", np.zeros(441, dtype="float32"), 44100)
    PosixPath('...a.wav')
    >>> decode_audio(d / "a.wav")[1]
    44100
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "atomic_write_bytes",
    "decode_audio",
    "decode_channels",
    "is_wav_bytes",
    "read_wav_metadata",
    "resample",
    "sha256_bytes",
    "sha256_file",
    "write_wav_atomic",
]

PathLike = str | os.PathLike[str]


def decode_audio(source: PathLike | bytes, *, mono: bool = True, sample_rate: int | None = None
                 ) -> tuple[np.ndarray, int]:
    """Decode an audio file (path or bytes) to float32 samples in [-1, 1].

    Args:
        source: a file path or the file's bytes (WAV, MP3, OGG, M4A, AAC, FLAC, …).
        mono: average the channels (default) or return shape ``(channels, samples)``.
        sample_rate: resample to this rate (None keeps the file's rate).

    Returns:
        ``(samples, sample_rate)``.

    Raises:
        ValueError: when the data is not decodable audio (the message names the source).

    Example:
        >>> y, sr = decode_audio("data/reference/en_us_jfk.m4a")  # doctest: +SKIP
    """
    data, rate, _names = decode_channels(source)
    if mono:
        data = data.mean(axis=0)
    if sample_rate and sample_rate != rate:
        data = resample(data, rate, sample_rate)
        rate = sample_rate
    return np.ascontiguousarray(data, dtype=np.float32), int(rate)


def decode_channels(source: PathLike | bytes) -> tuple[np.ndarray, int, tuple[str, ...]]:
    """Decode to ``(samples [channels, n], rate, channel names)``, the names as FFmpeg gives them.

    Names are FFmpeg's (``FL``, ``FR``, ``FC``, ``LFE``, ``SL``, …, in FFmpeg's channel order, which
    is also the order of the rows); a file that does not say which channel is which (a plain
    multichannel WAV) gives ``NONE`` for each.

    Example:
        >>> data, sr, names = decode_channels("data/reference/en_us_jfk.flac")  # doctest: +SKIP
        >>> names
        ('FL', 'FR')
    """
    import av  # PyAV: bundles FFmpeg

    name = "<bytes>" if isinstance(source, bytes) else str(source)
    fileobj: Any = io.BytesIO(source) if isinstance(source, bytes) else str(source)
    chunks: list[np.ndarray] = []
    rate = 0
    names: tuple[str, ...] = ()
    try:
        with av.open(fileobj, mode="r") as container:
            if not container.streams.audio:
                raise ValueError(f"{name}: no audio stream")
            stream = container.streams.audio[0]
            # packed float32: PyAV's planar to_ndarray crashes the process on 8-channel audio
            resampler = av.AudioResampler(format="flt", layout=None, rate=None)
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    rate = out.sample_rate
                    names = tuple(str(c.name) for c in out.layout.channels)
                    chunks.append(_planar(out))
            for out in resampler.resample(None):
                chunks.append(_planar(out))
    except ValueError:
        raise
    except Exception as exc:  # av.error.* and OSError: make it one clear error
        raise ValueError(f"{name}: not decodable audio ({type(exc).__name__}: {exc})") from exc
    if not chunks or rate <= 0:
        raise ValueError(f"{name}: no audio samples decoded")
    data = np.ascontiguousarray(np.concatenate(chunks, axis=1), dtype=np.float32)
    if len(names) != data.shape[0]:
        names = ("NONE",) * data.shape[0]
    return data, int(rate), names


def _planar(frame: Any) -> np.ndarray:
    """A packed float32 PyAV frame as ``(channels, samples)``."""
    channels = len(frame.layout.channels)
    return frame.to_ndarray().reshape(frame.samples, channels).T


def resample(y: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample with a polyphase filter (scipy), along the last axis.

    Example:
        >>> resample(np.zeros(22050, dtype="float32"), 22050, 44100).shape
        (44100,)
    """
    if orig_sr == target_sr:
        return y
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(int(orig_sr), int(target_sr))
    return resample_poly(y, int(target_sr) // g, int(orig_sr) // g, axis=-1).astype(np.float32)


def atomic_write_bytes(path: PathLike, data: bytes) -> Path:
    """Write bytes to `path` atomically (temp file in the same folder, fsync, rename).

    A crash at any instant leaves either the old file or the complete new one, never half of it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_wav_atomic(path: PathLike, audio: np.ndarray, sample_rate: int,
                     metadata: dict[str, Any] | None = None) -> Path:
    """Write 16-bit PCM WAV atomically, with optional metadata in the RIFF INFO chunk.

    `metadata` is stored as JSON in the ``comment`` field; ``software`` names the producer
    (e.g. ``"zonos-2-emulator"``) when given as ``metadata["software"]``.
    """
    import soundfile as sf

    buf = io.BytesIO()
    audio = np.asarray(audio, dtype=np.float32)
    with sf.SoundFile(buf, mode="w", samplerate=int(sample_rate), channels=1 if audio.ndim == 1 else audio.shape[1],
                      format="WAV", subtype="PCM_16") as f:
        if metadata:
            meta = dict(metadata)
            software = meta.pop("software", None)
            if software:
                f.software = str(software)
            f.comment = json.dumps(meta, sort_keys=True, default=str)
        f.write(np.clip(audio, -1.0, 1.0))
    return atomic_write_bytes(path, buf.getvalue())


def read_wav_metadata(path: PathLike) -> dict[str, Any]:
    """The metadata that `write_wav_atomic` stored (``software`` plus the JSON ``comment``)."""
    import soundfile as sf

    with sf.SoundFile(str(path)) as f:
        meta = f.copy_metadata()
    out: dict[str, Any] = {}
    if "comment" in meta:
        try:
            out.update(json.loads(meta["comment"]))
        except ValueError:
            out["comment"] = meta["comment"]
    if "software" in meta:  # libsndfile appends " (libsndfile-x.y.z)"
        out["software"] = meta["software"].split(" (libsndfile")[0]
    return out


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of bytes."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's content, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def is_wav_bytes(head: bytes) -> bool:
    """True when `head` starts with a RIFF/WAVE header."""
    return len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WAVE"
