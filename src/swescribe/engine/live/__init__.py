"""Live transcription: the LiveTranscriber port (engine/live_ports.py) served by a real
model. A local-agreement policy over each turn's growing buffer (agreement.py), VAD turn
detection (turns.py), sessions (session.py), several sessions decoded in one batched call
(decoder.py) by one thread per loaded model (engine.py)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from swescribe.core.errors import UnknownModel
from swescribe.engine.live.agreement import LocalAgreement, TimedWord, trim_point
from swescribe.engine.live.engine import LiveEngine
from swescribe.engine.live.tuning import LiveTuning
from swescribe.engine.live.turns import SileroStream, TurnDetector, TurnEdge
from swescribe.engine.live_ports import LiveEventSink, LiveOptions, LiveSession

__all__ = [
    "LiveEngine",
    "LiveModels",
    "LiveTuning",
    "LocalAgreement",
    "SileroStream",
    "TimedWord",
    "TurnDetector",
    "TurnEdge",
    "trim_point",
]


class LiveModels:
    """Implements LiveTranscriber: sessions of each offered model served by that model's
    LiveEngine, made (and its model loaded) on the model's first session."""

    def __init__(
        self,
        load_model: Callable[[str], Any],
        default_model: str,
        offered_models: Sequence[str],
        tuning: LiveTuning | None = None,
    ) -> None:
        self._load_model = load_model
        self._default = default_model
        self._offered = frozenset(offered_models)
        self._tuning = tuning
        self._engines: dict[str, LiveEngine] = {}
        self._lock = threading.Lock()

    def open(self, options: LiveOptions, on_event: LiveEventSink) -> LiveSession:
        name = options.model or self._default
        if options.model is not None and name != self._default and name not in self._offered:
            offered = ", ".join(sorted(self._offered)) or "none"
            raise UnknownModel(f"model {name!r} is not offered here; offered: {offered}")
        with self._lock:
            engine = self._engines.get(name)
            if engine is None:
                engine = LiveEngine(lambda: self._load_model(name), self._tuning)
                self._engines[name] = engine
        return engine.open(options, on_event)
