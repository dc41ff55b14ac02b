"""Figures and audio for the report: PNG files under ``figures/`` and base64 ``data:`` URIs.

Example:
    >>> uri = audio_data_uri("runs/x/audio/t1.wav")          # doctest: +SKIP
    >>> uri[:22]                                             # doctest: +SKIP
    'data:audio/ogg;base64,'
"""

from __future__ import annotations

import base64
import io
import os
from pathlib import Path
from typing import Any, Literal

import numpy as np

from zonos_lab.errors import InvalidParameter

__all__ = ["AUDIO_CODECS", "FigureCache", "audio_data_uri", "encode_audio", "png_data_uri", "save_figure",
           "thumbnail_png"]

#: Codecs for embedded players: Ogg/Opus (small, transparent for speech) or the WAV file as it is.
AUDIO_CODECS: tuple[str, ...] = ("opus", "wav")
OPUS_BITRATE = 96_000


def png_data_uri(png: bytes) -> str:
    """``data:image/png;base64,…`` for PNG bytes."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def save_figure(fig: Any, path: str | os.PathLike[str], dpi: int = 96) -> bytes:
    """Render a matplotlib Figure to PNG, write it to `path` atomically, return the bytes."""
    from zonos_lab.audio import atomic_write_bytes

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    data = buf.getvalue()
    atomic_write_bytes(path, data)
    return data


class FigureCache:
    """PNG files under a run's ``figures/`` folder, redrawn only when their inputs change.

    ``figures/index.json`` maps each file name to a key (a hash of the data drawn); a report
    written again over unchanged data reuses the files instead of rendering them again.
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        import json

        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._index_path = self.folder / "index.json"
        try:
            self.index: dict[str, str] = json.loads(self._index_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.index = {}

    def get(self, name: str, key: str, build: Any, dpi: int = 96) -> bytes:
        """The PNG bytes of `name`: read when its key matches, else ``build()`` (a Figure or PNG bytes)."""
        path = self.folder / name
        if self.index.get(name) == key and path.is_file():
            return path.read_bytes()
        made = build()
        if isinstance(made, bytes):
            from zonos_lab.audio import atomic_write_bytes

            atomic_write_bytes(path, made)
            data = made
        else:
            data = save_figure(made, path, dpi=dpi)
        self.index[name] = key
        return data

    def save(self) -> None:
        """Write ``index.json``."""
        import json

        from zonos_lab.audio import atomic_write_bytes

        atomic_write_bytes(self._index_path, json.dumps(self.index, indent=1, sort_keys=True).encode())


def thumbnail_png(audio_path: str, *, height: int = 64, vmin: float | None = None, vmax: float | None = None
                  ) -> bytes:
    """A small axis-free mel spectrogram (magma, low frequencies at the bottom) as PNG bytes."""
    from matplotlib.image import imsave

    from zonos_lab.analysis.plots import mel_db

    s_db, _ = mel_db(audio_path, n_mels=height)
    top = float(s_db.max()) if vmax is None else vmax
    low = top - 80.0 if vmin is None else vmin
    buf = io.BytesIO()
    imsave(buf, np.flipud(s_db), cmap="magma", vmin=low, vmax=top, format="png")
    return buf.getvalue()


def encode_audio(path: str | os.PathLike[str], codec: Literal["opus", "wav"] = "opus") -> tuple[bytes, str]:
    """The take's audio as bytes for a player: ``(data, mime type)``.

    ``"wav"`` returns the file unchanged; ``"opus"`` transcodes to Ogg/Opus at 96 kb/s (about a
    tenth of the size of 16-bit WAV).
    """
    if codec not in AUDIO_CODECS:
        raise InvalidParameter("audio_codec", codec, ", ".join(repr(c) for c in AUDIO_CODECS))
    if codec == "wav":
        return Path(path).read_bytes(), "audio/wav"
    import av

    from zonos_lab.audio import decode_audio

    y, sr = decode_audio(path)
    pcm = (np.clip(y, -1.0, 1.0) * 32767.0).astype(np.int16)[None, :]
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="ogg") as out:
        stream = out.add_stream("libopus", rate=48000)
        stream.bit_rate = OPUS_BITRATE
        stream.layout = "mono"
        resampler = av.AudioResampler(format="s16", layout="mono", rate=48000)
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = sr
        for chunk in (*resampler.resample(frame), *resampler.resample(None)):
            for packet in stream.encode(chunk):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue(), "audio/ogg"


def audio_data_uri(path: str | os.PathLike[str], codec: Literal["opus", "wav"] = "opus") -> str:
    """``data:audio/…;base64,…`` for a take's audio (see `encode_audio`)."""
    data, mime = encode_audio(path, codec)
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")
