"""`Sweep`: run a `SweepSpec` against the API (or the emulator) — concurrent, rate-aware, resumable.

The core is asyncio (`Sweep.arun`). `Sweep.run()` works in a plain script and inside Jupyter: when an
event loop is already running, the sweep runs its own loop in a dedicated thread (no ``nest_asyncio``).
`Sweep.start()` runs it in the background (`cancel()`, `wait()`, `done`).

Guarantees (see `zonos_lab.sweep.journal`): a take is journaled before its POST and its request id the
moment the 202 arrives; on resume completed takes are skipped, submitted ones are polled, uncertain ones
are flagged (never paid twice), and only never-sent takes are submitted. Audio files are written
atomically to ``RUN_DIR/audio/<take_id>.wav``.

Example:
    >>> from zonos_lab.sweep import Sweep
    >>> spec = {"name": "demo", "parameters": {"temperature": {"values": [0.8, 1.2]}},
    ...         "mode": ["accurate", "expressive"], "seeds": 2, "texts": ["Hello there."],
    ...         "references": ["data/voices/AmericanFemale.mp3"], "fixed": {"max_tokens": 430}}
    >>> df = Sweep(spec, "runs/demo").run()                       # doctest: +SKIP
    >>> df.groupby("mode", observed=True).duration.mean()          # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import shutil
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pandas as pd

from zonos_lab.errors import (
    ApiError,
    BadRequest,
    ConnectionFailed,
    Forbidden,
    GenerationError,
    GenerationFailed,
    InsufficientBalance,
    InvalidParameter,
    NotFound,
    ProtocolError,
    RateLimited,
    ServerError,
    SubmissionUncertain,
    Unauthorized,
    WaitTimeout,
    ZonosError,
)
from zonos_lab.sweep.journal import Journal
from zonos_lab.sweep.ratelimit import ObservedTransport, RateLimiter, media_transport, shared_ssl_context
from zonos_lab.sweep.results import (
    normalize_results,
    read_results,
    results_frame,
    rows_to_takes,
    write_results,
)
from zonos_lab.sweep.rundir import MANIFEST_FORMAT, environment, now_iso, read_manifest, write_manifest
from zonos_lab.sweep.spec import SweepSpec, Trial, is_url

__all__ = ["COMPLETIONS", "Sweep", "SweepPollPolicy"]

log = logging.getLogger("zonos_lab.sweep")

COMPLETIONS = ("poll", "webhook")
MAX_SUBMIT_ATTEMPTS = 8
#: statuses that count as "failed" on the progress bar
_FAILED = ("FAILED", "ERROR", "UNCERTAIN")


class SweepPollPolicy:
    """Latency-aware polling for sweeps.

    Once completion times have been observed, the first poll lands just after their median and later ones
    follow in short growing steps (≈ 1 status request per take). Before that (the first wave), polls start
    at `default_first` and then come every `unknown_step` seconds, growing ×1.25, so the first wave is not
    overshot by a long back-off.

    Example:
        >>> p = SweepPollPolicy(default_first=0.25, unknown_step=0.1)
        >>> round(p.delay(0, 0.5), 3), round(p.delay(1, 0.5), 3), p.delay(0, None), p.delay(1, None)
        (0.52, 0.05, 0.25, 0.1)
    """

    def __init__(self, *, default_first: float = 5.0, unknown_step: float | None = None, max_delay: float = 10.0,
                 margin: float = 0.02, step: float = 0.1) -> None:
        self.default_first = default_first
        self.unknown_step = unknown_step if unknown_step is not None else default_first / 2
        self.max_delay = max_delay
        self.margin = margin
        self.step = step

    def delay(self, attempt: int, median_completion: float | None) -> float:
        if median_completion is None:
            if attempt == 0:
                return min(self.max_delay, self.default_first)
            return min(self.max_delay, self.unknown_step * 1.25 ** (attempt - 1))
        if attempt == 0:
            return min(self.max_delay, max(0.02, median_completion * (1 + self.margin) + 0.01))
        return min(self.max_delay, max(0.02, self.step * median_completion) * 1.6 ** (attempt - 1))

    def __repr__(self) -> str:
        return f"SweepPollPolicy(default_first={self.default_first}, max_delay={self.max_delay})"


class PollSchedule:
    """The sweep's status-poll schedule, informed by the statuses themselves (≈ 1 request per take).

    It learns the total times (created → completed) and the median processing time (PROCESSING →
    completed) of finished jobs. A fresh job is first polled once the `first_quantile` (0.6) of the total
    times has passed: when jobs queue at the server their totals spread out, and polling at a high quantile
    avoids a second request for most of them, while with no queue the totals are tight and it is ≈ the
    median. Then:
    a job still QUEUED needs at least one processing time more; a job PROCESSING since ``updated_at``
    is polled when the median processing time since then has passed. Before anything finished (the
    first wave) it polls at `unknown_first`, then after max(`unknown_step`, half the time elapsed since the job
    was created), so long jobs cost few requests. Never above `max_delay`.

    Example:
        >>> s = PollSchedule(unknown_first=0.25)
        >>> s.first(), round(s.next(None, 1), 3)
        (0.25, 0.1)
    """

    def __init__(self, *, unknown_first: float = 5.0, unknown_step: float | None = None, max_delay: float = 10.0,
                 margin: float = 0.02, first_quantile: float = 0.6, window: int = 16) -> None:
        from zonos_lab.client.policy import CompletionStats

        self.first_quantile = first_quantile
        self.unknown_first = unknown_first
        self.unknown_step = unknown_step if unknown_step is not None else min(unknown_first, 2.5) * 0.4
        self.max_delay = max_delay
        self.margin = margin
        # a short window of recent jobs, so a slow (cold) start does not linger in the estimates
        self.totals = CompletionStats(window=window)
        self.procs = CompletionStats(window=window)
        self._started: dict[str, datetime] = {}

    def _clip(self, x: float) -> float:
        return max(0.02, min(self.max_delay, x))

    def first(self) -> float:
        """Delay before a fresh job's first poll."""
        values = sorted(self.totals._values)
        if not values:
            return self._clip(self.unknown_first)
        q = values[min(len(values) - 1, int(self.first_quantile * len(values)))]
        return self._clip(q * (1 + self.margin) + 0.01)

    def next(self, st: Any, attempt: int) -> float:
        """Delay before the next poll, after status `st` (poll number `attempt`, from 1)."""
        total, proc = self.totals.median, self.procs.median
        if proc is None:
            proc = total
        if st is None or proc is None:  # nothing finished yet: back off in proportion to the time elapsed
            elapsed = 0.0
            if st is not None and st.created_at is not None:
                elapsed = max(0.0, (datetime.now(UTC) - st.created_at).total_seconds())
            return self._clip(max(self.unknown_step, 0.5 * elapsed))
        if st.status == "PROCESSING" and st.updated_at is not None:
            self._started.setdefault(st.request_id, st.updated_at)
            running = (datetime.now(UTC) - st.updated_at).total_seconds()
            left = proc - running if 0 <= running <= 10 * proc + 60 else proc * 0.2
            return self._clip(max(left, 0.1 * proc * 1.5 ** max(0, attempt - 2)) * (1 + self.margin) + 0.01)
        if st.status == "QUEUED":
            return self._clip(proc * (1 + self.margin) + 0.01)
        return self._clip(0.1 * proc * 1.5 ** max(0, attempt - 1))

    def observe(self, st: Any) -> None:
        """Learn from a terminal status (its server-side timings)."""
        started = self._started.pop(st.request_id, None)
        if st.status != "COMPLETED" or st.completed_at is None:
            return
        if st.created_at is not None:
            self.totals.add((st.completed_at - st.created_at).total_seconds())
        if started is not None:
            self.procs.add((st.completed_at - started).total_seconds())


def _is_loopback(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _probe_emulator(base_url: str) -> dict[str, Any] | None:
    """The emulator's stats when `base_url` is an emulator on loopback (None otherwise).

    Uses the stdlib (no TLS set-up) and sends no key: the stats endpoint is the emulator's own.
    """
    if not _is_loopback(base_url):
        return None
    import json
    import urllib.error
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never via a proxy
    try:
        with opener.open(base_url.rstrip("/") + "/_emulator/stats", timeout=3.0) as r:
            data = json.loads(r.read()) if r.status == 200 else None
    except (OSError, ValueError, urllib.error.URLError):
        return None
    return data if isinstance(data, dict) and "posts" in data else None


@dataclass
class _Connection:
    """Where and how a run talks to the service (the key never leaves this object)."""

    base_url: str
    backend: str
    api_key: str | None = field(default=None, repr=False)
    emulator: Any = None           # an Emulator this sweep started (stopped at the end)
    ref_server: Any = None         # a ReferenceServer for local files
    own_ref_server: bool = False
    model_id: str | None = None
    async_client: Any = None       # a user-provided AsyncZonosClient


class Sweep:
    """A sweep run: a spec, a run directory, and a backend.

    Args:
        spec: a `SweepSpec`, a dict, or a path to a TOML / YAML / JSON spec.
        run_dir: the run directory (default ``runs/<name>-<timestamp>``). Re-running the same spec in the
            same directory resumes it.
        lab: a `zonos_lab.Lab` (its backend, key and reference server are used).
        client: a `ZonosClient` (its key and base URL are used) or an `AsyncZonosClient` (used as is).
        api_key, base_url: otherwise, like `ZonosClient` (env vars; neither → an in-process emulator).
        concurrency: takes in flight at once (submitted and not finished).
        requests_per_minute: pace every API request (submits and polls) to this rate.
        take_timeout: seconds to wait for one take after its submission (it keeps its request id).
        max_takes, max_cost: budget for what *this run* submits (max_cost needs a price per take).
        price_per_take: your price per request, for the cost cap and the report.
        completion: ``"poll"`` or ``"webhook"`` (a local `WebhookReceiver`; resumed takes are polled).
        progress: show a tqdm bar (``False`` silences it).
        resubmit_uncertain: on resume, send takes whose POST outcome is unknown again (may pay twice).
        retry_errors: on resume, resubmit takes that ended ERROR (not charged).
        poll_policy: a `PollPolicy` (default `SweepPollPolicy`).
        reproduces: the run directory this run reproduces (recorded in the manifest).

    Example:
        >>> sw = Sweep({"references": ["https://x.org/a.wav"], "seeds": 3}, "runs/x", progress=False)
        >>> len(sw.trials), sw.results.status.tolist()
        (3, ['PLANNED', 'PLANNED', 'PLANNED'])
    """

    def __init__(self, spec: SweepSpec | Mapping[str, Any] | str | Path, run_dir: str | Path | None = None, *,
                 lab: Any = None, client: Any = None, api_key: str | None = None, base_url: str | None = None,
                 concurrency: int = 4, requests_per_minute: float | None = None, take_timeout: float = 600,
                 max_takes: int | None = None, max_cost: float | None = None,
                 price_per_take: float | None = None, completion: str = "poll", progress: bool = True,
                 resubmit_uncertain: bool = False, retry_errors: bool = False, poll_policy: Any = None,
                 reproduces: str | Path | None = None) -> None:
        self.spec = SweepSpec.coerce(spec)
        self.trials: list[Trial] = self.spec.expand()
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise InvalidParameter("concurrency", concurrency, "an integer ≥ 1")
        if requests_per_minute is not None and (isinstance(requests_per_minute, bool)
                                                or not isinstance(requests_per_minute, (int, float))
                                                or requests_per_minute <= 0):
            raise InvalidParameter("requests_per_minute", requests_per_minute, "a number > 0, or None")
        if not isinstance(take_timeout, (int, float)) or take_timeout <= 0:
            raise InvalidParameter("take_timeout", take_timeout, "seconds > 0")
        if max_takes is not None and (isinstance(max_takes, bool) or not isinstance(max_takes, int) or max_takes < 0):
            raise InvalidParameter("max_takes", max_takes, "an integer ≥ 0, or None")
        if completion not in COMPLETIONS:
            raise InvalidParameter("completion", completion, "'poll', 'webhook'")
        price = price_per_take if price_per_take is not None else self.spec.price_per_take
        if price is not None and (isinstance(price, bool) or not isinstance(price, (int, float)) or price < 0):
            raise InvalidParameter("price_per_take", price, "a number ≥ 0")
        if max_cost is not None:
            if isinstance(max_cost, bool) or not isinstance(max_cost, (int, float)) or max_cost < 0:
                raise InvalidParameter("max_cost", max_cost, "a number ≥ 0")
            if price is None:
                raise InvalidParameter("price_per_take", None, "a number ≥ 0",
                                       "max_cost needs a price per take (price_per_take= or in the spec)")
        self.run_dir = Path(run_dir) if run_dir is not None else Path("runs") / (
            f"{_slug(self.spec.name)}-{datetime.now().strftime('%Y%m%d-%H%M%S')}")
        self.lab = lab
        self.client = client
        self._api_key = api_key
        self._base_url = base_url
        self.concurrency = concurrency
        self.requests_per_minute = requests_per_minute
        self.take_timeout = float(take_timeout)
        self.max_takes = max_takes
        self.max_cost = max_cost
        self.price_per_take = None if price is None else float(price)
        self.completion = completion
        self.progress = progress
        self.resubmit_uncertain = resubmit_uncertain
        self.retry_errors = retry_errors
        self.poll_policy = poll_policy
        self.reproduces = str(reproduces) if reproduces is not None else None
        self.backend: str | None = None
        self.endpoint: str | None = None
        self.model_id: str | None = None
        self.stopped_reason: str | None = None
        self.manifest: dict[str, Any] | None = None
        self.request_counts: dict[str, int] = {}
        self.wall_seconds: float | None = None
        self.retries = 0
        self._by_id = {t.take_id: t for t in self.trials}
        self._results: pd.DataFrame | None = None
        self._journal: Journal | None = None
        self._running = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._thread_error: BaseException | None = None
        self._cancel_requested = False
        self._halted = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._posts: set[asyncio.Task[Any]] = set()
        self._state_lock = threading.Lock()

    # ================================================================== public API
    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def done(self) -> bool:
        """False while the sweep is running (in the foreground or the background)."""
        return not self._running and not (self._thread is not None and self._thread.is_alive())

    @property
    def results(self) -> pd.DataFrame:
        """One row per take (RESULT_COLUMNS, then extra coordinates such as ``repeat``)."""
        if self._journal is not None:
            return self._frame_from_journal(self._journal)
        if self._results is not None:
            return self._results
        if (self.run_dir / "journal.sqlite").exists():
            j = Journal(self.run_dir / "journal.sqlite")
            try:
                return self._frame_from_journal(j)
            finally:
                j.close()
        return self._planned_frame()

    def takes(self) -> list[Any]:
        """The results as `Take` objects."""
        from zonos_lab.take import Take

        return [Take.from_row(r) for _, r in self.results.iterrows()]

    def dry_run(self) -> Any:
        """`SweepSpec.dry_run` with this sweep's price."""
        return self.spec.dry_run(price_per_take=self.price_per_take)

    def counts(self) -> dict[str, int]:
        """Takes per status."""
        return dict(Counter(self.results["status"].astype(str)))

    def run(self) -> pd.DataFrame:
        """Run (or resume) the sweep and return its results; blocks until done.

        Works inside Jupyter: with an event loop already running, the sweep's loop runs in a thread.
        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.arun())
        box: dict[str, Any] = {}

        def target() -> None:
            try:
                box["value"] = asyncio.run(self.arun())
            except BaseException as exc:  # handed to the caller below
                box["error"] = exc

        t = threading.Thread(target=target, name=f"zonos-sweep-{self.spec.name}", daemon=True)
        t.start()
        try:
            while t.is_alive():
                t.join(0.1)
        except KeyboardInterrupt:
            self.cancel()
            t.join()
            raise
        if "error" in box:
            raise box["error"]
        return box["value"]

    def start(self) -> Sweep:
        """Run in a background thread (for widgets); see `cancel`, `wait`, `done`."""
        if not self.done:
            raise RuntimeError("this sweep is already running")
        self._thread_error = None

        def target() -> None:
            try:
                asyncio.run(self.arun())
            except BaseException as exc:
                self._thread_error = exc
                log.error("background sweep %s failed: %s", self.spec.name, exc)

        self._thread = threading.Thread(target=target, name=f"zonos-sweep-{self.spec.name}", daemon=True)
        self._thread.start()
        return self

    def wait(self, timeout: float | None = None) -> pd.DataFrame:
        """Wait for a background run (`start`) and return its results (re-raising its error)."""
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise WaitTimeout(f"sweep {self.spec.name!r} still running after {timeout}s")
        if self._thread_error is not None:
            raise self._thread_error
        return self.results

    def cancel(self) -> None:
        """Stop submitting; takes already submitted keep their request ids (resume polls them)."""
        self._cancel_requested = True
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._cancel_tasks)

    @classmethod
    def resume(cls, run_dir: str | Path, *, run: bool = True, **kwargs: Any) -> Sweep:
        """Continue an interrupted run from its directory (spec and options from the manifest).

        Completed takes are skipped, submitted ones polled, uncertain ones flagged, never-sent ones submitted.
        With ``run=False`` the sweep is only prepared.
        """
        from zonos_lab.sweep.rundir import load_run

        kwargs.setdefault("progress", True)
        sweep = load_run(run_dir, **kwargs)
        if run:
            sweep.run()
        return sweep

    def report(self, **kwargs: Any) -> Path:
        """Write ``report.html`` for this run (see `zonos_lab.report.write_report`)."""
        from zonos_lab.report import write_report

        return write_report(self.run_dir, **kwargs)

    def summary(self) -> str:
        """One line: takes per status, wall time, run directory."""
        counts = self.counts()
        n = sum(counts.values())
        order = ["COMPLETED", "FAILED", "ERROR", "UNCERTAIN", "QUEUED", "PROCESSING", "SUBMITTING", "PLANNED",
                 "SKIPPED", "CANCELLED"]
        parts = [f"{counts[s]} {s.lower()}" for s in order if counts.get(s)]
        text = f"sweep {self.spec.name!r}: {n} takes — " + ", ".join(parts or ["nothing"])
        if self.wall_seconds is not None:
            text += f" — {self.wall_seconds:.1f} s"
        if self.stopped_reason:
            text += f" — stopped: {self.stopped_reason}"
        return text + f" — {self.run_dir}"

    def __repr__(self) -> str:
        return (f"Sweep(name={self.spec.name!r}, takes={len(self.trials)}, run_dir={str(self.run_dir)!r}, "
                f"backend={self.backend!r})")

    def _repr_html_(self) -> str:
        try:
            from zonos_lab.notebook.display import sweep_html
        except ImportError:
            sweep_html = None
        if sweep_html is not None:
            return sweep_html(self)
        import html

        rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{v}</td></tr>" for k, v in sorted(self.counts().items()))
        badge = " <b>[emulator]</b>" if self.backend == "emulator" else ""
        return (f"<div><b>{html.escape(self.spec.name)}</b>{badge} — {html.escape(str(self.run_dir))}"
                f"<table><tr><th>status</th><th>takes</th></tr>{rows}</table></div>")

    # ================================================================== frames
    def _planned_frame(self) -> pd.DataFrame:
        from zonos_lab.take import Take

        takes = []
        for t in self.trials:
            extra = {k: v for k, v in t.coords.items() if k == "repeat"}
            takes.append(Take(params=t.params, take_id=t.take_id, reference=t.reference, status="PLANNED",
                              backend=self.backend or "emulator", metrics=extra))
        return results_frame(takes)

    def _frame_from_journal(self, journal: Journal) -> pd.DataFrame:
        rows = [r for r in journal.rows() if r["take_id"] in self._by_id]
        order = {t.take_id: i for i, t in enumerate(self.trials)}
        rows.sort(key=lambda r: order[r["take_id"]])
        seen = {r["take_id"] for r in rows}
        df = results_frame(rows_to_takes(rows, self.run_dir.resolve(), self.backend))
        if len(seen) < len(self.trials):  # trials never journaled (run not started)
            missing = self._planned_frame()
            missing = missing[~missing["take_id"].isin(seen)]
            df = normalize_results(pd.concat([df, missing], ignore_index=True))
        return df

    def _load_saved_results(self) -> None:
        try:
            df = read_results(self.run_dir)
        except FileNotFoundError:
            return
        self._results = df

    # ================================================================== connection
    def _connect(self) -> _Connection:
        """Resolve backend, endpoint and key (may start an in-process emulator). Blocking."""
        from zonos_lab.client import AsyncZonosClient, ZonosClient

        c = self.client
        if c is not None and isinstance(c, AsyncZonosClient):
            conn = _Connection(base_url=c.base_url, backend=c.backend, async_client=c)
        elif c is not None and isinstance(c, ZonosClient):
            conn = _Connection(base_url=c.base_url, backend=c.backend, api_key=c._core.key.get())
        elif c is not None:
            raise InvalidParameter("client", type(c).__name__, "a ZonosClient or an AsyncZonosClient")
        elif self.lab is not None:
            conn = _Connection(base_url=self.lab.base_url, backend=self.lab.backend, api_key=self.lab._api_key,
                               ref_server=self.lab._reference_server_if_local())
        else:
            key = self._api_key or os.environ.get("PIXAZO_API_KEY") or None
            url = self._base_url or os.environ.get("PIXAZO_BASE_URL") or None
            if key or url:
                from zonos_lab.client._core import DEFAULT_BASE_URL

                conn = _Connection(base_url=(url or DEFAULT_BASE_URL).rstrip("/"), backend="cloud", api_key=key)
            else:
                from zonos_lab.emulator import Emulator

                emu = Emulator().start()
                log.warning("no PIXAZO_API_KEY set — sweep %r runs on the offline Zonos 2 *emulator* at %s",
                            self.spec.name, emu.base_url)
                conn = _Connection(base_url=emu.base_url, backend="emulator", api_key=emu.api_key, emulator=emu)
        return conn

    @staticmethod
    def _probe(conn: _Connection) -> None:
        """Recognise an emulator behind a loopback URL (it labels the run as emulated). Blocking."""
        if conn.backend != "emulator":
            stats = _probe_emulator(conn.base_url)
            if stats is not None:
                conn.backend = "emulator"
                conn.model_id = stats.get("model_id")
        if conn.backend == "emulator" and conn.model_id is None:
            conn.model_id = "zonos-2-emulator"

    def _resolve_references(self, conn: _Connection) -> dict[str, dict[str, Any]]:
        """Each distinct reference → url, local path, sha256, duration, run-dir copy. Blocking.

        Local files are served on loopback when the endpoint is local (the emulator); for a remote
        endpoint a local path is an error naming the field.
        """
        from zonos_lab.references import default_server, resolve_reference

        recorded = (self.manifest or {}).get("references") or {}
        out: dict[str, dict[str, Any]] = {}
        for ref in dict.fromkeys(t.reference for t in self.trials):
            if is_url(ref):
                out[ref] = {"url": ref, "local_path": None, "sha256": None, "duration": None, "copy": None}
                continue
            if not _is_loopback(conn.base_url):
                raise InvalidParameter(
                    "references", ref, "an http(s) URL the cloud service can fetch",
                    f"{ref!r} is a local file, and {conn.base_url} cannot read files on this computer: upload it "
                    "(any public https storage) and put its URL in `references`")
            path = Path(self.spec.resolve_reference_path(ref))
            if not path.is_file():
                info = recorded.get(ref) or {}
                for cand in (info.get("local_path"), info.get("copy") and str(self.run_dir / info["copy"])):
                    if cand and Path(cand).is_file():
                        path = Path(cand)
                        break
            if conn.ref_server is None:  # the process-wide loopback server (kept for later runs)
                conn.ref_server = default_server()
            try:
                res = resolve_reference(path, server=conn.ref_server)
            except InvalidParameter as exc:
                raise InvalidParameter("references", ref, exc.allowed,
                                       f"{exc.problems[0][2] if exc.problems else exc}") from None
            copy_rel = None
            if res.sha256:
                copy_rel = f"references/{res.sha256[:12]}-{path.name}"
                dest = self.run_dir / copy_rel
                if not dest.exists():
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    tmp = dest.with_name(f".{dest.name}.part")
                    shutil.copyfile(path, tmp)
                    os.replace(tmp, dest)
            out[ref] = {"url": res.url, "local_path": str(res.local_path) if res.local_path else None,
                        "sha256": res.sha256, "duration": res.duration, "copy": copy_rel}
        return out

    # ================================================================== manifest
    def _manifest(self, *, created_at: str, finished_at: str | None, refs: dict[str, dict[str, Any]],
                  journal: Journal) -> dict[str, Any]:
        from zonos_lab import __version__

        requests = {r["take_id"]: r["request"] for r in journal.rows()}
        import json

        trials = [{"take_id": t.take_id, "coords": t.coords, "reference": t.reference,
                   "request": json.loads(requests[t.take_id]) if t.take_id in requests else t.request()}
                  for t in self.trials]
        counts = dict(Counter(r["status"] for r in journal.rows() if r["take_id"] in self._by_id))
        return {
            "format": MANIFEST_FORMAT,
            "zonos_lab_version": __version__,
            "name": self.spec.name,
            "description": self.spec.description,
            "created_at": created_at,
            "finished_at": finished_at,
            "spec": self.spec.raw,
            "spec_resolved": self.spec.to_dict(),
            "trials": trials,
            "backend": self.backend,
            "endpoint": self.endpoint,
            "emulator": self.backend == "emulator",
            "model_id": self.model_id,
            "references": {ref: {k: info[k] for k in ("sha256", "duration", "local_path", "copy")}
                           for ref, info in refs.items()},
            "environment": environment(),
            "price_per_take": self.price_per_take,
            "counts": counts,
            "stopped_reason": self.stopped_reason,
            "wall_seconds": self.wall_seconds,
            "requests": dict(self.request_counts),
            "options": {"concurrency": self.concurrency, "requests_per_minute": self.requests_per_minute,
                        "take_timeout": self.take_timeout, "max_takes": self.max_takes, "max_cost": self.max_cost,
                        "completion": self.completion},
            "reproduces": self.reproduces,
        }

    # ================================================================== the run
    async def arun(self) -> pd.DataFrame:
        """Run (or resume) the sweep on the current event loop; returns the results DataFrame."""
        with self._state_lock:
            if self._running:
                raise RuntimeError(f"sweep {self.spec.name!r} is already running")
            self._running = True
        self._loop = asyncio.get_running_loop()
        self.stopped_reason = None
        self._halted = False
        self.retries = 0
        if self._cancel_requested:  # cancelled before it started
            self._cancel_requested = False
        t0 = time.monotonic()
        conn: _Connection | None = None
        journal: Journal | None = None
        client: Any = None
        transport: ObservedTransport | None = None
        receiver: Any = None
        bar: Any = None
        refs: dict[str, dict[str, Any]] = {}
        created_at = now_iso()
        lock: _RunDirLock | None = None
        planned = False
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            lock = _RunDirLock(self.run_dir)
            (self.run_dir / "audio").mkdir(exist_ok=True)
            journal = Journal(self.run_dir / "journal.sqlite")
            self._check_same_spec(journal)
            created_at = journal.get_meta("created_at") or created_at
            journal.set_meta("created_at", created_at)
            conn = await asyncio.to_thread(self._connect)
            if (self.run_dir / "manifest.json").exists() and self.manifest is None:
                with contextlib.suppress(InvalidParameter):
                    self.manifest = read_manifest(self.run_dir)
            # independent set-up steps in parallel: probe the endpoint, check and hash the references,
            # build the TLS context once
            _, refs, _ = await asyncio.gather(asyncio.to_thread(self._probe, conn),
                                              asyncio.to_thread(self._resolve_references, conn),
                                              asyncio.to_thread(shared_ssl_context))
            self.backend, self.endpoint, self.model_id = conn.backend, conn.base_url, conn.model_id
            if self.completion == "webhook" and not _is_loopback(conn.base_url):
                raise InvalidParameter("completion", "webhook", "'poll' for a remote endpoint",
                                       f"the webhook receiver listens on 127.0.0.1, which {conn.base_url} cannot reach")
            journal.plan_many((t.take_id, t.request(), t.coords, t.reference, t.index) for t in self.trials)
            self._check_same_spec(journal, record=True)
            planned = True
            for t in self.trials:
                info = refs[t.reference]
                journal.set_reference(t.take_id, info["copy"], info["sha256"])
            self._journal = journal
            plan = journal.prepare_resume(self.run_dir, resubmit_uncertain=self.resubmit_uncertain,
                                          retry_errors=self.retry_errors)
            plan = {k: [tid for tid in v if tid in self._by_id] for k, v in plan.items()}
            write_manifest(self.run_dir, self._manifest(created_at=created_at, finished_at=None, refs=refs,
                                                        journal=journal))
            limiter = RateLimiter(self.requests_per_minute)
            if conn.async_client is not None:
                client = conn.async_client
            else:
                from zonos_lab.client import AsyncZonosClient

                transport = ObservedTransport(limiter, max_connections=max(16, 2 * self.concurrency),
                                              on_retry=self._note_retry,
                                              plain_http=conn.base_url.startswith("http://"))
                client = AsyncZonosClient(api_key=conn.api_key or "", base_url=conn.base_url,
                                          max_connections=max(16, 2 * self.concurrency), transport=transport,
                                          media_transport=media_transport(max(16, 2 * self.concurrency)))
            policy = self.poll_policy or (SweepPollPolicy(default_first=0.25, unknown_step=0.1)
                                          if conn.backend == "emulator" else SweepPollPolicy(default_first=5.0))
            if self.completion == "webhook":
                from zonos_lab.webhooks import WebhookReceiver

                receiver = WebhookReceiver().start()
            bar = self._progress_bar(total=len(self.trials), initial=len(plan["skip"]) + len(plan["final"])
                                     + len(plan["uncertain"]))
            ctx = _RunContext(journal=journal, client=client, limiter=limiter, policy=policy, receiver=receiver,
                              refs=refs, bar=bar, observed=transport is not None, retries=lambda: self.retries,
                              schedule=PollSchedule(unknown_first=0.25 if conn.backend == "emulator" else 5.0,
                                                    window=max(8, 2 * self.concurrency)))
            await self._drive(ctx, plan)
        finally:
            self.wall_seconds = time.monotonic() - t0
            if transport is not None:
                self.request_counts = transport.summary()
            if client is not None and conn is not None and conn.async_client is None:
                try:
                    await client.aclose()
                except Exception as exc:  # closing must not hide the run's own outcome
                    log.warning("closing the sweep's client failed: %s", exc)
            if receiver is not None:  # its shutdown waits for a 0.5 s poll tick: don't block on it
                threading.Thread(target=receiver.stop, name="zonos-webhooks-stop", daemon=True).start()
            if bar is not None:
                bar.close()
            if journal is not None and planned:
                try:
                    self._results = self._frame_from_journal(journal)
                    write_results(self._results, self.run_dir)
                    self.manifest = self._manifest(created_at=created_at, finished_at=now_iso(), refs=refs,
                                                   journal=journal)
                    write_manifest(self.run_dir, self.manifest)
                finally:
                    self._journal = None
                    journal.close()
            elif journal is not None:
                journal.close()
            if conn is not None:
                if conn.own_ref_server and conn.ref_server is not None:
                    conn.ref_server.stop()
                if conn.emulator is not None:
                    await asyncio.to_thread(conn.emulator.stop)
            if lock is not None:
                lock.release()
            self._loop = None
            self._running = False
        if self.progress:
            log.info(self.summary())
        return self._results

    def _check_same_spec(self, journal: Journal, *, record: bool = False) -> None:
        """Refuse a run directory that holds another spec; `record` this one once its takes are planned."""
        import json

        mine = json.loads(json.dumps(self.spec.to_dict(), default=str))
        recorded = journal.get_meta("spec_resolved")
        if recorded is None:
            if record:
                journal.set_meta("spec_resolved", mine)
            return
        if recorded != mine:
            raise InvalidParameter(
                "run_dir", str(self.run_dir), "a new directory, or the same spec as the run recorded there",
                "this run directory holds another sweep spec: use a new --out directory, or "
                "Sweep.resume(run_dir) to continue the recorded one")

    def _progress_bar(self, total: int, initial: int) -> Any:
        if not self.progress:
            return None
        from tqdm.auto import tqdm

        bar = tqdm(total=total, initial=initial, desc=self.spec.name, unit="take", dynamic_ncols=True)
        return bar

    def _note_retry(self, kind: str) -> None:
        self.retries += 1

    def _cancel_tasks(self) -> None:
        self.stopped_reason = self.stopped_reason or "cancelled"
        for t in list(self._tasks):
            t.cancel()

    def _stop(self, reason: str, *, halt: bool = False) -> None:
        """Stop submitting new takes; with `halt` (402, 401, 403) also takes waiting for their POST."""
        self._halted = self._halted or halt
        if self.stopped_reason is None:
            self.stopped_reason = reason
            log.warning("sweep %r stopping: %s", self.spec.name, reason)

    async def _drive(self, ctx: _RunContext, plan: dict[str, list[str]]) -> None:
        sem = asyncio.Semaphore(self.concurrency)
        ctx.update_bar()

        def spawn(factory: Any) -> None:
            task = asyncio.ensure_future(self._guard(sem, factory))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        submitted = 0
        for tid in plan["poll"]:
            if self._cancel_requested or self.stopped_reason:
                break
            await sem.acquire()
            rid = ctx.journal.get(tid)["request_id"]
            spawn(lambda release, tid=tid, rid=rid: self._finish_take(ctx, tid, rid, job=None, resumed=True,
                                                                     release=release))
        waiting = [self._by_id[tid] for tid in plan["submit"]]
        waiting.sort(key=lambda t: t.index)
        i = 0
        while i < len(waiting):
            trial = waiting[i]
            if self._cancel_requested or self.stopped_reason:
                break
            if self.max_takes is not None and submitted >= self.max_takes:
                self._stop(f"max_takes={self.max_takes} reached")
                break
            if self.max_cost is not None and self.price_per_take is not None and \
                    (submitted + 1) * self.price_per_take > self.max_cost + 1e-9:
                self._stop(f"max_cost={self.max_cost:g} reached")
                break
            await sem.acquire()
            if self._cancel_requested or self.stopped_reason:
                sem.release()
                break
            submitted += 1
            spawn(lambda release, trial=trial: self._take(ctx, trial, release))
            i += 1
        try:
            while self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)
        except asyncio.CancelledError:  # Ctrl-C in a script, or the caller cancelled arun()
            self._cancel_requested = True
            for t in list(self._tasks):
                t.cancel()
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
            raise
        finally:
            if self._posts:  # POSTs in flight always finish journaling their request id
                await asyncio.gather(*list(self._posts), return_exceptions=True)
            if self._cancel_requested:
                self.stopped_reason = self.stopped_reason or "cancelled"
            status = "CANCELLED" if self.stopped_reason == "cancelled" else "SKIPPED"
            for trial in waiting:  # never sent in this run (not reached, or stopped while waiting to send)
                row = ctx.journal.get(trial.take_id)
                if row and row["status"] == "PLANNED":
                    ctx.journal.mark_not_sent(trial.take_id, status,
                                              f"not sent: {self.stopped_reason or 'stopped'} (resume to send it)")
            ctx.update_bar()

    async def _guard(self, sem: asyncio.Semaphore, factory: Any) -> None:
        """Run one take holding a concurrency slot; the take frees it early once the server is done."""
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                sem.release()

        try:
            await factory(release)
        finally:
            release()

    # ------------------------------------------------------------------ one take
    async def _take(self, ctx: _RunContext, trial: Trial, release: Any = None) -> None:
        tid = trial.take_id
        j = ctx.journal
        params = trial.params
        url = ctx.refs[trial.reference]["url"]
        if params.reference_audio_url != url:
            params = params.replace(reference_audio_url=url)
        job = None
        for attempt in range(1, MAX_SUBMIT_ATTEMPTS + 1):
            await ctx.limiter.acquire_submit()
            if self._cancel_requested or self._halted:
                j.mark_not_sent(tid, "CANCELLED" if self._cancel_requested else "SKIPPED",
                                f"not sent: {self.stopped_reason or 'cancelled'} (resume to send it)")
                ctx.update_bar(1)
                return
            post = asyncio.ensure_future(self._post(ctx, tid, params))
            self._posts.add(post)
            post.add_done_callback(self._posts.discard)
            outcome = await asyncio.shield(post)
            if outcome == "retry":
                if attempt == MAX_SUBMIT_ATTEMPTS:
                    j.mark_not_sent(tid, "SKIPPED", f"not accepted after {attempt} attempts "
                                                    f"({j.get(tid)['error']}); resume to try again")
                    ctx.update_bar(1)
                    return
                await asyncio.sleep(min(30.0, 0.25 * 2 ** attempt))
                continue
            if outcome is None:  # terminal outcome already journaled
                ctx.update_bar(1)
                return
            job = outcome
            break
        await self._finish_take(ctx, tid, job.request_id, job=job, resumed=False, release=release)

    async def _post(self, ctx: _RunContext, tid: str, params: Any) -> Any:
        """POST one take, journaling before and after. Returns the Job, "retry", or None (journaled)."""
        j = ctx.journal
        j.mark_submitting(tid, params.to_request_json())
        webhook = ctx.receiver.url if ctx.receiver is not None else None
        try:
            job = await ctx.client.submit(params, webhook_url=webhook)
        except RateLimited as exc:
            ctx.limiter.on_429(exc.retry_after)
            j.mark_not_sent(tid, "PLANNED", f"429 rate limited: {exc.message}")
            if not ctx.observed:  # an ObservedTransport already counted it
                self.retries += 1
            return "retry"
        except InsufficientBalance as exc:
            j.mark_not_sent(tid, "SKIPPED", f"402 insufficient balance: {exc.message} (resume after topping up)")
            self._stop("insufficient_balance", halt=True)
            return None
        except (Unauthorized, Forbidden) as exc:
            j.mark_not_sent(tid, "SKIPPED", f"{exc.status_code}: {exc.message}")
            self._stop("unauthorized" if isinstance(exc, Unauthorized) else "forbidden", halt=True)
            return None
        except ServerError as exc:
            if exc.status_code == 503:
                j.mark_not_sent(tid, "PLANNED", f"503 service unavailable: {exc.message}")
                return "retry"
            j.mark_status(tid, "UNCERTAIN", error=(
                f"the submit answered HTTP {exc.status_code}: the job may have been accepted and charged; "
                "not resubmitted (check, then resume with resubmit_uncertain=True)"))
            return None
        except ConnectionFailed as exc:  # the connection was never made: nothing was sent
            j.mark_not_sent(tid, "PLANNED", f"not sent: {exc.message}")
            return "retry"
        except (SubmissionUncertain, ProtocolError) as exc:
            j.mark_status(tid, "UNCERTAIN", error=f"{exc.message} — not resubmitted "
                                                  "(check, then resume with resubmit_uncertain=True)")
            return None
        except (BadRequest, ApiError) as exc:
            j.mark_status(tid, "ERROR", error=f"rejected: {exc}")
            return None
        except asyncio.CancelledError:
            j.mark_status(tid, "UNCERTAIN", error="cancelled while the POST was in flight; not resubmitted")
            raise
        except Exception as exc:  # unexpected: the POST may have gone out
            log.exception("unexpected error submitting take %s", tid)
            j.mark_status(tid, "UNCERTAIN", error=f"unexpected {type(exc).__name__}: {exc}")
            return None
        j.mark_submitted(tid, job.request_id, job.status, job.submitted_at, backend=self.backend)
        ctx.limiter.on_accepted()
        return job

    async def _finish_take(self, ctx: _RunContext, tid: str, request_id: str, *, job: Any, resumed: bool,
                           release: Any = None) -> None:
        j = ctx.journal
        seen: set[str] = set()
        queue_s: dict[str, float] = {}

        def on_status(st: Any) -> None:
            if st.status in ("QUEUED", "PROCESSING") and st.status not in seen:
                seen.add(st.status)
                if st.status == "PROCESSING" and st.updated_at and st.created_at:
                    queue_s["q"] = (st.updated_at - st.created_at).total_seconds()
                with contextlib.suppress(KeyError):
                    j.mark_status(tid, st.status, error=None)

        start = time.monotonic()
        try:
            try:
                if ctx.receiver is not None and not resumed:
                    st = await self._await_webhook(ctx, request_id)
                elif self.poll_policy is not None:  # the user's own schedule, through the client
                    st = await ctx.client.wait(job if job is not None else request_id, timeout=self.take_timeout,
                                               on_status=on_status, poll_policy=ctx.policy)
                else:
                    st = await self._poll(ctx, request_id, fresh=job is not None, on_status=on_status)
            except GenerationError as exc:  # ERROR: not charged
                j.mark_status(tid, "ERROR", error=exc.error or exc.message)
                return
            except GenerationFailed as exc:  # FAILED: charged
                j.mark_status(tid, "FAILED", error=exc.error or exc.message)
                return
            except WaitTimeout as exc:
                row = j.get(tid)
                j.mark_status(tid, row["status"] if row["status"] in ("QUEUED", "PROCESSING") else "QUEUED",
                              error=f"still {exc.last_status or 'running'} after {self.take_timeout:g}s; "
                                    "resume to keep waiting (it will not be resubmitted)")
                return
            except NotFound as exc:
                j.mark_status(tid, "UNCERTAIN", error=f"the server does not know request {request_id}: {exc.message}")
                return
            except (ConnectionFailed, ServerError, ProtocolError, ApiError) as exc:
                row = j.get(tid)
                keep = row["status"] if row["status"] in ("QUEUED", "PROCESSING", "COMPLETED") else "QUEUED"
                j.mark_status(tid, keep, error=f"lost track while waiting: {exc.message}; resume polls it again")
                return
            if release is not None:  # the server's slot is free: the next take may go while we download
                release()
            if st.is_emulator:
                self.backend = "emulator"
                self.model_id = st.model_id
            elif st.model_id and self.model_id is None:
                self.model_id = st.model_id
            dest = self.run_dir / "audio" / f"{tid}.wav"
            try:
                path = await ctx.client.download(st, dest)
            except ZonosError as exc:
                j.mark_status(tid, "COMPLETED", error=f"download failed: {exc.message}; resume downloads it again",
                              model_id=st.model_id)
                return
            sha, duration, sr = await asyncio.to_thread(_audio_facts, path)
            total = st.duration_seconds if st.duration_seconds is not None else time.monotonic() - start
            j.mark_completed(tid, audio_path=f"audio/{path.name}", sha256=sha, duration=duration,
                             sample_rate=sr, completed_at=st.completed_at or datetime.now(UTC),
                             model_id=st.model_id, queue_seconds=queue_s.get("q"), total_seconds=total)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # recorded on the take, never silently dropped
            log.exception("unexpected error finishing take %s", tid)
            row = j.get(tid)
            j.mark_status(tid, row["status"] if row else "QUEUED", error=f"unexpected {type(exc).__name__}: {exc}")
        finally:
            ctx.update_bar(1)

    async def _poll(self, ctx: _RunContext, request_id: str, *, fresh: bool, on_status: Any) -> Any:
        """Poll one job with a schedule that uses what the status says (see `PollSchedule`).

        Returns the COMPLETED status; raises `GenerationFailed` / `GenerationError` / `WaitTimeout`.
        """
        start = time.monotonic()
        deadline = start + self.take_timeout
        delay = ctx.schedule.first() if fresh else 0.0
        attempt = 0
        last: str | None = None
        while True:
            if delay > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise WaitTimeout(f"job still {last or 'unknown'} after {self.take_timeout:g}s",
                                      request_id=request_id, last_status=last)
                await asyncio.sleep(min(delay, remaining))
            st = await ctx.client.status(request_id)
            attempt += 1
            if st.status != last:
                last = st.status
                on_status(st)
            if st.is_terminal:
                ctx.schedule.observe(st)
                if st.status == "COMPLETED":
                    return st
                cls = GenerationError if st.status == "ERROR" else GenerationFailed
                raise cls(f"generation {st.status}: {st.error or 'no reason given'}", error=st.error,
                          request_id=request_id)
            if time.monotonic() >= deadline:
                raise WaitTimeout(f"job still {last} after {self.take_timeout:g}s", request_id=request_id,
                                  last_status=last)
            delay = ctx.schedule.next(st, attempt)

    async def _await_webhook(self, ctx: _RunContext, request_id: str) -> Any:
        """Wait for the terminal callback; poll once only if it is overdue (a lost callback)."""
        deadline = time.monotonic() + self.take_timeout
        median = ctx.client.median_completion
        grace = max(30.0, 4 * median) if median else 60.0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WaitTimeout(f"no terminal webhook after {self.take_timeout:g}s", request_id=request_id)
            try:
                st = await ctx.receiver.await_status(request_id, timeout=min(grace, remaining))
            except WaitTimeout:
                st = await ctx.client.status(request_id)
                if not st.is_terminal:
                    continue
            if st.status == "COMPLETED":
                return st
            if st.status == "ERROR":
                raise GenerationError(f"generation ERROR: {st.error}", error=st.error, request_id=request_id)
            raise GenerationFailed(f"generation FAILED: {st.error}", error=st.error, request_id=request_id)


@dataclass
class _RunContext:
    journal: Journal
    client: Any
    limiter: RateLimiter
    policy: Any
    receiver: Any
    refs: dict[str, dict[str, Any]]
    bar: Any = None
    observed: bool = True
    retries: Any = None
    schedule: PollSchedule = field(default_factory=lambda: PollSchedule())

    def update_bar(self, n: int = 0) -> None:
        """Advance the progress bar by `n` finished takes and refresh done / failed / retrying."""
        if self.bar is None:
            return
        counts = self.journal.counts()
        done = counts.get("COMPLETED", 0)
        failed = sum(counts.get(s, 0) for s in _FAILED)
        if n:
            self.bar.update(n)
        self.bar.set_postfix(done=done, failed=failed, retrying=self.retries() if self.retries else 0,
                             refresh=False)


class _RunDirLock:
    """An exclusive lock on a run directory for the life of a run (released by the OS if the process dies),
    so two processes never drive the same journal and double-submit."""

    def __init__(self, run_dir: Path) -> None:
        self._fh = open(run_dir / ".lock", "a+")  # noqa: SIM115 - held for the whole run
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no advisory lock
            return
        try:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._fh.close()
            raise ZonosError(f"the run directory {run_dir} is in use by another running sweep",
                             hint="Wait for it to finish (or stop it), then resume.") from None

    def release(self) -> None:
        self._fh.close()


def _audio_facts(path: Path) -> tuple[str, float | None, int | None]:
    """sha256, duration (s) and sample rate of a downloaded file."""
    from zonos_lab.audio import sha256_file

    sha = sha256_file(path)
    try:
        import soundfile as sf

        info = sf.info(str(path))
        return sha, float(info.frames) / float(info.samplerate), int(info.samplerate)
    except Exception:  # not a format libsndfile reads: keep the hash, leave duration unknown
        log.debug("could not read audio facts of %s", path, exc_info=True)
        return sha, None, None


def _slug(name: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "sweep"
