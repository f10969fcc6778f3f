"""Prefetch: while one job transcribes, take the next work item, download its audio,
probe it and decode its first window (engine.open_audio), so the next job starts on
decoded samples.

The item is received (hidden from other workers) but not claimed: its job stays
`launching`, so if this worker dies the item simply reappears when its visibility runs
out. Until the worker takes it, a keep-alive extends that visibility.

An idle worker must get the next item first: a busy worker that hid it would make it
wait behind its own job. So the prefetch waits a grace period (idle workers poll all
the time and take what is queued within it) and then takes only what is still queued,
without waiting for more.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from swescribe.core.errors import SwescribeError
from swescribe.core.jobs import JobStatus
from swescribe.core.ports import Message
from swescribe.core.services import Services
from swescribe.engine import OpenedAudio, TranscribeOptions, open_audio
from swescribe.worker.fetch import check_upload
from swescribe.worker.scratch import scratch_prefix

log = logging.getLogger(__name__)


@dataclass
class Prepared:
    """A received work item and, when the prefetch got that far, its downloaded audio
    and that audio opened (probed, first window decoded)."""

    message: Message
    audio: Path | None = None
    size: int = 0
    scratch: Path | None = None
    opened: OpenedAudio | None = None

    def discard_files(self) -> None:
        if self.opened is not None:
            self.opened.close()
            self.opened = None
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = None


class Prefetcher:
    def __init__(
        self,
        svc: Services,
        grace_seconds: float,
        visibility_seconds: float,
        keepalive_seconds: float,
        scratch_dir: Path | None,
    ) -> None:
        self.svc = svc
        self.grace_seconds = grace_seconds
        self.visibility_seconds = visibility_seconds
        self.keepalive_seconds = keepalive_seconds
        self.scratch_dir = scratch_dir
        self._ready = threading.Event()
        self._taken = threading.Event()
        self._prepared: Prepared | None = None
        self._receiving = threading.Lock()
        self._given_back = False
        self._thread = threading.Thread(target=self._run, name="prefetch", daemon=True)

    def start(self) -> Prefetcher:
        self._thread.start()
        return self

    def take(self) -> Prepared | None:
        """The prefetched item (None if the queue was empty); waits for its download."""
        self._taken.set()  # ends the grace period at once: no item is received after it
        self._ready.wait()
        self._thread.join()
        return self._prepared

    def give_back(self) -> None:
        """The worker is stopping: the item received ahead goes back on the queue at once
        (visible to the next worker), and none is received after this."""
        self._taken.set()
        with self._receiving:
            self._given_back = True
            prepared = self._prepared
        if prepared is not None:
            self.svc.queue.release(prepared.message)

    def _run(self) -> None:
        if self._taken.wait(self.grace_seconds):  # the current job ended first
            self._ready.set()
            return
        try:
            with self._receiving:
                if not self._given_back:
                    message = self.svc.queue.receive(0.0, self.visibility_seconds)
                    self._prepared = None if message is None else Prepared(message)
            if self._prepared is not None and not self._given_back:
                self._download(self._prepared)
        except Exception:  # a prefetch is an optimisation: the job's own fetch reports errors
            log.exception("prefetch failed")
        finally:
            self._ready.set()
        while self._prepared is not None and not self._taken.wait(self.keepalive_seconds):
            try:
                self.svc.queue.extend(self._prepared.message, self.visibility_seconds)
            except Exception:  # the item reappears when its visibility runs out: harmless
                log.warning("prefetch keep-alive failed")

    def _download(self, prepared: Prepared) -> None:
        job = self.svc.jobs.get(prepared.message.item.job_id)
        if job is None or job.status is not JobStatus.LAUNCHING or not job.s3_key:
            return  # nothing to fetch ahead (audio_url jobs are fetched when claimed)
        check_upload(self.svc.objects, job.s3_key, self.svc.policy.max_upload_bytes)
        prepared.scratch = Path(
            tempfile.mkdtemp(prefix=scratch_prefix(job.job_id), dir=self.scratch_dir)
        )
        target = prepared.scratch / PurePosixPath(job.s3_key).name
        prepared.size = self.svc.objects.download(job.s3_key, target)
        prepared.audio = target
        try:
            prepared.opened = open_audio(
                target,
                TranscribeOptions().window_seconds,
                self.svc.policy.max_audio_seconds,
                multichannel=job.request.multichannel,
            )
        except SwescribeError as error:  # not audio: the job's transcription reports it
            log.info("prefetch did not decode", extra={"job_id": job.job_id, "why": error.code})
        log.info(
            "prefetched",
            extra={"job_id": job.job_id, "bytes": prepared.size, "decoded": bool(prepared.opened)},
        )
