"""Launch slots (adapters/aws/dynamodb_slots.py) with the EC2 launcher, on in-process moto:
taken before RunInstances, given back when nothing started, freed when the instance
ends, and reconciled with the instances that exist (never below the running ones)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from swescribe.adapters.aws.clients import client as aws_client
from swescribe.adapters.aws.dynamodb_jobs import DynamoJobStore, create_jobs_table
from swescribe.adapters.aws.dynamodb_slots import (
    LAUNCH_SECONDS,
    SLOTS_KEY,
    VISIBILITY_SECONDS,
    DynamoLaunchSlots,
)
from swescribe.adapters.aws.ec2_launcher import CapacityUnavailable, Ec2Launcher
from tests.support import fake_aws
from tests.unit.test_aws_ec2_launcher import (
    REGION,
    T0,
    TEMPLATE,
    RefusingEc2,
    linux_image,
    make_job,
    make_plan,
)

TABLE = "transcription-jobs"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:
    """(ec2, dynamodb) moto clients: the worker launch template and the jobs table."""
    with fake_aws(monkeypatch, REGION):
        ec2 = aws_client("ec2", REGION)
        ec2.create_launch_template(
            LaunchTemplateName=TEMPLATE, LaunchTemplateData={"ImageId": linux_image(ec2)}
        )
        dynamodb = aws_client("dynamodb", REGION)
        create_jobs_table(dynamodb, TABLE)
        yield ec2, dynamodb


def active_ids(ec2: Any) -> set[str]:
    pages = ec2.get_paginator("describe_instances").paginate(
        Filters=[{"Name": "instance-state-name", "Values": ["pending", "running"]}]
    )
    return {i["InstanceId"] for page in pages for r in page["Reservations"] for i in r["Instances"]}


def test_slots_are_conditional_the_limit_holds_and_a_freed_one_can_be_taken(
    aws: tuple[Any, Any],
) -> None:
    slots = DynamoLaunchSlots(aws[1], TABLE)
    first, second = slots.take(2), slots.take(2)
    assert first
    assert second
    assert first != second
    assert slots.take(2) is None
    assert slots.take(0) is None
    slots.give_back(first)
    assert slots.take(2) is not None
    assert len(slots.held()) == 2


def test_a_slot_comes_back_when_its_worker_ends(aws: tuple[Any, Any]) -> None:
    ec2, dynamodb = aws
    slots = DynamoLaunchSlots(dynamodb, TABLE)
    launcher = Ec2Launcher(ec2, make_plan(max_instances=2), slots)
    first, second = launcher.ensure_capacity(5)
    assert set(slots.held()) == {first, second}, "each slot names its instance"
    assert launcher.ensure_capacity(5) == []

    ec2.terminate_instances(InstanceIds=[first])  # the worker's self-termination
    [replacement] = launcher.ensure_capacity(5)
    assert set(slots.held()) == {second, replacement}
    assert active_ids(ec2) == {second, replacement}


def test_a_launch_that_started_nothing_gives_its_slot_back(aws: tuple[Any, Any]) -> None:
    ec2, dynamodb = aws
    slots = DynamoLaunchSlots(dynamodb, TABLE)
    refusing = RefusingEc2(ec2, lambda *_: "InsufficientInstanceCapacity")
    launcher = Ec2Launcher(refusing, make_plan(max_instances=1), slots)
    with pytest.raises(CapacityUnavailable):
        launcher.ensure_capacity(1)
    assert slots.held() == {}
    refusing.refuse = lambda *_: None
    assert len(launcher.ensure_capacity(1)) == 1, "the slot was free for the next launch"


def test_per_job_mode_waits_for_a_slot_held_by_a_launch_still_running(
    aws: tuple[Any, Any],
) -> None:
    """Another launcher took the only slot and has not started its instance yet: nothing
    is visible in DescribeInstances, and still this job waits."""
    ec2, dynamodb = aws
    slots = DynamoLaunchSlots(dynamodb, TABLE)
    assert slots.take(1) is not None
    launcher = Ec2Launcher(ec2, make_plan(instance_per_job=True, max_instances=1), slots)
    assert launcher.ensure_capacity(1, make_job("job-b")) == []
    assert active_ids(ec2) == set()


def test_reconcile_frees_leaked_and_ended_slots_and_never_goes_below_the_running_workers(
    aws: tuple[Any, Any],
) -> None:
    ec2, dynamodb = aws
    clock = Clock(T0)
    slots = DynamoLaunchSlots(dynamodb, TABLE, clock)
    older_release = Ec2Launcher(ec2, make_plan(max_instances=3))  # launches without slots
    running, ending, unslotted = older_release.ensure_capacity(3)
    for instance_id in (running, ending):
        slots.bind(slots.take(9) or "", instance_id)
    crashed = slots.take(9)  # a launcher that died before RunInstances answered
    slots.bind(slots.take(9) or "", "i-0gone")  # EC2 shows it nowhere (yet, or any more)
    ec2.terminate_instances(InstanceIds=[ending])

    clock.now = T0 + timedelta(seconds=min(LAUNCH_SECONDS, VISIBILITY_SECONDS) - 1)
    young = slots.reconcile(older_release.list_workers(), terminated=older_release.terminated_among)
    assert young.freed == [ending], "terminated: freed at once; the rest may be young"
    assert young.adopted == [unslotted], "a running worker without a slot gets one"
    assert set(slots.held()) == {running, crashed, "i-0gone", unslotted}

    clock.now = T0 + timedelta(seconds=max(LAUNCH_SECONDS, VISIBILITY_SECONDS))
    old = slots.reconcile(older_release.list_workers(), terminated=older_release.terminated_among)
    assert sorted(old.freed) == sorted([crashed, "i-0gone"])
    assert set(slots.held()) == {running, unslotted}, "never below the running workers"
    assert old.held == 2


def test_a_dry_run_reconciliation_changes_nothing(aws: tuple[Any, Any]) -> None:
    clock = Clock(T0)
    slots = DynamoLaunchSlots(aws[1], TABLE, clock)
    leaked = slots.take(3)
    clock.now = T0 + timedelta(seconds=LAUNCH_SECONDS)
    report = slots.reconcile([], dry_run=True)
    assert report.freed == [leaked]
    assert list(slots.held()) == [leaked]


def test_the_slots_item_is_no_job_to_the_job_store(aws: tuple[Any, Any]) -> None:
    dynamodb = aws[1]
    assert DynamoLaunchSlots(dynamodb, TABLE).take(1) is not None
    store = DynamoJobStore(dynamodb, TABLE)
    store.create(make_job("abc123"))
    assert store.get(SLOTS_KEY) is None
    assert [job.job_id for job in store.list_jobs(None).jobs] == ["abc123"]
    assert store.delete(SLOTS_KEY) is False
