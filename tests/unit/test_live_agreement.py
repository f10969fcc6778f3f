"""The local-agreement policy (engine/live/agreement.py): what two decodes agree on is
confirmed, confirmed words are never taken back, and the buffer is cut only where every
word before the cut is confirmed."""

from __future__ import annotations

import random

from swescribe.engine.live import LocalAgreement, TimedWord, trim_point
from swescribe.engine.live.decoder import within_audio, without_loop


def words(text: str, start: float = 0.0, step: float = 0.5) -> list[TimedWord]:
    return [
        TimedWord(start + i * step, start + (i + 1) * step, f" {w}")
        for i, w in enumerate(text.split())
    ]


def texts(found: list[TimedWord]) -> str:
    return "".join(w.text for w in found).strip()


def test_first_hypothesis_confirms_nothing_and_is_all_tentative() -> None:
    agreement = LocalAgreement()
    assert agreement.update(words("har du fortfarande")) == []
    assert texts(agreement.tentative) == "har du fortfarande"


def test_two_decodes_confirm_the_prefix_they_agree_on() -> None:
    agreement = LocalAgreement()
    agreement.update(words("har du fortfarande samma"))
    confirmed = agreement.update(words("har du fortfarande sama nummer"))
    assert texts(confirmed) == "har du fortfarande"
    assert texts(agreement.tentative) == "sama nummer"


def test_case_and_punctuation_do_not_block_agreement() -> None:
    agreement = LocalAgreement()
    agreement.update(words("Har du fortfarande."))
    confirmed = agreement.update(words("har du, fortfarande samma"))
    assert texts(confirmed) == "har du, fortfarande"


def test_a_later_decode_that_disagrees_cannot_rewrite_confirmed_words() -> None:
    agreement = LocalAgreement()
    agreement.update(words("har du fortfarande"))
    agreement.update(words("har du fortfarande samma"))
    assert texts(agreement.confirmed) == "har du fortfarande"
    agreement.update(words("hade ni fortfarande samma nummer"))
    agreement.update(words("hade ni fortfarande samma nummer"))
    assert texts(agreement.confirmed) == "har du fortfarande samma nummer"


def test_words_repeated_at_the_seam_are_dropped_by_text() -> None:
    agreement = LocalAgreement()
    agreement.update(words("jag lämnar dig"))
    agreement.update(words("jag lämnar dig nu"))
    # The same words again, timed a little later than the confirmed ones.
    agreement.update(words("lämnar dig nu och", start=1.45))
    assert texts(agreement.confirmed) == "jag lämnar dig nu"
    assert texts(agreement.tentative) == "och"


def test_finish_confirms_the_tentative_tail() -> None:
    agreement = LocalAgreement()
    agreement.update(words("kan jag"))
    agreement.update(words("kan jag få tala"))
    assert texts(agreement.finish()) == "få tala"
    assert texts(agreement.confirmed) == "kan jag få tala"
    assert agreement.tentative == []


def test_confirmed_text_only_ever_grows_over_random_hypotheses() -> None:
    vocabulary = ["har", "du", "fortfarande", "samma", "nummer", "jag", "lämnar", "dig"]
    rng = random.Random(25)
    agreement = LocalAgreement()
    truth = [rng.choice(vocabulary) for _ in range(40)]
    seen: list[TimedWord] = []
    for heard in range(1, 41):
        hypothesis = [w if rng.random() > 0.2 else rng.choice(vocabulary) for w in truth[:heard]]
        agreement.update(words(" ".join(hypothesis)))
        assert agreement.confirmed[: len(seen)] == seen, "confirmed words were rewritten"
        seen = list(agreement.confirmed)
    agreement.finish()
    assert agreement.confirmed[: len(seen)] == seen


def test_trim_point_is_the_last_segment_end_inside_the_confirmed_words() -> None:
    assert trim_point([2.0, 4.5, 7.0], confirmed_end=5.0) == 4.5
    assert trim_point([2.0, 4.5, 7.0], confirmed_end=7.0) == 7.0
    assert trim_point([2.0, 4.5], confirmed_end=1.0) is None
    assert trim_point([], confirmed_end=3.0) is None


def test_a_decoding_loop_is_cut_after_its_first_round() -> None:
    looped = words("under rika främande ord " + "under rika främande ord " * 4)
    assert texts(without_loop(looped)) == "under rika främande ord"
    assert texts(without_loop(words("V V V V V V"))) == "V"
    assert texts(without_loop(words("jag jag lämnar dig"))) == "jag jag lämnar dig"


def test_a_longer_phrase_said_again_and_again_is_a_loop_too() -> None:
    phrase = "har en varierad mening slängd "
    looped = words(phrase * 2 + "har en varierad mening sl")
    assert texts(without_loop(looped)) == phrase.strip()


def test_words_the_decoder_put_at_or_past_the_end_of_the_audio_are_left_out() -> None:
    # A decode of 3.69 s of audio that ends at 15.0 s (seen on lattlast_stts): a phrase,
    # then the same phrase again squeezed into the buffer's last instant and beyond.
    heard = words("har en varierad mening slängd.", start=12.4, step=0.4)
    invented = [TimedWord(14.99, 14.99, " har"), TimedWord(14.99, 15.29, " en")]
    assert within_audio([*heard, *invented], audio_end=15.0) == heard
    drawn_out = TimedWord(14.6, 15.4, " ord")
    assert within_audio([*heard, drawn_out], audio_end=15.0) == [*heard, drawn_out]
