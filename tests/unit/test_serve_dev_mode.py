"""`swescribe serve` keeps local dev mode (http and loopback URLs), and /metrics without a key,
only where no one else reaches it: a loopback bind, with no proxy in front and no public URL
naming another host."""

from __future__ import annotations

import pytest

from swescribe.cli.serve import dev_mode_off_for, metrics_open_for
from swescribe.config import Settings


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.0.0.5"])
def test_a_loopback_bind_keeps_local_dev_mode(host: str) -> None:
    assert not dev_mode_off_for(host, Settings.from_env(env={}), {})


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "swescribe.example"])
def test_listening_beyond_this_machine_turns_dev_mode_off(host: str) -> None:
    assert Settings.from_env(env={}).dev_mode, "local dev mode is the local default"
    assert dev_mode_off_for(host, Settings.from_env(env={}), {})


def test_an_explicit_swescribe_dev_mode_is_respected_on_any_bind() -> None:
    env = {"SWESCRIBE_DEV_MODE": "1"}
    assert not dev_mode_off_for("0.0.0.0", Settings.from_env(env=env), env)


@pytest.mark.parametrize(
    ("host", "token", "open_"),
    [
        ("127.0.0.1", "", True),
        ("::1", "", True),
        ("127.0.0.1", "scrape-token", False),
        ("0.0.0.0", "", False),
        ("192.168.1.20", "", False),
    ],
)
def test_metrics_need_no_key_only_on_a_loopback_bind_without_a_metrics_token(
    host: str, token: str, open_: bool
) -> None:
    settings = Settings.from_env(env={"SWESCRIBE_METRICS_TOKEN": token} if token else {})
    assert metrics_open_for(host, settings) is open_


@pytest.mark.parametrize(
    "env",
    [
        {"SWESCRIBE_TRUSTED_PROXIES": "127.0.0.1"},
        {"SWESCRIBE_PUBLIC_URL": "https://transcribe.example.org"},
        {"SWESCRIBE_PUBLIC_URL": "http://192.168.1.20:8000"},
    ],
)
def test_a_loopback_serve_that_others_reach_through_a_proxy_keeps_no_dev_allowances(
    env: dict[str, str],
) -> None:
    settings = Settings.from_env(env=env)
    assert dev_mode_off_for("127.0.0.1", settings, env)
    assert not metrics_open_for("127.0.0.1", settings)


def test_a_loopback_public_url_keeps_local_dev_mode() -> None:
    env = {"SWESCRIBE_PUBLIC_URL": "http://localhost:8000"}
    settings = Settings.from_env(env=env)
    assert not dev_mode_off_for("127.0.0.1", settings, env)
    assert metrics_open_for("127.0.0.1", settings)
