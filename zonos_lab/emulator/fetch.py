"""How the emulator gets a job's reference audio: fetch (http(s), or file under a data root), decode, cache.

Example:
    >>> loader = ReferenceLoader(data_root=None)
    >>> loader.is_local("https://x.org/a.wav"), loader.is_local("file:///tmp/a.wav")
    (False, True)
    >>> loader.close()
"""

from __future__ import annotations

import collections
import hashlib
import threading
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import numpy as np


class JobFailure(Exception):
    """Ends a job: `status` is FAILED (user's fault, charged) or ERROR (system fault, not charged)."""

    def __init__(self, status: str, error: str) -> None:
        super().__init__(error)
        self.status = status
        self.error = error


class OutsideDataRoot(ValueError):
    """A ``file://`` URL or local path that the emulator may not read (no data root, or outside it)."""


def host_of(url: str) -> str:
    """The host part of a URL, for error messages (never the query).

    Example:
        >>> host_of("https://cdn.example.org/a.wav?token=1")
        'cdn.example.org'
    """
    try:
        return urlsplit(url).netloc or url[:60]
    except ValueError:
        return url[:60]


class ReferenceLoader:
    """Fetches and decodes references; decoded audio is cached by the content's sha256 (LRU). Thread-safe."""

    def __init__(self, *, data_root: str | Path | None, timeout: float = 15.0, max_bytes: int = 50_000_000,
                 cache_size: int = 32) -> None:
        self.data_root = Path(data_root).expanduser().resolve() if data_root else None
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.cache_size = cache_size
        self._cache: collections.OrderedDict[str, tuple[np.ndarray, int]] = collections.OrderedDict()
        self._lock = threading.Lock()
        self._http: Any = None

    # ------------------------------------------------------------------ local files
    def is_local(self, url: str) -> bool:
        """True for ``file://`` URLs, and for plain paths when a data root is set."""
        scheme = urlsplit(url.strip()).scheme.lower()
        if scheme == "file":
            return True
        return scheme not in ("http", "https") and len(scheme) <= 1 and self.data_root is not None

    def local_path(self, url: str) -> Path:
        """The file a ``file://`` URL or path names; raises `OutsideDataRoot` unless inside the data root."""
        if self.data_root is None:
            raise OutsideDataRoot("reference_audio_url: file:// URLs and local paths are only accepted when the "
                                  "emulator runs with a data root (--data-root); use an http(s) URL")
        url = url.strip()
        raw = unquote(urlsplit(url).path) if url.lower().startswith("file:") else url
        path = Path(raw).expanduser()
        if not path.is_absolute():
            path = self.data_root / path
        path = path.resolve()
        if not path.is_relative_to(self.data_root):
            raise OutsideDataRoot(f"reference_audio_url: {raw!r} is outside the emulator's data root")
        return path

    # ------------------------------------------------------------------ fetching
    def _client(self) -> Any:
        with self._lock:
            if self._http is None:
                import httpx

                self._http = httpx.Client(timeout=self.timeout, follow_redirects=True,
                                          headers={"User-Agent": "zonos-2-emulator"})
            return self._http

    def fetch(self, url: str) -> bytes:
        """The reference's bytes; raises `JobFailure` (FAILED) with a clear reason."""
        if self.is_local(url):
            try:
                path = self.local_path(url)
                size = path.stat().st_size
                if size > self.max_bytes:
                    raise JobFailure("FAILED", f"reference_audio_url: the file is {size} bytes, more than the "
                                               f"limit of {self.max_bytes}")
                return path.read_bytes()
            except OutsideDataRoot as exc:
                raise JobFailure("FAILED", str(exc)) from None
            except OSError as exc:
                raise JobFailure("FAILED", f"reference_audio_url could not be read: {exc.strerror or exc}") from None
        import httpx

        try:
            with self._client().stream("GET", url) as resp:
                if resp.status_code >= 400:
                    raise JobFailure("FAILED", f"reference_audio_url could not be fetched: HTTP {resp.status_code} "
                                               f"from {host_of(url)}")
                chunks: list[bytes] = []
                size = 0
                for chunk in resp.iter_bytes():
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise JobFailure("FAILED", f"reference_audio_url: more than {self.max_bytes} bytes")
                    chunks.append(chunk)
                return b"".join(chunks)
        except httpx.HTTPError as exc:
            raise JobFailure("FAILED", f"reference_audio_url could not be fetched from {host_of(url)}: "
                                       f"{type(exc).__name__}: {exc}") from None

    def load(self, url: str) -> tuple[np.ndarray, int]:
        """Fetch and decode (float32 mono, read-only array, native rate); raises `JobFailure` (FAILED)."""
        data = self.fetch(url)
        if not data:
            raise JobFailure("FAILED", "reference_audio_url: the file is empty")
        key = hashlib.sha256(data).hexdigest()  # the bytes decide; the URL is fetched every time
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        from zonos_lab.audio import decode_audio

        try:
            audio, sr = decode_audio(data)
        except ValueError as exc:
            raise JobFailure("FAILED", f"reference_audio_url is not decodable audio (MP3, OGG, WAV, M4A, AAC, "
                                       f"FLAC expected): {str(exc).removeprefix('<bytes>: ')}") from None
        if audio.size == 0 or not np.isfinite(audio).all():
            raise JobFailure("FAILED", "reference_audio_url: the audio is empty or not finite")
        if audio.size / sr < 0.1:
            raise JobFailure("FAILED", f"reference_audio_url: the audio is too short ({audio.size / sr:.3f} s)")
        audio.setflags(write=False)
        with self._lock:
            self._cache[key] = (audio, sr)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return audio, sr

    @property
    def cached(self) -> int:
        """How many decoded references are cached."""
        return len(self._cache)

    def clear(self) -> None:
        """Forget the cached decoded references."""
        with self._lock:
            self._cache.clear()

    def close(self) -> None:
        with self._lock:
            if self._http is not None:
                self._http.close()
                self._http = None


__all__ = ["JobFailure", "OutsideDataRoot", "ReferenceLoader", "host_of"]
