"""Progress on the decoded timeline, never on the container's claim.

A container whose timestamps are scaled claims 2.3 s for 115 s of audio: progress
measured against that claim read 100 % after the first sentence. The total here is the
claim until decoding passes it, then what has been decoded; and the transcription reads
done only once the decode has reached the end of the file.
"""

from __future__ import annotations

from swescribe.engine.audio import DecodeMeter
from swescribe.engine.ports import ProgressCallback


class DecodedProgress:
    """Calls progress(done, total) with done that never goes back, never passes the
    total (segment ends can overshoot a window's end by a few milliseconds), and equals
    it only when the whole file has been decoded."""

    def __init__(self, progress: ProgressCallback | None, claimed: float, meter: DecodeMeter):
        self._progress = progress
        self._claimed = claimed
        self._meter = meter
        self._done = 0.0

    def begin(self) -> None:
        """Progress 0 of the length the container claims, so a listener can show the
        duration (and a bar) before the first window is decoded."""
        if self._progress is not None and self._claimed > 0:
            self._progress(0.0, self._claimed)

    def __call__(self, seconds: float) -> None:
        if self._progress is None:
            return
        finished = self._meter.finished  # read first: once set, seconds is final
        decoded = self._meter.seconds
        total = decoded if finished else max(self._claimed, decoded)
        done = min(seconds, total)
        if done <= self._done or (done >= total and not finished):
            return
        self._done = done
        self._progress(done, total)
