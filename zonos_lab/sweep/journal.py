"""The sweep journal: a SQLite write-ahead log of every take's life, so a crash never loses or double-pays.

Each take is a row (``takes``) created PLANNED before anything is sent; it is marked SUBMITTING (committed)
*before* its POST, and its request id is committed the moment the 202 arrives. Every status change is
also appended to ``events``. On resume (`Journal.prepare_resume`):

* COMPLETED with its audio on disk → skipped;
* a request id known (QUEUED / PROCESSING, or COMPLETED whose audio is missing) → polled, never resubmitted;
* SUBMITTING without a request id → UNCERTAIN (the POST may have been accepted and charged): never
  resubmitted unless ``resubmit_uncertain=True``;
* PLANNED / SKIPPED / CANCELLED (never sent) → submitted.

WAL mode with ``synchronous=NORMAL`` makes every commit survive a killed process (SIGKILL); only a
power loss could lose the last commits.

Example:
    >>> import tempfile, pathlib
    >>> j = Journal(pathlib.Path(tempfile.mkdtemp()) / "journal.sqlite")
    >>> j.plan("t1", {"reference_audio_url": "https://x.org/a.wav"}, {"seed": 1}, "https://x.org/a.wav", 0)
    True
    >>> j.mark_submitting("t1", {"reference_audio_url": "https://x.org/a.wav"}); j.get("t1")["status"]
    'SUBMITTING'
    >>> j.close()
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from zonos_lab.take import TAKE_STATUSES

__all__ = ["COLUMNS", "Journal"]

SCHEMA_VERSION = "1"

COLUMNS: tuple[str, ...] = (
    "take_id", "idx", "coords", "request", "reference", "reference_path", "reference_sha256", "status",
    "request_id", "error", "attempts", "planned_at", "submitting_at", "submitted_at", "completed_at",
    "queue_seconds", "total_seconds", "audio_path", "duration", "sample_rate", "sha256", "model_id",
    "backend", "updated_at",
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS takes (
    take_id TEXT PRIMARY KEY, idx INTEGER, coords TEXT, request TEXT, reference TEXT,
    reference_path TEXT, reference_sha256 TEXT, status TEXT NOT NULL, request_id TEXT, error TEXT,
    attempts INTEGER DEFAULT 0, planned_at TEXT, submitting_at TEXT, submitted_at TEXT, completed_at TEXT,
    queue_seconds REAL, total_seconds REAL, audio_path TEXT, duration REAL, sample_rate INTEGER,
    sha256 TEXT, model_id TEXT, backend TEXT, updated_at TEXT
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, take_id TEXT, at TEXT, status TEXT, request_id TEXT, detail TEXT
);
CREATE INDEX IF NOT EXISTS events_take ON events(take_id);
"""


def now_iso() -> str:
    """UTC now as ISO-8601."""
    return datetime.now(UTC).isoformat()


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


class Journal:
    """SQLite journal of one run directory (thread-safe; one writer process at a time).

    Example: ``j = Journal(run_dir / "journal.sqlite"); j.rows()``
    """

    def __init__(self, path: str | Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        if readonly:
            if not self.path.exists():
                raise FileNotFoundError(f"no journal at {self.path}")
            self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None,
                                       check_same_thread=False, timeout=30)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            if self.get_meta("schema") is None:
                self.set_meta("schema", SCHEMA_VERSION)
        self._db.row_factory = sqlite3.Row
        self.readonly = readonly

    # ------------------------------------------------------------------ meta
    def set_meta(self, key: str, value: Any) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                             (key, json.dumps(value, default=str)))

    def get_meta(self, key: str, default: Any = None) -> Any:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    # ------------------------------------------------------------------ writes
    def _update(self, take_id: str, status: str | None, detail: str | None = None, **fields: Any) -> None:
        if status is not None:
            if status not in TAKE_STATUSES:
                raise ValueError(f"unknown take status {status!r}")
            fields["status"] = status
        fields["updated_at"] = now_iso()
        cols = ", ".join(f"{k} = ?" for k in fields)
        values = [_iso(v) for v in fields.values()]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                cur = self._db.execute(f"UPDATE takes SET {cols} WHERE take_id = ?", [*values, take_id])
                if cur.rowcount != 1:
                    raise KeyError(f"take {take_id!r} is not in the journal")
                row = self._db.execute("SELECT status, request_id FROM takes WHERE take_id = ?",
                                       (take_id,)).fetchone()
                self._db.execute("INSERT INTO events(take_id, at, status, request_id, detail) VALUES (?,?,?,?,?)",
                                 (take_id, fields["updated_at"], row[0], row[1], detail))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def plan(self, take_id: str, request: dict[str, Any], coords: dict[str, Any], reference: str,
             idx: int) -> bool:
        """Record a take as PLANNED (no-op if it is already journaled). Returns True when inserted."""
        return self.plan_many([(take_id, request, coords, reference, idx)]) == 1

    def plan_many(self, items: Iterable[tuple[str, dict[str, Any], dict[str, Any], str, int]]) -> int:
        """PLANNED rows for many takes in one transaction (existing takes are left alone)."""
        ts = now_iso()
        n = 0
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for take_id, request, coords, reference, idx in items:
                    cur = self._db.execute(
                        "INSERT OR IGNORE INTO takes(take_id, idx, coords, request, reference, status, attempts,"
                        " planned_at, updated_at) VALUES (?,?,?,?,?,?,0,?,?)",
                        (take_id, idx, json.dumps(coords, default=str), json.dumps(request), reference,
                         "PLANNED", ts, ts))
                    if cur.rowcount:
                        n += 1
                        self._db.execute("INSERT INTO events(take_id, at, status, request_id, detail) "
                                         "VALUES (?,?,?,?,?)", (take_id, ts, "PLANNED", None, None))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return n

    def set_reference(self, take_id: str, reference_path: str | None, reference_sha256: str | None) -> None:
        """Record the local copy and hash of the take's reference."""
        with self._lock:
            self._db.execute("UPDATE takes SET reference_path = ?, reference_sha256 = ? WHERE take_id = ?",
                             (reference_path, reference_sha256, take_id))

    def mark_submitting(self, take_id: str, request: dict[str, Any]) -> None:
        """Committed *before* the POST: if we crash now, resume knows the POST may have happened."""
        with self._lock:
            row = self._db.execute("SELECT attempts FROM takes WHERE take_id = ?", (take_id,)).fetchone()
            attempts = (row[0] or 0) + 1 if row else 1
        self._update(take_id, "SUBMITTING", None, request=json.dumps(request), submitting_at=now_iso(),
                     attempts=attempts, error=None)

    def mark_submitted(self, take_id: str, request_id: str, status: str, submitted_at: datetime | str,
                       backend: str | None = None) -> None:
        """Committed the moment the 202 arrives: the request id is never lost."""
        self._update(take_id, status, None, request_id=request_id, submitted_at=submitted_at, backend=backend)

    def mark_not_sent(self, take_id: str, status: str, error: str | None) -> None:
        """The POST certainly did not create a job (429, 503, connection refused, 402, budget, cancel)."""
        self._update(take_id, status, error, error=error)

    def mark_status(self, take_id: str, status: str, *, error: str | None = None, **fields: Any) -> None:
        """Any other status change (QUEUED → PROCESSING → COMPLETED / FAILED / ERROR / UNCERTAIN)."""
        self._update(take_id, status, error, error=error, **fields)

    def mark_completed(self, take_id: str, *, audio_path: str, sha256: str, duration: float | None,
                       sample_rate: int | None, completed_at: datetime | str | None, model_id: str | None,
                       queue_seconds: float | None, total_seconds: float | None) -> None:
        """COMPLETED with the audio on disk: its path (relative to the run dir) and content hash."""
        self._update(take_id, "COMPLETED", None, error=None, audio_path=audio_path, sha256=sha256,
                     duration=duration, sample_rate=sample_rate, completed_at=completed_at,
                     model_id=model_id, queue_seconds=queue_seconds, total_seconds=total_seconds)

    # ------------------------------------------------------------------ resume
    def prepare_resume(self, run_dir: Path, *, resubmit_uncertain: bool = False,
                       retry_errors: bool = False) -> dict[str, list[str]]:
        """Sort journaled takes into ``skip`` / ``poll`` / ``submit`` / ``uncertain`` / ``final`` lists.

        SUBMITTING-without-id rows become UNCERTAIN here (committed), never PLANNED, unless
        `resubmit_uncertain`. ERROR (not charged) is resubmitted only with `retry_errors`.
        """
        plan: dict[str, list[str]] = {"skip": [], "poll": [], "submit": [], "uncertain": [], "final": []}
        for row in self.rows():
            tid, status, rid = row["take_id"], row["status"], row["request_id"]
            audio_ok = bool(row["audio_path"]) and (Path(run_dir) / row["audio_path"]).exists()
            if status == "COMPLETED" and audio_ok:
                plan["skip"].append(tid)
            elif status in ("QUEUED", "PROCESSING", "COMPLETED") and rid:
                plan["poll"].append(tid)
            elif status in ("PLANNED", "SKIPPED", "CANCELLED"):
                plan["submit"].append(tid)
            elif status in ("SUBMITTING", "UNCERTAIN") and not rid:
                if resubmit_uncertain:
                    self.mark_status(tid, "PLANNED", error=None)
                    plan["submit"].append(tid)
                else:
                    if status == "SUBMITTING":
                        self.mark_status(tid, "UNCERTAIN", error=(
                            "the run stopped while this take's POST was in flight: it may have been accepted "
                            "and charged; not resubmitted (use resubmit_uncertain=True to send it again)"))
                    plan["uncertain"].append(tid)
            elif status == "UNCERTAIN" and rid:
                plan["poll"].append(tid)
            elif status == "ERROR" and retry_errors:
                self.mark_status(tid, "PLANNED", error=None, request_id=None)
                plan["submit"].append(tid)
            else:
                plan["final"].append(tid)
        return plan

    # ------------------------------------------------------------------ reads
    def get(self, take_id: str) -> dict[str, Any] | None:
        """One take's row as a dict (None when unknown)."""
        with self._lock:
            row = self._db.execute("SELECT * FROM takes WHERE take_id = ?", (take_id,)).fetchone()
        return None if row is None else dict(row)

    def rows(self) -> list[dict[str, Any]]:
        """Every take, in plan order."""
        with self._lock:
            return [dict(r) for r in self._db.execute("SELECT * FROM takes ORDER BY idx, take_id")]

    def events(self, take_id: str | None = None) -> list[dict[str, Any]]:
        """Status changes, oldest first (of one take or all)."""
        with self._lock:
            if take_id is None:
                cur = self._db.execute("SELECT * FROM events ORDER BY id")
            else:
                cur = self._db.execute("SELECT * FROM events WHERE take_id = ? ORDER BY id", (take_id,))
            return [dict(r) for r in cur]

    def counts(self) -> dict[str, int]:
        """Number of takes per status."""
        with self._lock:
            return {r[0]: r[1] for r in self._db.execute("SELECT status, COUNT(*) FROM takes GROUP BY status")}

    def close(self) -> None:
        """Close the database (checkpointing the WAL)."""
        with self._lock:
            try:
                if not self.readonly:
                    self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error:
                pass
            self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
