"""Client behaviour against httpx.MockTransport, every case through both the sync and async client."""

from __future__ import annotations

import json
import logging
import pickle
import traceback
from datetime import UTC, datetime

import httpx
import pytest
from client_fixtures import BASE, KEY, SPEC, Adapter, Script, resp, status_json, wav_bytes

from zonos_lab import errors as E
from zonos_lab.client import ExponentialPollPolicy, Job, JobStatus, parse_retry_after
from zonos_lab.params import GenerationParams

PARAMS = GenerationParams.from_dict(SPEC["request"])
RID = SPEC["accepted_202"]["request_id"]


@pytest.fixture(params=["sync", "async"])
def make(request):
    made: list[Adapter] = []

    def factory(handler, media=None, **kw) -> Adapter:
        a = Adapter(request.param, handler, media, **kw)
        made.append(a)
        return a

    yield factory
    for a in made:
        a.shutdown()


# ---------------------------------------------------------------- submit
def test_submit_request_matches_spec_example(make):
    script = Script(resp(202, SPEC["accepted_202"]))
    c = make(script)
    job = c.submit(PARAMS, webhook_url="https://hook.test/cb")
    assert isinstance(job, Job)
    assert job.request_id == RID and job.status == "QUEUED"
    assert job.polling_url == SPEC["accepted_202"]["polling_url"]
    req = script.requests[0]
    assert req.method == "POST" and str(req.url) == BASE + "/zonos-2/v1/zonos-2-request"
    for name, value in SPEC["request_headers"].items():
        assert req.headers[name] == (KEY if value == "YOUR_API_KEY" else value)
    assert req.headers["X-Webhook-URL"] == "https://hook.test/cb"
    body = json.loads(req.content)
    assert body == SPEC["request"] and list(body) == list(SPEC["request"])


def test_submit_without_webhook_has_no_webhook_header(make):
    script = Script(resp(202, SPEC["accepted_202"]))
    make(script).submit(PARAMS)
    assert "x-webhook-url" not in script.requests[0].headers


@pytest.mark.parametrize("code,body,cls", [
    (400, SPEC["error_400"], E.BadRequest),
    (401, {"error": "Unauthorized"}, E.Unauthorized),
    (402, SPEC["error_402"], E.InsufficientBalance),
    (403, {"error": "Forbidden"}, E.Forbidden),
    (500, {"error": "Internal Server Error"}, E.ServerError),
])
def test_submit_errors_are_typed_and_not_retried(make, code, body, cls):
    script = Script(resp(code, body), resp(202, SPEC["accepted_202"]))
    c = make(script)
    with pytest.raises(cls) as info:
        c.submit(PARAMS)
    assert len(script.requests) == 1, "a submit error other than 429/503 must not be retried"
    assert info.value.status_code == code
    if code == 400:
        assert "Model not found" in str(info.value) and info.value.error == "Model not found"
        assert info.value.server_message == SPEC["error_400"]["message"]
    assert info.value.hint


def test_submit_retries_429_with_retry_after_then_succeeds(make):
    script = Script(resp(429, {"error": "Too Many Requests"}, {"Retry-After": "7"}),
                    resp(503, b"busy"), resp(202, SPEC["accepted_202"]))
    c = make(script)
    assert c.submit(PARAMS).request_id == RID
    assert len(script.requests) == 3
    assert c.time.sleeps[0] == 7.0


def test_submit_429_exhausted_raises_rate_limited(make):
    script = Script(*[resp(429, {"error": "Too Many Requests"}, {"Retry-After": "2"}) for _ in range(3)])
    c = make(script, max_retries=2)
    with pytest.raises(E.RateLimited) as info:
        c.submit(PARAMS)
    assert info.value.retry_after == 2.0 and len(script.requests) == 3


def test_max_retries_zero_disables_retries(make):
    script = Script(resp(429, {}, {"Retry-After": "1"}))
    with pytest.raises(E.RateLimited):
        make(script, max_retries=0).submit(PARAMS)
    assert len(script.requests) == 1


def test_submit_connect_error_is_retried(make):
    script = Script(httpx.ConnectError("refused"), resp(202, SPEC["accepted_202"]))
    assert make(script).submit(PARAMS).request_id == RID
    assert len(script.requests) == 2


@pytest.mark.parametrize("exc", [httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("dropped"),
                                 httpx.ReadError("reset")])
def test_submit_after_body_sent_is_uncertain_never_resubmitted(make, exc):
    script = Script(exc, resp(202, SPEC["accepted_202"]))
    with pytest.raises(E.SubmissionUncertain) as info:
        make(script).submit(PARAMS)
    assert len(script.requests) == 1
    assert "charged" in str(info.value)


def test_submit_connect_errors_exhausted(make):
    script = Script(*[httpx.ConnectError("refused") for _ in range(4)])
    with pytest.raises(E.ConnectionFailed):
        make(script).submit(PARAMS)
    assert len(script.requests) == 4


@pytest.mark.parametrize("content", [b"not json", b"[1,2]", b'{"status":"QUEUED"}',
                                     b'{"request_id":"x","status":"WEIRD"}'])
def test_submit_malformed_is_protocol_error(make, content):
    with pytest.raises(E.ProtocolError) as info:
        make(Script(httpx.Response(202, content=content))).submit(PARAMS)
    assert content.decode()[:5] in str(info.value)


# ---------------------------------------------------------------- status
def test_status_parses_every_field_of_spec_completed(make):
    script = Script(resp(200, SPEC["status_completed"]))
    st = make(script).status(RID)
    assert str(script.requests[0].url) == f"{BASE}/v2/requests/status/{RID}"
    assert script.requests[0].headers["Ocp-Apim-Subscription-Key"] == KEY
    assert isinstance(st, JobStatus) and st.is_completed and st.is_charged and st.is_terminal
    assert st.model_id == "zonos-2" and st.error is None
    assert st.output.media_url == SPEC["status_completed"]["output"]["media_url"]
    assert (st.output.media_type, st.output.file_name, st.output.file_size) == ("audio/wav", "output.wav", 1245678)
    assert st.created_at == datetime(2026, 3, 31, 10, 0, 0, tzinfo=UTC)
    assert st.updated_at == st.completed_at == datetime(2026, 3, 31, 10, 0, 15, tzinfo=UTC)
    assert st.raw == SPEC["status_completed"]


def test_status_uses_polling_url_of_job(make):
    script = Script(resp(202, SPEC["accepted_202"]), resp(200, SPEC["status_error"]))
    c = make(script)
    job = c.submit(PARAMS)
    st = c.status(job)
    assert str(script.requests[1].url) == SPEC["accepted_202"]["polling_url"]
    assert st.status == "ERROR" and not st.is_charged and st.error == "Description of the error"


def test_status_retries_5xx_and_connection_errors(make):
    script = Script(resp(500), httpx.ReadTimeout("t"), resp(429, {}, {"Retry-After": "3"}),
                    resp(200, status_json("PROCESSING")))
    c = make(script)
    assert c.status("r1").status == "PROCESSING"
    assert len(script.requests) == 4 and c.time.sleeps[2] == 3.0


def test_status_5xx_exhausted_is_server_error_with_request_id(make):
    script = Script(*[resp(502, b"bad gateway") for _ in range(4)])
    with pytest.raises(E.ServerError) as info:
        make(script).status("r9")
    assert info.value.request_id == "r9" and "r9" in str(info.value)


@pytest.mark.parametrize("code,cls", [(401, E.Unauthorized), (402, E.InsufficientBalance),
                                      (403, E.Forbidden), (404, E.NotFound), (400, E.BadRequest)])
def test_status_client_errors_not_retried(make, code, cls):
    script = Script(resp(code, {"error": "x"}))
    with pytest.raises(cls):
        make(script).status("r1")
    assert len(script.requests) == 1


@pytest.mark.parametrize("content", [b"<html>", b'{"request_id":"r1","status":"DONE"}',
                                     b'{"request_id":"r1","status":"COMPLETED","output":null}',
                                     b'{"request_id":"r1","status":"QUEUED","created_at":"yesterday"}'])
def test_status_malformed_is_protocol_error(make, content):
    with pytest.raises(E.ProtocolError) as info:
        make(Script(httpx.Response(200, content=content))).status("r1")
    assert info.value.body


def test_retry_after_http_date_and_cap():
    now = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    assert parse_retry_after("Thu, 01 Jan 2026 00:00:05 GMT", now=now) == 5.0
    assert parse_retry_after("Thu, 01 Jan 2026 01:00:00 GMT", now=now) == 60.0
    assert parse_retry_after("Wed, 31 Dec 2025 23:00:00 GMT", now=now) == 0.0
    assert parse_retry_after(None) is None and parse_retry_after("-") is None


# ---------------------------------------------------------------- wait
@pytest.mark.parametrize("flow,expected", [
    (["QUEUED", "PROCESSING", "COMPLETED"], None),
    (["PROCESSING", "FAILED"], E.GenerationFailed),
    (["QUEUED", "ERROR"], E.GenerationError),
    (["COMPLETED"], None),
    (["FAILED"], E.GenerationFailed),
])
def test_wait_transitions(make, flow, expected):
    items = []
    for s in flow:
        items += [resp(200, status_json(s, error="boom" if s in ("FAILED", "ERROR") else None))] * 2
    seen: list[str] = []
    c = make(Script(*items), poll_policy=ExponentialPollPolicy(first=1.0, jitter=0))
    if expected:
        with pytest.raises(expected) as info:
            c.wait("r1", on_status=lambda st: seen.append(st.status))
        assert info.value.request_id == "r1" and info.value.error == "boom"
        assert isinstance(info.value, E.GenerationError) == (flow[-1] == "ERROR")
    else:
        assert c.wait("r1", on_status=lambda st: seen.append(st.status)).is_completed
    assert seen == flow, "on_status fires once per change"


def test_wait_default_schedule_and_median(make):
    polls = [resp(200, status_json("QUEUED"))] * 5 + [resp(200, status_json(
        "COMPLETED", created_at="2026-01-01T00:00:00Z", completed_at="2026-01-01T00:00:03Z"))]
    c = make(Script(resp(202, SPEC["accepted_202"]), *polls),
             poll_policy=ExponentialPollPolicy(jitter=0))
    job = c.submit(PARAMS)
    c.wait(job)
    assert c.time.sleeps == [5.0, 7.5, 10.0, 10.0, 10.0, 10.0]
    assert c.median_completion == 3.0
    # the next wait starts at the observed median
    c.client._core.poll_policy = ExponentialPollPolicy(jitter=0)
    c.time.sleeps.clear()
    script2 = Script(resp(200, status_json("COMPLETED")))
    c.client._http._transport = httpx.MockTransport(script2)
    c.wait(Job("r2", "QUEUED", None, datetime.now(UTC)))
    assert c.time.sleeps == [3.0]


def test_wait_jitter_bounds():
    p = ExponentialPollPolicy()
    for attempt in range(8):
        for _ in range(50):
            d = p.delay(attempt, None)
            base = min(5.0 * 1.5 ** attempt, 10.0)
            assert base * 0.8 - 1e-9 <= d <= min(base * 1.2, 10.0) + 1e-9


def test_wait_timeout_never_overruns_and_carries_request_id(make):
    c = make(Script(*[resp(200, status_json("PROCESSING"))] * 50), poll_policy=ExponentialPollPolicy(jitter=0))
    start = c.time.now
    with pytest.raises(E.WaitTimeout) as info:
        c.wait("r1", timeout=22)
    assert info.value.request_id == "r1" and info.value.last_status == "PROCESSING"
    assert c.time.now - start <= 22 + 1e-9
    assert "client.wait" in str(info.value)


def test_wait_honours_retry_after_on_status(make):
    c = make(Script(resp(200, status_json("QUEUED"), {"Retry-After": "9"}), resp(200, status_json("COMPLETED"))),
             poll_policy=ExponentialPollPolicy(first=1.0, jitter=0))
    c.wait("r1")
    assert c.time.sleeps == [9.0]


def test_wait_bare_id_polls_immediately(make):
    c = make(Script(resp(200, status_json("COMPLETED"))))
    c.wait("r1")
    assert c.time.sleeps == []


# ---------------------------------------------------------------- download
def completed(**out):
    d = status_json("COMPLETED")
    d["output"].update(out)
    return JobStatus.from_json(d)


def test_download_atomic_and_checked(make, tmp_path):
    data = wav_bytes()
    media = Script(httpx.Response(200, content=data, headers={"content-type": "audio/wav"}))
    c = make(Script(), media)
    path = c.download(completed(file_size=len(data)), tmp_path / "a.wav")
    assert path.read_bytes() == data
    assert "ocp-apim-subscription-key" not in media.requests[0].headers
    assert [p.name for p in tmp_path.iterdir()] == ["a.wav"]


def test_download_into_dir_ignores_path_in_file_name(make, tmp_path):
    media = Script(httpx.Response(200, content=wav_bytes()))
    c = make(Script(), media)
    path = c.download(completed(file_name="../../evil.wav"), tmp_path)
    assert path == tmp_path / "evil.wav" and path.exists()


@pytest.mark.parametrize("content,ctype", [(b"<html>nope</html>", "text/html"), (b"ID3notwav", "audio/wav"),
                                           (b"", "audio/wav")])
def test_download_rejects_non_audio_and_leaves_nothing(make, tmp_path, content, ctype):
    c = make(Script(), Script(httpx.Response(200, content=content, headers={"content-type": ctype})))
    with pytest.raises(E.MediaError):
        c.download(completed(), tmp_path / "a.wav")
    assert list(tmp_path.iterdir()) == []


def test_download_size_limit(make, tmp_path):
    c = make(Script(), Script(httpx.Response(200, content=wav_bytes(10000))), max_download_bytes=5000)
    with pytest.raises(E.MediaError, match="limit"):
        c.download(completed(file_size=None), tmp_path / "a.wav")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(E.MediaError, match="limit"):
        c.download(completed(file_size=10**9), tmp_path / "a.wav")


def test_download_retries_5xx_and_rejects_non_audio_media_type(make, tmp_path):
    media = Script(httpx.Response(503), httpx.ConnectError("x"), httpx.Response(200, content=wav_bytes()))
    c = make(Script(), media)
    assert c.download(completed(), tmp_path / "a.wav").exists()
    assert len(media.requests) == 3
    with pytest.raises(E.MediaError):
        c.download(completed(media_type="text/plain"), tmp_path / "b.wav")


def test_download_of_unfinished_job_fails(make, tmp_path):
    with pytest.raises(E.MediaError):
        make(Script()).download(JobStatus.from_json(status_json("QUEUED")), tmp_path / "a.wav")


def test_generate_end_to_end(make, tmp_path):
    script = Script(resp(202, SPEC["accepted_202"]), resp(200, status_json("PROCESSING", rid=RID)),
                    resp(200, status_json("COMPLETED", rid=RID)))
    c = make(script, Script(httpx.Response(200, content=wav_bytes())),
             poll_policy=ExponentialPollPolicy(first=0.5, jitter=0))
    st, path = c.generate(PARAMS, tmp_path / "out.wav")
    assert st.is_completed and path.read_bytes()[:4] == b"RIFF"


# ---------------------------------------------------------------- secrecy
def test_key_never_leaks(make, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    script = Script(resp(202, SPEC["accepted_202"]), resp(402, SPEC["error_402"]),
                    httpx.ReadTimeout("t"), resp(200, status_json("FAILED", error="x")))
    c = make(script)
    assert KEY not in repr(c.client) and KEY not in str(c.client)
    logging.getLogger("httpcore.http11").debug("headers %s", [(b"Ocp-Apim-Subscription-Key", KEY.encode())])
    logging.getLogger("httpx").debug("key=%s", KEY)
    c.submit(PARAMS)
    errors = []
    for fn in (lambda: c.submit(PARAMS), lambda: c.submit(PARAMS), lambda: c.wait("r1")):
        try:
            fn()
        except E.ZonosError as exc:
            errors.append(exc)
    assert len(errors) == 3
    for exc in errors:
        text = str(exc) + repr(exc) + "".join(traceback.format_exception(exc))
        assert KEY not in text
        assert KEY not in repr(pickle.loads(pickle.dumps(exc)).__dict__)
    assert KEY not in caplog.text and "***" in caplog.text
    with pytest.raises(TypeError):
        pickle.dumps(c.client._core.key)


def test_api_client_does_not_follow_redirects(make):
    script = Script(httpx.Response(302, headers={"location": "https://evil.test/steal"}))
    with pytest.raises(E.ZonosError):
        make(script).status("r1")
    assert len(script.requests) == 1


def test_env_configuration(monkeypatch):
    monkeypatch.setenv("PIXAZO_API_KEY", KEY)
    monkeypatch.delenv("PIXAZO_BASE_URL", raising=False)
    from zonos_lab.client import ZonosClient

    with ZonosClient() as c:
        assert c.base_url == "https://gateway.pixazo.ai" and c.backend == "cloud"
    monkeypatch.setenv("PIXAZO_BASE_URL", "http://127.0.0.1:1/")
    with ZonosClient(transport=httpx.MockTransport(Script(resp(200, status_json(
            "QUEUED", model_id="zonos-2-emulator"))))) as c:
        assert c.base_url == "http://127.0.0.1:1"
        c.status("r1")
        assert c.backend == "emulator"


def test_errors_say_what_to_do(make):
    for exc in (E.SubmissionUncertain("x"), E.WaitTimeout("x", request_id="r"),
                E.error_for_status(402), E.error_for_status(429, retry_after=1)):
        assert exc.hint and exc.hint.endswith(".")



