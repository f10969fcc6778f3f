"""The EC2 instance metadata service, IMDSv2 only (session token; the launch template
requires it): the instance's id and the spot interruption notice."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx

log = logging.getLogger(__name__)

TOKEN_TTL_SECONDS = 21600


class InstanceMetadata:
    def __init__(self, base_url: str = "http://169.254.169.254", timeout: float = 2.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(timeout=timeout, trust_env=False)
        self._token: str | None = None

    def _refresh_token(self) -> str:
        response = self._http.put(
            f"{self.base_url}/latest/api/token",
            headers={"X-aws-ec2-metadata-token-ttl-seconds": str(TOKEN_TTL_SECONDS)},
        )
        response.raise_for_status()
        self._token = response.text
        return self._token

    def _get(self, path: str) -> httpx.Response:
        token = self._token or self._refresh_token()
        url = f"{self.base_url}/latest/meta-data/{path}"
        response = self._http.get(url, headers={"X-aws-ec2-metadata-token": token})
        if response.status_code == 401:  # the token expired
            token = self._refresh_token()
            response = self._http.get(url, headers={"X-aws-ec2-metadata-token": token})
        return response

    def instance_id(self) -> str | None:
        """This instance's id; None when there is no metadata service (not on EC2)."""
        try:
            response = self._get("instance-id")
        except httpx.HTTPError:
            return None
        return response.text.strip() if response.status_code == 200 else None

    def spot_interruption(self) -> dict[str, Any] | None:
        """The pending spot instance action ({"action": "terminate", "time": ...}), if any.

        404 means no interruption is scheduled; errors are logged and read as none.
        """
        try:
            response = self._get("spot/instance-action")
        except httpx.HTTPError as error:
            log.warning("metadata service unreachable", extra={"reason": type(error).__name__})
            return None
        if response.status_code != 200:
            return None
        try:
            notice: dict[str, Any] = json.loads(response.text)
        except json.JSONDecodeError:
            return {"action": "unknown", "raw": response.text[:200]}
        return notice

    def close(self) -> None:
        self._http.close()
