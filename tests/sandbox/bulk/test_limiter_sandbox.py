"""The limiter against the sandbox's real token buckets, on its virtual clock: under the limits, near them."""

from pathlib import Path

import pytest

from lib.bulk import input as bulk_input
from lib.bulk.manager import JobManager
from lib.bulk.runner import SimulatedTime
from lib.claude.gateway import Gateway
from lib.services import open_database
from lib.usage.log import UsageLog

SAMPLE = Path(__file__).resolve().parents[3] / "data" / "notes" / "sample_notes.csv"
KEY = "sk-test-limiter"


@pytest.fixture
def notes():
    return bulk_input.load(SAMPLE.read_bytes(), SAMPLE.name).rows


@pytest.fixture
def manager(sandbox, hermetic_env):
    db = open_database(hermetic_env)
    gateway = Gateway(UsageLog(db), api_key=KEY, base_url=sandbox.base_url, backend="sandbox")
    time = SimulatedTime(sandbox.clock.now, sandbox.clock.advance)
    jobs = JobManager(gateway, db, concurrency=8, clock=time.now, sleep=time.sleep)
    time.attach(jobs.runner)
    yield jobs
    jobs.shutdown()


def run(manager, rows, user="dana"):
    job_id = manager.start_live(rows, user=user, model="claude-sonnet-4-6")
    assert manager.runner.wait_idle(timeout_s=120)
    return manager.store.job(job_id)


def decisions(sandbox):
    return [e["decision"] for e in sandbox.journal if e["path"] == "/v1/messages"]


def test_a_burst_of_notes_stays_under_a_small_requests_limit(sandbox, manager, notes):
    sandbox.configure(rpm=30, burst_s=10, ttft_ms=50, tokens_per_s=4000)  # 5 at once, then one per 2 s
    start = sandbox.clock.now()
    job = run(manager, notes * 2)
    span = sandbox.clock.now() - start
    assert job.done == job.total == 40 and job.status == "done"
    assert decisions(sandbox).count("rate_limited") == 0
    possible = 30 * 10 / 60 + span * 30 / 60  # the burst, then the refill
    assert 40 / possible >= 0.9, f"{40} requests in {span:.0f} virtual s: {40 / possible:.0%} of the limit"


def test_output_tokens_bind_and_max_tokens_larger_than_the_bucket_is_learned(sandbox, manager, notes):
    # the example limits: OTPM binds; its 5 s bucket (3,333) is smaller than max_tokens 4,000
    sandbox.configure(rpm=600, itpm=200_000, otpm=40_000, burst_s=5, ttft_ms=50, tokens_per_s=4000)
    start = sandbox.clock.now()
    # long enough that the bucket's first reserve (one max_tokens reservation that can never be spent, a fixed
    # loss) does not decide the share: extraction replies got shorter with shortest-span evidence (issue 13)
    job = run(manager, notes * 8)
    span = sandbox.clock.now() - start
    assert job.done == job.total == 160
    assert decisions(sandbox).count("never_fits") <= 1  # the probe, at most; then max_tokens fits the bucket
    assert decisions(sandbox).count("rate_limited") == 0
    output = sandbox.stats()["tokens"]["output"]
    share = output / (40_000 * 5 / 60 + span * 40_000 / 60)
    assert share >= 0.9, f"{output} output tokens in {span:.0f} virtual s: {share:.0%} of OTPM"
    assert manager.runner.limiter.limits() == {"requests": 600, "input_tokens": 200_000, "output_tokens": 40_000}


def test_another_client_on_the_same_key_is_seen_in_the_headers(sandbox, manager, notes):
    sandbox.configure(rpm=60, burst_s=10, ttft_ms=50, tokens_per_s=4000)
    other = Gateway(UsageLog(manager.store.db), api_key=KEY, base_url=sandbox.base_url, backend="sandbox")
    for _ in range(4):  # someone else spends 4 of the bucket's 10 requests first
        other.create(feature="summarize", user="eve", model="claude-sonnet-4-6", max_tokens=5,
                     messages=[{"role": "user", "content": "hi"}])
    job = run(manager, notes)
    assert job.done == 20
    assert decisions(sandbox).count("rate_limited") == 0
