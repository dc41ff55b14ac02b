"""The emulator's service model: job store, worker pool, latency, balance, rate limit, faults, stats.

No HTTP here: `zonos_lab.emulator.server` turns requests into calls on `EmulatorService`.
Jobs move QUEUED → PROCESSING → COMPLETED / FAILED / ERROR in worker threads; the speech
engine runs there too. COMPLETED and FAILED are charged `price_per_take`; ERROR is not.

Example:
    >>> cfg = EmulatorConfig(concurrency=2, balance=10)
    >>> cfg.replace(balance=5).balance
    5.0
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import math
import random
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from zonos_lab.emulator.faults import FaultInjector, FaultPlan
from zonos_lab.emulator.fetch import JobFailure, OutsideDataRoot, ReferenceLoader, host_of
from zonos_lab.errors import InvalidParameter
from zonos_lab.params import FIELD_SPECS, HOP_LENGTH, MAX_SEED, SAMPLE_RATE, GenerationParams

log = logging.getLogger("zonos_lab.emulator")

MODEL_ID = "zonos-2-emulator"
STATUSES = ("QUEUED", "PROCESSING", "COMPLETED", "FAILED", "ERROR")
TERMINAL = frozenset({"COMPLETED", "FAILED", "ERROR"})
CHARGED = frozenset({"COMPLETED", "FAILED"})
OUTPUT_FILE = "output.wav"
_PLACEHOLDER_URL = "http://emulator-data-root.invalid/reference"


@dataclass(frozen=True)
class EmulatorConfig:
    """Run-time behaviour of the emulator (all of it changeable with `Emulator.configure`).

    Attributes:
        concurrency: jobs processed at once (worker pool size).
        queue_latency: seconds a job stays QUEUED at least.
        processing_latency: seconds a job stays PROCESSING at least (None = engine time only).
        latency_per_audio_second: extra PROCESSING seconds per second of output audio.
        balance: credits in the wallet (None = unlimited); 402 when a take no longer fits.
        price_per_take: credits charged for each COMPLETED or FAILED job (ERROR is free).
        rate_limit_per_minute: accepted POSTs per sliding minute (None = no limit); 429 beyond.
        faults: a `FaultPlan` (or its spec string).
        nondeterministic: perturb every job's engine seed (emulates batch nondeterminism).
        model_id: reported in every status (always says "emulator").
        reference_timeout: seconds to fetch a reference URL.
        max_reference_bytes: largest reference file accepted.
        webhook_timeout: seconds per webhook POST.

    Example:
        >>> EmulatorConfig(faults="post_429@1").faults.schedule["post_429"]
        frozenset({1})
    """

    concurrency: int = 4
    queue_latency: float = 0.0
    processing_latency: float | None = None
    latency_per_audio_second: float = 0.0
    balance: float | None = None
    price_per_take: float = 1.0
    rate_limit_per_minute: int | None = None
    faults: FaultPlan = field(default_factory=FaultPlan)
    nondeterministic: bool = False
    model_id: str = MODEL_ID
    reference_timeout: float = 15.0
    max_reference_bytes: int = 50_000_000
    webhook_timeout: float = 5.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "faults", FaultPlan.parse(self.faults))
        if isinstance(self.concurrency, bool) or not isinstance(self.concurrency, int) or self.concurrency < 1:
            raise InvalidParameter("concurrency", self.concurrency, "an integer >= 1")
        for name in ("queue_latency", "latency_per_audio_second", "price_per_take", "reference_timeout",
                     "webhook_timeout"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not value >= 0:
                raise InvalidParameter(name, value, "a number >= 0")
            object.__setattr__(self, name, float(value))
        for name in ("processing_latency", "balance"):
            value = getattr(self, name)
            if value is None:
                continue
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not value >= 0:
                raise InvalidParameter(name, value, "a number >= 0, or None")
            object.__setattr__(self, name, float(value))
        rl = self.rate_limit_per_minute
        if rl is not None and (isinstance(rl, bool) or not isinstance(rl, int) or rl < 1):
            raise InvalidParameter("rate_limit_per_minute", rl, "an integer >= 1, or None")
        if "emulator" not in self.model_id:
            raise InvalidParameter("model_id", self.model_id, "a model id containing 'emulator'")

    def replace(self, **changes: Any) -> EmulatorConfig:
        """A copy with some settings changed (validated again); unknown names raise `InvalidParameter`."""
        known = {f.name for f in dataclasses.fields(self)}
        for name in changes:
            if name not in known:
                raise InvalidParameter(name, changes[name], "one of: " + ", ".join(sorted(known)),
                                       reason="is not an emulator setting")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready view (faults as their spec string)."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["faults"] = self.faults.to_spec()
        return d


def iso(dt: datetime | None) -> str | None:
    """Timestamp in the spec's format, e.g. ``2026-03-31T10:00:15.000Z``.

    Example:
        >>> iso(datetime(2026, 3, 31, 10, 0, 15, 1500, tzinfo=UTC))
        '2026-03-31T10:00:15.001Z'
    """
    if dt is None:
        return None
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _now() -> datetime:
    return datetime.now(UTC)


class Rejected(Exception):
    """A submission refused with an HTTP error: `status_code`, `error`, `message`, extra body fields."""

    def __init__(self, status_code: int, error: str, message: str, headers: dict[str, str] | None = None,
                 **extra: Any) -> None:
        super().__init__(f"{status_code} {error}: {message}")
        self.status_code = status_code
        self.body: dict[str, Any] = {"error": error, "message": message, **extra}
        self.headers = headers or {}


@dataclass
class Job:
    """One accepted request and everything the emulator knows about it."""

    request_id: str
    params: GenerationParams
    body: dict[str, Any]
    fingerprint: str
    base_url: str
    webhook_url: str | None
    seed: int
    engine_seed: int
    fault: str | None
    generation: int
    created_at: datetime
    eligible_at: float
    status: str = "QUEUED"
    error: str | None = None
    updated_at: datetime | None = None
    completed_at: datetime | None = None
    media_path: Path | None = None
    file_size: int | None = None
    charged: float = 0.0
    engine: str | None = None
    duration: float | None = None
    truncated: bool = False

    def to_status(self, model_id: str) -> dict[str, Any]:
        """The status object of the spec (plus the emulator's extras ``seed`` and ``engine``)."""
        output = None
        if self.status == "COMPLETED":
            output = {"media_url": [f"{self.base_url}/media/{self.request_id}/{OUTPUT_FILE}"],
                      "media_type": "audio/wav", "file_name": OUTPUT_FILE, "file_size": self.file_size}
        return {
            "request_id": self.request_id,
            "status": self.status,
            "model_id": model_id,
            "error": self.error,
            "output": output,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at or self.created_at),
            "completed_at": iso(self.completed_at),
            "seed": self.seed,
            "engine": self.engine,
        }


def _new_stats() -> dict[str, Any]:
    return {"posts": 0, "submissions": collections.Counter(), "polls": collections.Counter(),
            "media": collections.Counter(), "charges": 0.0, "charged_jobs": 0,
            "faults": collections.Counter(), "rejected": collections.Counter(),
            "webhooks": {"sent": 0, "failed": 0}, "status_gets": 0, "accepted": 0}


class EmulatorService:
    """State and workers of one emulator instance (thread-safe).

    Example:
        >>> svc = EmulatorService(api_key="k")
        >>> svc.check_key("k"), svc.check_key(None)
        (None, 401)
        >>> svc.close()
    """

    def __init__(self, config: EmulatorConfig | None = None, *, api_key: str, forbidden_keys: tuple[str, ...] = (),
                 engine: Any = None, data_root: str | Path | None = None, media_dir: str | Path | None = None
                 ) -> None:
        self.config = config or EmulatorConfig()
        self.api_key = api_key
        self.forbidden_keys = frozenset(k for k in forbidden_keys if k)
        self._engine = engine
        self._engine_lock = threading.Lock()
        self.data_root = Path(data_root).expanduser().resolve() if data_root else None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if media_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="zonos-emulator-")
            self.media_dir = Path(self._tmp.name)
        else:
            self.media_dir = Path(media_dir)
            self.media_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._jobs: dict[str, Job] = {}
        self._pending: collections.deque[Job] = collections.deque()
        self._active = 0
        self._workers: list[threading.Thread] = []
        self._closed = False
        self._stop = threading.Event()
        self._generation = 0
        self._rng = random.Random()
        self.loader = ReferenceLoader(data_root=self.data_root, timeout=self.config.reference_timeout,
                                      max_bytes=self.config.max_reference_bytes)
        self._reset_state()

    # ------------------------------------------------------------------ state
    def _reset_state(self) -> None:
        self._stats = _new_stats()
        self._balance = self.config.balance
        self._reserved = 0.0
        self._injector: FaultInjector = self.config.faults.injector()
        self._window: collections.deque[float] = collections.deque()
        self._job_count = 0
        self._offsets = {"post": 0, "job": 0, "status": 0}  # fault schedules count from the last (re)configure

    def reset(self) -> None:
        """Forget every job, counter and cached reference; balance back to the configured one; faults
        restart from event 1. Settings (`configure`) and the engine stay."""
        with self._cond:
            self._generation += 1
            self._jobs.clear()
            self._pending.clear()
            self._reset_state()
            self.loader.clear()
            self._cond.notify_all()

    def set_engine(self, engine: Any) -> None:
        """Use another speech engine for the jobs that start from now on."""
        with self._engine_lock:
            self._engine = engine

    def configure(self, **changes: Any) -> EmulatorConfig:
        """Change settings at run time (e.g. ``balance=3``, ``faults="error=0.5"``, ``concurrency=8``).

        New faults count their events (``post_429@1`` …) from this call on.
        """
        with self._cond:
            new = self.config.replace(**changes)
            self.config = new
            if "balance" in changes:
                self._balance = new.balance
                self._reserved = 0.0 if new.balance is None else self._reserved
            if "faults" in changes:
                self._injector = new.faults.injector()
                self._offsets = {"post": self._stats["posts"], "job": self._job_count,
                                 "status": self._stats["status_gets"]}
            self._ensure_workers()
            self._cond.notify_all()
            return new

    @property
    def engine_name(self) -> str | None:
        eng = self._engine
        return None if eng is None else str(getattr(eng, "name", type(eng).__name__))

    def engine(self) -> Any:
        """The speech engine (the default one is created on first use, in a worker thread)."""
        if self._engine is None:
            with self._engine_lock:
                if self._engine is None:
                    from zonos_lab.emulator.engine import default_engine  # lazy: may import piper

                    self._engine = default_engine()
        return self._engine

    # ------------------------------------------------------------------ gateway checks
    def check_key(self, key: str | None) -> int | None:
        """None when `key` may submit; 401 for a missing/wrong key, 403 for a forbidden one."""
        if key and key in self.forbidden_keys:
            return 403
        if not key or key != self.api_key:
            return 401
        return None

    def count_post(self) -> int:
        """Count one POST to the submit endpoint; returns its 1-based number."""
        with self._lock:
            self._stats["posts"] += 1
            return self._stats["posts"]

    def note_rejected(self, status_code: int) -> None:
        with self._lock:
            self._stats["rejected"][str(status_code)] += 1

    def note_fault(self, kind: str) -> None:
        with self._lock:
            self._stats["faults"][kind] += 1

    def rate_limit_wait(self) -> float | None:
        """Seconds until another POST is allowed, or None if it is allowed now (and counted)."""
        limit = self.config.rate_limit_per_minute
        if limit is None:
            return None
        now = time.monotonic()
        with self._lock:
            while self._window and now - self._window[0] >= 60.0:
                self._window.popleft()
            if len(self._window) >= limit:
                return max(0.001, 60.0 - (now - self._window[0]))
            self._window.append(now)
            return None

    def post_fault(self, n: int) -> str | None:
        kind = self._injector.on_post(n - self._offsets["post"])
        if kind:
            self.note_fault(kind)
        return kind

    def status_fault(self) -> str | None:
        with self._lock:
            self._stats["status_gets"] += 1
            n = self._stats["status_gets"]
        kind = self._injector.on_status(n - self._offsets["status"])
        if kind:
            self.note_fault(kind)
        return kind

    # ------------------------------------------------------------------ validation
    def validate(self, data: Any) -> tuple[GenerationParams, dict[str, Any]]:
        """Validate a parsed JSON body; raise `Rejected` (400, naming the field) when invalid."""
        if not isinstance(data, dict):
            raise Rejected(400, "Invalid request", f"the body must be a JSON object, got {type(data).__name__}",
                           field=None)
        body = dict(data)
        url = body.get("reference_audio_url")
        local = isinstance(url, str) and self.loader.is_local(url)
        if local:
            try:
                self.loader.local_path(url)
            except OutsideDataRoot as exc:
                raise Rejected(400, "Invalid parameter", str(exc), field="reference_audio_url",
                               allowed=self._allowed("reference_audio_url")) from None
            body["reference_audio_url"] = _PLACEHOLDER_URL
        try:
            params = GenerationParams.from_dict(body)
        except InvalidParameter as exc:
            problems = [{"field": f, "value": _jsonable(v), "problem": r, "allowed": self._allowed(f)}
                        for f, v, r in exc.problems]
            raise Rejected(400, "Invalid parameter", str(exc), field=exc.field, allowed=self._allowed(exc.field),
                           problems=problems) from None
        if local:
            params = params.model_copy(update={"reference_audio_url": url})
        return params, dict(data)

    def _allowed(self, name: str) -> str | None:
        if name == "reference_audio_url":
            extra = f", or a file:// URL / path inside {self.data_root}" if self.data_root else ""
            return f"an http:// or https:// URL of MP3, OGG, WAV, M4A, AAC or FLAC audio{extra}"
        spec = FIELD_SPECS.get(name)
        return spec.allowed() if spec else "one of: " + ", ".join(FIELD_SPECS)

    # ------------------------------------------------------------------ submission
    def accept(self, params: GenerationParams, body: dict[str, Any], *, base_url: str,
               webhook_url: str | None = None) -> Job:
        """Queue a validated request; raise `Rejected` (402) when the balance cannot pay for it."""
        price = self.config.price_per_take
        now = _now()
        with self._cond:
            if self._closed:
                raise Rejected(503, "Service Unavailable", "the emulator is shutting down")
            if self._balance is not None and self._balance - self._reserved < price - 1e-9:
                raise Rejected(402, "Insufficient Balance", "Your wallet does not have enough balance.")
            self._job_count += 1
            fault = self._injector.on_job(self._job_count - self._offsets["job"])
            if fault:
                self._stats["faults"][fault] += 1
            seed = params.seed if params.seed is not None else self._rng.randrange(MAX_SEED + 1)
            engine_seed = seed
            if self.config.nondeterministic:
                engine_seed = (seed + self._rng.randrange(1, MAX_SEED)) % (MAX_SEED + 1)
            job = Job(request_id=f"zonos-2_{uuid.uuid4()}", params=params, body=body,
                      fingerprint=params.fingerprint(), base_url=base_url.rstrip("/"), webhook_url=webhook_url,
                      seed=seed, engine_seed=engine_seed, fault=fault, generation=self._generation,
                      created_at=now, eligible_at=time.monotonic() + self.config.queue_latency,
                      engine=self.engine_name)
            if self._balance is not None:
                self._reserved += price
            self._jobs[job.request_id] = job
            self._stats["submissions"][job.fingerprint] += 1
            self._stats["accepted"] += 1
            self._pending.append(job)
            self._ensure_workers()
            self._cond.notify_all()
        log.info("accepted %s (fault=%s)", job.request_id, fault)
        return job

    # ------------------------------------------------------------------ queries
    def get_status(self, request_id: str) -> dict[str, Any] | None:
        """The status object of a job (counting the poll), or None for an unknown id."""
        with self._lock:
            job = self._jobs.get(request_id)
            if job is None:
                return None
            self._stats["polls"][request_id] += 1
            return job.to_status(self.config.model_id)

    def media_path(self, request_id: str, file_name: str) -> Path | None:
        """The output file of a COMPLETED job (counting the download), or None."""
        with self._lock:
            job = self._jobs.get(request_id)
            if job is None or job.status != "COMPLETED" or file_name != OUTPUT_FILE or job.media_path is None:
                return None
            self._stats["media"][request_id] += 1
            return job.media_path

    def stats(self) -> dict[str, Any]:
        """Counters for tests: posts, submissions per fingerprint, polls per job, charges, faults, …"""
        with self._lock:
            s = self._stats
            jobs = collections.Counter(j.status for j in self._jobs.values())
            return {
                "emulator": True,
                "model_id": self.config.model_id,
                "engine": self.engine_name,
                "posts": s["posts"],
                "accepted": s["accepted"],
                "submissions": dict(s["submissions"]),
                "polls": dict(s["polls"]),
                "media": dict(s["media"]),
                "charges": round(s["charges"], 9),
                "charged_jobs": s["charged_jobs"],
                "balance": None if self._balance is None else round(self._balance, 9),
                "reserved": round(self._reserved, 9),
                "jobs": {k: jobs.get(k, 0) for k in STATUSES},
                "faults": dict(s["faults"]),
                "rejected": dict(s["rejected"]),
                "webhooks": dict(s["webhooks"]),
                "queue": len(self._pending),
                "references_cached": self.loader.cached,
                "active": self._active,
                "config": self.config.to_dict(),
            }

    # ------------------------------------------------------------------ workers
    def _ensure_workers(self) -> None:
        while len(self._workers) < self.config.concurrency and not self._closed:
            t = threading.Thread(target=self._worker, name=f"zonos-emulator-worker-{len(self._workers)}",
                                 daemon=True)
            self._workers.append(t)
            t.start()

    def _next_job(self) -> Job | None:
        with self._cond:
            while not self._closed:
                if self._pending and self._active < self.config.concurrency:
                    job = self._pending[0]
                    wait = job.eligible_at - time.monotonic()
                    if wait <= 0:
                        self._pending.popleft()
                        self._active += 1
                        return job
                    self._cond.wait(min(wait, 1.0))
                else:
                    self._cond.wait(1.0)
            return None

    def _worker(self) -> None:
        while True:
            job = self._next_job()
            if job is None:
                return
            try:
                self._run_job(job)
            except Exception:  # never let a worker die silently
                log.exception("emulator worker crashed on %s", job.request_id)
                self._finish(job, "ERROR", "internal emulator error (see the emulator log)")
            finally:
                with self._cond:
                    self._active -= 1
                    self._cond.notify_all()
            self._send_webhook(job)

    def _set(self, job: Job, status: str, error: str | None = None) -> None:
        with self._lock:
            job.status = status
            job.error = error
            job.updated_at = _now()

    def _finish(self, job: Job, status: str, error: str | None = None) -> None:
        price = self.config.price_per_take
        with self._lock:
            if job.status in TERMINAL:
                return
            now = _now()
            job.status, job.error, job.updated_at, job.completed_at = status, error, now, now
            current = job.generation == self._generation
            if self._balance is not None and current:
                self._reserved = max(0.0, self._reserved - price)
            if status in CHARGED:
                job.charged = price
                if current:
                    self._stats["charges"] += price
                    self._stats["charged_jobs"] += 1
                    if self._balance is not None:
                        self._balance -= price
        log.info("%s %s%s", job.request_id, status, f": {error}" if error else "")

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._stop.wait(seconds)

    def _run_job(self, job: Job) -> None:
        start = time.monotonic()
        self._set(job, "PROCESSING")
        try:
            if job.fault == "error":
                self._sleep(min(0.05, self.config.processing_latency or 0.0))
                raise JobFailure("ERROR", "emulated fault: internal system error while generating (not charged)")
            if job.fault == "failed":
                self._sleep(min(0.05, self.config.processing_latency or 0.0))
                raise JobFailure("FAILED", "emulated fault: the model failed to generate audio for this request")
            ref, sr = self.loader.load(job.params.reference_audio_url)
            audio, sr_out, meta = self._synthesize(job, ref, sr)
            duration = len(audio) / float(sr_out)
            target = (self.config.processing_latency or 0.0) + self.config.latency_per_audio_second * duration
            self._sleep(target - (time.monotonic() - start))
            if self._closed:
                raise JobFailure("ERROR", "the emulator was stopped while the job was processing")
            path = self._write(job, audio, sr_out, meta)
            with self._lock:
                job.media_path, job.file_size, job.duration = path, path.stat().st_size, duration
                job.truncated = bool(meta.get("truncated"))
            self._finish(job, "COMPLETED")
        except JobFailure as exc:
            self._finish(job, exc.status, exc.error)

    # ------------------------------------------------------------------ engine and output
    def _synthesize(self, job: Job, ref: np.ndarray, sr: int) -> tuple[np.ndarray, int, dict[str, Any]]:
        try:
            engine = self.engine()
            with self._lock:
                job.engine = self.engine_name
            out = engine.synthesize(job.params, ref, sr, job.engine_seed)
        except Exception as exc:
            log.exception("engine failed on %s", job.request_id)
            raise JobFailure("ERROR", f"speech engine error (not charged): {type(exc).__name__}: {exc}") from None
        audio = np.asarray(out.audio, dtype=np.float32).reshape(-1)
        sr_out = int(getattr(out, "sample_rate", SAMPLE_RATE) or SAMPLE_RATE)
        truncated = bool(getattr(out, "truncated", False))
        if job.params.max_tokens is not None:  # the spec's hard limit, whatever the engine did
            limit = math.floor(job.params.max_tokens * HOP_LENGTH * sr_out / SAMPLE_RATE)
            if audio.size > limit:
                audio, truncated = audio[:limit], True
        if audio.size == 0 or not np.isfinite(audio).all():
            raise JobFailure("ERROR", "speech engine returned no usable audio (not charged)")
        info = getattr(out, "info", None) or {}
        meta = {"truncated": truncated, "engine_info": _jsonable(info)}
        return audio, sr_out, meta

    def _write(self, job: Job, audio: np.ndarray, sr: int, meta: dict[str, Any]) -> Path:
        from zonos_lab.audio import write_wav_atomic

        metadata = {
            "software": self.config.model_id,
            "generator": self.config.model_id,
            "emulator": True,
            "engine": self.engine_name,
            "seed": job.seed,
            "engine_seed": job.engine_seed,
            "nondeterministic": job.engine_seed != job.seed,
            "request_id": job.request_id,
            "request": job.body,
            "truncated": meta["truncated"],
            "engine_info": meta["engine_info"],
        }
        path = self.media_dir / job.request_id / OUTPUT_FILE
        return write_wav_atomic(path, audio, sr, metadata)

    # ------------------------------------------------------------------ webhooks
    def _send_webhook(self, job: Job) -> None:
        if not job.webhook_url or job.status not in TERMINAL or self._closed:
            return
        payload = job.to_status(self.config.model_id)
        client = self._webhook_client()
        for attempt in range(2):
            try:
                resp = client.post(job.webhook_url, json=payload, timeout=self.config.webhook_timeout)
                if resp.status_code < 400:
                    with self._lock:
                        self._stats["webhooks"]["sent"] += 1
                    return
                problem = f"HTTP {resp.status_code}"
            except Exception as exc:  # the receiver's problem, never the worker's
                problem = f"{type(exc).__name__}: {exc}"
            if attempt == 0:
                self._sleep(0.2)
        with self._lock:
            self._stats["webhooks"]["failed"] += 1
        log.warning("webhook for %s to %s failed: %s", job.request_id, host_of(job.webhook_url), problem)

    def _webhook_client(self) -> Any:
        """One pooled httpx client for every callback (a new client per POST costs 0.2–0.5 s of set-up)."""
        with self._lock:
            client = getattr(self, "_webhooks_http", None)
            if client is None:
                import httpx

                client = httpx.Client(timeout=self.config.webhook_timeout)
                self._webhooks_http = client
            return client

    # ------------------------------------------------------------------ shutdown
    def close(self, timeout: float = 5.0) -> None:
        """Stop the workers (running engine calls finish in the background) and delete the media."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._stop.set()
            self._cond.notify_all()
        deadline = time.monotonic() + timeout
        for t in self._workers:
            t.join(max(0.0, deadline - time.monotonic()))
        self.loader.close()
        webhooks_http = getattr(self, "_webhooks_http", None)
        if webhooks_http is not None:
            webhooks_http.close()
        if self._tmp is not None:
            if any(t.is_alive() for t in self._workers):  # a worker may still write: leave it to the finaliser
                return
            self._tmp.cleanup()


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist() if value.size <= 64 else f"<array {value.shape}>"
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return repr(value)


__all__ = ["CHARGED", "MODEL_ID", "EmulatorConfig", "EmulatorService", "Job", "JobFailure", "Rejected", "iso"]
