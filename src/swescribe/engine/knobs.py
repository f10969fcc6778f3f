"""The batched decoder's own knobs: how it covers speech, encodes and searches.

Not faster-whisper options (those go in `TranscribeOptions.extra`): these set what
swescribe adds around faster-whisper's generate (engine/decoding.py). The defaults are
what ships; benchmarks and ablations change them (docs/performance.md)."""

from __future__ import annotations

from dataclasses import dataclass, field

from swescribe.core.errors import InvalidOption

FULL_FRAMES = 3000
"""Whisper's encoder window: 30 s of 10 ms feature frames."""


@dataclass(frozen=True)
class Unsure:
    """When a greedy decode is decoded again with beam search (thresholds measured on the
    human long-form files, docs/performance.md)."""

    avg_logprob: float = -0.5
    """Mean token log-probability below this."""
    compression_ratio: float = 2.0
    """Text this repetitive (gzip ratio) or more."""
    repeated_ngram: int = 4
    """The same n words three times (a loop)."""

    def __post_init__(self) -> None:
        if self.repeated_ngram < 1:
            raise InvalidOption("unsure.repeated_ngram must be at least 1")

    def of(self, avg_logprob: float, text: str) -> bool:
        from faster_whisper.transcribe import get_compression_ratio

        return (
            avg_logprob < self.avg_logprob
            or get_compression_ratio(text) >= self.compression_ratio
            or _repeats(text.split(), self.repeated_ngram)
        )


def _repeats(words: list[str], n: int) -> bool:
    """Whether some n words occur three times: a decoding loop."""
    seen: dict[tuple[str, ...], int] = {}
    for i in range(len(words) - n + 1):
        gram = tuple(words[i : i + n])
        seen[gram] = seen.get(gram, 0) + 1
        if seen[gram] >= 3:
            return True
    return False


@dataclass(frozen=True)
class DecoderKnobs:
    """How the batched decoder (batch size above 1) decodes a window; the sequential
    path (batch 1) is plain faster-whisper and reads none of these."""

    without_timestamps: bool = False
    """Decode without timestamp tokens (faster-whisper's batched default)."""
    gap_seconds: float = 1.0
    """Uncovered speech this long (by VAD) inside a decoded piece is decoded again."""
    max_passes: int = 4
    """A chunk is decoded from a new place at most this many times."""
    encoder_margin: int | None = None
    """Encode a batch's audio padded only to its longest piece plus this many frames
    (rounded up to whole seconds) instead of to 30 s; None: always 30 s."""
    encoder_floor: int = 0
    """With `encoder_margin`: never fewer frames than this."""
    selective_beam: bool = False
    """Decode greedily, then with the beam size only the pieces whose greedy result looks
    unsure (see `Unsure`); False: every piece with the beam size. Off: with whisper-base
    on Swedish nearly every piece looks unsure, so it cost time (docs/performance.md)."""
    unsure: Unsure = field(default_factory=Unsure)

    def __post_init__(self) -> None:
        if self.max_passes < 1:
            raise InvalidOption("max_passes must be at least 1")
        if self.gap_seconds < 0:
            raise InvalidOption("gap_seconds must not be negative")
        if self.encoder_margin is not None and self.encoder_margin < 0:
            raise InvalidOption("encoder_margin must not be negative")
        if not 0 <= self.encoder_floor <= FULL_FRAMES:
            raise InvalidOption(f"encoder_floor must be between 0 and {FULL_FRAMES}")
        if not isinstance(self.unsure, Unsure):
            raise InvalidOption("unsure must be an Unsure")
