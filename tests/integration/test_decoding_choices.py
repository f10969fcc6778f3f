"""The engine's speed knobs that are off by default (issue 19's ablations): selective beam
search and encoding short pieces at their own length. Off, they change nothing; on, they
must still transcribe correctly."""

from __future__ import annotations

from pathlib import Path

import pytest

from swescribe.engine import DecoderKnobs, Engine, TranscribeOptions, Unsure
from swescribe.engine.decoding import encoder_frames
from swescribe.engine.knobs import FULL_FRAMES
from tests.conftest import AUDIO_DIR
from tests.wer import word_error_rate

CLIP = AUDIO_DIR / "lattlast_stts.wav"
NEVER_UNSURE = Unsure(avg_logprob=-1e9, compression_ratio=1e9, repeated_ngram=10_000)
ALWAYS_UNSURE = Unsure(avg_logprob=1.0)


def _text(engine: Engine, path: Path, **changes: object) -> str:
    return engine.transcribe(path, TranscribeOptions(language="sv", **changes)).text  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def beam_text(base_engine: Engine) -> str:
    return _text(base_engine, CLIP)


def test_selective_beam_where_all_is_sure_is_greedy(base_engine: Engine) -> None:
    selective = _text(
        base_engine, CLIP, decoder=DecoderKnobs(selective_beam=True, unsure=NEVER_UNSURE)
    )
    assert selective == _text(base_engine, CLIP, beam_size=1)


def test_selective_beam_where_all_is_unsure_is_beam_search(
    base_engine: Engine, beam_text: str
) -> None:
    selective = _text(
        base_engine, CLIP, decoder=DecoderKnobs(selective_beam=True, unsure=ALWAYS_UNSURE)
    )
    assert selective == beam_text


def test_encoding_short_pieces_at_their_own_length_still_transcribes(
    base_engine: Engine, beam_text: str
) -> None:
    reference = (AUDIO_DIR / "lattlast_stts.txt").read_text("utf-8")
    trimmed = _text(base_engine, CLIP, decoder=DecoderKnobs(encoder_margin=200, encoder_floor=500))
    assert trimmed != ""
    assert word_error_rate(reference, trimmed) <= word_error_rate(reference, beam_text) + 0.1


def test_unsure_rules() -> None:
    rules = Unsure()
    assert rules.of(-0.9, "en helt vanlig mening")
    assert not rules.of(-0.1, "en helt vanlig mening")
    loop = "och sedan gick vi hem " * 3
    assert rules.of(-0.1, loop)
    assert not Unsure(compression_ratio=99).of(-0.1, "a b c d e f g h")


def test_encoder_frames() -> None:
    assert encoder_frames(240, None) == FULL_FRAMES
    assert encoder_frames(240, 100) == 400
    assert encoder_frames(240, 100, floor=1000) == 1000
    assert encoder_frames(2950, 200) == FULL_FRAMES
