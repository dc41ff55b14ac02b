"""`Take`: one generated clip with its request, ids, timings, audio file and metrics.

A take is one row of a sweep's results table (`Take.to_row()` / `Take.from_row()`), and the
object `Lab.say()` returns. In a notebook it shows itself as a player, a spectrogram and its key
fields (the display code lives in `zonos_lab.notebook.display`, imported only when shown).

Example:
    >>> from zonos_lab.params import GenerationParams
    >>> t = Take(params=GenerationParams(reference_audio_url="https://x.org/a.wav", seed=1), take_id="t1")
    >>> t.to_row()["mode"], t.ok
    ('accurate', False)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from zonos_lab.params import FIELD_SPECS, GenerationParams

#: Take statuses. The API's own are QUEUED, PROCESSING, COMPLETED, FAILED, ERROR; the journal adds
#: PLANNED (not sent yet), SUBMITTING (POST in flight), UNCERTAIN (sent, answer lost: may be charged)
#: and CANCELLED / SKIPPED (never sent).
TAKE_STATUSES: tuple[str, ...] = (
    "PLANNED", "SUBMITTING", "QUEUED", "PROCESSING", "COMPLETED", "FAILED", "ERROR",
    "UNCERTAIN", "CANCELLED", "SKIPPED",
)
TERMINAL_STATUSES: frozenset[str] = frozenset({"COMPLETED", "FAILED", "ERROR", "CANCELLED", "SKIPPED"})

#: Columns of a results table, in order (request fields come from the spec).
RESULT_COLUMNS: tuple[str, ...] = (
    "take_id", *FIELD_SPECS.keys(), "mode", "reference", "reference_path", "reference_sha256",
    "status", "request_id", "error", "submitted_at", "completed_at", "queue_seconds", "total_seconds",
    "audio_path", "duration", "sample_rate", "sha256", "backend", "model_id",
)


def _is_missing(value: Any) -> bool:
    if value is None or type(value).__name__ in ("NAType", "NaTType"):  # pd.NA / pd.NaT, without importing pandas
        return True
    try:
        return bool(value != value) or (isinstance(value, float) and math.isnan(value))  # NaN / NA
    except (TypeError, ValueError):
        return False


@dataclass
class Take:
    """One clip: its request (`params`), where it stands (`status`), and what came back.

    Attributes:
        params: the validated request.
        take_id: stable id within a sweep (derived from the trial's coordinates).
        reference: the reference as the user gave it (local path or URL).
        reference_path: a local copy of the reference when known (for metrics), else None.
        status: one of `TAKE_STATUSES`.
        audio_path: the downloaded WAV (None until COMPLETED).
        backend: ``"emulator"`` or ``"cloud"``.
        metrics: analysis results (column name → value).
    """

    params: GenerationParams
    take_id: str = ""
    reference: str | None = None
    reference_path: str | None = None
    reference_sha256: str | None = None
    status: str = "PLANNED"
    request_id: str | None = None
    error: str | None = None
    submitted_at: datetime | None = None
    completed_at: datetime | None = None
    queue_seconds: float | None = None
    total_seconds: float | None = None
    audio_path: str | None = None
    duration: float | None = None
    sample_rate: int | None = None
    sha256: str | None = None
    backend: str = "emulator"
    model_id: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)

    # -- convenience -------------------------------------------------------------------------

    @property
    def ok(self) -> bool:
        """True when the take completed and its audio is on disk."""
        return self.status == "COMPLETED" and self.audio_path is not None and Path(self.audio_path).exists()

    @property
    def mode(self) -> str:
        """``"accurate"`` or ``"expressive"``."""
        return self.params.mode

    @property
    def text(self) -> str:
        """The text spoken."""
        return self.params.text

    @property
    def seed(self) -> int | None:
        """The seed sent (None when the service chose one)."""
        return self.params.seed

    def audio(self, sample_rate: int | None = None) -> tuple[Any, int]:
        """Decode the take's audio: ``(float32 samples, sample_rate)``.

        Raises:
            FileNotFoundError: when the take has no audio (not completed).
        """
        if not self.audio_path:
            raise FileNotFoundError(f"take {self.take_id or '?'} has no audio (status {self.status})")
        from zonos_lab.audio import decode_audio

        return decode_audio(self.audio_path, sample_rate=sample_rate)

    # -- table rows ----------------------------------------------------------------------------

    def to_row(self) -> dict[str, Any]:
        """This take as a results-table row (request fields flattened, metrics appended)."""
        row: dict[str, Any] = {"take_id": self.take_id}
        row.update({name: getattr(self.params, name) for name in FIELD_SPECS})
        row["mode"] = self.params.mode
        for f in fields(self):
            if f.name not in ("params", "metrics", "take_id"):
                row[f.name] = getattr(self, f.name)
        row.update(self.metrics)
        return row

    @classmethod
    def from_row(cls, row: Any) -> Take:
        """Rebuild a take from a results-table row (a dict or a pandas Series)."""
        data = dict(row)
        request = {k: data[k] for k in FIELD_SPECS if k in data and not _is_missing(data[k])}
        for key in ("top_k", "max_tokens", "seed"):
            if key in request:
                request[key] = int(request[key])
        for key in ("accurate_mode", "clean_speaker_background"):
            if key in request:
                request[key] = bool(request[key])
        params = GenerationParams(**request)
        known = {f.name for f in fields(cls)} - {"params", "metrics"}
        kwargs: dict[str, Any] = {}
        for k in known:
            if k in data and not _is_missing(data[k]):
                v = data[k]
                if hasattr(v, "to_pydatetime"):
                    v = v.to_pydatetime()
                kwargs[k] = v
        if "sample_rate" in kwargs:
            kwargs["sample_rate"] = int(kwargs["sample_rate"])
        extra = set(data) - known - set(FIELD_SPECS) - {"mode"}
        metrics = {k: data[k] for k in extra}
        return cls(params=params, metrics=metrics, **kwargs)

    def with_(self, **changes: Any) -> Take:
        """A copy with some attributes changed."""
        return replace(self, **changes)

    # -- notebook ------------------------------------------------------------------------------

    def _repr_html_(self) -> str:
        from zonos_lab.notebook.display import take_html

        return take_html(self)

    def __repr__(self) -> str:
        dur = f", {self.duration:.2f}s" if self.duration else ""
        err = f", error={self.error!r}" if self.error else ""
        return (f"Take({self.take_id or '?'}: {self.status}, {self.mode}, seed={self.seed}, "
                f"T={self.params.temperature}{dur}{err})")
