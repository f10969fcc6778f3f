"""The upload reservation as the upload endpoint uses it: one holder at a time, renewed
while bytes arrive, given back on failure, lapsing when its holder died."""

from __future__ import annotations

from typing import cast

import pytest

from swescribe.core.errors import TransitionConflict
from swescribe.core.intake import NewJob, create_job, handle_object_created
from swescribe.core.jobs import JobStatus
from swescribe.core.services import Services
from swescribe.core.uploads import (
    UPLOAD_LEASE_SECONDS,
    release_upload,
    renew_upload,
    reserve_upload,
)
from tests.fakes import FixedClock, memory_services


@pytest.fixture
def svc() -> Services:
    return memory_services()


def registered(svc: Services) -> str:
    return create_job(svc, "key1", NewJob()).job_id


def test_a_second_upload_while_one_streams_is_a_conflict_that_says_so(svc: Services) -> None:
    job_id = registered(svc)
    reserve_upload(svc, job_id)
    with pytest.raises(TransitionConflict, match=r"another upload .* is in progress"):
        reserve_upload(svc, job_id)


def test_a_finished_upload_leaves_the_job_launched_and_unreserved(svc: Services) -> None:
    job_id = registered(svc)
    reserve_upload(svc, job_id)
    assert handle_object_created(svc, f"transcription_upload/{job_id}/a.wav", 10) == "launched"
    job = svc.jobs.get(job_id)
    assert job is not None
    assert job.status is JobStatus.LAUNCHING
    assert job.upload_holder is None
    with pytest.raises(TransitionConflict, match="already has its audio"):
        reserve_upload(svc, job_id)


def test_a_failed_upload_gives_the_link_back_at_once(svc: Services) -> None:
    job_id = registered(svc)
    holder = reserve_upload(svc, job_id)
    release_upload(svc, job_id, holder)
    reserve_upload(svc, job_id)


def test_a_dead_holders_reservation_lapses_and_a_renewed_one_does_not(svc: Services) -> None:
    clock = cast(FixedClock, svc.clock)
    job_id = registered(svc)
    streaming = reserve_upload(svc, job_id)
    clock.advance(UPLOAD_LEASE_SECONDS - 1)
    renew_upload(svc, job_id, streaming)
    clock.advance(UPLOAD_LEASE_SECONDS - 1)
    with pytest.raises(TransitionConflict):
        reserve_upload(svc, job_id)
    clock.advance(1)  # the holder died: no renewal came
    retry = reserve_upload(svc, job_id)
    with pytest.raises(TransitionConflict):
        renew_upload(svc, job_id, streaming)
    release_upload(svc, job_id, streaming)  # too late to release another's: nothing happens
    job = svc.jobs.get(job_id)
    assert job is not None
    assert job.upload_holder == retry
