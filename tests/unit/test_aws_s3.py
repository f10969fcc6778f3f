"""The S3 object store on in-process moto: encryption on every write, streaming, presigning."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from swescribe.adapters.aws.s3 import S3ObjectStore
from swescribe.core.errors import JobNotFound, PayloadTooLarge
from tests.support import fake_aws

BUCKET = "transcription-curevo"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with fake_aws(monkeypatch):
        client = boto3.client("s3", region_name="eu-north-1")
        client.create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-north-1"}
        )
        yield client


def test_every_write_is_encrypted_with_aes256(s3: Any, tmp_path: Path) -> None:
    store = S3ObjectStore(s3, BUCKET)
    source = tmp_path / "a.wav"
    source.write_bytes(b"RIFF" + b"\0" * 100)
    store.put_bytes("results/j1/t.txt", b"hej", "text/plain; charset=utf-8")
    store.put_file("transcription_upload/j1/a.wav", source)
    store.put_stream("transcription_upload/j2/b.wav", io.BytesIO(b"x" * 10), max_bytes=10)
    for key in (
        "results/j1/t.txt",
        "transcription_upload/j1/a.wav",
        "transcription_upload/j2/b.wav",
    ):
        assert s3.head_object(Bucket=BUCKET, Key=key)["ServerSideEncryption"] == "AES256"
    assert s3.head_object(Bucket=BUCKET, Key="results/j1/t.txt")["ContentType"].startswith(
        "text/plain"
    )


def test_reads_downloads_listing_and_deleting_a_prefix(s3: Any, tmp_path: Path) -> None:
    store = S3ObjectStore(s3, BUCKET)
    for name in ("a.txt", "b.srt"):
        store.put_bytes(f"results/j1/{name}", name.encode())
    store.put_bytes("results/j10/c.txt", b"other job")
    assert store.get_bytes("results/j1/a.txt") == b"a.txt"
    assert b"".join(store.open_read("results/j1/b.srt")) == b"b.srt"
    assert store.download("results/j1/a.txt", tmp_path / "a.txt") == 5
    assert [o.key for o in store.list_objects("results/j1/")] == [
        "results/j1/a.txt",
        "results/j1/b.srt",
    ]
    assert store.exists("results/j1/a.txt")
    assert store.delete_prefix("results/j1/") == 2
    assert not store.exists("results/j1/a.txt")
    assert store.exists("results/j10/c.txt"), "a prefix ends at its slash"


def test_a_missing_object_is_not_found_not_a_botocore_error(s3: Any, tmp_path: Path) -> None:
    store = S3ObjectStore(s3, BUCKET)
    with pytest.raises(JobNotFound):
        store.get_bytes("results/none.txt")
    with pytest.raises(JobNotFound):
        store.open_read("results/none.txt")
    with pytest.raises(JobNotFound):
        store.download("results/none.txt", tmp_path / "x")
    assert not store.exists("results/none.txt")


def test_an_oversized_stream_is_refused_and_leaves_nothing(s3: Any) -> None:
    store = S3ObjectStore(s3, BUCKET)
    with pytest.raises(PayloadTooLarge):
        store.put_stream("transcription_upload/j1/big.wav", io.BytesIO(b"x" * 11), max_bytes=10)
    assert not store.exists("transcription_upload/j1/big.wav")


def test_a_named_upload_is_a_presigned_put_that_requires_encryption(s3: Any) -> None:
    target = S3ObjectStore(s3, BUCKET).upload_target(
        "transcription_upload/j1/", "../Min intervju.mp3", expires_in=600, max_bytes=1000
    )
    assert target.method == "PUT"
    assert "transcription_upload/j1/Min_intervju.mp3" in target.url
    assert "X-Amz-Expires=600" in target.url
    assert target.headers == {"x-amz-server-side-encryption": "AES256"}


def test_an_unnamed_upload_is_a_presigned_post_bounded_in_size_and_prefix(s3: Any) -> None:
    import base64
    import json

    target = S3ObjectStore(s3, BUCKET).upload_target(
        "transcription_upload/j1/", "", expires_in=600, max_bytes=1000
    )
    assert target.method == "POST"
    assert target.fields["key"] == "transcription_upload/j1/${filename}"
    policy = json.loads(base64.b64decode(target.fields["policy"]))
    conditions = policy["conditions"]
    assert ["content-length-range", 1, 1000] in conditions
    assert ["starts-with", "$key", "transcription_upload/j1/"] in conditions
    assert {"x-amz-server-side-encryption": "AES256"} in conditions


@pytest.mark.parametrize(
    ("name", "media_type"),
    [
        ("evil.html", "application/octet-stream"),
        ("evil.svg", "application/octet-stream"),
        ("möte.mp3", "audio/mpeg"),
    ],
)
def test_a_download_link_names_a_fixed_type_and_an_attachment_whatever_was_uploaded(
    s3: Any, name: str, media_type: str
) -> None:
    import urllib.parse

    import requests

    key = f"transcription_upload/j1/{name}"
    s3.put_object(
        Bucket=BUCKET, Key=key, Body=b"<script>alert(1)</script>", ContentType="text/html"
    )
    url = S3ObjectStore(s3, BUCKET).download_link(key, expires_in=600)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    assert query["response-content-type"] == [media_type]
    assert query["response-content-disposition"][0].startswith("attachment;")
    served = requests.get(url, timeout=10)  # moto answers as S3 would
    assert served.headers["content-type"] == media_type
    assert served.headers["content-disposition"].startswith("attachment;")


class Answering:
    """An S3 client whose chosen operation answers as given; the rest goes to moto."""

    def __init__(self, inner: Any, operation: str, answer: Any) -> None:
        self.inner, self.operation, self.answer = inner, operation, answer

    def __getattr__(self, name: str) -> Any:
        if name != self.operation:
            return getattr(self.inner, name)

        def answer(**kwargs: object) -> Any:
            if isinstance(self.answer, Exception):
                raise self.answer
            return self.answer

        return answer


def test_a_forbidden_head_reads_as_missing_as_s3_answers_without_list_permission(
    s3: Any,
) -> None:
    """S3 answers HeadObject on a missing key with 403 when the caller may not list there;
    the audio link of an expired upload is then a 404, not a 500."""
    forbidden = ClientError({"Error": {"Code": "403", "Message": "Forbidden"}}, "HeadObject")
    store = S3ObjectStore(Answering(s3, "head_object", forbidden), BUCKET)
    assert store.exists("transcription_upload/j/gone.wav") is False
    assert store.size("transcription_upload/j/gone.wav") is None


def test_size_is_one_head_request(s3: Any) -> None:
    store = S3ObjectStore(s3, BUCKET)
    store.put_bytes("transcription_upload/j/a.wav", b"12345")
    assert store.size("transcription_upload/j/a.wav") == 5
    assert store.size("transcription_upload/j/b.wav") is None


def test_objects_s3_refused_to_delete_are_an_error_not_a_silent_leftover(s3: Any) -> None:
    store = S3ObjectStore(s3, BUCKET)
    store.put_bytes("results/j/a.txt", b"x")
    refused = {"Deleted": [], "Errors": [{"Key": "results/j/a.txt", "Code": "AccessDenied"}]}
    with pytest.raises(ClientError, match="AccessDenied"):
        S3ObjectStore(Answering(s3, "delete_objects", refused), BUCKET).delete_prefix("results/j/")


def test_real_account_every_link_names_the_buckets_regional_endpoint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A new bucket outside us-east-1 answers its global name (<bucket>.s3.amazonaws.com)
    with a 307 for up to a day, which curl without -L and httpx do not follow: the upload
    silently goes nowhere. Every link the service hands out names the regional endpoint."""
    import urllib.parse

    from swescribe.adapters.aws.clients import client

    with fake_aws(monkeypatch):
        store = S3ObjectStore(client("s3", "eu-north-1"), BUCKET)
        links = {
            "put": store.upload_target("transcription_upload/j1/", "a.wav", 600, 1000).url,
            "post": store.upload_target("transcription_upload/j1/", "", 600, 1000).url,
            "get": store.download_link("transcription_upload/j1/a.wav", 600),
        }
    regional = f"{BUCKET}.s3.eu-north-1.amazonaws.com"
    assert {kind: urllib.parse.urlsplit(url).netloc for kind, url in links.items()} == {
        kind: regional for kind in links
    }
    assert all("X-Amz-Algorithm=AWS4-HMAC-SHA256" in links[kind] for kind in ("put", "get"))


def test_a_custom_endpoint_keeps_its_own_host_for_links(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto_server, LocalStack or MinIO on a host name: the link names that endpoint, not
    <bucket>.<endpoint host> (which would not resolve)."""
    import urllib.parse

    from swescribe.adapters.aws.clients import client

    with fake_aws(monkeypatch):
        monkeypatch.setenv("AWS_ENDPOINT_URL", "http://localhost:4566")
        url = S3ObjectStore(client("s3", "eu-north-1"), BUCKET).download_link("results/a", 60)
    assert urllib.parse.urlsplit(url).netloc == "localhost:4566"


def test_delete_removes_exactly_one_key(s3: Any) -> None:
    store = S3ObjectStore(s3, BUCKET)
    for key in ("transcription_upload/j1/a", "transcription_upload/j1/ab"):
        store.put_bytes(key, b"x")
    store.delete("transcription_upload/j1/a")
    store.delete("transcription_upload/j1/never-there")
    assert [o.key for o in store.list_objects("transcription_upload/j1/")] == [
        "transcription_upload/j1/ab"
    ]
