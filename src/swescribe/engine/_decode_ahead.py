"""Decode the next audio window in a thread while the current one is transcribed."""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


def decoded_ahead(windows: Iterator[T]) -> Generator[T, None, None]:
    """The same items, each decoded in a thread while the one before is transcribed.

    PyAV and CTranslate2 both release the GIL, so decoding window n+1 overlaps the
    transcription of window n; at most one window waits in memory. Closing the result
    early (an error, a released job) stops the thread and closes the source.
    """
    ahead: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def hand_over(item: tuple[bool, Any]) -> bool:
        while not stop.is_set():
            try:
                ahead.put(item, timeout=0.1)
            except queue.Full:
                continue
            return True
        return False

    def produce() -> None:
        try:
            for item in windows:
                if not hand_over((True, item)):
                    return
        except BaseException as error:  # handed to the consumer, raised there
            hand_over((False, error))
            return
        finally:
            close = getattr(windows, "close", None)
            if close is not None:
                close()
        hand_over((False, None))

    producer = threading.Thread(target=produce, name="decode-ahead", daemon=True)
    producer.start()
    try:
        while True:
            ok, item = ahead.get()
            if not ok:
                if item is not None:
                    raise item
                return
            yield item
    finally:
        stop.set()
        producer.join(timeout=5)
