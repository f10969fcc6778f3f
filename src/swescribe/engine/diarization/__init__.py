"""Speaker diarization: who spoke when, as turns laid onto the transcript.

Two models behind one small port (`Diarizer`): the offline default, Resemblyzer's GE2E
speaker encoder run in numpy over Silero VAD's speech (embedding.py, ge2e.py), and
pyannote.audio's pipeline from the Hugging Face hub (pyannote.py) where it can be had.
models.py picks one by name, as engine/models.py does for Whisper.
"""

from swescribe.core.transcript import SpeakerTurn
from swescribe.engine.diarization.clustering import SpeakerCount
from swescribe.engine.diarization.models import (
    DIARIZATION_MODELS,
    OFFLINE_DIARIZER,
    PYANNOTE_PIPELINE,
    DiarizationSession,
    Diarizer,
    DiarizerSpec,
    load_diarizer,
)

__all__ = [
    "DIARIZATION_MODELS",
    "OFFLINE_DIARIZER",
    "PYANNOTE_PIPELINE",
    "DiarizationSession",
    "Diarizer",
    "DiarizerSpec",
    "SpeakerCount",
    "SpeakerTurn",
    "load_diarizer",
]
