"""Reference audio: turn a local file into a URL the emulator can fetch, and describe it.

The Zonos 2 API only takes ``reference_audio_url``. `ReferenceServer` serves *registered* local files
(and nothing else) over http on 127.0.0.1, so a local path becomes a URL for the offline emulator.
For the cloud API, upload the file somewhere public and pass that URL instead.

Example:
    >>> from zonos_lab.references import ReferenceServer, resolve_reference
    >>> with ReferenceServer() as refs:                                       # doctest: +SKIP
    ...     r = resolve_reference("data/voices/AmericanFemale.mp3", server=refs)
    ...     r.url.startswith("http://127.0.0.1:"), round(r.duration, 1)
    (True, 15.0)
"""

from __future__ import annotations

import logging
import mimetypes
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from zonos_lab._loopback import LoopbackHTTPServer
from zonos_lab.audio import sha256_file
from zonos_lab.errors import InvalidParameter

log = logging.getLogger("zonos_lab.references")

#: formats the spec lists (plus FLAC, which PyAV decodes too)
AUDIO_SUFFIXES: tuple[str, ...] = (".mp3", ".ogg", ".wav", ".m4a", ".aac", ".flac")
_MIME = {".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".wav": "audio/wav", ".m4a": "audio/mp4",
         ".aac": "audio/aac", ".flac": "audio/flac"}
_ALLOWED = "an http(s) URL, or the path of an existing local audio file (MP3, OGG, WAV, M4A, AAC, FLAC)"


@dataclass(frozen=True)
class ResolvedReference:
    """A reference ready to send: its `url`, and for local files their path, sha256 and duration (s)."""

    url: str
    local_path: Path | None = None
    sha256: str | None = None
    duration: float | None = None


class ReferenceServer:
    """Serves registered local files read-only over http on loopback (a daemon thread).

    `url_for(path)` registers a file and returns its URL (``/ref/<sha256[:16]>/<name>``); the URL
    changes when the content changes (an old URL of a changed file answers 404). Only registered
    files are served.

    Example:
        >>> with ReferenceServer() as refs:                                   # doctest: +SKIP
        ...     url = refs.url_for("data/voices/AmericanMale.mp3")
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host, self.port = host, port
        self._files: dict[tuple[str, str], tuple[Path, int, int]] = {}  # (token, name) → (path, size, mtime)
        self._by_path: dict[tuple[Path, int, int], str] = {}
        self._lock = threading.Lock()
        self._server: LoopbackHTTPServer | None = None
        self.hits = 0

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> ReferenceServer:
        """Start serving (idempotent)."""
        if self._server is not None:
            return self
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _send_file(self, head: bool) -> None:
                path = owner._lookup(self.path)
                if path is None:
                    self.send_error(404, "not a registered reference")
                    return
                try:
                    data = path.read_bytes()
                except OSError:
                    self.send_error(404, "reference file is gone")
                    return
                with owner._lock:
                    owner.hits += 1
                self.send_response(200)
                ctype = _MIME.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0]
                self.send_header("Content-Type", ctype or "application/octet-stream")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if not head:
                    self.wfile.write(data)

            def do_GET(self) -> None:
                self._send_file(head=False)

            def do_HEAD(self) -> None:
                self._send_file(head=True)

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("reference server: " + format, *args)

        self._server = LoopbackHTTPServer(Handler, host=self.host, port=self.port, name="zonos-references").start()
        self.port = self._server.port
        return self

    def stop(self) -> None:
        """Stop serving (idempotent)."""
        if self._server is not None:
            self._server.stop()
            self._server = None

    close = stop

    def __enter__(self) -> ReferenceServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # ------------------------------------------------------------------ files
    def url_for(self, path: str | Path) -> str:
        """Register a local file and return the URL it is served at (starts the server if needed).

        Raises `InvalidParameter` (field ``reference``) when the file does not exist.
        """
        p = Path(path).expanduser()
        if not p.is_file():
            raise InvalidParameter("reference", str(path), _ALLOWED, reason="no such file")
        p = p.resolve()
        st = p.stat()
        key = (p, st.st_size, st.st_mtime_ns)
        self.start()
        with self._lock:
            token = self._by_path.get(key)
            if token is None:
                token = sha256_file(p)[:16]
                self._by_path[key] = token
                self._files[(token, p.name)] = key
        return f"{self.base_url}/ref/{token}/{quote(p.name)}"

    def _lookup(self, url_path: str) -> Path | None:
        parts = unquote(urlsplit(url_path).path).strip("/").split("/")
        if len(parts) != 3 or parts[0] != "ref":
            return None
        with self._lock:
            entry = self._files.get((parts[1], parts[2]))
        if entry is None:
            return None
        path, size, mtime = entry
        try:
            st = path.stat()
        except OSError:
            return None
        return path if (st.st_size, st.st_mtime_ns) == (size, mtime) else None  # changed since: not this URL

    def __repr__(self) -> str:
        return f"ReferenceServer({self.base_url!r}, files={len(self._files)})"


_default: ReferenceServer | None = None
_default_lock = threading.Lock()


def default_server() -> ReferenceServer:
    """The process-wide loopback reference server (started on first use)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = ReferenceServer().start()
        return _default


def audio_duration(path: str | Path) -> float:
    """Duration in seconds of an audio file (container metadata, else a full decode).

    Raises `InvalidParameter` (field ``reference``) when the file is not decodable audio.
    """
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise ValueError("no audio stream")
            stream = container.streams.audio[0]
            if stream.duration is not None and stream.time_base is not None:
                return float(stream.duration * stream.time_base)
            if container.duration is not None:
                return float(container.duration) / 1_000_000
    except Exception as exc:
        raise InvalidParameter("reference", str(path), _ALLOWED,
                               reason=f"not decodable audio ({type(exc).__name__}: {exc})") from None
    from zonos_lab.audio import decode_audio

    y, sr = decode_audio(path)
    return y.size / float(sr)


def resolve_reference(ref: str | Path, *, server: ReferenceServer | None = None) -> ResolvedReference:
    """Make `ref` sendable: http(s) URLs pass through; local files (path or ``file://``) get a loopback URL.

    Local files are checked (exists, decodable) and described (sha256, duration) before anything is
    sent. With ``server=None`` the process-wide `default_server()` serves them. Loopback URLs only
    work with the local emulator; for the cloud, upload the file and pass its https URL.

    Example:
        >>> resolve_reference("https://example.org/ref.wav").local_path is None
        True
    """
    if isinstance(ref, str):
        text = ref.strip()
        parts = urlsplit(text)
        scheme = parts.scheme.lower()
        if scheme in ("http", "https"):
            if not parts.netloc:
                raise InvalidParameter("reference", ref, _ALLOWED, reason="the URL has no host")
            return ResolvedReference(url=text)
        if scheme == "file":
            ref = Path(unquote(parts.path))
        elif len(scheme) > 1:
            raise InvalidParameter("reference", ref, _ALLOWED, reason=f"unsupported URL scheme {scheme!r}")
        else:
            ref = Path(text)
    path = Path(ref).expanduser()
    if not path.is_file():
        raise InvalidParameter("reference", str(ref), _ALLOWED, reason="no such file")
    duration = audio_duration(path)
    if duration <= 0:
        raise InvalidParameter("reference", str(ref), _ALLOWED, reason="the audio is empty")
    srv = server if server is not None else default_server()
    return ResolvedReference(url=srv.url_for(path), local_path=path.resolve(), sha256=sha256_file(path),
                             duration=duration)


__all__ = ["AUDIO_SUFFIXES", "ReferenceServer", "ResolvedReference", "audio_duration", "default_server",
           "resolve_reference"]
