"""Redaction asked for where a client asks: the job field on /v1/jobs (true or kinds),
the OpenAI form's extension field, and `swescribe redact` on a stored transcript."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from swescribe.api import ApiContext, create_app
from swescribe.cli.main import cli
from swescribe.core.apikeys import ApiKey
from swescribe.core.redaction import REDACTION_KINDS
from swescribe.core.request import parse_redact
from swescribe.core.services import Policy, Services
from swescribe.core.transcript import Segment, Transcript, Word
from swescribe.engine import render
from tests.fakes import memory_services

AUTH = {"Authorization": "Bearer sws_good"}


class OneKey:
    def authenticate(self, presented: str) -> ApiKey | None:
        now = memory_services().clock.now()
        return ApiKey("k1", "test", now) if presented == "sws_good" else None


def client_of(svc: Services) -> TestClient:
    return TestClient(create_app(ApiContext(svc=svc, keys=OneKey())))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("asked", "kinds"),
    [
        (True, list(REDACTION_KINDS)),
        (["phone", "iban", "phone"], ["phone", "account"]),
        (False, []),
    ],
)
def test_a_job_takes_redact_as_true_or_kinds_and_shows_it(asked: Any, kinds: list[str]) -> None:
    http = client_of(memory_services())
    created = http.post("/v1/jobs", headers=AUTH, json={"redact": asked})
    assert created.status_code == 201, created.text
    job = http.get(f"/v1/jobs/{created.json()['job_id']}", headers=AUTH).json()
    assert job["redact"] == kinds


def test_a_job_asking_for_an_unknown_kind_is_refused_with_a_reason() -> None:
    refused = client_of(memory_services()).post(
        "/v1/jobs", headers=AUTH, json={"redact": ["personnummer", "shoe_size"]}
    )
    assert refused.status_code in (400, 422)
    assert "shoe_size" in refused.text


def test_the_openai_form_takes_redact_as_an_extension_field() -> None:
    svc = memory_services(Policy(sync_max_bytes=1000, sync_timeout_seconds=0.2))
    http = client_of(svc)
    files = {"file": ("a.wav", b"RIFF")}
    bad = http.post("/v1/audio/transcriptions", headers=AUTH, files=files, data={"redact": "x"})
    assert bad.status_code == 400
    assert bad.json()["error"]["param"] == "redact"
    http.post("/v1/audio/transcriptions", headers=AUTH, files=files, data={"redact": "phone"})
    (job,) = svc.jobs.list_jobs("k1").jobs
    assert job.request.redact == ("phone",)


def test_redact_as_text_means_all_none_or_a_comma_list() -> None:
    assert parse_redact("true") == parse_redact("all") == REDACTION_KINDS
    assert parse_redact("false") == parse_redact("") == parse_redact(None) == ()
    assert parse_redact("e-post,email, name") == ("email", "name")


def stored_transcript(tmp_path: Path) -> Path:
    words = tuple(
        Word(0.5 * i, 0.5 * i + 0.4, f" {token}", 0.9)
        for i, token in enumerate(
            ["Ring", "Karin", "på", "070-123", "45", "67", "eller", "811218-9876"]
        )
    )
    text = "".join(w.word for w in words)
    segment = Segment(0, 0.0, 5.0, text, words)
    transcript = Transcript(text.strip(), "sv", 5.0, (segment,), "kb-whisper-small")
    path = tmp_path / "samtal.json"
    path.write_text(render(transcript, "json"), encoding="utf-8")
    return path


def test_swescribe_redact_writes_every_format_of_a_stored_transcript_redacted(
    tmp_path: Path,
) -> None:
    source = stored_transcript(tmp_path)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["redact", str(source), "--format", "all", "-o", str(out), "-q"]
    )
    assert result.exit_code == 0, result.output
    for fmt in ("txt", "json", "srt", "vtt"):
        written = (out / f"samtal.{fmt}").read_text(encoding="utf-8")
        assert "9876" not in written, fmt
        assert "45 67" not in written, fmt
        assert "Karin" not in written, fmt
        assert "[TELEFON]" in written, fmt
    data = json.loads((out / "samtal.json").read_text(encoding="utf-8"))
    assert [r["kind"] for r in data["redactions"]] == ["name", "phone", "personnummer"]


def test_swescribe_redact_takes_kinds_and_refuses_to_overwrite_its_source(
    tmp_path: Path,
) -> None:
    source = stored_transcript(tmp_path)
    only = CliRunner().invoke(
        cli, ["redact", str(source), "--kinds", "phone", "-o", str(tmp_path / "o"), "-q"]
    )
    assert only.exit_code == 0, only.output
    written = (tmp_path / "o" / "samtal.txt").read_text(encoding="utf-8")
    assert "[TELEFON]" in written
    assert "811218-9876" in written
    same = CliRunner().invoke(
        cli, ["redact", str(source), "--format", "json", "-o", str(tmp_path), "-q"]
    )
    assert same.exit_code != 0
    assert "811218-9876" in source.read_text(encoding="utf-8")
