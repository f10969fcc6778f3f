"""Token-bucket arithmetic of the API rate limit, on a clock the tests move by hand."""

from __future__ import annotations

import threading

import pytest
from starlette.types import Scope

from swescribe.api.limits import TokenBuckets, bucket_name, is_json_request


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


def test_a_key_gets_a_bucket_that_neither_shows_the_key_nor_depends_on_the_address() -> None:
    key = "sws_0123abcd4567_c2VjcmV0LXNlY3JldC1zZWNyZXQ"
    name = bucket_name(scope({"X-API-Key": key}))
    assert name == bucket_name(scope({"X-API-Key": key}, client="192.0.2.9"))
    assert key not in name
    assert "0123abcd4567_c2Vj" not in name


def test_someone_knowing_only_a_keys_id_does_not_share_its_bucket() -> None:
    owner = bucket_name(scope({"X-API-Key": "sws_0123abcd4567_real-secret"}))
    guesser = bucket_name(scope({"X-API-Key": "sws_0123abcd4567_guessed"}))
    assert owner != guesser


def test_requests_without_a_key_are_bucketed_by_client_address() -> None:
    assert bucket_name(scope({})) == "ip:10.1.2.3"
    assert bucket_name(scope({"X-API-Key": ""})) == "ip:10.1.2.3"


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
