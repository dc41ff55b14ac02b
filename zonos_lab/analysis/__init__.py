"""Analysis of takes: metrics (cached, parallel), paired comparisons, reproducibility and plots.

Everything is loaded lazily: importing this package imports no numerical library.

Example:
    >>> from zonos_lab import analysis
    >>> sorted(analysis.metric_info("core"))
    ['dnsmos', 'f0', 'loudness', 'signal', 'vad']
    >>> scored = analysis.analyze(results, metrics=["core", "speaker", "asr"])    # doctest: +SKIP
    >>> analysis.compare(scored, by="mode", metric=["speaker_similarity", "wer"])  # doctest: +SKIP
"""

from __future__ import annotations

from zonos_lab._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "analyze": "zonos_lab.analysis.pipeline",
    "metric_info": "zonos_lab.analysis.metrics",
    "metric_columns": "zonos_lab.analysis.metrics",
    "resolve_metrics": "zonos_lab.analysis.metrics",
    "METRICS": "zonos_lab.analysis.metrics",
    "METRIC_SETS": "zonos_lab.analysis.metrics",
    "MetricCache": "zonos_lab.analysis.cache",
    "default_cache_dir": "zonos_lab.analysis.cache",
    "compare": "zonos_lab.analysis.stats",
    "summarize": "zonos_lab.analysis.stats",
    "pair_table": "zonos_lab.analysis.stats",
    "bootstrap_ci": "zonos_lab.analysis.stats",
    "reproducibility": "zonos_lab.analysis.repeats",
    "mel_distance": "zonos_lab.analysis.repeats",
    "spectrogram": "zonos_lab.analysis.plots",
    "spectrogram_grid": "zonos_lab.analysis.plots",
    "metric_plot": "zonos_lab.analysis.plots",
    "paired_plot": "zonos_lab.analysis.plots",
    "normalize_text": "zonos_lab.analysis.textnorm",
    "prepare": "zonos_lab.analysis.frame",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
