"""LiveModels (engine/live): a session names only a model the operator offers, and
nothing is loaded for one that is refused."""

from __future__ import annotations

from typing import Any

import pytest

from swescribe.core.errors import UnknownModel
from swescribe.engine.live import LiveModels
from swescribe.engine.live_ports import LiveOptions


def never_load(name: str) -> Any:
    raise AssertionError(f"{name} was loaded for a refused session")


def test_a_model_that_is_not_offered_is_refused_before_anything_loads() -> None:
    models = LiveModels(never_load, "whisper-base", ("whisper-base",))
    with pytest.raises(UnknownModel, match="not offered"):
        models.open(LiveOptions(model="kb-whisper-large"), lambda event: None)
    with pytest.raises(UnknownModel):
        models.open(LiveOptions(model="/etc"), lambda event: None)
