"""OpenAI's own Python SDK (and curl, as docs/api.md shows it) against a real
`swescribe serve` on 127.0.0.1: every response format, timestamps, a prompt,
translation, models, and the errors the SDK turns into its exceptions.

One server for the module (whisper-base, one worker) and short Common Voice clips keep
the CPU time small."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.conftest import AUDIO_DIR, REPO_ROOT, audio, reference
from tests.e2e.service import RunningService, start_service
from tests.lying_audio import scaled_timestamps_mkv, speech_in_silence
from tests.wer import word_error_rate

pytestmark = pytest.mark.model

CLIP = "cv_18746434.wav"  # "Har jag sagt hur mycket jag uppskattar dig", 4.7 s
SYNC_MAX_BYTES = 600_000
TOO_LARGE = "lattlast_stts.wav"  # 1 MB
MAX_AUDIO_SECONDS = 60


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    running = start_service(
        tmp_path_factory.mktemp("serve-openai"),
        workers=1,
        SWESCRIBE_SYNC_MAX_BYTES=str(SYNC_MAX_BYTES),
        SWESCRIBE_MAX_AUDIO_SECONDS=str(MAX_AUDIO_SECONDS),
    )
    yield running
    running.stop()
    assert running.api_key not in running.logs().split("\n", 3)[-1], "API key logged"


@pytest.fixture(scope="module")
def client(service: RunningService) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{service.url}/v1", api_key=service.api_key, max_retries=0)


def transcribe(client: openai.OpenAI, name: str = CLIP, **options: object) -> object:
    with audio(name).open("rb") as file:
        return client.audio.transcriptions.create(model="whisper-1", file=file, **options)  # type: ignore[call-overload]


def test_json_gives_the_swedish_text(client: openai.OpenAI) -> None:
    result = transcribe(client)
    assert isinstance(result, openai.types.audio.Transcription)
    assert word_error_rate(reference(CLIP.removesuffix(".wav")), result.text) <= 0.35


def test_text_srt_and_vtt_come_back_as_plain_text(client: openai.OpenAI) -> None:
    text = transcribe(client, response_format="text")
    assert isinstance(text, str)
    assert "uppskatta" in text.lower()
    assert text.endswith("\n")
    srt = transcribe(client, response_format="srt")
    assert isinstance(srt, str)
    assert re.match(r"1\n\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}\n", srt)
    vtt = transcribe(client, response_format="vtt")
    assert isinstance(vtt, str)
    assert vtt.startswith("WEBVTT")
    assert re.search(r"\d\d:\d\d:\d\d\.\d{3} --> \d\d:\d\d:\d\d\.\d{3}", vtt)


def test_verbose_json_with_word_and_segment_timestamps(client: openai.OpenAI) -> None:
    result = transcribe(
        client, response_format="verbose_json", timestamp_granularities=["word", "segment"]
    )
    assert isinstance(result, openai.types.audio.TranscriptionVerbose)
    assert result.language == "swedish"
    assert result.duration == pytest.approx(4.704, abs=0.01)
    assert result.segments
    segment = result.segments[0]
    assert 0 <= segment.start < segment.end <= result.duration + 0.1
    assert segment.tokens
    assert -5 < segment.avg_logprob <= 0
    assert 0 <= segment.no_speech_prob <= 1
    assert result.words
    assert [w.word for w in result.words][:3] == ["Har", "jag", "sagt"]
    starts = [w.start for w in result.words]
    assert starts == sorted(starts)
    assert all(w.start <= w.end <= result.duration + 0.1 for w in result.words)
    segments_only = transcribe(client, response_format="verbose_json")
    assert isinstance(segments_only, openai.types.audio.TranscriptionVerbose)
    assert segments_only.segments
    assert segments_only.words is None


def test_a_prompt_reaches_the_model_and_is_recorded_on_the_job(
    client: openai.OpenAI, service: RunningService
) -> None:
    expected = reference(CLIP.removesuffix(".wav"))
    plain = transcribe(client, response_format="text")
    prompted = transcribe(client, response_format="text", prompt="Jag uppskattar dig.")
    assert isinstance(plain, str)
    assert isinstance(prompted, str)
    assert word_error_rate(expected, prompted) <= word_error_rate(expected, plain)
    with service.client() as http:
        newest = http.get("/v1/jobs", params={"limit": 1}).json()["jobs"][0]
    assert newest["prompt"] == "Jag uppskattar dig."
    assert newest["status"] == "completed"


def test_translation_gives_english_text(client: openai.OpenAI) -> None:
    with audio(CLIP).open("rb") as file:
        result = client.audio.translations.create(
            model="whisper-1", file=file, response_format="verbose_json"
        )
    assert isinstance(result, openai.types.audio.TranslationVerbose)
    assert result.language == "swedish"
    assert result.text
    assert not set("åäöÅÄÖ") & set(result.text)
    with audio(CLIP).open("rb") as file:
        plain = client.audio.translations.create(model="whisper-1", file=file)
    assert plain.text == result.text


def test_models_list_the_openai_name_and_the_offered_ones(client: openai.OpenAI) -> None:
    ids = [model.id for model in client.models.list()]
    assert ids[0] == "whisper-1"
    assert "whisper-base" in ids
    assert client.models.retrieve("whisper-1").id == "whisper-1"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-5")


def test_a_wrong_key_is_the_sdks_authentication_error(service: RunningService) -> None:
    wrong = openai.OpenAI(base_url=f"{service.url}/v1", api_key="sws_wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as denied:
        wrong.models.list()
    assert denied.value.code == "invalid_api_key"
    # A small file: the 401 comes before the body is read, and a body still being sent
    # when the server closes can meet a connection reset instead of the answer.
    with pytest.raises(openai.AuthenticationError):
        wrong.audio.transcriptions.create(model="whisper-1", file=("a.wav", b"RIFF" + bytes(400)))


def test_a_file_that_is_not_audio_is_a_bad_request(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        client.audio.transcriptions.create(model="whisper-1", file=("notes.wav", b"not audio"))
    assert refused.value.code == "invalid_audio"
    with pytest.raises(openai.BadRequestError) as unknown:
        client.audio.transcriptions.create(model="whisper-large-v9", file=("a.wav", b"RIFF"))
    assert unknown.value.param == "model"


@pytest.mark.parametrize("name", ["x.m3u8", "x.mp3"])
def test_a_playlist_naming_a_file_on_the_servers_disk_is_refused_not_transcribed(
    client: openai.OpenAI, tmp_path: Path, name: str
) -> None:
    """The attack of issue 24: an HLS playlist whose one segment is a file on the
    server's disk (here a clip that is never uploaded) came back transcribed."""
    secret = tmp_path / "secret.mp3"
    secret.write_bytes(audio("formats/espeak_02.mp3").read_bytes())
    playlist = (
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n#EXT-X-MEDIA-SEQUENCE:0\n"
        f"#EXTINF:4.07,\n{secret}\n#EXT-X-ENDLIST\n"
    ).encode()
    with pytest.raises(openai.BadRequestError) as refused:
        client.audio.transcriptions.create(model="whisper-1", file=(name, playlist))
    assert refused.value.code == "invalid_audio"
    assert "playlist" in str(refused.value)


def test_a_wav_naming_no_codec_is_one_bad_request_the_sdk_does_not_retry(
    service: RunningService,
) -> None:
    """Issue 24: bits per sample zeroed gave a 500 the SDK retried, three jobs."""
    data = bytearray(audio(CLIP).read_bytes())
    data[34:36] = b"\0\0"
    retrying = openai.OpenAI(base_url=f"{service.url}/v1", api_key=service.api_key, max_retries=2)
    headers = {"X-API-Key": service.api_key}
    with httpx.Client(base_url=service.url, headers=headers) as http:
        before = len(http.get("/v1/jobs", params={"limit": 200}).json()["jobs"])
        with pytest.raises(openai.BadRequestError) as refused:
            retrying.audio.transcriptions.create(model="whisper-1", file=("b.wav", bytes(data)))
        after = len(http.get("/v1/jobs", params={"limit": 200}).json()["jobs"])
    assert refused.value.code == "invalid_audio"
    assert "names no codec" in str(refused.value)
    assert after == before + 1


def test_a_container_claiming_2_s_for_115_s_is_refused_at_the_audio_limit(
    client: openai.OpenAI, tmp_path: Path
) -> None:
    """Issue 24: FLAC in Matroska with its timestamps scaled by 0.02 (ffmpeg -itsscale)
    claimed 2.3 s and was transcribed in full past SWESCRIBE_MAX_AUDIO_SECONDS."""
    held = speech_in_silence(115, {104.0: "cv_18733516.wav"})
    attack = scaled_timestamps_mkv(tmp_path / "attack.mkv", held)
    with pytest.raises(openai.BadRequestError) as refused, attack.open("rb") as file:
        client.audio.transcriptions.create(model="whisper-1", file=file)
    assert refused.value.code == "audio_too_long"
    assert "longer than the limit of 0:01:00" in str(refused.value)


def test_a_file_over_the_sync_limit_is_refused_pointing_to_the_async_api(
    client: openai.OpenAI, service: RunningService
) -> None:
    assert audio(TOO_LARGE).stat().st_size > SYNC_MAX_BYTES
    with pytest.raises(openai.APIStatusError) as refused:
        transcribe(client, TOO_LARGE)
    assert refused.value.status_code == 413
    assert "POST /v1/jobs" in refused.value.message
    with service.client() as http:  # the server is fine afterwards, on the same key
        assert http.get("/healthz").status_code == 200


def test_the_curl_example_in_docs_api_md_works(service: RunningService) -> None:
    text = (REPO_ROOT / "docs" / "api.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    [example] = [b for b in blocks if "curl" in b and "/v1/audio/transcriptions" in b]
    example = example.replace("http://127.0.0.1:8000", service.url)
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", example],
        cwd=REPO_ROOT,
        env={**os.environ, "KEY": service.api_key},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "uppskatta" in done.stdout.lower()


@pytest.fixture(scope="module")
def idle_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    """A service with no workers and a 1 s synchronous wait: every request times out."""
    running = start_service(
        tmp_path_factory.mktemp("serve-idle"), workers=0, SWESCRIBE_SYNC_TIMEOUT_SECONDS="1"
    )
    yield running
    running.stop()


def test_a_wait_past_the_timeout_names_the_job_which_goes_on_and_is_not_retried(
    idle_service: RunningService,
) -> None:
    sdk = openai.OpenAI(base_url=f"{idle_service.url}/v1", api_key=idle_service.api_key)
    with pytest.raises(openai.APIStatusError) as waited, audio(CLIP).open("rb") as file:
        sdk.audio.transcriptions.create(model="whisper-1", file=file)  # default retries on
    assert waited.value.status_code == 504
    job_id = waited.value.response.headers["X-Swescribe-Job-Id"]
    assert f"/v1/jobs/{job_id}/transcript" in waited.value.message
    with httpx.Client(base_url=idle_service.url) as http:
        jobs = http.get(
            "/v1/jobs", headers={"Authorization": f"Bearer {idle_service.api_key}"}
        ).json()["jobs"]
    assert [(j["job_id"], j["status"]) for j in jobs] == [(job_id, "launching")]


def test_diarize_labels_the_verbose_json_segments(client: openai.OpenAI, tmp_path: Path) -> None:
    """swescribe's extension through the SDK's extra_body: who spoke which segment (a
    reader and two other voices, short enough for the test service's sync limit)."""
    sys.path.insert(0, str(REPO_ROOT / "bench"))
    from conversations import LATTLAST_SENTENCES, Say, build_conversation

    says = (
        Say("R", clip="lattlast_stts", cut=LATTLAST_SENTENCES[0], gap=0.3),
        Say("V1", clip="cv_18746434", gap=0.6),
        Say("R", clip="lattlast_stts", cut=LATTLAST_SENTENCES[1], gap=0.6),
        Say("V2", clip="cv_18711295", cut=(0.8, 2.7), gap=0.6),
    )
    talk = tmp_path / "talk.wav"
    build_conversation(AUDIO_DIR, says, talk)
    with talk.open("rb") as file:
        result = client.audio.transcriptions.create(
            model="whisper-1",
            file=file,
            response_format="verbose_json",
            extra_body={"diarize": "true"},
        )
    speakers = [(segment.model_extra or {}).get("speaker") for segment in result.segments or []]
    assert speakers[0] == "S1"
    assert len(set(speakers)) >= 2
    assert None not in speakers


@pytest.fixture(scope="module")
def talk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A reader and two other voices, about 12 s: several segments, several speakers."""
    sys.path.insert(0, str(REPO_ROOT / "bench"))
    from conversations import LATTLAST_SENTENCES, Say, build_conversation

    says = (
        Say("R", clip="lattlast_stts", cut=LATTLAST_SENTENCES[0], gap=0.3),
        Say("V1", clip="cv_18746434", gap=0.6),
        Say("R", clip="lattlast_stts", cut=LATTLAST_SENTENCES[1], gap=0.6),
        Say("V2", clip="cv_18711295", cut=(0.8, 2.7), gap=0.6),
    )
    path = tmp_path_factory.mktemp("talk") / "talk.wav"
    build_conversation(AUDIO_DIR, says, path)
    return path


def test_stream_true_sends_deltas_that_add_up_to_the_plain_answers_text(
    client: openai.OpenAI, talk: Path
) -> None:
    """Issue 25: the SDK's stream=True reads transcript.text.delta events, then done."""
    with talk.open("rb") as file:
        events = list(
            client.audio.transcriptions.create(model="gpt-transcribe", file=file, stream=True)
        )
    *deltas, done = events
    assert isinstance(done, openai.types.audio.TranscriptionTextDoneEvent)
    assert all(isinstance(e, openai.types.audio.TranscriptionTextDeltaEvent) for e in deltas)
    assert len(deltas) >= 2
    assert "".join(e.delta for e in deltas) == done.text
    with talk.open("rb") as file:
        plain = client.audio.transcriptions.create(model="gpt-transcribe", file=file)
    assert done.text == plain.text
    assert "uppskatta" in done.text.lower()


def test_stream_true_with_srt_is_the_sdks_bad_request(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as refused, audio(CLIP).open("rb") as file:
        client.audio.transcriptions.create(
            model="whisper-1", file=file, stream=True, response_format="srt"
        )
    assert refused.value.param == "stream"


def test_keywords_and_languages_reach_the_job_as_hotwords_and_language(
    client: openai.OpenAI, service: RunningService
) -> None:
    with audio(CLIP).open("rb") as file:
        result = client.audio.transcriptions.create(
            model="gpt-realtime-whisper",
            file=file,
            keywords=["uppskattar", "Ljungqvist"],
            languages=["sv", "en"],
        )
    assert word_error_rate(reference(CLIP.removesuffix(".wav")), result.text) <= 0.35
    with service.client() as http:
        newest = http.get("/v1/jobs", params={"limit": 1}).json()["jobs"][0]
    assert newest["hotwords"] == "uppskattar Ljungqvist"
    assert newest["language"] == "sv"


def test_the_diarize_model_answers_diarized_json_and_streams_its_segments(
    client: openai.OpenAI, talk: Path
) -> None:
    """gpt-4o-transcribe-diarize with diarized_json runs swescribe's diarization."""
    with talk.open("rb") as file:
        result = client.audio.transcriptions.create(
            model="gpt-4o-transcribe-diarize",
            file=file,
            response_format="diarized_json",
            chunking_strategy="auto",
        )
    assert isinstance(result, openai.types.audio.TranscriptionDiarized)
    speakers = [segment.speaker for segment in result.segments]
    assert speakers[0] == "A"
    assert len(set(speakers)) >= 2
    assert result.segments[-1].end <= result.duration + 0.1
    with talk.open("rb") as file:
        events = list(
            client.audio.transcriptions.create(
                model="gpt-4o-transcribe-diarize",
                file=file,
                response_format="diarized_json",
                chunking_strategy={"type": "server_vad", "threshold": 0.5},
                stream=True,
            )
        )
    segments = [
        e for e in events if isinstance(e, openai.types.audio.TranscriptionTextSegmentEvent)
    ]
    assert [(s.speaker, s.text) for s in segments] == [(s.speaker, s.text) for s in result.segments]
    done = events[-1]
    assert isinstance(done, openai.types.audio.TranscriptionTextDoneEvent)
    assert done.text == result.text
