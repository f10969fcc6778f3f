"""Load on a real `swescribe serve`, bounded and on loopback only.

1. 1,000 job creations from 50 concurrent clients (each with its own API key): no
   errors, none lost; p50/p99 latency printed and written to tests/load/artifacts/.
2. 100 small jobs through the queue with 2 workers: every one completed exactly once,
   with exactly one webhook each.
"""

from __future__ import annotations

import json
import statistics
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from swescribe.adapters.local.sqlite_keys import SqliteApiKeyStore
from tests.conftest import audio
from tests.e2e.service import start_service
from tests.receiver import Receiver

pytestmark = pytest.mark.load

CLIENTS = 50
JOBS_PER_CLIENT = 20
SMALL_JOBS = 100
ARTIFACTS = Path(__file__).parent / "artifacts"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def test_a_thousand_job_creations_from_fifty_clients(tmp_path: Path) -> None:
    service = start_service(tmp_path / "serve", workers=0)
    try:
        store = SqliteApiKeyStore(service.data_dir / "swescribe.db")
        keys = [store.create(f"client-{n}")[1] for n in range(CLIENTS)]

        def client(key: str) -> tuple[list[float], list[int], list[str]]:
            latencies, failures, created = [], [], []
            with httpx.Client(base_url=service.url, headers={"X-API-Key": key}, timeout=30) as http:
                for _ in range(JOBS_PER_CLIENT):
                    started = time.perf_counter()
                    response = http.post("/v1/jobs", json={"formats": ["txt"]})
                    latencies.append(time.perf_counter() - started)
                    if response.status_code == 201:
                        created.append(response.json()["job_id"])
                    else:
                        failures.append(response.status_code)
            return latencies, failures, created

        started = time.perf_counter()
        with ThreadPoolExecutor(CLIENTS) as pool:
            results = list(pool.map(client, keys))
        wall = time.perf_counter() - started
        latencies = [value for result in results for value in result[0]]
        failures = [status for result in results for status in result[1]]
        created = [job for result in results for job in result[2]]
        report = {
            "requests": len(latencies),
            "clients": CLIENTS,
            "errors": len(failures),
            "seconds": round(wall, 2),
            "requests_per_second": round(len(latencies) / wall, 1),
            "p50_ms": round(1000 * statistics.median(latencies), 1),
            "p99_ms": round(1000 * percentile(latencies, 0.99), 1),
            "max_ms": round(1000 * max(latencies), 1),
        }
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "job-creation.json").write_text(json.dumps(report, indent=2) + "\n")
        print(f"\njob creation load: {report}")
        assert failures == [], Counter(failures)
        assert len(created) == len(set(created)) == CLIENTS * JOBS_PER_CLIENT
        for key, result in zip(keys, results, strict=True):
            with httpx.Client(base_url=service.url, headers={"X-API-Key": key}) as http:
                listed = http.get("/v1/jobs", params={"limit": 200}).json()["jobs"]
            assert sorted(j["job_id"] for j in listed) == sorted(result[2]), "none lost or mixed"
    finally:
        service.stop()


def test_a_hundred_small_jobs_with_two_workers_complete_exactly_once(tmp_path: Path) -> None:
    service = start_service(
        tmp_path / "serve",
        workers=2,
        SWESCRIBE_RATE_LIMIT_PER_MINUTE="0",
        SWESCRIBE_AUTH_FAILURES_PER_MINUTE="0",
        SWESCRIBE_WEBHOOK_BASE_DELAY="0.2",
        # One key's 100 jobs: the per-key caps (100 each by default) are not under test.
        SWESCRIBE_MAX_WAITING_JOBS_PER_KEY="0",
        SWESCRIBE_MAX_QUEUED_JOBS_PER_KEY="0",
    )
    receiver = Receiver(secret=None).start()
    clip = audio("cv_18748646.wav").read_bytes()
    try:
        job_ids = []
        with service.client() as http:
            for _ in range(SMALL_JOBS):
                job = http.post(
                    "/v1/jobs", json={"callback_url": receiver.url, "formats": ["txt"]}
                ).json()
                uploaded = httpx.put(
                    job["upload"]["url"], params={"filename": "a.wav"}, content=clip
                )
                assert uploaded.status_code == 200, uploaded.text
                job_ids.append(job["job_id"])
        started = time.perf_counter()
        for job_id in job_ids:
            done = service.wait_for_status(job_id, ("completed", "failed"), timeout=600)
            assert done["status"] == "completed", done
            assert done["attempts"] == 1, done
        seconds = time.perf_counter() - started
        receiver.wait_for(SMALL_JOBS, timeout=120)
        time.sleep(1.0)
        per_job = Counter(d.payload["job_id"] for d in receiver.deliveries)
        assert set(per_job) == set(job_ids)
        assert set(per_job.values()) == {1}, "exactly one webhook per job"
        results = list((service.data_dir / "objects" / "results").iterdir())
        assert len(results) == SMALL_JOBS
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "queue.json").write_text(
            json.dumps(
                {"jobs": SMALL_JOBS, "workers": 2, "seconds_after_upload": round(seconds, 1)}
            )
            + "\n"
        )
    finally:
        receiver.stop()
        service.stop()
