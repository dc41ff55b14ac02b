"""`ZonosClient`: the blocking shell around the shared core.

Example:
    >>> from zonos_lab.client import ZonosClient
    >>> with ZonosClient(api_key="sekrit-k", base_url="http://127.0.0.1:9") as c:
    ...     c.backend, "sekrit" in repr(c)
    ('cloud', False)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from zonos_lab.client import _config
from zonos_lab.client._core import Core, Fetch, FetchResult, HttpCall, Sleep, drive_sync
from zonos_lab.client._redact import register_secret
from zonos_lab.client.models import Job, JobStatus
from zonos_lab.client.policy import ExponentialPollPolicy, PollPolicy


def _limits(max_connections: int) -> httpx.Limits:
    return httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)


class ZonosClient:
    """Blocking client of the Zonos 2 gateway (or the offline emulator).

    Key from `api_key` or ``PIXAZO_API_KEY``; base URL from `base_url` or ``PIXAZO_BASE_URL``
    (default ``https://gateway.pixazo.ai``). With neither, the in-process emulator is started.
    """

    def __init__(self, api_key: str | None = None, base_url: str | None = None, *, timeout: float = 30.0,
                 max_retries: int = 3, max_connections: int = 16, poll_policy: PollPolicy | None = None,
                 transport: httpx.BaseTransport | None = None, media_transport: httpx.BaseTransport | None = None,
                 clock: Callable[[], float] | None = None, sleep: Callable[[float], None] | None = None,
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
        self._sleep = sleep or time.sleep
        self._http = httpx.Client(timeout=timeout, limits=_limits(max_connections), transport=transport,
                                  follow_redirects=False)
        # media never carries the key, so following CDN redirects is safe
        self._media = httpx.Client(timeout=timeout, limits=_limits(max_connections), transport=media_transport,
                                   follow_redirects=True)
        self._closed = False

    # ------------------------------------------------------------------ properties
    @property
    def backend(self) -> str:
        """``"emulator"`` or ``"cloud"``."""
        return self._core.backend

    @property
    def base_url(self) -> str:
        return self._core.base_url

    @property
    def poll_policy(self) -> PollPolicy:
        return self._core.poll_policy

    @property
    def median_completion(self) -> float | None:
        """Running median (s) of completion times this client has observed."""
        return self._core.completions.median

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, backend={self.backend!r}, api_key='***')"

    # ------------------------------------------------------------------ actions
    def _execute(self, action: Any) -> Any:
        if isinstance(action, HttpCall):
            return self._http.request(action.method, action.url, headers=action.headers, content=action.content)
        if isinstance(action, Sleep):
            return self._sleep(action.seconds)
        if isinstance(action, Fetch):
            return self._fetch(action)
        raise TypeError(f"unknown action {action!r}")

    def _fetch(self, f: Fetch) -> FetchResult:
        with self._media.stream("GET", f.url) as resp:
            if resp.status_code >= 400:
                resp.read()
                return FetchResult(resp.status_code, dict(resp.headers), 0, b"", resp.content[:300])
            length = resp.headers.get("content-length")
            if length and length.isdigit() and int(length) > f.limit:
                return FetchResult(resp.status_code, dict(resp.headers), int(length), b"")
            size, head = 0, b""
            with open(f.tmp, "wb") as fh:
                for chunk in resp.iter_bytes():
                    size += len(chunk)
                    if len(head) < 64:
                        head += chunk[: 64 - len(head)]
                    if size > f.limit:
                        break
                    fh.write(chunk)
            return FetchResult(resp.status_code, dict(resp.headers), size, head)

    def _run(self, gen: Any) -> Any:
        return drive_sync(gen, self._execute)

    # ------------------------------------------------------------------ API
    def submit(self, params: Any, webhook_url: str | None = None) -> Job:
        """POST a generation request; returns the queued `Job` at once.

        Example: ``job = client.submit(GenerationParams(reference_audio_url=url, text="Hi"))``
        """
        return self._run(self._core.op_submit(params, webhook_url))

    def status(self, job_or_id: Job | str) -> JobStatus:
        """GET the job's status once (retrying transient failures)."""
        return self._run(self._core.op_status(job_or_id))

    def wait(self, job_or_id: Job | str, timeout: float = 600,
             on_status: Callable[[JobStatus], None] | None = None,
             poll_policy: PollPolicy | None = None) -> JobStatus:
        """Poll until COMPLETED (returned) or FAILED/ERROR (raised); `WaitTimeout` after `timeout` s.

        Example: ``st = client.wait("zonos-2_019d...", timeout=120)`` resumes from a bare id.
        """
        return self._run(self._core.op_wait(job_or_id, timeout, on_status, poll_policy))

    def download(self, status: JobStatus, dest: str | Path) -> Path:
        """Stream the output audio to `dest` (file or directory) atomically; returns the path."""
        return self._run(self._core.op_download(status, dest))

    def generate(self, params: Any, dest: str | Path, *, webhook_url: str | None = None,
                 timeout: float = 600) -> tuple[JobStatus, Path]:
        """submit + wait + download. Example: ``st, path = client.generate(params, "out.wav")``"""
        job = self.submit(params, webhook_url)
        st = self.wait(job, timeout=timeout)
        return st, self.download(st, dest)

    def close(self) -> None:
        """Close connections and stop the emulator this client started."""
        if self._closed:
            return
        self._closed = True
        self._http.close()
        self._media.close()
        if self._emulator is not None:
            self._emulator.stop()

    def __enter__(self) -> ZonosClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
