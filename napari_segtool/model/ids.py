"""Labelbox-style ids: 25-character cuids that start with ``c``."""

from __future__ import annotations

import os
import re
import secrets
import socket
import threading
import time

CUID_LENGTH = 25
_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
_CUID_RE = re.compile(r"^c[0-9a-z]{24}$")
_lock = threading.Lock()
_counter = secrets.randbelow(36**4)


def _base36(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, rem = divmod(number, 36)
        digits.append(_ALPHABET[rem])
    return "".join(reversed(digits))


def _fingerprint() -> str:
    host = sum(socket.gethostname().encode()) + 36
    return _base36(os.getpid() % 1296, 2) + _base36(host % 1296, 2)


_FINGERPRINT = _fingerprint()


def new_cuid() -> str:
    """Return a new collision-resistant id in Labelbox's cuid shape (25 chars)."""
    global _counter
    with _lock:
        _counter = (_counter + 1) % 36**4
        count = _counter
    timestamp = _base36(int(time.time() * 1000), 8)
    random_part = _base36(secrets.randbits(42), 8)
    return "c" + timestamp + _base36(count, 4) + _FINGERPRINT + random_part


def is_cuid(value: object) -> bool:
    """True when ``value`` has the 25-character shape the Labelbox SDK requires."""
    return isinstance(value, str) and bool(_CUID_RE.match(value))
