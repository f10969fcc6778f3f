"""Outbound HTTP to client-given URLs (webhook receivers, audio_url), safe against SSRF.

URLs are checked lexically when a job is created (`core.urls.check_url`). The address is
checked here, when connecting: the host is resolved once, every address it resolves to
must be public, and the socket is opened to one of those vetted addresses, so a second,
different DNS answer (rebinding) is never used. TLS still checks the certificate against
the host name. No proxies, no redirects, a timeout on every phase and on the whole
connection, and a cap on every response body.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import httpcore
import httpx
from httpcore import SOCKET_OPTION, NetworkStream, SyncBackend

from swescribe.core.errors import PayloadTooLarge, UnsafeURL

Resolver = Callable[[str, int], Sequence[str]]
"""(host, port) -> the IP addresses to connect to, as text."""

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_WRITE_PIECE = 16 * 1024
"""Writes go out in pieces, each with only the time left, so the deadline holds."""


def system_resolve(host: str, port: int) -> list[str]:
    """The system resolver's addresses for host, in its order, without repeats."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def is_public_address(address: IPAddress) -> bool:
    """Globally routable unicast: not loopback, private, link-local (169.254.169.254),
    unique-local (fd00:ec2::254), site-local, multicast, reserved or unspecified, and no
    IPv4 address hidden inside an IPv6 one (mapped, NAT64, 6to4) that is any of those."""
    if isinstance(address, ipaddress.IPv6Address):
        if address in _NAT64:  # the IPv4 address a NAT64 gateway would connect to
            return is_public_address(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if address.ipv4_mapped is not None or address.is_site_local:
            return False
        if address.sixtofour is not None and not is_public_address(address.sixtofour):
            return False
    return address.is_global and not (
        address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or address.is_link_local
        or address.is_loopback
        or address.is_private
    )


def address_allowed(text: str, *, allow_loopback: bool) -> bool:
    """Whether a resolved address may be connected to (loopback only in local dev mode)."""
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return False
    if allow_loopback and address.is_loopback:
        return True
    return is_public_address(address)


class GuardedBackend(SyncBackend):
    """httpcore's socket backend, connecting only to addresses vetted when connecting."""

    def __init__(
        self,
        *,
        allow_loopback: bool,
        what: str = "url",
        resolve: Resolver = system_resolve,
        lifetime: float | None = None,
    ) -> None:
        self.allow_loopback = allow_loopback
        self.what = what
        self.resolve = resolve
        self.lifetime = lifetime
        """Seconds a connection may live in all, so a peer dripping bytes cannot hold it."""

    def vetted_addresses(self, host: str, port: int) -> list[str]:
        """host's addresses, all of them allowed; refuses the host if any one is not."""
        try:
            addresses = list(self.resolve(host, port))
        except OSError as error:
            raise httpcore.ConnectError(f"cannot resolve {host!r} ({error})") from None
        if not addresses:
            raise httpcore.ConnectError(f"cannot resolve {host!r} (no addresses)")
        if not all(address_allowed(a, allow_loopback=self.allow_loopback) for a in addresses):
            raise UnsafeURL(f"{self.what} host {host!r} resolves to a non-public address")
        return addresses

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> NetworkStream:
        started = time.monotonic()
        deadline = None if self.lifetime is None else started + self.lifetime
        connect_by = None if timeout is None else started + timeout
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in self.vetted_addresses(host, port):
            remaining = _remaining(connect_by, deadline)
            if remaining is not None and remaining <= 0:
                raise httpcore.ConnectTimeout(f"no connection to {host!r} in time")
            try:
                stream = self.connect_vetted(
                    address, port, remaining, local_address, list(socket_options or ())
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                failure = error
                continue
            return stream if deadline is None else _DeadlineStream(stream, deadline)
        assert failure is not None
        raise failure

    def connect_vetted(
        self,
        address: str,
        port: int,
        timeout: float | None,
        local_address: str | None,
        socket_options: Iterable[SOCKET_OPTION],
    ) -> NetworkStream:
        """The one place a socket is opened, always to an address vetted_addresses gave."""
        return super().connect_tcp(address, port, timeout, local_address, socket_options)


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport over a GuardedBackend, with every response body capped."""

    def __init__(
        self,
        backend: GuardedBackend,
        *,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        ssl_context = ssl_context or httpx.create_ssl_context(trust_env=False)
        super().__init__(verify=ssl_context, trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context, network_backend=backend, retries=0
        )
        self.what = backend.what
        self.max_response_bytes = max_response_bytes

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        assert isinstance(response.stream, httpx.SyncByteStream)
        response.stream = _CappedStream(response.stream, self.max_response_bytes, self.what)
        return response


def guarded_client(
    *,
    allow_loopback: bool,
    timeout: float,
    what: str = "url",
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    total_timeout: float | None = None,
    resolve: Resolver = system_resolve,
) -> httpx.Client:
    """The only way swescribe calls a URL someone else gave it.

    timeout bounds connect, each read and write, and the wait for a pooled connection;
    total_timeout bounds a connection's whole life; bodies past max_response_bytes raise
    PayloadTooLarge; an address that is not public raises UnsafeURL. No proxy or .netrc
    from the environment, and a 3xx is an answer, not followed.
    """
    backend = GuardedBackend(
        allow_loopback=allow_loopback, what=what, resolve=resolve, lifetime=total_timeout
    )
    return client_over(backend, timeout=timeout, max_response_bytes=max_response_bytes)


def client_over(
    backend: GuardedBackend,
    *,
    timeout: float,
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ssl_context: ssl.SSLContext | None = None,
) -> httpx.Client:
    """guarded_client's settings over a given backend (tests pass one that records, and
    a context trusting their own CA); certificates are checked against the host name."""
    transport = GuardedTransport(
        backend, max_response_bytes=max_response_bytes, ssl_context=ssl_context
    )
    return httpx.Client(
        transport=transport,
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        trust_env=False,
    )


class _CappedStream(httpx.SyncByteStream):
    def __init__(self, inner: httpx.SyncByteStream, limit: int, what: str) -> None:
        self.inner = inner
        self.limit = limit
        self.what = what

    def __iter__(self) -> Iterator[bytes]:
        received = 0
        for chunk in self.inner:
            received += len(chunk)
            if received > self.limit:
                raise PayloadTooLarge(f"the {self.what} response is larger than {self.limit} bytes")
            yield chunk

    def close(self) -> None:
        self.inner.close()


class _DeadlineStream(NetworkStream):
    """A connection whose reads and writes all end by one deadline."""

    def __init__(self, inner: NetworkStream, deadline: float) -> None:
        self.inner = inner
        self.deadline = deadline

    def _timeout(self, timeout: float | None, error: type[Exception]) -> float:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise error("the connection ran past its time limit")
        return remaining if timeout is None else min(timeout, remaining)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.inner.read(max_bytes, self._timeout(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        for start in range(0, len(buffer), _WRITE_PIECE):
            piece = buffer[start : start + _WRITE_PIECE]
            self.inner.write(piece, self._timeout(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self.inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> NetworkStream:
        limit = self._timeout(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(
            self.inner.start_tls(ssl_context, server_hostname, limit), self.deadline
        )

    def get_extra_info(self, info: str) -> Any:
        return self.inner.get_extra_info(info)


def _remaining(*moments: float | None) -> float | None:
    known = [moment for moment in moments if moment is not None]
    return None if not known else min(known) - time.monotonic()
