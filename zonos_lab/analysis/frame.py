"""Bring any results table to the analysis contract (fill missing columns, hashes, local references).

Needed: ``audio_path``, ``text``, ``reference``, ``language``. Everything else is filled:
``take_id`` (from the row position), ``status`` (COMPLETED when the audio exists), ``mode`` ↔
``accurate_mode``, ``reference_path`` (the reference itself when it is an existing local file),
``sha256`` (of the audio), ``reference_sha256``, ``max_tokens`` and the request fields (NA).
``language`` is checked against the spec's codes; "en-US" and bare codes ("en", "fr", "pt", "zh")
are read as the spec's (``en_us``, ``fr_fr``, ``pt_br``, ``cmn``), anything else is an error.

Example:
    >>> import pandas as pd
    >>> df = prepare(pd.DataFrame({"audio_path": [None], "text": ["hi"], "reference": ["r.wav"],
    ...                            "language": ["en_us"]}))
    >>> df.loc[0, "take_id"], df.loc[0, "status"]
    ('take-0000', 'FAILED')
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from zonos_lab.errors import InvalidParameter

__all__ = ["REQUEST_COLUMNS", "audio_ok", "canonical_language", "is_na", "prepare"]

#: Columns that define a request (what a take was asked for). ``reference`` stands for
#: ``reference_audio_url``, which may be a per-session loopback URL.
REQUEST_COLUMNS: tuple[str, ...] = (
    "text", "reference", "language", "mode", "accurate_mode", "clean_speaker_background",
    "temperature", "top_p", "min_p", "top_k", "max_tokens", "seed",
)
#: Columns that are the same fact spelled twice.
EQUIVALENT_COLUMNS: tuple[frozenset[str], ...] = (frozenset({"mode", "accurate_mode"}),)
REQUIRED_COLUMNS: tuple[str, ...] = ("audio_path", "text", "reference", "language")
#: Other spellings of the spec's language codes (after lower-casing and "-" → "_").
LANGUAGE_ALIASES: dict[str, str] = {"en": "en_us", "fr": "fr_fr", "pt": "pt_br", "zh": "cmn", "zh_cn": "cmn",
                                    "zh_hans": "cmn", "cmn_hans": "cmn", "ja_jp": "ja", "ko_kr": "ko", "de_de": "de",
                                    "es_es": "es", "it_it": "it"}


def is_na(value: Any) -> bool:
    """True for None, NaN, pd.NA and NaT.

    Example:
        >>> is_na(float("nan")), is_na(pd.NA), is_na(0)
        (True, True, False)
    """
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def audio_ok(row: Any) -> bool:
    """True when the row has an existing audio file and a non-failed status."""
    path = row.get("audio_path")
    if is_na(path) or not str(path) or not os.path.exists(str(path)):
        return False
    status = row.get("status")
    return is_na(status) or str(status) == "COMPLETED"


def canonical_language(value: Any) -> Any:
    """The spec's code for a language value (NA stays NA).

    Raises:
        InvalidParameter: for a value that is none of the spec's ten languages.

    Example:
        >>> canonical_language("en-US"), canonical_language("zh"), canonical_language("ja")
        ('en_us', 'cmn', 'ja')
    """
    from zonos_lab.params import LANGUAGES

    if is_na(value):
        return pd.NA
    code = str(value).strip().lower().replace("-", "_")
    code = LANGUAGE_ALIASES.get(code, code)
    if code not in LANGUAGES:
        raise InvalidParameter("language", value, ", ".join(repr(x) for x in LANGUAGES),
                               reason=f"not a Zonos 2 language; allowed: {', '.join(LANGUAGES)} "
                                      "(also en-US style and en / fr / pt / zh)")
    return code


@lru_cache(maxsize=4096)
def _sha256(path: str, mtime_ns: int, size: int) -> str:
    from zonos_lab.audio import sha256_file

    return sha256_file(path)


def file_sha256(path: str) -> str:
    """sha256 of a file (memoised on path, mtime and size)."""
    st = os.stat(path)
    return _sha256(str(path), st.st_mtime_ns, st.st_size)


def _local_reference(ref: Any) -> Any:
    if is_na(ref):
        return pd.NA
    s = str(ref)
    if s.startswith("file://"):
        s = s[len("file://"):]
    if "://" in s:
        return pd.NA
    return str(Path(s).resolve()) if Path(s).is_file() else pd.NA


def prepare(results: pd.DataFrame) -> pd.DataFrame:
    """A copy of `results` with every column the analysis uses.

    Raises:
        InvalidParameter: when a required column is missing.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in results.columns]
    if missing:
        raise InvalidParameter("results", f"columns {list(results.columns)}",
                               f"a DataFrame with columns {', '.join(REQUIRED_COLUMNS)} (missing: {', '.join(missing)})")
    df = results.copy()
    df["language"] = [canonical_language(v) for v in df["language"]]
    if "take_id" not in df.columns:
        df.insert(0, "take_id", [f"take-{i:04d}" for i in range(len(df))])
    if "status" not in df.columns:
        df["status"] = ["COMPLETED" if not is_na(p) and os.path.exists(str(p)) else "FAILED"
                        for p in df["audio_path"]]
    if "mode" not in df.columns and "accurate_mode" in df.columns:
        df["mode"] = ["accurate" if bool(v) else "expressive" if not is_na(v) else pd.NA
                      for v in df["accurate_mode"]]
    if "accurate_mode" not in df.columns and "mode" in df.columns:
        df["accurate_mode"] = pd.array([None if is_na(v) else v == "accurate" for v in df["mode"]], dtype="boolean")
    for col in REQUEST_COLUMNS:
        if col not in df.columns:
            df[col] = pd.NA
    df["max_tokens"] = pd.array([None if is_na(v) else int(v) for v in df["max_tokens"]], dtype="Int64")
    if "reference_path" not in df.columns:
        df["reference_path"] = pd.NA
    df["reference_path"] = [
        rp if not is_na(rp) and os.path.exists(str(rp)) else _local_reference(ref)
        for rp, ref in zip(df["reference_path"], df["reference"], strict=True)
    ]
    if "sha256" not in df.columns:
        df["sha256"] = pd.NA
    df["sha256"] = [
        s if not is_na(s) else (file_sha256(str(p)) if not is_na(p) and os.path.exists(str(p)) else pd.NA)
        for s, p in zip(df["sha256"], df["audio_path"], strict=True)
    ]
    if "reference_sha256" not in df.columns:
        df["reference_sha256"] = pd.NA
    df["reference_sha256"] = [
        s if not is_na(s) else (file_sha256(str(p)) if not is_na(p) else pd.NA)
        for s, p in zip(df["reference_sha256"], df["reference_path"], strict=True)
    ]
    return df
