"""Page cursors for job lists: opaque to clients, the position after which a page ends.

Lists are ordered by (created_at, job_id), newest first; a cursor carries that pair of
the last job on a page, so the next page starts right after it, with no gaps or repeats
even while jobs are added.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime

from swescribe.core.errors import InvalidRequest


def encode_cursor(created_at: str, job_id: str) -> str:
    raw = json.dumps([created_at, job_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str]:
    """(created_at, job_id) of a cursor this API made; InvalidRequest for anything else."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created_at, job_id = json.loads(base64.urlsafe_b64decode(padded))
        if not isinstance(created_at, str) or not isinstance(job_id, str) or not job_id:
            raise ValueError
        datetime.fromisoformat(created_at)
    except (ValueError, TypeError, binascii.Error):
        raise InvalidRequest("cursor is not one this API returned") from None
    return created_at, job_id
