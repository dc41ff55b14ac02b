"""Request pacing for sweeps: an optional requests-per-minute limit and an automatic slowdown on 429.

`RateLimiter` is shared by every take of a sweep (one event loop):

* ``requests_per_minute`` spaces *all* API requests (submits and status polls) evenly;
* a 429 starts a cool-down (the server's ``Retry-After``, else an exponential pause) during which no
  new take is submitted, and widens the gap between submissions; each accepted submission narrows it
  again (additive-increase / multiplicative-decrease).

`ObservedTransport` wraps httpx's transport to apply the rpm limit to every request and to count
requests and 429 / 5xx answers (the sweep's progress bar shows them as retries).

Example:
    >>> lim = RateLimiter(requests_per_minute=120)
    >>> lim.interval
    0.5
    >>> lim.on_429(2.0); lim.submit_gap > 0
    True
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx

__all__ = ["ObservedTransport", "RateLimiter", "media_transport", "shared_ssl_context"]

SUBMIT_PATH_MARK = "/zonos-2/v1/"
STATUS_PATH_MARK = "/v2/requests/status/"


@functools.lru_cache(maxsize=1)
def shared_ssl_context() -> ssl.SSLContext:
    """One verifying TLS context per process (building one costs ~0.1–0.2 s; httpx builds one per client)."""
    try:
        import certifi

        return ssl.create_default_context(cafile=certifi.where())
    except ImportError:  # pragma: no cover - certifi comes with httpx
        return ssl.create_default_context()


def media_transport(max_connections: int = 32) -> httpx.AsyncHTTPTransport:
    """Transport for media downloads sharing the process-wide TLS context (certificates still verified)."""
    return httpx.AsyncHTTPTransport(
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        verify=shared_ssl_context())


class RateLimiter:
    """Shared pacing state (not thread-safe: use from one event loop)."""

    def __init__(self, requests_per_minute: float | None = None, *,
                 clock: Callable[[], float] = time.monotonic, max_gap: float = 10.0) -> None:
        if requests_per_minute is not None and requests_per_minute <= 0:
            raise ValueError("requests_per_minute must be > 0")
        self.rpm = requests_per_minute
        self.clock = clock
        self.max_gap = max_gap
        self._next_request = 0.0
        self._next_submit = 0.0
        self.cool_until = 0.0
        self.submit_gap = 0.0
        self.streak = 0
        self.n_429 = 0

    @property
    def interval(self) -> float:
        """Seconds between two API requests under the rpm limit (0 without one)."""
        return 60.0 / self.rpm if self.rpm else 0.0

    async def acquire_request(self) -> None:
        """Wait for a slot under the requests-per-minute limit (every API request)."""
        if not self.rpm:
            return
        while True:
            now = self.clock()
            wait = self._next_request - now
            if wait <= 0:
                self._next_request = max(now, self._next_request) + self.interval
                return
            await asyncio.sleep(wait)

    async def acquire_submit(self) -> None:
        """Wait until a new submission is allowed (after a 429 cool-down and the adaptive gap)."""
        while True:
            now = self.clock()
            wait = max(self.cool_until, self._next_submit) - now
            if wait <= 0:
                self._next_submit = now + self.submit_gap
                return
            await asyncio.sleep(wait)

    def on_429(self, retry_after: float | None) -> None:
        """A 429 arrived: pause new submissions and widen the gap between them."""
        self.n_429 += 1
        self.streak += 1
        pause = retry_after if retry_after is not None else min(30.0, 0.5 * 2 ** min(self.streak, 6))
        self.cool_until = max(self.cool_until, self.clock() + pause)
        self.submit_gap = min(self.max_gap, max(self.submit_gap * 2.0, 0.1))

    def on_accepted(self) -> None:
        """A submission was accepted: narrow the gap again."""
        self.streak = 0
        self.submit_gap = 0.0 if self.submit_gap < 0.02 else self.submit_gap * 0.8


class ObservedTransport(httpx.AsyncBaseTransport):
    """An httpx async transport that paces requests with a `RateLimiter` and counts what happens.

    Attributes:
        counts: ``posts``, ``status_gets``, ``other``, ``http_429``, ``http_5xx``, ``transport_errors``.
    """

    def __init__(self, limiter: RateLimiter, inner: httpx.AsyncBaseTransport | None = None,
                 max_connections: int = 32, on_retry: Callable[[str], None] | None = None,
                 plain_http: bool = False) -> None:
        self.limiter = limiter
        # plain_http: the endpoint is http:// (the local emulator), so no TLS context is needed
        self.inner = inner or httpx.AsyncHTTPTransport(
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            verify=False if plain_http else shared_ssl_context())
        self.counts: Counter[str] = Counter()
        self.on_retry = on_retry

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        kind = "posts" if request.method == "POST" and SUBMIT_PATH_MARK in path else (
            "status_gets" if STATUS_PATH_MARK in path else "other")
        await self.limiter.acquire_request()
        self.counts[kind] += 1
        try:
            resp = await self.inner.handle_async_request(request)
        except httpx.HTTPError:
            self.counts["transport_errors"] += 1
            if self.on_retry:
                self.on_retry("connection")
            raise
        if resp.status_code == 429:
            self.counts["http_429"] += 1
            from zonos_lab.client._core import parse_retry_after

            self.limiter.on_429(parse_retry_after(resp.headers.get("retry-after")))
            if self.on_retry:
                self.on_retry("429")
        elif resp.status_code >= 500:
            self.counts["http_5xx"] += 1
            if self.on_retry:
                self.on_retry("5xx")
        return resp

    async def aclose(self) -> None:
        await self.inner.aclose()

    def summary(self) -> dict[str, Any]:
        """The counters as a plain dict."""
        return dict(self.counts)
