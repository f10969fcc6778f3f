"""SIGTERM and SIGINT on a worker: its job goes back on the queue at once.

Python runs a signal handler in the main thread between two bytecodes, and a worker's
main thread can spend minutes inside one call into the decoder. So the handlers do
nothing themselves; the signal module's wakeup file descriptor, written by the C-level
handler the moment the signal arrives, wakes a thread of ours, which hands the job back
(Worker.hand_back). The main thread then leaves at its next step; if a decode holds it
past a grace period the process exits from that thread, with nothing left to lose.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from types import FrameType

from swescribe.worker.runner import Worker

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
"""SIGINT too: Ctrl-C on `serve` in a terminal reaches its workers as well."""


def hand_back_on_stop_signals(worker: Worker, grace_seconds: float = 5.0) -> None:
    """Install the handlers (from the main thread) and start the thread that acts on them."""
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    for signum in STOP_SIGNALS:
        signal.signal(signum, _noted)
    threading.Thread(
        target=_act_on_stop_signals,
        args=(read_end, worker, grace_seconds),
        name="stop-signals",
        daemon=True,
    ).start()


def _noted(signum: int, frame: FrameType | None) -> None:
    """The signal's number is already on the wakeup pipe; the thread below acts on it."""


def _act_on_stop_signals(read_end: int, worker: Worker, grace_seconds: float) -> None:
    stop_numbers = {int(signum) for signum in STOP_SIGNALS}
    while True:
        received = os.read(read_end, 64)
        stop = next((number for number in received if number in stop_numbers), None)
        if stop is not None:
            break
    log.info(
        "stop signal: giving the current job back and leaving",
        extra={"signal": signal.Signals(stop).name},
    )
    hand_back_and_leave(worker, grace_seconds)


def hand_back_and_leave(worker: Worker, grace_seconds: float = 5.0) -> None:
    """From a thread other than the main one: give the job back now; the main thread ends
    the process itself within a poll, and if a decode holds it past the grace, the process
    exits from here."""
    worker.hand_back()
    if not _main_thread_ended(grace_seconds):
        log.info("leaving without waiting for the decode in progress")
        logging.shutdown()
        os._exit(0)


def _main_thread_ended(timeout: float) -> bool:
    main = threading.main_thread()
    main.join(timeout)
    return not main.is_alive()
