"""Speaker similarity: cosine of Resemblyzer d-vectors (extra ``[speaker]``: resemblyzer + torch CPU).

Reference embeddings are cached per process by (path, sha256), so a sweep over one reference
embeds it once per worker.

Example:
    >>> from zonos_lab.analysis.metrics_speaker import speaker_similarity   # doctest: +SKIP
    >>> speaker_similarity("take.wav", "data/reference/en_us_jfk.flac")     # doctest: +SKIP
    0.83
"""

from __future__ import annotations

import sys
import types
import warnings
from collections.abc import Mapping
from functools import cache, lru_cache
from typing import Any

import numpy as np

from zonos_lab.analysis.metrics_core import Clip

__all__ = ["compute_speaker", "embed", "import_resemblyzer", "speaker_similarity"]

RATE = 16000


def _install_pkg_resources_shim() -> None:
    """webrtcvad (a resemblyzer dependency) imports ``pkg_resources`` only to read its own version.

    setuptools ≥ 81 no longer ships ``pkg_resources``; when it is missing, register a minimal
    stand-in (``get_distribution(name).version`` via importlib.metadata) so resemblyzer imports.
    """
    try:
        import pkg_resources  # noqa: F401
        return
    except ImportError:
        pass
    from importlib import metadata

    shim = types.ModuleType("pkg_resources")

    class _Dist:
        def __init__(self, name: str) -> None:
            self.project_name = name
            try:
                self.version = metadata.version(name)
            except metadata.PackageNotFoundError:
                self.version = "0"

    shim.get_distribution = _Dist  # type: ignore[attr-defined]
    shim.__dict__["__zonos_lab_shim__"] = True
    sys.modules["pkg_resources"] = shim


def import_resemblyzer() -> Any:
    """Import resemblyzer (installing the pkg_resources shim first when needed)."""
    import torch  # noqa: F401  (fail here, with torch named, when torch is missing)

    _install_pkg_resources_shim()
    with warnings.catch_warnings():  # resemblyzer imports scipy.ndimage.morphology (deprecated)
        warnings.simplefilter("ignore", DeprecationWarning)
        import resemblyzer

    return resemblyzer


@cache
def _encoder() -> Any:
    import torch

    from zonos_lab.analysis.metrics_core import ort_threads

    if ort_threads() == 1:
        torch.set_num_threads(1)
    resemblyzer = import_resemblyzer()
    return resemblyzer.VoiceEncoder(device="cpu", verbose=False)


def embed(audio: np.ndarray, sr: int) -> np.ndarray:
    """The L2-normalised d-vector (256 floats) of mono audio.

    Example:
        >>> embed(np.random.default_rng(0).normal(0, .1, 32000).astype("float32"), 16000).shape  # doctest: +SKIP
        (256,)
    """
    resemblyzer = import_resemblyzer()
    wav = Clip(audio, sr).at(RATE)
    processed = resemblyzer.preprocess_wav(wav)  # volume normalisation + long-silence trimming
    if len(processed) < RATE // 2:  # trimming removed (almost) everything: use the raw audio
        processed = wav
    emb = _encoder().embed_utterance(processed.astype(np.float32))
    return emb / (np.linalg.norm(emb) or 1.0)


@lru_cache(maxsize=64)
def _reference_embedding(path: str, sha256: str | None) -> np.ndarray:
    clip = Clip.load(path)
    return embed(clip.y, clip.sr)


def speaker_similarity(audio_path: str, reference_path: str) -> float:
    """Cosine similarity of the d-vectors of two files.

    Example:
        >>> speaker_similarity("a.wav", "b.wav")  # doctest: +SKIP
        0.91
    """
    a = Clip.load(audio_path)
    return float(np.dot(embed(a.y, a.sr), _reference_embedding(str(reference_path), None)))


def compute_speaker(clip: Clip, ctx: Mapping[str, Any]) -> dict[str, Any]:
    """``speaker_similarity`` of the take vs ``ctx["reference_path"]`` (NA when no local reference)."""
    ref = ctx.get("reference_path")
    if not ref:
        return {"speaker_similarity": None}
    ref_emb = _reference_embedding(str(ref), ctx.get("reference_sha256"))
    return {"speaker_similarity": float(np.dot(embed(clip.y, clip.sr), ref_emb))}
