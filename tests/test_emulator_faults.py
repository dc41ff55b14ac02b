"""Fault injection: the plan's grammar, its seeded decisions, and each fault against the real client."""

from __future__ import annotations

import time

import httpx
import pytest
from emulator_fixtures import DATA, body, headers, poll, post, start, wait_idle

from zonos_lab.client import ExponentialPollPolicy, ZonosClient
from zonos_lab.emulator import FaultPlan
from zonos_lab.emulator.faults import JOB_KINDS, KINDS, POST_KINDS, STATUS_KINDS
from zonos_lab.errors import (
    GenerationError,
    GenerationFailed,
    InvalidParameter,
    RateLimited,
    ServerError,
    SubmissionUncertain,
    ZonosError,
)
from zonos_lab.params import GenerationParams

FAST = ExponentialPollPolicy(default_first=0.05, min_delay=0.02, max_delay=0.2, jitter=0)


def params(seed: int = 1) -> GenerationParams:
    # GenerationParams needs http(s); an unreachable reference is fine for POST-level faults
    return GenerationParams(reference_audio_url="http://127.0.0.1:9/ref.wav", seed=seed)


def client(emu, **kw) -> ZonosClient:
    kw.setdefault("poll_policy", FAST)
    return ZonosClient(api_key=emu.api_key, base_url=emu.base_url, **kw)


# ---------------------------------------------------------------- the plan
def test_parse_rates_schedules_and_options():
    plan = FaultPlan.parse("post_429=0.1,post_500=0.05,drop=0.05,failed=0.05,error=0.05,slow_status=0.1")
    assert plan.rates == {"post_429": 0.1, "post_500": 0.05, "drop": 0.05, "failed": 0.05, "error": 0.05,
                          "slow_status": 0.1}
    plan = FaultPlan.parse("post_429@3,7;drop_after@5;failed@2-4,9,seed=5,retry_after=0.5,slow_seconds=0.25")
    assert plan.schedule == {"post_429": {3, 7}, "drop_after": {5}, "failed": {2, 3, 4, 9}}
    assert (plan.seed, plan.retry_after, plan.slow_seconds) == (5, 0.5, 0.25)
    assert FaultPlan.parse(plan.to_spec()) == plan
    assert not FaultPlan.parse(None).active and not FaultPlan.parse("none").active and plan.active
    assert set(KINDS) == set(POST_KINDS) | set(JOB_KINDS) | set(STATUS_KINDS)


@pytest.mark.parametrize("spec", ["bogus=0.1", "post_429=1.5", "post_429=x", "post_429@0", "post_429@5-2",
                                  "nonsense", "post_429=0.6,drop=0.6", "failed@two"])
def test_bad_specs_raise_invalid_parameter_naming_faults(spec):
    with pytest.raises(InvalidParameter) as info:
        FaultPlan.parse(spec)
    assert info.value.field == "faults" and "post_429" in info.value.allowed


def test_schedule_counts_events_and_beats_rates():
    inj = FaultPlan.parse("post_500@2;post_429=1").injector()
    assert [inj.on_post(n) for n in (1, 2, 3)] == ["post_429", "post_500", "post_429"]
    inj = FaultPlan.parse("error@1;status_500@2").injector()
    assert [inj.on_job(n) for n in (1, 2)] == ["error", None]
    assert [inj.on_status(n) for n in (1, 2, 3)] == [None, "status_500", None]


def test_rates_are_seeded_and_roughly_right():
    plan = FaultPlan.parse("post_429=0.3,drop=0.1", seed=42)
    a = [plan.injector().on_post(n) for n in range(1, 3)]
    inj1, inj2 = plan.injector(), plan.injector()
    seq1 = [inj1.on_post(n) for n in range(1, 3001)]
    seq2 = [inj2.on_post(n) for n in range(1, 3001)]
    assert seq1 == seq2 and a == seq1[:2]
    assert abs(seq1.count("post_429") / 3000 - 0.3) < 0.04 and abs(seq1.count("drop") / 3000 - 0.1) < 0.03
    other = FaultPlan.parse("post_429=0.3,drop=0.1", seed=43).injector()
    assert [other.on_post(n) for n in range(1, 3001)] != seq1
    # groups have their own streams: job decisions do not shift POST decisions
    inj3 = plan.injector()
    for n in range(1, 100):
        inj3.on_job(n)
    assert [inj3.on_post(n) for n in range(1, 3001)] == seq1


# ---------------------------------------------------------------- POST faults against the client
def test_post_429_is_retried_after_retry_after():
    emu = start(faults="post_429@1,retry_after=0.3", data_root=DATA)
    try:
        with client(emu, max_retries=2) as c:
            t0 = time.monotonic()
            job = c.submit(params())
            assert time.monotonic() - t0 >= 0.3
        s = emu.stats()
        assert s["posts"] == 2 and s["accepted"] == 1 and s["faults"] == {"post_429": 1}
        assert s["submissions"] == {params().fingerprint(): 1} and job.request_id
        r = httpx.post(emu.submit_url, json=body(), headers=headers(emu))
        assert r.status_code == 202
        emu.configure(faults="post_429@1,retry_after=2")
        with client(emu, max_retries=0) as c, pytest.raises(RateLimited) as info:
            c.submit(params())
        assert info.value.retry_after == 2
    finally:
        emu.stop()


def test_post_500_accepts_nothing():
    emu = start(faults="post_500@1", data_root=DATA)
    try:
        with client(emu) as c, pytest.raises(ServerError):
            c.submit(params())
        s = emu.stats()
        assert s["posts"] == 1 and s["accepted"] == 0 and s["charges"] == 0
    finally:
        emu.stop()


def test_drop_before_answer_is_uncertain_and_not_charged():
    emu = start(faults="drop@1", data_root=DATA)
    try:
        with client(emu) as c:
            with pytest.raises(SubmissionUncertain):
                c.submit(params())
            assert c.submit(params(2)).request_id  # the connection pool recovers
        s = emu.stats()
        assert s["posts"] == 2 and s["accepted"] == 1 and s["faults"] == {"drop": 1}
        emu.configure(faults="drop@1")
        emu.reset()
        with pytest.raises(httpx.TransportError):  # a raw client sees the connection close
            httpx.post(emu.submit_url, json=body(), headers=headers(emu))
        assert emu.stats()["accepted"] == 0
    finally:
        emu.stop()


def test_drop_after_processes_and_charges_but_never_answers():
    emu = start(faults="drop_after@1", data_root=DATA)
    try:
        with client(emu) as c, pytest.raises(SubmissionUncertain):
            c.submit(GenerationParams(reference_audio_url="http://127.0.0.1:9/r.wav", seed=1))
        s = wait_idle(emu)
        assert s["accepted"] == 1 and s["charged_jobs"] == 1 and s["jobs"]["FAILED"] == 1  # charged anyway
        emu.reset()
        with pytest.raises(httpx.TransportError):
            post(emu, body(seed=3))
        s = wait_idle(emu)
        assert s["jobs"]["COMPLETED"] == 1 and s["charges"] == 1 and s["polls"] == {}
    finally:
        emu.stop()


# ---------------------------------------------------------------- job faults
def test_failed_and_error_faults():
    emu = start(faults="failed@1;error@2", data_root=DATA)
    try:
        a = poll(emu, post(emu, body(seed=1)).json()["request_id"])
        b = poll(emu, post(emu, body(seed=2)).json()["request_id"])
        c_ = poll(emu, post(emu, body(seed=3)).json()["request_id"])
        assert (a["status"], b["status"], c_["status"]) == ("FAILED", "ERROR", "COMPLETED")
        assert "emulated fault" in a["error"] and "not charged" in b["error"]
        assert a["output"] is None and b["output"] is None
        s = emu.stats()
        assert s["charged_jobs"] == 2 and s["faults"] == {"failed": 1, "error": 1}
        emu.configure(faults="failed@1;error@2")
        with client(emu) as c:
            with pytest.raises(GenerationFailed) as f:
                c.wait(c.submit(params(7)), timeout=20)
            assert not isinstance(f.value, GenerationError) and "emulated fault" in f.value.error
            with pytest.raises(GenerationError):
                c.wait(c.submit(params(8)), timeout=20)
    finally:
        emu.stop()


# ---------------------------------------------------------------- status faults
def test_slow_status_and_status_500():
    emu = start(faults="slow_status@1;status_500@2,slow_seconds=0.4", data_root=DATA)
    try:
        rid = post(emu, body()).json()["request_id"]
        url = f"{emu.base_url}/v2/requests/status/{rid}"
        t0 = time.monotonic()
        assert httpx.get(url, headers=headers(emu)).status_code == 200
        assert time.monotonic() - t0 >= 0.4
        r = httpx.get(url, headers=headers(emu))
        assert r.status_code == 500 and r.json()["error"] == "Internal Server Error"
        emu.configure(faults="status_500@1,2")
        with client(emu, max_retries=3) as c:
            st = c.status(rid)  # status GETs are idempotent: retried through the 500s
        assert st.request_id == rid
        s = emu.stats()
        assert s["faults"] == {"slow_status": 1, "status_500": 3}
        emu.configure(faults="status_500@1-10")
        emu.reset()
        rid = post(emu, body()).json()["request_id"]
        with client(emu, max_retries=1) as c, pytest.raises(ServerError):
            c.status(rid)
    finally:
        emu.stop()


# ---------------------------------------------------------------- nothing paid twice
def test_random_faults_never_double_charge_and_replay_identically():
    spec = "post_429=0.2,post_500=0.1,drop=0.1,drop_after=0.1,failed=0.2,error=0.2,status_500=0.2,retry_after=0.01"

    def run():
        emu.reset()
        outcomes = []
        with client(emu, max_retries=4) as c:
            for i in range(25):
                p = params(i).replace(reference_audio_url=ref_url)
                try:
                    job = c.submit(p)
                    outcomes.append(c.wait(job, timeout=20).status)
                except ZonosError as exc:
                    outcomes.append(type(exc).__name__)
        return outcomes, wait_idle(emu)

    from zonos_lab.references import ReferenceServer

    emu = start(faults=FaultPlan.parse(spec, seed=9), concurrency=1)
    try:
        with ReferenceServer() as refs:
            ref_url = refs.url_for(DATA / "voices" / "AmericanFemale.mp3")
            first, s1 = run()
            second, _s2 = run()
        assert first == second  # same seed, same story
        assert {"SubmissionUncertain", "GenerationFailed", "GenerationError"} <= set(first)
        assert max(s1["submissions"].values()) == 1  # the client never resubmits a POST that reached the server
        assert s1["charged_jobs"] == s1["jobs"]["COMPLETED"] + s1["jobs"]["FAILED"]
        assert s1["charges"] == s1["charged_jobs"] and s1["jobs"]["ERROR"] >= first.count("GenerationError")
        assert s1["posts"] > 25 and s1["faults"].get("post_429", 0) > 0
    finally:
        emu.stop()


def test_cli_refuses_a_bad_fault_spec(capsys):
    from zonos_lab.emulator import cli

    assert cli.main(["--port", "0", "--faults", "post_429=2"]) == 2
    err = capsys.readouterr().err
    assert "faults" in err and "post_429" in err
    assert cli.parse_latency("queue=0.5,processing=1") == {"queue_latency": 0.5, "processing_latency": 1.0}
    with pytest.raises(InvalidParameter):
        cli.parse_latency("soon")
