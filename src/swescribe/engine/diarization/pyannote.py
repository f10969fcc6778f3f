"""pyannote.audio's speaker-diarization pipeline behind the Diarizer port.

Loaded from a baked directory (`<model dir>/pyannote/speaker-diarization-community-1`,
which `build_ami.sh --diarization pyannote` puts in the GPU AMI's /opt/swescribe/models:
no hub, no token), else from the Hugging Face cache (HF_HOME) or the hub with an access
token. pyannote.audio and torch are imported only here, and only when this model is
asked for (`pip install 'swescribe[diarize]'`). The pipeline sees the whole file at
once, so its session keeps the windows' samples (float32: 230 MB an hour), unlike the
offline model, which keeps only embeddings.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from swescribe.core.errors import ModelUnavailable
from swescribe.core.transcript import SpeakerTurn
from swescribe.engine.audio import SAMPLE_RATE
from swescribe.engine.diarization.clustering import SpeakerCount
from swescribe.engine.diarization.turns import join_turns

PYANNOTE_PIPELINE = "pyannote/speaker-diarization-community-1"
"""pyannote.audio 4's open pipeline (CC-BY-4.0, gated: accept its conditions on the hub
with the account whose token is given)."""


class PyannoteDiarizer:
    name = f"pyannote:{PYANNOTE_PIPELINE}"

    def __init__(self, pipeline: Any) -> None:
        self._pipeline = pipeline
        self.warning: str | None = None

    @classmethod
    def load(
        cls, token: str, device: str, allow_download: bool, model_dirs: Sequence[Path] = ()
    ) -> PyannoteDiarizer:
        # pyannote.audio 4 sends usage metrics to pyannoteAI unless told not to: a service
        # keeps its jobs to itself (PYANNOTE_METRICS_ENABLED=1 turns them back on).
        os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "0")
        try:
            import torch
            from pyannote.audio import Pipeline
        except ImportError:
            raise ModelUnavailable(
                "pyannote.audio is not installed (pip install 'swescribe[diarize]')"
            ) from None
        offline = not allow_download or os.environ.get("HF_HUB_OFFLINE", "") in ("1", "true")
        if not token and not offline:
            # The pipeline is gated: without a token only a cached copy can load.
            offline = True
        baked = baked_pipeline(model_dirs)
        try:
            if baked is not None:
                pipeline = Pipeline.from_pretrained(str(baked))
            else:
                pipeline = _from_pretrained(Pipeline, token or None, local_only=offline)
        except Exception as error:  # any hub, cache or version failure: not available here
            where = (
                f"from {baked}"
                if baked is not None
                else "in the local Hugging Face cache"
                if offline
                else "from the Hugging Face hub"
            )
            hint = "" if token else " (set SWESCRIBE_HF_TOKEN to download it)"
            raise ModelUnavailable(
                f"{PYANNOTE_PIPELINE} could not be loaded {where}{hint}: "
                f"{type(error).__name__}: {error}"
            ) from error
        if pipeline is None:  # pyannote.audio returns None when the token has no access
            raise ModelUnavailable(
                f"{PYANNOTE_PIPELINE} refused the token: accept its conditions on the hub"
            )
        if device == "cuda" and torch.cuda.is_available():
            pipeline.to(torch.device("cuda"))
        return cls(pipeline)

    def session(self) -> _PyannoteSession:
        return _PyannoteSession(self._pipeline)


def baked_pipeline(model_dirs: Sequence[Path]) -> Path | None:
    """The first model directory holding the pipeline's files (its config.yaml, with the
    segmentation, embedding and PLDA models beside it), as the AMI bakes them."""
    for directory in model_dirs:
        candidate = Path(directory) / PYANNOTE_PIPELINE
        if (candidate / "config.yaml").is_file():
            return candidate
    return None


def _from_pretrained(pipeline_class: Any, token: str | None, local_only: bool) -> Any:
    if local_only:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:  # pyannote.audio 4
        return pipeline_class.from_pretrained(PYANNOTE_PIPELINE, token=token)
    except TypeError:  # pyannote.audio 3 names it use_auth_token
        return pipeline_class.from_pretrained(PYANNOTE_PIPELINE, use_auth_token=token)


@dataclass
class _PyannoteSession:
    pipeline: Any
    chunks: list[np.ndarray] = field(default_factory=list)

    def add(self, offset: float, samples: np.ndarray) -> None:
        self.chunks.append(np.asarray(samples, dtype=np.float32).copy())

    def finish(self, count: SpeakerCount | None = None) -> list[SpeakerTurn]:
        import torch

        if not self.chunks:
            return []
        waveform = torch.from_numpy(np.concatenate(self.chunks))[None, :]
        self.chunks = []
        count = count or SpeakerCount()
        output = self.pipeline(
            {"waveform": waveform, "sample_rate": SAMPLE_RATE},
            num_speakers=count.exact,
            min_speakers=count.minimum,
            max_speakers=count.maximum,
        )
        annotation = getattr(output, "exclusive_speaker_diarization", None) or getattr(
            output, "speaker_diarization", output
        )
        return join_turns(
            SpeakerTurn(float(segment.start), float(segment.end), str(label))
            for segment, _, label in annotation.itertracks(yield_label=True)
        )
