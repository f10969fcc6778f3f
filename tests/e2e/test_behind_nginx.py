"""serve behind the nginx site of docs/deploy.md, as that page tells people to run it.

The site is read from the page itself (only its names and ports are replaced), so a
change to the documented config is what runs here: nginx over TLS on a loopback port in
front of a real serve, an upload larger than nginx lets through by default, and a live
session of the official SDK over `wss://`.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
import ssl
import subprocess
import time
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.conftest import REPO_ROOT, audio, reference, require_tool
from tests.e2e.service import RunningService, start_service
from tests.e2e.test_live_serve import COMPLETED, events_until
from tests.live import clip_pcm16, sdk_send_swedish_speech, silence
from tests.support import free_port
from tests.wer import word_error_rate

pytestmark = pytest.mark.model

DEPLOY_DOC = REPO_ROOT / "docs" / "deploy.md"
NGINX_DEFAULT_BODY_LIMIT = 1024 * 1024
"""nginx's own client_max_body_size: an upload over it is refused (413) without the site's."""


@dataclass
class Proxied:
    url: str
    tls: ssl.SSLContext
    service: RunningService
    error_log: Path


def documented_site() -> str:
    """The nginx site of docs/deploy.md's "Behind a reverse proxy"."""
    [site] = re.findall(r"```nginx\n(.*?)```", DEPLOY_DOC.read_text(), flags=re.DOTALL)
    return site


def replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"docs/deploy.md's nginx site no longer has {old!r}"
    return text.replace(old, new)


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as a certificate authority would sign one."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "fullchain.pem", directory / "privkey.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def nginx_config(directory: Path, site: str) -> Path:
    """A main config around the site that runs unprivileged files-wise: everything nginx
    writes stays in `directory`."""
    for temp in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (directory / temp).mkdir()
    # As root nginx's workers would switch to `nobody`, which cannot enter pytest's
    # private temp dirs; they stay root here (a test machine, loopback only).
    user = "user root;\n" if os.geteuid() == 0 else ""
    config = directory / "nginx.conf"
    config.write_text(
        f"""{user}daemon off;
worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {directory}/access.log;
    client_body_temp_path {directory}/body;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;
{site}
}}
"""
    )
    return config


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxied]:
    nginx = require_tool("nginx", "apt-get install nginx")
    directory = tmp_path_factory.mktemp("nginx")
    cert, key = self_signed(directory)
    port = free_port()
    public_url = f"https://127.0.0.1:{port}"
    service = start_service(
        tmp_path_factory.mktemp("serve-behind-nginx"),
        workers=1,
        SWESCRIBE_PUBLIC_URL=public_url,
        SWESCRIBE_TRUSTED_PROXIES="127.0.0.1",
    )
    site = documented_site()
    site = replace_once(site, "listen 443 ssl;", f"listen 127.0.0.1:{port} ssl;")
    site = replace_once(
        site, "/etc/letsencrypt/live/transcribe.example.org/fullchain.pem", str(cert)
    )
    site = replace_once(site, "/etc/letsencrypt/live/transcribe.example.org/privkey.pem", str(key))
    site = replace_once(site, "proxy_pass http://127.0.0.1:8000;", f"proxy_pass {service.url};")
    config = nginx_config(directory, site)
    checked = subprocess.run(
        [nginx, "-t", "-e", str(directory / "error.log"), "-c", str(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    process = subprocess.Popen(
        [nginx, "-e", str(directory / "error.log"), "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    tls = ssl.create_default_context(cafile=str(cert))
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{public_url}/healthz", verify=tls, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, (directory / "error.log").read_text()
            assert time.monotonic() < deadline, "nginx did not answer /healthz"
            time.sleep(0.2)
        yield Proxied(public_url, tls, service, directory / "error.log")
    finally:
        process.terminate()
        process.wait(timeout=30)
        service.stop()


def test_an_upload_larger_than_nginxs_default_is_transcribed_through_the_documented_site(
    proxied: Proxied, tmp_path: Path
) -> None:
    """The seed's flow over https through nginx: the upload URL is the public one, and a
    2 MB upload passes (nginx alone refuses anything over 1 MiB with a 413)."""
    clip = audio("lattlast_stts.wav")
    padded = tmp_path / "lattlast_med_tystnad.wav"
    with wave.open(str(clip)) as source, wave.open(str(padded), "wb") as out:
        out.setparams(source.getparams())
        out.writeframes(source.readframes(source.getnframes()))
        out.writeframes(
            b"\0" * source.getsampwidth() * source.getnchannels() * source.getframerate() * 10
        )
    assert padded.stat().st_size > NGINX_DEFAULT_BODY_LIMIT

    headers = {"X-API-Key": proxied.service.api_key}
    with httpx.Client(base_url=proxied.url, verify=proxied.tls, timeout=60) as http:
        assert http.get("/").status_code == 200  # the web page, through the proxy
        registration = http.post("/api", headers=headers, json={}).json()
        assert registration["upload_url"].startswith(f"{proxied.url}/"), registration
        put = http.put(
            registration["upload_url"],
            params={"filename": padded.name},
            content=padded.read_bytes(),
        )
        assert put.status_code == 200, put.text
        job_id = registration["callback_id"]
        job = proxied.service.wait_for_status(job_id, ("completed", "failed"))
        assert job["status"] == "completed", job
        text = http.get(f"/v1/jobs/{job_id}/transcript", headers=headers, params={"format": "txt"})
    assert text.status_code == 200
    assert word_error_rate(reference("lattlast_stts"), text.text) <= 0.5, text.text


def test_the_official_sdk_gets_live_captions_over_wss_through_the_documented_site(
    proxied: Proxied,
) -> None:
    """The WebSocket upgrade (/v1/realtime) passes the proxy: without the site's
    `proxy_http_version 1.1` and Upgrade/Connection headers the SDK cannot connect."""
    rate = 24_000
    name = "cv_18746434"
    pcm = clip_pcm16(f"{name}.wav", rate) + silence(1500, rate)
    client = openai.OpenAI(
        base_url=f"{proxied.url}/v1",
        api_key=proxied.service.api_key,
        max_retries=0,
        http_client=httpx.Client(verify=proxied.tls),
    )
    with client.realtime.connect(
        model="gpt-4o-transcribe",
        extra_query={"intent": "transcription"},
        websocket_connection_options={"ssl": proxied.tls},
    ) as connection:
        sdk_send_swedish_speech(connection, pcm, rate)
        events = events_until(connection, completed=1)
    [turn] = [event for event in events if event.type == COMPLETED]
    assert word_error_rate(reference(name), turn.transcript) <= 0.8, turn.transcript
