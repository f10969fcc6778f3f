"""Diarization's pure parts: clustering with an automatic or given speaker count, the
DER scorer (checked against pyannote.metrics), turns onto words and segments, the
options, and the speaker labels in all four output formats."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import numpy as np
import pytest

from swescribe.core.errors import InvalidOption
from swescribe.core.transcript import Diarization, Segment, SpeakerTurn, Transcript, Word
from swescribe.engine import TranscribeOptions, render
from swescribe.engine.diarization.attribution import attribute, speaker_at
from swescribe.engine.diarization.clustering import (
    SpeakerCount,
    cluster,
    cut,
    merge_sequence,
)
from swescribe.engine.diarization.pyannote import PYANNOTE_PIPELINE
from swescribe.engine.diarization.turns import join_turns
from tests.conftest import speaker_model_dirs

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from diarization_scoring import score


def voices(counts: list[int], spread: float = 0.15, seed: int = 1) -> tuple[np.ndarray, list[int]]:
    """Unit vectors around one random centre per speaker."""
    rng = np.random.default_rng(seed)
    rows, labels = [], []
    for speaker, count in enumerate(counts):
        centre = rng.normal(size=64)
        for _ in range(count):
            rows.append(centre / np.linalg.norm(centre) + rng.normal(scale=spread / 8, size=64))
            labels.append(speaker)
    embeddings = np.array(rows)
    return embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True), labels


def same_partition(a: list[int] | np.ndarray, b: list[int] | np.ndarray) -> bool:
    pairs = set(zip(list(a), list(b), strict=True))
    return len(pairs) == len(set(a)) == len(set(b))


def test_the_speaker_count_is_found_from_the_embeddings() -> None:
    for counts in ([12], [10, 4], [8, 8, 3], [5, 2, 9, 6]):
        embeddings, truth = voices(counts)
        assert same_partition(cluster(embeddings), truth), counts


def near_voices(offset: float, spreads: list[float], seed: int = 2) -> np.ndarray:
    """Ten unit vectors around each of len(spreads) centres `offset` apart (cosine)."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=64)
    base /= np.linalg.norm(base)
    rows = []
    for spread in spreads:
        side = rng.normal(size=64)
        side -= (side @ base) * base
        centre = (1 - offset) * base + np.sqrt(1 - (1 - offset) ** 2) * side / np.linalg.norm(side)
        for _ in range(10):
            rows.append(centre + rng.normal(scale=spread / 8, size=64))
    embeddings = np.array(rows)
    return embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)


def test_two_steady_voices_closer_than_the_threshold_are_two_speakers() -> None:
    """Two espeak-like voices (tight clusters) 0.37 apart; one varied voice is not split;
    a near voice needs four partials (about 3 s of speech) to count, a far one two."""
    close = near_voices(0.2, [0.2, 0.2])
    assert cluster_distance(close) < 0.42
    assert same_partition(cluster(close), [0] * 10 + [1] * 10)
    assert len(set(cluster(close[:13]))) == 1, "three partials of the near voice"
    varied, _ = voices([20], spread=0.6)
    assert 0.3 < float(merge_sequence(varied)[-1][2]) < 0.42
    assert len(set(cluster(varied))) == 1


def cluster_distance(embeddings: np.ndarray) -> float:
    """Average-linkage distance between the first ten rows and the rest."""
    return float(1 - (embeddings[:10] @ embeddings[10:].T).mean())


def test_a_given_count_and_bounds_are_obeyed() -> None:
    embeddings, truth = voices([8, 8, 3])
    assert len(set(cluster(embeddings, SpeakerCount(exact=2)))) == 2
    assert len(set(cluster(embeddings, SpeakerCount(maximum=2)))) == 2
    assert len(set(cluster(embeddings, SpeakerCount(minimum=4)))) == 4
    assert same_partition(cluster(embeddings, SpeakerCount(exact=3)), truth)
    assert len(set(cluster(embeddings[:2], SpeakerCount(exact=5)))) == 2


def test_the_fast_merges_are_average_linkage() -> None:
    """Each merge is the closest pair of clusters by mean pairwise cosine distance."""
    rng = np.random.default_rng(3)
    embeddings = rng.normal(size=(25, 8))
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    distance = 1 - unit @ unit.T
    clusters = [[i] for i in range(25)]
    for keep, gone, merged_at in merge_sequence(embeddings):
        best = min(
            (distance[np.ix_(a, b)].mean(), ai, bi)
            for ai, a in enumerate(clusters)
            for bi, b in enumerate(clusters)
            if ai < bi
        )
        assert merged_at == pytest.approx(best[0])
        a = next(c for c in clusters if keep in c)
        b = next(c for c in clusters if gone in c)
        assert {id(a), id(b)} == {id(clusters[best[1]]), id(clusters[best[2]])}
        clusters.remove(b)
        a.extend(b)
    assert len(set(cut(25, merge_sequence(embeddings), 4))) == 4


def test_many_embeddings_are_clustered_on_a_subset_then_all_assigned() -> None:
    embeddings, truth = voices([1800, 900], seed=5)
    assert same_partition(cluster(embeddings), truth)


def random_turns(rng: random.Random, speakers: str, count: int) -> list[SpeakerTurn]:
    """Each speaker's turns one after another (a voice never overlaps itself; pyannote
    would count such a voice twice), different speakers overlapping at random."""
    turns = []
    for speaker in speakers:
        cursor = rng.uniform(0, 5)
        for _ in range(count // len(speakers) + 1):
            length = rng.uniform(0.2, 6)
            turns.append(SpeakerTurn(cursor, cursor + length, speaker))
            cursor += length + rng.uniform(0.1, 8)
    return turns


@pytest.mark.filterwarnings("ignore:'uem' was approximated")
@pytest.mark.parametrize("collar", [0.0, 0.5])
def test_der_agrees_with_pyannote_metrics(collar: float) -> None:
    from pyannote.core import Annotation
    from pyannote.core import Segment as PSegment
    from pyannote.metrics.diarization import DiarizationErrorRate

    rng = random.Random(11)
    for case in range(12):
        reference = random_turns(rng, "ABC", 14)  # overlapping turns included
        hypothesis = random_turns(rng, "xyzw"[: 2 + case % 3], 12)
        expected = DiarizationErrorRate(collar=collar, skip_overlap=False)
        ref, hyp = Annotation(), Annotation()
        for index, turn in enumerate(reference):
            ref[PSegment(turn.start, turn.end), f"r{index}"] = turn.speaker
        for index, turn in enumerate(hypothesis):
            hyp[PSegment(turn.start, turn.end), f"h{index}"] = turn.speaker
        details = expected(ref, hyp, detailed=True)
        ours = score(reference, hypothesis, collar=collar)
        assert ours.der == pytest.approx(details["diarization error rate"], abs=0.005), case
        assert ours.missed == pytest.approx(details["missed detection"], abs=0.1)
        assert ours.false_alarm == pytest.approx(details["false alarm"], abs=0.1)
        assert ours.confusion == pytest.approx(details["confusion"], abs=0.1)


def test_a_perfect_hypothesis_under_other_names_scores_zero() -> None:
    reference = [SpeakerTurn(0, 2, "A"), SpeakerTurn(2.5, 4, "B"), SpeakerTurn(4, 5, "A")]
    hypothesis = [SpeakerTurn(t.start, t.end, {"A": "S2", "B": "S1"}[t.speaker]) for t in reference]
    result = score(reference, hypothesis)
    assert result.der == 0
    assert result.mapping == {"A": "S2", "B": "S1"}
    assert result.attributed == {"A": 1.0, "B": 1.0}


def word(start: float, end: float, text: str) -> Word:
    return Word(start, end, text, 0.9)


TURNS = [SpeakerTurn(0.0, 3.0, "7"), SpeakerTurn(3.0, 6.0, "2"), SpeakerTurn(6.5, 9.0, "7")]


def test_a_segment_spanning_a_change_is_split_at_the_word_where_it_changes() -> None:
    words = (
        word(0.5, 1.0, "Hej"),
        word(1.1, 2.8, "där."),
        word(3.2, 3.6, "Ja,"),
        word(3.7, 4.5, "visst."),
    )
    segments = [
        Segment(0, 0.4, 4.6, "Hej där. Ja, visst.", words),
        Segment(1, 6.6, 8.0, "Och sen?"),
    ]
    labelled, turns, names = attribute(segments, TURNS)
    assert [(s.id, s.speaker, s.text) for s in labelled] == [
        (0, "S1", "Hej där."),
        (1, "S2", "Ja, visst."),
        (2, "S1", "Och sen?"),
    ]
    assert (labelled[0].start, labelled[0].end, labelled[1].start, labelled[1].end) == (
        0.4,
        2.8,
        3.2,
        4.6,
    )
    assert [w.speaker for s in labelled for w in s.words or ()] == ["S1", "S1", "S2", "S2"]
    assert names == ("S1", "S2")
    assert [t.speaker for t in turns] == ["S1", "S2", "S1"]


def test_without_word_timings_a_segment_is_split_by_estimated_word_times() -> None:
    segments = [Segment(0, 0.0, 6.0, "ett två tre fyra fem sex sju åtta nio tio elva tolv")]
    labelled, _, _ = attribute(segments, TURNS)
    assert [s.speaker for s in labelled] == ["S1", "S2"]
    assert all(s.words is None for s in labelled)
    assert " ".join(s.text for s in labelled) == segments[0].text


def test_a_lone_word_without_timings_keeps_its_segments_speaker() -> None:
    turns = [SpeakerTurn(0.0, 5.8, "a"), SpeakerTurn(5.8, 6.0, "b")]
    labelled, _, names = attribute([Segment(0, 0.0, 6.0, "ett två tre fyra fem sex")], turns)
    assert [s.speaker for s in labelled] == ["S1"]
    assert names == ("S1", "S2"), "a speaker with no words still has a name, after the others"


def test_a_word_in_a_pause_takes_the_nearest_speaker() -> None:
    assert speaker_at(6.1, 6.2, TURNS) == "2"
    assert speaker_at(6.3, 6.45, TURNS) == "7"
    assert speaker_at(1.0, 2.0, []) is None
    assert join_turns([SpeakerTurn(0, 1, "a"), SpeakerTurn(1, 2, "a"), SpeakerTurn(2, 2, "b")]) == [
        SpeakerTurn(0, 2, "a")
    ]


def test_speaker_options_need_diarize_and_sane_counts() -> None:
    assert TranscribeOptions(diarize=True, speakers=3).speakers == 3
    with pytest.raises(InvalidOption, match="needs diarize"):
        TranscribeOptions(speakers=2)
    with pytest.raises(InvalidOption, match="between 1 and 32"):
        TranscribeOptions(diarize=True, max_speakers=0)
    with pytest.raises(InvalidOption, match="min_speakers"):
        TranscribeOptions(diarize=True, min_speakers=4, max_speakers=2)


def diarized() -> Transcript:
    words = (word(0.0, 0.5, "Hej"), word(0.6, 1.4, "allihop."))
    segments = (
        Segment(0, 0.0, 1.4, "Hej allihop.", words, speaker="S1"),
        Segment(1, 1.5, 3.0, "Tack <3 & -->", None, speaker="S2"),
        Segment(2, 3.0, 4.0, "Precis.", None, speaker="S2"),
        Segment(3, 4.2, 5.0, "Bra.", None, speaker="S1"),
    )
    turns = (SpeakerTurn(0, 1.45, "S1"), SpeakerTurn(1.45, 4.1, "S2"), SpeakerTurn(4.1, 5, "S1"))
    return Transcript(
        text="Hej allihop. Tack <3 & --> Precis. Bra.",
        language="sv",
        duration=5.0,
        segments=segments,
        model="whisper-base",
        diarization=Diarization("resemblyzer-ge2e", ("S1", "S2"), turns, 0.1),
    )


def test_every_format_labels_the_speakers() -> None:
    transcript = diarized()
    assert render(transcript, "txt") == (  # a paragraph per speaker turn (issue 29)
        "S1: Hej allihop.\n\nS2: Tack <3 & --> Precis.\n\nS1: Bra.\n"
    )
    data = json.loads(render(transcript, "json"))
    assert [s["speaker"] for s in data["segments"]] == ["S1", "S2", "S2", "S1"]
    assert data["diarization"]["speakers"] == ["S1", "S2"]
    assert data["diarization"]["turns"][1] == {"start": 1.45, "end": 4.1, "speaker": "S2"}
    srt = render(transcript, "srt")
    assert "00:00:00,000 --> 00:00:01,400\nS1: Hej allihop.\n" in srt
    assert "\nS2: Tack <3 & ->\n" in srt
    assert "00:00:03,000 --> 00:00:04,000\nPrecis.\n" in srt, "the same speaker: no label"
    assert "\nS1: Bra.\n" in srt
    vtt = render(transcript, "vtt")
    assert "<v S1>Hej allihop.</v>" in vtt
    assert "<v S2>Tack &lt;3 &amp; --&gt;</v>" in vtt
    assert "<v S2>Precis.</v>" in vtt


def test_an_undiarized_transcript_is_written_as_before() -> None:
    plain = Transcript("Hej.", "sv", 1.0, (Segment(0, 0.0, 1.0, "Hej."),), "whisper-base")
    assert render(plain, "txt") == "Hej.\n"
    assert "speaker" not in render(plain, "json")
    assert "diarization" not in json.loads(render(plain, "json"))
    assert "<v " not in render(plain, "vtt")


def test_auto_falls_back_to_the_offline_model_with_a_warning_and_names_are_checked() -> None:
    from swescribe.core.errors import ModelUnavailable
    from swescribe.engine.diarization import DiarizerSpec, load_diarizer

    dirs = speaker_model_dirs()
    pytest.importorskip("swescribe.engine.diarization.ge2e").resemblyzer_weights(dirs)
    try:
        import pyannote.audio  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("pyannote.audio is installed here: auto may load it")
    diarizer = load_diarizer(DiarizerSpec("auto", speaker_model_dirs=dirs))
    assert diarizer.name == "resemblyzer-ge2e"
    assert diarizer.warning is not None
    assert "pyannote.audio is not installed" in diarizer.warning
    with pytest.raises(ModelUnavailable, match="swescribe\\[diarize\\]"):
        load_diarizer(DiarizerSpec("pyannote"))
    with pytest.raises(InvalidOption, match="unknown diarization model"):
        load_diarizer(DiarizerSpec("whisperx"))
    assert load_diarizer(DiarizerSpec("resemblyzer", speaker_model_dirs=dirs)).warning is None


def test_a_baked_pyannote_pipeline_is_found_in_the_model_dirs_before_the_hub(
    tmp_path: Path,
) -> None:
    """The GPU AMI bakes the pipeline under /opt/swescribe/models (build_ami.sh
    --diarization pyannote): the worker loads it from there, with no token and no hub."""
    from swescribe.engine.diarization.pyannote import baked_pipeline

    empty, partial, baked, later = (tmp_path / name for name in ("a", "b", "c", "d"))
    (partial / PYANNOTE_PIPELINE).mkdir(parents=True)  # no config.yaml: not a pipeline
    for directory in (baked, later):
        (directory / PYANNOTE_PIPELINE).mkdir(parents=True)
        (directory / PYANNOTE_PIPELINE / "config.yaml").write_text("pipeline: {}\n")
    assert baked_pipeline(()) is None
    assert baked_pipeline((empty, partial)) is None
    assert baked_pipeline((empty, partial, baked, later)) == baked / PYANNOTE_PIPELINE
    assert PYANNOTE_PIPELINE == "pyannote/speaker-diarization-community-1"
