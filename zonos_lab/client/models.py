"""Small frozen records of the Zonos 2 protocol: `Job`, `JobStatus`, `JobOutput`.

Example:
    >>> from zonos_lab.client.models import JobStatus
    >>> s = JobStatus.from_json({"request_id": "r1", "status": "QUEUED"})
    >>> s.is_terminal, s.status
    (False, 'QUEUED')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from zonos_lab.errors import ProtocolError

STATUSES = ("QUEUED", "PROCESSING", "COMPLETED", "FAILED", "ERROR")
TERMINAL = frozenset({"COMPLETED", "FAILED", "ERROR"})
EMULATOR_MODEL_ID = "zonos-2-emulator"


def parse_time(value: Any) -> datetime | None:
    """Parse an ISO-8601 timestamp (``Z`` suffix allowed) into an aware UTC datetime.

    Example:
        >>> parse_time("2026-03-31T10:00:15.000Z").isoformat()
        '2026-03-31T10:00:15+00:00'
    """
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ValueError(f"timestamp must be a string, got {type(value).__name__}")
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


@dataclass(frozen=True)
class Job:
    """A submitted request: enough to resume waiting anywhere (`request_id` alone also works)."""

    request_id: str
    status: str
    polling_url: str | None
    submitted_at: datetime


@dataclass(frozen=True)
class JobOutput:
    """The ``output`` object of a COMPLETED status."""

    media_url: list[str]
    media_type: str | None = None
    file_name: str | None = None
    file_size: int | None = None


@dataclass(frozen=True)
class JobStatus:
    """One status response, every documented field parsed; the full JSON is kept in `raw`."""

    request_id: str
    status: str
    model_id: str | None = None
    error: str | None = None
    output: JobOutput | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    completed_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def is_terminal(self) -> bool:
        """True for COMPLETED, FAILED and ERROR."""
        return self.status in TERMINAL

    @property
    def is_completed(self) -> bool:
        """True when the output is ready."""
        return self.status == "COMPLETED"

    @property
    def is_charged(self) -> bool:
        """COMPLETED and FAILED are charged by the vendor; ERROR is not."""
        return self.status in ("COMPLETED", "FAILED")

    @property
    def is_emulator(self) -> bool:
        """True when the emulator produced this status."""
        return self.model_id == EMULATOR_MODEL_ID

    @property
    def duration_seconds(self) -> float | None:
        """Server-side seconds from creation to completion, when both are known."""
        if self.created_at and self.completed_at:
            return (self.completed_at - self.created_at).total_seconds()
        return None

    @classmethod
    def from_json(cls, data: Any, *, body: str | bytes | None = None) -> JobStatus:
        """Parse a status (or webhook) JSON object; raise `ProtocolError` if it is malformed."""
        if not isinstance(data, dict):
            raise ProtocolError("status response is not a JSON object", body=body)
        rid = data.get("request_id")
        status = data.get("status")
        if not isinstance(rid, str) or not rid:
            raise ProtocolError("status response has no request_id", body=body)
        if status not in STATUSES:
            raise ProtocolError(f"unknown status {status!r} (expected one of {', '.join(STATUSES)})",
                                body=body, request_id=rid)
        out = data.get("output")
        output: JobOutput | None = None
        try:
            if out is not None:
                if not isinstance(out, dict):
                    raise ValueError("output is not an object")
                urls = out.get("media_url") or []
                if isinstance(urls, str):
                    urls = [urls]
                if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
                    raise ValueError("output.media_url is not a list of strings")
                size = out.get("file_size")
                output = JobOutput(list(urls), out.get("media_type"), out.get("file_name"),
                                   int(size) if size is not None else None)
            times = {k: parse_time(data.get(k)) for k in ("created_at", "updated_at", "completed_at")}
        except (ValueError, TypeError) as exc:
            raise ProtocolError(f"malformed status response: {exc}", body=body, request_id=rid) from None
        if status == "COMPLETED" and (output is None or not output.media_url):
            raise ProtocolError("COMPLETED status without output.media_url", body=body, request_id=rid)
        err = data.get("error")
        return cls(request_id=rid, status=status, model_id=data.get("model_id"),
                   error=None if err is None else str(err), output=output, raw=dict(data), **times)
