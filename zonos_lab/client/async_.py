"""`AsyncZonosClient`: the asyncio shell around the shared core (one instance per event loop).

Example:
    >>> import asyncio
    >>> from zonos_lab.client import AsyncZonosClient
    >>> async def main():
    ...     async with AsyncZonosClient(api_key="k", base_url="http://127.0.0.1:9") as c:
    ...         return c.backend
    >>> asyncio.run(main())
    'cloud'
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from zonos_lab.client import _config
from zonos_lab.client._core import Core, Fetch, FetchResult, HttpCall, Sleep, drive_async
from zonos_lab.client._redact import register_secret
from zonos_lab.client.models import Job, JobStatus
from zonos_lab.client.policy import ExponentialPollPolicy, PollPolicy
from zonos_lab.client.sync import _limits


class AsyncZonosClient:
    """Asyncio client with the same methods as `ZonosClient` (all awaitable). Use one per event loop."""

    def __init__(self, api_key: str | None = None, base_url: str | None = None, *, timeout: float = 30.0,
                 max_retries: int = 3, max_connections: int = 16, poll_policy: PollPolicy | None = None,
                 transport: httpx.AsyncBaseTransport | None = None,
                 media_transport: httpx.AsyncBaseTransport | None = None,
                 clock: Callable[[], float] | None = None,
                 sleep: Callable[[float], Awaitable[None]] | None = None,
                 max_download_bytes: int = 200_000_000) -> None:
        cfg = _config.resolve(api_key, base_url)
        self._emulator = cfg.emulator
        register_secret(cfg.api_key)
        self._core = Core(api_key=cfg.api_key, base_url=cfg.base_url, max_retries=max_retries,
                          poll_policy=poll_policy, clock=clock, max_download_bytes=max_download_bytes)
        if self._emulator is not None:
            self._core.backend = "emulator"
            if poll_policy is None:  # the local emulator answers in well under the cloud's 5 s
                self._core.poll_policy = ExponentialPollPolicy(default_first=0.25)
        self._sleep = sleep or asyncio.sleep
        self._http = httpx.AsyncClient(timeout=timeout, limits=_limits(max_connections), transport=transport,
                                       follow_redirects=False)
        self._media = httpx.AsyncClient(timeout=timeout, limits=_limits(max_connections),
                                        transport=media_transport, follow_redirects=True)
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def backend(self) -> str:
        return self._core.backend

    @property
    def base_url(self) -> str:
        return self._core.base_url

    @property
    def poll_policy(self) -> PollPolicy:
        return self._core.poll_policy

    @property
    def median_completion(self) -> float | None:
        return self._core.completions.median

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, backend={self.backend!r}, api_key='***')"

    async def _execute(self, action: Any) -> Any:
        if isinstance(action, HttpCall):
            return await self._http.request(action.method, action.url, headers=action.headers,
                                            content=action.content)
        if isinstance(action, Sleep):
            return await self._sleep(action.seconds)
        if isinstance(action, Fetch):
            return await self._fetch(action)
        raise TypeError(f"unknown action {action!r}")

    async def _fetch(self, f: Fetch) -> FetchResult:
        async with self._media.stream("GET", f.url) as resp:
            if resp.status_code >= 400:
                await resp.aread()
                return FetchResult(resp.status_code, dict(resp.headers), 0, b"", resp.content[:300])
            length = resp.headers.get("content-length")
            if length and length.isdigit() and int(length) > f.limit:
                return FetchResult(resp.status_code, dict(resp.headers), int(length), b"")
            size, head = 0, b""
            with open(f.tmp, "wb") as fh:
                async for chunk in resp.aiter_bytes():
                    size += len(chunk)
                    if len(head) < 64:
                        head += chunk[: 64 - len(head)]
                    if size > f.limit:
                        break
                    fh.write(chunk)
            return FetchResult(resp.status_code, dict(resp.headers), size, head)

    async def _run(self, gen: Any) -> Any:
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif self._loop is not loop:
            gen.close()
            raise RuntimeError("an AsyncZonosClient belongs to the event loop it was first used on; "
                               "create one client per event loop")
        return await drive_async(gen, self._execute)

    async def submit(self, params: Any, webhook_url: str | None = None) -> Job:
        """POST a generation request; see `ZonosClient.submit`."""
        return await self._run(self._core.op_submit(params, webhook_url))

    async def status(self, job_or_id: Job | str) -> JobStatus:
        """GET the job's status once; see `ZonosClient.status`."""
        return await self._run(self._core.op_status(job_or_id))

    async def wait(self, job_or_id: Job | str, timeout: float = 600,
                   on_status: Callable[[JobStatus], None] | None = None,
                   poll_policy: PollPolicy | None = None) -> JobStatus:
        """Poll until terminal; see `ZonosClient.wait`."""
        return await self._run(self._core.op_wait(job_or_id, timeout, on_status, poll_policy))

    async def download(self, status: JobStatus, dest: str | Path) -> Path:
        """Stream the output audio to `dest` atomically; see `ZonosClient.download`."""
        return await self._run(self._core.op_download(status, dest))

    async def generate(self, params: Any, dest: str | Path, *, webhook_url: str | None = None,
                       timeout: float = 600) -> tuple[JobStatus, Path]:
        """submit + wait + download."""
        job = await self.submit(params, webhook_url)
        st = await self.wait(job, timeout=timeout)
        return st, await self.download(st, dest)

    async def aclose(self) -> None:
        """Close connections and stop the emulator this client started."""
        if self._closed:
            return
        self._closed = True
        await self._http.aclose()
        await self._media.aclose()
        if self._emulator is not None:
            await asyncio.to_thread(self._emulator.stop)

    close = aclose

    async def __aenter__(self) -> AsyncZonosClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
