"""Device planning and option validation (no model needed)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from swescribe.core.errors import InvalidOption
from swescribe.engine.device import cuda_available, plan_device, usable_cores
from swescribe.engine.options import TranscribeOptions


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


def test_options_extra_is_a_read_only_copy_of_what_was_given() -> None:
    given = {"max_passes": 1}
    options = TranscribeOptions(extra=given)
    given["max_passes"] = 5
    assert options.extra == {"max_passes": 1}
    with pytest.raises(TypeError):
        options.extra["temperature"] = 0.5  # type: ignore[index]
    assert TranscribeOptions().extra == {}
    assert TranscribeOptions(extra={"a": 1}) == TranscribeOptions(extra={"a": 1})


def test_decoded_ahead_closed_early_stops_its_thread_and_closes_the_source() -> None:
    import threading

    from swescribe.engine._decode_ahead import decoded_ahead

    closed = threading.Event()

    def windows() -> Iterator[int]:
        try:
            yield from range(100)
        finally:
            closed.set()

    ahead = decoded_ahead(windows())
    assert next(ahead) == 0
    ahead.close()  # as when a job is released mid-file
    assert closed.wait(5), "the source was left open"
    assert not any(t.name == "decode-ahead" and t.is_alive() for t in threading.enumerate())


def test_decoded_ahead_passes_items_in_order_and_raises_the_source_error() -> None:
    from swescribe.engine._decode_ahead import decoded_ahead

    def failing() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("broken file")

    ahead = decoded_ahead(failing())
    assert [next(ahead), next(ahead)] == [1, 2]
    with pytest.raises(ValueError, match="broken file"):
        next(ahead)
