"""The decoder: faster-whisper's batched generate that loses no speech, or (batch 1)
faster-whisper's own sequential transcription; either way the transcript's `Segment`s.

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
last time keeps everything, an unfinished trailing phrase included. Chunks:
engine/speech.py; the knobs: engine/knobs.py.

Batches are filled as the work goes: the rests of chunks decoded in the batch before
first, then the next fresh chunks. No batch waits for a whole pass of the window, so
batches run full, and after each one the decoder can say how far the window is done
(up to its first unfinished chunk): progress moves batch by batch, not window by window.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from swescribe.core.transcript import Segment
from swescribe.engine.audio import SAMPLE_RATE
from swescribe.engine.knobs import FULL_FRAMES, DecoderKnobs
from swescribe.engine.options import TranscribeOptions
from swescribe.engine.prompting import vocabulary_prompt
from swescribe.engine.segmenting import (
    Piece,
    avg_logprob_of,
    from_faster_whisper,
    generated_text,
    piece_frames,
    split_segments,
    to_segments,
)
from swescribe.engine.speech import Speech, covered_until, cut_chunks
from swescribe.engine.whisper_options import generate_options

ENCODER_STEP_FRAMES = 100
"""A trimmed encoder input is a whole number of seconds."""

DecodedUntil = Callable[[float], None]
"""Called with the time on the file's timeline up to which a window is transcribed."""


@dataclass(frozen=True)
class Window:
    """One window of a file's audio, as the decoder is given it."""

    samples: np.ndarray
    speech: Speech
    """Its speech regions, seconds into the window."""
    at: float = 0.0
    """Where the window starts in the file, seconds."""
    first_id: int = 0
    """The id its first segment gets (the file's segments so far)."""


@dataclass(frozen=True)
class Decoded:
    """What one window gave: its segments on the file's timeline."""

    segments: list[Segment]
    language: str
    language_probability: float
    redecoded_seconds: float
    """Audio decoded more than once to cover what a first decode left out."""


class CoveringDecoder:
    """One loaded faster-whisper model decoding windows of samples with full coverage."""

    def __init__(self, model: Any) -> None:
        self._model = model

    def decode(
        self,
        window: Window,
        options: TranscribeOptions,
        language: str | None,
        batch_size: int,
        progress: DecodedUntil | None = None,
    ) -> Decoded:
        """The window's segments on the file's timeline, numbered from its `first_id`;
        `progress` hears how far it is done as its pieces finish."""
        return self.decode_together([window], options, language, batch_size, progress)[0]

    def decode_together(
        self,
        windows: list[Window],
        options: TranscribeOptions,
        language: str | None,
        batch_size: int,
        progress: DecodedUntil | None = None,
    ) -> list[Decoded]:
        """Several windows of one stretch of time (a file's channels), what each gave.
        Batched, their pieces share the batches; sequential, one after the other.
        `progress` hears how far all of them are done, never going back."""
        report = _never_back(progress or _ignore)
        if batch_size == 1:
            return [self._decode_sequential(w, options, language, report) for w in windows]
        return self._decode_batched(windows, options, language, batch_size, report)

    def _decode_sequential(
        self,
        window: Window,
        options: TranscribeOptions,
        language: str | None,
        progress: DecodedUntil,
    ) -> Decoded:
        """Plain faster-whisper: one VAD segment after another, conditioned on the
        previous text, with its temperature fallback."""
        prompt = vocabulary_prompt(self._model, options.initial_prompt, options.hotwords)
        sequential = dict(options.extra)
        if options.temperature is not None:
            sequential["temperature"] = options.temperature
        segments, info = self._model.transcribe(
            window.samples,
            language=language,
            task=options.task,
            beam_size=options.beam_size,
            vad_filter=options.vad,
            word_timestamps=options.word_timestamps,
            initial_prompt=prompt or None,
            hotwords=options.hotwords or None,
            **sequential,
        )
        reported = _reporting_ends(segments, window.at, progress)
        ours = from_faster_whisper(reported, window.at, window.first_id, options.word_timestamps)
        return Decoded(ours, info.language, info.language_probability, 0.0)

    def _decode_batched(
        self,
        windows: list[Window],
        options: TranscribeOptions,
        language: str | None,
        batch_size: int,
        progress: DecodedUntil,
    ) -> list[Decoded]:
        from faster_whisper.tokenizer import Tokenizer

        model = self._model
        knobs = options.decoder
        chunks: list[np.ndarray] = []
        offsets: list[float] = []
        owners: list[int] = []  # the window each chunk is cut from
        for number, window in enumerate(windows):
            cut, starts = cut_chunks(window.samples, window.speech, options.vad)
            chunks.extend(cut)
            offsets.extend(starts)
            owners.extend([number] * len(cut))
        probability = 1.0
        if language is None:
            language, probability = self._detect_language(chunks)
        tokenizer = Tokenizer(
            model.hf_tokenizer, model.model.is_multilingual, task=options.task, language=language
        )
        fw_options = generate_options(options, tokenizer)
        context = vocabulary_prompt(model, options.initial_prompt or None, options.hotwords or None)
        kept: list[list[dict[str, Any]]] = [[] for _ in chunks]
        finished = [not chunk.size for chunk in chunks]
        until = list(offsets)  # where each chunk's kept segments reach, window seconds
        fresh = deque(index for index, chunk in enumerate(chunks) if chunk.size)
        again: deque[tuple[int, int, int]] = deque()  # (chunk, samples into it, decodes)
        redecoded = [0.0] * len(windows)
        while again or fresh:
            group = [again.popleft() for _ in range(min(batch_size, len(again)))]
            group += [
                (fresh.popleft(), 0, 0) for _ in range(min(batch_size - len(group), len(fresh)))
            ]
            batch = [
                Piece(
                    index,
                    start,
                    offsets[index] + start / SAMPLE_RATE,
                    chunks[index][start:],
                    context,
                    final=decodes + 1 >= knobs.max_passes,
                )
                for index, start, decodes in group
            ]
            for piece in batch:
                if piece.start:
                    redecoded[owners[piece.chunk]] += piece.duration
            speech = [windows[owners[p.chunk]].speech for p in batch]
            decoded = self._decode_batch(batch, speech, tokenizer, fw_options, knobs)
            for (_, _, decodes), piece, (segments, covered) in zip(
                group, batch, decoded, strict=True
            ):
                kept[piece.chunk].extend(segments)
                if covered is None:
                    finished[piece.chunk] = True
                else:
                    start = piece.start + round((covered - piece.offset) * SAMPLE_RATE)
                    again.append((piece.chunk, start, decodes + 1))
                    until[piece.chunk] = covered
            progress(
                min(
                    window.at
                    + _done_until(
                        [f for f, o in zip(finished, owners, strict=True) if o == number],
                        [u for u, o in zip(until, owners, strict=True) if o == number],
                        window.samples.size,
                    )
                    for number, window in enumerate(windows)
                )
            )

        temperature = fw_options.temperatures[0]
        results = []
        for number, window in enumerate(windows):
            ordered = (
                segment
                for chunk, chunk_segments in enumerate(kept)
                if owners[chunk] == number
                for segment in chunk_segments
            )
            ours = to_segments(
                ordered, window.at, window.first_id, temperature, options.word_timestamps
            )
            results.append(Decoded(ours, language, probability, redecoded[number]))
        return results

    def _detect_language(self, chunks: list[np.ndarray]) -> tuple[str, float]:
        if not chunks:
            return "en", 0.0
        features = self._model.feature_extractor(chunks[0])[..., :-1]
        language, probability, _ = self._model.detect_language(features=features)
        return str(language), float(probability)

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
        batch: list[Piece],
        speech: list[Speech],
        tokenizer: Any,
        options: Any,
        knobs: DecoderKnobs,
    ) -> Iterator[tuple[list[dict[str, Any]], float | None]]:
        """Each piece's segments to keep, and where its chunk is decoded again from
        (None: nowhere). speech: each piece's window's speech regions."""
        from faster_whisper.audio import pad_or_trim

        model = self._model
        extracted = [model.feature_extractor(p.audio)[..., :-1] for p in batch]
        frames = encoder_frames(
            max(f.shape[-1] for f in extracted), knobs.encoder_margin, knobs.encoder_floor
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
        if knobs.selective_beam and options.beam_size > 1:
            results = self._generate(encoder_output, prompts, options, beam_size=1)
            unsure = [
                i
                for i, result in enumerate(results)
                if knobs.unsure.of(
                    avg_logprob_of(result, options.length_penalty),
                    generated_text(tokenizer, result),
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
            split_segments(model, tokenizer, piece, result, options.length_penalty)
            for piece, result in zip(batch, results, strict=True)
        ]
        if options.word_timestamps:
            sizes = [piece_frames(model, piece) for piece in batch]
            model.add_word_timestamps(
                [segments for segments, _ in split],
                tokenizer,
                encoder_output,
                sizes,
                options.prepend_punctuations,
                options.append_punctuations,
                0.0,
            )
        for piece, (segments, silent), regions in zip(batch, split, speech, strict=True):
            if silent and piece.start:
                yield [], None
                continue
            end = piece.offset + piece.duration
            covered = None
            if not piece.final:
                covered = covered_until(segments, piece.offset, end, knobs.gap_seconds, regions)
            if covered is None:
                yield segments, None
            else:
                kept = [s for s in segments if s["end"] <= covered + 1e-6 and not s["unfinished"]]
                yield kept, covered


def _ignore(seconds: float) -> None:
    """No one listens to the progress."""


def _never_back(progress: DecodedUntil) -> DecodedUntil:
    """Progress that only moves forward (channels decoded one after the other each start
    at the window's beginning)."""
    furthest = [float("-inf")]

    def report(seconds: float) -> None:
        if seconds > furthest[0]:
            furthest[0] = seconds
            progress(seconds)

    return report


def _done_until(finished: list[bool], until: list[float], samples: int) -> float:
    """Seconds into the window up to which everything is transcribed: as far as the
    first unfinished chunk's kept segments reach, or the window's end."""
    for index, done in enumerate(finished):
        if not done:
            return until[index]
    return samples / SAMPLE_RATE


def _reporting_ends(segments: Iterable[Any], at: float, progress: DecodedUntil) -> Iterator[Any]:
    """faster-whisper's lazy segments, each one's end reported as it is decoded."""
    for segment in segments:
        yield segment
        progress(at + float(segment.end))


def encoder_frames(longest: int, margin: int | None, floor: int = 0) -> int:
    """Feature frames a batch is encoded with: Whisper's 30 s, or (with a margin) the
    longest piece plus the margin, at least `floor`, in whole seconds, at most 30 s."""
    if margin is None:
        return FULL_FRAMES
    wanted = max(longest + margin, floor)
    return min(FULL_FRAMES, -(-wanted // ENCODER_STEP_FRAMES) * ENCODER_STEP_FRAMES)


def _rows(encoder_output: Any, rows: list[int]) -> Any:
    """Some rows of a batch's encoder output, on the device it lives on (decoding them
    again needs no second encode)."""
    import ctranslate2

    host = np.array(encoder_output.to_device(ctranslate2.Device.cpu))
    picked = ctranslate2.StorageView.from_array(np.ascontiguousarray(host[rows]))
    if encoder_output.device == "cpu":
        return picked
    return picked.to_device(ctranslate2.Device.cuda)
