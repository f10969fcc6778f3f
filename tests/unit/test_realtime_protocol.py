"""The Realtime protocol's pure parts: appends into 16 kHz samples (PCM16 at 24 and
16 kHz, G.711 μ-law and A-law) and session updates into LiveOptions."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from swescribe.api.realtime_audio import AppendDecoder, AudioFormat
from swescribe.api.realtime_protocol import ProtocolError, SessionConfig, updated_config
from swescribe.core.errors import InvalidAudio, InvalidParameter


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def test_g711_decodes_to_the_standard_linear_values() -> None:
    ulaw = AppendDecoder(AudioFormat("pcmu", 16_000))  # at 16 kHz: no resampling to blur it
    assert (ulaw.decode(_b64(bytes([0x00, 0x80, 0xFF, 0x7F]))) * 32768).tolist() == [
        -32124, 32124, 0, 0,
    ]  # fmt: skip
    alaw = AppendDecoder(AudioFormat("pcma", 16_000))
    assert (alaw.decode(_b64(bytes([0xD5, 0x55, 0xAA, 0x2A]))) * 32768).tolist() == [
        8, -8, 32256, -32256,
    ]  # fmt: skip


def test_24_khz_pcm16_becomes_two_thirds_as_many_16_khz_samples_across_appends() -> None:
    decoder = AppendDecoder(AudioFormat("pcm16", 24_000))
    tone = (np.sin(np.arange(24_000) * 2 * np.pi * 440 / 24_000) * 16_000).astype("<i2")
    out = np.concatenate(
        [decoder.decode(_b64(tone[i : i + 2400].tobytes())) for i in range(0, 24_000, 2400)]
    )
    assert 15_900 <= len(out) <= 16_000
    assert out.dtype == np.float32
    assert 0.45 < float(np.max(np.abs(out[100:]))) < 0.5  # 16000/32768, no clipping


@pytest.mark.parametrize(
    "raw", [b"\x01", b"RIFF\x00\x00\x00\x00WAVE", b"\x00\x00\x00\x20ftypisom", b"ID3\x04"]
)
def test_an_odd_byte_count_or_an_audio_file_is_not_pcm16(raw: bytes) -> None:
    with pytest.raises(InvalidAudio):
        AppendDecoder(AudioFormat()).decode(_b64(raw))


def _resolve(name: str) -> str | None:
    if name in ("", "whisper-1", "gpt-4o-transcribe"):
        return None
    if name == "kb-whisper-small":
        return name
    raise InvalidParameter(f"no model {name}", "model")


def test_the_beta_shape_maps_to_live_options_and_a_format() -> None:
    beta = {
        "input_audio_format": "g711_alaw",
        "input_audio_transcription": {"model": "kb-whisper-small", "languages": ["sv"]},
        "turn_detection": None,
    }
    config = updated_config(SessionConfig(), beta, True, _resolve)
    assert config.audio_format == AudioFormat("pcma", 8000)
    assert (config.options.model, config.options.language) == ("kb-whisper-small", "sv")
    assert config.options.turn_detection is False


def test_an_update_changes_only_what_it_names_and_languages_of_two_mean_detect() -> None:
    first = updated_config(
        SessionConfig(),
        {"audio": {"input": {"format": {"type": "audio/pcm", "rate": 16000}}}},
        False,
        _resolve,
    )
    second = updated_config(
        first,
        {
            "type": "transcription",
            "audio": {"input": {"transcription": {"languages": ["sv", "en"]}}},
        },
        False,
        _resolve,
    )
    assert second.audio_format == AudioFormat("pcm16", 16_000)
    assert second.options.language is None
    with pytest.raises(ProtocolError) as refused:
        updated_config(first, {"audio": {"input": {"format": {"rate": 44100}}}}, False, _resolve)
    assert refused.value.param == "session.audio.input.format.rate"
