"""The limits of live transcription (/v1/realtime): how many sessions a key and the
service may hold open, how long one may idle or last, and how large one message may be.

Kept free of the engine's imports: the API's context names these limits on every shape,
and the API Lambda must not import numpy.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field


@dataclass(frozen=True)
class LiveLimits:
    sessions_per_key: int = 2
    """Live sessions one API key may hold open at once (0: no cap)."""
    max_sessions: int = 4
    """Live sessions the service holds open at once, all keys together (0: no cap)."""
    idle_seconds: float = 60.0
    """A session that receives no audio this long is closed."""
    max_seconds: float = 3 * 3600.0
    """A session is closed this long after it opened, audio or not."""
    max_message_bytes: int = 1024 * 1024
    """The largest WebSocket message the endpoint reads (an append's base64 audio and its
    JSON); a larger one gets an error event and is dropped."""


class SessionRefused(Exception):
    """No room for another live session; `code` says whose cap it is."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class LiveSlots:
    """The live sessions open now, per key and in all; one per app."""

    limits: LiveLimits
    _per_key: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, key_id: str) -> None:
        """Count a new session for the key; SessionRefused when a cap is reached."""
        limits = self.limits
        with self._lock:
            if limits.sessions_per_key and self._per_key[key_id] >= limits.sessions_per_key:
                raise SessionRefused(
                    "too_many_live_sessions",
                    f"this API key already has {limits.sessions_per_key} live sessions open "
                    "(SWESCRIBE_LIVE_SESSIONS_PER_KEY); close one first",
                )
            if limits.max_sessions and self._total_locked() >= limits.max_sessions:
                raise SessionRefused(
                    "live_capacity_reached",
                    f"the service holds its {limits.max_sessions} live sessions "
                    "(SWESCRIBE_MAX_LIVE_SESSIONS); try again later",
                )
            self._per_key[key_id] += 1

    def give_back(self, key_id: str) -> None:
        with self._lock:
            self._per_key[key_id] -= 1
            if self._per_key[key_id] <= 0:
                del self._per_key[key_id]

    def open_for(self, key_id: str) -> int:
        with self._lock:
            return self._per_key[key_id]

    def total(self) -> int:
        with self._lock:
            return self._total_locked()

    def _total_locked(self) -> int:
        return sum(self._per_key.values())
