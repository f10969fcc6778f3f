"""S3 object store: SSE-AES256 on every write, streamed transfers, presigned uploads."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from botocore.exceptions import ClientError

from swescribe.core.errors import JobNotFound, PayloadTooLarge
from swescribe.core.filenames import safe_filename
from swescribe.core.media import attachment, stored_media_type
from swescribe.core.ports import ObjectInfo, UploadTarget

SSE = "AES256"
CHUNK = 1 << 20


class _CappedReader:
    """A file object that refuses to yield more than max_bytes (size checked in flight)."""

    def __init__(self, stream: BinaryIO, max_bytes: int) -> None:
        self.stream = stream
        self.max_bytes = max_bytes
        self.read_bytes = 0

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self.read_bytes += len(data)
        if self.read_bytes > self.max_bytes:
            raise PayloadTooLarge(f"upload is larger than the limit of {self.max_bytes} bytes")
        return data


@contextmanager
def _missing_is_not_found(key: str) -> Iterator[None]:
    try:
        yield
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in _MISSING:
            raise JobNotFound(f"no object {key!r}") from None
        raise


_MISSING = ("404", "NoSuchKey", "NotFound")
_FORBIDDEN = ("403", "AccessDenied", "Forbidden")


class S3ObjectStore:
    def __init__(self, client: Any, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    def put_bytes(self, key: str, data: bytes, content_type: str = "") -> None:
        extra = {"ContentType": content_type} if content_type else {}
        self.client.put_object(
            Bucket=self.bucket, Key=key, Body=data, ServerSideEncryption=SSE, **extra
        )

    def put_file(self, key: str, path: Path, content_type: str = "") -> None:
        extra: dict[str, str] = {"ServerSideEncryption": SSE}
        if content_type:
            extra["ContentType"] = content_type
        self.client.upload_file(str(path), self.bucket, key, ExtraArgs=extra)

    def put_stream(self, key: str, stream: BinaryIO, max_bytes: int) -> int:
        reader = _CappedReader(stream, max_bytes)
        try:
            self.client.upload_fileobj(
                reader, self.bucket, key, ExtraArgs={"ServerSideEncryption": SSE}
            )
        except PayloadTooLarge:
            self.delete_prefix(key)
            raise
        return reader.read_bytes

    def get_bytes(self, key: str) -> bytes:
        with _missing_is_not_found(key):
            body: bytes = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return body

    def download(self, key: str, target: Path) -> int:
        with _missing_is_not_found(key), target.open("wb") as out:
            self.client.download_fileobj(self.bucket, key, out)
        return target.stat().st_size

    def open_read(self, key: str) -> Iterator[bytes]:
        with _missing_is_not_found(key):
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]

        def chunks() -> Iterator[bytes]:
            try:
                yield from body.iter_chunks(CHUNK)
            finally:
                body.close()

        return chunks()

    def exists(self, key: str) -> bool:
        """False for a missing object. S3 answers HeadObject on a missing key with 403, not
        404, unless the caller may list the bucket at that key; the roles may list only
        under their prefixes (a condition a HeadObject does not carry), so 403 reads as
        missing here too: the key itself is one this role may read, as its policy says."""
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in (*_MISSING, *_FORBIDDEN):
                return False
            raise
        return True

    def size(self, key: str) -> int | None:
        """The object's size in bytes (HeadObject: s3:GetObject, no listing); None when
        missing (or, as for exists, forbidden)."""
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in (*_MISSING, *_FORBIDDEN):
                return None
            raise
        return int(head["ContentLength"])

    def list_objects(self, prefix: str) -> list[ObjectInfo]:
        paginator = self.client.get_paginator("list_objects_v2")
        found: list[ObjectInfo] = []
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            found.extend(ObjectInfo(o["Key"], int(o["Size"])) for o in page.get("Contents", []))
        return sorted(found, key=lambda info: info.key)

    def delete_prefix(self, prefix: str) -> int:
        """Every object under prefix; raises ClientError when S3 refused any of them
        (DeleteObjects answers 200 and lists per-key errors, which must not pass silently)."""
        keys = [info.key for info in self.list_objects(prefix)]
        for start in range(0, len(keys), 1000):
            batch = [{"Key": key} for key in keys[start : start + 1000]]
            response = self.client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True}
            )
            errors = response.get("Errors") or []
            if errors:
                first = errors[0]
                raise ClientError(
                    {
                        "Error": {
                            "Code": str(first.get("Code", "DeleteObjectsError")),
                            "Message": f"{len(errors)} of {len(batch)} objects not deleted, "
                            f"first {first.get('Key')!r}: {first.get('Message', '')}",
                        }
                    },
                    "DeleteObjects",
                )
        return len(keys)

    def delete(self, key: str) -> None:
        """DeleteObject: exactly key (S3 answers 204 for a missing one)."""
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def upload_target(
        self, key_prefix: str, filename: str, expires_in: int, max_bytes: int
    ) -> UploadTarget:
        """A presigned PUT for a named file, else a presigned POST form for any file name.

        Both require SSE-AES256; the POST policy also bounds the size (content-length-range)
        and keeps the key under key_prefix. S3 enforces these; moto does not, so the worker
        checks the size again.
        """
        expires_at = datetime.now(UTC) + timedelta(seconds=expires_in)
        if filename:
            key = key_prefix + safe_filename(filename)
            url = self.client.generate_presigned_url(
                "put_object",
                Params={"Bucket": self.bucket, "Key": key, "ServerSideEncryption": SSE},
                ExpiresIn=expires_in,
            )
            return UploadTarget(
                url=url,
                method="PUT",
                expires_at=expires_at,
                headers={"x-amz-server-side-encryption": SSE},
                max_bytes=max_bytes,
            )
        post = self.client.generate_presigned_post(
            Bucket=self.bucket,
            Key=key_prefix + "${filename}",
            Fields={"x-amz-server-side-encryption": SSE},
            Conditions=[
                ["starts-with", "$key", key_prefix],
                ["content-length-range", 1, max_bytes],
                {"x-amz-server-side-encryption": SSE},
            ],
            ExpiresIn=expires_in,
        )
        return UploadTarget(
            url=post["url"],
            method="POST",
            expires_at=expires_at,
            fields=post["fields"],
            max_bytes=max_bytes,
        )

    def download_link(self, key: str, expires_in: int) -> str:
        """A presigned GET (S3 serves Range requests itself) that overrides the stored type
        with a fixed audio type or opaque bytes, as a download: whatever the uploader sent
        and labelled, the link never opens as a page."""
        url: str = self.client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": key,
                "ResponseContentType": stored_media_type(key),
                "ResponseContentDisposition": attachment(key),
            },
            ExpiresIn=expires_in,
        )
        return url
