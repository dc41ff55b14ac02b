"""A small threaded HTTP server on loopback, shared by the reference server and the webhook receiver.

Example:
    >>> from http.server import BaseHTTPRequestHandler
    >>> srv = LoopbackHTTPServer(BaseHTTPRequestHandler, name="demo").start()
    >>> srv.port > 0
    True
    >>> srv.stop()
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LoopbackHTTPServer:
    """``ThreadingHTTPServer`` serving `handler` from a daemon thread; ``port=0`` picks a free port."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], *, host: str = "127.0.0.1", port: int = 0,
                 name: str = "zonos-http") -> None:
        self.handler, self.host, self.port, self.name = handler, host, port, name
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> LoopbackHTTPServer:
        """Bind and serve in the background; `port` then holds the bound port."""
        self._server = ThreadingHTTPServer((self.host, self.port), self.handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and join the thread (idempotent)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
