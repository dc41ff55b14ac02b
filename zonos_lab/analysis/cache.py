"""A persistent metric cache keyed by audio content (sha256) + metric name + version + inputs.

One SQLite file; only the calling process reads and writes it (workers return values, the
caller stores them), so parallel analysis never contends for the file.

Example:
    >>> import tempfile
    >>> c = MetricCache(tempfile.mkdtemp())
    >>> c.put_many({"k1": {"duration_s": 1.5}})
    >>> c.get_many(["k1", "k2"])
    {'k1': {'duration_s': 1.5}}
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["MetricCache", "default_cache_dir"]

_SCHEMA = "CREATE TABLE IF NOT EXISTS metrics (key TEXT PRIMARY KEY, value TEXT NOT NULL)"


def default_cache_dir() -> Path:
    """``$ZONOS_LAB_CACHE`` if set, else ``$XDG_CACHE_HOME/zonos-lab`` (``~/.cache/zonos-lab``).

    Example:
        >>> isinstance(default_cache_dir(), Path)
        True
    """
    env = os.environ.get("ZONOS_LAB_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "zonos-lab"


def _to_json(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float | int) and not isinstance(value, bool):
        f = float(value)
        if math.isnan(f):
            return None
        return int(value) if isinstance(value, int) else f
    if hasattr(value, "item"):  # numpy scalar
        return _to_json(value.item())
    return value


class MetricCache:
    """Metric values (dicts of column → JSON value) stored under string keys.

    Args:
        directory: folder holding ``metrics.sqlite`` (created when missing).
    """

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self.directory = Path(directory) if directory is not None else default_cache_dir()
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / "metrics.sqlite"
        with self._connect() as con:
            con.execute(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.path, timeout=30)
        try:
            with con:  # commit on success, roll back on error
                yield con
        finally:
            con.close()

    def get_many(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The cached values of those keys that are present."""
        keys = list(dict.fromkeys(keys))
        found: dict[str, dict[str, Any]] = {}
        with self._connect() as con:
            for i in range(0, len(keys), 500):
                chunk = keys[i:i + 500]
                marks = ",".join("?" * len(chunk))
                for key, value in con.execute(f"SELECT key, value FROM metrics WHERE key IN ({marks})", chunk):
                    found[key] = json.loads(value)
        return found

    def put_many(self, items: Mapping[str, Mapping[str, Any]]) -> None:
        """Store (or replace) values."""
        rows = [(k, json.dumps({c: _to_json(v) for c, v in val.items()})) for k, val in items.items()]
        if not rows:
            return
        with self._connect() as con:
            con.executemany("INSERT OR REPLACE INTO metrics (key, value) VALUES (?, ?)", rows)

    def __len__(self) -> int:
        with self._connect() as con:
            return int(con.execute("SELECT COUNT(*) FROM metrics").fetchone()[0])

    def clear(self) -> None:
        """Forget every cached value."""
        with self._connect() as con:
            con.execute("DELETE FROM metrics")
