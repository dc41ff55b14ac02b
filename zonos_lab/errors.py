"""Typed errors of zonos-lab: one hierarchy under `ZonosError`.

Every error says what happened and, in one sentence, what to do next (`hint`). Errors that
belong to a request carry its `request_id`, so a job can be resumed or reported. No error ever
contains the API key.

Example:
    >>> from zonos_lab.errors import RateLimited
    >>> err = RateLimited("Too Many Requests", retry_after=3.0)
    >>> err.retry_after, isinstance(err, ZonosError)
    (3.0, True)
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ApiError",
    "BadRequest",
    "ConnectionFailed",
    "Forbidden",
    "GenerationError",
    "GenerationFailed",
    "InsufficientBalance",
    "InvalidParameter",
    "MediaError",
    "MissingExtra",
    "NotFound",
    "ProtocolError",
    "RateLimited",
    "ServerError",
    "SubmissionUncertain",
    "Unauthorized",
    "WaitTimeout",
    "ZonosError",
    "error_for_status",
    "truncate",
]

BODY_LIMIT = 300


def truncate(text: str | bytes | None, limit: int = BODY_LIMIT) -> str:
    """Shorten a response body for an error message.

    Example:
        >>> truncate("x" * 500, 10)
        'xxxxxxxxxx… (500 chars)'
    """
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} chars)"


class ZonosError(Exception):
    """Base of every zonos-lab error.

    Attributes:
        message: what happened.
        hint: one sentence on what to do next.
        request_id: the job's id when known (resume with ``client.wait(request_id)``).
    """

    default_hint = ""

    def __init__(self, message: str, *, hint: str | None = None, request_id: str | None = None) -> None:
        self.message = message
        self.hint = self.default_hint if hint is None else hint
        self.request_id = request_id
        super().__init__(message)

    def __str__(self) -> str:
        parts = [self.message]
        if self.request_id:
            parts.append(f"[request_id={self.request_id}]")
        if self.hint:
            parts.append(self.hint)
        return " ".join(parts)

    def __reduce__(self) -> tuple[Any, ...]:  # keep errors picklable across processes
        return (_rebuild, (type(self), self.__dict__.copy()))


def _rebuild(cls: type, state: dict[str, Any]) -> ZonosError:
    obj = cls.__new__(cls)
    Exception.__init__(obj, state.get("message", ""))
    obj.__dict__.update(state)
    return obj


class InvalidParameter(ZonosError, ValueError):
    """A request field has a value the service does not accept. Raised before any request is made.

    Attributes:
        field: the first offending field's name.
        value: its value.
        allowed: what the spec allows, in words.
        problems: every ``(field, value, reason)`` found.
    """

    default_hint = "Fix the value; nothing was sent and nothing was charged."

    def __init__(self, field: str, value: Any, allowed: str, reason: str | None = None,
                 problems: list[tuple[str, Any, str]] | None = None) -> None:
        self.field = field
        self.value = value
        self.allowed = allowed
        self.problems = problems or [(field, value, reason or f"allowed: {allowed}")]
        text = "; ".join(f"{f}={v!r} is invalid: {r}" for f, v, r in self.problems)
        super().__init__(text)

    @classmethod
    def from_validation_error(cls, exc: Any, data: dict[str, Any]) -> InvalidParameter:
        """Turn a pydantic ``ValidationError`` into an `InvalidParameter` naming each field."""
        from zonos_lab.params import FIELD_SPECS

        problems: list[tuple[str, Any, str]] = []
        for err in exc.errors():
            loc = err.get("loc") or ("?",)
            field = str(loc[0])
            value = data.get(field, err.get("input"))
            reason = str(err.get("msg", "invalid"))
            reason = reason.removeprefix("Value error, ")
            if err.get("type") == "missing":
                reason = "is required"
                value = None
            elif err.get("type") == "extra_forbidden":
                reason = f"is not a request field of the API; known fields: {', '.join(FIELD_SPECS)}"
            problems.append((field, value, reason))
        field, value, _ = problems[0]
        spec = FIELD_SPECS.get(field)
        allowed = spec.allowed() if spec else "one of: " + ", ".join(FIELD_SPECS)
        return cls(field, value, allowed, problems=problems)

    def __str__(self) -> str:
        return self.message


class ApiError(ZonosError):
    """The gateway answered with an HTTP error.

    Attributes:
        status_code: the HTTP status.
        error: the server's ``error`` field (e.g. ``"Model not found"``).
        server_message: the server's ``message`` field.
        body: the response body, truncated.
    """

    def __init__(self, message: str, *, status_code: int | None = None, error: str | None = None,
                 server_message: str | None = None, body: str | None = None,
                 hint: str | None = None, request_id: str | None = None) -> None:
        self.status_code = status_code
        self.error = error
        self.server_message = server_message
        self.body = truncate(body)
        super().__init__(message, hint=hint, request_id=request_id)


class BadRequest(ApiError):
    """400: the gateway refused the request (the server's message is kept)."""

    default_hint = "Check the request fields and the model name; retrying the same request will not help."


class Unauthorized(ApiError):
    """401: no or wrong API key."""

    default_hint = "Set PIXAZO_API_KEY (or pass api_key=) to a valid subscription key."


class InsufficientBalance(ApiError):
    """402: the wallet is empty. Never retried."""

    default_hint = "Add funds to your Pixazo wallet, then resume the sweep; finished takes are kept."


class Forbidden(ApiError):
    """403: the key is not allowed to use this model."""

    default_hint = "Check that your subscription includes Zonos 2."


class NotFound(ApiError):
    """404: unknown request id or path."""

    default_hint = "Check the request id and the base URL."


class RateLimited(ApiError):
    """429: too many requests. `retry_after` is the server's hint in seconds (or None)."""

    default_hint = "Slow down (lower concurrency or requests_per_minute) or wait retry_after seconds."

    def __init__(self, message: str = "Too Many Requests", *, retry_after: float | None = None,
                 **kwargs: Any) -> None:
        self.retry_after = retry_after
        kwargs.setdefault("status_code", 429)
        super().__init__(message, **kwargs)


class ServerError(ApiError):
    """5xx: the gateway failed. Status polls are retried; a submit is not (it may have been accepted)."""

    default_hint = "Try again later; if a submission was involved, check its request id before resubmitting."


class GenerationFailed(ZonosError):
    """The job ended with status FAILED (the vendor charges for it). `error` holds the server's reason."""

    default_hint = "The job was charged; inspect `error`, adjust the request, and resubmit if needed."

    def __init__(self, message: str, *, error: str | None = None, request_id: str | None = None,
                 hint: str | None = None) -> None:
        self.error = error
        super().__init__(message, hint=hint, request_id=request_id)


class GenerationError(GenerationFailed):
    """The job ended with status ERROR: a system error, not charged."""

    default_hint = "A system error on the service side (not charged); resubmitting is safe."


class WaitTimeout(ZonosError):
    """The wait deadline passed while the job was still running. The job goes on on the server."""

    default_hint = "The job is still running: resume with client.wait(request_id)."

    def __init__(self, message: str, *, request_id: str | None = None, last_status: str | None = None) -> None:
        self.last_status = last_status
        super().__init__(message, request_id=request_id)


class ProtocolError(ZonosError):
    """The server's answer does not follow the spec (malformed JSON, unknown status, …)."""

    default_hint = "The gateway's answer did not match the documented protocol; report it with the body shown."

    def __init__(self, message: str, *, body: str | bytes | None = None, request_id: str | None = None) -> None:
        self.body = truncate(body)
        if self.body:
            message = f"{message} (body: {self.body})"
        super().__init__(message, request_id=request_id)


class MediaError(ProtocolError):
    """The media download is not audio, is too large, or could not be stored."""

    default_hint = "The output could not be downloaded as audio; fetch the status again for a fresh media_url."


class ConnectionFailed(ZonosError):
    """The gateway could not be reached (after retries where retrying is safe)."""

    default_hint = "Check the network and the base URL (PIXAZO_BASE_URL); nothing was charged for an unsent request."


class SubmissionUncertain(ZonosError):
    """A submit's body was sent but no answer came: the job may or may not exist and be charged.

    It is never resubmitted automatically. The sweep journal flags such takes for the user.
    """

    default_hint = (
        "The request may have been accepted and charged: check your Pixazo dashboard before "
        "resubmitting (zonos-lab sweep --resume --resubmit-uncertain)."
    )


class MissingExtra(ZonosError, ImportError):
    """An optional feature needs an extra that is not installed."""

    def __init__(self, feature: str, extra: str, package: str | None = None) -> None:
        self.feature = feature
        self.extra = extra
        self.package = package
        missing = f" ({package} is not installed)" if package else ""
        super().__init__(
            f"{feature} needs the [{extra}] extra{missing}.",
            hint=f"Install it with: pip install 'zonos-lab[{extra}]'",
        )


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    402: InsufficientBalance,
    403: Forbidden,
    404: NotFound,
    429: RateLimited,
}


def error_for_status(status_code: int, *, error: str | None = None, server_message: str | None = None,
                     body: str | None = None, retry_after: float | None = None,
                     request_id: str | None = None) -> ApiError:
    """Build the typed error for an HTTP error status.

    Example:
        >>> type(error_for_status(402, error="Insufficient Balance")).__name__
        'InsufficientBalance'
    """
    cls = _BY_STATUS.get(status_code)
    if cls is None:
        cls = ServerError if status_code >= 500 else ApiError
    summary = error or f"HTTP {status_code}"
    if server_message:
        summary = f"{summary}: {server_message}"
    message = f"{status_code} {summary}"
    kwargs: dict[str, Any] = dict(status_code=status_code, error=error, server_message=server_message,
                                  body=body, request_id=request_id)
    if cls is RateLimited:
        return RateLimited(message, retry_after=retry_after, **kwargs)
    return cls(message, **kwargs)
