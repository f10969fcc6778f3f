"""EC2 worker launcher: GPU workers on spot instances, started from a launch template.

Implements the WorkerLauncher port for the aws shape. Two modes:

- pooled (default): a launch only when the running and pending workers cannot absorb the
  queue; each worker takes one job at a time and exits after an idle period.
- one instance per job (the seed's): each queued job gets its own instance, tagged with
  the job id and named in its UserData, as the seed's process_upload Lambda did.

With launch slots (dynamodb_slots.py, as every deployment wires it), MaxWorkers is a hard
cap: each launch takes a slot before RunInstances and gives it back if nothing started,
so launchers racing each other (process-upload invocations, the API, the janitor) never
start more workers than that, whatever DescribeInstances shows them.

Every launch tries spot first (instance types in order, each in every configured subnet),
then, if allowed, the same types on-demand. The worker reads its configuration from the
environment that the UserData script exports, so the UserData must never carry a secret:
anyone allowed DescribeInstanceAttribute can read it.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from swescribe.adapters.aws.ec2_workers import (
    CAPACITY_ERRORS,
    JOB_TAG,
    LIVE_STATES,
    ON_DEMAND,
    SERVICE_TAG,
    SPOT,
    WORKER_NAME,
    LaunchPlan,
    LaunchSlots,
    WorkerInstance,
    worker_instance_from,
)
from swescribe.adapters.aws.errors import AWS_ERRORS, aws_step, error_code, service_failure
from swescribe.adapters.aws.userdata import render_user_data
from swescribe.core.errors import SwescribeError
from swescribe.core.jobs import Job, results_prefix

log = logging.getLogger(__name__)

__all__ = ["CapacityUnavailable", "Ec2Launcher"]


class CapacityUnavailable(SwescribeError):
    """No instance type, market or subnet had capacity for a worker."""

    code = "capacity_unavailable"

    def __init__(self, message: str, tried: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.tried = tried


@dataclass(frozen=True)
class _Candidate:
    """One way to place a worker: instance type, market, subnet (None: the template's)."""

    instance_type: str
    market: str
    subnet_id: str | None

    def describe(self) -> str:
        where = f" in {self.subnet_id}" if self.subnet_id else ""
        return f"{self.instance_type} {self.market}{where}"


def _candidates(plan: LaunchPlan) -> list[_Candidate]:
    """Spot first: each type in order, in each subnet; then the same again on-demand."""
    markets = (SPOT, ON_DEMAND) if plan.on_demand_fallback else (SPOT,)
    subnets: tuple[str | None, ...] = plan.subnet_ids or (None,)
    return [
        _Candidate(instance_type, market, subnet)
        for market in markets
        for instance_type in plan.instance_types
        for subnet in subnets
    ]


class Ec2Launcher:
    """Implements WorkerLauncher by starting EC2 instances from a launch template."""

    def __init__(self, client: Any, plan: LaunchPlan, slots: LaunchSlots | None = None) -> None:
        """slots None: the count comes from DescribeInstances alone, which holds only while
        one launcher runs at a time (tests, a single `swescribe serve`)."""
        self.client = client
        self.plan = plan
        self.slots = slots

    # -- the port ---------------------------------------------------------------------------

    def ensure_capacity(self, demand: int, job: Job | None = None) -> list[str]:
        """Start workers if the running ones cannot absorb `demand` jobs; ids started.

        Raises CapacityUnavailable when a worker is needed and no candidate had capacity
        (in pooled mode only when not even one of the needed workers could start).
        """
        job_id = job.job_id if job else None
        with aws_step("DescribeInstances (workers running)", job_id):
            workers = self.list_workers()
        active = [worker for worker in workers if worker.active]
        held = len(active)
        if self.slots is not None:
            with aws_step("launch slots (reconcile)", job_id):
                report = self.slots.reconcile(workers, terminated=self.terminated_among)
                held = max(held, report.held)
        if self.plan.instance_per_job:
            return self._ensure_for_job(job, active, held)
        return self._ensure_pool(demand, active, held)

    def list_workers(self) -> list[WorkerInstance]:
        """This deployment's instances in every state but terminated, oldest first."""
        filters = [
            {"Name": f"tag:{SERVICE_TAG}", "Values": [self.plan.service]},
            {"Name": "instance-state-name", "Values": list(LIVE_STATES)},
        ]
        workers = [
            worker_instance_from(raw)
            for page in self.client.get_paginator("describe_instances").paginate(Filters=filters)
            for reservation in page.get("Reservations", [])
            for raw in reservation.get("Instances", [])
        ]
        return sorted(workers, key=lambda worker: (worker.launch_time, worker.instance_id))

    def terminated_among(self, instance_ids: list[str]) -> set[str]:
        """Those of instance_ids that EC2 reports terminated (list_workers leaves them out)."""
        filters = [
            {"Name": "instance-id", "Values": instance_ids},
            {"Name": "instance-state-name", "Values": ["terminated"]},
        ]
        return {
            str(raw["InstanceId"])
            for page in self.client.get_paginator("describe_instances").paginate(Filters=filters)
            for reservation in page.get("Reservations", [])
            for raw in reservation.get("Instances", [])
        }

    # -- modes ------------------------------------------------------------------------------

    def _ensure_pool(self, demand: int, active: list[WorkerInstance], held: int) -> list[str]:
        """held: workers running or being launched (slots held), at least len(active)."""
        missing = min(self.plan.max_instances, demand) - held
        if missing <= 0:
            return []
        log.info(
            "launching workers",
            extra={
                "demand": demand,
                "active_workers": len(active),
                "slots_held": held,
                "launching": missing,
            },
        )
        refused: dict[_Candidate, str] = {}
        started: list[str] = []
        for _ in range(missing):
            try:
                instance_id = self._launch_in_slot(None, refused)
            except CapacityUnavailable:
                if not started:
                    raise
                log.warning(
                    "fewer workers started than needed",
                    extra={"started": len(started), "wanted": missing},
                )
                break
            if instance_id is None:
                log.info(
                    "every launch slot is taken",
                    extra={"started": len(started), "max_instances": self.plan.max_instances},
                )
                break
            started.append(instance_id)
        return started

    def _ensure_for_job(
        self, job: Job | None, active: list[WorkerInstance], held: int
    ) -> list[str]:
        if job is None:
            return []
        mine = [worker.instance_id for worker in active if worker.job_id == job.job_id]
        if mine:
            log.info(
                "a worker for this job is already up",
                extra={"job_id": job.job_id, "instance_id": mine[0]},
            )
            return []
        instance_id = None
        if held < self.plan.max_instances:
            instance_id = self._launch_in_slot(job, {})
        if instance_id is None:
            log.info(
                "job waits in the queue for a busy worker",
                extra={
                    "job_id": job.job_id,
                    "active_workers": len(active),
                    "max_instances": self.plan.max_instances,
                },
            )
            return []
        return [instance_id]

    # -- one launch -------------------------------------------------------------------------

    def _launch_in_slot(self, job: Job | None, refused: dict[_Candidate, str]) -> str | None:
        """One worker in a launch slot of its own; None when every slot is taken.

        The slot goes back if nothing started. If naming the instance in its slot fails,
        the launch stands: the janitor's reconciliation settles the slot later."""
        if self.slots is None:
            return self._launch(job, refused)
        job_id = job.job_id if job else None
        with aws_step("launch slot (take)", job_id):
            slot_id = self.slots.take(self.plan.max_instances)
        if slot_id is None:
            return None
        try:
            instance_id = self._launch(job, refused)
        except BaseException:
            try:
                self.slots.give_back(slot_id)
            except AWS_ERRORS as error:  # the reconciliation frees it after LAUNCH_SECONDS
                log.warning(
                    "could not give a launch slot back",
                    extra={"job_id": job_id, "error_code": error_code(error)},
                )
            raise
        try:
            self.slots.bind(slot_id, instance_id)
        except AWS_ERRORS as error:
            log.warning(
                "could not name the launched worker in its slot",
                extra={
                    "job_id": job_id,
                    "instance_id": instance_id,
                    "error_code": error_code(error),
                },
            )
        return instance_id

    def _launch(self, job: Job | None, refused: dict[_Candidate, str]) -> str:
        """Start one worker on the first candidate with capacity; its instance id.

        refused collects the candidates that said no, so later launches in the same call
        skip them.
        """
        user_data = render_user_data(
            self._env_for(job),
            self.plan.worker_command,
            shutdown_on_exit=self.plan.shutdown_on_exit,
        )
        tags = self._tag_specifications(job)
        request_id = uuid.uuid4().hex
        for candidate in _candidates(self.plan):
            if candidate in refused:
                continue
            try:
                instance = self._run(
                    candidate, user_data, tags, self._token(job, candidate, request_id)
                )
            except AWS_ERRORS as error:
                code = error_code(error)
                if code not in CAPACITY_ERRORS:
                    step = f"RunInstances ({candidate.describe()})"
                    raise service_failure(error, step, job.job_id if job else None) from error
                refused[candidate] = code
                log.warning(
                    "no capacity for a worker",
                    extra={
                        "job_id": job.job_id if job else None,
                        "instance_type": candidate.instance_type,
                        "market": candidate.market,
                        "subnet_id": candidate.subnet_id,
                        "error_code": code,
                    },
                )
                continue
            instance_id = str(instance["InstanceId"])
            log.info(
                "worker launched",
                extra={
                    "job_id": job.job_id if job else None,
                    "instance_id": instance_id,
                    "instance_type": candidate.instance_type,
                    "market": candidate.market,
                    "subnet_id": candidate.subnet_id,
                    "refusals": len(refused),
                },
            )
            return instance_id
        tried = tuple(f"{c.describe()} ({code})" for c, code in refused.items())
        log.error(
            "capacity unavailable for a worker",
            extra={"job_id": job.job_id if job else None, "tried": "; ".join(tried)},
        )
        raise CapacityUnavailable(
            "no capacity for a GPU worker; tried " + "; ".join(tried), tried=tried
        )

    def _run(
        self,
        candidate: _Candidate,
        user_data: str,
        tags: list[dict[str, Any]],
        client_token: str,
    ) -> Mapping[str, Any]:
        params: dict[str, Any] = {
            "LaunchTemplate": {"LaunchTemplateName": self.plan.launch_template},
            "InstanceType": candidate.instance_type,
            "MinCount": 1,
            "MaxCount": 1,
            "UserData": user_data,  # boto3 base64-encodes it for RunInstances
            "TagSpecifications": tags,
            "ClientToken": client_token,
            "InstanceInitiatedShutdownBehavior": "terminate",
        }
        if candidate.market == SPOT:
            params["InstanceMarketOptions"] = {
                "MarketType": "spot",
                "SpotOptions": {
                    "SpotInstanceType": "one-time",
                    "InstanceInterruptionBehavior": "terminate",
                },
            }
        if candidate.subnet_id:
            params["SubnetId"] = candidate.subnet_id
        response = self.client.run_instances(**params)
        instance: Mapping[str, Any] = response["Instances"][0]
        return instance

    def _env_for(self, job: Job | None) -> dict[str, str]:
        """The seed's UserData (job id, input, output) for a per-job worker, then worker_env.

        A pooled worker takes whatever is queued, so naming one job in it would mislead.
        """
        env: dict[str, str] = {}
        if job is not None and self.plan.instance_per_job:
            env["SWESCRIBE_JOB_ID"] = job.job_id
            if job.s3_key:
                env["SWESCRIBE_S3_INPUT"] = f"s3://{self.plan.bucket}/{job.s3_key}"
            env["SWESCRIBE_S3_OUTPUT"] = f"s3://{self.plan.bucket}/{results_prefix(job.job_id)}"
        for name, value in self.plan.worker_env.items():
            env.setdefault(name, value)
        return env

    def _tag_specifications(self, job: Job | None) -> list[dict[str, Any]]:
        tags = [
            {"Key": "Name", "Value": WORKER_NAME},
            {"Key": SERVICE_TAG, "Value": self.plan.service},
        ]
        if job is not None and self.plan.instance_per_job:
            tags.append({"Key": JOB_TAG, "Value": job.job_id})
        return [
            {"ResourceType": resource, "Tags": list(tags)} for resource in ("instance", "volume")
        ]

    def _token(self, job: Job | None, candidate: _Candidate, request_id: str) -> str:
        """The RunInstances ClientToken (at most 64 ASCII characters).

        Per-job mode: derived from the launch request (job id, attempts, the updated_at of
        the launching transition) and the candidate, so a repeated request for the same job
        state (a duplicate event, a retried Lambda) gets the instance already started instead
        of a second one, while a job re-queued later (new updated_at) gets a fresh worker.
        The candidate is part of it because EC2 rejects a reused token with other parameters.
        Pooled mode: unique per call; the launch count already comes from what is running.
        """
        if job is not None and self.plan.instance_per_job:
            basis: Iterable[str] = (
                job.job_id,
                str(job.attempts),
                job.updated_at.astimezone(UTC).isoformat(),
            )
        else:
            basis = (request_id,)
        parts = (*basis, candidate.market, candidate.instance_type, candidate.subnet_id or "")
        digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
        return f"swescribe-{digest[:48]}"
