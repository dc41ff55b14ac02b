"""Text normalisation for word/character counts and error rates.

Rules (the same on both sides of a WER comparison): Unicode NFKC, lower-case, hyphens and
slashes become spaces, every other punctuation character (Unicode category ``P*``) and symbol
(``S*``) is dropped, whitespace is collapsed. Numbers are kept as written ("15" stays "15",
"fifteen" stays "fifteen"): a reference text with digits against an ASR that spells them out
counts as an error, which is honest about what was compared.

Example:
    >>> normalize_text("And so, my fellow Americans -- ask not!")
    'and so my fellow americans ask not'
    >>> count_units("Hello there, world.", "en_us")
    3
    >>> count_units("桥下垂直净空", "cmn")
    6
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["CHARACTER_LANGUAGES", "count_units", "normalize_text", "rate_unit"]

#: Languages whose speaking rate counts characters (no spaces between words), not words.
CHARACTER_LANGUAGES: frozenset[str] = frozenset({"ja", "cmn"})

_SPACE_LIKE = re.compile(r"[-‐‑‒–—―/\\_]+")
_WS = re.compile(r"\s+")


def normalize_text(text: str | None) -> str:
    """Lower-case, strip punctuation and symbols, collapse whitespace (numbers as-is).

    Example:
        >>> normalize_text("  Mr. Smith's   3rd car.")
        'mr smiths 3rd car'
    """
    if not text:
        return ""
    s = unicodedata.normalize("NFKC", str(text)).lower()
    s = _SPACE_LIKE.sub(" ", s)
    s = "".join(ch for ch in s if unicodedata.category(ch)[0] not in "PS")
    return _WS.sub(" ", s).strip()


def rate_unit(language: str | None) -> str:
    """``"chars"`` for ja / cmn, else ``"words"``.

    Example:
        >>> rate_unit("ja"), rate_unit("de")
        ('chars', 'words')
    """
    return "chars" if (language or "") in CHARACTER_LANGUAGES else "words"


def count_units(text: str | None, language: str | None) -> int:
    """Words (space separated) or, for ja / cmn, characters (no spaces, no punctuation).

    Example:
        >>> count_units("one two  three", "en_gb")
        3
    """
    norm = normalize_text(text)
    if rate_unit(language) == "chars":
        return len(norm.replace(" ", ""))
    return len(norm.split())
