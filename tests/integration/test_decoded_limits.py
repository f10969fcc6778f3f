"""The attack of issue 24, item 2, on the real engine and worker: FLAC in Matroska whose
timestamps claim 2.3 s for 115 s of audio. The audio limit, the transcript's duration,
the metrics and the progress count the decoded samples, never the container's claim.

The file is 115 s of silence around three Common Voice clips, one of them past 100 s:
VAD skips the silence, so whisper-base transcribes about 15 s of speech."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from swescribe.core.errors import InvalidAudio
from swescribe.core.jobs import JobStatus
from swescribe.core.services import Policy
from swescribe.engine import Engine, TranscribeOptions
from swescribe.engine.audio import probe
from swescribe.worker.runner import Worker, WorkerConfig
from tests.fakes import memory_services, uploaded
from tests.lying_audio import scaled_timestamps_mkv, speech_in_silence

pytestmark = pytest.mark.model

HELD_SECONDS = 115.0
CLIPS = {1.0: "cv_18711295.wav", 50.0: "cv_18746434.wav", 104.0: "cv_18733516.wav"}


@pytest.fixture(scope="module")
def claims_2_s(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("lying") / "attack.mkv"
    scaled_timestamps_mkv(path, speech_in_silence(HELD_SECONDS, CLIPS))
    assert probe(path).duration < 3.0, "the container claims a fiftieth of its length"
    return path


class TallyCounters:
    """The Counters port in a dict (what /metrics reads)."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = {}

    def add(self, amounts: Mapping[str, float]) -> None:
        for name, amount in amounts.items():
            self.totals[name] = self.totals.get(name, 0.0) + amount

    def read(self) -> dict[str, float]:
        return dict(self.totals)


def test_a_file_claiming_2_s_for_115_s_is_refused_at_a_60_s_limit_before_model_time(
    base_engine: Engine, claims_2_s: Path
) -> None:
    progress: list[tuple[float, float]] = []
    with pytest.raises(InvalidAudio) as refused:
        base_engine.transcribe(
            claims_2_s,
            TranscribeOptions(max_seconds=60),
            lambda done, total: progress.append((done, total)),
        )
    assert refused.value.code == "audio_too_long"
    assert "longer than the limit of 0:01:00" in str(refused.value)
    # Only the length is announced (progress 0) before the first window is decoded.
    assert all(done == 0.0 for done, _ in progress), "refused before the model ran"


def test_without_a_limit_the_transcript_and_its_progress_last_what_was_decoded(
    base_engine: Engine, claims_2_s: Path
) -> None:
    progress: list[tuple[float, float]] = []
    transcript = base_engine.transcribe(
        claims_2_s,
        TranscribeOptions(window_seconds=60.0),
        lambda done, total: progress.append((done, total)),
    )
    assert transcript.duration == pytest.approx(HELD_SECONDS, abs=0.05)
    assert transcript.segments[-1].start > 100.0, "the clip past 100 s was transcribed"
    assert progress[-1] == pytest.approx((HELD_SECONDS, HELD_SECONDS), abs=0.05)
    unfinished = [(done, total) for done, total in progress[:-1] if done >= total]
    assert unfinished == [], "progress read done before the end of the audio"
    totals = [total for _, total in progress]
    assert totals == sorted(totals), "the total grows as decoding passes the claim"
    assert [done for done, _ in progress] == sorted(done for done, _ in progress)


def test_the_worker_fails_the_job_with_audio_too_long_and_counts_decoded_seconds(
    base_engine: Engine, claims_2_s: Path
) -> None:
    limited = memory_services(Policy(max_audio_seconds=60))
    refused_id = uploaded(limited, "attack.mkv", claims_2_s.read_bytes())
    Worker(limited, lambda model: base_engine, WorkerConfig("w1", poll_seconds=0.0)).run(1)
    refused = limited.jobs.get(refused_id)
    assert refused is not None
    assert (refused.status, refused.error_code) == (JobStatus.FAILED, "audio_too_long")
    assert "longer than the limit of 0:01:00" in (refused.error_message or "")

    unlimited = memory_services(Policy(max_audio_seconds=0))
    unlimited.counters = counters = TallyCounters()
    done_id = uploaded(unlimited, "attack.mkv", claims_2_s.read_bytes())
    Worker(unlimited, lambda model: base_engine, WorkerConfig("w1", poll_seconds=0.0)).run(1)
    done = unlimited.jobs.get(done_id)
    assert done is not None
    assert done.status is JobStatus.COMPLETED
    assert done.audio_duration == pytest.approx(HELD_SECONDS, abs=0.05)
    assert counters.totals["audio_seconds"] == pytest.approx(HELD_SECONDS, abs=0.05)
