"""In-memory implementations of the ports, for fast tests of the service functions.

They keep the same contracts as the real adapters (tests/contract runs both), so a
service test that passes here means something for SQLite and DynamoDB too.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter, deque
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from swescribe.core.errors import JobNotFound, PayloadTooLarge, TransitionConflict
from swescribe.core.intake import NewJob, create_job, handle_object_created
from swescribe.core.jobs import ALLOWED_TRANSITIONS, Job, JobChanges, JobStatus
from swescribe.core.ports import (
    Expect,
    JobCounts,
    Message,
    ObjectInfo,
    Page,
    UploadTarget,
    WebhookAttempt,
    WorkItem,
)
from swescribe.core.services import Policy, Services
from swescribe.engine.audio import Samples
from swescribe.engine.live_ports import (
    LiveBackpressure,
    LiveEvent,
    LiveEventSink,
    LiveEventType,
    LiveOptions,
)


class FixedClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.moment = start or datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


class SequentialIds:
    def __init__(self) -> None:
        self._numbers = itertools.count(1)

    def new_job_id(self) -> str:
        return f"job{next(self._numbers):04d}"


class MemoryJobStore:
    """Conditional writes that change a job's status are recorded in transitions, and one
    that ALLOWED_TRANSITIONS does not allow fails the test (unconditional writes, which
    tests use to set a job up, are not checked)."""

    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}
        self.transitions: list[tuple[JobStatus, JobStatus]] = []
        self._lock = threading.Lock()

    def create(self, job: Job) -> None:
        with self._lock:
            if job.job_id in self.jobs:
                raise TransitionConflict(f"job {job.job_id} already exists")
            self.jobs[job.job_id] = job

    def get(self, job_id: str) -> Job | None:
        return self.jobs.get(job_id)

    def update(self, job_id: str, expect: Expect | None, changes: JobChanges) -> Job:
        with self._lock:
            current = self.jobs.get(job_id)
            if current is None:
                raise JobNotFound(job_id)
            if expect is not None and not expect.matches(current):
                raise TransitionConflict(f"job {job_id} is {current.status.value}")
            updated = replace(current, **changes)
            if expect is not None and "status" in changes:
                move = (current.status, updated.status)
                assert move[1] in ALLOWED_TRANSITIONS[move[0]], f"{move} is not in the table"
                self.transitions.append(move)
            self.jobs[job_id] = updated
            return updated

    def list_jobs(
        self,
        owner: str | None,
        status: JobStatus | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page:
        jobs = sorted(self.jobs.values(), key=lambda j: (j.created_at, j.job_id), reverse=True)
        jobs = [j for j in jobs if owner is None or j.owner == owner]
        jobs = [j for j in jobs if status is None or j.status is status]
        start = 0
        if cursor:
            start = next(i for i, j in enumerate(jobs) if j.job_id == cursor) + 1
        page = jobs[start : start + limit]
        more = start + limit < len(jobs)
        return Page(page, page[-1].job_id if more and page else None)

    def list_by_status(self, statuses: Collection[JobStatus], limit: int = 500) -> list[Job]:
        jobs = sorted(self.jobs.values(), key=lambda j: j.created_at)
        return [j for j in jobs if j.status in statuses][:limit]

    def delete(self, job_id: str) -> bool:
        return self.jobs.pop(job_id, None) is not None

    def count_jobs(
        self, owner: str, status: JobStatus, created_since: datetime | None = None
    ) -> int:
        return sum(
            1
            for j in list(self.jobs.values())
            if j.owner == owner
            and j.status is status
            and (created_since is None or j.created_at >= created_since)
        )

    def counts(self) -> JobCounts:
        with self._lock:
            jobs = list(self.jobs.values())
        return JobCounts(
            by_status=dict(Counter(job.status for job in jobs)),
            by_webhook_state=dict(Counter(job.webhook_state.value for job in jobs)),
        )


@dataclass
class _Entry:
    item: WorkItem
    visible_at: float
    receive_count: int = 0
    receipt: str | None = None


class MemoryQueue:
    """SQS semantics on a fake clock: visibility, delays, receive counts, dead letters."""

    def __init__(self, clock: FixedClock, max_receives: int = 5) -> None:
        self.clock = clock
        self.max_receives = max_receives
        self.entries: list[_Entry] = []
        self.dead: list[WorkItem] = []
        self._receipts = itertools.count(1)

    def _now(self) -> float:
        return self.clock.now().timestamp()

    def send(self, item: WorkItem, delay_seconds: float = 0.0) -> None:
        self.entries.append(_Entry(item, self._now() + delay_seconds))

    def receive(self, wait_seconds: float, visibility_seconds: float) -> Message | None:
        now = self._now()
        for entry in sorted(self.entries, key=lambda e: e.visible_at):
            if entry.visible_at > now:
                continue
            if entry.receive_count >= self.max_receives:
                self.entries.remove(entry)
                self.dead.append(entry.item)
                continue
            entry.receive_count += 1
            entry.receipt = f"r{next(self._receipts)}"
            entry.visible_at = now + visibility_seconds
            return Message(entry.item, entry.receipt, entry.receive_count)
        return None

    def _find(self, message: Message) -> _Entry | None:
        return next((e for e in self.entries if e.receipt == message.receipt), None)

    def ack(self, message: Message) -> None:
        entry = self._find(message)
        if entry is not None:
            self.entries.remove(entry)

    def release(self, message: Message, delay_seconds: float = 0.0) -> None:
        entry = self._find(message)
        if entry is not None:
            entry.visible_at = self._now() + delay_seconds
            entry.receipt = None

    def extend(self, message: Message, visibility_seconds: float) -> None:
        entry = self._find(message)
        if entry is not None:
            entry.visible_at = self._now() + visibility_seconds

    def depth(self) -> int:
        now = self._now()
        return sum(1 for e in self.entries if e.receipt is None or e.visible_at <= now)

    def items(self) -> list[WorkItem]:
        return [e.item for e in self.entries]


class MemoryObjectStore:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put_bytes(self, key: str, data: bytes, content_type: str = "") -> None:
        self.objects[key] = data

    def put_file(self, key: str, path: Path, content_type: str = "") -> None:
        self.objects[key] = path.read_bytes()

    def put_stream(self, key: str, stream: BinaryIO, max_bytes: int) -> int:
        data = stream.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise PayloadTooLarge(f"larger than {max_bytes} bytes")
        self.objects[key] = data
        return len(data)

    def get_bytes(self, key: str) -> bytes:
        if key not in self.objects:
            raise JobNotFound(key)
        return self.objects[key]

    def download(self, key: str, target: Path) -> int:
        target.write_bytes(self.get_bytes(key))
        return len(self.objects[key])

    def open_read(self, key: str) -> Iterator[bytes]:
        return iter([self.get_bytes(key)])

    def exists(self, key: str) -> bool:
        return key in self.objects

    def size(self, key: str) -> int | None:
        return len(self.objects[key]) if key in self.objects else None

    def list_objects(self, prefix: str) -> list[ObjectInfo]:
        return [
            ObjectInfo(k, len(v)) for k, v in sorted(self.objects.items()) if k.startswith(prefix)
        ]

    def delete(self, key: str) -> None:
        self.objects.pop(key, None)

    def delete_prefix(self, prefix: str) -> int:
        doomed = [k for k in self.objects if k.startswith(prefix)]
        for key in doomed:
            del self.objects[key]
        return len(doomed)

    def upload_target(
        self, key_prefix: str, filename: str, expires_in: int, max_bytes: int
    ) -> UploadTarget:
        return UploadTarget(
            url=f"memory://{key_prefix}{filename}",
            method="PUT",
            expires_at=datetime(2026, 11, 25, 13, 0, tzinfo=UTC),
            max_bytes=max_bytes,
        )

    def download_link(self, key: str, expires_in: int) -> str:
        return f"memory://{key}?expires_in={expires_in}"


class RecordingLauncher:
    def __init__(self) -> None:
        self.calls: list[int] = []
        self.jobs: list[str | None] = []

    def ensure_capacity(self, demand: int, job: Job | None = None) -> list[str]:
        self.calls.append(demand)
        self.jobs.append(job.job_id if job else None)
        return [f"worker-{len(self.calls)}"]


@dataclass
class ScriptedSender:
    """A WebhookSender that answers from a script of attempts (then success)."""

    script: list[WebhookAttempt] = field(default_factory=list)
    sent: list[tuple[str, bytes, str | None, str, int]] = field(default_factory=list)

    def send(
        self, url: str, body: bytes, secret: str | None, msg_id: str, attempt: int
    ) -> WebhookAttempt:
        self.sent.append((url, body, secret, msg_id, attempt))
        if self.script:
            return self.script.pop(0)
        return WebhookAttempt(True, 200, None, None)


def memory_services(policy: Policy | None = None) -> Services:
    clock = FixedClock()
    return Services(
        jobs=MemoryJobStore(),
        objects=MemoryObjectStore(),
        queue=MemoryQueue(clock),
        webhooks=MemoryQueue(clock, max_receives=1000),
        launcher=RecordingLauncher(),
        clock=clock,
        ids=SequentialIds(),
        policy=policy or Policy(),
    )


def uploaded(svc: Services, name: str, data: bytes) -> str:
    """A job whose upload `name` has arrived and been queued for a worker."""
    job_id = create_job(svc, "k", NewJob()).job_id
    key = f"transcription_upload/{job_id}/{name}"
    svc.objects.put_bytes(key, data)
    assert handle_object_created(svc, key, len(data)) == "launched"
    return job_id


class FakeLiveTranscriber:
    """A stand-in for the streaming engine behind the LiveTranscriber port, deterministic:
    a turn starts at the first loud 20 ms frame (RMS over `level`), confirms the next of
    `words` per `word_ms` of loud audio, and ends after options.silence_ms of quiet (with
    turn detection) or on commit. Each session decodes on a thread of its own, as the
    engine does; `hold()` stops that decoding, so its buffer of `buffer_seconds` fills."""

    def __init__(
        self,
        words: Sequence[str] = ("hej",),
        word_ms: int = 300,
        buffer_seconds: float = 30.0,
        level: float = 0.02,
    ) -> None:
        self.words = tuple(words)
        self.word_ms = word_ms
        self.buffer_samples = int(buffer_seconds * 16_000)
        self.level = level
        self.sessions: list[FakeLiveSession] = []
        self.running = threading.Event()
        self.running.set()

    def open(self, options: LiveOptions, on_event: LiveEventSink) -> FakeLiveSession:
        session = FakeLiveSession(self, options, on_event, len(self.sessions) + 1)
        self.sessions.append(session)
        return session

    def hold(self) -> None:
        self.running.clear()

    def release(self) -> None:
        self.running.set()


_COMMIT, _CLEAR = "commit", "clear"
_FRAME = 320  # 20 ms at 16 kHz


class FakeLiveSession:
    def __init__(
        self,
        engine: FakeLiveTranscriber,
        options: LiveOptions,
        on_event: LiveEventSink,
        number: int,
    ) -> None:
        self.engine = engine
        self.options = options
        self.on_event = on_event
        self.number = number
        self.received_samples = 0
        self.closed = threading.Event()
        self._pending: deque[Samples | str] = deque()
        self._pending_samples = 0
        self._changed = threading.Condition()
        self._position = 0  # samples decoded
        self._turns = 0
        self._words = 0
        self._item: str | None = None
        self._start_ms = self._speech_ms = self._quiet_ms = 0
        self._text = ""
        self._heard = False
        self._thread = threading.Thread(target=self._decode, daemon=True)
        self._thread.start()

    def append(self, samples: Samples) -> None:
        with self._changed:
            if self._pending_samples + len(samples) > self.engine.buffer_samples:
                raise LiveBackpressure("the fake's buffer is full")
            self._pending.append(samples)
            self._pending_samples += len(samples)
            self.received_samples += len(samples)
            self._changed.notify()

    def commit(self) -> None:
        self._queue(_COMMIT)

    def clear(self) -> None:
        self._queue(_CLEAR)

    def close(self) -> None:
        self.closed.set()
        with self._changed:
            self._changed.notify()
        self._thread.join(timeout=5)

    def _queue(self, marker: str) -> None:
        with self._changed:
            self._pending.append(marker)
            self._changed.notify()

    def _decode(self) -> None:
        while not self.closed.is_set():
            if not self.engine.running.wait(timeout=0.05):
                continue
            with self._changed:
                if not self._pending:
                    self._changed.wait(timeout=0.1)
                    continue
                item = self._pending.popleft()
                if not isinstance(item, str):
                    self._pending_samples -= len(item)
            if self.closed.is_set():
                return
            if not isinstance(item, str):
                self._frames(item)
            elif item == _COMMIT:
                self._end_turn(stopped=False)
            else:  # _CLEAR
                self._item, self._heard = None, False

    def _frames(self, samples: Samples) -> None:
        for start in range(0, len(samples), _FRAME):
            frame = samples[start : start + _FRAME]
            self._position += len(frame)
            ms = self._position * 1000 // 16_000
            self._heard = True
            loud = float(np.sqrt(np.mean(frame.astype(np.float64) ** 2))) > self.engine.level
            if loud:
                if self._item is None:
                    self._turns += 1
                    self._item = f"item_{self.number:02d}_{self._turns:03d}"
                    self._start_ms = max(0, ms - self.options.prefix_padding_ms)
                    self._speech_ms = self._quiet_ms = 0
                    self._text = ""
                    self._emit("speech_started", audio_start_ms=self._start_ms)
                self._quiet_ms = 0
                self._speech_ms += len(frame) * 1000 // 16_000
                if self._speech_ms >= self.engine.word_ms * (len(self._text.split()) + 1):
                    word = self.engine.words[self._words % len(self.engine.words)]
                    self._words += 1
                    delta = f" {word}" if self._text else word
                    self._text += delta
                    self._emit("delta", text=delta, tentative=" …")
            elif self._item is not None:
                self._quiet_ms += len(frame) * 1000 // 16_000
                if self.options.turn_detection and self._quiet_ms >= self.options.silence_ms:
                    self._end_turn(stopped=True)

    def _end_turn(self, stopped: bool) -> None:
        if self._item is None:
            if not self._heard:
                return
            self._turns += 1
            self._item, self._text = f"item_{self.number:02d}_{self._turns:03d}", ""
        end_ms = self._position * 1000 // 16_000 - self._quiet_ms
        if stopped:
            self._emit("speech_stopped", audio_start_ms=self._start_ms, audio_end_ms=end_ms)
        self._emit("completed", text=self._text, audio_start_ms=self._start_ms, audio_end_ms=end_ms)
        self._item, self._heard = None, False

    def _emit(self, kind: LiveEventType, **fields: Any) -> None:
        assert self._item is not None
        if not self.closed.is_set():
            self.on_event(LiveEvent(kind, self._item, **fields))
