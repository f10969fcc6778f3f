"""Device planning and option validation (no model needed)."""

from __future__ import annotations

import pytest

from swescribe.core.errors import InvalidOption
from swescribe.engine.device import cuda_available, plan_device, usable_cores
from swescribe.engine.transcriber import TranscribeOptions


def test_cpu_plan_uses_int8_and_every_usable_core() -> None:
    plan = plan_device("cpu")
    assert plan.device == "cpu"
    assert plan.compute_type == "int8"
    assert plan.cpu_threads == usable_cores()


def test_auto_picks_cpu_when_no_gpu_is_visible() -> None:
    if cuda_available():
        pytest.skip("a GPU is visible here")
    assert plan_device("auto").device == "cpu"


def test_explicit_threads_and_compute_type_are_kept() -> None:
    plan = plan_device("cpu", "float32", cpu_threads=1)
    assert (plan.compute_type, plan.cpu_threads) == ("float32", 1)


def test_unknown_device_and_missing_cuda_are_clear_errors() -> None:
    with pytest.raises(InvalidOption, match="unknown device"):
        plan_device("tpu")
    if not cuda_available():
        with pytest.raises(InvalidOption, match="no CUDA GPU"):
            plan_device("cuda")


def test_options_default_to_swedish_with_vad_and_beam_5() -> None:
    options = TranscribeOptions()
    assert (options.language, options.vad, options.beam_size) == ("sv", True, 5)


@pytest.mark.parametrize(
    "kwargs",
    [{"language": "svenska"}, {"language": "s1"}, {"beam_size": 0}, {"window_seconds": 5}],
)
def test_bad_options_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidOption):
        TranscribeOptions(**kwargs)  # type: ignore[arg-type]
