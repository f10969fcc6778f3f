"""faster-whisper's TranscriptionOptions for the batched generate (engine/decoding.py):
its defaults, with ours (one temperature, no conditioning on previous text), and the
faster-whisper keyword arguments in `TranscribeOptions.extra`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from swescribe.core.errors import InvalidOption
from swescribe.engine.knobs import DecoderKnobs
from swescribe.engine.options import TranscribeOptions


def generate_options(options: TranscribeOptions, tokenizer: Any) -> Any:
    """Unknown keys in `extra` raise InvalidOption (a misspelling must not pass)."""
    from faster_whisper.transcribe import TranscriptionOptions, get_suppressed_tokens

    extra = {k: v for k, v in options.extra.items() if k != "vad_parameters"}
    temperature = extra.pop("temperature", 0.0)
    if options.temperature is not None:
        temperature = options.temperature
    if isinstance(temperature, list | tuple):
        temperature = temperature[0]
    fields: dict[str, Any] = {
        "beam_size": options.beam_size,
        "best_of": 5,
        "patience": 1.0,
        "length_penalty": 1.0,
        "repetition_penalty": 1.0,
        "no_repeat_ngram_size": 0,
        "log_prob_threshold": -1.0,
        "no_speech_threshold": 0.6,
        "compression_ratio_threshold": 2.4,
        "temperatures": [float(temperature)],
        "initial_prompt": options.initial_prompt or None,
        "prefix": None,
        "suppress_blank": True,
        "suppress_tokens": [-1],
        "prepend_punctuations": "\"'“¿([{-",
        "append_punctuations": "\"'.。,，!！?？:：”)]}、",
        "max_new_tokens": None,
        "hotwords": options.hotwords or None,
        "word_timestamps": options.word_timestamps,
        "hallucination_silence_threshold": None,
        "condition_on_previous_text": False,
        "clip_timestamps": [],
        "prompt_reset_on_temperature": 0.5,
        "multilingual": False,
        "without_timestamps": options.decoder.without_timestamps,
        "max_initial_timestamp": 0.0,
    }
    _check_known(extra, fields)
    fields.update(extra)
    if fields["suppress_tokens"]:
        fields["suppress_tokens"] = get_suppressed_tokens(tokenizer, fields["suppress_tokens"])
    return TranscriptionOptions(**fields)


def _check_known(extra: Mapping[str, Any], fields: Mapping[str, Any]) -> None:
    unknown = sorted(set(extra) - set(fields))
    if not unknown:
        return
    ours = [name for name in unknown if name in DecoderKnobs.__dataclass_fields__]
    hint = " (swescribe's own knobs go in TranscribeOptions.decoder)" if ours else ""
    raise InvalidOption(f"unknown decoding options: {', '.join(unknown)}{hint}")
