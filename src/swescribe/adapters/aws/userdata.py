"""The worker instance's UserData: a bash script exporting the worker's environment.

The seed passes job_id, s3_input and s3_output this way; swescribe adds the queue,
table, bucket and model. Values are shell-quoted, so any text survives, and
parse_user_data reads a script back (the tests, and operators, use it).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping

WORKER_LOG = "/var/log/swescribe-worker.log"
MAX_USER_DATA_BYTES = 16 * 1024
"""EC2's limit on UserData, counted before base64 encoding."""
_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
_USER_DATA_HEADER = (
    "#!/bin/bash\n"
    "# swescribe GPU worker, launched by the process_upload Lambda\n"
    "set -euo pipefail\n"
)


def is_env_name(name: str) -> bool:
    return bool(_NAME.fullmatch(name))


def render_user_data(env: Mapping[str, str], command: str, *, shutdown_on_exit: bool = True) -> str:
    """The worker's UserData: a bash script that exports env, then runs command.

    Values are shell-quoted, so any text survives (parse_user_data reads it back). With
    shutdown_on_exit the instance powers off when the worker exits for any reason (idle,
    done, crashed); launched with InstanceInitiatedShutdownBehavior=terminate, that ends it,
    as the seed's workers ended themselves. Without it, the script execs the worker.
    """
    lines = [_USER_DATA_HEADER]
    for name, value in env.items():
        if not _NAME.fullmatch(name):
            raise ValueError(f"not a valid environment variable name: {name!r}")
        if "\x00" in value:
            raise ValueError(f"the value of {name} contains a NUL byte, which bash cannot hold")
        lines.append(f"export {name}={shlex.quote(value)}\n")
    redirect = f">>{WORKER_LOG} 2>&1"
    if shutdown_on_exit:
        lines.append(
            f"status=0\n{command} {redirect} || status=$?\n"
            f'echo "swescribe worker exited with status $status; shutting down" >>{WORKER_LOG}\n'
            "shutdown -h now\n"
        )
    else:
        lines.append(f"exec {command} {redirect}\n")
    text = "".join(lines)
    size = len(text.encode("utf-8"))
    if size > MAX_USER_DATA_BYTES:
        raise ValueError(f"UserData is {size} bytes; EC2 accepts at most {MAX_USER_DATA_BYTES}")
    return text


def parse_user_data(text: str) -> dict[str, str]:
    """The variables a render_user_data script exports (the inverse of render_user_data)."""
    tokens = shlex.split(text, comments=True, posix=True)
    env: dict[str, str] = {}
    index = 0
    while index < len(tokens) - 1:
        if tokens[index] == "export":
            name, sep, value = tokens[index + 1].partition("=")
            if sep and _NAME.fullmatch(name):
                env[name] = value
                index += 2
                continue
        index += 1
    return env
