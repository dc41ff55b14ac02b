"""The pure core shared by `ZonosClient` and `AsyncZonosClient`: no I/O here.

Each operation is a generator that *yields actions* (`HttpCall`, `Sleep`, `Fetch`) and receives
their results (or has the transport's exception thrown into it). The sync and async shells only
execute those actions, so request building, response parsing, retry decisions and the poll
schedule exist exactly once.

Example:
    >>> core = Core(api_key="k", base_url="https://gateway.pixazo.ai")
    >>> core.status_url("abc")
    'https://gateway.pixazo.ai/v2/requests/status/abc'
"""

from __future__ import annotations

import email.utils
import json
import logging
import os
import random
import re
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from zonos_lab.client.models import Job, JobStatus
from zonos_lab.client.policy import CompletionStats, ExponentialPollPolicy, PollPolicy, backoff
from zonos_lab.errors import (
    ConnectionFailed,
    GenerationError,
    GenerationFailed,
    MediaError,
    ProtocolError,
    RateLimited,
    ServerError,
    SubmissionUncertain,
    WaitTimeout,
    ZonosError,
    error_for_status,
)

log = logging.getLogger("zonos_lab.client")

DEFAULT_BASE_URL = "https://gateway.pixazo.ai"
SUBMIT_PATH = "/zonos-2/v1/zonos-2-request"
STATUS_PATH = "/v2/requests/status/{id}"
KEY_HEADER = "Ocp-Apim-Subscription-Key"
RETRY_AFTER_CAP = 60.0
RETRY_BUDGET_SECONDS = 120.0

# connection never established: the body cannot have reached the server
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


class Secret:
    """Holds the API key; its repr and str never show it."""

    __slots__ = ("_value",)

    def __init__(self, value: str | None) -> None:
        self._value = value

    def get(self) -> str | None:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('***')" if self._value else "Secret(None)"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("the API key is not picklable")


@dataclass
class HttpCall:
    """Action: send one HTTP request on the API client; the shell answers with an `httpx.Response`."""

    method: str
    url: str
    headers: dict[str, str]
    content: bytes | None = None


@dataclass
class Sleep:
    """Action: sleep this many seconds (injected sleep)."""

    seconds: float


@dataclass
class Fetch:
    """Action: stream `url` with the key-less media client into `tmp`; answer with `FetchResult`."""

    url: str
    tmp: Path
    limit: int


@dataclass
class FetchResult:
    status_code: int
    headers: dict[str, str]
    size: int
    head: bytes
    body_excerpt: bytes = b""


@dataclass
class RetryState:
    attempts: int = 0
    slept: float = 0.0


def parse_retry_after(value: str | None, *, now: float | None = None, cap: float = RETRY_AFTER_CAP) -> float | None:
    """Parse ``Retry-After`` (seconds or HTTP date) into capped seconds, None if absent/invalid.

    Example:
        >>> parse_retry_after("3"), parse_retry_after("1000"), parse_retry_after("soon")
        (3.0, 60.0, None)
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            dt = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if dt is None:
            return None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        seconds = dt.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return max(0.0, min(seconds, cap))


def safe_file_name(name: str | None, fallback: str) -> str:
    """A harmless local file name from an untrusted ``file_name`` (no directories, no dots-only).

    Example:
        >>> safe_file_name("../../etc/passwd", "x.wav"), safe_file_name(None, "x.wav")
        ('passwd', 'x.wav')
    """
    if not name:
        return fallback
    base = re.split(r"[\\/]", name)[-1]
    base = re.sub(r"[^A-Za-z0-9._-]", "_", base).lstrip(".")
    return base[:120] or fallback


def _json(resp: httpx.Response, request_id: str | None = None) -> Any:
    try:
        return json.loads(resp.content)
    except (ValueError, UnicodeDecodeError):
        raise ProtocolError(f"malformed JSON in HTTP {resp.status_code} response", body=resp.content,
                            request_id=request_id) from None


class Core:
    """Configuration and the shared logic of both clients."""

    def __init__(self, *, api_key: str | None, base_url: str, max_retries: int = 3,
                 poll_policy: PollPolicy | None = None, clock: Callable[[], float] | None = None,
                 max_download_bytes: int = 200_000_000, rng: random.Random | None = None,
                 retry_budget: float = RETRY_BUDGET_SECONDS) -> None:
        self.key = Secret(api_key)
        self.base_url = base_url.rstrip("/")
        self.max_retries = max(0, int(max_retries))
        self.poll_policy: PollPolicy = poll_policy or ExponentialPollPolicy()
        self.clock = clock or time.monotonic
        self.max_download_bytes = max_download_bytes
        self.rng = rng or random.Random()
        self.retry_budget = retry_budget
        self.completions = CompletionStats()
        self.backend = "cloud"

    # ---------------------------------------------------------------- request building
    def headers(self, *, json_body: bool = False, webhook_url: str | None = None) -> dict[str, str]:
        h: dict[str, str] = {}
        if json_body:
            h["Content-Type"] = "application/json"
            h["Cache-Control"] = "no-cache"
        key = self.key.get()
        if key:
            h[KEY_HEADER] = key
        if webhook_url:
            h["X-Webhook-URL"] = webhook_url
        return h

    def submit_call(self, params: Any, webhook_url: str | None = None) -> HttpCall:
        body = params.to_request_json() if hasattr(params, "to_request_json") else dict(params)
        content = json.dumps(body, ensure_ascii=False).encode()
        return HttpCall("POST", self.base_url + SUBMIT_PATH,
                        self.headers(json_body=True, webhook_url=webhook_url), content)

    def status_url(self, job_or_id: Job | str) -> str:
        if isinstance(job_or_id, Job) and job_or_id.polling_url:
            return job_or_id.polling_url
        rid = job_or_id.request_id if isinstance(job_or_id, Job) else str(job_or_id)
        if not rid:
            raise ValueError("request id is empty")
        return self.base_url + STATUS_PATH.format(id=rid)

    # ---------------------------------------------------------------- response parsing
    def raise_for_error(self, resp: httpx.Response, request_id: str | None = None) -> None:
        if 300 <= resp.status_code < 400:
            raise ProtocolError(f"the gateway answered a redirect (HTTP {resp.status_code}); the API client "
                                "never follows redirects so the key cannot leak to another host",
                                request_id=request_id)
        if resp.status_code < 400:
            return
        error = message = None
        try:
            data = json.loads(resp.content)
            if isinstance(data, dict):
                error = data.get("error") if isinstance(data.get("error"), str) else None
                message = data.get("message") if isinstance(data.get("message"), str) else None
        except (ValueError, UnicodeDecodeError):
            pass
        raise error_for_status(resp.status_code, error=error, server_message=message,
                               body=resp.content.decode("utf-8", "replace"),
                               retry_after=parse_retry_after(resp.headers.get("retry-after")),
                               request_id=request_id)

    def parse_submit(self, resp: httpx.Response) -> Job:
        self.raise_for_error(resp)
        if resp.status_code not in (200, 201, 202):
            raise ProtocolError(f"unexpected HTTP {resp.status_code} for a submit", body=resp.content)
        data = _json(resp)
        if not isinstance(data, dict) or not isinstance(data.get("request_id"), str) or not data["request_id"]:
            raise ProtocolError("submit response has no request_id", body=resp.content)
        status = data.get("status") or "QUEUED"
        if status not in ("QUEUED", "PROCESSING", "COMPLETED", "FAILED", "ERROR"):
            raise ProtocolError(f"unknown status {status!r}", body=resp.content, request_id=data["request_id"])
        polling = data.get("polling_url")
        return Job(data["request_id"], status, polling if isinstance(polling, str) and polling else None,
                   datetime.now(UTC))

    def parse_status(self, resp: httpx.Response, request_id: str | None) -> JobStatus:
        self.raise_for_error(resp, request_id)
        return JobStatus.from_json(_json(resp, request_id), body=resp.content)

    # ---------------------------------------------------------------- retry decisions
    def _retry_delay(self, state: RetryState, retry_after: float | None) -> float | None:
        """Seconds to sleep before the next attempt, or None when the budget is spent."""
        if state.attempts >= self.max_retries:
            return None
        delay = retry_after if retry_after is not None else backoff(state.attempts, rng=self.rng)
        if state.slept + delay > self.retry_budget:
            return None
        state.attempts += 1
        state.slept += delay
        return delay

    def _send(self, call: HttpCall, *, idempotent: bool, request_id: str | None = None
              ) -> Generator[Any, Any, httpx.Response]:
        """Send `call` with the retry rules; return the final response (maybe an error status)."""
        state = RetryState()
        what = f"{call.method} {call.url}"
        while True:
            try:
                resp: httpx.Response = yield call
            except httpx.HTTPError as exc:
                not_sent = isinstance(exc, _NOT_SENT)
                if not idempotent and not not_sent:
                    raise SubmissionUncertain(
                        f"the submit request was sent but no answer came ({type(exc).__name__}); "
                        "the job may exist and be charged", request_id=request_id) from None
                delay = self._retry_delay(state, None)
                if delay is None:
                    raise ConnectionFailed(f"{what} failed after {state.attempts + 1} attempt(s): "
                                           f"{type(exc).__name__}: {exc}", request_id=request_id) from None
                log.info("retrying %s in %.2fs after %s", what, delay, type(exc).__name__)
                yield Sleep(delay)
                continue
            code = resp.status_code
            retryable = code == 429 or (code == 503 if not idempotent else code >= 500)
            if not retryable:
                return resp
            delay = self._retry_delay(state, parse_retry_after(resp.headers.get("retry-after")))
            if delay is None:
                return resp
            log.info("retrying %s in %.2fs after HTTP %d", what, delay, code)
            yield Sleep(delay)

    # ---------------------------------------------------------------- operations
    def op_submit(self, params: Any, webhook_url: str | None = None) -> Generator[Any, Any, Job]:
        call = self.submit_call(params, webhook_url)
        resp = yield from self._send(call, idempotent=False)
        if resp.status_code >= 500 and resp.status_code != 503:
            err = error_for_status(resp.status_code, body=resp.content.decode("utf-8", "replace"))
            raise ServerError(err.message, status_code=resp.status_code, body=err.body,
                              hint="The submit may have been accepted: check your dashboard before resubmitting.")
        job = self.parse_submit(resp)
        log.info("submitted %s (%s)", job.request_id, job.status)
        return job

    def op_status(self, job_or_id: Job | str) -> Generator[Any, Any, JobStatus]:
        rid = job_or_id.request_id if isinstance(job_or_id, Job) else str(job_or_id)
        resp = yield from self._send(HttpCall("GET", self.status_url(job_or_id), self.headers()),
                                     idempotent=True, request_id=rid)
        st = self.parse_status(resp, rid)
        if st.model_id == "zonos-2-emulator":
            self.backend = "emulator"
        return st

    def op_wait(self, job_or_id: Job | str, timeout: float = 600,
                on_status: Callable[[JobStatus], None] | None = None,
                poll_policy: PollPolicy | None = None) -> Generator[Any, Any, JobStatus]:
        policy = poll_policy or self.poll_policy
        rid = job_or_id.request_id if isinstance(job_or_id, Job) else str(job_or_id)
        start = self.clock()
        deadline = start + timeout
        attempt = 0
        last: str | None = job_or_id.status if isinstance(job_or_id, Job) else None
        # a fresh Job: first check after the schedule's first delay; a bare id: check at once
        first_sleep = isinstance(job_or_id, Job) and job_or_id.status not in ("COMPLETED", "FAILED", "ERROR")
        hint_after: float | None = None
        while True:
            if first_sleep or attempt > 0:
                delay = policy.delay(attempt - (0 if first_sleep else 1), self.completions.median)
                if hint_after is not None:
                    delay = max(delay, hint_after)
                remaining = deadline - self.clock()
                if remaining <= 0:
                    raise WaitTimeout(f"job still {last or 'unknown'} after {timeout:g}s", request_id=rid,
                                      last_status=last)
                yield Sleep(min(delay, remaining))
            attempt += 1
            resp = yield from self._send(HttpCall("GET", self.status_url(job_or_id), self.headers()),
                                         idempotent=True, request_id=rid)
            st = self.parse_status(resp, rid)
            if st.model_id == "zonos-2-emulator":
                self.backend = "emulator"
            hint_after = parse_retry_after(resp.headers.get("retry-after"))
            if st.status != last:
                log.debug("job %s: %s -> %s", rid, last, st.status)
                last = st.status
                if on_status is not None:
                    on_status(st)
            if st.is_terminal:
                return self.finish(st, elapsed=self.clock() - start if isinstance(job_or_id, Job) else None)
            if self.clock() >= deadline:
                raise WaitTimeout(f"job still {last} after {timeout:g}s", request_id=rid, last_status=last)

    def finish(self, st: JobStatus, elapsed: float | None = None) -> JobStatus:
        """Record a completion time and turn FAILED / ERROR into exceptions."""
        if st.status == "COMPLETED":
            seconds = st.duration_seconds if st.duration_seconds is not None else elapsed
            if seconds is not None:
                self.completions.add(seconds)
            return st
        if st.status == "FAILED":
            raise GenerationFailed(f"generation FAILED: {st.error or 'no reason given'}", error=st.error,
                                   request_id=st.request_id)
        if st.status == "ERROR":
            raise GenerationError(f"generation ERROR: {st.error or 'no reason given'}", error=st.error,
                                  request_id=st.request_id)
        return st

    def op_download(self, status: JobStatus, dest: str | Path) -> Generator[Any, Any, Path]:
        rid = status.request_id
        if not status.is_completed or status.output is None or not status.output.media_url:
            raise MediaError(f"job is {status.status}, there is no media to download", request_id=rid)
        out = status.output
        if out.media_type and not out.media_type.lower().startswith("audio/"):
            raise MediaError(f"media_type {out.media_type!r} is not audio", request_id=rid)
        if out.file_size is not None and out.file_size > self.max_download_bytes:
            raise MediaError(f"file_size {out.file_size} exceeds the limit of {self.max_download_bytes} bytes",
                             request_id=rid)
        dest = Path(dest)
        if dest.is_dir():
            dest = dest / safe_file_name(out.file_name, f"{safe_file_name(rid, 'output')}.wav")
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.{self.rng.randrange(1 << 30)}.part")
        url = out.media_url[0]
        state = RetryState()
        try:
            while True:
                try:
                    res: FetchResult = yield Fetch(url, tmp, self.max_download_bytes)
                except httpx.HTTPError as exc:
                    delay = self._retry_delay(state, None)
                    if delay is None:
                        raise ConnectionFailed(f"media download failed: {type(exc).__name__}",
                                               request_id=rid) from None
                    yield Sleep(delay)
                    continue
                if res.status_code == 429 or res.status_code >= 500:
                    delay = self._retry_delay(state, parse_retry_after(res.headers.get("retry-after")))
                    if delay is not None:
                        yield Sleep(delay)
                        continue
                break
            if res.status_code >= 400:
                raise MediaError(f"media download answered HTTP {res.status_code}", body=res.body_excerpt,
                                 request_id=rid)
            if res.size > self.max_download_bytes:
                raise MediaError(f"media exceeds the limit of {self.max_download_bytes} bytes", request_id=rid)
            ctype = (res.headers.get("content-type") or out.media_type or "").split(";")[0].strip().lower()
            if ctype and not (ctype.startswith("audio/") or ctype == "application/octet-stream"):
                raise MediaError(f"media Content-Type {ctype!r} is not audio", body=res.head, request_id=rid)
            is_wav = res.head[:4] == b"RIFF" and res.head[8:12] == b"WAVE"
            wants_wav = "wav" in ctype or "wav" in (out.media_type or "").lower() or dest.suffix.lower() == ".wav"
            if wants_wav and not is_wav:
                raise MediaError("media is not a RIFF/WAVE file", body=res.head[:64], request_id=rid)
            if res.size == 0:
                raise MediaError("media is empty", request_id=rid)
            os.replace(tmp, dest)
            log.info("downloaded %s (%d bytes) to %s", rid, res.size, dest)
            return dest
        finally:
            if tmp.exists():
                tmp.unlink()


def drive_sync(gen: Generator[Any, Any, Any], execute: Callable[[Any], Any]) -> Any:
    """Run a core operation, executing each yielded action with `execute`."""
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            action = gen.throw(error) if error is not None else gen.send(value)
        except StopIteration as stop:
            return stop.value
        value, error = None, None
        try:
            value = execute(action)
        except (httpx.HTTPError, ZonosError) as exc:
            error = exc


async def drive_async(gen: Generator[Any, Any, Any], execute: Callable[[Any], Any]) -> Any:
    """Async twin of `drive_sync`: `execute` returns an awaitable."""
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            action = gen.throw(error) if error is not None else gen.send(value)
        except StopIteration as stop:
            return stop.value
        value, error = None, None
        try:
            value = await execute(action)
        except (httpx.HTTPError, ZonosError) as exc:
            error = exc


__all__ = ["DEFAULT_BASE_URL", "Core", "Fetch", "FetchResult", "HttpCall", "RateLimited", "Secret", "Sleep",
           "drive_async", "drive_sync", "parse_retry_after", "safe_file_name"]
