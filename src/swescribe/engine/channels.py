"""Multichannel: one party per channel (a call, an interview on two microphones).

Each channel is transcribed on its own, so a segment belongs to the channel it was
heard on and is labelled with it (CH1, CH2, …). What makes that hard is bleed: each
microphone also picks up the other party, some 15 to 30 dB down, and Whisper transcribes
that quiet copy as readily as the real thing, so every sentence would come out twice.
Before VAD and decoding, each channel is therefore silenced wherever another channel is
louder by more than a margin (`own_speech`): there the voice is the other party's.
Where both talk at once, each is loudest in their own channel and both are kept. No
hold time is added around a channel's own frames: 150 ms of the other party's onset
kept that way was enough for Whisper to invent a sentence from it.
A channel that copies another (a mono recording stored as stereo) or is silent is
transcribed once or not at all (`distinct_channels`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from swescribe.core.transcript import Segment, SpeakerTurn
from swescribe.engine.audio import SAMPLE_RATE, Samples
from swescribe.engine.diarization.attribution import attribute
from swescribe.engine.options import BLEED_MARGIN_DB

FRAME = SAMPLE_RATE // 50
"""20 ms: the levels are compared frame by frame."""
SMOOTH_FRAMES = 3
"""Levels are the power over 60 ms, so a syllable's gaps do not flip the decision."""
RAMP = SAMPLE_RATE // 200
"""5 ms fades where a channel is silenced, not a click."""
COPY_CORRELATION = 0.98
"""Channels this alike (normalised correlation, any gain) carry the same signal."""
SILENT_RMS = 1e-4
"""A channel quieter than this (-80 dBFS) over a window has nothing to say."""


def channel_rows(
    samples: Samples, margin_db: float | None = BLEED_MARGIN_DB
) -> list[tuple[int | None, Samples]]:
    """What of a window to transcribe, row by row: (None, the samples) for a mono window
    (one row, or decoded mixed down), else (channel, its own speech) for each distinct
    channel."""
    if samples.ndim == 1:
        return [(None, samples)]
    if samples.shape[0] == 1:
        return [(None, samples[0])]
    channels = distinct_channels(samples)
    own = own_speech(samples[channels], margin_db)
    return [(channel, own[n]) for n, channel in enumerate(channels)]


def own_speech(samples: Samples, margin_db: float | None = BLEED_MARGIN_DB) -> Samples:
    """Each channel (a row) with the stretches where another channel is louder by more
    than margin_db silenced; None: nothing silenced."""
    if margin_db is None or samples.shape[0] < 2:
        return samples
    size = samples.shape[1]
    count = -(-size // FRAME)
    padded = np.zeros((samples.shape[0], count * FRAME), dtype=np.float64)
    padded[:, :size] = samples
    power = np.square(padded).reshape(samples.shape[0], count, FRAME).mean(axis=2)
    kernel = np.ones(SMOOTH_FRAMES) / SMOOTH_FRAMES
    power = np.stack([np.convolve(row, kernel, mode="same") for row in power])
    level = 10 * np.log10(power + 1e-12)
    kept = level >= level.max(axis=0) - margin_db
    gain = np.repeat(kept.astype(np.float64), FRAME, axis=1)[:, :size]
    ramp = np.ones(RAMP) / RAMP
    gain = np.stack([np.convolve(row, ramp, mode="same") for row in gain]).clip(0.0, 1.0)
    silenced: Samples = (samples * gain).astype(np.float32, copy=False)
    return silenced


def distinct_channels(samples: Samples) -> list[int]:
    """The channels to transcribe: not silent, and not a copy of an earlier channel (at
    any level). At least the first, so that a silent file still gives a transcript."""
    rms = np.sqrt(np.square(samples, dtype=np.float64).mean(axis=1))
    kept: list[int] = []
    for channel in range(samples.shape[0]):
        if rms[channel] < SILENT_RMS:
            continue
        if any(_alike(samples[channel], samples[other]) for other in kept):
            continue
        kept.append(channel)
    return kept or [0]


def _alike(a: Samples, b: Samples) -> bool:
    dot = float(np.dot(a.astype(np.float64), b.astype(np.float64)))
    norms = float(np.linalg.norm(a) * np.linalg.norm(b)) or 1.0
    return abs(dot) / norms >= COPY_CORRELATION


def channel_name(channel: int) -> str:
    return f"CH{channel + 1}"


def by_channel(segments: Sequence[Segment], channel: int) -> list[Segment]:
    """The segments (and their words) labelled with their channel, as its speaker too."""
    return [_named(replace(s, channel=channel), channel_name(channel)) for s in segments]


def _named(segment: Segment, speaker: str | None) -> Segment:
    words = segment.words
    if words is not None:
        words = tuple(replace(w, speaker=speaker) for w in words)
    return replace(segment, speaker=speaker, words=words)


def merge_in_time(per_channel: Sequence[Sequence[Segment]], first_id: int) -> list[Segment]:
    """Every channel's segments in order of their start (the lower channel first at a
    tie), numbered from first_id."""
    merged = sorted(
        (segment for segments in per_channel for segment in segments),
        key=lambda s: (s.start, s.channel or 0),
    )
    return [replace(segment, id=first_id + n) for n, segment in enumerate(merged)]


def attribute_per_channel(
    segments: Sequence[Segment], turns: dict[int, list[SpeakerTurn]]
) -> tuple[list[Segment], list[SpeakerTurn], tuple[str, ...]]:
    """Diarization within each channel: a channel in which one voice was found keeps
    its name (CH1); one with more names them after it (CH1-S1, CH1-S2, …). Returns the
    segments in time order, the turns and the names, as attribution.attribute does."""
    labelled: list[list[Segment]] = []
    named_turns: list[SpeakerTurn] = []
    names: list[str] = []
    for channel in sorted({s.channel for s in segments if s.channel is not None} | set(turns)):
        own = [s for s in segments if s.channel == channel]
        base = channel_name(channel)
        found = turns.get(channel, [])
        if not own and not found:
            continue
        if not found:
            labelled.append(own)
            names.append(base)
            continue
        split, channel_turns, spoken = attribute(own, found)
        rename = {spoken[0]: base} if len(spoken) == 1 else {n: f"{base}-{n}" for n in spoken}
        labelled.append([_named(s, rename.get(s.speaker or "", base)) for s in split])
        named_turns.extend(replace(t, speaker=rename.get(t.speaker, base)) for t in channel_turns)
        names.extend(rename[n] for n in spoken)
    named_turns.sort(key=lambda t: (t.start, t.end))
    return merge_in_time(labelled, 0), named_turns, tuple(dict.fromkeys(names))
