"""A logging filter that removes API keys from log records (httpx, httpcore and our own loggers).

Example:
    >>> register_secret("sekrit-123")
    >>> import logging
    >>> r = logging.LogRecord("httpx", 10, "", 0, "key=%s", ("sekrit-123",), None)
    >>> KeyRedactor().filter(r), r.getMessage()
    (True, 'key=***')
"""

from __future__ import annotations

import logging
import threading

LOGGERS = ("httpx", "httpcore", "httpcore.connection", "httpcore.http11", "httpcore.http2",
           "httpcore.proxy", "zonos_lab", "zonos_lab.client", "zonos_lab.webhooks")

_secrets: set[str] = set()
_lock = threading.Lock()
_installed = False


class KeyRedactor(logging.Filter):
    """Replace every registered secret in a record's message with ``***``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not _secrets:
            return True
        try:
            msg = record.getMessage()
        except Exception:
            return True
        red = msg
        for s in list(_secrets):
            red = red.replace(s, "***")
        if red != msg:
            record.msg, record.args = red, ()
        return True


_FILTER = KeyRedactor()


def register_secret(secret: str | None) -> None:
    """Remember a key to redact and make sure the filter is on the relevant loggers and handlers."""
    global _installed
    if secret:
        with _lock:
            _secrets.add(secret)
    if not _installed:
        with _lock:
            for name in LOGGERS:
                lg = logging.getLogger(name)
                if _FILTER not in lg.filters:
                    lg.addFilter(_FILTER)
            _installed = True
