"""The emulator's protocol, service model and client integration, on loopback with a sine test engine."""

from __future__ import annotations

import asyncio
import re
import socket
import time
import uuid
from datetime import datetime

import httpx
import numpy as np
import pytest
from emulator_fixtures import DATA, VOICE, SineEngine, body, headers, poll, post, start, wait_idle

from zonos_lab.audio import decode_audio, read_wav_metadata
from zonos_lab.client import AsyncZonosClient, ExponentialPollPolicy, ZonosClient
from zonos_lab.emulator import Emulator, EmulatorConfig
from zonos_lab.errors import (
    BadRequest,
    Forbidden,
    GenerationError,
    GenerationFailed,
    InsufficientBalance,
    InvalidParameter,
    NotFound,
    RateLimited,
    Unauthorized,
)
from zonos_lab.params import GenerationParams

FAST = ExponentialPollPolicy(default_first=0.05, min_delay=0.02, max_delay=0.2, jitter=0)
TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture(scope="module")
def shared_emu():
    e = start(data_root=DATA)
    yield e
    e.stop()


@pytest.fixture
def emu(shared_emu):
    """The module's emulator, as good as new: default settings, no jobs, no counters, a fresh engine."""
    shared_emu.configure(**{k: v for k, v in EmulatorConfig().to_dict().items()})
    shared_emu.reset()
    shared_emu.service.set_engine(SineEngine())
    return shared_emu


# ---------------------------------------------------------------- protocol shape
def test_submit_answers_202_with_the_spec_shape(emu):
    r = post(emu, body(seed=3))
    assert r.status_code == 202
    data = r.json()
    assert set(data) == {"request_id", "status", "polling_url"}
    assert data["status"] == "QUEUED"
    prefix, _, uid = data["request_id"].partition("_")
    assert prefix == "zonos-2" and uuid.UUID(uid).version == 4
    assert data["polling_url"] == f"{emu.base_url}/v2/requests/status/{data['request_id']}"


def test_completed_status_object_and_media(emu):
    rid = post(emu, body(seed=11, text="Testing the status object.")).json()["request_id"]
    st = poll(emu, rid)
    assert {"request_id", "status", "model_id", "error", "output", "created_at", "updated_at",
            "completed_at"} <= set(st)
    assert st["status"] == "COMPLETED" and st["request_id"] == rid and st["error"] is None
    assert st["model_id"] == "zonos-2-emulator"
    out = st["output"]
    assert out["media_type"] == "audio/wav" and out["file_name"] == "output.wav"
    assert out["media_url"] == [f"{emu.base_url}/media/{rid}/output.wav"]
    for k in ("created_at", "updated_at", "completed_at"):
        assert TS.match(st[k]), st[k]
    t = [datetime.fromisoformat(st[k].replace("Z", "+00:00")) for k in ("created_at", "updated_at", "completed_at")]
    assert t[0] <= t[1] <= t[2]
    m = httpx.get(out["media_url"][0])  # public, like the vendor's CDN: no key
    assert m.status_code == 200 and m.headers["content-type"].startswith("audio/wav")
    assert m.content[:4] == b"RIFF" and len(m.content) == out["file_size"]
    assert st["seed"] == 11


def test_wav_metadata_labels_the_emulator(emu, tmp_path):
    req = body(seed=42, text="Metadata please.")
    st = poll(emu, post(emu, req).json()["request_id"])
    path = tmp_path / "o.wav"
    path.write_bytes(httpx.get(st["output"]["media_url"][0]).content)
    meta = read_wav_metadata(path)
    assert meta["generator"] == "zonos-2-emulator" and meta["software"] == "zonos-2-emulator"
    assert meta["engine"] == "test-sine" and meta["seed"] == 42 and meta["request"] == req
    y, sr = decode_audio(path)
    assert sr == 44100 and abs(y.size / sr - 0.06 * len(req["text"])) < 0.01


def test_status_moves_queued_processing_completed(emu):
    emu.service.set_engine(SineEngine(delay=0.1))
    emu.configure(queue_latency=0.6, processing_latency=0.6)
    rid = post(emu, body(seed=1)).json()["request_id"]
    seen = []
    t0 = time.monotonic()
    while True:
        s = httpx.get(f"{emu.base_url}/v2/requests/status/{rid}", headers=headers(emu)).json()["status"]
        if not seen or seen[-1] != s:
            seen.append(s)
        if s == "COMPLETED":
            break
        time.sleep(0.01)
    elapsed = time.monotonic() - t0
    assert seen == ["QUEUED", "PROCESSING", "COMPLETED"]
    assert elapsed >= 1.1  # queue 0.6 + processing ≥ 0.6


def test_latency_proportional_to_audio_length(emu):
    emu.configure(latency_per_audio_second=0.5)
    t0 = time.monotonic()
    st = poll(emu, post(emu, body(text="x" * 10)).json()["request_id"])  # 0.6 s of audio → ≥ 0.3 s
    assert st["status"] == "COMPLETED" and time.monotonic() - t0 >= 0.3


# ---------------------------------------------------------------- gateway errors
def test_auth_401_and_403():
    emu = start(api_key="good-key", forbidden_keys=("banned-key",), data_root=DATA)
    try:
        for hdr, code in (({}, 401), ({"Ocp-Apim-Subscription-Key": "wrong"}, 401),
                          ({"Ocp-Apim-Subscription-Key": "banned-key"}, 403)):
            r = httpx.post(emu.submit_url, json=body(), headers=hdr)
            assert r.status_code == code and set(r.json()) == {"error", "message"}
            r = httpx.get(f"{emu.base_url}/v2/requests/status/zonos-2_x", headers=hdr)
            assert r.status_code == code
        assert emu.stats()["accepted"] == 0 and emu.stats()["rejected"] == {"401": 4, "403": 2}  # POST + GET each
        p = GenerationParams(reference_audio_url="http://127.0.0.1:9/ref.wav")
        with ZonosClient(api_key="wrong", base_url=emu.base_url, max_retries=0) as c, pytest.raises(Unauthorized):
            c.submit(p)
        with ZonosClient(api_key="banned-key", base_url=emu.base_url, max_retries=0) as c, pytest.raises(Forbidden):
            c.submit(p)
    finally:
        emu.stop()


@pytest.mark.parametrize("field,value", [
    ("temperature", 2.5), ("top_p", -0.1), ("min_p", 1.5), ("top_k", 4096), ("top_k", 1.5),
    ("max_tokens", 0), ("max_tokens", 7000), ("seed", -1), ("seed", 2**31), ("language", "xx"),
    ("accurate_mode", "yes"), ("clean_speaker_background", 1), ("text", ""), ("reference_audio_url", 5),
    ("reference_audio_url", "ftp://x/y.wav"), ("bogus_field", 1),
])
def test_invalid_fields_get_400_naming_the_field(emu, field, value):
    r = post(emu, body(**{field: value}))
    assert r.status_code == 400
    data = r.json()
    assert data["error"] == "Invalid parameter" and data["field"] == field
    assert field in data["message"] and data["allowed"]


def test_missing_reference_bad_json_and_non_object(emu):
    r = post(emu, {"text": "hi"})
    assert r.status_code == 400 and r.json()["field"] == "reference_audio_url"
    r = httpx.post(emu.submit_url, content=b"{not json", headers=headers(emu))
    assert r.status_code == 400 and r.json()["error"] == "Invalid JSON"
    r = post(emu, [1, 2])
    assert r.status_code == 400 and "object" in r.json()["message"]
    r = post(emu, body(), **{"X-Webhook-URL": "not a url"})
    assert r.status_code == 400 and r.json()["field"] == "X-Webhook-URL"
    assert emu.stats()["accepted"] == 0


def test_unknown_request_404_and_client_not_found(emu):
    r = httpx.get(f"{emu.base_url}/v2/requests/status/zonos-2_nope", headers=headers(emu))
    assert r.status_code == 404 and r.json()["error"] == "Not Found"
    with ZonosClient(api_key=emu.api_key, base_url=emu.base_url, max_retries=0) as c, pytest.raises(NotFound):
        c.status("zonos-2_nope")
    assert httpx.get(f"{emu.base_url}/media/zonos-2_nope/output.wav").status_code == 404


def test_balance_402_failed_charged_error_not(emu):
    emu.configure(balance=3, faults="failed@1;error@2")
    ids = [post(emu, body(seed=i)).json()["request_id"] for i in range(3)]
    final = [poll(emu, rid)["status"] for rid in ids]
    assert final == ["FAILED", "ERROR", "COMPLETED"]
    s = emu.stats()
    assert s["charges"] == 2 and s["charged_jobs"] == 2 and s["balance"] == 1
    assert post(emu, body(seed=9)).status_code == 202  # the ERROR freed its reservation
    r = post(emu, body(seed=10))
    assert r.status_code == 402
    assert r.json() == {"error": "Insufficient Balance", "message": "Your wallet does not have enough balance."}
    wait_idle(emu)
    assert emu.stats()["balance"] == 0
    with ZonosClient(api_key=emu.api_key, base_url=emu.base_url) as c, pytest.raises(InsufficientBalance):
        c.submit(GenerationParams(reference_audio_url="http://127.0.0.1:9/r.wav"))


def test_rate_limit_429_with_retry_after(emu):
    emu.configure(rate_limit_per_minute=2)
    assert [post(emu, body(seed=i)).status_code for i in range(2)] == [202, 202]
    r = post(emu, body(seed=3))
    assert r.status_code == 429 and 1 <= int(r.headers["Retry-After"]) <= 60
    with ZonosClient(api_key=emu.api_key, base_url=emu.base_url, max_retries=0) as c, \
            pytest.raises(RateLimited) as info:
        c.submit(GenerationParams(reference_audio_url="http://127.0.0.1:9/r.wav"))
    assert info.value.retry_after is not None and info.value.retry_after > 0
    assert emu.stats()["accepted"] == 2


# ---------------------------------------------------------------- jobs
def test_seed_determinism_and_random_seed(emu):
    def audio(**kw):
        st = poll(emu, post(emu, body(**kw)).json()["request_id"])
        return st, httpx.get(st["output"]["media_url"][0]).content

    _st1, a1 = audio(seed=7)
    _, a2 = audio(seed=7)
    _, a3 = audio(seed=8)
    pcm = [decode_audio(a)[0] for a in (a1, a2, a3)]
    assert np.array_equal(pcm[0], pcm[1]) and not np.array_equal(pcm[0], pcm[2])
    st4, _ = audio()  # no seed: one is picked and reported
    assert isinstance(st4["seed"], int) and 0 <= st4["seed"] <= 2**31 - 1
    calls = {c["seed"] for c in emu.service.engine().calls}
    assert st4["seed"] in calls


def test_nondeterministic_mode_perturbs_the_seed(emu):
    eng = SineEngine()
    emu.service.set_engine(eng)
    emu.configure(nondeterministic=True)
    for _ in range(2):
        assert poll(emu, post(emu, body(seed=5)).json()["request_id"])["seed"] == 5
    seeds = [c["seed"] for c in eng.calls]
    assert len(set(seeds)) == 2 and 5 not in seeds


def test_max_tokens_cuts_the_output(emu):
    st = poll(emu, post(emu, body(text="a long sentence " * 5, max_tokens=20)).json()["request_id"])
    y, _sr = decode_audio(httpx.get(st["output"]["media_url"][0]).content)
    assert y.size <= 20 * 512 and y.size > 19 * 512


def test_reference_failures_fail_the_job_clearly(emu, tmp_path):
    st = poll(emu, post(emu, body(reference_audio_url="http://127.0.0.1:9/missing.wav")).json()["request_id"])
    assert st["status"] == "FAILED" and "reference_audio_url" in st["error"] and "127.0.0.1:9" in st["error"]
    st = poll(emu, post(emu, body(reference_audio_url="voices/nope.mp3")).json()["request_id"])
    assert st["status"] == "FAILED" and "reference_audio_url" in st["error"]
    st = poll(emu, post(emu, body(reference_audio_url="SOURCES.md")).json()["request_id"])
    assert st["status"] == "FAILED" and "not decodable" in st["error"]
    assert st["output"] is None and st["completed_at"]
    assert emu.stats()["charged_jobs"] == 3  # FAILED is charged (the spec: only ERROR is free)


def test_engine_exception_is_error_not_charged(emu):
    emu.service.set_engine(SineEngine(fail_on="boom"))
    st = poll(emu, post(emu, body(text="boom now")).json()["request_id"])
    assert st["status"] == "ERROR" and "engine exploded" in st["error"]
    assert emu.stats()["charges"] == 0
    assert poll(emu, post(emu, body()).json()["request_id"])["status"] == "COMPLETED"  # workers survive


def test_local_references_need_a_data_root_inside_it(tmp_path):
    emu = start(data_root=DATA)
    try:
        for ref in (VOICE.as_uri(), str(VOICE), "voices/AmericanFemale.mp3"):
            assert poll(emu, post(emu, body(reference_audio_url=ref)).json()["request_id"])["status"] == "COMPLETED"
        outside = tmp_path / "x.wav"
        outside.write_bytes(VOICE.read_bytes())
        for ref in (outside.as_uri(), str(outside), "../pyproject.toml"):
            r = post(emu, body(reference_audio_url=ref))
            assert r.status_code == 400 and r.json()["field"] == "reference_audio_url"
        assert emu.stats()["references_cached"] == 1  # three URLs, the same bytes: decoded once
    finally:
        emu.stop()
    emu = start()
    try:
        r = post(emu, body(reference_audio_url=VOICE.as_uri()))
        assert r.status_code == 400 and "data root" in r.json()["message"]
    finally:
        emu.stop()


def test_reference_cache_reuses_decoded_audio(emu):
    for i in range(3):
        poll(emu, post(emu, body(seed=i)).json()["request_id"])
    calls = emu.service.engine().calls
    assert len({c["ref_id"] for c in calls}) == 1 and emu.stats()["references_cached"] == 1


def test_worker_pool_honours_concurrency(emu):
    eng = SineEngine(delay=0.05, gather=2)
    emu.service.set_engine(eng)
    emu.configure(concurrency=2)
    ids = [post(emu, body(seed=i)).json()["request_id"] for i in range(6)]
    for rid in ids:
        poll(emu, rid)
    assert eng.max_running == 2
    eng.gather = 3
    emu.configure(concurrency=3)
    ids = [post(emu, body(seed=i)).json()["request_id"] for i in range(6)]
    for rid in ids:
        poll(emu, rid)
    assert eng.max_running == 3


# ---------------------------------------------------------------- webhooks
def test_webhook_receives_the_final_status(emu):
    from zonos_lab.webhooks import WebhookReceiver

    with WebhookReceiver() as hooks:
        rid = post(emu, body(seed=4), **{"X-Webhook-URL": hooks.url}).json()["request_id"]
        got = hooks.wait(rid, timeout=20)
        assert got.status == "COMPLETED" and got.model_id == "zonos-2-emulator"
        polled = poll(emu, rid)
        assert got.raw == polled
    assert emu.stats()["webhooks"]["sent"] == 1


def test_unreachable_webhook_is_logged_not_fatal(emu, caplog):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/hook"
    rid = post(emu, body(), **{"X-Webhook-URL": dead}).json()["request_id"]
    assert poll(emu, rid)["status"] == "COMPLETED"
    deadline = time.monotonic() + 10
    while emu.stats()["webhooks"]["failed"] < 1:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert "webhook" in caplog.text and poll(emu, post(emu, body()).json()["request_id"])["status"] == "COMPLETED"


# ---------------------------------------------------------------- client integration
def test_client_generate_end_to_end(tmp_path):
    from zonos_lab.references import ReferenceServer

    with ReferenceServer() as refs, start() as emu, \
            ZonosClient(api_key=emu.api_key, base_url=emu.base_url, poll_policy=FAST) as c:
        p = GenerationParams(reference_audio_url=refs.url_for(VOICE), text="Hi from the client.", seed=3)
        seen = []
        job = c.submit(p)
        st = c.wait(job, timeout=20, on_status=lambda s: seen.append(s.status))
        path = c.download(st, tmp_path)
        assert st.is_completed and st.is_emulator and st.is_charged and seen[-1] == "COMPLETED"
        assert path.read_bytes()[:4] == b"RIFF" and c.backend == "emulator"
        s = emu.stats()
        assert s["submissions"] == {p.fingerprint(): 1} and s["polls"][job.request_id] >= 1
        assert s["media"] == {job.request_id: 1}
        # the FAILED and ERROR paths raise the typed errors
        emu.configure(faults="failed@1;error@2")  # counted from now on
        with pytest.raises(GenerationFailed) as f:
            c.wait(c.submit(p), timeout=20)
        assert not isinstance(f.value, GenerationError)
        with pytest.raises(GenerationError):
            c.wait(c.submit(p), timeout=20)


def test_client_maps_400_to_bad_request(emu):
    # the client validates first; a body the gateway refuses still becomes BadRequest
    with ZonosClient(api_key=emu.api_key, base_url=emu.base_url, max_retries=0) as c, \
            pytest.raises(BadRequest) as info:
        c.submit({"reference_audio_url": "https://x.invalid/a.wav", "top_k": 5000})
    assert "top_k" in str(info.value)
    with pytest.raises(InvalidParameter):
        GenerationParams(reference_audio_url="https://x.invalid/a.wav", top_k=5000)


async def test_200_simultaneous_submissions():
    from zonos_lab.references import ReferenceServer

    eng = SineEngine(seconds_per_char=0.01)
    with ReferenceServer() as refs, start(engine=eng, concurrency=8) as emu:
        url = refs.url_for(VOICE)
        async with AsyncZonosClient(api_key=emu.api_key, base_url=emu.base_url, max_connections=200,
                                    max_retries=0) as c:
            ps = [GenerationParams(reference_audio_url=url, text=f"Take {i}.", seed=i) for i in range(200)]
            jobs = await asyncio.gather(*(c.submit(p) for p in ps))
            assert len({j.request_id for j in jobs}) == 200
            s = emu.stats()
            assert s["posts"] == 200 and s["accepted"] == 200 and s["rejected"] == {}
            assert set(s["submissions"]) == {p.fingerprint() for p in ps}
            assert set(s["submissions"].values()) == {1}
        s = await asyncio.to_thread(wait_idle, emu, 60)
        assert s["jobs"]["COMPLETED"] == 200 and s["charged_jobs"] == 200 and s["charges"] == 200


# ---------------------------------------------------------------- runner
def test_start_is_fast_stop_frees_the_port_and_key_is_hidden():
    t0 = time.monotonic()
    emu = Emulator(engine=SineEngine()).start()
    assert time.monotonic() - t0 < 2.0
    assert emu.api_key.startswith("emu-") and emu.api_key not in repr(emu) and "EMULATOR" in repr(emu)
    port = emu.port
    assert httpx.get(emu.base_url + "/").json()["emulator"] is True
    emu.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/")
    emu.stop()  # idempotent


def test_reset_and_config_endpoints(emu):
    assert poll(emu, post(emu, body()).json()["request_id"])["status"] == "COMPLETED"
    assert httpx.post(f"{emu.base_url}/_emulator/reset").status_code == 401
    r = httpx.post(f"{emu.base_url}/_emulator/config", json={"balance": 0}, headers=headers(emu))
    assert r.status_code == 200 and r.json()["balance"] == 0
    assert post(emu, body()).status_code == 402
    r = httpx.post(f"{emu.base_url}/_emulator/config", json={"concurrency": 0}, headers=headers(emu))
    assert r.status_code == 400 and r.json()["field"] == "concurrency"
    r = httpx.post(f"{emu.base_url}/_emulator/config", json={"nope": 1}, headers=headers(emu))
    assert r.status_code == 400 and r.json()["field"] == "nope"
    assert httpx.post(f"{emu.base_url}/_emulator/reset", headers=headers(emu)).json() == {"reset": True}
    s = httpx.get(f"{emu.base_url}/_emulator/stats").json()
    assert s["posts"] == 0 and s["charges"] == 0 and s["jobs"]["COMPLETED"] == 0 and s["balance"] == 0
    with pytest.raises(InvalidParameter):
        EmulatorConfig(rate_limit_per_minute=0)


def test_importing_the_package_is_light():
    import subprocess
    import sys

    code = ("import sys, zonos_lab.emulator as e; e.Emulator; e.EmulatorConfig; e.FaultPlan; e.create_app; "
            "print(sorted(m for m in ('piper', 'onnxruntime', 'zonos_lab.emulator.engine') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
