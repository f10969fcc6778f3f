"""The worker's progress writes: at a steady pace, the latest value always, a time left.

The engine calls back as its pieces finish, often several times at once (a batch's
pieces end together) and then not for a while. Writing only the first call of each
interval dropped the furthest value of a burst until the next burst came; a writer of
its own writes the latest value as soon as the interval allows, so a client polling the
job sees it move with the engine.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from types import TracebackType

from swescribe.core.errors import JobNotFound, TransitionConflict

log = logging.getLogger(__name__)

WriteProgress = Callable[[float, float, float | None], None]
"""Stores (seconds done, seconds in all, estimated seconds left or None) for the job."""

MIN_ESTIMATE_SECONDS = 1.0
"""Time left is estimated once the engine has run this long and moved past 0."""


class TimeLeft:
    """Seconds left at the pace the audio has been transcribed so far (None until there
    is a pace to go by)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._since: tuple[float, float] | None = None

    def __call__(self, done: float, total: float) -> float | None:
        now = self._clock()
        if self._since is None:
            self._since = (now, done)
            return None
        started, first = self._since
        elapsed = now - started
        if done <= first or elapsed < MIN_ESTIMATE_SECONDS:
            return None
        pace = (done - first) / elapsed
        return round(max(0.0, total - done) / pace, 1)


class ProgressWriter:
    """A progress callback for the engine that hands the job store the latest value from
    a thread of its own: the first at once (the duration), then at most one write every
    `every` seconds, the newest value each time, none dropped for good.

    A write refused because the job was taken from this worker (or deleted) is raised
    from the next callback, which stops the transcription; any other store error is
    logged and the next value tried."""

    def __init__(self, write: WriteProgress, every: float, job_id: str) -> None:
        self._write = write
        self._every = every
        self._job_id = job_id
        self._time_left = TimeLeft()
        self._lock = threading.Lock()
        self._latest: tuple[float, float, float | None] | None = None
        self._failure: Exception | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="progress-writer", daemon=True)

    def __enter__(self) -> ProgressWriter:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=5)

    def __call__(self, done: float, total: float) -> None:
        if self._failure is not None:
            raise self._failure
        left = self._time_left(done, total)
        with self._lock:
            self._latest = (done, total, left)
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait()
            self._wake.clear()
            with self._lock:
                latest, self._latest = self._latest, None
            if latest is None or self._stop.is_set():
                continue
            try:
                self._write(*latest)
            except (TransitionConflict, JobNotFound) as error:
                self._failure = error
                return
            except Exception:  # a store hiccup: the next value is written instead
                log.warning("progress not written; trying again", extra={"job_id": self._job_id})
            self._stop.wait(self._every)
