"""The webhook body: the seed's keys, exactly as the seed writes them, plus additive keys."""

from __future__ import annotations

from typing import Any


def build_payload(
    *,
    job_id: str,
    succeeded: bool,
    text: str,
    segments: list[dict[str, Any]],
    processing_seconds: float,
    file_size: int,
    model: str,
    language: str,
    audio_duration: float | None,
    results: dict[str, str],
    error_code: str | None,
    error_message: str | None,
) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "status": "complete" if succeeded else "failed",
        "transcript": {"text": text, "segments": segments},
        "metadata": {
            "processing_time": f"{round(processing_seconds)}s",
            "file_size": str(file_size),
            "model": model,
        },
        "type": "transcription.completed" if succeeded else "transcription.failed",
        "language": language,
        "audio_duration": audio_duration,
        "results": results,
        "error": None if succeeded else {"code": error_code, "message": error_message},
    }
