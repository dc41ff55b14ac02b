"""Which channels BS.1770 loudness sums, and with what weight, from the file's channel names.

ITU-R BS.1770-4 sums the K-weighted power of each full-range channel with weight 1.0, or 1.41
for channels at 60–120° azimuth (the surrounds, elevation under 30°), and leaves the LFE out.
`pyloudnorm` applies those weights by position (L, R, C, Ls, Rs) and takes at most five channels,
so a 5.1 file (six channels), or a quad file (whose third and fourth channels are both surrounds),
needs its channels put in the right places first. `bs1770_input` does that from the names FFmpeg
reports (`zonos_lab.audio.decode_channels`). A weight is moved to another position by scaling the
channel's samples by ``sqrt(weight / position weight)``, which scales its power by exactly that ratio.

Example:
    >>> import numpy as np
    >>> x = np.ones((6, 4))
    >>> bs1770_input(x, ("FL", "FR", "FC", "LFE", "SL", "SR")).shape   # 5.1: the LFE is left out
    (5, 4)
"""

from __future__ import annotations

import numpy as np

__all__ = ["LFE", "POSITION_WEIGHTS", "bs1770_input", "bs1770_weights"]

#: pyloudnorm's channel weights, by position
POSITION_WEIGHTS = (1.0, 1.0, 1.0, 1.41, 1.41)
#: FFmpeg's names of low-frequency-effects channels (not part of the loudness)
LFE = frozenset({"LFE", "LFE2", "LOW_FREQUENCY", "LOW_FREQUENCY_2"})
#: channels at 60–120° azimuth in the horizontal plane (BS.2051 positions of FFmpeg's names)
_SURROUND = frozenset({"SL", "SR", "SDL", "SDR", "WL", "WR"})
_BACK = frozenset({"BL", "BR"})  # ±110° in 5.x layouts (surrounds), ±135–150° when SL/SR exist too


def bs1770_weights(names: tuple[str, ...]) -> list[float | None]:
    """BS.1770 weight of each named channel (None: not summed, the LFE).

    Example:
        >>> bs1770_weights(("FL", "FR", "BL", "BR"))                       # quad: back = surround
        [1.0, 1.0, 1.41, 1.41]
        >>> bs1770_weights(("FL", "FR", "FC", "LFE", "BL", "BR", "SL", "SR"))   # 7.1: back is behind
        [1.0, 1.0, 1.0, None, 1.0, 1.0, 1.41, 1.41]
    """
    has_sides = any(n in ("SL", "SR") for n in names)
    weights: list[float | None] = []
    for n in names:
        if n in LFE:
            weights.append(None)
        elif n in _SURROUND or (n in _BACK and not has_sides):
            weights.append(1.41)
        else:
            weights.append(1.0)
    return weights


def bs1770_input(channels: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """The `channels` (shape ``(channels, samples)``) arranged so pyloudnorm weighs them as BS.1770 does.

    Channels FFmpeg could not name (``NONE``: a plain multichannel WAV) keep pyloudnorm's positional
    reading (L, R, C, Ls, Rs) up to five; six unnamed channels are read as 5.1 in the WAV order
    (L, R, C, LFE, Ls, Rs). Returns ``(positions, samples)``, trailing empty positions left off (so a
    single front channel is one row).

    Raises:
        ValueError: more than five full-range channels (7.1 and up), or 7+ unnamed ones: pyloudnorm
            sums at most five, so such a file gets no loudness rather than a wrong one.

    Example:
        >>> import numpy as np
        >>> bs1770_input(np.ones((4, 3)), ("FL", "FR", "BL", "BR"))[:, 0]   # surrounds in Ls / Rs
        array([1., 1., 0., 1., 1.])
    """
    channels = np.asarray(channels, dtype=np.float64)
    count = channels.shape[0]
    if not names or all(n == "NONE" for n in names):
        if count <= len(POSITION_WEIGHTS):
            return channels
        if count == 6:
            return channels[[0, 1, 2, 4, 5]]
        raise ValueError(f"loudness: {count} unlabelled channels; BS.1770 needs to know which is the LFE and "
                         "which are surrounds, and pyloudnorm sums at most 5 channels")
    weighted = [(row, w) for row, w in zip(channels, bs1770_weights(names), strict=True) if w is not None]
    if len(weighted) > len(POSITION_WEIGHTS):
        raise ValueError(f"loudness: {len(weighted)} full-range channels ({', '.join(names)}); pyloudnorm sums "
                         "at most 5 (mono to 5.1)")
    fronts = [row for row, w in weighted if w == 1.0]
    surrounds = [row for row, w in weighted if w != 1.0]
    slots: list[np.ndarray | None] = [None] * len(POSITION_WEIGHTS)
    free_front, free_surround = [0, 1, 2], [3, 4]
    for row in fronts:
        slot = free_front.pop(0) if free_front else free_surround.pop(0)
        slots[slot] = row * np.sqrt(1.0 / POSITION_WEIGHTS[slot])
    for row in surrounds:
        slot = free_surround.pop(0) if free_surround else free_front.pop(0)
        slots[slot] = row * np.sqrt(1.41 / POSITION_WEIGHTS[slot])
    zeros = np.zeros(channels.shape[1])
    used = max(i for i, row in enumerate(slots) if row is not None) + 1
    return np.stack([zeros if row is None else row for row in slots[:used]])
