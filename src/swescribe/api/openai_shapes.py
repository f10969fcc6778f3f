"""OpenAI's audio response shapes, made from a job's transcript.

Pure functions: the transcript (core.transcript.Transcript, as read back from its stored
JSON) in, the body OpenAI's API would answer with out.
"""

from __future__ import annotations

from typing import Any, Literal

from swescribe.core.transcript import Segment, Transcript

ResponseFormat = Literal["json", "text", "srt", "verbose_json", "vtt", "diarized_json"]
Granularity = Literal["segment", "word"]
TEXT_MEDIA_TYPES = {
    "text": "text/plain; charset=utf-8",
    "srt": "text/plain; charset=utf-8",
    "vtt": "text/plain; charset=utf-8",
}
"""OpenAI serves text, srt and vtt as text/plain."""

LANGUAGE_NAMES: dict[str, str] = {
    "en": "english",
    "zh": "chinese",
    "de": "german",
    "es": "spanish",
    "ru": "russian",
    "ko": "korean",
    "fr": "french",
    "ja": "japanese",
    "pt": "portuguese",
    "tr": "turkish",
    "pl": "polish",
    "ca": "catalan",
    "nl": "dutch",
    "ar": "arabic",
    "sv": "swedish",
    "it": "italian",
    "id": "indonesian",
    "hi": "hindi",
    "fi": "finnish",
    "vi": "vietnamese",
    "he": "hebrew",
    "uk": "ukrainian",
    "el": "greek",
    "ms": "malay",
    "cs": "czech",
    "ro": "romanian",
    "da": "danish",
    "hu": "hungarian",
    "ta": "tamil",
    "no": "norwegian",
    "th": "thai",
    "ur": "urdu",
    "hr": "croatian",
    "bg": "bulgarian",
    "lt": "lithuanian",
    "la": "latin",
    "mi": "maori",
    "ml": "malayalam",
    "cy": "welsh",
    "sk": "slovak",
    "te": "telugu",
    "fa": "persian",
    "lv": "latvian",
    "bn": "bengali",
    "sr": "serbian",
    "az": "azerbaijani",
    "sl": "slovenian",
    "kn": "kannada",
    "et": "estonian",
    "mk": "macedonian",
    "br": "breton",
    "eu": "basque",
    "is": "icelandic",
    "hy": "armenian",
    "ne": "nepali",
    "mn": "mongolian",
    "bs": "bosnian",
    "kk": "kazakh",
    "sq": "albanian",
    "sw": "swahili",
    "gl": "galician",
    "mr": "marathi",
    "pa": "punjabi",
    "si": "sinhala",
    "km": "khmer",
    "sn": "shona",
    "yo": "yoruba",
    "so": "somali",
    "af": "afrikaans",
    "oc": "occitan",
    "ka": "georgian",
    "be": "belarusian",
    "tg": "tajik",
    "sd": "sindhi",
    "gu": "gujarati",
    "am": "amharic",
    "yi": "yiddish",
    "lo": "lao",
    "uz": "uzbek",
    "fo": "faroese",
    "ht": "haitian creole",
    "ps": "pashto",
    "tk": "turkmen",
    "nn": "nynorsk",
    "mt": "maltese",
    "sa": "sanskrit",
    "lb": "luxembourgish",
    "my": "myanmar",
    "bo": "tibetan",
    "tl": "tagalog",
    "mg": "malagasy",
    "as": "assamese",
    "tt": "tatar",
    "haw": "hawaiian",
    "ln": "lingala",
    "ha": "hausa",
    "ba": "bashkir",
    "jw": "javanese",
    "su": "sundanese",
    "yue": "cantonese",
}
"""Whisper's language codes and the names OpenAI's verbose_json gives (`"swedish"`)."""


def language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code, code)


def json_body(transcript: Transcript) -> dict[str, Any]:
    """response_format=json: the text alone."""
    return {"text": transcript.text}


def plain_text(transcript: Transcript) -> str:
    """response_format=text: the text, one line."""
    return f"{transcript.text}\n"


def verbose_json_body(
    transcript: Transcript, granularities: tuple[str, ...] = ()
) -> dict[str, Any]:
    """response_format=verbose_json: task, language (as a name), duration, text, and
    segments (unless only words were asked for) and words (when asked for)."""
    body: dict[str, Any] = {
        "task": transcript.task,
        "language": language_name(transcript.language),
        "duration": transcript.duration,
        "text": transcript.text,
    }
    segments = transcript.segments
    if "segment" in granularities or not granularities:
        body["segments"] = [_segment(s) for s in segments]
    if "word" in granularities:
        body["words"] = [
            {"word": w.word, "start": w.start, "end": w.end}
            | ({"speaker": w.speaker} if w.speaker is not None else {})
            for s in segments
            for w in s.words or ()
        ]
    return body


def _segment(segment: Segment) -> dict[str, Any]:
    """OpenAI's segment fields, and swescribe's `speaker` when the job was diarized (or
    transcribed per channel, with its `channel`)."""
    stats = segment.stats
    shaped = {
        "id": segment.id,
        "seek": stats.seek if stats else 0,
        "start": segment.start,
        "end": segment.end,
        "text": segment.text,
        "tokens": list(stats.tokens) if stats else [],
        "temperature": stats.temperature if stats else 0.0,
        "avg_logprob": stats.avg_logprob if stats else 0.0,
        "compression_ratio": stats.compression_ratio if stats else 0.0,
        "no_speech_prob": stats.no_speech_prob if stats else 0.0,
    }
    if segment.speaker is not None:
        shaped["speaker"] = segment.speaker
    if segment.channel is not None:
        shaped["channel"] = segment.channel
    return shaped


def diarized_json_body(transcript: Transcript) -> dict[str, Any]:
    """response_format=diarized_json: the text, and segments with OpenAI's speaker labels."""
    return {
        "task": "transcribe",
        "duration": transcript.duration,
        "text": transcript.text,
        "segments": [diarized_segment(s) for s in transcript.segments],
        "usage": {"type": "duration", "seconds": transcript.duration},
    }


def diarized_segment(segment: Segment) -> dict[str, Any]:
    """One segment as OpenAI's `transcript.text.segment` (also the streamed event)."""
    return {
        "type": "transcript.text.segment",
        "id": segment_id(segment),
        "start": segment.start,
        "end": segment.end,
        "text": segment.text,
        "speaker": speaker_letter(segment.speaker),
    }


def segment_id(segment: Segment) -> str:
    return f"seg_{segment.id}"


def speaker_letter(speaker: str | None) -> str:
    """OpenAI labels speakers A, B, …; swescribe's S1, S2, … become those (S27 is AA).
    A segment no speaker was attributed to is `unknown`."""
    number = int(speaker[1:]) if speaker and speaker[:1] == "S" and speaker[1:].isdigit() else 0
    if number < 1:
        return speaker or "unknown"
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def model_object(model_id: str, created: int) -> dict[str, Any]:
    """One entry of GET /v1/models."""
    return {"id": model_id, "object": "model", "created": created, "owned_by": "swescribe"}
