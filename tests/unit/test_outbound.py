"""Outbound HTTP to client-given URLs: addresses vetted when connecting, no redirects
followed, response bodies capped, timeouts on every phase and on the whole connection.

A real HTTP server on 127.0.0.1 stands in for receivers and audio hosts; a scripted
resolver stands in for DNS; the backend the tests use records every socket the guard
opens and opens none beyond loopback, so nothing here leaves this machine.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpcore
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from swescribe.core.errors import InvalidAudio, PayloadTooLarge, UnsafeURL
from swescribe.outbound import (
    GuardedBackend,
    address_allowed,
    client_over,
    guarded_client,
    is_public_address,
)
from swescribe.webhooks.delivery import DeliveryOptions, deliver_once
from swescribe.worker.fetch import fetch_audio

HUGE = 50 * 1024 * 1024
CAP = 64 * 1024


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    host: str


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that gave up (cap, timeout) breaks the late answer; that is expected."""


@dataclass
class Origin:
    """An HTTP/1.0 server on 127.0.0.1 with a few behaviours, chosen by path."""

    tls: ssl.SSLContext | None = None
    seen: list[Seen] = field(default_factory=list)
    huge_bytes_sent: int = 0
    released: threading.Event = field(default_factory=threading.Event)

    def start(self) -> Origin:
        origin = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                origin.seen.append(Seen(self.command, self.path, self.headers.get("Host", "")))
                route = {
                    "/ok": self.ok,
                    "/redirect": self.redirect,
                    "/huge": self.huge,
                    "/slow": self.slow,
                    "/drip": self.drip,
                }.get(self.path, self.ok)
                route()

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                self.do_GET()

            def ok(self) -> None:
                self.answer(200, b"RIFF-audio-bytes")

            def redirect(self) -> None:
                self.send_response(302)
                self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def huge(self) -> None:
                self.send_response(200)
                self.end_headers()  # no Content-Length: the body ends when the server closes
                chunk = b"\0" * 65536
                try:
                    while origin.huge_bytes_sent < HUGE:
                        self.wfile.write(chunk)
                        origin.huge_bytes_sent += len(chunk)
                except OSError:
                    return

            def slow(self) -> None:
                origin.released.wait(5.0)
                self.answer(200, b"late")

            def drip(self) -> None:
                self.send_response(200)
                self.send_header("Content-Length", "100")
                self.end_headers()
                for _ in range(100):
                    if origin.released.wait(0.1):
                        return
                    self.wfile.write(b".")
                    self.wfile.flush()

            def answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                return

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        if self.tls is not None:
            self.server.socket = self.tls.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()
        return self

    @property
    def port(self) -> int:
        port: int = self.server.server_address[1]
        return port

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def stop(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def origin() -> Iterator[Origin]:
    running = Origin().start()
    yield running
    running.stop()


@dataclass(frozen=True)
class Tls:
    server: ssl.SSLContext
    client: ssl.SSLContext
    """Trusts only the test CA."""


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    """A throwaway CA and a certificate for hook.example signed by it."""
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "swescribe test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hook.example")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("hook.example")]), False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    (folder / "leaf.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(folder / "leaf.pem", folder / "key.pem")
    client = ssl.create_default_context(cadata=ca.public_bytes(serialization.Encoding.PEM).decode())
    return Tls(server, client)


@pytest.fixture
def tls_origin(tls: Tls) -> Iterator[Origin]:
    running = Origin(tls=tls.server).start()
    yield running
    running.stop()


class ScriptedResolver:
    """DNS as a test wants it: each lookup gets the next answer (the last one repeats)."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.asked: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


class LoopbackOnlyBackend(GuardedBackend):
    """Records every address the guard connects to; never opens a socket past loopback."""

    def __init__(self, resolver: ScriptedResolver, *, allow_loopback: bool) -> None:
        super().__init__(allow_loopback=allow_loopback, what="callback_url", resolve=resolver)
        self.resolver = resolver
        self.connected: list[str] = []

    def connect_vetted(
        self,
        address: str,
        port: int,
        timeout: float | None,
        local_address: str | None,
        socket_options: Iterable[httpcore.SOCKET_OPTION],
    ) -> httpcore.NetworkStream:
        self.connected.append(address)
        if not ipaddress.ip_address(address).is_loopback:
            raise AssertionError(f"the guard let a connection to {address} through")
        return super().connect_vetted(address, port, timeout, local_address, socket_options)


def recording_client(
    *answers: list[str], allow_loopback: bool
) -> tuple[httpx.Client, LoopbackOnlyBackend]:
    backend = LoopbackOnlyBackend(ScriptedResolver(*answers), allow_loopback=allow_loopback)
    return client_over(backend, timeout=2.0, max_response_bytes=CAP), backend


# which addresses are public


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",  # EC2 instance metadata
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "224.0.0.1",  # multicast, which Python counts as global
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fd00:ec2::254",  # EC2 instance metadata over IPv6
        "fe80::1",
        "fec0::1",  # site-local, which Python counts as global
        "ff02::1",
        "::ffff:169.254.169.254",
        "::ffff:8.8.8.8",  # IPv4-mapped: never what a public name resolves to
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
        "2001:db8::1",
    ],
)
def test_internal_special_and_embedded_internal_addresses_are_not_public(address: str) -> None:
    assert not is_public_address(ipaddress.ip_address(address))
    assert not address_allowed(address, allow_loopback=False)


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "93.184.216.34", "2606:4700:4700::1111", "64:ff9b::808:808", "2002:808:808::1"],
)
def test_global_unicast_addresses_are_public(address: str) -> None:
    assert is_public_address(ipaddress.ip_address(address))


def test_local_dev_mode_allows_loopback_and_nothing_else_internal() -> None:
    assert address_allowed("127.0.0.1", allow_loopback=True)
    assert address_allowed("::1", allow_loopback=True)
    for internal in ("10.0.0.1", "169.254.169.254", "fd00:ec2::254", "192.168.0.2"):
        assert not address_allowed(internal, allow_loopback=True)


def test_text_that_is_not_an_address_is_never_allowed() -> None:
    assert not address_allowed("metadata.internal", allow_loopback=True)
    assert not address_allowed("fe80::1%eth0", allow_loopback=True)


# refused when connecting, before any socket is opened


@pytest.mark.parametrize("internal", ["169.254.169.254", "10.0.0.1", "::1", "fd00:ec2::254"])
def test_a_name_resolving_to_an_internal_address_is_refused_without_a_connection(
    origin: Origin, internal: str
) -> None:
    client, backend = recording_client([internal], allow_loopback=False)
    with client, pytest.raises(UnsafeURL) as refused:
        client.get(origin.url("/ok", host="hook.example"))
    assert str(refused.value) == (
        "callback_url host 'hook.example' resolves to a non-public address"
    )
    assert backend.connected == []
    assert origin.seen == []


@pytest.mark.parametrize("answer", [["93.184.216.34", "10.0.0.1"], ["10.0.0.1", "93.184.216.34"]])
def test_one_private_address_among_public_ones_refuses_the_name(answer: list[str]) -> None:
    client, backend = recording_client(answer, allow_loopback=False)
    with client, pytest.raises(UnsafeURL):
        client.get("https://mixed.example/hook")
    assert backend.connected == []


def test_the_socket_goes_to_the_address_vetted_so_rebinding_gains_nothing(
    origin: Origin,
) -> None:
    # First answer loopback (allowed in local dev mode), then a private address: the name
    # is looked up once per connection, and the connection uses exactly that answer.
    client, backend = recording_client(["127.0.0.1"], ["10.0.0.1"], allow_loopback=True)
    url = origin.url("/ok", host="rebind.example")
    with client:
        first = client.get(url)
        with pytest.raises(UnsafeURL):
            client.get(url)  # the HTTP/1.0 server closed the first connection
    assert first.status_code == 200
    assert backend.resolver.asked == ["rebind.example", "rebind.example"]
    assert backend.connected == ["127.0.0.1"]
    assert origin.seen == [Seen("GET", "/ok", f"rebind.example:{origin.port}")]


def test_the_next_vetted_address_is_tried_when_one_refuses_the_connection(
    origin: Origin,
) -> None:
    client, backend = recording_client(["127.0.0.2", "127.0.0.1"], allow_loopback=True)
    with client:
        response = client.get(origin.url("/ok", host="two.example"))
    assert response.status_code == 200
    assert backend.connected == ["127.0.0.2", "127.0.0.1"]


def test_tls_checks_the_certificate_against_the_name_not_the_vetted_address(
    tls_origin: Origin, tls: Tls
) -> None:
    backend = LoopbackOnlyBackend(ScriptedResolver(["127.0.0.1"]), allow_loopback=True)
    port = tls_origin.port
    with client_over(backend, timeout=2.0, ssl_context=tls.client) as client:
        named = client.get(f"https://hook.example:{port}/ok")
        with pytest.raises(httpx.ConnectError, match="certificate verify failed"):
            client.get(f"https://other.example:{port}/ok")
    assert named.content == b"RIFF-audio-bytes"
    assert backend.connected == ["127.0.0.1", "127.0.0.1"]
    assert tls_origin.seen == [Seen("GET", "/ok", f"hook.example:{port}")]


def test_an_unresolvable_host_is_a_connection_error_not_an_unsafe_url() -> None:
    def no_such_host(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with (
        guarded_client(allow_loopback=False, timeout=2.0, resolve=no_such_host) as client,
        pytest.raises(httpx.ConnectError, match=r"cannot resolve 'nowhere\.example'"),
    ):
        client.get("https://nowhere.example/hook")


def test_loopback_is_refused_outside_local_dev_mode(origin: Origin) -> None:
    with (
        guarded_client(allow_loopback=False, timeout=2.0, what="audio_url") as client,
        pytest.raises(UnsafeURL, match=r"audio_url host '127\.0\.0\.1' resolves to a non-public"),
    ):
        client.get(origin.url("/ok"))
    assert origin.seen == []


def test_local_dev_mode_admits_loopback_but_still_refuses_private_names(origin: Origin) -> None:
    with guarded_client(allow_loopback=True, timeout=2.0) as client:
        assert client.get(origin.url("/ok")).content == b"RIFF-audio-bytes"
    private = ScriptedResolver(["10.0.0.7"])
    with (
        guarded_client(allow_loopback=True, timeout=2.0, resolve=private) as client,
        pytest.raises(UnsafeURL),
    ):
        client.get(origin.url("/ok", host="intranet.example"))
    assert [seen.path for seen in origin.seen] == ["/ok"]


def test_proxy_settings_in_the_environment_are_ignored(
    origin: Origin, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # nothing listens on port 9
    with guarded_client(allow_loopback=True, timeout=2.0) as client:
        assert client.get(origin.url("/ok")).status_code == 200


# redirects, body caps, timeouts


def test_a_redirect_to_the_metadata_service_is_an_answer_not_followed(origin: Origin) -> None:
    client, backend = recording_client(["127.0.0.1"], allow_loopback=True)
    with client:
        response = client.get(origin.url("/redirect"))
    assert response.status_code == 302
    assert response.headers["location"] == "http://169.254.169.254/latest/meta-data/"
    assert backend.connected == ["127.0.0.1"]
    assert [seen.path for seen in origin.seen] == ["/redirect"]


def test_a_huge_body_is_not_read_past_the_cap(origin: Origin) -> None:
    delivered: list[bytes] = []
    with (
        guarded_client(allow_loopback=True, timeout=5.0, max_response_bytes=CAP) as client,
        client.stream("GET", origin.url("/huge")) as response,
        pytest.raises(PayloadTooLarge, match=f"larger than {CAP} bytes"),
    ):
        delivered.extend(response.iter_raw())
    assert 0 < sum(map(len, delivered)) <= CAP
    assert origin.huge_bytes_sent < HUGE


def test_reading_a_whole_response_over_the_cap_raises_instead_of_buffering(
    origin: Origin,
) -> None:
    with (
        guarded_client(allow_loopback=True, timeout=5.0, max_response_bytes=CAP) as client,
        pytest.raises(PayloadTooLarge),
    ):
        client.get(origin.url("/huge"))


def test_a_server_slower_than_the_timeout_is_a_read_timeout(origin: Origin) -> None:
    started = time.monotonic()
    with (
        guarded_client(allow_loopback=True, timeout=0.3) as client,
        pytest.raises(httpx.ReadTimeout),
    ):
        client.get(origin.url("/slow"))
    assert time.monotonic() - started < 3.0  # the server answers after 5 s


def test_a_server_dripping_bytes_is_cut_off_by_the_total_timeout(origin: Origin) -> None:
    # Every byte comes well within the read timeout; the connection's lifetime ends it.
    started = time.monotonic()
    with (
        guarded_client(allow_loopback=True, timeout=1.0, total_timeout=0.8) as client,
        pytest.raises(httpx.ReadTimeout),
    ):
        client.get(origin.url("/drip"))
    assert 0.7 < time.monotonic() - started < 5.0  # the drip would take 10 s


# the guard where swescribe uses it

LOCAL = DeliveryOptions(allow_http=True, timeout=5.0)


def test_webhook_delivery_reads_none_of_a_huge_receiver_body(origin: Origin) -> None:
    started = time.monotonic()
    record = deliver_once(origin.url("/huge"), b"{}", "secret", "msg_1", policy=LOCAL)
    assert (record.status, record.error) == (200, None)
    assert time.monotonic() - started < 5.0  # reading 50 MB would fail, not just take long
    assert origin.huge_bytes_sent < HUGE


def test_webhook_delivery_to_a_slow_receiver_ends_at_the_attempt_deadline(
    origin: Origin,
) -> None:
    # The receiver answers after 5 s, well within each read's timeout of 10 s.
    policy = DeliveryOptions(allow_http=True, timeout=10.0, attempt_deadline=0.5)
    started = time.monotonic()
    record = deliver_once(origin.url("/slow"), b"{}", None, "msg_1", policy=policy)
    assert record.status is None
    assert record.error == "timeout: ReadTimeout"
    assert time.monotonic() - started < 3.0


def test_fetch_audio_downloads_through_the_guard(origin: Origin, tmp_path: Path) -> None:
    target = tmp_path / "audio"
    size = fetch_audio(origin.url("/ok"), target, max_bytes=1024, allow_http=True)
    assert size == len(b"RIFF-audio-bytes")
    assert target.read_bytes() == b"RIFF-audio-bytes"


def test_fetch_audio_does_not_follow_a_redirect(origin: Origin, tmp_path: Path) -> None:
    with pytest.raises(InvalidAudio, match="answered HTTP 302"):
        fetch_audio(origin.url("/redirect"), tmp_path / "a", max_bytes=1024, allow_http=True)
    assert [seen.path for seen in origin.seen] == ["/redirect"]


def test_fetch_audio_stops_at_the_size_limit(origin: Origin, tmp_path: Path) -> None:
    target = tmp_path / "audio"
    with pytest.raises(PayloadTooLarge, match="audio_url response is larger than 100000 bytes"):
        fetch_audio(origin.url("/huge"), target, max_bytes=100_000, allow_http=True)
    assert target.stat().st_size <= 100_000
    assert origin.huge_bytes_sent < HUGE


def test_fetch_audio_refuses_a_loopback_server_outside_local_dev_mode(
    origin: Origin, tmp_path: Path
) -> None:
    with pytest.raises(UnsafeURL):
        fetch_audio(origin.url("/ok"), tmp_path / "a", max_bytes=1024, allow_http=False)
    assert origin.seen == []
