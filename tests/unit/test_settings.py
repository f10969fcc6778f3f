"""Settings: one model of types, defaults and ranges, read from a given environment."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from swescribe.config import BAKED_MODEL_DIR, Settings
from swescribe.core.errors import InvalidSetting
from swescribe.lambdas import janitor


def test_from_env_reads_the_mapping_it_is_given_and_not_the_process_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SWESCRIBE_WORKERS", "7")
    assert Settings.from_env({}).workers == 1
    assert Settings.from_env().workers == 7
    assert Settings.from_env({"SWESCRIBE_WORKERS": "3"}).workers == 3


def test_values_are_parsed_into_their_types() -> None:
    env = {
        "SWESCRIBE_BACKEND": "aws",
        "SWESCRIBE_DATA_DIR": "~/swescribe-data",
        "SWESCRIBE_INSTANCE_TYPES": "g5.xlarge, g6.xlarge,",
        "SWESCRIBE_MODEL_DIRS": "/models/a:/models/b",
        "SWESCRIBE_INSTANCE_PER_JOB": "yes",
        "SWESCRIBE_LEASE_SECONDS": "90.5",
        "AWS_DEFAULT_REGION": "eu-north-1",
    }
    settings = Settings.from_env(env)
    assert settings.instance_types == ("g5.xlarge", "g6.xlarge")
    assert settings.model_dirs == (Path("/models/a"), Path("/models/b"), BAKED_MODEL_DIR)
    assert settings.data_dir == Path("~/swescribe-data").expanduser()
    assert settings.instance_per_job is True
    assert settings.lease_seconds == 90.5
    assert settings.aws_region == "eu-north-1"
    assert settings.dev_mode is False, "dev mode is off by default on aws"


def test_an_empty_variable_means_the_default() -> None:
    settings = Settings.from_env({"SWESCRIBE_WORKERS": "", "SWESCRIBE_MAX_UPLOAD_BYTES": ""})
    assert (settings.workers, settings.max_upload_bytes) == (1, 2 * 1024**3)


def test_the_default_data_dir_follows_xdg_data_home_of_the_given_environment() -> None:
    settings = Settings.from_env({"XDG_DATA_HOME": "/srv/data"})
    assert settings.data_dir == Path("/srv/data/swescribe")
    assert settings.model_cache_dir == Path("/srv/data/swescribe/models")


def test_flags_override_the_environment_unless_they_are_none() -> None:
    env = {"SWESCRIBE_MODEL": "kb-whisper-small", "SWESCRIBE_WORKERS": "2"}
    settings = Settings.from_env(env, model="whisper-base", workers=None)
    assert (settings.model, settings.workers) == ("whisper-base", 2)


def test_settings_are_frozen_and_replace_checks_the_new_values() -> None:
    settings = Settings.from_env({})
    with pytest.raises(ValueError, match="frozen"):
        settings.workers = 3  # type: ignore[misc]
    assert settings.replace(dev_mode=False).dev_mode is False
    with pytest.raises(InvalidSetting, match="SWESCRIBE_WORKERS takes a whole number"):
        settings.replace(workers=-1)


def test_the_metrics_token_is_not_in_the_settings_repr() -> None:
    assert "s3cret" not in repr(Settings.from_env({"SWESCRIBE_METRICS_TOKEN": "s3cret"}))


@pytest.fixture
def root_handlers() -> Iterator[None]:
    saved = logging.getLogger().handlers[:]
    yield
    logging.getLogger().handlers[:] = saved


@pytest.mark.usefixtures("root_handlers")
def test_a_lambda_with_a_bad_setting_logs_one_clear_error_before_it_fails(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SWESCRIBE_MAX_INSTANCES", "lots")
    with pytest.raises(InvalidSetting):
        janitor.handler({"dry_run": True}, None)
    (line,) = capsys.readouterr().err.strip().splitlines()
    event = json.loads(line)
    assert event["level"] == "error"
    assert event["message"] == "invalid configuration"
    assert event["reason"] == (
        "SWESCRIBE_MAX_INSTANCES takes a whole number of at least 0, not 'lots'"
    )
    assert "exception" not in event


def test_the_secrets_settings_carry_stay_out_of_what_is_built_from_them() -> None:
    from swescribe.api.deps import ApiContext
    from swescribe.bootstrap_engine import diarizer_spec

    settings = Settings.from_env({"SWESCRIBE_HF_TOKEN": "hf_secret", "SWESCRIBE_DEVICE": "cpu"})
    assert "hf_secret" not in repr(diarizer_spec(settings))
    context = ApiContext(svc=None, keys=None, metrics_token="metrics-secret")  # type: ignore[arg-type]
    assert "metrics-secret" not in repr(context)


def test_trusted_proxies_take_addresses_and_networks_and_nothing_else() -> None:
    env = {"SWESCRIBE_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8,::1"}
    assert Settings.from_env(env).trusted_proxies == ("127.0.0.1", "10.0.0.0/8", "::1")
    assert Settings.from_env({}).trusted_proxies == ()
    with pytest.raises(InvalidSetting, match="SWESCRIBE_TRUSTED_PROXIES takes IP addresses"):
        Settings.from_env({"SWESCRIBE_TRUSTED_PROXIES": "127.0.0.1,proxy.example"})
