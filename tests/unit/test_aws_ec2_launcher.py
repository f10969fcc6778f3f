"""The EC2 worker launcher against in-process moto: UserData, pooled and per-job launches,
spot with capacity fallback (capacity errors injected at the AWS client boundary)."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import given
from hypothesis import strategies as st

from swescribe.adapters.aws.clients import client as aws_client
from swescribe.adapters.aws.ec2_launcher import CapacityUnavailable, Ec2Launcher
from swescribe.adapters.aws.ec2_workers import (
    JOB_TAG,
    SERVICE_TAG,
    LaunchPlan,
)
from swescribe.adapters.aws.userdata import (
    MAX_USER_DATA_BYTES,
    parse_user_data,
    render_user_data,
)
from swescribe.bootstrap_aws import plan_from_settings
from swescribe.config import Settings
from swescribe.core.errors import ServiceFailure, SwescribeError
from swescribe.core.jobs import Job, JobStatus
from tests.support import fake_aws

REGION = "eu-north-1"
TEMPLATE = "swescribe-worker"
BUCKET = "transcription-curevo"
WORKER_ENV = {
    "SWESCRIBE_BACKEND": "aws",
    "SWESCRIBE_QUEUE_URL": "https://sqs.eu-north-1.amazonaws.com/123456789012/swescribe-work",
    "SWESCRIBE_TABLE": "transcription-jobs",
    "SWESCRIBE_BUCKET": BUCKET,
    "SWESCRIBE_MODEL": "kb-whisper-small",
    "AWS_REGION": REGION,
    "SWESCRIBE_WORKER_IDLE_SECONDS": "300.0",
}
T0 = datetime(2024, 12, 1, 14, 30, 22, tzinfo=UTC)


def linux_image(ec2: Any) -> str:
    """An image id from moto's stock AMIs (filtered: listing all 1,282 takes a second)."""
    images = ec2.describe_images(Filters=[{"Name": "name", "Values": ["amzn2-ami-hvm-*"]}])
    image_id: str = images["Images"][0]["ImageId"]
    return image_id


@pytest.fixture
def ec2(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A moto EC2 client with the worker launch template in it (a real image id)."""
    with fake_aws(monkeypatch, REGION):
        client = aws_client("ec2", REGION)
        image_id = linux_image(client)
        client.create_launch_template(
            LaunchTemplateName=TEMPLATE,
            LaunchTemplateData={"ImageId": image_id, "MetadataOptions": {"HttpTokens": "required"}},
        )
        yield client


def make_plan(**overrides: Any) -> LaunchPlan:
    values: dict[str, Any] = {
        "launch_template": TEMPLATE,
        "instance_types": ("g4dn.xlarge", "g5.xlarge"),
        "max_instances": 3,
        "worker_env": WORKER_ENV,
        "bucket": BUCKET,
    }
    values.update(overrides)
    return LaunchPlan(**values)


def make_job(job_id: str = "abc123", attempts: int = 0, updated_at: datetime = T0) -> Job:
    return Job(
        job_id=job_id,
        owner="key1",
        status=JobStatus.LAUNCHING,
        created_at=T0,
        updated_at=updated_at,
        s3_key=f"transcription_upload/{job_id}/audio.mp3",
        attempts=attempts,
    )


def instances(ec2: Any, **filters: list[str]) -> list[dict[str, Any]]:
    """Every instance moto knows (all states unless filtered), newest reservations last."""
    names = [{"Name": name.replace("_", "-"), "Values": values} for name, values in filters.items()]
    pages = ec2.get_paginator("describe_instances").paginate(Filters=names)
    return [i for page in pages for r in page["Reservations"] for i in r["Instances"]]


def tags_of(resource: dict[str, Any]) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in resource.get("Tags", [])}


def user_data_of(ec2: Any, instance_id: str) -> str:
    attribute = ec2.describe_instance_attribute(InstanceId=instance_id, Attribute="userData")
    return base64.b64decode(attribute["UserData"]["Value"]).decode("utf-8")


def capacity_error(code: str = "InsufficientInstanceCapacity") -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "We currently do not have sufficient capacity."}},
        "RunInstances",
    )


class RefusingEc2:
    """The moto client, except that RunInstances fails where `refuse` names an error code.

    refuse gets (instance type, "spot"|"on-demand", subnet id or None) and returns an AWS
    error code to raise, or None to let moto launch. Records every attempt, the parameters
    sent, and the ids moto started.
    """

    def __init__(self, inner: Any, refuse: Callable[[str, str, str | None], str | None]) -> None:
        self.inner = inner
        self.refuse = refuse
        self.attempts: list[tuple[str, str, str | None]] = []
        self.sent: list[dict[str, Any]] = []
        self.launched: list[str] = []

    def run_instances(self, **params: Any) -> Any:
        market = "spot" if "InstanceMarketOptions" in params else "on-demand"
        attempt = (params["InstanceType"], market, params.get("SubnetId"))
        self.attempts.append(attempt)
        self.sent.append(params)
        code = self.refuse(*attempt)
        if code is not None:
            raise capacity_error(code)
        response = self.inner.run_instances(**params)
        self.launched.append(response["Instances"][0]["InstanceId"])
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


# --- UserData ------------------------------------------------------------------------------


def test_user_data_round_trips_quotes_spaces_newlines_and_non_ascii() -> None:
    env = {
        "PLAIN": "kb-whisper-small",
        "EMPTY": "",
        "QUOTES": 'it\'s "quoted" and `ticked` $HOME $(rm -rf /)',
        "SPACES": "  leading and trailing  ",
        "NEWLINES": "line one\nexport INJECTED=1\n# not a comment\r\n",
        "SWEDISH": "Åsa räknar öar på Öland",
        "HASH": "#!/bin/bash",
        "BACKSLASH": "C:\\path\\",
    }
    script = render_user_data(env, "/bin/true")
    assert parse_user_data(script) == env
    assert "INJECTED" not in parse_user_data(script)


_names = st.from_regex(r"[A-Z_][A-Z0-9_]{0,30}", fullmatch=True)
_values = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)))


@given(env=st.dictionaries(_names, _values, max_size=8), shutdown=st.booleans())
def test_user_data_parse_inverts_render_for_any_values(env: dict[str, str], shutdown: bool) -> None:
    assert parse_user_data(render_user_data(env, "/bin/true", shutdown_on_exit=shutdown)) == env


def test_user_data_is_a_bash_script_that_runs_the_worker_then_shuts_down() -> None:
    script = render_user_data({"SWESCRIBE_JOB_ID": "abc123"}, "/opt/python worker.py")
    assert script.startswith("#!/bin/bash\n")
    assert "set -euo pipefail\n" in script
    assert "export SWESCRIBE_JOB_ID=abc123\n" in script
    assert "/opt/python worker.py >>/var/log/swescribe-worker.log 2>&1 || status=$?" in script
    assert script.rstrip().endswith("shutdown -h now")


def test_user_data_without_shutdown_execs_the_worker() -> None:
    script = render_user_data({}, "/opt/python worker.py", shutdown_on_exit=False)
    assert script.rstrip().endswith(
        "exec /opt/python worker.py >>/var/log/swescribe-worker.log 2>&1"
    )
    assert "shutdown" not in script


@pytest.mark.parametrize("name", ["lower", "1LEADING_DIGIT", "HAS-DASH", "SPACE NAME", "", "A=B"])
def test_user_data_rejects_names_that_are_not_environment_variables(name: str) -> None:
    with pytest.raises(ValueError, match="not a valid environment variable name"):
        render_user_data({name: "x"}, "/bin/true")


def test_user_data_rejects_nul_and_oversized_scripts() -> None:
    with pytest.raises(ValueError, match="NUL"):
        render_user_data({"A": "x\x00y"}, "/bin/true")
    with pytest.raises(ValueError, match="16384"):
        render_user_data({"BIG": "x" * MAX_USER_DATA_BYTES}, "/bin/true")


def test_launch_plan_refuses_invalid_environment_names_and_empty_types() -> None:
    with pytest.raises(ValueError, match="environment variable names"):
        make_plan(worker_env={"bad-name": "x"})
    with pytest.raises(ValueError, match="instance type"):
        make_plan(instance_types=())


def test_plan_from_settings_gives_the_worker_the_settings_it_reads_back() -> None:
    settings = Settings(
        backend="aws",
        queue_url="https://sqs.example/work",
        webhook_queue_url="https://sqs.example/webhooks",
        model="kb-whisper-small",
        aws_region=REGION,
        worker_idle_seconds=120.0,
        instance_types=("g4dn.xlarge", "g5.xlarge"),
        subnet_ids=("subnet-a",),
        max_instances=7,
        instance_per_job=True,
        on_demand_fallback=False,
    )
    plan = plan_from_settings(settings)
    assert plan.launch_template == "swescribe-worker"
    assert plan.instance_types == ("g4dn.xlarge", "g5.xlarge")
    assert plan.subnet_ids == ("subnet-a",)
    assert (plan.max_instances, plan.instance_per_job, plan.on_demand_fallback) == (7, True, False)
    assert plan.bucket == "transcription-curevo"
    assert plan.worker_env["SWESCRIBE_BACKEND"] == "aws"
    assert all(plan.worker_env.values()), "empty settings are left out"
    assert "SWESCRIBE_PUBLIC_URL" not in plan.worker_env

    seen_by_worker = Settings.from_env(dict(plan.worker_env))
    for name in (
        "backend",
        "queue_url",
        "webhook_queue_url",
        "table",
        "bucket",
        "model",
        "aws_region",
        "worker_idle_seconds",
        "lease_seconds",
        "heartbeat_seconds",
        "language",
        "max_upload_bytes",
    ):
        assert getattr(seen_by_worker, name) == getattr(settings, name), name
    assert seen_by_worker.dev_mode is False


# --- what a launch looks like in EC2 --------------------------------------------------------


def test_per_job_launch_is_a_spot_instance_from_the_template_with_tags_and_seed_user_data(
    ec2: Any,
) -> None:
    launcher = Ec2Launcher(ec2, make_plan(instance_per_job=True))
    [instance_id] = launcher.ensure_capacity(1, make_job("abc123"))

    [instance] = instances(ec2, instance_id=[instance_id])
    assert instance["InstanceType"] == "g4dn.xlarge"
    assert instance["InstanceLifecycle"] == "spot"
    template = ec2.describe_launch_templates(LaunchTemplateNames=[TEMPLATE])["LaunchTemplates"][0]
    tags = tags_of(instance)
    assert tags["aws:ec2launchtemplate:id"] == template["LaunchTemplateId"]
    assert tags["Name"] == "swescribe-worker"
    assert tags[SERVICE_TAG] == "swescribe"
    assert tags[JOB_TAG] == "abc123"
    volumes = ec2.describe_volumes(
        Filters=[{"Name": "attachment.instance-id", "Values": [instance_id]}]
    )["Volumes"]
    assert volumes
    assert all(tags_of(v)[JOB_TAG] == "abc123" for v in volumes)
    shutdown = ec2.describe_instance_attribute(
        InstanceId=instance_id, Attribute="instanceInitiatedShutdownBehavior"
    )
    assert shutdown["InstanceInitiatedShutdownBehavior"]["Value"] == "terminate"

    exported = parse_user_data(user_data_of(ec2, instance_id))
    assert exported["SWESCRIBE_JOB_ID"] == "abc123"
    assert (
        exported["SWESCRIBE_S3_INPUT"]
        == "s3://transcription-curevo/transcription_upload/abc123/audio.mp3"
    )
    assert exported["SWESCRIBE_S3_OUTPUT"] == "s3://transcription-curevo/results/abc123/"
    for name, value in WORKER_ENV.items():
        assert exported[name] == value


def test_run_instances_request_asks_for_one_time_spot_terminated_on_interruption(
    ec2: Any,
) -> None:
    # moto keeps only the market type, so the request itself is checked at the client.
    recording = RefusingEc2(ec2, lambda *_: None)
    Ec2Launcher(recording, make_plan(instance_per_job=True)).ensure_capacity(1, make_job())

    [params] = recording.sent
    assert params["InstanceMarketOptions"] == {
        "MarketType": "spot",
        "SpotOptions": {
            "SpotInstanceType": "one-time",
            "InstanceInterruptionBehavior": "terminate",
        },
    }
    assert params["LaunchTemplate"] == {"LaunchTemplateName": TEMPLATE}
    assert (params["MinCount"], params["MaxCount"]) == (1, 1)
    assert 0 < len(params["ClientToken"]) <= 64
    assert params["ClientToken"].isascii()


# --- pooled mode ---------------------------------------------------------------------------


def test_pooled_mode_launches_only_missing_workers_and_caps_at_max_instances(ec2: Any) -> None:
    launcher = Ec2Launcher(ec2, make_plan(max_instances=3))

    assert launcher.ensure_capacity(0) == []
    assert len(launcher.ensure_capacity(1)) == 1
    assert launcher.ensure_capacity(1) == [], "the running worker absorbs one queued item"
    assert len(launcher.ensure_capacity(2)) == 1
    assert len(launcher.ensure_capacity(10)) == 1, "only up to max_instances"
    assert launcher.ensure_capacity(10) == []

    workers = launcher.list_workers()
    assert len(workers) == 3
    assert all(worker.job_id is None for worker in workers)


def test_pooled_mode_launches_several_at_once_when_the_queue_is_deep(ec2: Any) -> None:
    launcher = Ec2Launcher(ec2, make_plan(max_instances=4))
    started = launcher.ensure_capacity(3, make_job())
    assert len(started) == 3
    assert len(set(started)) == 3
    assert {w.instance_id for w in launcher.list_workers()} == set(started)


def test_pooled_workers_name_no_job_but_get_the_worker_environment(ec2: Any) -> None:
    launcher = Ec2Launcher(ec2, make_plan())
    [instance_id] = launcher.ensure_capacity(1, make_job("abc123"))
    exported = parse_user_data(user_data_of(ec2, instance_id))
    assert "SWESCRIBE_JOB_ID" not in exported
    assert exported == WORKER_ENV
    [instance] = instances(ec2, instance_id=[instance_id])
    assert JOB_TAG not in tags_of(instance)


def test_pooled_mode_replaces_a_worker_that_is_gone(ec2: Any) -> None:
    launcher = Ec2Launcher(ec2, make_plan(max_instances=2))
    first, second = launcher.ensure_capacity(2)
    ec2.terminate_instances(InstanceIds=[first])

    [replacement] = launcher.ensure_capacity(2)
    assert replacement not in (first, second)
    active = {w.instance_id for w in launcher.list_workers() if w.active}
    assert active == {second, replacement}


def test_pooled_mode_keeps_the_workers_it_started_when_capacity_runs_out(ec2: Any) -> None:
    def refuse_after_first(instance_type: str, market: str, subnet: str | None) -> str | None:
        return "InsufficientInstanceCapacity" if client.launched else None

    client = RefusingEc2(ec2, refuse_after_first)
    launcher = Ec2Launcher(client, make_plan(max_instances=3, on_demand_fallback=False))
    started = launcher.ensure_capacity(3)
    assert started == client.launched
    assert len(started) == 1
    # The second launch went through every candidate once, then it stopped: no third try.
    assert client.attempts[1:] == [("g4dn.xlarge", "spot", None), ("g5.xlarge", "spot", None)]


# --- one instance per job ------------------------------------------------------------------


def test_per_job_mode_launches_one_tagged_instance_per_job(ec2: Any) -> None:
    launcher = Ec2Launcher(ec2, make_plan(instance_per_job=True, max_instances=5))
    a = launcher.ensure_capacity(1, make_job("job-a"))
    b = launcher.ensure_capacity(2, make_job("job-b"))
    assert len(a) == len(b) == 1
    by_job = {w.job_id: w.instance_id for w in launcher.list_workers()}
    assert by_job == {"job-a": a[0], "job-b": b[0]}


def test_per_job_mode_does_not_launch_twice_for_the_same_job(ec2: Any) -> None:
    launcher = Ec2Launcher(ec2, make_plan(instance_per_job=True))
    job = make_job("abc123")
    first = launcher.ensure_capacity(1, job)
    assert Ec2Launcher(ec2, make_plan(instance_per_job=True)).ensure_capacity(1, job) == []
    assert [w.instance_id for w in launcher.list_workers()] == first


def test_per_job_client_token_repeats_for_the_same_launch_request_only(ec2: Any) -> None:
    """EC2 answers a repeated ClientToken with the instance it already started; moto does
    not, so the token itself is compared: same job state -> same token, requeued -> new."""
    launcher = Ec2Launcher(ec2, make_plan(instance_per_job=True))
    job = make_job("abc123")
    [first] = launcher.ensure_capacity(1, job)
    ec2.terminate_instances(InstanceIds=[first])  # let the per-job guard pass again
    [again] = launcher.ensure_capacity(1, job)
    requeued = make_job("abc123", attempts=1, updated_at=T0 + timedelta(minutes=5))
    ec2.terminate_instances(InstanceIds=[again])
    [later] = launcher.ensure_capacity(1, requeued)

    token = {i["InstanceId"]: i["ClientToken"] for i in instances(ec2)}
    assert token[first] == token[again]
    assert token[later] != token[first]


def test_per_job_mode_leaves_the_job_queued_when_max_instances_are_busy(
    ec2: Any, caplog: pytest.LogCaptureFixture
) -> None:
    launcher = Ec2Launcher(ec2, make_plan(instance_per_job=True, max_instances=1))
    assert len(launcher.ensure_capacity(1, make_job("job-a"))) == 1
    with caplog.at_level(logging.INFO, logger="swescribe.adapters.aws.ec2_launcher"):
        assert launcher.ensure_capacity(2, make_job("job-b")) == []
    [waiting] = [r for r in caplog.records if "waits in the queue" in r.getMessage()]
    assert waiting.__dict__["job_id"] == "job-b"
    assert waiting.__dict__["active_workers"] == 1
    assert len(launcher.list_workers()) == 1


def test_per_job_mode_without_a_job_launches_nothing(ec2: Any) -> None:
    launcher = Ec2Launcher(ec2, make_plan(instance_per_job=True))
    assert launcher.ensure_capacity(5) == []
    assert instances(ec2) == []


# --- capacity fallback ---------------------------------------------------------------------


def refuse_pairs(*refused: tuple[str, str]) -> Callable[[str, str, str | None], str | None]:
    def refuse(instance_type: str, market: str, subnet: str | None) -> str | None:
        return "InsufficientInstanceCapacity" if (instance_type, market) in refused else None

    return refuse


def test_spot_refusal_moves_on_to_the_next_instance_type(
    ec2: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client = RefusingEc2(ec2, refuse_pairs(("g4dn.xlarge", "spot")))
    with caplog.at_level(logging.INFO, logger="swescribe.adapters.aws.ec2_launcher"):
        [instance_id] = Ec2Launcher(client, make_plan()).ensure_capacity(1)

    [instance] = instances(ec2, instance_id=[instance_id])
    assert (instance["InstanceType"], instance["InstanceLifecycle"]) == ("g5.xlarge", "spot")
    assert client.attempts == [("g4dn.xlarge", "spot", None), ("g5.xlarge", "spot", None)]
    [refusal] = [r for r in caplog.records if r.getMessage() == "no capacity for a worker"]
    assert refusal.__dict__["error_code"] == "InsufficientInstanceCapacity"
    assert refusal.__dict__["instance_type"] == "g4dn.xlarge"
    [chosen] = [r for r in caplog.records if r.getMessage() == "worker launched"]
    assert chosen.__dict__["instance_type"] == "g5.xlarge"
    assert chosen.__dict__["market"] == "spot"


def test_spot_refusal_in_one_subnet_tries_the_next_subnet_before_the_next_type(
    ec2: Any,
) -> None:
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]][:2]

    def refuse(instance_type: str, market: str, subnet: str | None) -> str | None:
        return "InsufficientInstanceCapacity" if subnet == subnets[0] else None

    client = RefusingEc2(ec2, refuse)
    [instance_id] = Ec2Launcher(client, make_plan(subnet_ids=tuple(subnets))).ensure_capacity(1)
    [instance] = instances(ec2, instance_id=[instance_id])
    assert (instance["InstanceType"], instance["SubnetId"]) == ("g4dn.xlarge", subnets[1])
    assert client.attempts == [
        ("g4dn.xlarge", "spot", subnets[0]),
        ("g4dn.xlarge", "spot", subnets[1]),
    ]


def test_every_spot_type_refused_falls_back_to_on_demand_in_type_order(ec2: Any) -> None:
    client = RefusingEc2(ec2, refuse_pairs(("g4dn.xlarge", "spot"), ("g5.xlarge", "spot")))
    [instance_id] = Ec2Launcher(client, make_plan()).ensure_capacity(1)
    [instance] = instances(ec2, instance_id=[instance_id])
    assert instance["InstanceType"] == "g4dn.xlarge"
    assert "InstanceLifecycle" not in instance, "on-demand"
    assert client.attempts[-1] == ("g4dn.xlarge", "on-demand", None)
    [worker] = Ec2Launcher(ec2, make_plan()).list_workers()
    assert worker.lifecycle == "on-demand"


@pytest.mark.parametrize(
    "code",
    [
        "InsufficientInstanceCapacity",
        "MaxSpotInstanceCountExceeded",
        "SpotMaxPriceTooLow",
        "InsufficientHostCapacity",
        "InsufficientCapacity",
        "Unsupported",
        "UnfulfillableCapacity",
        "VcpuLimitExceeded",
        "InstanceLimitExceeded",
        "InsufficientFreeAddressesInSubnet",
        "PendingVerification",
    ],
)
def test_everything_refused_raises_capacity_unavailable_listing_what_was_tried(
    ec2: Any, code: str
) -> None:
    client = RefusingEc2(ec2, lambda *_: code)
    with pytest.raises(CapacityUnavailable) as raised:
        Ec2Launcher(client, make_plan(instance_per_job=True)).ensure_capacity(1, make_job())
    error = raised.value
    assert isinstance(error, SwescribeError)
    assert error.code == "capacity_unavailable"
    assert len(error.tried) == 4
    for described in ("g4dn.xlarge spot", "g5.xlarge spot", "g4dn.xlarge on-demand"):
        assert described in str(error)
    assert code in str(error)
    assert instances(ec2) == []


def test_without_on_demand_fallback_spot_refusal_is_final(ec2: Any) -> None:
    client = RefusingEc2(ec2, refuse_pairs(("g4dn.xlarge", "spot"), ("g5.xlarge", "spot")))
    with pytest.raises(CapacityUnavailable):
        Ec2Launcher(client, make_plan(on_demand_fallback=False)).ensure_capacity(1)
    assert [market for _, market, _ in client.attempts] == ["spot", "spot"]


def test_an_error_that_is_not_about_capacity_is_a_service_failure_without_other_tries(
    ec2: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client = RefusingEc2(ec2, lambda *_: "UnauthorizedOperation")
    with pytest.raises(ServiceFailure) as raised:
        Ec2Launcher(client, make_plan(instance_per_job=True)).ensure_capacity(1, make_job("j-7"))
    assert isinstance(raised.value.__cause__, ClientError)
    assert "UnauthorizedOperation" in str(raised.value)
    assert len(client.attempts) == 1
    (record,) = [r for r in caplog.records if r.getMessage() == "aws call failed"]
    assert (record.job_id, record.error_code) == ("j-7", "UnauthorizedOperation")


def test_a_missing_launch_template_is_reported_by_ec2_not_retried(ec2: Any) -> None:
    with pytest.raises(ServiceFailure) as raised:
        Ec2Launcher(ec2, make_plan(launch_template="no-such-template")).ensure_capacity(1)
    assert "InvalidLaunchTemplateName.NotFoundException" in str(raised.value)


# --- list_workers --------------------------------------------------------------------------


def test_list_workers_reports_this_services_live_instances_for_the_janitor(ec2: Any) -> None:
    image_id = linux_image(ec2)
    ec2.run_instances(ImageId=image_id, MinCount=1, MaxCount=1)  # not a swescribe worker
    other = Ec2Launcher(ec2, make_plan(service="other-deployment"))
    other.ensure_capacity(1)
    launcher = Ec2Launcher(ec2, make_plan(instance_per_job=True))
    [kept] = launcher.ensure_capacity(1, make_job("job-a"))
    [gone] = launcher.ensure_capacity(1, make_job("job-b"))
    ec2.terminate_instances(InstanceIds=[gone])
    before = datetime.now(UTC) - timedelta(minutes=5)

    [worker] = launcher.list_workers()
    assert worker.instance_id == kept
    assert worker.state in ("pending", "running")
    assert worker.active
    assert worker.instance_type == "g4dn.xlarge"
    assert worker.lifecycle == "spot"
    assert worker.job_id == "job-a"
    assert worker.launch_time.tzinfo is not None
    assert worker.launch_time.utcoffset() == timedelta(0)
    assert worker.launch_time > before
