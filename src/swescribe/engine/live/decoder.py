"""Several sessions' buffers decoded in one batched call: encoded together at the
longest buffer's length (not Whisper's 30 s: a live buffer is short, and a 30 s encode
costs more than a second on two cores), generated together, word-timed together."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from swescribe.engine.audio import SAMPLE_RATE, Samples
from swescribe.engine.decoding import encoder_frames
from swescribe.engine.live.agreement import TimedWord
from swescribe.engine.options import TranscribeOptions
from swescribe.engine.prompting import vocabulary_prompt
from swescribe.engine.segmenting import Piece, piece_frames, split_segments
from swescribe.engine.whisper_options import generate_options

ENCODER_MARGIN_FRAMES = 100
"""A buffer is encoded with at least 1 s of padding after it."""
TOKENS_PER_SECOND = 12
"""Room to write per second of audio: speech needs about half of it, timestamps
included; a decode that loops stops there instead of at Whisper's 448 tokens."""
MAX_LOOP_PERIOD = 8
"""Words repeating with a period of up to this many, three times running (the third
maybe cut short), are a loop."""
END_MARGIN = 0.02
"""A word that starts this close to the end of the decoded audio was not heard in it."""
CONTEXT_CHARS = 200
"""Confirmed text before the buffer that goes into the prompt (whisper_streaming's 200)."""


@dataclass(frozen=True)
class DecodeRequest:
    """One session's buffer to decode."""

    audio: Samples
    offset: float
    """Where the buffer starts on the session's timeline, seconds."""
    prompt: list[int]
    """Token ids before the audio: the session's vocabulary, then confirmed text."""
    language: str
    final: bool = False
    """The turn's last decode: searched with the final beam."""
    silence_after: float = 0.0
    """Seconds of silence added after the audio (a pause heard as the turn's end): no
    word is placed there."""

    @property
    def audio_end(self) -> float:
        """Where the audio heard ends on the session's timeline, seconds."""
        return self.offset + self.audio.size / SAMPLE_RATE - self.silence_after


@dataclass(frozen=True)
class Hypothesis:
    """What one decode of a buffer says."""

    words: tuple[TimedWord, ...]
    segment_ends: tuple[float, ...]
    """Ends of the complete segments (a phrase closed by a timestamp), session seconds."""


class BatchDecoder:
    """One loaded faster-whisper model, decoding buffers of several sessions at once.
    Called from the live engine's one decode thread only."""

    def __init__(self, model: Any, beam_size: int, final_beam_size: int) -> None:
        self._model = model
        self._beam_size = beam_size
        self._final_beam_size = final_beam_size
        self._tokenizers: dict[str, Any] = {}

    @property
    def languages(self) -> frozenset[str]:
        return frozenset(self._model.supported_languages)

    def prompt(self, vocabulary: str | None, confirmed: str) -> list[int]:
        """The vocabulary's tokens (at most half the prompt's room), then the end of the
        confirmed text before the buffer."""
        room = self._model.max_length // 2 - 1
        tokens = vocabulary_prompt(self._model, vocabulary, None)[-(room // 2) :]
        context = confirmed[-CONTEXT_CHARS:].strip()
        if context:
            encoded = self._model.hf_tokenizer.encode(" " + context, add_special_tokens=False)
            tokens = tokens + list(encoded.ids)
        return tokens[-room:]

    def detect_language(self, audio: Samples) -> str:
        features = self._model.feature_extractor(audio)[..., :-1]
        language, _, _ = self._model.detect_language(features=features)
        return str(language)

    def decode(self, requests: Sequence[DecodeRequest]) -> list[Hypothesis]:
        """Each request's hypothesis, in order; one batch per language and beam."""
        results: list[Hypothesis | None] = [None] * len(requests)
        for language, final in sorted({(r.language, r.final) for r in requests}):
            indexes = [
                i for i, r in enumerate(requests) if (r.language, r.final) == (language, final)
            ]
            beam = self._final_beam_size if final else self._beam_size
            decoded = self._decode_batch([requests[i] for i in indexes], language, beam)
            for i, hypothesis in zip(indexes, decoded, strict=True):
                results[i] = hypothesis
        return [r for r in results if r is not None]

    def _tokenizer(self, language: str) -> Any:
        if language not in self._tokenizers:
            from faster_whisper.tokenizer import Tokenizer

            model = self._model
            self._tokenizers[language] = Tokenizer(
                model.hf_tokenizer, model.model.is_multilingual, "transcribe", language
            )
        return self._tokenizers[language]

    def _decode_batch(
        self, requests: list[DecodeRequest], language: str, beam_size: int
    ) -> list[Hypothesis]:
        from faster_whisper.audio import pad_or_trim

        model = self._model
        tokenizer = self._tokenizer(language)
        options = generate_options(
            TranscribeOptions(beam_size=beam_size, word_timestamps=True), tokenizer
        )
        extracted = [model.feature_extractor(r.audio)[..., :-1] for r in requests]
        frames = encoder_frames(max(f.shape[-1] for f in extracted), ENCODER_MARGIN_FRAMES)
        encoder_output = model.encode(np.stack([pad_or_trim(f, frames) for f in extracted]))
        results = model.model.generate(
            encoder_output,
            [model.get_prompt(tokenizer, r.prompt, without_timestamps=False) for r in requests],
            beam_size=beam_size,
            patience=options.patience,
            length_penalty=options.length_penalty,
            max_length=_max_length(model.max_length, requests),
            suppress_blank=options.suppress_blank,
            suppress_tokens=options.suppress_tokens,
            return_scores=True,
            return_no_speech_prob=True,
        )
        pieces = [Piece(i, 0, r.offset, r.audio, r.prompt, True) for i, r in enumerate(requests)]
        split = [
            split_segments(model, tokenizer, piece, result, options.length_penalty)
            for piece, result in zip(pieces, results, strict=True)
        ]
        segments = [
            [] if silent or not _has_text(found, tokenizer) else found for found, silent in split
        ]
        spoken = [i for i, found in enumerate(segments) if found]
        if spoken:
            rows = encoder_output if len(spoken) == len(requests) else _rows(encoder_output, spoken)
            model.add_word_timestamps(
                [segments[i] for i in spoken],
                tokenizer,
                rows,
                [piece_frames(model, pieces[i]) for i in spoken],
                options.prepend_punctuations,
                options.append_punctuations,
                0.0,
            )
        return [
            _hypothesis(found, r.audio_end) for found, r in zip(segments, requests, strict=True)
        ]


def _max_length(model_limit: int, requests: Sequence[DecodeRequest]) -> int:
    """Prompt plus room to write: what the longest buffer could hold."""
    seconds = max(r.audio.size for r in requests) / SAMPLE_RATE
    prompt = max(len(r.prompt) for r in requests) + 4
    return min(model_limit, prompt + 16 + int(seconds * TOKENS_PER_SECOND))


def without_loop(words: Sequence[TimedWord]) -> list[TimedWord]:
    """The words up to a decoding loop (a group of up to MAX_LOOP_PERIOD words said three
    times running, the third maybe cut short by the length limit), its first occurrence
    kept: greedy Whisper loops on short audio."""
    keys = [w.key for w in words]
    for start in range(len(keys)):
        for period in range(1, MAX_LOOP_PERIOD + 1):
            second = start + period
            group = keys[start:second]
            if second + period > len(keys) or group != keys[second : second + period]:
                continue
            third = keys[second + period : second + 2 * period]
            if third and _begins(group, third):
                return list(words[:second])
    return list(words)


def _begins(group: list[str], words: list[str]) -> bool:
    """Whether `words` are the group's first words, the last of them maybe cut short."""
    *whole, last = words
    return group[: len(whole)] == whole and group[len(whole)].startswith(last)


def within_audio(words: Sequence[TimedWord], audio_end: float) -> list[TimedWord]:
    """The words before the first that the decoder placed at or past the end of the audio
    it heard: a phrase repeated there, squeezed into no time, was never said. (A last
    word's end may run on into the silence after it.)"""
    for index, word in enumerate(words):
        if word.start >= audio_end - END_MARGIN:
            return list(words[:index])
    return list(words)


def _has_text(segments: list[dict[str, Any]], tokenizer: Any) -> bool:
    return any(t < tokenizer.eot for segment in segments for t in segment["tokens"])


def _rows(encoder_output: Any, rows: list[int]) -> Any:
    """Some rows of a batch's encoder output (the buffers with text to align)."""
    import ctranslate2

    host = np.array(encoder_output.to_device(ctranslate2.Device.cpu))
    picked = ctranslate2.StorageView.from_array(np.ascontiguousarray(host[rows]))
    return picked if encoder_output.device == "cpu" else picked.to_device(ctranslate2.Device.cuda)


def _hypothesis(segments: list[dict[str, Any]], audio_end: float) -> Hypothesis:
    heard = within_audio(
        [
            TimedWord(float(w["start"]), float(w["end"]), str(w["word"]))
            for segment in segments
            for w in segment.get("words") or ()
            if str(w["word"]).strip()
        ],
        audio_end,
    )
    words = without_loop(heard)
    reached = words[-1].end if words else 0.0
    ends = tuple(float(s["end"]) for s in segments if not s["unfinished"] and s["end"] <= reached)
    return Hypothesis(tuple(words), ends)
