"""`Emulator`: the offline Zonos 2 gateway emulator running in-process (uvicorn in a background thread).

Example:
    >>> from zonos_lab.emulator import Emulator
    >>> with Emulator() as emu:                                  # doctest: +SKIP
    ...     client = ZonosClient(api_key=emu.api_key, base_url=emu.base_url)
"""

from __future__ import annotations

import secrets
import socket
import threading
import time
from pathlib import Path
from typing import Any

from zonos_lab.emulator.service import EmulatorConfig, EmulatorService


def new_api_key() -> str:
    """A random emulator key, ``emu-`` + 24 hex digits."""
    return "emu-" + secrets.token_hex(12)


def bind_socket(host: str, port: int) -> socket.socket:
    """A bound (not yet listening) TCP socket; port 0 picks a free one."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # proto set → asyncio sets TCP_NODELAY
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def url_host(host: str) -> str:
    """Host part for a URL (``0.0.0.0`` is reachable as ``127.0.0.1``; IPv6 in brackets)."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


class Emulator:
    """The offline emulator of the Zonos 2 gateway, served on loopback from a background thread.

    Args:
        host, port: where to listen (port 0 = a free port).
        api_key: the key clients must send (a random ``emu-…`` key when None).
        forbidden_keys: keys answered with 403.
        config: an `EmulatorConfig` (latency, concurrency, balance, rate limit, faults, …).
        engine: the speech engine (default: `zonos_lab.emulator.engine.default_engine()`, created on the first job).
        data_root: also accept ``file://`` URLs and local paths inside this folder as references.
        media_dir: where outputs are kept (default: a temporary folder deleted on `stop`).

    Example:
        >>> with Emulator(config=EmulatorConfig(concurrency=2)) as emu:   # doctest: +SKIP
        ...     emu.base_url.startswith("http://127.0.0.1:"), emu.stats()["posts"]
        (True, 0)
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, api_key: str | None = None,
                 forbidden_keys: tuple[str, ...] | list[str] = (), config: EmulatorConfig | None = None,
                 engine: Any = None, data_root: str | Path | None = None, media_dir: str | Path | None = None,
                 log_level: str = "warning", **config_kwargs: Any) -> None:
        if config is not None and config_kwargs:
            config = config.replace(**config_kwargs)
        elif config is None:
            config = EmulatorConfig(**config_kwargs)
        self.host = host
        self.port = int(port)
        self.api_key = api_key or new_api_key()
        self.forbidden_keys = tuple(forbidden_keys)
        self.log_level = log_level
        self._init = dict(config=config, engine=engine, data_root=data_root, media_dir=media_dir)
        self.service: EmulatorService | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self, timeout: float = 10.0) -> Emulator:
        """Start serving (idempotent); returns self once the port accepts connections."""
        if self._thread is not None and self._thread.is_alive():
            return self
        import uvicorn

        from zonos_lab.emulator.server import create_app

        self.service = EmulatorService(api_key=self.api_key, forbidden_keys=self.forbidden_keys, **self._init)
        app = create_app(self.service)
        sock = bind_socket(self.host, self.port)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(app, log_level=self.log_level, access_log=False, lifespan="off",
                                backlog=4096, timeout_keep_alive=30, timeout_graceful_shutdown=2)
        server = uvicorn.Server(config)
        self._server = server
        self._error = None

        def serve() -> None:
            try:
                server.run(sockets=[sock])
            except BaseException as exc:  # reported by start()
                self._error = exc
            finally:
                sock.close()

        self._thread = threading.Thread(target=serve, name=f"zonos-emulator-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the emulator did not start on {self.host}:{self.port}: "
                                   f"{self._error or 'timeout'}")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        """Stop serving, stop the workers and delete the temporary media (idempotent)."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        self._server = None
        if self.service is not None:
            self.service.close()

    close = stop

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ views
    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (known after `start`)."""
        return f"http://{url_host(self.host)}:{self.port}"

    @property
    def submit_url(self) -> str:
        return f"{self.base_url}/zonos-2/v1/zonos-2-request"

    @property
    def config(self) -> EmulatorConfig:
        return self.service.config if self.service is not None else self._init["config"]

    def _svc(self) -> EmulatorService:
        if self.service is None:
            raise RuntimeError("the emulator is not started: call start() or use it as a context manager")
        return self.service

    def stats(self) -> dict[str, Any]:
        """The same counters as ``GET /_emulator/stats``."""
        return self._svc().stats()

    def reset(self) -> None:
        """Forget jobs and counters; balance and fault schedule start again."""
        self._svc().reset()

    def configure(self, **changes: Any) -> EmulatorConfig:
        """Change settings while running, e.g. ``emu.configure(balance=2, faults="error=1")``."""
        if self.service is None:
            self._init["config"] = self._init["config"].replace(**changes)
            return self._init["config"]
        return self.service.configure(**changes)

    def env(self) -> dict[str, str]:
        """Environment variables that point a client at this emulator."""
        return {"PIXAZO_BASE_URL": self.base_url, "PIXAZO_API_KEY": self.api_key}

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"Emulator(base_url={self.base_url!r}, api_key='***', {state}) — EMULATOR, not Zonos"


__all__ = ["Emulator", "bind_socket", "new_api_key", "url_host"]
