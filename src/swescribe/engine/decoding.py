"""Batched decoding that loses no speech: faster-whisper's batched pass, then seek.

faster-whisper's ``BatchedInferencePipeline`` decodes each VAD chunk (up to 30 s) once.
When the model ends a chunk early (an end-of-text after the first sentences), jumps its
timestamps over a phrase, or leaves a last phrase without a closing timestamp (which the
batched path drops), that speech is lost without a trace; on continuous human speech
that was a quarter of a minute at a time.

Sequential Whisper does not lose it: it seeks to the last timestamp and decodes again
from there. This module does the same, batched. After each pass it finds, per chunk, the
first place where the decoded segments stop covering the chunk's speech (a hole, or an
uncovered tail, with more than `gap_seconds` of VAD speech in it), keeps what came
before, and decodes the rest of the chunk again in the next pass, batched with every
other chunk's rest. A chunk is decoded from a new place at most `max_passes` times; the
last time keeps everything, an unfinished trailing phrase included.

Chunks are the window's own audio with its pauses (faster-whisper's batched path cuts
the pauses out and glues the speech together; keeping them made the long human files
better, docs/performance.md).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from swescribe.core.errors import InvalidOption

SAMPLE_RATE = 16000
CHUNK_SECONDS = 30.0
FULL_FRAMES = 3000
"""Whisper's encoder window: 30 s of 10 ms feature frames."""
ENCODER_STEP_FRAMES = 100
MAX_PAUSE_SECONDS = 3.0
"""A longer pause ends a chunk, and its silence is not decoded."""


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
class DecodeSettings:
    """How a window is decoded (the engine's TranscribeOptions, resolved)."""

    language: str | None
    beam_size: int
    batch_size: int
    word_timestamps: bool
    vad: bool
    without_timestamps: bool = False
    gap_seconds: float = 1.0
    """Uncovered speech this long (by VAD) inside a decoded piece is decoded again."""
    max_passes: int = 4
    encoder_margin: int | None = None
    """Encode a batch's audio padded only to its longest piece plus this many frames
    (rounded up to whole seconds) instead of to 30 s; None: always 30 s."""
    encoder_floor: int = 0
    """With `encoder_margin`: never fewer frames than this."""
    selective_beam: bool = False
    """Decode greedily, then with `beam_size` only the pieces whose greedy result looks
    unsure (see `Unsure`); False: every piece with `beam_size`. Off: with whisper-base
    on Swedish nearly every piece looks unsure, so it cost time (docs/performance.md)."""
    unsure: Unsure = field(default_factory=lambda: Unsure())
    task: str = "transcribe"
    initial_prompt: str | None = None
    hotwords: str | None = None
    extra: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class Decoded:
    """What one window gave: faster-whisper segments on the window's timeline."""

    segments: list[Any]
    language: str
    language_probability: float
    redecoded_seconds: float
    """Audio decoded more than once to cover what a first decode left out."""


class CoveringDecoder:
    """One loaded faster-whisper model decoding windows of samples with full coverage."""

    def __init__(self, model: Any) -> None:
        self._model = model

    def decode(
        self, samples: np.ndarray, settings: DecodeSettings, speech: list[tuple[float, float]]
    ) -> Decoded:
        """The window's segments; `speech`: its speech_regions (seconds)."""
        from faster_whisper.tokenizer import Tokenizer

        model = self._model
        chunks, offsets = _chunks(samples, speech, settings.vad)
        language, probability = settings.language, 1.0
        if language is None:
            language, probability = self._detect_language(chunks)
        tokenizer = Tokenizer(
            model.hf_tokenizer, model.model.is_multilingual, task=settings.task, language=language
        )
        options = self._options(settings, tokenizer)
        context = vocabulary_prompt(model, settings.initial_prompt, settings.hotwords)
        kept: list[list[dict[str, Any]]] = [[] for _ in chunks]
        todo = [(index, 0) for index, chunk in enumerate(chunks) if chunk.size]
        passes = 0
        redecoded = 0.0
        while todo:
            passes += 1
            pieces = [
                _Piece(
                    index,
                    start,
                    offsets[index] + start / SAMPLE_RATE,
                    chunks[index][start:],
                    context,
                    final=passes >= settings.max_passes,
                )
                for index, start in todo
            ]
            redecoded += sum(p.audio.size for p in pieces if p.start) / SAMPLE_RATE
            todo = []
            for first in range(0, len(pieces), settings.batch_size):
                batch = pieces[first : first + settings.batch_size]
                decoded = self._decode_batch(batch, speech, tokenizer, options, settings)
                for piece, (segments, covered) in zip(batch, decoded, strict=True):
                    kept[piece.chunk].extend(segments)
                    if covered is not None:
                        start = piece.start + round((covered - piece.offset) * SAMPLE_RATE)
                        todo.append((piece.chunk, start))

        ordered = [segment for chunk_segments in kept for segment in chunk_segments]
        faster = [_to_faster_whisper(index, s, options) for index, s in enumerate(ordered, 1)]
        return Decoded(faster, language, probability, redecoded)

    def _detect_language(self, chunks: list[np.ndarray]) -> tuple[str, float]:
        if not chunks:
            return "en", 0.0
        features = self._model.feature_extractor(chunks[0])[..., :-1]
        language, probability, _ = self._model.detect_language(features=features)
        return str(language), float(probability)

    def _options(self, settings: DecodeSettings, tokenizer: Any) -> Any:
        from faster_whisper.transcribe import TranscriptionOptions, get_suppressed_tokens

        extra = dict(settings.extra)
        temperature = extra.pop("temperature", 0.0)
        if isinstance(temperature, list | tuple):
            temperature = temperature[0]
        fields: dict[str, Any] = {
            "beam_size": settings.beam_size,
            "best_of": 5,
            "patience": 1.0,
            "length_penalty": 1.0,
            "repetition_penalty": 1.0,
            "no_repeat_ngram_size": 0,
            "log_prob_threshold": -1.0,
            "no_speech_threshold": 0.6,
            "compression_ratio_threshold": 2.4,
            "temperatures": [float(temperature)],
            "initial_prompt": settings.initial_prompt,
            "prefix": None,
            "suppress_blank": True,
            "suppress_tokens": [-1],
            "prepend_punctuations": "\"'“¿([{-",
            "append_punctuations": "\"'.。,，!！?？:：”)]}、",
            "max_new_tokens": None,
            "hotwords": settings.hotwords,
            "word_timestamps": settings.word_timestamps,
            "hallucination_silence_threshold": None,
            "condition_on_previous_text": False,
            "clip_timestamps": [],
            "prompt_reset_on_temperature": 0.5,
            "multilingual": False,
            "without_timestamps": settings.without_timestamps,
            "max_initial_timestamp": 0.0,
        }
        unknown = set(extra) - set(fields)
        if unknown:
            raise InvalidOption(f"unknown decoding options: {', '.join(sorted(unknown))}")
        fields.update(extra)
        if fields["suppress_tokens"]:
            fields["suppress_tokens"] = get_suppressed_tokens(tokenizer, fields["suppress_tokens"])
        return TranscriptionOptions(**fields)

    def _generate(
        self, encoder_output: Any, prompts: list[list[int]], options: Any, beam_size: int
    ) -> list[Any]:
        model = self._model
        return list(
            model.model.generate(
                encoder_output,
                prompts,
                beam_size=beam_size,
                patience=options.patience,
                length_penalty=options.length_penalty,
                max_length=model.max_length,
                suppress_blank=options.suppress_blank,
                suppress_tokens=options.suppress_tokens,
                return_scores=True,
                return_no_speech_prob=True,
                sampling_temperature=options.temperatures[0],
                repetition_penalty=options.repetition_penalty,
                no_repeat_ngram_size=options.no_repeat_ngram_size,
            )
        )

    def _decode_batch(
        self,
        batch: list[_Piece],
        speech: list[tuple[float, float]],
        tokenizer: Any,
        options: Any,
        settings: DecodeSettings,
    ) -> Iterator[tuple[list[dict[str, Any]], float | None]]:
        from faster_whisper.audio import pad_or_trim

        model = self._model
        extracted = [model.feature_extractor(p.audio)[..., :-1] for p in batch]
        frames = encoder_frames(
            max(f.shape[-1] for f in extracted), settings.encoder_margin, settings.encoder_floor
        )
        features = np.stack([pad_or_trim(f, frames) for f in extracted])
        encoder_output = model.encode(features)
        prompts = [
            model.get_prompt(
                tokenizer,
                p.context,
                without_timestamps=options.without_timestamps,
                hotwords=options.hotwords,
            )
            for p in batch
        ]
        if settings.selective_beam and options.beam_size > 1:
            results = self._generate(encoder_output, prompts, options, beam_size=1)
            unsure = [
                i
                for i, result in enumerate(results)
                if settings.unsure.of(
                    _avg_logprob_of(result, options.length_penalty), _text(tokenizer, result)
                )
            ]
            if unsure:
                again = self._generate(
                    _rows(encoder_output, unsure),
                    [prompts[i] for i in unsure],
                    options,
                    beam_size=options.beam_size,
                )
                for i, result in zip(unsure, again, strict=True):
                    results[i] = result
        else:
            results = self._generate(encoder_output, prompts, options, options.beam_size)
        split = [
            _segments(model, tokenizer, piece, result, options.length_penalty)
            for piece, result in zip(batch, results, strict=True)
        ]
        if options.word_timestamps:
            sizes = [_frames(model, piece) for piece in batch]
            model.add_word_timestamps(
                [segments for segments, _ in split],
                tokenizer,
                encoder_output,
                sizes,
                options.prepend_punctuations,
                options.append_punctuations,
                0.0,
            )
        for piece, (segments, silent) in zip(batch, split, strict=True):
            if silent and piece.start:
                yield [], None
                continue
            end = piece.offset + piece.audio.size / SAMPLE_RATE
            covered = None
            if not piece.final:
                covered = _covered_until(segments, piece.offset, end, settings.gap_seconds, speech)
            if covered is None:
                yield segments, None
            else:
                kept = [s for s in segments if s["end"] <= covered + 1e-6 and not s["unfinished"]]
                yield kept, covered


def vocabulary_prompt(model: Any, initial_prompt: str | None, hotwords: str | None) -> list[int]:
    """The initial prompt's tokens that fit beside the hotwords in Whisper's context.

    The decoder's prompt (hotwords, then previous text) gets half of the model's 448
    positions; faster-whisper cuts each of the two to that half on its own, so both at
    full length would leave no room to write. The prompt keeps its last tokens (the ones
    nearest the audio), as Whisper does with previous text."""
    if not initial_prompt or not initial_prompt.strip():
        return []

    def encode(text: str) -> list[int]:
        return list(model.hf_tokenizer.encode(" " + text.strip(), add_special_tokens=False).ids)

    budget = model.max_length // 2 - 1
    if hotwords and hotwords.strip():
        budget -= min(len(encode(hotwords)), budget // 2)
    return encode(initial_prompt)[-budget:]


def encoder_frames(longest: int, margin: int | None, floor: int = 0) -> int:
    """Feature frames a batch is encoded with: Whisper's 30 s, or (with a margin) the
    longest piece plus the margin, at least `floor`, in whole seconds, at most 30 s."""
    if margin is None:
        return FULL_FRAMES
    wanted = max(longest + margin, floor)
    return min(FULL_FRAMES, -(-wanted // ENCODER_STEP_FRAMES) * ENCODER_STEP_FRAMES)


def speech_regions(
    samples: np.ndarray, vad: bool, min_silence_ms: int
) -> list[tuple[float, float]]:
    """Speech by Silero VAD (seconds), or the whole window when VAD is off."""
    if not vad:
        return [(0.0, samples.size / SAMPLE_RATE)] if samples.size else []
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    options = VadOptions(
        min_silence_duration_ms=min_silence_ms, max_speech_duration_s=CHUNK_SECONDS
    )
    return [
        (region["start"] / SAMPLE_RATE, region["end"] / SAMPLE_RATE)
        for region in get_speech_timestamps(samples, options)
    ]


def _chunks(
    samples: np.ndarray, speech: list[tuple[float, float]], vad: bool
) -> tuple[list[np.ndarray], list[float]]:
    """Stretches of the window's own audio, at most 30 s each, and their offsets.

    Under VAD a chunk runs from the start of one speech region to the end of the last
    one that fits, the pauses inside it kept. A pause longer than MAX_PAUSE_SECONDS ends
    a chunk and is not decoded. Without VAD: consecutive 30 s cuts."""
    if not vad:
        step = int(CHUNK_SECONDS * SAMPLE_RATE)
        starts = range(0, max(samples.size, 1), step)
        return [samples[s : s + step] for s in starts], [s / SAMPLE_RATE for s in starts]
    spans: list[list[float]] = []
    for start, end in speech:
        if (
            spans
            and end - spans[-1][0] <= CHUNK_SECONDS
            and start - spans[-1][1] <= MAX_PAUSE_SECONDS
        ):
            spans[-1][1] = end
        else:
            spans.append([start, end])
    chunks = [samples[round(s * SAMPLE_RATE) : round(e * SAMPLE_RATE)] for s, e in spans]
    return chunks, [s for s, _ in spans]


@dataclass(frozen=True)
class _Piece:
    chunk: int
    start: int
    """Samples into the chunk."""
    offset: float
    """Seconds on the window's timeline where the piece starts."""
    audio: np.ndarray
    context: list[int]
    final: bool


def _frames(model: Any, piece: _Piece) -> int:
    return int(math.ceil(piece.audio.size / SAMPLE_RATE) * model.frames_per_second)


def _segments(
    model: Any, tokenizer: Any, piece: _Piece, result: Any, length_penalty: float
) -> tuple[list[dict[str, Any]], bool]:
    """The piece's segments on the window's timeline, the trailing phrase with no closing
    timestamp included (marked unfinished), and whether the piece looks like no speech."""
    from faster_whisper.transcribe import get_compression_ratio

    tokens = result.sequences_ids[0]
    avg_logprob = _avg_logprob_of(result, length_penalty)
    no_speech = result.no_speech_prob
    duration = piece.audio.size / SAMPLE_RATE
    subsegments, _, _ = model._split_segments_by_timestamps(
        tokenizer=tokenizer,
        tokens=tokens,
        time_offset=piece.offset,
        segment_size=_frames(model, piece),
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


def _avg_logprob_of(result: Any, length_penalty: float) -> float:
    """faster-whisper's average log-probability of a generated sequence."""
    tokens = result.sequences_ids[0]
    return float(result.scores[0] * (len(tokens) ** length_penalty) / (len(tokens) + 1))


def _text(tokenizer: Any, result: Any) -> str:
    return str(tokenizer.decode([t for t in result.sequences_ids[0] if t < tokenizer.eot]))


def _rows(encoder_output: Any, rows: list[int]) -> Any:
    """Some rows of a batch's encoder output, on the device it lives on (decoding them
    again needs no second encode)."""
    import ctranslate2

    host = np.array(encoder_output.to_device(ctranslate2.Device.cpu))
    picked = ctranslate2.StorageView.from_array(np.ascontiguousarray(host[rows]))
    if encoder_output.device == "cpu":
        return picked
    return picked.to_device(ctranslate2.Device.cuda)


def _covered_until(
    segments: list[dict[str, Any]],
    start: float,
    end: float,
    gap: float,
    speech: list[tuple[float, float]],
) -> float | None:
    """Where the segments first leave more than `gap` seconds of speech in [start, end]
    uncovered (the end of the last complete segment before that hole), or None.

    A hole before the piece's first phrase does not count: decoding again from the
    piece's own start would give the same. An unfinished last phrase counts as a hole:
    sequential Whisper decodes it again from its start."""
    reached = start
    for segment in segments:
        if segment["unfinished"]:
            break
        if reached > start and _speech_between(speech, reached, segment["start"]) > gap:
            return float(reached)
        reached = max(reached, segment["end"])
    if reached > start and _speech_between(speech, reached, end) > gap:
        return float(reached)
    return None


def _speech_between(speech: list[tuple[float, float]], start: float, end: float) -> float:
    return sum(max(0.0, min(e, end) - max(s, start)) for s, e in speech)


def _to_faster_whisper(index: int, segment: dict[str, Any], options: Any) -> Any:
    from faster_whisper.transcribe import Segment, Word

    words = segment.get("words")
    return Segment(
        id=index,
        seek=segment["seek"],
        start=round(segment["start"], 3),
        end=round(segment["end"], 3),
        text=segment["text"],
        tokens=segment["tokens"],
        avg_logprob=segment["avg_logprob"],
        compression_ratio=segment["compression_ratio"],
        no_speech_prob=segment["no_speech_prob"],
        words=[Word(**w) for w in words] if options.word_timestamps and words else None,
        temperature=options.temperatures[0],
    )
