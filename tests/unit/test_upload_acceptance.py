"""Which uploads the upload endpoint accepts, and what a finished or failed one leaves:
the rules in core/uploads.py, without HTTP."""

from __future__ import annotations

import pytest

from swescribe.core.errors import InvalidRequest, PayloadTooLarge, TransitionConflict
from swescribe.core.intake import NewJob, create_job, delete_job
from swescribe.core.jobs import JobStatus
from swescribe.core.services import Services
from swescribe.core.uploads import (
    Upload,
    abandon_upload,
    accept_upload,
    finish_upload,
    reserve_upload,
)
from tests.fakes import memory_services


@pytest.fixture
def svc() -> Services:
    return memory_services()


def registered(svc: Services) -> str:
    return create_job(svc, "key1", NewJob()).job_id


def test_a_prefix_link_takes_the_clients_file_name_made_safe() -> None:
    upload = accept_upload("transcription_upload/j1/", 100, filename="../möte 1.wav")
    assert upload.job_id == "j1"
    assert upload.key.startswith("transcription_upload/j1/")
    assert "/" not in upload.key.removeprefix("transcription_upload/j1/")
    assert upload.key.endswith(".wav")


def test_a_prefix_link_without_a_file_name_stores_the_file_as_audio() -> None:
    assert accept_upload("transcription_upload/j1/", 100).key == "transcription_upload/j1/audio"


def test_a_link_to_a_named_object_keeps_its_key_whatever_file_name_is_sent() -> None:
    upload = accept_upload("transcription_upload/j1/a.mp3", 100, filename="other.wav")
    assert upload == Upload(job_id="j1", key="transcription_upload/j1/a.mp3", max_bytes=100)


@pytest.mark.parametrize(
    "linked_key", ["results/j1/x.txt", "transcription_upload/j1", "elsewhere/"]
)
def test_a_link_outside_a_jobs_upload_prefix_is_refused(linked_key: str) -> None:
    with pytest.raises(InvalidRequest, match="does not name a job upload"):
        accept_upload(linked_key, 100, filename="a.wav")


def test_a_declared_size_over_the_limit_is_refused_before_a_byte_is_read() -> None:
    accept_upload("transcription_upload/j1/a.wav", 100, declared_size=100)
    with pytest.raises(PayloadTooLarge, match="limit of 100 bytes"):
        accept_upload("transcription_upload/j1/a.wav", 100, declared_size=101)


def test_bytes_past_the_limit_are_refused_as_they_arrive() -> None:
    upload = accept_upload("transcription_upload/j1/a.wav", 100)
    upload.check_size(100)
    with pytest.raises(PayloadTooLarge):
        upload.check_size(101)


def test_a_finished_upload_launches_its_job(svc: Services) -> None:
    job_id = registered(svc)
    upload = accept_upload(f"transcription_upload/{job_id}/", 100, filename="a.wav")
    reserve_upload(svc, job_id)
    svc.objects.put_bytes(upload.key, b"RIFF")
    assert finish_upload(svc, upload, 4) == "launched"
    job = svc.jobs.get(job_id)
    assert job is not None
    assert (job.status, job.s3_key, job.file_size) == (JobStatus.LAUNCHING, upload.key, 4)


def test_an_empty_upload_is_refused_and_the_link_stays_usable(svc: Services) -> None:
    job_id = registered(svc)
    upload = accept_upload(f"transcription_upload/{job_id}/a.wav", 100)
    holder = reserve_upload(svc, job_id)
    with pytest.raises(InvalidRequest, match="empty"):
        finish_upload(svc, upload, 0)
    abandon_upload(svc, upload, holder)
    reserve_upload(svc, job_id)  # free again


def test_an_upload_whose_job_was_deleted_meanwhile_is_a_conflict(svc: Services) -> None:
    job_id = registered(svc)
    upload = accept_upload(f"transcription_upload/{job_id}/a.wav", 100)
    holder = reserve_upload(svc, job_id)
    delete_job(svc, None, job_id)
    svc.objects.put_bytes(upload.key, b"RIFF")
    with pytest.raises(TransitionConflict, match="changed during the upload"):
        finish_upload(svc, upload, 4)
    abandon_upload(svc, upload, holder)
    assert not svc.objects.exists(upload.key), "the orphaned object is removed"


def test_abandoning_a_failed_upload_removes_its_object_and_frees_the_link(
    svc: Services,
) -> None:
    job_id = registered(svc)
    upload = accept_upload(f"transcription_upload/{job_id}/a.wav", 100)
    holder = reserve_upload(svc, job_id)
    svc.objects.put_bytes(upload.key, b"partial")
    abandon_upload(svc, upload, holder)
    assert not svc.objects.exists(upload.key)
    job = svc.jobs.get(job_id)
    assert job is not None
    assert (job.status, job.upload_holder) == (JobStatus.REGISTERED, None)


def test_abandoning_after_the_job_was_launched_keeps_its_audio(svc: Services) -> None:
    job_id = registered(svc)
    upload = accept_upload(f"transcription_upload/{job_id}/a.wav", 100)
    holder = reserve_upload(svc, job_id)
    svc.objects.put_bytes(upload.key, b"RIFF")
    finish_upload(svc, upload, 4)
    abandon_upload(svc, upload, holder)  # e.g. the client went away after the last byte
    assert svc.objects.exists(upload.key)
    job = svc.jobs.get(job_id)
    assert job is not None
    assert job.status is JobStatus.LAUNCHING
