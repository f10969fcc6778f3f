"""Token-bucket arithmetic of the API rate limit, on a clock the tests move by hand."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from starlette.types import Scope

from swescribe.api.limits import (
    ApiLimits,
    RequestLimiter,
    TokenBuckets,
    client_address,
    is_json_request,
)
from swescribe.core.apikeys import ApiKey


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def buckets(
    rate_per_minute: float = 60, burst: int = 3, max_buckets: int = 100
) -> tuple[TokenBuckets, FakeClock]:
    clock = FakeClock()
    return TokenBuckets(rate_per_minute, burst, clock=clock, max_buckets=max_buckets), clock


def test_a_new_caller_gets_the_whole_burst_at_once_then_waits() -> None:
    limiter, _ = buckets(rate_per_minute=60, burst=3)
    assert [limiter.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("a") == pytest.approx(1.0)


def test_the_wait_is_the_time_until_one_whole_token_is_back() -> None:
    limiter, clock = buckets(rate_per_minute=30, burst=1)  # a token every 2 seconds
    assert limiter.take("a") == 0.0
    clock.advance(0.5)
    assert limiter.take("a") == pytest.approx(1.5)
    clock.advance(1.5)
    assert limiter.take("a") == 0.0


def test_a_refused_request_spends_nothing() -> None:
    limiter, clock = buckets(rate_per_minute=60, burst=1)
    limiter.take("a")
    for _ in range(10):
        assert limiter.take("a") > 0
    clock.advance(1.0)
    assert limiter.take("a") == 0.0


def test_tokens_refill_at_the_rate_and_never_past_the_burst() -> None:
    limiter, clock = buckets(rate_per_minute=120, burst=4)  # two tokens a second
    for _ in range(4):
        limiter.take("a")
    clock.advance(1.0)
    assert [limiter.take("a") for _ in range(2)] == [0.0, 0.0]
    assert limiter.take("a") > 0
    clock.advance(3600.0)
    assert [limiter.take("a") for _ in range(4)] == [0.0] * 4
    assert limiter.take("a") == pytest.approx(0.5)


def test_sustained_traffic_gets_the_rate_per_minute_plus_the_burst() -> None:
    limiter, clock = buckets(rate_per_minute=60, burst=10)
    allowed = 0
    for _ in range(600):  # one minute, a request every 0.1 s
        allowed += limiter.take("a") == 0.0
        clock.advance(0.1)
    assert allowed == pytest.approx(70, abs=1)


def test_callers_have_separate_buckets() -> None:
    limiter, _ = buckets(burst=2)
    limiter.take("a")
    limiter.take("a")
    assert limiter.take("a") > 0
    assert limiter.take("b") == 0.0


def test_a_burst_of_zero_still_lets_one_request_through() -> None:
    limiter, _ = buckets(rate_per_minute=60, burst=0)
    assert limiter.take("a") == 0.0
    assert limiter.take("a") > 0


def test_a_zero_rate_is_no_limiter_not_a_limiter_that_refuses_everything() -> None:
    with pytest.raises(ValueError, match="0 means no limiter"):
        TokenBuckets(0, 10)


def test_idle_buckets_that_are_full_again_are_dropped() -> None:
    limiter, clock = buckets(rate_per_minute=60, burst=3)
    for name in ("a", "b", "c"):
        limiter.take(name)
    assert len(limiter) == 3
    clock.advance(1.0)  # each is full again: as good as a new bucket
    limiter.take("d")
    assert len(limiter) == 1


def test_buckets_still_refilling_are_kept() -> None:
    limiter, clock = buckets(rate_per_minute=60, burst=3)
    for _ in range(3):
        limiter.take("a")
    clock.advance(2.0)
    limiter.take("b")
    assert len(limiter) == 2
    assert limiter.take("a") == 0.0
    assert limiter.take("a") == 0.0
    assert limiter.take("a") > 0


def test_the_number_of_buckets_is_capped_by_dropping_the_least_recently_used() -> None:
    limiter, _ = buckets(rate_per_minute=1, burst=1, max_buckets=50)
    for number in range(1000):
        limiter.take(f"caller-{number}")
    assert len(limiter) == 50
    assert limiter.take("caller-999") > 0  # recent: still empty
    assert limiter.take("caller-0") == 0.0  # long evicted: a fresh bucket


def test_concurrent_takes_never_hand_out_more_than_the_burst() -> None:
    limiter = TokenBuckets(1, 100)  # real clock; refill is 1/60 token a second
    granted: list[float] = []
    lock = threading.Lock()

    def hammer() -> None:
        for _ in range(50):
            wait = limiter.take("shared")
            with lock:
                granted.append(wait)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(granted) == 400
    assert sum(wait == 0.0 for wait in granted) in (100, 101)


# which bucket, which requests


def scope(headers: dict[str, str], path: str = "/v1/jobs", client: str = "10.1.2.3") -> Scope:
    return {
        "type": "http",
        "path": path,
        "client": (client, 50000),
        "headers": [(name.lower().encode(), value.encode()) for name, value in headers.items()],
    }


def test_peeking_spends_nothing_and_makes_no_bucket() -> None:
    limiter, _ = buckets(rate_per_minute=60, burst=1)
    assert limiter.peek("a") == 0.0
    assert len(limiter) == 0
    limiter.take("a")
    assert limiter.peek("a") == pytest.approx(1.0)
    assert limiter.peek("a") == pytest.approx(1.0)


def test_callers_are_told_apart_by_address_and_an_ipv6_host_by_its_slash_64() -> None:
    assert client_address(scope({})) == "10.1.2.3"
    assert client_address(scope({}, client="2001:db8:1:2:aaaa::1")) == "2001:db8:1:2::/64"
    assert client_address(scope({}, client="2001:db8:1:2:bbbb::9")) == "2001:db8:1:2::/64"
    assert client_address(scope({}, client="::ffff:192.0.2.7")) == "192.0.2.7"
    assert client_address({"type": "http"}) == "unknown"


def test_a_flood_of_addresses_never_resets_a_keys_drained_bucket() -> None:
    limiter = RequestLimiter.from_limits(ApiLimits(rate_per_minute=1, burst=2))
    key = ApiKey("k1", "owner", datetime(2025, 1, 1, tzinfo=UTC))
    assert limiter.charge("10.9.9.9", key) == 0.0
    assert limiter.charge("10.9.9.9", key) == 0.0
    assert limiter.charge("10.9.9.9", key) >= 1
    assert limiter.failures is not None
    assert limiter.anonymous is not None
    for number in range(12_000):  # more addresses than either table holds
        address = f"10.{number // 65536}.{number // 256 % 256}.{number % 256}"
        limiter.failures.take(address)
        limiter.anonymous.take(address)
    assert limiter.charge("10.9.9.9", key) >= 1


def test_a_key_is_charged_to_its_own_bucket_and_no_key_to_the_address() -> None:
    limiter = RequestLimiter.from_limits(
        ApiLimits(rate_per_minute=1, burst=1, auth_failures_per_minute=1, auth_failure_burst=1)
    )
    key = ApiKey("k1", "owner", datetime(2025, 1, 1, tzinfo=UTC))
    assert limiter.charge("10.0.0.1", None) == 0.0
    assert limiter.charge("10.0.0.1", None) > 0  # the address's token is spent
    limiter.failed("10.0.0.1")
    assert limiter.failures_wait("10.0.0.1") > 0
    assert limiter.charge("10.0.0.1", key) == 0.0  # a key that works still goes on
    assert limiter.charge("10.0.0.2", None) == 0.0


def test_failed_authentication_is_not_limited_when_its_limit_is_off() -> None:
    limiter = RequestLimiter.from_limits(ApiLimits(rate_per_minute=0, auth_failures_per_minute=0))
    assert limiter.keys is None
    assert limiter.anonymous is None
    assert limiter.failures is None


@pytest.mark.parametrize(
    ("path", "content_type", "limited"),
    [
        ("/api", "", True),
        ("/v1/jobs", "text/plain", True),
        ("/v1/jobs/abc", "", True),
        ("/v1/other", "application/json; charset=utf-8", True),
        ("/v1/other", "application/merge-patch+json", True),
        ("/v1/other", "audio/wav", False),
        ("/v1/uploads/tok", "application/json", False),
        ("/v1/jobsx", "", False),
        ("/", "", False),
    ],
)
def test_the_json_size_limit_covers_json_endpoints_and_bodies_but_never_uploads(
    path: str, content_type: str, limited: bool
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    assert is_json_request(scope(headers, path=path)) is limited
