"""One exception hierarchy for the whole product.

The CLI maps these to one-line messages and exit codes, the API to status codes,
each in one place. Messages are written for the person who has to act on them.
"""


class SwescribeError(Exception):
    """Base of every error swescribe raises on purpose."""

    code = "error"


class InvalidAudio(SwescribeError):
    """The input is not decodable audio (empty, truncated, not audio, no audio track)."""

    code = "invalid_audio"


class AudioTooLong(InvalidAudio):
    """Audio longer than the deployment's limit, measured on the decoded samples: a
    container's timestamps can claim any length, so decoding stops once it passes."""

    code = "audio_too_long"


class AudioNotFound(SwescribeError):
    """The audio file does not exist or cannot be read."""

    code = "audio_not_found"


class UnknownModel(SwescribeError):
    """The model name is neither a registered name nor a model directory."""

    code = "unknown_model"


class ModelUnavailable(SwescribeError):
    """The model is known but cannot be loaded here (offline, missing files, bad checksum)."""

    code = "model_unavailable"


class InvalidOption(SwescribeError):
    """A transcription or output option has a value that cannot work."""

    code = "invalid_option"


class JobNotFound(SwescribeError):
    """No such job, or not one the caller may see (the two are not told apart)."""

    code = "not_found"


class TransitionConflict(SwescribeError):
    """A conditional state change lost: the job was not in the state it was expected in."""

    code = "conflict"


class InvalidRequest(SwescribeError):
    """A request that is well-formed but cannot be done (bad URL, unknown field value)."""

    code = "invalid_request"


class UnsafeURL(InvalidRequest):
    """A callback or audio URL that points somewhere swescribe must not call."""

    code = "unsafe_url"


class Unauthorized(SwescribeError):
    """Missing, unknown or revoked API key."""

    code = "unauthorized"


class PayloadTooLarge(SwescribeError):
    """An upload or request body over its size limit."""

    code = "payload_too_large"


class KeyNotFound(SwescribeError):
    """No API key with that id."""

    code = "not_found"


class NotReady(SwescribeError):
    """The job has no result yet (still registered, queued or processing) or failed."""

    code = "not_ready"


class SecretUnreadable(SwescribeError):
    """A stored secret that will not open: sealed under another key file, or altered."""

    code = "secret_unreadable"


class StoreBusy(SwescribeError):
    """The job store is locked or overloaded right now; the same request can be retried."""

    code = "busy"


class RateLimited(SwescribeError):
    """Too many requests (or failed authentications) for now; retry after retry_after s."""

    code = "rate_limited"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TooManyJobs(SwescribeError):
    """The key already has as many jobs waiting for audio, or queued for a worker, as the
    operator allows one key; the message names the cap and what to do."""

    code = "too_many_jobs"


class ServiceFailure(SwescribeError):
    """A cloud service refused or failed a request that swescribe cannot fix by itself
    (a missing permission, an account limit, an outage past the client's retries).

    Unlike a plain lack of capacity, it is worth an alarm: the message says which service
    call failed and why, and the job it was for is in the log line beside it.
    """

    code = "service_failure"


class AddressInUse(SwescribeError):
    """The address and port `serve` was asked to listen on are taken (another service,
    often a serve already running): refused before any worker starts."""

    code = "address_in_use"


class InvalidSetting(InvalidOption):
    """A SWESCRIBE_* setting has a value that it does not take (the message names it)."""

    code = "invalid_setting"


class InvalidParameter(InvalidRequest):
    """A request parameter with a value that cannot work; `param` names it (OpenAI's
    error shape reports it)."""

    code = "invalid_parameter"

    def __init__(self, message: str, param: str) -> None:
        super().__init__(message)
        self.param = param


class SyncUnavailable(SwescribeError):
    """The synchronous endpoints are off here (the AWS shape, or a timeout of 0)."""

    code = "sync_unavailable"


class SyncTimeout(SwescribeError):
    """A synchronous request waited its limit; the job goes on and can be fetched."""

    code = "sync_timeout"

    def __init__(self, message: str, job_id: str) -> None:
        super().__init__(message)
        self.job_id = job_id


class SpeakerNotFound(SwescribeError):
    """No enrolled voice of that name or id for this key."""

    code = "speaker_not_found"


class SpeakerExists(SwescribeError):
    """A voice of that name is enrolled already for this key (remove it first)."""

    code = "speaker_exists"


class EnrolmentUnavailable(SwescribeError):
    """Voices cannot be enrolled here: this process has no speaker encoder (the API
    Lambda on AWS carries no numpy); the message says where it can be done."""

    code = "enrolment_unavailable"


class JobFailed(SwescribeError):
    """A job a synchronous request waited for failed for a reason of the service's own
    (not the input's): a crash, a storage error, a lost worker."""

    code = "job_failed"
