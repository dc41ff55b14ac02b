"""GenerationParams follows the spec: names, defaults, ranges, enums, JSON shape, typed errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zonos_lab import GenerationParams, InvalidParameter
from zonos_lab.params import (
    FIELD_SPECS,
    FRAME_RATE,
    LANGUAGES,
    MAX_TEXT_CHARS,
    frames_to_seconds,
    seconds_to_frames,
)

URL = "https://pub-582b7213209642b9b995c96c95a30381.r2.dev/Reference.wav"
SPEC = Path(__file__).resolve().parents[1].parent / "shared" / "spec" / "zonos-2-api.md"

SPEC_EXAMPLE = {
    "reference_audio_url": URL,
    "text": "Hello, this is a sample of my cloned voice speaking naturally.",
    "language": "en_us",
    "accurate_mode": True,
    "clean_speaker_background": False,
    "temperature": 1.15,
    "top_p": 0,
    "min_p": 0.18,
    "top_k": 106,
}


def test_defaults_match_spec_example() -> None:
    p = GenerationParams(reference_audio_url=URL)
    assert p.to_request_json() == json.loads(json.dumps(SPEC_EXAMPLE))


def test_spec_example_round_trips() -> None:
    assert GenerationParams(**SPEC_EXAMPLE).to_request_json() == SPEC_EXAMPLE


def test_unset_optional_fields_are_left_out_and_set_ones_sent() -> None:
    body = GenerationParams(reference_audio_url=URL).to_request_json()
    assert "max_tokens" not in body and "seed" not in body
    assert None not in body.values()
    body = GenerationParams(reference_audio_url=URL, max_tokens=100, seed=0).to_request_json()
    assert body["max_tokens"] == 100 and body["seed"] == 0


def test_field_table_matches_spec() -> None:
    assert list(FIELD_SPECS) == [
        "reference_audio_url", "text", "language", "accurate_mode", "clean_speaker_background",
        "temperature", "top_p", "min_p", "top_k", "max_tokens", "seed",
    ]
    assert LANGUAGES == ("en_us", "en_gb", "fr_fr", "de", "es", "it", "pt_br", "ja", "cmn", "ko")
    ranges = {n: (s.minimum, s.maximum) for n, s in FIELD_SPECS.items() if s.minimum is not None}
    assert ranges == {"temperature": (0, 2), "top_p": (0, 1), "min_p": (0, 1), "top_k": (0, 2048),
                      "max_tokens": (1, 6144), "seed": (0, 2147483647)}
    if SPEC.exists():  # the spec page itself lists every field name
        text = SPEC.read_text()
        for name in FIELD_SPECS:
            assert f"| {name} |" in text


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("temperature", 2.01, "0 to 2"),
        ("temperature", -0.1, "0 to 2"),
        ("temperature", float("nan"), "nan"),
        ("temperature", float("inf"), "inf"),
        ("temperature", True, "boolean"),
        ("top_p", 1.5, "0 to 1"),
        ("min_p", -1, "0 to 1"),
        ("top_k", 2049, "0 to 2048"),
        ("top_k", 1.5, "integer"),
        ("top_k", False, "boolean"),
        ("top_k", "5", "integer"),
        ("max_tokens", 0, "1 to 6144"),
        ("max_tokens", 6145, "1 to 6144"),
        ("seed", -1, "0 to 2147483647"),
        ("seed", 2**31, "0 to 2147483647"),
        ("language", "en", "'en_us'"),
        ("language", "EN_US", "'en_us'"),
        ("accurate_mode", 1, "true or false"),
        ("accurate_mode", "yes", "true or false"),
        ("text", "", "empty"),
        ("text", "   ", "empty"),
        ("text", "a" * (MAX_TEXT_CHARS + 1), "characters"),
        ("reference_audio_url", "ftp://x.org/a.wav", "http"),
        ("reference_audio_url", "/home/me/voice.wav", "http"),
        ("reference_audio_url", "https://", "http"),
    ],
)
def test_bad_values_raise_typed_error_naming_field_value_and_range(field: str, value: object, needle: str) -> None:
    with pytest.raises(InvalidParameter) as info:
        GenerationParams(**{"reference_audio_url": URL, field: value})
    err = info.value
    assert isinstance(err, ValueError)
    assert err.field == field
    assert needle in str(err)
    assert str(err).startswith(f"{field}=")


def test_missing_reference_and_unknown_field() -> None:
    with pytest.raises(InvalidParameter) as info:
        GenerationParams()
    assert info.value.field == "reference_audio_url" and "required" in str(info.value)
    with pytest.raises(InvalidParameter) as info:
        GenerationParams(reference_audio_url=URL, temprature=1.0)
    assert "temprature" in str(info.value) and "temperature" in str(info.value)


def test_several_problems_are_all_reported() -> None:
    with pytest.raises(InvalidParameter) as info:
        GenerationParams(reference_audio_url=URL, temperature=9, top_k=-1)
    names = [p[0] for p in info.value.problems]
    assert names == ["temperature", "top_k"]


def test_integral_float_accepted_for_int_field_and_int_for_float() -> None:
    p = GenerationParams(reference_audio_url=URL, top_k=5.0, temperature=1)
    assert p.top_k == 5 and isinstance(p.top_k, int)
    assert p.temperature == 1.0 and isinstance(p.temperature, float)


def test_frozen_replace_and_fingerprint() -> None:
    p = GenerationParams(reference_audio_url=URL, seed=1)
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen error type
        p.seed = 2  # type: ignore[misc]
    q = p.replace(seed=2)
    assert q.seed == 2 and p.seed == 1
    assert p.fingerprint() != q.fingerprint()
    assert p.fingerprint() == GenerationParams(reference_audio_url=URL, seed=1).fingerprint()
    with pytest.raises(InvalidParameter):
        p.replace(temperature=5)


def test_mode_label() -> None:
    assert GenerationParams(reference_audio_url=URL).mode == "accurate"
    assert GenerationParams(reference_audio_url=URL, accurate_mode=False).mode == "expressive"


def test_frames_seconds() -> None:
    assert math.isclose(FRAME_RATE, 86.1328125)
    assert math.isclose(frames_to_seconds(6144), 6144 / 86.1328125)
    assert seconds_to_frames(frames_to_seconds(862)) == 862
    assert seconds_to_frames(0) == 0


@given(st.integers(min_value=1, max_value=6144))
def test_frames_round_trip(frames: int) -> None:
    assert seconds_to_frames(frames_to_seconds(frames)) == frames


@given(st.floats(min_value=0, max_value=2), st.floats(min_value=0, max_value=1),
       st.integers(min_value=0, max_value=2048))
def test_valid_values_accepted(t: float, p: float, k: int) -> None:
    g = GenerationParams(reference_audio_url=URL, temperature=t, top_p=p, min_p=p, top_k=k)
    assert g.to_request_json()["top_k"] == k
