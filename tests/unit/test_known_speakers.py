"""Known speakers (issue 28): the voice registry on the real filesystem store, the
greedy one-name-per-speaker matching, and the job option."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from swescribe.adapters.local.filesystem import FilesystemObjectStore
from swescribe.core.errors import InvalidRequest, SpeakerExists, SpeakerNotFound
from swescribe.core.request import JobRequest, request_from_record, request_to_record
from swescribe.core.transcript import Segment, SpeakerTurn
from swescribe.core.voices import Voiceprint, VoiceRegistry, new_voice_id
from swescribe.engine.diarization.attribution import attribute
from swescribe.engine.diarization.known import MATCH_THRESHOLD, match_voices

WHEN = datetime(2026, 12, 4, tzinfo=UTC)


def voice(name: str, vector: list[float]) -> Voiceprint:
    return Voiceprint(new_voice_id(), name, WHEN, tuple(vector), 3.0)


@pytest.fixture
def store(tmp_path: Path) -> FilesystemObjectStore:
    return FilesystemObjectStore(tmp_path / "objects", "", b"k" * 32)


def test_each_key_sees_only_its_voices_and_remove_deletes_the_voiceprint(
    store: FilesystemObjectStore,
) -> None:
    registry = VoiceRegistry(store)
    anna = registry.add("key-a", voice("Anna", [1.0, 0.0]))
    registry.add("key-b", voice("Bo", [0.0, 1.0]))
    assert [v.name for v in registry.voices("key-a")] == ["Anna"]
    assert [v.name for v in registry.voices("key-b")] == ["Bo"]
    with pytest.raises(SpeakerNotFound):
        registry.remove("key-b", anna.voice_id)  # another key cannot delete it
    with pytest.raises(SpeakerNotFound):
        registry.chosen("key-b", ["Anna"])  # nor use it
    stored = store.path_of(f"speakers/key-a/{anna.voice_id}.json")
    assert stored.is_file()
    registry.remove("key-a", "anna")
    assert not stored.exists(), "the voiceprint is gone from storage"
    assert registry.voices("key-a") == []


def test_a_taken_name_and_a_label_like_s1_are_refused(store: FilesystemObjectStore) -> None:
    from swescribe.core.voices import check_name

    registry = VoiceRegistry(store)
    registry.add("k", voice("Anna", [1.0, 0.0]))
    with pytest.raises(SpeakerExists):
        registry.add("k", voice("anna", [0.0, 1.0]))
    for bad in ("S1", "", "a/b", "x" * 65):
        with pytest.raises(InvalidRequest):
            check_name(bad)


def test_each_speaker_gets_one_name_at_most_and_each_name_goes_once_best_first() -> None:
    near = np.array([1.0, 0.05, 0.0])
    nearer = np.array([1.0, 0.0, 0.0])
    far = np.array([0.0, 0.0, 1.0])
    centroids = {k: v / np.linalg.norm(v) for k, v in {"0": near, "1": nearer, "2": far}.items()}
    anna = voice("Anna", [1.0, 0.0, 0.0])
    matches = match_voices(centroids, [anna, voice("Bo", [0.0, 1.0, 0.0])])
    assert [(m.speaker, m.voice.name) for m in matches] == [("1", "Anna")]
    assert matches[0].score >= MATCH_THRESHOLD
    assert match_voices(centroids, []) == []


def test_a_named_speaker_keeps_its_name_and_the_others_are_numbered() -> None:
    segments = [Segment(0, 0.0, 1.0, "hej"), Segment(1, 1.0, 2.0, "då"), Segment(2, 2.0, 3.0, "ja")]
    turns = [SpeakerTurn(0.0, 1.0, "0"), SpeakerTurn(1.0, 2.0, "1"), SpeakerTurn(2.0, 3.0, "2")]
    labelled, _, names = attribute(segments, turns, {"1": "Anna"})
    assert [s.speaker for s in labelled] == ["S1", "Anna", "S2"]
    assert names == ("S1", "Anna", "S2")


def test_known_speakers_is_a_job_option_that_round_trips_and_implies_diarize() -> None:
    assert JobRequest().known_speakers is None
    named = JobRequest(known_speakers=("Anna", " Anna ", "Bo"))
    assert named.known_speakers == ("Anna", "Bo")
    assert named.diarize
    assert request_from_record(request_to_record(named)) == named
    none = JobRequest(diarize=True, known_speakers=())
    assert request_from_record(request_to_record(none)).known_speakers == ()
    with pytest.raises(InvalidRequest):
        JobRequest(known_speakers=("x" * 65,))
