"""stream=true on /v1/audio/transcriptions: OpenAI's transcript events as Server-Sent
Events (`data: {json}` blocks), as the SDKs' `stream=True` reads them.

The events are made from the finished job's transcript: one `transcript.text.delta` per
segment (for diarized_json, each followed by its `transcript.text.segment`), then
`transcript.text.done` with the whole text. The deltas, joined, are exactly that text.
No earlier text exists to send: the batched engine decodes a file in windows of ten
minutes, each in one call, so a file within the synchronous limit has no partial
transcript before it is done (docs/api.md says so).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from swescribe.api.openai_shapes import diarized_segment, segment_id
from swescribe.core.transcript import Segment, Transcript

STREAMABLE_FORMATS = ("json", "text", "diarized_json")
"""The response formats OpenAI streams; srt, vtt and verbose_json answer only whole."""
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
"""No cache or proxy may hold the events back."""


def transcript_events(transcript: Transcript, diarized: bool) -> Iterator[dict[str, Any]]:
    """The events for a finished transcript, in the order OpenAI sends them."""
    for segment, delta in text_deltas(transcript):
        event: dict[str, Any] = {"type": "transcript.text.delta", "delta": delta}
        if diarized and segment is not None:
            event["segment_id"] = segment_id(segment)
        yield event
        if diarized and segment is not None:
            yield diarized_segment(segment)
    yield {"type": "transcript.text.done", "text": transcript.text}


def text_deltas(transcript: Transcript) -> list[tuple[Segment | None, str]]:
    """Each segment with its share of the running text (the space before it included),
    so that the shares add up to transcript.text; if they cannot (text not made from
    these segments), the text as one delta without a segment."""
    spoken = [s for s in transcript.segments if s.text]
    joined = " ".join(s.text for s in spoken)
    first, last = len(joined) - len(joined.lstrip()), len(joined.rstrip())
    if joined[first:last] != transcript.text:
        return [(None, transcript.text)] if transcript.text else []
    deltas: list[tuple[Segment | None, str]] = []
    start = 0
    for segment in spoken:
        end = start + len(segment.text) + (1 if start else 0)
        share = joined[max(start, first) : min(end, last)]
        if share:
            deltas.append((segment, share))
        start = end
    return deltas


def server_sent_event(event: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(event, ensure_ascii=False, separators=(',', ':'))}\n\n".encode()
