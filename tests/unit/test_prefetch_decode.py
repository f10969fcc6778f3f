"""The prefetch decodes the next job's audio while the current job transcribes: the
engine's open_audio (probe and first window, ahead of the transcription), and the worker
handing it to the next job. A stand-in engine, no model."""

from __future__ import annotations

import io
import threading
import wave
from pathlib import Path

import numpy as np
import pytest

from swescribe.core.errors import InvalidAudio
from swescribe.core.jobs import JobStatus
from swescribe.core.services import Policy
from swescribe.engine import (
    OpenedAudio,
    ProgressCallback,
    Segment,
    TranscribeOptions,
    Transcript,
    open_audio,
)
from swescribe.engine.audio import SAMPLE_RATE, iter_windows
from swescribe.worker import prefetch
from swescribe.worker.runner import Worker, WorkerConfig
from tests.fakes import memory_services, uploaded


def wav_bytes(seconds: float) -> bytes:
    """A 16 kHz mono tone with a quiet stretch every 20 s (somewhere to cut windows)."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    loud = (np.sin(2 * np.pi * 220 * t) * 8000 * (t % 20 > 1)).astype(np.int16)
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(loud.tobytes())
    return out.getvalue()


def test_opened_audio_gives_the_same_windows_as_decoding_the_file(tmp_path: Path) -> None:
    path = tmp_path / "tone.wav"
    path.write_bytes(wav_bytes(150))
    opened = open_audio(path, window_seconds=60)
    assert opened.path == path
    assert opened.info.duration == pytest.approx(150, abs=0.01)
    ahead = list(opened.windows())
    plain = list(iter_windows(path, 60))
    assert [offset for offset, _ in ahead] == [offset for offset, _ in plain]
    assert len(ahead) >= 3, "several windows, cut in the quiet stretches"
    for (_, got), (_, expected) in zip(ahead, plain, strict=True):
        np.testing.assert_array_equal(got, expected)
    with pytest.raises(RuntimeError, match="read already"):
        opened.windows()


def test_opened_audio_can_be_closed_unread_and_refuses_what_is_not_audio(tmp_path: Path) -> None:
    path = tmp_path / "tone.wav"
    path.write_bytes(wav_bytes(5))
    open_audio(path).close()  # a prefetched job that never ran: nothing left open
    junk = tmp_path / "notes.mp3"
    junk.write_text("ingen ljudfil\n" * 50)
    with pytest.raises(InvalidAudio):
        open_audio(junk)


class HoldingEngine:
    """Holds the first job until the prefetch has opened the next job's audio (bounded),
    and records what each job was handed."""

    def __init__(self, opened: threading.Event) -> None:
        self.opened = opened
        self.running: str | None = None
        self.handed: list[Path | OpenedAudio] = []
        self.first_windows: list[tuple[float, int]] = []

    def transcribe(
        self,
        path: Path | OpenedAudio,
        options: TranscribeOptions | None = None,
        progress: ProgressCallback | None = None,
    ) -> Transcript:
        name = path.path.name if isinstance(path, OpenedAudio) else path.name
        self.running = name
        if not self.handed:
            self.opened.wait(10)
        self.handed.append(path)
        if isinstance(path, OpenedAudio):
            offset, samples = next(iter(path.windows()))
            self.first_windows.append((offset, samples.size))
        self.running = None
        segment = Segment(0, 0.0, 1.0, f"text of {Path(name).stem}")
        return Transcript(segment.text, "sv", 1.0, (segment,), "stand-in")


def test_the_next_jobs_audio_is_decoded_while_the_current_job_transcribes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    svc = memory_services()
    uploaded(svc, "första.wav", wav_bytes(3))
    second = uploaded(svc, "andra.wav", wav_bytes(4))
    opened = threading.Event()
    engine = HoldingEngine(opened)
    decoded_while: list[tuple[str, str | None]] = []

    def open_and_tell(
        path: Path,
        window_seconds: float = 600.0,
        max_seconds: float = 0.0,
        multichannel: bool = False,
    ) -> OpenedAudio:
        result = open_audio(path, window_seconds, max_seconds, multichannel)
        decoded_while.append((path.name, engine.running))
        opened.set()
        return result

    monkeypatch.setattr(prefetch, "open_audio", open_and_tell)
    config = WorkerConfig("w1", poll_seconds=0.0, heartbeat_seconds=0.05, prefetch_grace_seconds=0)
    assert Worker(svc, lambda model: engine, config).run(max_jobs=2) == 2

    assert decoded_while == [("andra.wav", "första.wav")], "decoded during the first job"
    first, then = engine.handed
    assert isinstance(first, Path), "the first job had nothing prefetched"
    assert isinstance(then, OpenedAudio)
    assert then.path.name == "andra.wav"
    assert engine.first_windows == [(0.0, 4 * SAMPLE_RATE)]
    job = svc.jobs.get(second)
    assert job is not None
    assert job.status is JobStatus.COMPLETED
    assert svc.objects.get_bytes(job.result_keys["txt"]) == b"text of andra\n"


def test_a_prefetched_upload_that_is_not_audio_goes_to_its_job_as_a_path() -> None:
    svc = memory_services()
    uploaded(svc, "första.wav", wav_bytes(3))
    uploaded(svc, "andra.wav", b"not audio at all")
    opened = threading.Event()
    opened.set()  # nothing to wait for: the second upload cannot be decoded
    engine = HoldingEngine(opened)
    config = WorkerConfig("w1", poll_seconds=0.0, heartbeat_seconds=0.05, prefetch_grace_seconds=0)
    assert Worker(svc, lambda model: engine, config).run(max_jobs=2) == 2
    assert [type(handed) for handed in engine.handed] == [type(Path()), type(Path())]


def test_the_prefetch_decodes_under_the_deployments_audio_limit() -> None:
    """Audio over SWESCRIBE_MAX_AUDIO_SECONDS is not decoded ahead (its job refuses it)."""
    svc = memory_services(Policy(max_audio_seconds=3.5))
    uploaded(svc, "första.wav", wav_bytes(3))
    uploaded(svc, "andra.wav", wav_bytes(4))
    opened = threading.Event()
    opened.set()
    engine = HoldingEngine(opened)
    config = WorkerConfig("w1", poll_seconds=0.0, heartbeat_seconds=0.05, prefetch_grace_seconds=0)
    assert Worker(svc, lambda model: engine, config).run(max_jobs=2) == 2
    assert [type(handed) for handed in engine.handed] == [type(Path()), type(Path())]
