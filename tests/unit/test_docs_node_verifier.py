"""The Node webhook verifier printed in docs/api.md, run with node against real signatures."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from swescribe.webhooks.signing import signature_headers

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"
SECRET = "shared-secret-456"
BODY = '{"job_id":"abc123","status":"complete"}'

HARNESS = """
const cases = JSON.parse(process.argv[2]);
const out = cases.map(({ body, headers, secret }) => {
  const raw = Buffer.from(body);
  return [verifySeed(raw, headers, secret), verifyStandard(raw, headers, secret)];
});
console.log(JSON.stringify(out));
"""


def node_snippet() -> str:
    blocks = re.findall(r"```js\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 1, "docs/api.md has one Node verifier"
    return blocks[0]


def run_node(tmp_path: Path, cases: list[dict[str, Any]]) -> list[list[bool]]:
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI"):
            pytest.fail("node is not installed")
        pytest.skip("node is not installed")
    script = tmp_path / "verify.mjs"
    script.write_text(node_snippet() + HARNESS, encoding="utf-8")
    done = subprocess.run(
        [node, str(script), json.dumps(cases)], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def lower(headers: dict[str, str]) -> dict[str, str]:
    """Node's http module gives header names in lowercase."""
    return {name.lower(): value for name, value in headers.items()}


def test_the_documented_node_verifier_accepts_real_deliveries_and_refuses_bad_ones(
    tmp_path: Path,
) -> None:
    good = lower(signature_headers(SECRET, "msg_abc123_completed", BODY.encode()))
    stale = lower(
        signature_headers(SECRET, "msg_1", BODY.encode(), timestamp=int(time.time()) - 900)
    )
    cases = [
        {"body": BODY, "headers": good, "secret": SECRET},
        {"body": BODY.replace("complete", "failed"), "headers": good, "secret": SECRET},
        {"body": BODY, "headers": good, "secret": "another-secret"},
        {"body": BODY, "headers": stale, "secret": SECRET},
        {
            "body": BODY,
            "headers": {**good, "webhook-signature": "v1,ÅÄÖ-not-ascii"},
            "secret": SECRET,
        },
        {
            "body": BODY,
            "headers": {**good, "x-webhook-signature": "hmac-sha256=ö"},
            "secret": SECRET,
        },
        {
            "body": BODY,
            "headers": {"webhook-signature": good["webhook-signature"]},
            "secret": SECRET,
        },
    ]
    results = run_node(tmp_path, cases)
    assert results == [
        [True, True],  # a real delivery: both schemes verify
        [False, False],  # tampered body
        [False, False],  # wrong secret
        [True, False],  # stale: the seed HMAC cannot tell, the standard window refuses
        [True, False],  # a non-ASCII signature is a mismatch, not a crash
        [False, True],
        [False, False],  # no timestamp and no id: refused, not NaN-accepted
    ]
