"""Property tests for the Zonos 2 sampling pipeline (zonos_lab.emulator.sampler)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from zonos_lab.emulator.sampler import filter_logits, sample

finite = st.floats(min_value=-20.0, max_value=20.0, allow_nan=False, allow_infinity=False)
logit_rows = arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(1, 40)), elements=finite)
temps = st.floats(min_value=0.05, max_value=2.0)
top_ks = st.integers(0, 50)
top_ps = st.floats(min_value=0.0, max_value=1.0)
min_ps = st.floats(min_value=0.0, max_value=1.0)

SETTINGS = settings(max_examples=150, deadline=None)


def _kw(t: float, k: int, p: float, m: float) -> dict:
    return dict(temperature=t, top_k=k, top_p=p, min_p=m)


@SETTINGS
@given(logit_rows, temps, top_ks, top_ps, min_ps)
def test_rows_are_distributions(logits, t, k, p, m):
    probs = filter_logits(logits, **_kw(t, k, p, m))
    assert probs.shape == logits.shape
    assert np.all(probs >= 0)
    np.testing.assert_allclose(probs.sum(axis=-1), 1.0, rtol=0, atol=1e-9)


@SETTINGS
@given(logit_rows, temps, top_ps, min_ps, st.integers(0, 2**31 - 1))
def test_top_k_1_is_argmax(logits, t, p, m, seed):
    draws = sample(logits, **_kw(t, 1, p, m), generator=np.random.default_rng(seed))
    # with ties at the maximum every tied token is a valid argmax
    assert np.all(logits[np.arange(len(logits)), draws] == logits.max(axis=-1))


@SETTINGS
@given(logit_rows, temps, top_ks, top_ps)
def test_min_p_1_keeps_only_modal_tokens(logits, t, k, p):
    probs = filter_logits(logits, **_kw(t, k, p, 1.0))
    unfiltered = filter_logits(logits, **_kw(t, 0, 0.0, 0.0))
    for row, ref in zip(probs, unfiltered, strict=True):
        kept = np.flatnonzero(row > 0)
        assert len(kept) >= 1
        assert np.all(ref[kept] == ref.max())  # only the modal token(s) survive


@SETTINGS
@given(logit_rows, temps, top_ks, top_ps, min_ps, st.integers(0, 2**31 - 1))
def test_same_seed_same_draws(logits, t, k, p, m, seed):
    a = sample(logits, **_kw(t, k, p, m), generator=np.random.default_rng(seed))
    b = sample(logits, **_kw(t, k, p, m), generator=np.random.default_rng(seed))
    assert np.array_equal(a, b)
    probs = filter_logits(logits, **_kw(t, k, p, m))
    assert np.all(probs[np.arange(len(logits)), a] > 0)  # never draws a filtered token


@SETTINGS
@given(arrays(np.float64, st.integers(2, 40), elements=finite), st.floats(min_value=0.01, max_value=0.99))
def test_top_p_keeps_smallest_nucleus(logits, top_p):
    base = filter_logits(logits, **_kw(1.0, 0, 0.0, 0.0))
    probs = filter_logits(logits, **_kw(1.0, 0, top_p, 0.0))
    kept = probs > 0
    mass = base[kept].sum()
    assert mass >= top_p - 1e-9 or np.isclose(mass, 1.0)  # the nucleus reaches top_p
    # every kept token is at least as likely as every dropped one
    if (~kept).any():
        assert base[kept].min() >= base[~kept].max()
        # and it is the smallest such set: without its least likely member it falls short
        assert mass - base[kept].min() < top_p + 1e-9


@SETTINGS
@given(logit_rows, st.integers(1, 50))
def test_top_k_keeps_at_most_k_distinct_values(logits, k):
    probs = filter_logits(logits, **_kw(1.0, k, 0.0, 0.0))
    for row, lg in zip(probs, logits, strict=True):
        kept = lg[row > 0]
        kth = np.sort(lg)[::-1][min(k, len(lg)) - 1]
        assert np.all(kept >= kth)
        assert np.sum(lg > kth) < k or k >= len(lg)


@SETTINGS
@given(arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(2, 30)),
              elements=st.floats(-5, 5, allow_nan=False)), top_ks, top_ps, min_ps)
def test_temperature_to_zero_is_greedy(logits, k, p, m):
    # distinct values so the argmax is unique
    logits = logits + np.arange(logits.shape[-1]) * 1e-3
    for t in (0.0, 1e-6):
        probs = filter_logits(logits, **_kw(t, k, p, m))
        np.testing.assert_allclose(probs.max(axis=-1), 1.0, atol=1e-9)
        assert np.array_equal(probs.argmax(axis=-1), logits.argmax(axis=-1))


def test_higher_temperature_flattens():
    logits = -0.5 * (np.arange(-20, 21) / 3.0) ** 2
    ent = []
    for t in (0.5, 1.0, 2.0):
        pr = filter_logits(logits, **_kw(t, 0, 0.0, 0.0))
        ent.append(-(pr[pr > 0] * np.log(pr[pr > 0])).sum())
    assert ent[0] < ent[1] < ent[2]


def test_empty_row_falls_back_to_greedy():
    logits = np.array([[-np.inf, -np.inf, -np.inf], [0.0, 3.0, 1.0]])
    probs = filter_logits(logits, **_kw(1.0, 0, 0.0, 0.0))
    assert probs[0].tolist() == [1.0, 0.0, 0.0]
    assert probs[1].argmax() == 1


def test_draw_frequencies_follow_probabilities():
    logits = np.log(np.array([0.6, 0.3, 0.1]))
    draws = sample(np.tile(logits, (20000, 1)), **_kw(1.0, 0, 0.0, 0.0), generator=np.random.default_rng(3))
    freq = np.bincount(draws, minlength=3) / len(draws)
    np.testing.assert_allclose(freq, [0.6, 0.3, 0.1], atol=0.02)


def test_rejects_scalar_logits():
    with pytest.raises(ValueError):
        filter_logits(np.float64(1.0), **_kw(1.0, 0, 0.0, 0.0))
