"""The account the IAM tests run in: the stack's roles created from the template."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.deploy.iam_env import LAMBDA_ROLES, WORKER_ROLE, Account, deployed_account


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> Iterator[Account]:
    with deployed_account(monkeypatch) as deployed:
        for role in (*LAMBDA_ROLES, WORKER_ROLE):
            deployed.create_role(role)
        yield deployed
