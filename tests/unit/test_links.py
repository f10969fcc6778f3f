"""The links a job's audio is uploaded to and played back from (core/links.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from swescribe.core.errors import JobNotFound
from swescribe.core.intake import NewJob, create_job, get_job, handle_object_created
from swescribe.core.links import AUDIO_LINK_SECONDS, audio_link, upload_target
from swescribe.core.services import Policy, Services
from tests.fakes import memory_services


@pytest.fixture
def svc() -> Services:
    return memory_services(Policy(max_upload_bytes=1234))


def test_the_upload_target_is_the_jobs_prefix_within_the_policys_size(svc: Services) -> None:
    job = create_job(svc, "key1", NewJob())
    target = upload_target(svc, job)
    assert target.url == f"memory://{job.upload_prefix}"
    assert target.max_bytes == 1234
    assert upload_target(svc, job, "a.wav").url == f"memory://{job.upload_prefix}a.wav"


def test_the_audio_link_expires_an_hour_after_the_services_clock(svc: Services) -> None:
    job_id = create_job(svc, "key1", NewJob()).job_id
    key = f"transcription_upload/{job_id}/a.wav"
    svc.objects.put_bytes(key, b"RIFF")
    assert handle_object_created(svc, key, 4) == "launched"
    link = audio_link(svc, "key1", job_id)
    assert link.url == f"memory://{key}?expires_in={AUDIO_LINK_SECONDS}"
    assert link.expires_at == svc.clock.now() + timedelta(seconds=AUDIO_LINK_SECONDS)


def test_no_audio_link_for_another_owner_nor_for_a_job_without_stored_audio(
    svc: Services,
) -> None:
    job_id = create_job(svc, "key1", NewJob()).job_id
    with pytest.raises(JobNotFound, match="no stored audio"):
        audio_link(svc, "key1", job_id)
    key = f"transcription_upload/{job_id}/a.wav"
    svc.objects.put_bytes(key, b"RIFF")
    handle_object_created(svc, key, 4)
    with pytest.raises(JobNotFound):
        audio_link(svc, "key2", job_id)
    svc.objects.delete_prefix(get_job(svc, None, job_id).upload_prefix)
    with pytest.raises(JobNotFound, match="no stored audio"):
        audio_link(svc, "key1", job_id)
