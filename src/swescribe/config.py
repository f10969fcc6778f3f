"""One settings object, read from SWESCRIBE_* environment variables at the edge.

`Settings` is the one place that says each setting's type, default and range; a bad
value anywhere raises `InvalidSetting` with one line that names the variable and what it
takes. docs/configuration.md is checked against this model (tests/unit/test_configuration_docs.py).
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from annotated_types import Ge, Gt, Le
from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)
from pydantic_settings.sources.utils import parse_env_vars

from swescribe.core.errors import InvalidSetting

ENV_PREFIX = "SWESCRIBE_"
BAKED_MODEL_DIR = Path("/opt/swescribe/models")
"""Where the GPU AMI bakes its models (see run_transcription/build_ami.sh)."""


def default_data_dir(env: Mapping[str, str]) -> Path:
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "swescribe"


def default_cache_dir(env: Mapping[str, str]) -> Path:
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "swescribe"


MODEL_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*(\.[a-z0-9-]+)*$")
"""A model name a client may ask for: lower-case letters, digits, `-` and inner dots;
never a path, `.` or `..`."""


def is_model_name(name: str) -> bool:
    return len(name) <= 64 and MODEL_NAME.fullmatch(name) is not None


def _is_address_or_network(text: str) -> bool:
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True


CommaList = Annotated[tuple[str, ...], NoDecode]
"""A comma-separated list in the environment (`a, b`), a tuple in code."""


def _split_list(value: object) -> object:
    if isinstance(value, str):
        return tuple(item.strip() for item in value.split(",") if item.strip())
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_ignore_empty=True,
        frozen=True,
        extra="forbid",
        validate_by_name=True,
        use_attribute_docstrings=True,
    )

    backend: Literal["local", "aws"] = "local"
    data_dir: Path = Field(default_factory=lambda: default_data_dir(os.environ))
    """Local data: the model cache, and the service's database, objects and staging area."""
    model: str = "auto"
    allowed_models: CommaList = ()
    """Models a client may name on a job; empty: the configured model, when it is a name."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    compute_type: str = "auto"
    cpu_threads: int = Field(0, ge=0)
    language: str = "sv"
    # Live transcription (issue 25): decoded in the serve process.
    live_cpu_threads: int = Field(2, ge=0)
    """CPU threads of the live model's decoder (0: all usable cores)."""
    live_max_buffer_seconds: float = Field(30.0, gt=0, le=300)
    """Audio a live session may hold that no decode has heard; more is refused."""
    model_dirs: Annotated[tuple[Path, ...], NoDecode] = (BAKED_MODEL_DIR,)
    """Where named models are looked for; from the environment, the given directories
    (`:`-separated) and then always the AMI's."""
    speaker_model_dir: Path = Field(
        default_factory=lambda: default_cache_dir(os.environ) / "models"
    )
    """Where `swescribe models fetch speakers` puts the offline speaker model, and where it
    is looked for first (then in model_dirs, then an installed resemblyzer package); one
    per user, not per data directory."""
    bucket: str = "transcription-curevo"
    table: str = "transcription-jobs"
    queue_url: str = ""
    public_url: str = ""
    workers: int = Field(1, ge=0, le=64)
    max_upload_bytes: int = Field(2 * 1024**3, ge=1)
    lease_seconds: float = Field(120.0, gt=0)
    heartbeat_seconds: float = Field(20.0, gt=0)
    webhook_max_attempts: int = Field(6, ge=1)
    webhook_base_delay: float = Field(2.0, ge=0)
    dev_mode: bool = True
    """Local dev mode: http callbacks/audio URLs allowed, but only to loopback hosts; the
    default is on for the local backend and off for aws."""
    # The AWS shape.
    aws_region: str = Field("", validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION"))
    """Empty: boto3's own default (AWS_REGION, AWS_DEFAULT_REGION, the profile)."""
    webhook_queue_url: str = ""
    launch_template: str = "swescribe-worker"
    service_tag: str = "swescribe"
    """The swescribe:service tag value of this deployment's workers (the stack's name)."""
    instance_types: CommaList = ("g4dn.xlarge", "g5.xlarge", "g6.xlarge")
    """Tried in order when spot capacity is refused; then on-demand, if allowed."""
    on_demand_fallback: bool = True
    max_instances: int = Field(4, ge=0)
    instance_per_job: bool = False
    """The seed's behaviour: one instance per job, which exits when its job is done."""
    subnet_ids: CommaList = ()
    worker_idle_seconds: float = Field(300.0, ge=0)
    instance_grace_seconds: float = Field(900.0, ge=0)
    """The janitor leaves younger instances alone (boot and model load take minutes)."""
    imds_url: str = "http://169.254.169.254"
    spot_poll_seconds: float = Field(5.0, gt=0)
    """How often a worker asks the metadata service for a spot interruption notice."""
    terminate_on_exit: bool = True
    """A GPU worker terminates its own instance when it leaves (off for tests, debugging)."""
    max_audio_seconds: float = Field(4 * 3600.0, ge=0)
    """Longer audio fails its job with a clear reason (0: no limit)."""
    max_wait_seconds: float = Field(24 * 3600.0, ge=0)
    """A job that no worker has taken this long after its creation fails (janitor)."""
    sweep_seconds: float = Field(60.0, ge=0)
    """How often `serve` runs the janitor's job sweep (0: never)."""
    log_format: Literal["auto", "text", "json"] = "auto"
    """serve's and its workers' logs: readable lines on a terminal and JSON otherwise
    (auto), or always one of them."""
    rate_limit_per_minute: int = Field(120, ge=0)
    """Requests per API key and minute the local API takes before it answers 429 (0: off;
    on AWS the API Gateway usage plan throttles instead)."""
    rate_limit_burst: int = Field(30, ge=0)
    auth_failures_per_minute: int = Field(10, ge=0)
    """401s a client address may earn a minute before it gets 429 for anything but a key that
    is known to work (0: off); loopback counts like any address."""
    auth_failure_burst: int = Field(20, ge=0)
    max_json_bytes: int = Field(64 * 1024, ge=1)
    """Largest JSON request body the API reads."""
    sync_max_bytes: int = Field(25 * 1024**2, ge=1)
    """Largest file POST /v1/audio/transcriptions and /translations take (OpenAI's 25 MB);
    larger files go through the async API (POST /v1/jobs)."""
    sync_timeout_seconds: float = Field(600.0, ge=0)
    """How long those synchronous endpoints wait for the transcript (0: they are off)."""
    trusted_proxies: CommaList = ()
    """Addresses and networks (`10.0.0.5`, `10.0.0.0/8`) of reverse proxies in front of
    `serve`: only a request from one of them has its client taken from X-Forwarded-For
    (the rightmost hop that is not a proxy). Any set turns local dev mode off."""
    header_timeout_seconds: float = Field(10.0, gt=0)
    """How long `serve` waits for a request's line and headers before it answers 408 and
    closes the connection."""
    body_timeout_seconds: float = Field(30.0, gt=0)
    """The longest a request body may pause; a JSON body must arrive whole within it."""
    max_waiting_jobs_per_key: int = Field(100, ge=0)
    """Jobs one API key may have waiting for their audio (upload link still valid); one
    more is 429 too_many_jobs (0: no cap)."""
    max_queued_jobs_per_key: int = Field(100, ge=0)
    """Jobs one API key may have queued for a worker, not yet running; an upload or
    synchronous request past it is 429 too_many_jobs (0: no cap)."""
    metrics_token: str = Field("", repr=False)
    """A bearer token that reads /metrics without an API key (for a Prometheus scraper)."""
    sqlite_busy_timeout: float = Field(30.0, ge=0)
    """Seconds a local store operation waits for another process's lock before 503."""
    # Live transcription (issue 25): the limits of /v1/realtime.
    live_sessions_per_key: int = Field(2, ge=0)
    """Live sessions one API key may hold open at once; one more is refused (0: no cap)."""
    max_live_sessions: int = Field(4, ge=0)
    """Live sessions `serve` holds open at once, all keys together (0: no cap)."""
    live_idle_seconds: float = Field(60.0, gt=0)
    """A live session that receives no audio this long is closed."""
    live_max_seconds: float = Field(3 * 3600.0, gt=0)
    """A live session is closed this long after it opened."""
    live_max_message_bytes: int = Field(1024 * 1024, ge=1024)
    """The largest WebSocket message /v1/realtime reads (an append's base64 audio)."""
    # Speaker diarization (issue 18).
    diarization_model: Literal["auto", "pyannote", "resemblyzer"] = "auto"
    """auto (pyannote where it loads, else the offline resemblyzer), pyannote, resemblyzer."""
    hf_token: str = Field(
        "",
        repr=False,
        validation_alias=AliasChoices("SWESCRIBE_HF_TOKEN", "HF_TOKEN"),
    )
    """Hugging Face access token for the gated pyannote pipeline (never logged)."""
    worker_wheel: str = ""
    """s3:// URI of the swescribe wheel a new worker installs at boot (a code change needs
    no new AMI); empty: the AMI's own copy."""
    client_retries: int = Field(4, ge=0, le=20)
    """How often `swescribe submit` retries a call that is safe to repeat (0: never)."""

    @field_validator("data_dir")
    @classmethod
    def _expand_user(cls, value: Path) -> Path:
        return value.expanduser()

    @field_validator(
        "allowed_models", "instance_types", "subnet_ids", "trusted_proxies", mode="before"
    )
    @classmethod
    def _comma_list(cls, value: object) -> object:
        return _split_list(value)

    @field_validator("allowed_models")
    @classmethod
    def _names_only(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        bad = [name for name in names if not is_model_name(name)]
        if bad:
            raise ValueError(f"takes model names, not paths: {', '.join(map(repr, bad))}")
        return names

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses_only(cls, entries: tuple[str, ...]) -> tuple[str, ...]:
        bad = [entry for entry in entries if not _is_address_or_network(entry)]
        if bad:
            raise ValueError(f"takes IP addresses and networks, not {', '.join(map(repr, bad))}")
        return entries

    @field_validator("model_dirs", mode="before")
    @classmethod
    def _search_path(cls, value: object) -> object:
        if isinstance(value, str):
            extra = (Path(p).expanduser() for p in value.split(os.pathsep) if p)
            return (*extra, BAKED_MODEL_DIR)
        return value

    @model_validator(mode="before")
    @classmethod
    def _dev_mode_follows_the_backend(cls, values: Any) -> Any:
        if isinstance(values, dict) and "dev_mode" not in values:
            return {**values, "dev_mode": values.get("backend", "local") == "local"}
        return values

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Keyword arguments only: `from_env` reads the environment (os.environ or a given
        mapping) with pydantic-settings' own environment source and passes it in, so that
        `Settings()` is the defaults and a test's `from_env({})` sees no stray variable."""
        return (init_settings,)

    @property
    def offered_models(self) -> tuple[str, ...]:
        """The model names a job may ask for: SWESCRIBE_ALLOWED_MODELS, else the configured
        model (none when that is a path: a client never names a directory)."""
        names = self.allowed_models or (self.model,)
        return tuple(name for name in names if is_model_name(name))

    @property
    def model_cache_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def speaker_model_dirs(self) -> tuple[Path, ...]:
        """Where the offline speaker model's fetched weights are looked for, in order."""
        return (self.speaker_model_dir, *self.model_dirs)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from the environment (os.environ, or `env`); keyword overrides (CLI
        flags) win when not None. A bad value raises InvalidSetting."""
        env = os.environ if env is None else env
        values = {
            "data_dir": default_data_dir(env),
            "speaker_model_dir": default_cache_dir(env) / "models",
            **_MappingSource(cls, env)(),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls(**values)
        except ValidationError as error:
            raise InvalidSetting(_explain(error, env)) from None

    def replace(self, **changes: Any) -> Settings:
        """A copy with some settings changed, checked like the rest."""
        try:
            return self.model_validate({**self.model_dump(), **changes})
        except ValidationError as error:
            raise InvalidSetting(_explain(error, {})) from None


class _MappingSource(EnvSettingsSource):
    """pydantic-settings' environment source, reading a given mapping instead of
    os.environ (tests, and a worker's environment checked before it is launched)."""

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str]) -> None:
        self._env = env
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(self._env, self.case_sensitive, self.env_ignore_empty, None)

    def __call__(self) -> dict[str, Any]:
        try:
            return super().__call__()
        except SettingsError as error:
            raise InvalidSetting(str(error)) from None


def env_names(name: str, info: FieldInfo) -> tuple[str, ...]:
    """The environment variables a setting is read from, first one first."""
    alias = info.validation_alias
    if isinstance(alias, AliasChoices):
        return tuple(str(choice) for choice in alias.choices)
    return (f"{ENV_PREFIX}{name.upper()}",)


def accepts(info: FieldInfo) -> str:
    """What a setting takes, in words: `a whole number from 0 to 64`."""
    kind = info.annotation
    if kind is bool:
        text = "1 or 0 (also true/false, yes/no, on/off)"
    elif kind is int:
        text = "a whole number"
    elif kind is float:
        text = "a number"
    elif getattr(kind, "__origin__", None) is Literal:
        text = "one of " + ", ".join(str(choice) for choice in get_args(kind))
    elif kind is Path:
        text = "a directory"
    else:
        text = "text"
    least = next((m.ge for m in info.metadata if isinstance(m, Ge)), None)
    above = next((m.gt for m in info.metadata if isinstance(m, Gt)), None)
    most = next((m.le for m in info.metadata if isinstance(m, Le)), None)
    if least is not None and most is not None:
        text += f" from {least} to {most}"
    elif least is not None:
        text += f" of at least {least}"
    elif above is not None:
        text += f" above {above}"
    return text


def _explain(error: ValidationError, env: Mapping[str, str]) -> str:
    """One line for all the bad values: each variable, what it got and what it takes."""
    return "; ".join(_explain_one(detail, env) for detail in error.errors())


def _explain_one(detail: ErrorDetails, env: Mapping[str, str]) -> str:
    name = str(detail["loc"][0]) if detail["loc"] else ""
    info = Settings.model_fields.get(name)
    if info is None:
        return f"{name or 'settings'}: {detail['msg']}"
    variable = next((v for v in env_names(name, info) if v in env), env_names(name, info)[0])
    if detail["type"] == "value_error":
        return f"{variable} {detail['ctx']['error']}"
    got = env.get(variable, detail["input"])
    return f"{variable} takes {accepts(info)}, not {str(got)!r}"
