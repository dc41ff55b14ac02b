"""The Zonos 2 sampling pipeline, in ZONOS2's order, as a small pure-numpy module.

Order (as Zyphra's ZONOS2 ``tts/sampler.py``, minus the repetition penalty the API does not expose):
temperature → top_k on logits (``k < 1`` = off) → softmax → top_p (``0`` = off) → min_p (drop
``p < min_p · p_max``) → greedy fallback when a row is left empty → multinomial draw from a
generator seeded by the request's ``seed``. ``temperature == 0`` is greedy.

The emulator's speech engine draws its prosody codes with :func:`sample`, so the request's
sampling fields act on the output the way they act on a codec language model.

Example:
    >>> import numpy as np
    >>> logits = np.array([[2.0, 1.0, 0.5, -1.0]])
    >>> filter_logits(logits, temperature=1.0, top_k=1, top_p=0.0, min_p=0.0).tolist()
    [[1.0, 0.0, 0.0, 0.0]]
    >>> sample(logits, temperature=1.0, top_k=0, top_p=0.0, min_p=0.0,
    ...        generator=np.random.default_rng(0)).shape
    (1,)
"""

from __future__ import annotations

import numpy as np

__all__ = ["filter_logits", "sample"]


def _greedy(logits: np.ndarray) -> np.ndarray:
    """One-hot rows at the argmax (first index on ties; index 0 for a row of -inf/NaN)."""
    safe = np.where(np.isnan(logits), -np.inf, logits)
    idx = np.argmax(safe, axis=-1)
    out = np.zeros(logits.shape, dtype=np.float64)
    np.put_along_axis(out, idx[..., None], 1.0, axis=-1)
    return out


def filter_logits(logits: np.ndarray, *, temperature: float, top_k: int, top_p: float,
                  min_p: float) -> np.ndarray:
    """Turn logits ``[..., V]`` into the probabilities ZONOS2 would sample from.

    Args:
        logits: array whose last axis is the vocabulary (``-inf`` marks impossible tokens).
        temperature: divides the logits; ``0`` means greedy (one-hot at the argmax).
        top_k: keep the ``k`` largest logits (ties at the k-th value are kept); ``k < 1`` is off.
        top_p: keep the smallest set of most probable tokens whose mass reaches ``top_p``;
            ``0`` (or ``>= 1``) is off.
        min_p: drop tokens with ``p < min_p · p_max``; ``0`` is off.

    Returns:
        float64 probabilities of the same shape; every row sums to 1. A row that the filters
        leave empty falls back to greedy.

    Example:
        >>> import numpy as np
        >>> p = filter_logits(np.log(np.array([0.5, 0.3, 0.2])), temperature=1.0, top_k=0,
        ...                   top_p=0.0, min_p=0.5)
        >>> np.round(p, 3).tolist()            # 0.2 < 0.5 * 0.5 is dropped
        [0.625, 0.375, 0.0]
    """
    x = np.asarray(logits, dtype=np.float64)
    if x.ndim == 0:
        raise ValueError("logits must have at least one axis (the vocabulary)")
    vocab = x.shape[-1]
    if vocab == 0:
        raise ValueError("logits have an empty vocabulary axis")
    if temperature <= 0.0:
        return _greedy(x)
    x = np.where(np.isnan(x), -np.inf, x) / float(temperature)

    # top_k on logits
    k = int(top_k)
    if 1 <= k < vocab:
        kth = -np.partition(-x, k - 1, axis=-1)[..., k - 1:k]
        x = np.where(x < kth, -np.inf, x)

    # softmax (rows of all -inf become zeros, handled by the fallback)
    row_max = np.max(x, axis=-1, keepdims=True)
    finite_max = np.where(np.isfinite(row_max), row_max, 0.0)
    with np.errstate(invalid="ignore", over="ignore"):
        e = np.exp(x - finite_max)
    e = np.where(np.isfinite(e), e, 0.0)
    total = e.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        probs = np.where(total > 0, e / np.where(total > 0, total, 1.0), 0.0)

    # top_p: smallest nucleus whose cumulative mass reaches top_p
    if 0.0 < top_p < 1.0:
        order = np.argsort(-probs, axis=-1, kind="stable")
        sorted_p = np.take_along_axis(probs, order, axis=-1)
        cum = np.cumsum(sorted_p, axis=-1)
        remove_sorted = (cum - sorted_p) > top_p
        remove = np.zeros_like(remove_sorted)
        np.put_along_axis(remove, order, remove_sorted, axis=-1)
        probs = np.where(remove, 0.0, probs)

    # min_p: drop p < min_p * p_max
    if min_p > 0.0:
        p_max = probs.max(axis=-1, keepdims=True)
        probs = np.where(probs < min_p * p_max, 0.0, probs)

    # renormalise; greedy fallback for empty rows
    total = probs.sum(axis=-1, keepdims=True)
    empty = ~(total > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        probs = probs / np.where(empty, 1.0, total)
    if np.any(empty):
        probs = np.where(empty, _greedy(np.asarray(logits, dtype=np.float64)), probs)
    return probs


def sample(logits: np.ndarray, *, temperature: float, top_k: int, top_p: float, min_p: float,
           generator: np.random.Generator) -> np.ndarray:
    """Draw one token per row of ``logits [..., V]`` through :func:`filter_logits`.

    Uses exactly one ``generator.random`` call of the batch shape, so the same seed and the same
    inputs always give the same draws. Tokens with probability 0 are never drawn.

    Example:
        >>> import numpy as np
        >>> g = lambda: np.random.default_rng(42)
        >>> lg = np.zeros((3, 10))
        >>> kw = dict(temperature=1.0, top_k=0, top_p=0.0, min_p=0.0)
        >>> (sample(lg, generator=g(), **kw) == sample(lg, generator=g(), **kw)).all()
        np.True_
    """
    probs = filter_logits(logits, temperature=temperature, top_k=top_k, top_p=top_p, min_p=min_p)
    cdf = np.cumsum(probs, axis=-1)
    u = generator.random(size=probs.shape[:-1]) * cdf[..., -1]
    idx = np.sum(cdf <= u[..., None], axis=-1)
    # guard against floating round-off at the top of the cdf: take the last token with p > 0
    last_nonzero = probs.shape[-1] - 1 - np.argmax(probs[..., ::-1] > 0, axis=-1)
    return np.minimum(idx, last_nonzero).astype(np.int64)
