"""The transcription worker: claim, fetch, transcribe, store results, complete, notify.

One process owns one engine per model (the model is loaded once and reused across jobs);
the worker knows it only as a Transcriber (engine/ports.py). While a job runs, a
heartbeat renews the job's lease and the queue item's visibility, so a live worker keeps
its job and a dead one's job is redelivered when the lease runs out.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from swescribe.core.errors import JobNotFound, SwescribeError, TransitionConflict
from swescribe.core.filenames import safe_filename
from swescribe.core.formats import MEDIA_TYPES
from swescribe.core.jobs import Job, result_key
from swescribe.core.ports import Message
from swescribe.core.processing import (
    Outcome,
    claim_job,
    complete_job,
    fail_job,
    release_job,
    renew_lease,
    report_progress,
)
from swescribe.core.redaction_transcript import redact_transcript
from swescribe.core.services import Services
from swescribe.core.voices import Voiceprint, VoiceRegistry
from swescribe.engine import OpenedAudio, Transcriber, render
from swescribe.worker.fetch import check_upload, fetch_audio
from swescribe.worker.options import subtitle_layout, transcribe_options
from swescribe.worker.prefetch import Prefetcher, Prepared
from swescribe.worker.progress import ProgressWriter
from swescribe.worker.scratch import scratch_prefix

log = logging.getLogger(__name__)

EngineFactory = Callable[[str | None], Transcriber]
"""Returns the engine (any Transcriber) for a job's model (None: the worker's default)."""


class JobReleased(Exception):
    """Raised inside a transcription to stop it and give the job back."""


@dataclass(frozen=True)
class WorkerConfig:
    worker_id: str
    visibility_seconds: float = 120.0
    heartbeat_seconds: float = 30.0
    poll_seconds: float = 5.0
    prefetch: bool = True
    """Take the next item, download its audio and decode its first window while the
    current job transcribes."""
    prefetch_grace_seconds: float = 3.0
    """Idle workers get this long to take a queued item before a busy one prefetches it."""
    progress_seconds: float = 2.0
    """At most one progress write to the job store this often; the latest value is
    written as soon as this allows (worker/progress.py)."""
    scratch_dir: Path | None = None


class Worker:
    def __init__(self, svc: Services, engines: EngineFactory, config: WorkerConfig) -> None:
        self.svc = svc
        self.engines = engines
        self.config = config
        if config.scratch_dir is not None:
            config.scratch_dir.mkdir(parents=True, exist_ok=True)
        self.stopping = threading.Event()
        """Set by SIGTERM: release the current job and leave."""
        self._held_lock = threading.Lock()
        self._held: tuple[Job, Message] | None = None
        """The claimed job and its work item, until the job ends or is given back."""
        self._prefetching: Prefetcher | None = None

    def hand_back(self) -> None:
        """Stop, and give the running job and a prefetched item back now; safe from any
        thread. A stop signal calls it from a thread of its own: the main thread may be
        inside one window's decode, which Python cannot interrupt, for minutes."""
        self.stopping.set()
        self._give_back_held()
        prefetching = self._prefetching
        if prefetching is not None:
            prefetching.give_back()

    def run(self, max_jobs: int | None = None, idle_exit_seconds: float | None = None) -> int:
        """Work until stopped, max_jobs handled, or idle for idle_exit_seconds."""
        handled = 0
        idle_since = time.monotonic()
        upcoming: Prepared | None = None
        failures = 0
        while not self.stopping.is_set():
            if max_jobs is not None and handled >= max_jobs:
                break
            try:
                current = upcoming or self._receive()
            except Exception:  # the queue or store is down: wait, then try again
                failures += 1
                log.exception("cannot reach the queue", extra={"failures": failures})
                self.stopping.wait(min(30.0, self.config.poll_seconds * 2.0**failures))
                continue
            failures = 0
            upcoming = None
            if current is None:
                idle = time.monotonic() - idle_since
                if idle_exit_seconds is not None and idle >= idle_exit_seconds:
                    log.info("idle, exiting")
                    break
                continue
            more_wanted = max_jobs is None or handled + 1 < max_jobs
            prefetcher = (
                self._prefetcher().start() if self.config.prefetch and more_wanted else None
            )
            self._prefetching = prefetcher
            try:
                self.process(current.message, current)
            except Exception:  # a store error outside a job's own failure path
                log.exception(
                    "work item not finished", extra={"job_id": current.message.item.job_id}
                )
            finally:
                current.discard_files()
                if prefetcher is not None:
                    upcoming = prefetcher.take()
                self._prefetching = None
            handled += 1
            idle_since = time.monotonic()
        if upcoming is not None:  # stopping: hand the prefetched item back at once
            upcoming.discard_files()
            self.svc.queue.release(upcoming.message)
        return handled

    def _receive(self) -> Prepared | None:
        message = self.svc.queue.receive(
            wait_seconds=self.config.poll_seconds,
            visibility_seconds=self.config.visibility_seconds,
        )
        return None if message is None else Prepared(message)

    def _prefetcher(self) -> Prefetcher:
        return Prefetcher(
            self.svc,
            grace_seconds=self.config.prefetch_grace_seconds,
            visibility_seconds=self.config.visibility_seconds,
            keepalive_seconds=self.config.heartbeat_seconds,
            scratch_dir=self.config.scratch_dir,
        )

    def process(self, message: Message, prepared: Prepared | None = None) -> None:
        claim = claim_job(self.svc, message, self.config.worker_id)
        job = claim.job
        if job is None:
            if claim.retry_in is None:
                self.svc.queue.ack(message)
            else:
                self.svc.queue.release(message, delay_seconds=claim.retry_in)
            return
        log.info("job claimed", extra={"job_id": job.job_id, "attempt": job.attempts})
        with self._held_lock:
            self._held = (job, message)
        if self.stopping.is_set():  # the stop came between the receive and the claim
            self._give_back_held()
            return
        beat_stop = threading.Event()
        beat = threading.Thread(
            target=self._heartbeat, args=(job.job_id, message, beat_stop), daemon=True
        )
        beat.start()
        try:
            outcome = self._transcribe(job, prepared)
            complete_job(self.svc, job.job_id, self.config.worker_id, outcome)
        except JobReleased:
            self._give_back_held()
            return
        except (TransitionConflict, JobNotFound):
            self._lost(job)
        except SwescribeError as error:
            self._fail(job, error.code, str(error))
        except OSError as error:  # disk full, permissions: the job fails, the audio stays
            log.exception("storage error", extra={"job_id": job.job_id})
            self._fail(job, "storage_error", f"could not read or store files: {error}")
        except Exception as error:  # any other failure still ends the job, with a reason
            log.exception("job crashed", extra={"job_id": job.job_id})
            self._fail(job, "internal_error", f"{type(error).__name__}: {error}")
        finally:
            beat_stop.set()
            beat.join(timeout=5)
            with self._held_lock:
                given_back = self._held is None
                self._held = None
        if not given_back:  # a job given back meanwhile keeps its item on the queue
            self.svc.queue.ack(message)

    def _give_back_held(self) -> None:
        """The held job back to the queue, at most once whoever asks (the main thread on
        a JobReleased, a stop signal's thread)."""
        with self._held_lock:
            held, self._held = self._held, None
        if held is not None:
            self._release(*held)

    def _release(self, job: Job, message: Message) -> None:
        try:
            release_job(self.svc, job.job_id, self.config.worker_id)
        except TransitionConflict:
            log.warning("job was taken before it could be released", extra={"job_id": job.job_id})
            return
        self.svc.queue.release(message)
        log.info("job released", extra={"job_id": job.job_id})

    def _fail(self, job: Job, code: str, message: str) -> None:
        try:
            fail_job(self.svc, job.job_id, code, message, worker_id=self.config.worker_id)
        except (TransitionConflict, JobNotFound):
            log.warning("job changed before it could be failed", extra={"job_id": job.job_id})
            self._lost(job)

    def _lost(self, job: Job) -> None:
        """The job was taken from this worker, or deleted while it ran. A deleted job's
        results written after its DELETE are removed: nothing else would."""
        if self.svc.jobs.get(job.job_id) is not None:
            log.warning("job was taken from this worker", extra={"job_id": job.job_id})
            return
        removed = self.svc.objects.delete_prefix(job.results_prefix)
        log.info(
            "job was deleted while it ran; its results removed",
            extra={"job_id": job.job_id, "objects_removed": removed},
        )

    def _transcribe(self, job: Job, prepared: Prepared | None) -> Outcome:
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(
            prefix=scratch_prefix(job.job_id),
            dir=self.config.scratch_dir,
            ignore_cleanup_errors=True,  # the sweep may have removed a deleted job's files
        ) as scratch:
            if prepared is not None and prepared.audio is not None:
                audio_path, size = prepared.audio, prepared.size
            else:
                audio_path, size = self._fetch_input(job, Path(scratch))
            audio: Path | OpenedAudio = audio_path
            if prepared is not None and prepared.opened is not None:
                audio = prepared.opened  # probed and first window decoded by the prefetch
            engine = self.engines(job.request.model)

            def write(done: float, total: float, left: float | None) -> None:
                report_progress(self.svc, job.job_id, self.config.worker_id, done, total, left)

            with ProgressWriter(write, self.config.progress_seconds, job.job_id) as writer:

                def progress(done: float, total: float) -> None:
                    if self.stopping.is_set():
                        raise JobReleased
                    writer(done, total)  # raises when the job was taken from this worker

                transcript = engine.transcribe(
                    audio,
                    transcribe_options(
                        job.request,
                        max_seconds=self.svc.policy.max_audio_seconds,
                        voices=self._voices(job),
                    ),
                    progress,
                )
        if job.request.redact:  # before anything is stored: no result holds the values
            transcript = redact_transcript(transcript, job.request.redact)
        finished = self.svc.clock.now()
        stem = safe_filename(audio_path.stem)
        keys: dict[str, str] = {}
        layout = subtitle_layout(job.request)
        for fmt in dict.fromkeys((*job.request.formats, "json")):
            key = result_key(job.job_id, finished, stem, fmt)
            self.svc.objects.put_bytes(
                key, render(transcript, fmt, layout).encode(), MEDIA_TYPES[fmt]
            )
            keys[fmt] = key
        return Outcome(
            model_used=transcript.model,
            audio_duration=transcript.duration,
            processing_seconds=time.perf_counter() - started,
            file_size=size,
            result_keys=keys,
        )

    def _voices(self, job: Job) -> list[Voiceprint]:
        """The job owner's enrolled voices it looks for (none unless diarizing)."""
        if not job.request.diarize:
            return []
        return VoiceRegistry(self.svc.objects).chosen(job.owner, job.request.known_speakers)

    def _fetch_input(self, job: Job, scratch: Path) -> tuple[Path, int]:
        limit = self.svc.policy.max_upload_bytes
        if job.s3_key:
            check_upload(self.svc.objects, job.s3_key, limit)
            target = scratch / PurePosixPath(job.s3_key).name
            return target, self.svc.objects.download(job.s3_key, target)
        if job.audio_url:
            target = scratch / "audio"
            size = fetch_audio(
                job.audio_url,
                target,
                max_bytes=limit,
                allow_http=self.svc.policy.allow_http_callbacks,
            )
            return target, size
        raise SwescribeError("the job has neither an upload nor an audio_url")

    def _heartbeat(self, job_id: str, message: Message, stop: threading.Event) -> None:
        while not stop.wait(self.config.heartbeat_seconds):
            try:
                renew_lease(self.svc, job_id, self.config.worker_id)
                self.svc.queue.extend(message, self.config.visibility_seconds)
            except (TransitionConflict, JobNotFound):
                log.warning("heartbeat lost the job", extra={"job_id": job_id})
                return
            except Exception:  # a store or network hiccup: the next beat tries again
                log.warning("heartbeat failed; trying again", extra={"job_id": job_id})
