"""A transcript as plain values: what the engine produces, what is stored as JSON, and
what every reader (the webhook, the API) reads back with Transcript.from_dict."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass, field, fields
from typing import Any

from swescribe.core.paragraphs import Paragraph, split_paragraphs
from swescribe.core.transcription_settings import TranscriptionSettings


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    word: str
    probability: float
    speaker: str | None = None
    """S1, S2, … when the transcription was diarized."""

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "word": self.word,
            "probability": round(self.probability, 4),
        }
        if self.speaker is not None:
            data["speaker"] = self.speaker
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Word:
        return cls(
            data["start"], data["end"], data["word"], data["probability"], data.get("speaker")
        )


@dataclass(frozen=True)
class DecodingStats:
    """How the model decoded a segment: Whisper's own per-segment fields (the ones
    openai-whisper writes in its JSON, and OpenAI's verbose_json answers with)."""

    seek: int
    """Where the decoded piece started, in 10 ms frames from the start of the file."""
    tokens: tuple[int, ...]
    temperature: float
    avg_logprob: float
    compression_ratio: float
    no_speech_prob: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "seek": self.seek,
            "tokens": list(self.tokens),
            "temperature": round(self.temperature, 3),
            "avg_logprob": round(self.avg_logprob, 4),
            "compression_ratio": round(self.compression_ratio, 4),
            "no_speech_prob": round(self.no_speech_prob, 4),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DecodingStats | None:
        """The stats in a segment's JSON; None where it has none."""
        if "seek" not in data:
            return None
        return cls(
            seek=data["seek"],
            tokens=tuple(data["tokens"]),
            temperature=data["temperature"],
            avg_logprob=data["avg_logprob"],
            compression_ratio=data["compression_ratio"],
            no_speech_prob=data["no_speech_prob"],
        )


@dataclass(frozen=True)
class Segment:
    id: int
    start: float
    end: float
    text: str
    words: tuple[Word, ...] | None = None
    _: KW_ONLY
    stats: DecodingStats | None = None
    speaker: str | None = None
    """S1, S2, … when the transcription was diarized; CH1, CH2, … (the channel) when it
    was transcribed per channel."""
    channel: int | None = None
    """The channel (0-based) the segment was heard on, when transcribed per channel."""

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "text": self.text,
        }
        if self.stats is not None:
            data.update(self.stats.to_dict())
        if self.channel is not None:
            data["channel"] = self.channel
        if self.speaker is not None:
            data["speaker"] = self.speaker
        if self.words is not None:
            data["words"] = [w.to_dict() for w in self.words]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Segment:
        words = data.get("words")
        return cls(
            data["id"],
            data["start"],
            data["end"],
            data["text"],
            None if words is None else tuple(Word.from_dict(w) for w in words),
            stats=DecodingStats.from_dict(data),
            speaker=data.get("speaker"),
            channel=data.get("channel"),
        )


@dataclass(frozen=True)
class Timings:
    """Wall-clock seconds spent in each stage of one transcription."""

    decode: float = 0.0
    """Probing and decoding the audio (overlaps nothing yet)."""
    transcribe: float = 0.0
    total: float = 0.0

    def to_dict(self) -> dict[str, float]:
        return {
            "decode": round(self.decode, 3),
            "transcribe": round(self.transcribe, 3),
            "total": round(self.total, 3),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Timings:
        return cls(**_known_fields(cls, data))


@dataclass(frozen=True)
class Coverage:
    """How much of the speech (by VAD) the transcript's words or segments cover.

    A transcript that silently skips speech shows here as uncovered seconds."""

    speech_seconds: float = 0.0
    uncovered_seconds: float = 0.0
    longest_uncovered: float = 0.0
    """The longest single stretch of speech with no text, in seconds."""
    longest_uncovered_at: float | None = None
    """Where that stretch starts (seconds into the file)."""
    redecoded_seconds: float = 0.0
    """Audio decoded a second time because a first decode left part of it out."""

    def to_dict(self) -> dict[str, float | None]:
        return {
            "speech_seconds": round(self.speech_seconds, 3),
            "uncovered_seconds": round(self.uncovered_seconds, 3),
            "longest_uncovered": round(self.longest_uncovered, 3),
            "longest_uncovered_at": (
                None if self.longest_uncovered_at is None else round(self.longest_uncovered_at, 3)
            ),
            "redecoded_seconds": round(self.redecoded_seconds, 3),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Coverage:
        return cls(**_known_fields(cls, data))


@dataclass(frozen=True)
class SpeakerTurn:
    """Who spoke from start to end (seconds into the file)."""

    start: float
    end: float
    speaker: str

    def to_dict(self) -> dict[str, Any]:
        return {"start": round(self.start, 3), "end": round(self.end, 3), "speaker": self.speaker}


@dataclass(frozen=True)
class KnownSpeaker:
    """A speaker recognised as an enrolled voice (issue 28): its label (the voice's
    name), the voice's id, and the cosine similarity that matched it."""

    label: str
    known_speaker_id: str
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "known_speaker_id": self.known_speaker_id,
            "score": round(self.score, 4),
        }


@dataclass(frozen=True)
class Diarization:
    """Who spoke when (issue 18): the model used, the speakers in order of first
    appearance, their turns, and the seconds it took."""

    model: str
    speakers: tuple[str, ...]
    turns: tuple[SpeakerTurn, ...]
    seconds: float = 0.0
    warning: str | None = None
    known_speakers: tuple[KnownSpeaker, ...] | None = None
    """The speakers named by an enrolled voice; None: no voices were looked for."""

    def to_dict(self) -> dict[str, Any]:
        known = self.known_speakers
        return (
            {
                "model": self.model,
                "speakers": list(self.speakers),
                "seconds": round(self.seconds, 3),
                "turns": [turn.to_dict() for turn in self.turns],
            }
            | ({} if self.warning is None else {"warning": self.warning})
            | ({} if known is None else {"known_speakers": [k.to_dict() for k in known]})
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Diarization:
        return cls(
            model=data["model"],
            speakers=tuple(data["speakers"]),
            turns=tuple(SpeakerTurn(t["start"], t["end"], t["speaker"]) for t in data["turns"]),
            seconds=data.get("seconds", 0.0),
            warning=data.get("warning"),
            known_speakers=None
            if data.get("known_speakers") is None
            else tuple(
                KnownSpeaker(k["label"], k["known_speaker_id"], k["score"])
                for k in data["known_speakers"]
            ),
        )


@dataclass(frozen=True)
class Redaction:
    """Personal data of a kind was redacted from start to end (seconds): the kind and
    the time, never the value (core.redaction)."""

    kind: str
    start: float
    end: float

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "start": round(self.start, 3), "end": round(self.end, 3)}


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str
    duration: float
    segments: tuple[Segment, ...]
    model: str
    device: str = "cpu"
    compute_type: str = "int8"
    language_probability: float | None = None
    timings: Timings = field(default_factory=Timings)
    batch_size: int = 1
    coverage: Coverage = field(default_factory=Coverage)
    task: str = "transcribe"
    """"translate": the text is the speech in English (language is still the spoken one)."""
    diarization: Diarization | None = None
    settings: TranscriptionSettings | None = None
    """What the transcript was made with (None: not recorded, as in older JSON)."""
    redactions: tuple[Redaction, ...] | None = None
    """What was redacted (None: the transcript was not redacted)."""

    @property
    def real_time_factor(self) -> float:
        """Processing seconds per audio second (lower is faster)."""
        return self.timings.total / self.duration if self.duration > 0 else 0.0

    @property
    def paragraphs(self) -> tuple[Paragraph, ...]:
        """The segments grouped for reading (core.paragraphs): derived, never stored."""
        return split_paragraphs(self.segments)

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "task": self.task,
            "language": self.language,
            "language_probability": (
                None if self.language_probability is None else round(self.language_probability, 4)
            ),
            "duration": round(self.duration, 3),
            "model": self.model,
            "device": self.device,
            "compute_type": self.compute_type,
            "batch_size": self.batch_size,
            "segments": [s.to_dict() for s in self.segments],
            "paragraphs": [p.to_dict() for p in self.paragraphs],
            "timings": self.timings.to_dict(),
            "coverage": self.coverage.to_dict(),
        } | self._recorded()

    def _recorded(self) -> dict[str, Any]:
        """The keys written only when there is something to write."""
        data: dict[str, Any] = {}
        if self.diarization is not None:
            data["diarization"] = self.diarization.to_dict()
        if self.settings is not None:
            data["settings"] = self.settings.to_dict()
        if self.redactions is not None:
            data["redactions"] = [r.to_dict() for r in self.redactions]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Transcript:
        """The transcript that `to_dict` (the JSON writer) wrote, values as written
        (rounded); JSON written before a key was added reads with its default."""
        diarization = data.get("diarization")
        settings = data.get("settings")
        redactions = data.get("redactions")
        return cls(
            text=data["text"],
            language=data["language"],
            duration=data["duration"],
            segments=tuple(Segment.from_dict(s) for s in data["segments"]),
            model=data["model"],
            device=data.get("device", "cpu"),
            compute_type=data.get("compute_type", "int8"),
            language_probability=data.get("language_probability"),
            timings=Timings.from_dict(data.get("timings") or {}),
            batch_size=data.get("batch_size", 1),
            coverage=Coverage.from_dict(data.get("coverage") or {}),
            task=data.get("task", "transcribe"),
            diarization=None if diarization is None else Diarization.from_dict(diarization),
            settings=None if settings is None else TranscriptionSettings.from_dict(settings),
            redactions=None
            if redactions is None
            else tuple(Redaction(r["kind"], r["start"], r["end"]) for r in redactions),
        )


def join_segment_texts(segments: tuple[Segment, ...] | list[Segment]) -> str:
    """The transcript's running text: segment texts joined with single spaces."""
    return " ".join(s.text for s in segments if s.text).strip()


def _known_fields(cls: type, data: Mapping[str, Any]) -> dict[str, Any]:
    """The items of `data` that are fields of the dataclass `cls` (older JSON may lack
    some; the defaults stand in)."""
    return {f.name: data[f.name] for f in fields(cls) if f.name in data}
