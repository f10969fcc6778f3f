"""The janitor's instance sweep against in-process moto: idle workers are marked, then
ended after the grace period; busy ones, young ones and a worker that just took a job
are left alone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from swescribe.adapters.aws.clients import client as aws_client
from swescribe.adapters.aws.ec2_instance_sweep import sweep_instances
from swescribe.adapters.aws.ec2_launcher import Ec2Launcher
from swescribe.adapters.aws.ec2_workers import WorkerInstance
from tests.support import fake_aws
from tests.unit.test_aws_ec2_launcher import REGION, TEMPLATE, linux_image, make_plan

GRACE = 900.0


@pytest.fixture
def ec2(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with fake_aws(monkeypatch, REGION):
        client = aws_client("ec2", REGION)
        client.create_launch_template(
            LaunchTemplateName=TEMPLATE, LaunchTemplateData={"ImageId": linux_image(client)}
        )
        yield client


def started_workers(ec2: Any, count: int) -> tuple[Ec2Launcher, list[str]]:
    launcher = Ec2Launcher(ec2, make_plan(max_instances=count))
    return launcher, launcher.ensure_capacity(count)


def state_of(ec2: Any, instance_id: str) -> str:
    found = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    return str(found["State"]["Name"])


def first_look_time(workers: list[WorkerInstance]) -> Any:
    return max(worker.launch_time for worker in workers) + timedelta(seconds=GRACE + 1)


def test_an_idle_worker_is_marked_then_ended_and_a_busy_one_is_kept(ec2: Any) -> None:
    launcher, (idle, busy) = started_workers(ec2, 2)
    now = first_look_time(launcher.list_workers())

    first = sweep_instances(ec2, launcher.list_workers(), {busy}, GRACE, now)
    assert first.marked_idle == [idle]
    assert first.busy == [busy]
    assert first.terminated == []

    dry = sweep_instances(
        ec2, launcher.list_workers(), {busy}, GRACE, now + timedelta(seconds=GRACE), dry_run=True
    )
    assert dry.terminated == [idle]
    assert state_of(ec2, idle) == "running", "a dry run ends nothing"

    later = sweep_instances(
        ec2, launcher.list_workers(), {busy}, GRACE, now + timedelta(seconds=GRACE)
    )
    assert later.terminated == [idle]
    assert state_of(ec2, idle) in ("shutting-down", "terminated")
    assert state_of(ec2, busy) == "running"


def test_a_worker_that_took_a_job_since_the_first_read_is_not_ended(ec2: Any) -> None:
    launcher, (worker,) = started_workers(ec2, 1)
    now = first_look_time(launcher.list_workers())
    sweep_instances(ec2, launcher.list_workers(), set(), GRACE, now)
    report = sweep_instances(
        ec2,
        launcher.list_workers(),
        set(),  # idle when the sweep read the jobs ...
        GRACE,
        now + timedelta(seconds=GRACE),
        busy_now=lambda: {worker},  # ... busy by the time it would end it
    )
    assert report.terminated == []
    assert report.busy == [worker]
    assert state_of(ec2, worker) == "running"


def test_a_young_worker_is_left_to_boot(ec2: Any) -> None:
    launcher, _ = started_workers(ec2, 1)
    workers = launcher.list_workers()
    report = sweep_instances(ec2, workers, set(), GRACE, workers[0].launch_time)
    assert report.marked_idle == []
    assert report.terminated == []
