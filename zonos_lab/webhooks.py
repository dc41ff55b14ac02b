"""A loopback receiver for ``X-Webhook-URL`` callbacks, matched to request ids.

Callbacks are stored by request id even when nobody waits for that id yet, so a callback that
arrives before `wait()` is called is not lost.

Example:
    >>> from zonos_lab.webhooks import WebhookReceiver
    >>> with WebhookReceiver() as hooks:
    ...     hooks.url.startswith("http://127.0.0.1:")
    True
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

from zonos_lab._loopback import LoopbackHTTPServer
from zonos_lab.client.models import JobStatus
from zonos_lab.errors import ProtocolError, WaitTimeout

log = logging.getLogger("zonos_lab.webhooks")
MAX_BODY = 1_000_000


class WebhookReceiver:
    """Loopback HTTP server collecting job callbacks (thread-safe, many concurrent callbacks).

    `url` is what to pass as ``webhook_url``; `wait(request_id)` blocks until a terminal status for
    that id arrived; ``await await_status(request_id)`` does the same without blocking the loop.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, path: str = "/zonos-webhook") -> None:
        self.host, self.port, self.path = host, port, path
        self._cond = threading.Condition()
        self._latest: dict[str, JobStatus] = {}
        self._history: dict[str, list[JobStatus]] = {}
        self._waiters: dict[str, list[tuple[asyncio.AbstractEventLoop, asyncio.Future[JobStatus]]]] = {}
        self.rejected = 0
        self._server: LoopbackHTTPServer | None = None

    # ------------------------------------------------------------------ server
    def start(self) -> WebhookReceiver:
        """Start serving in a daemon thread (idempotent)."""
        if self._server is not None:
            return self
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                if length > MAX_BODY:
                    self.send_response(413)
                    self.end_headers()
                    return
                body = self.rfile.read(length)
                try:
                    st = JobStatus.from_json(json.loads(body), body=body)
                except (ValueError, ProtocolError) as exc:
                    receiver.rejected += 1
                    log.warning("rejected webhook callback: %s", exc)
                    self.send_response(400)
                    self.end_headers()
                    return
                receiver.deliver(st)
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("webhook %s", format % args)

        self._server = LoopbackHTTPServer(Handler, host=self.host, port=self.port, name="zonos-webhooks").start()
        self.port = self._server.port
        return self

    def stop(self) -> None:
        """Stop the server."""
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The callback URL to send as ``X-Webhook-URL``."""
        if self._server is None:
            raise RuntimeError("WebhookReceiver is not started")
        return f"http://{self.host}:{self.port}{self.path}"

    # ------------------------------------------------------------------ matching
    def deliver(self, st: JobStatus) -> None:
        """Record a status (called by the server; public for tests and custom transports)."""
        with self._cond:
            self._latest[st.request_id] = st
            self._history.setdefault(st.request_id, []).append(st)
            waiters = self._waiters.pop(st.request_id, []) if st.is_terminal else []
            self._cond.notify_all()
        for loop, fut in waiters:
            loop.call_soon_threadsafe(lambda f=fut, s=st: f.done() or f.set_result(s))

    def get(self, request_id: str) -> JobStatus | None:
        """The latest callback received for `request_id` (or None)."""
        with self._cond:
            return self._latest.get(request_id)

    def history(self, request_id: str) -> list[JobStatus]:
        """Every callback received for `request_id`, in arrival order."""
        with self._cond:
            return list(self._history.get(request_id, []))

    def wait(self, request_id: str, timeout: float = 600) -> JobStatus:
        """Block until a terminal status for `request_id` arrives; `WaitTimeout` otherwise."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                st = self._latest.get(request_id)
                if st is not None and st.is_terminal:
                    return st
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise WaitTimeout(f"no terminal webhook within {timeout:g}s", request_id=request_id,
                                      last_status=st.status if st else None)
                self._cond.wait(remaining)

    async def await_status(self, request_id: str, timeout: float = 600) -> JobStatus:
        """Async `wait`: resolves when a terminal callback for `request_id` arrives."""
        loop = asyncio.get_running_loop()
        with self._cond:
            st = self._latest.get(request_id)
            if st is not None and st.is_terminal:
                return st
            fut: asyncio.Future[JobStatus] = loop.create_future()
            self._waiters.setdefault(request_id, []).append((loop, fut))
        try:
            return await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            st = self.get(request_id)
            raise WaitTimeout(f"no terminal webhook within {timeout:g}s", request_id=request_id,
                              last_status=st.status if st else None) from None
        finally:
            with self._cond:
                lst = self._waiters.get(request_id)
                if lst and (loop, fut) in lst:
                    lst.remove((loop, fut))
