"""The live engine with the real whisper-base model, streaming the Swedish clips.

Audio is fed faster than real time. A small undecoded-audio budget makes the feeder wait
for the decoder (it retries on LiveBackpressure), so every turn is decoded several times
as its buffer grows, whatever the machine's speed. Accuracy is bounded against the batch
engine on the same files in the same test, never by an absolute WER.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from swescribe.config import Settings
from swescribe.core.errors import InvalidOption
from swescribe.engine import Engine
from swescribe.engine.audio import SAMPLE_RATE, Samples, iter_samples
from swescribe.engine.device import plan_device
from swescribe.engine.live import LiveEngine, LiveTuning
from swescribe.engine.live_ports import LiveBackpressure, LiveEvent, LiveOptions, LiveSession
from swescribe.engine.models import load_whisper_model
from tests.conftest import COMMON_VOICE_CLIPS, audio, reference
from tests.wer import word_error_rate

pytestmark = pytest.mark.model

CV_CLIPS = COMMON_VOICE_CLIPS
CHUNK = SAMPLE_RATE // 10
"""100 ms per append, as a client sends it."""
WAIT_LIMIT = 120.0
"""No test waits longer than this for the engine (a bound, not a speed figure)."""


@dataclass
class Recorder:
    """A session's events, in the order the engine's thread gave them."""

    events: list[LiveEvent] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, event: LiveEvent) -> None:
        with self.lock:
            self.events.append(event)

    def of(self, kind: str) -> list[LiveEvent]:
        with self.lock:
            return [e for e in self.events if e.type == kind]

    def turns(self) -> dict[str, list[LiveEvent]]:
        found: dict[str, list[LiveEvent]] = {}
        with self.lock:
            for event in self.events:
                found.setdefault(event.item_id, []).append(event)
        return found

    def settle(self, quiet: float = 1.5) -> None:
        """Wait until every started turn is completed and nothing has come for `quiet` s."""
        deadline = time.monotonic() + WAIT_LIMIT
        seen, since = -1, time.monotonic()
        while True:
            with self.lock:
                count = len(self.events)
                started = sum(e.type == "speech_started" for e in self.events)
                done = sum(e.type == "completed" for e in self.events)
            if count != seen:
                seen, since = count, time.monotonic()
            if done >= started and time.monotonic() - since >= quiet:
                return
            assert time.monotonic() < deadline, f"turns still open after {WAIT_LIMIT} s"
            time.sleep(0.05)

    def wait_for(self, kind: str, count: int = 1) -> None:
        deadline = time.monotonic() + WAIT_LIMIT
        while len(self.of(kind)) < count:
            assert time.monotonic() < deadline, f"no {count} {kind} events in {WAIT_LIMIT} s"
            time.sleep(0.05)


def samples_of(clip: str) -> Samples:
    return np.concatenate(list(iter_samples(audio(f"{clip}.wav"))))


def silence(seconds: float) -> Samples:
    return np.zeros(round(seconds * SAMPLE_RATE), dtype=np.float32)


def feed(session: LiveSession, samples: Samples) -> int:
    """Append in 100 ms pieces as fast as the engine takes them; how often it refused."""
    refused = 0
    deadline = time.monotonic() + WAIT_LIMIT
    for start in range(0, samples.size, CHUNK):
        while True:
            try:
                session.append(samples[start : start + CHUNK])
                break
            except LiveBackpressure:
                refused += 1
                assert time.monotonic() < deadline, "the engine stopped taking audio"
                time.sleep(0.02)
    return refused


@pytest.fixture(scope="module")
def live(base_engine: Engine) -> Iterator[LiveEngine]:
    """A live engine on the same model files, the budget small enough that the feeder
    waits for each turn to be decoded every two seconds of audio."""
    plan = plan_device("cpu", "auto", 2)
    engine = LiveEngine(
        lambda: load_whisper_model(base_engine.model, plan),
        LiveTuning(max_undecoded_seconds=2.0),
    )
    yield engine
    engine.stop()


def stream_clip(live: LiveEngine, samples: Samples, options: LiveOptions) -> Recorder:
    recorder = Recorder()
    session = live.open(options, recorder)
    try:
        feed(session, np.concatenate([samples, silence(1.0)]))
        if not options.turn_detection:
            session.commit()
        recorder.wait_for("completed")
        recorder.settle()
    finally:
        session.close()
    return recorder


def completed_text(recorder: Recorder) -> str:
    return " ".join(e.text for e in recorder.of("completed"))


def check_turns(recorder: Recorder) -> int:
    """Each turn: its deltas, joined, only ever grow towards its completed text and end
    equal to it. Returns how many deltas came before the turn's last one (decodes of a
    growing buffer)."""
    growing = 0
    for item, events in recorder.turns().items():
        completed = [e for e in events if e.type == "completed"]
        assert len(completed) == 1, f"turn {item}: {len(completed)} completed events"
        assert events[-1].type == "completed", f"turn {item}: events after completed"
        confirmed = ""
        for event in events:
            if event.type == "delta":
                confirmed += event.text
                assert completed[0].text.startswith(confirmed), "confirmed text was rewritten"
        assert confirmed == completed[0].text
        growing += max(0, sum(1 for e in events if e.type == "delta") - 1)
    return growing


def test_a_streamed_recording_confirms_text_that_ends_as_each_turns_completed_text(
    live: LiveEngine, base_engine: Engine
) -> None:
    clip = "lattlast_stts"
    recorder = stream_clip(live, samples_of(clip), LiveOptions())
    started = recorder.of("speech_started")
    assert len(started) >= 2, "a reading with pauses gives several turns"
    assert len(recorder.of("speech_stopped")) == len(started)
    growing = check_turns(recorder)
    assert growing >= len(started) // 2, "turns were decoded as their buffers grew"
    assert all(e.audio_end_ms > e.audio_start_ms for e in recorder.of("completed"))
    live_wer = word_error_rate(reference(clip), completed_text(recorder))
    batch_wer = word_error_rate(reference(clip), base_engine.transcribe(audio(f"{clip}.wav")).text)
    # 88 words, and which greedy decodes agree first depends on the decode thread's timing:
    # 0.363 to 0.432 in 22 runs on one machine, 0.432 in 7 of them (a word is 1.1 points:
    # "långa substantiv" or "långa substan tid"), batch 0.295. The regressions this guards
    # against land at 0.5 and worse (docs/performance.md, "What the design choices bought").
    assert live_wer <= batch_wer + 0.17, f"live {live_wer:.3f} against batch {batch_wer:.3f}"


def test_the_common_voice_clips_streamed_are_within_a_few_points_of_the_batch_engine(
    live: LiveEngine, base_engine: Engine
) -> None:
    references, streamed, batch = [], [], []
    for clip in CV_CLIPS:
        recorder = stream_clip(live, samples_of(clip), LiveOptions())
        check_turns(recorder)
        references.append(reference(clip))
        streamed.append(completed_text(recorder))
        batch.append(base_engine.transcribe(audio(f"{clip}.wav")).text)
    live_wer = word_error_rate(" ".join(references), " ".join(streamed))
    batch_wer = word_error_rate(" ".join(references), " ".join(batch))
    assert live_wer <= batch_wer + 0.12, f"live {live_wer:.3f} against batch {batch_wer:.3f}"


def test_without_turn_detection_one_long_turn_is_trimmed_and_ends_on_commit(
    live: LiveEngine, base_engine: Engine
) -> None:
    clip = "lattlast_stts"
    recorder = stream_clip(live, samples_of(clip), LiveOptions(turn_detection=False))
    assert recorder.of("speech_started") == []
    assert recorder.of("speech_stopped") == []
    assert len(recorder.of("completed")) == 1
    assert check_turns(recorder) >= 5, "a 32 s turn is decoded many times as it grows"
    live_wer = word_error_rate(reference(clip), completed_text(recorder))
    batch_wer = word_error_rate(reference(clip), base_engine.transcribe(audio(f"{clip}.wav")).text)
    # A sanity bound: with one 32 s turn most words are confirmed by greedy decodes,
    # whose text depends on where the machine's speed put them (0.39 to 0.48 here).
    assert live_wer <= batch_wer + 0.25, f"live {live_wer:.3f} against batch {batch_wer:.3f}"


def test_silence_gives_no_turn(live: LiveEngine) -> None:
    recorder = Recorder()
    session = live.open(LiveOptions(), recorder)
    feed(session, samples_of("silence_30s"))
    session.commit()
    time.sleep(1.0)
    session.close()
    assert recorder.events == []


def test_commit_ends_the_turn_at_once_without_waiting_for_a_pause(live: LiveEngine) -> None:
    recorder = Recorder()
    session = live.open(LiveOptions(silence_ms=5000), recorder)
    feed(session, samples_of("cv_18711295"))
    session.commit()
    recorder.wait_for("completed")
    session.close()
    assert recorder.of("speech_stopped") == [], "commit ends the turn, not a pause"
    assert "nummer" in recorder.of("completed")[0].text.lower()
    check_turns(recorder)


def test_clear_drops_the_turn_so_no_text_of_it_is_completed(live: LiveEngine) -> None:
    recorder = Recorder()
    session = live.open(LiveOptions(silence_ms=5000), recorder)
    feed(session, samples_of("cv_18711295"))
    session.clear()
    feed(session, samples_of("cv_18748646"))
    session.commit()
    recorder.wait_for("completed")
    time.sleep(0.5)
    session.close()
    completed = recorder.of("completed")
    assert len(completed) == 1
    assert "nummer" not in completed[0].text.lower()
    assert "klart" in completed[0].text.lower()


def test_a_client_sending_faster_than_real_time_is_refused_past_the_buffer(
    base_engine: Engine,
) -> None:
    """Attack: a client pushes a 114 s recording at once. Past the session's budget of
    undecoded audio, append raises LiveBackpressure (nothing of that piece is kept); the
    session goes on at real-time pace."""
    plan = plan_device("cpu", "auto", 2)
    engine = LiveEngine(lambda: load_whisper_model(base_engine.model, plan), LiveTuning())
    recorder = Recorder()
    session = engine.open(LiveOptions(), recorder)
    samples = samples_of("longform_reading")
    accepted = 0
    refused = None
    for start in range(0, samples.size, CHUNK):
        try:
            session.append(samples[start : start + CHUNK])
        except LiveBackpressure as error:
            refused = error
            break
        accepted += CHUNK
    assert refused is not None, "114 s pushed at once were all taken"
    assert refused.code == "input_audio_buffer_full"
    # What the session holds undecoded stays within its 30 s budget; the decoder hears
    # some of the audio as it is pushed (how much depends on the machine), so the total
    # taken is not the bound.
    assert accepted < samples.size
    held = session._waiting + session._undecoded  # type: ignore[attr-defined]
    assert held <= 30 * SAMPLE_RATE, f"{held / SAMPLE_RATE:.0f} s held undecoded"
    feed(session, silence(2.0))  # taken again as the decoder catches up
    recorder.settle()
    session.close()
    engine.stop()
    check_turns(recorder)


def test_close_frees_the_session_and_the_thread_ends_with_the_last_one(
    live: LiveEngine,
) -> None:
    threads_before = threading.active_count()
    recorders = [Recorder(), Recorder()]
    sessions = [live.open(LiveOptions(), r) for r in recorders]
    for session, clip in zip(sessions, ("cv_18746434", "cv_18733516"), strict=True):
        feed(session, samples_of(clip))
    for session in sessions:
        session.close()
    seen = [len(r.events) for r in recorders]
    deadline = time.monotonic() + WAIT_LIMIT
    while live.thread_alive:
        assert time.monotonic() < deadline, "the decode thread outlived its sessions"
        time.sleep(0.05)
    assert [len(r.events) for r in recorders] == seen, "events after close"
    assert threading.active_count() <= threads_before
    with pytest.raises(InvalidOption):
        live.open(LiveOptions(language="xx"), Recorder())


def test_sessions_open_together_are_decoded_together(live: LiveEngine) -> None:
    clips = ("cv_18746434", "cv_18733516", "cv_18716987")
    recorders = [Recorder() for _ in clips]
    sessions = [live.open(LiveOptions(), r) for r in recorders]
    before = sum(size * n for size, n in live.batch_sizes.items() if size > 1)
    feeders = [
        threading.Thread(target=feed, args=(s, np.concatenate([samples_of(c), silence(1.0)])))
        for s, c in zip(sessions, clips, strict=True)
    ]
    for feeder in feeders:
        feeder.start()
    for feeder in feeders:
        feeder.join(WAIT_LIMIT)
    for recorder in recorders:
        recorder.wait_for("completed")
        check_turns(recorder)
    for session in sessions:
        session.close()
    batched = sum(size * n for size, n in live.batch_sizes.items() if size > 1)
    assert batched > before, f"no decode served two sessions at once: {live.batch_sizes}"


def test_the_factory_serves_the_configured_model(tmp_path: Path, model_cache: Path) -> None:
    from swescribe.bootstrap_engine import live_transcriber

    settings = Settings.from_env(
        {"SWESCRIBE_MODEL": "whisper-base", "SWESCRIBE_DATA_DIR": str(tmp_path)}
    )
    transcriber = live_transcriber(settings)
    recorder = Recorder()
    session = transcriber.open(LiveOptions(model="whisper-base"), recorder)
    feed(session, np.concatenate([samples_of("cv_18748646"), silence(1.0)]))
    recorder.wait_for("completed")
    session.close()
    assert "klart" in recorder.of("completed")[0].text.lower()
