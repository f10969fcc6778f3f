"""From what Whisper generated for a piece of audio to timed segments, and from those
to the transcript's own `Segment`s on the file's timeline."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from swescribe.core.transcript import DecodingStats, Segment, Word
from swescribe.engine.audio import SAMPLE_RATE

FRAMES_PER_SECOND = 100
"""Whisper's 10 ms feature frames: a segment's seek is counted in them."""


@dataclass(frozen=True)
class Piece:
    """A stretch of one chunk decoded in one pass."""

    chunk: int
    start: int
    """Samples into the chunk."""
    offset: float
    """Seconds on the window's timeline where the piece starts."""
    audio: np.ndarray
    context: list[int]
    final: bool
    """The chunk's last pass: everything is kept, an unfinished last phrase included."""

    @property
    def duration(self) -> float:
        return self.audio.size / SAMPLE_RATE


def piece_frames(model: Any, piece: Piece) -> int:
    """The piece's length in feature frames, whole seconds (faster-whisper's segment size)."""
    return int(math.ceil(piece.duration) * model.frames_per_second)


def split_segments(
    model: Any, tokenizer: Any, piece: Piece, result: Any, length_penalty: float
) -> tuple[list[dict[str, Any]], bool]:
    """The piece's segments on the window's timeline, the trailing phrase with no closing
    timestamp included (marked unfinished), and whether the piece looks like no speech.

    Segments are faster-whisper's dicts, which its `add_word_timestamps` fills in."""
    from faster_whisper.transcribe import get_compression_ratio

    tokens = result.sequences_ids[0]
    avg_logprob = avg_logprob_of(result, length_penalty)
    no_speech = result.no_speech_prob
    duration = piece.duration
    subsegments, _, _ = model._split_segments_by_timestamps(
        tokenizer=tokenizer,
        tokens=tokens,
        time_offset=piece.offset,
        segment_size=piece_frames(model, piece),
        segment_duration=duration,
        seek=0,
    )
    parts = [(s["tokens"], s["start"], s["end"], False) for s in subsegments]
    rest = tokens[sum(len(s["tokens"]) for s in subsegments) :]
    if any(t < tokenizer.eot for t in rest):
        start = parts[-1][2] if parts else piece.offset
        parts.append((rest, start, piece.offset + duration, True))
    seek = round(piece.offset * model.frames_per_second)
    segments = []
    for part_tokens, start, end, unfinished in parts:
        text = tokenizer.decode(part_tokens)
        segments.append(
            {
                "text": text,
                "tokens": part_tokens,
                "start": start,
                "end": end,
                "avg_logprob": avg_logprob,
                "no_speech_prob": no_speech,
                "compression_ratio": get_compression_ratio(text),
                "seek": seek,
                "unfinished": unfinished,
            }
        )
    # Whisper's own no-speech rule.
    silent = bool(no_speech > 0.6 and avg_logprob < -1.0)
    return segments, silent


def avg_logprob_of(result: Any, length_penalty: float) -> float:
    """faster-whisper's average log-probability of a generated sequence."""
    tokens = result.sequences_ids[0]
    return float(result.scores[0] * (len(tokens) ** length_penalty) / (len(tokens) + 1))


def generated_text(tokenizer: Any, result: Any) -> str:
    return str(tokenizer.decode([t for t in result.sequences_ids[0] if t < tokenizer.eot]))


def to_segments(
    decoded: Iterable[dict[str, Any]],
    at: float,
    first_id: int,
    temperature: float,
    word_timestamps: bool,
) -> list[Segment]:
    """The batched decoder's segment dicts as `Segment`s on the file's timeline (the
    window starts `at` seconds in), numbered from `first_id`; empty ones left out.
    Times are rounded to the millisecond on the window's timeline, as faster-whisper
    rounds its batched segments."""
    segments: list[Segment] = []
    for raw in decoded:
        text = str(raw["text"]).strip()
        if not text:
            continue
        timed = raw.get("words") if word_timestamps else None
        words = None
        if timed:
            words = tuple(
                Word(
                    at + w["start"], at + w["end"], str(w["word"]).strip(), float(w["probability"])
                )
                for w in timed
            )
        stats = DecodingStats(
            seek=int(raw["seek"]) + round(at * FRAMES_PER_SECOND),
            tokens=tuple(int(t) for t in raw["tokens"]),
            temperature=float(temperature),
            avg_logprob=float(raw["avg_logprob"]),
            compression_ratio=float(raw["compression_ratio"]),
            no_speech_prob=float(raw["no_speech_prob"]),
        )
        start = at + float(round(raw["start"], 3))
        end = at + float(round(raw["end"], 3))
        segments.append(Segment(first_id + len(segments), start, end, text, words, stats=stats))
    return segments


def from_faster_whisper(
    decoded: Iterable[Any], at: float, first_id: int, word_timestamps: bool
) -> list[Segment]:
    """faster-whisper's own segments (the sequential path) as `Segment`s on the file's
    timeline, numbered from `first_id`; empty ones left out."""
    segments: list[Segment] = []
    for raw in decoded:
        text = str(raw.text).strip()
        if not text:
            continue
        words = None
        if word_timestamps and raw.words is not None:
            words = tuple(
                Word(at + w.start, at + w.end, str(w.word).strip(), float(w.probability))
                for w in raw.words
            )
        stats = DecodingStats(
            seek=int(raw.seek) + round(at * FRAMES_PER_SECOND),
            tokens=tuple(int(t) for t in raw.tokens),
            temperature=float(raw.temperature or 0.0),
            avg_logprob=float(raw.avg_logprob),
            compression_ratio=float(raw.compression_ratio),
            no_speech_prob=float(raw.no_speech_prob),
        )
        start, end = at + float(raw.start), at + float(raw.end)
        segments.append(Segment(first_id + len(segments), start, end, text, words, stats=stats))
    return segments
