"""The condition keys of the worker role, which moto does not evaluate, checked here.

DynamoDB's fine-grained access control (the worker may name only the attributes in
``dynamodb:Attributes``, must project its reads, must not ask for whole items back) is
evaluated on every DynamoDB request the worker really makes in the IAM flow, as AWS
evaluates it: the attributes a request names are its key, its expression attribute names,
its item and its AttributesToGet; a read without a projection is Select ALL_ATTRIBUTES.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from swescribe.adapters.aws.clients import client
from swescribe.adapters.aws.dynamodb_jobs import DynamoJobStore
from swescribe.adapters.aws.dynamodb_worker_view import HIDDEN_FROM_WORKERS, WORKER_ATTRIBUTES
from swescribe.core.jobs import JobStatus
from tests.deploy import cfn
from tests.deploy.iam_env import TABLE, WORKER_ROLE, Account
from tests.deploy.iam_flow import StandInEngine, job, pump, register, run_worker, upload, workers
from tests.receiver import Receiver

Request = tuple[str, dict[str, Any]]
_READS = {"GetItem", "Query", "Scan", "BatchGetItem"}


def named_attributes(params: Mapping[str, Any]) -> set[str]:
    names = set(params.get("ExpressionAttributeNames", {}).values())
    names |= set(params.get("Key", {})) | set(params.get("Item", {}))
    names |= set(params.get("AttributesToGet", []))
    return names


def select_of(operation: str, params: Mapping[str, Any]) -> str | None:
    if operation not in _READS:
        return params.get("Select")
    if params.get("ProjectionExpression") or params.get("AttributesToGet"):
        return "SPECIFIC_ATTRIBUTES"
    return str(params.get("Select", "ALL_ATTRIBUTES"))


def refusals(document: Mapping[str, Any], requests: list[Request]) -> list[str]:
    """What AWS would refuse among requests, by the conditions of the document's DynamoDB
    statements (ForAllValues:StringEquals and StringEqualsIfExists, as the role uses)."""
    found = []
    for operation, params in requests:
        action = f"dynamodb:{operation}"
        allowing = [
            statement
            for statement in cfn.statements(document)
            if action in cfn.as_list(statement["Action"])
        ]
        assert allowing, f"{action} is not allowed at all"
        for statement in allowing:
            condition = statement.get("Condition", {})
            allowed = condition.get("ForAllValues:StringEquals", {}).get("dynamodb:Attributes")
            if allowed is not None and not named_attributes(params) <= set(allowed):
                extra = sorted(named_attributes(params) - set(allowed))
                found.append(f"{operation} names {extra}")
            if_exists = condition.get("StringEqualsIfExists", {})
            select = select_of(operation, params)
            wanted = if_exists.get("dynamodb:Select")
            if wanted is not None and select is not None and select not in cfn.as_list(wanted):
                found.append(f"{operation} with Select {select}")
            returned = params.get("ReturnValues")
            wanted = if_exists.get("dynamodb:ReturnValues")
            if wanted is not None and returned is not None and returned not in cfn.as_list(wanted):
                found.append(f"{operation} with ReturnValues {returned}")
            on_failure = params.get("ReturnValuesOnConditionCheckFailure")
            if allowed is not None and on_failure == "ALL_OLD":
                found.append(f"{operation} returning the whole old item on a failed condition")
    return found


def test_worker_attributes_are_every_job_attribute_but_the_callbacks(account: Account) -> None:
    (statement,) = [
        s
        for s in cfn.statements(account.policy(WORKER_ROLE))
        if "dynamodb:GetItem" in cfn.as_list(s["Action"])
    ]
    listed = statement["Condition"]["ForAllValues:StringEquals"]["dynamodb:Attributes"]
    assert listed == list(WORKER_ATTRIBUTES)
    assert not HIDDEN_FROM_WORKERS & set(listed)
    assert {"job_id", "owner", "status", "created_at"} <= set(listed), "every key attribute"


def test_iam_worker_requests_pass_the_roles_attribute_conditions(account: Account) -> None:
    receiver = Receiver("s").start()
    try:
        seen: list[Request] = []
        for midway in (False, True):  # completes; gives the job back on a spot notice
            job_id = register(account, receiver.url)
            upload(account, job_id)
            assert pump(account, "UploadEventsQueue")["batchItemFailures"] == []
            instance_id = workers(account)[-1]
            run_worker(account, instance_id, StandInEngine(midway), seen)
            assert job(account, job_id).status is (
                JobStatus.LAUNCHING if midway else JobStatus.COMPLETED
            )
    finally:
        receiver.stop()
    assert {operation for operation, _ in seen} == {"GetItem", "UpdateItem"}
    assert refusals(account.policy(WORKER_ROLE), seen) == []


def test_iam_conditions_refuse_a_worker_reading_whole_jobs(account: Account) -> None:
    """The store every other component uses would be refused to the worker: its reads
    return callback_url and callback_secret."""
    from tests.deploy.iam_env import recording

    job_id = register(account, "https://example.com/hook")
    with account.acting_as(WORKER_ROLE, {}), recording("dynamodb") as seen:
        DynamoJobStore(client("dynamodb", cfn.REGION), TABLE).get(job_id)
    assert refusals(account.policy(WORKER_ROLE), seen) == ["GetItem with Select ALL_ATTRIBUTES"]


def test_a_worker_may_terminate_only_the_instance_it_runs_on(account: Account) -> None:
    (statement,) = [
        s
        for s in cfn.statements(account.policy(WORKER_ROLE))
        if "ec2:TerminateInstances" in cfn.as_list(s["Action"])
    ]
    expected = f"arn:aws:ec2:{cfn.REGION}:{cfn.ACCOUNT_ID}:instance/${{ec2:InstanceID}}"
    assert statement["Condition"]["ArnEquals"] == {"ec2:SourceInstanceARN": expected}
