"""The engine: one loaded model, reused for every file it is given."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from swescribe.core.errors import InvalidOption
from swescribe.core.transcript import (
    Diarization,
    KnownSpeaker,
    Segment,
    SpeakerTurn,
    Timings,
    Transcript,
    join_segment_texts,
)
from swescribe.core.transcription_settings import TranscriptionSettings, VadSettings
from swescribe.engine._decode_ahead import decoded_ahead
from swescribe.engine.audio import (
    SAMPLE_RATE,
    DecodeMeter,
    OpenedAudio,
    Samples,
    iter_windows,
    probe,
    refuse_over_limit,
)
from swescribe.engine.channels import (
    attribute_per_channel,
    by_channel,
    channel_rows,
    merge_in_time,
)
from swescribe.engine.coverage import measure_coverage
from swescribe.engine.decoding import CoveringDecoder, Decoded, Window
from swescribe.engine.device import DevicePlan, default_batch_size, plan_device
from swescribe.engine.diarization import (
    DiarizationSession,
    Diarizer,
    DiarizerSpec,
    SpeakerCount,
    load_diarizer,
)
from swescribe.engine.diarization.attribution import attribute
from swescribe.engine.diarization.embedding import EmbeddingDiarizer, EmbeddingSession
from swescribe.engine.diarization.ge2e import VoiceEncoder, resemblyzer_weights
from swescribe.engine.diarization.known import match_voices, speaker_centroids
from swescribe.engine.models import (
    OFFLINE_MODEL,
    ModelLocator,
    ResolvedModel,
    load_whisper_model,
    translates,
)
from swescribe.engine.options import TranscribeOptions
from swescribe.engine.ports import ProgressCallback
from swescribe.engine.progress import DecodedProgress
from swescribe.engine.speech import CHUNK_SECONDS, min_silence_ms, speech_regions
from swescribe.engine.versions import installed_versions

log = logging.getLogger(__name__)


class Engine:
    """A loaded Whisper model plus the pipeline around it. Load once, transcribe many.

    Implements the Transcriber port (engine/ports.py)."""

    def __init__(
        self, resolved: ResolvedModel, plan: DevicePlan, diarization: DiarizerSpec | None = None
    ) -> None:
        started = time.perf_counter()
        self.diarization = diarization or DiarizerSpec(device=plan.device)
        self._diarizer: Diarizer | None = None
        self._voice_encoder: VoiceEncoder | None = None
        self._diarizer_lock = threading.Lock()
        self._model = load_whisper_model(resolved, plan)
        self._decoder = CoveringDecoder(self._model)
        self.load_seconds = time.perf_counter() - started
        self.model = resolved
        self.plan = plan
        self.batch_size = default_batch_size(plan.device, resolved.name)
        log.info(
            "model loaded: %s on %s/%s in %.1f s",
            resolved.name,
            plan.device,
            plan.compute_type,
            self.load_seconds,
        )

    @classmethod
    def load(
        cls,
        model: str,
        locator: ModelLocator,
        device: str = "auto",
        compute_type: str = "auto",
        cpu_threads: int = 0,
        diarization: DiarizerSpec | None = None,
    ) -> Engine:
        plan = plan_device(device, compute_type, cpu_threads)
        return cls(locator.resolve(model), plan, diarization)

    def diarizer(self) -> Diarizer:
        """The speaker model, loaded on the first diarized file and kept."""
        with self._diarizer_lock:
            if self._diarizer is None:
                self._diarizer = load_diarizer(self.diarization)
            return self._diarizer

    def voice_encoder(self) -> VoiceEncoder:
        """The GE2E encoder that voiceprints are made and matched with (whichever model
        diarizes), loaded on first use and kept."""
        with self._diarizer_lock:
            if self._voice_encoder is None:
                diarizer = self._diarizer
                if isinstance(diarizer, EmbeddingDiarizer):
                    self._voice_encoder = diarizer.encoder
                else:
                    weights = resemblyzer_weights(self.diarization.speaker_model_dirs)
                    self._voice_encoder = VoiceEncoder.from_checkpoint(weights)
            return self._voice_encoder

    def transcribe(
        self,
        path: Path | OpenedAudio,
        options: TranscribeOptions | None = None,
        progress: ProgressCallback | None = None,
    ) -> Transcript:
        options = options or TranscribeOptions()
        started = time.perf_counter()
        opened = _opened_for(path, options)
        path = path.path if isinstance(path, OpenedAudio) else path
        info = opened.info if opened is not None else probe(path)
        refuse_over_limit(info, options.max_seconds)  # honest files: before decoding
        # Every other length is counted on the decoded samples (audio.DecodeMeter).
        meter = opened.meter if opened is not None else DecodeMeter(options.max_seconds)
        decode_seconds = time.perf_counter() - started
        transcribe_seconds = 0.0
        segments: list[Segment] = []
        language = options.language if options.language not in (None, "auto") else None
        if language is not None and language not in self._model.supported_languages:
            raise InvalidOption(f"language {language!r} is not one this model knows")
        if options.task == "translate" and not translates(self.model.name):
            raise InvalidOption(
                f"model {self.model.name} was trained to transcribe Swedish, not to translate; "
                f"translate with {OFFLINE_MODEL} or another multilingual Whisper model"
            )
        detected: str | None = None
        probability: float | None = None
        speech: list[tuple[float, float]] = []
        redecoded = 0.0

        if options.diarize:
            self.diarizer()  # loaded (or refused) before any transcription
        speakers: dict[int | None, DiarizationSession] = {}  # one per channel transcribed
        voices: EmbeddingSession | None = None  # a mono file's, when voices are looked for
        diarize_seconds = 0.0
        report = DecodedProgress(progress, info.duration, meter)
        report.begin()  # the length, before the first window is decoded
        batch_size = options.batch_size or self.batch_size
        min_silence = min_silence_ms(options.extra)
        source = (
            opened.windows()
            if opened
            else iter_windows(
                path, options.window_seconds, meter=meter, multichannel=options.multichannel
            )
        )
        windows = decoded_ahead(source)
        with contextlib.closing(windows):
            while True:
                tick = time.perf_counter()
                window = next(windows, None)
                decode_seconds += time.perf_counter() - tick
                if window is None:
                    break
                offset, samples = window
                tick = time.perf_counter()
                rows = channel_rows(samples, options.bleed_margin_db)
                parts = [
                    Window(
                        row, speech_regions(row, options.vad, min_silence), offset, len(segments)
                    )
                    for _, row in rows
                ]
                decoded = self._decoder.decode_together(
                    parts, options, language, batch_size, report
                )
                if detected is None:
                    detected, probability = decoded[0].language, decoded[0].language_probability
                for part, result in zip(parts, decoded, strict=True):
                    speech.extend((offset + start, offset + end) for start, end in part.speech)
                    redecoded += result.redecoded_seconds
                for segment in _in_time(rows, decoded, len(segments)):
                    segments.append(segment)
                    report(segment.end)
                transcribe_seconds += time.perf_counter() - tick
                if options.diarize:
                    tick = time.perf_counter()
                    for channel, row in rows:
                        if channel not in speakers:
                            speakers[channel] = self.diarizer().session()
                            if channel is None:
                                voices = _voice_session(speakers[None], options, self.voice_encoder)
                        speakers[channel].add(offset, row)
                    if voices is not None and voices is not speakers.get(None):
                        voices.add(offset, samples)
                    diarize_seconds += time.perf_counter() - tick
                report(offset + samples.shape[-1] / SAMPLE_RATE)

        diarization = None
        if options.diarize:
            tick = time.perf_counter()
            count = SpeakerCount(options.speakers, options.min_speakers, options.max_speakers)
            turns = {channel: session.finish(count) for channel, session in speakers.items()}
            known = None
            if turns and None not in turns:
                segments, found, names = attribute_per_channel(segments, _channels_only(turns))
            else:
                mono = turns.get(None, [])
                known = _recognise(voices, mono, options)
                segments, found, names = attribute(
                    segments, mono, {raw: k.label for raw, k in (known or {}).items()}
                )
            diarizer = self.diarizer()
            diarization = Diarization(
                model=diarizer.name,
                speakers=names,
                turns=tuple(found),
                seconds=diarize_seconds + time.perf_counter() - tick,
                warning=diarizer.warning,
                known_speakers=None if known is None else tuple(known.values()),
            )

        return Transcript(
            text=join_segment_texts(segments),
            batch_size=batch_size,
            language=language or detected or "unknown",
            language_probability=None if language else probability,
            duration=meter.seconds,
            segments=tuple(segments),
            model=self.model.name,
            task=options.task,
            device=self.plan.device,
            compute_type=self.plan.compute_type,
            timings=Timings(
                decode=decode_seconds,
                transcribe=transcribe_seconds,
                total=time.perf_counter() - started,
            ),
            coverage=measure_coverage(speech, segments, redecoded),
            diarization=diarization,
            settings=self._settings(options, language, batch_size, min_silence),
        )

    def _settings(
        self, options: TranscribeOptions, language: str | None, batch_size: int, min_silence: int
    ) -> TranscriptionSettings:
        """The options that ran, as the transcript records them."""
        return TranscriptionSettings(
            model=self.model.name,
            device=self.plan.device,
            compute_type=self.plan.compute_type,
            language=language,
            task=options.task,
            beam_size=options.beam_size,
            batch_size=batch_size,
            temperature=options.temperature,
            word_timestamps=options.word_timestamps,
            window_seconds=options.window_seconds,
            vad=VadSettings(options.vad, min_silence, CHUNK_SECONDS),
            initial_prompt=bool(options.initial_prompt and options.initial_prompt.strip()),
            hotwords=bool(options.hotwords and options.hotwords.strip()),
            diarize=options.diarize,
            speakers=options.speakers,
            min_speakers=options.min_speakers,
            max_speakers=options.max_speakers,
            multichannel=options.multichannel,
            bleed_margin_db=options.bleed_margin_db if options.multichannel else None,
            decoder=asdict(options.decoder),
            extra=tuple(sorted(options.extra)),
            versions=installed_versions(),
        )


def _voice_session(
    speakers: DiarizationSession | None,
    options: TranscribeOptions,
    encoder: Callable[[], VoiceEncoder],
) -> EmbeddingSession | None:
    """Where the speakers' GE2E embeddings come from when voices are looked for: the
    offline diarizer's own session, or one beside another diarizer (pyannote)."""
    if speakers is None or not options.known_voices:
        return None
    if isinstance(speakers, EmbeddingSession):
        return speakers
    return EmbeddingSession(encoder())


def _recognise(
    voices: EmbeddingSession | None, turns: list[SpeakerTurn], options: TranscribeOptions
) -> dict[str, KnownSpeaker] | None:
    """The diarizer's speakers that match an enrolled voice, by their raw label."""
    if voices is None:
        return None
    centroids = speaker_centroids(turns, voices.spans(), voices.embeddings())
    return {
        match.speaker: KnownSpeaker(match.voice.name, match.voice.voice_id, match.score)
        for match in match_voices(centroids, options.known_voices)
    }


def _opened_for(audio: Path | OpenedAudio, options: TranscribeOptions) -> OpenedAudio | None:
    """The audio opened ahead (the worker's prefetch) when its windows and its limit fit
    the options; otherwise it is closed and the file decoded again from its path."""
    if not isinstance(audio, OpenedAudio):
        return None
    if (audio.window_seconds, audio.meter.max_seconds, audio.multichannel) == (
        options.window_seconds,
        options.max_seconds,
        options.multichannel,
    ):
        return audio
    audio.close()
    return None


def _in_time(
    rows: list[tuple[int | None, Samples]], decoded: list[Decoded], first_id: int
) -> list[Segment]:
    """A window's segments: as decoded from one mono row, or each channel's labelled
    with it and all merged in time order."""
    if rows[0][0] is None:
        return decoded[0].segments
    return merge_in_time(
        [
            by_channel(result.segments, channel or 0)
            for (channel, _), result in zip(rows, decoded, strict=True)
        ],
        first_id,
    )


def _channels_only(turns: dict[int | None, list[SpeakerTurn]]) -> dict[int, list[SpeakerTurn]]:
    return {channel: found for channel, found in turns.items() if channel is not None}
