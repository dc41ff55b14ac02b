"""The request fields of the Zonos 2 API, exactly as the vendor's page gives them.

`GenerationParams` is the one place that knows every field's name, default, range and allowed
values. The client, the emulator, sweeps and the notebook panel all read them from here
(`FIELD_SPECS`), so a range is never written twice.

Example:
    >>> from zonos_lab import GenerationParams
    >>> p = GenerationParams(reference_audio_url="https://example.org/ref.wav", seed=7)
    >>> p.to_request_json()["seed"]
    7
    >>> "max_tokens" in p.to_request_json()      # unset optional fields are left out
    False
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from zonos_lab.errors import InvalidParameter

#: Text-normalisation language codes accepted by the service (spec: "Allowed values").
LANGUAGES: tuple[str, ...] = ("en_us", "en_gb", "fr_fr", "de", "es", "it", "pt_br", "ja", "cmn", "ko")
Language = Literal["en_us", "en_gb", "fr_fr", "de", "es", "it", "pt_br", "ja", "cmn", "ko"]

#: Output sample rate of Zonos 2 (DAC codec, 44.1 kHz mono).
SAMPLE_RATE: int = 44100
#: Codec hop size in samples: one audio frame ("token") per 512 samples.
HOP_LENGTH: int = 512
#: Audio frames per second: 44100 / 512 = 86.13.
FRAME_RATE: float = SAMPLE_RATE / HOP_LENGTH
#: Largest `max_tokens` the service accepts (6144 frames = 71.3 s).
MAX_TOKENS_LIMIT: int = 6144
#: Largest `seed` the service accepts.
MAX_SEED: int = 2_147_483_647
#: Longest text we send. The vendor page gives no limit; ZONOS2 cannot speak more than
#: MAX_TOKENS_LIMIT frames (71 s), which is about 1,000 characters of read speech, so longer
#: text is refused before any money is spent.
MAX_TEXT_CHARS: int = 1000
#: The service's built-in example text (used when `text` is omitted).
DEFAULT_TEXT: str = "Hello, this is a sample of my cloned voice speaking naturally."


@dataclass(frozen=True)
class FieldSpec:
    """Name, type, default and allowed values of one request field, as the spec gives them."""

    name: str
    type: type
    default: Any
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Any, ...] | None = None
    description: str = ""

    def allowed(self) -> str:
        """Human-readable allowed values, e.g. ``"0–2"`` or ``"'en_us', 'en_gb', …"``."""
        if self.choices is not None:
            return ", ".join(repr(c) for c in self.choices)
        if self.minimum is not None and self.maximum is not None:
            lo = int(self.minimum) if float(self.minimum).is_integer() else self.minimum
            hi = int(self.maximum) if float(self.maximum).is_integer() else self.maximum
            kind = "an integer" if self.type is int else "a number"
            return f"{kind} from {lo} to {hi} (inclusive)"
        if self.type is bool:
            return "true or false"
        if self.type is str:
            return "a string"
        return self.type.__name__


#: Every request field of the spec, in the spec's order.
FIELD_SPECS: dict[str, FieldSpec] = {
    s.name: s
    for s in (
        FieldSpec("reference_audio_url", str, None, required=True,
                  description="http(s) URL of the reference audio (MP3, OGG, WAV, M4A, AAC)."),
        FieldSpec("text", str, DEFAULT_TEXT, description="Text to synthesize in the cloned voice."),
        FieldSpec("language", str, "en_us", choices=LANGUAGES, description="Text-normalization language code."),
        FieldSpec("accurate_mode", bool, True,
                  description="True = closer voice match; false = more expressive delivery."),
        FieldSpec("clean_speaker_background", bool, False,
                  description="Mark the reference audio as having a clean background."),
        FieldSpec("temperature", float, 1.15, minimum=0.0, maximum=2.0,
                  description="Sampling temperature. Higher values increase randomness."),
        FieldSpec("top_p", float, 0.0, minimum=0.0, maximum=1.0,
                  description="Nucleus sampling probability. 0 disables nucleus sampling."),
        FieldSpec("min_p", float, 0.18, minimum=0.0, maximum=1.0,
                  description="Minimum-probability threshold: drops tokens with p < min_p * p_max."),
        FieldSpec("top_k", int, 106, minimum=0, maximum=2048,
                  description="Top-k sampling cutoff. 0 disables top-k sampling."),
        FieldSpec("max_tokens", int, None, minimum=1, maximum=MAX_TOKENS_LIMIT,
                  description="Maximum audio frames to generate (86.13 frames per second)."),
        FieldSpec("seed", int, None, minimum=0, maximum=MAX_SEED,
                  description="Random seed for reproducibility."),
    )
}

#: Field names that the service treats as sampling settings.
SAMPLING_FIELDS: tuple[str, ...] = ("temperature", "top_p", "min_p", "top_k")


def frames_to_seconds(frames: int | float) -> float:
    """Convert audio frames (`max_tokens`) to seconds at 86.13 frames/s.

    Example:
        >>> round(frames_to_seconds(6144), 2)
        71.33
    """
    return float(frames) / FRAME_RATE


def seconds_to_frames(seconds: float) -> int:
    """Convert seconds to the number of audio frames that covers them (rounded up).

    Example:
        >>> seconds_to_frames(10.0)
        862
    """
    return math.ceil(float(seconds) * FRAME_RATE - 1e-9)


def mode_label(accurate_mode: bool) -> str:
    """``"accurate"`` for ``accurate_mode=True``, ``"expressive"`` otherwise."""
    return "accurate" if accurate_mode else "expressive"


def _check_number(name: str, value: Any) -> Any:
    spec = FIELD_SPECS[name]
    if value is None:
        return value
    if isinstance(value, bool):
        raise ValueError(f"got a boolean ({value!r}); {name} must be {spec.allowed()}")
    if spec.type is int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int):
            raise ValueError(f"must be {spec.allowed()}, got {value!r}")
    else:
        if not isinstance(value, (int, float)):
            raise ValueError(f"must be {spec.allowed()}, got {value!r}")
        value = float(value)
        if math.isnan(value) or math.isinf(value):
            raise ValueError(f"must be {spec.allowed()}, got {value!r}")
    if (spec.minimum is not None and value < spec.minimum) or (spec.maximum is not None and value > spec.maximum):
        raise ValueError(f"{value!r} is out of range: allowed {spec.allowed()}")
    return value


class GenerationParams(BaseModel):
    """One Zonos 2 generation request, validated against the spec before anything is sent.

    Unset optional fields (`max_tokens`, `seed`) are left out of the JSON. Invalid values raise
    `zonos_lab.InvalidParameter` naming the field, the value and what is allowed.

    Example:
        >>> p = GenerationParams(reference_audio_url="https://x.org/a.wav", accurate_mode=False)
        >>> p.mode
        'expressive'
        >>> GenerationParams(reference_audio_url="https://x.org/a.wav", temperature=3)
        Traceback (most recent call last):
        ...
        zonos_lab.errors.InvalidParameter: temperature=3 is invalid: 3.0 is out of range: allowed a number from 0 to 2 (inclusive)
    """

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=False)

    reference_audio_url: str
    text: str = DEFAULT_TEXT
    language: Language = "en_us"
    accurate_mode: bool = True
    clean_speaker_background: bool = False
    temperature: float = 1.15
    top_p: float = 0.0
    min_p: float = 0.18
    top_k: int = 106
    max_tokens: int | None = None
    seed: int | None = None

    FIELDS: ClassVar[dict[str, FieldSpec]] = FIELD_SPECS

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise InvalidParameter.from_validation_error(exc, data) from None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GenerationParams:
        """Build from a plain dict (e.g. parsed JSON), with the same typed errors.

        Example:
            >>> GenerationParams.from_dict({"reference_audio_url": "https://x.org/a.wav"}).top_k
            106
        """
        return cls(**dict(data))

    @field_validator("reference_audio_url", mode="before")
    @classmethod
    def _check_url(cls, v: Any) -> str:
        if not isinstance(v, str):
            raise ValueError(f"must be an http(s) URL string, got {type(v).__name__}")
        parts = urlsplit(v.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(
                f"must be an http:// or https:// URL, got {v!r}; to use a local file, pass it to "
                "Lab(...).say(ref=...) which serves it to the emulator, or upload it for the cloud"
            )
        return v.strip()

    @field_validator("text", mode="before")
    @classmethod
    def _check_text(cls, v: Any) -> str:
        if not isinstance(v, str):
            raise ValueError(f"must be a string, got {type(v).__name__}")
        if not v.strip():
            raise ValueError("must not be empty (omit it to use the service's example sentence)")
        if len(v) > MAX_TEXT_CHARS:
            raise ValueError(
                f"is {len(v)} characters long; the service speaks at most {MAX_TOKENS_LIMIT} frames "
                f"(71 s), so at most {MAX_TEXT_CHARS} characters are accepted: split the text"
            )
        return v

    @field_validator("language", mode="before")
    @classmethod
    def _check_language(cls, v: Any) -> str:
        if v not in LANGUAGES:
            raise ValueError(f"must be one of {FIELD_SPECS['language'].allowed()}, got {v!r}")
        return v

    @field_validator("accurate_mode", "clean_speaker_background", mode="before")
    @classmethod
    def _check_bool(cls, v: Any) -> bool:
        if not isinstance(v, bool):
            raise ValueError(f"must be true or false, got {v!r}")
        return v

    @field_validator("temperature", "top_p", "min_p", "top_k", "max_tokens", "seed", mode="before")
    @classmethod
    def _check_numbers(cls, v: Any, info: Any) -> Any:
        return _check_number(info.field_name, v)

    # -- views -------------------------------------------------------------------------------

    @property
    def mode(self) -> str:
        """``"accurate"`` or ``"expressive"`` (from `accurate_mode`)."""
        return mode_label(self.accurate_mode)

    @property
    def max_seconds(self) -> float | None:
        """`max_tokens` in seconds, or None when unset."""
        return None if self.max_tokens is None else frames_to_seconds(self.max_tokens)

    def to_request_json(self) -> dict[str, Any]:
        """The JSON body the API expects: spec field names, unset optional fields left out.

        Example:
            >>> sorted(GenerationParams(reference_audio_url="https://x.org/a.wav").to_request_json())[:3]
            ['accurate_mode', 'clean_speaker_background', 'language']
        """
        body = self.model_dump(mode="json")
        return {k: v for k, v in body.items() if v is not None}

    def replace(self, **changes: Any) -> GenerationParams:
        """A copy with some fields changed, validated again.

        Example:
            >>> GenerationParams(reference_audio_url="https://x.org/a.wav").replace(seed=3).seed
            3
        """
        data = self.model_dump()
        data.update(changes)
        return GenerationParams(**data)

    def fingerprint(self) -> str:
        """A stable sha256 of the request JSON (sorted keys), for caching and de-duplication."""
        import hashlib
        import json

        raw = json.dumps(self.to_request_json(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(raw.encode()).hexdigest()
