"""The job state machine: the conditions of status changes come from ALLOWED_TRANSITIONS,
and every status change the service functions make is one the table allows."""

from __future__ import annotations

from typing import cast, get_type_hints

import pytest

from swescribe.core.intake import NewJob, create_job
from swescribe.core.intake import handle_object_created as uploaded_event
from swescribe.core.job_sweep import sweep_jobs
from swescribe.core.jobs import ALLOWED_TRANSITIONS, Job, JobChanges, JobStatus, sources_of
from swescribe.core.ports import Expect, Message, WorkItem
from swescribe.core.processing import Outcome, claim_job, complete_job, fail_job, release_job
from swescribe.core.services import Policy
from tests.fakes import FixedClock, MemoryJobStore, memory_services

TABLE = {(source, target) for source, targets in ALLOWED_TRANSITIONS.items() for target in targets}


@pytest.mark.parametrize("target", list(JobStatus))
def test_a_transitions_condition_is_every_state_the_table_allows_it_from(
    target: JobStatus,
) -> None:
    expect = Expect.transition(target, worker_id="w1")
    assert expect.statuses == sources_of(target)
    assert expect.statuses == {s for s, t in TABLE if t is target}
    assert expect.worker_id == "w1"


def test_a_transition_from_one_state_must_be_in_the_table() -> None:
    expect = Expect.transition(JobStatus.LAUNCHING, source=JobStatus.PROCESSING)
    assert expect.statuses == {JobStatus.PROCESSING}
    with pytest.raises(ValueError, match="no transition completed -> processing"):
        Expect.transition(JobStatus.PROCESSING, source=JobStatus.COMPLETED)
    with pytest.raises(ValueError, match="no transition registered -> completed"):
        Expect.transition(JobStatus.COMPLETED, source=JobStatus.REGISTERED)


def test_a_finished_job_never_changes_status_again() -> None:
    assert not ALLOWED_TRANSITIONS[JobStatus.COMPLETED]
    assert not ALLOWED_TRANSITIONS[JobStatus.FAILED]
    assert set(ALLOWED_TRANSITIONS) == set(JobStatus)


def test_the_service_makes_every_transition_in_the_table_and_no_other() -> None:
    """Each way a job moves, driven through the service functions and the janitor; the
    fake store refuses a status change the table does not allow."""
    svc = memory_services(Policy(lease_seconds=60, max_wait_seconds=7200))
    clock = cast(FixedClock, svc.clock)

    def launched() -> str:
        job_id = create_job(svc, "k", NewJob()).job_id
        assert uploaded_event(svc, f"transcription_upload/{job_id}/a.wav", 1) == "launched"
        return job_id

    def claim(job_id: str, worker: str) -> Job | None:
        return claim_job(svc, Message(WorkItem("transcribe", job_id), "r", 1), worker).job

    done = launched()  # registered -> launching
    assert claim(done, "w1") is not None  # launching -> processing
    release_job(svc, done, "w1")  # processing -> launching (SIGTERM, spot notice)
    claim(done, "w1")
    clock.advance(61)
    assert claim(done, "w2") is not None  # processing -> processing (w1's lease ran out)
    complete_job(svc, done, "w2", Outcome("m", 1.0, 1.0, 1, {}))  # processing -> completed

    broken = launched()
    claim(broken, "w1")
    fail_job(svc, broken, "invalid_audio", "not audio", worker_id="w1")  # processing -> failed

    never_uploaded = create_job(svc, "k", NewJob()).job_id
    fail_job(svc, never_uploaded, "gone", "given up")  # registered -> failed

    lost, stale, waiting = launched(), launched(), launched()
    claim(lost, "w-lost")
    clock.advance(3600)  # lost's lease ran out; stale and waiting launching for an hour
    fail_job(svc, waiting, "x", "y")  # launching -> failed
    swept = sweep_jobs(svc, stale_after_seconds=1800)
    # lost: processing -> launching; stale: launching -> launching (its item requeued)
    assert sorted(swept.requeued) == sorted([lost, stale])

    made = cast(MemoryJobStore, svc.jobs).transitions
    assert set(made) <= TABLE
    assert set(made) == TABLE, f"never made: {TABLE - set(made)}"


def test_job_changes_name_every_field_but_the_fixed_four_with_jobs_types() -> None:
    job_types = get_type_hints(Job)
    change_types = get_type_hints(JobChanges)
    assert set(change_types) == set(job_types) - {"job_id", "owner", "created_at", "request"}
    # A store reads an UnreadableSecret (a sealed secret that will not open); none writes one.
    job_types["callback_secret"] = str | None
    assert {name: job_types[name] for name in change_types} == change_types
    assert not JobChanges.__required_keys__
