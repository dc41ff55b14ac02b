"""The emulator's HTTP face: a Starlette app speaking the Zonos 2 protocol of the vendor's page.

Routes (paths exactly as the spec):

* ``POST /zonos-2/v1/zonos-2-request`` → 202 ``{request_id, status: "QUEUED", polling_url}``
* ``GET /v2/requests/status/{request_id}`` → the status object
* ``GET /media/{request_id}/output.wav`` → the audio (public, like the vendor's CDN)
* ``GET /_emulator/stats``, ``POST /_emulator/reset``, ``POST /_emulator/config`` (emulator only)

Errors use the spec's shape ``{"error": ..., "message": ...}`` (400s also name the ``field``).

Example:
    >>> from zonos_lab.emulator.server import create_app
    >>> app = create_app(api_key="k")
    >>> sorted(r.path for r in app.routes)[:2]
    ['/', '/_emulator/config']
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from zonos_lab.emulator.service import EmulatorService, Rejected
from zonos_lab.errors import InvalidParameter

log = logging.getLogger("zonos_lab.emulator")

KEY_HEADER = "Ocp-Apim-Subscription-Key"
WEBHOOK_HEADER = "X-Webhook-URL"
MAX_BODY = 1_000_000
_RAW_SEND = "zonos_lab.raw_send"
BANNER = "EMULATOR — not Zonos"


def error(status_code: int, err: str, message: str, headers: dict[str, str] | None = None,
          **extra: Any) -> JSONResponse:
    """An error response in the spec's shape."""
    return JSONResponse({"error": err, "message": message, **extra}, status_code=status_code, headers=headers)


def _auth_error(code: int) -> JSONResponse:
    if code == 403:
        return error(403, "Forbidden", "This subscription key is not allowed to use model 'zonos-2'.")
    return error(401, "Unauthorized", f"Access denied due to missing or invalid subscription key. Make sure to "
                                      f"include a valid {KEY_HEADER} header when making requests to the API.")


class DropConnection(Response):
    """A 'response' that closes the TCP connection without answering (emulates a network drop)."""

    def __init__(self) -> None:
        super().__init__(status_code=500)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = scope.get(_RAW_SEND)
        cycle = getattr(raw, "__self__", None)
        transport = getattr(cycle, "transport", None)
        if transport is not None:
            transport.abort()
            cycle.disconnected = True  # uvicorn then sends nothing more
            return
        # not uvicorn: start a response and break it off (the client sees an incomplete answer)
        await send({"type": "http.response.start", "status": 202,
                    "headers": [(b"content-length", b"1000"), (b"content-type", b"application/json")]})
        raise ConnectionAbortedError("emulated dropped connection")


class _RawSend:
    """Outermost ASGI layer: remember the server's own `send`, which `DropConnection` needs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope[_RAW_SEND] = send
        await self.app(scope, receive, send)


def _service(request: Request) -> EmulatorService:
    return request.app.state.service


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _key_error(request: Request) -> JSONResponse | None:
    code = _service(request).check_key(request.headers.get(KEY_HEADER))
    if code is None:
        return None
    _service(request).note_rejected(code)
    return _auth_error(code)


async def submit(request: Request) -> Response:
    svc = _service(request)
    n = svc.count_post()
    if (resp := _key_error(request)) is not None:
        return resp
    wait = svc.rate_limit_wait()
    if wait is not None:
        svc.note_rejected(429)
        return error(429, "Too Many Requests", "Rate limit is exceeded. Try again later.",
                     headers={"Retry-After": str(max(1, int(wait + 0.999)))})
    fault = svc.post_fault(n)
    if fault == "post_429":
        return error(429, "Too Many Requests", "Rate limit is exceeded (emulated fault).",
                     headers={"Retry-After": f"{svc.config.faults.retry_after:g}"})
    if fault == "post_500":
        return error(500, "Internal Server Error", "The gateway failed (emulated fault); nothing was queued.")
    if fault == "drop":
        return DropConnection()
    raw = await request.body()
    if len(raw) > MAX_BODY:
        svc.note_rejected(400)
        return error(400, "Invalid request", f"the body is larger than {MAX_BODY} bytes")
    try:
        data = json.loads(raw) if raw.strip() else None
    except (ValueError, UnicodeDecodeError) as exc:
        svc.note_rejected(400)
        return error(400, "Invalid JSON", f"the body is not valid JSON: {exc}", field=None)
    if data is None:
        svc.note_rejected(400)
        return error(400, "Invalid request", "the body is empty: send a JSON object with reference_audio_url",
                     field="reference_audio_url")
    webhook = request.headers.get(WEBHOOK_HEADER) or None
    try:
        if webhook is not None:
            parts = urlsplit(webhook)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise Rejected(400, "Invalid header", f"{WEBHOOK_HEADER} must be an http(s) URL, got {webhook!r}",
                               field=WEBHOOK_HEADER, allowed="an http:// or https:// URL")
        params, body = svc.validate(data)
        job = svc.accept(params, body, base_url=_base_url(request), webhook_url=webhook)
    except Rejected as exc:
        svc.note_rejected(exc.status_code)
        return JSONResponse(exc.body, status_code=exc.status_code, headers=exc.headers)
    if fault == "drop_after":
        return DropConnection()
    return JSONResponse({"request_id": job.request_id, "status": "QUEUED",
                         "polling_url": f"{job.base_url}/v2/requests/status/{job.request_id}"}, status_code=202)


async def status(request: Request) -> Response:
    svc = _service(request)
    if (resp := _key_error(request)) is not None:
        return resp
    rid = request.path_params["request_id"]
    fault = svc.status_fault()
    if fault == "slow_status":
        await asyncio.sleep(svc.config.faults.slow_seconds)
    if fault == "status_500":
        return error(500, "Internal Server Error", "The status service failed (emulated fault).")
    st = svc.get_status(rid)
    if st is None:
        return error(404, "Not Found", f"Request '{rid}' not found")
    return JSONResponse(st)


async def media(request: Request) -> Response:
    path = _service(request).media_path(request.path_params["request_id"], request.path_params["file_name"])
    if path is None or not path.exists():
        return error(404, "Not Found", "No such media")
    return FileResponse(path, media_type="audio/wav", filename=path.name, content_disposition_type="inline")


async def stats(request: Request) -> Response:
    return JSONResponse(_service(request).stats())


async def reset(request: Request) -> Response:
    if (resp := _key_error(request)) is not None:
        return resp
    _service(request).reset()
    return JSONResponse({"reset": True})


async def configure(request: Request) -> Response:
    if (resp := _key_error(request)) is not None:
        return resp
    try:
        changes = json.loads(await request.body() or b"{}")
        if not isinstance(changes, dict):
            raise ValueError("the body must be a JSON object of settings")
        cfg = _service(request).configure(**changes)
    except InvalidParameter as exc:
        return error(400, "Invalid parameter", str(exc), field=exc.field, allowed=exc.allowed)
    except (ValueError, TypeError) as exc:
        return error(400, "Invalid request", str(exc))
    return JSONResponse(cfg.to_dict())


async def index(request: Request) -> Response:
    svc = _service(request)
    return JSONResponse({"service": BANNER, "emulator": True, "model_id": svc.config.model_id,
                         "submit": f"{_base_url(request)}/zonos-2/v1/zonos-2-request",
                         "status": f"{_base_url(request)}/v2/requests/status/{{request_id}}",
                         "stats": f"{_base_url(request)}/_emulator/stats"})


async def _http_error(request: Request, exc: Exception) -> Response:
    code = getattr(exc, "status_code", 500)
    detail = getattr(exc, "detail", None) or "error"
    return error(code, {404: "Not Found", 405: "Method Not Allowed"}.get(code, "Error"), str(detail))


async def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("emulator request failed: %s %s", request.method, request.url.path)
    return error(500, "Internal Server Error", f"emulator failure: {type(exc).__name__}")


def create_app(service: EmulatorService | None = None, **service_kwargs: Any) -> ASGIApp:
    """The ASGI app (Starlette wrapped in a thin raw-send layer) serving one `EmulatorService`.

    Pass a service, or the service's arguments (``api_key=``, ``config=``, ``engine=``, …).
    The app's Starlette object is ``app.app``; the service is ``app.state.service``.
    """
    if service is None:
        service_kwargs.setdefault("api_key", "emulator")
        service = EmulatorService(**service_kwargs)
    routes = [
        Route("/", index, methods=["GET"]),
        Route("/zonos-2/v1/zonos-2-request", submit, methods=["POST"]),
        Route("/v2/requests/status/{request_id}", status, methods=["GET"]),
        Route("/media/{request_id}/{file_name}", media, methods=["GET"]),
        Route("/_emulator/stats", stats, methods=["GET"]),
        Route("/_emulator/reset", reset, methods=["POST"]),
        Route("/_emulator/config", configure, methods=["POST"]),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_error, Exception: _server_error})
    app.state.service = service
    return _App(app)


class _App(_RawSend):
    """The outer app: exposes `routes`, `state` and `service` of the Starlette app it wraps."""

    @property
    def routes(self) -> list[Any]:
        return self.app.routes

    @property
    def state(self) -> Any:
        return self.app.state

    @property
    def service(self) -> EmulatorService:
        return self.app.state.service


__all__ = ["BANNER", "KEY_HEADER", "DropConnection", "create_app", "error"]
