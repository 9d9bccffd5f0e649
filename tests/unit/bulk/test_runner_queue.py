"""The runner's fair queue and the batch splitter, without a server."""

import json

import pytest

from lib.bulk.batches import split
from lib.bulk.runner import FairQueue, InputEstimator, WorkItem


def item(user, n, job="j1", priority=0, not_before=0.0):
    return WorkItem(job_id=job, item_no=n, user=user, model="m", note="x", note_date=None, priority=priority,
                    not_before=not_before)


def drain(queue, now=0.0):
    out = []
    while True:
        nxt, _ = queue.peek(now)
        if nxt is None:
            return out
        assert queue.take(nxt)
        out.append((nxt.user, nxt.item_no))


def test_users_are_served_round_robin_so_one_big_job_does_not_starve_a_small_one():
    queue = FairQueue()
    for n in range(1, 6):
        queue.push(item("ana", n))
    queue.push(item("bo", 1, job="j2"))
    order = drain(queue)
    assert order.index(("bo", 1)) <= 1
    assert [n for u, n in order if u == "ana"] == [1, 2, 3, 4, 5]


def test_the_priority_lane_goes_first():
    queue = FairQueue()
    for n in range(1, 4):
        queue.push(item("ana", n))
    queue.push(item("cy", 1, job="now", priority=1))
    assert drain(queue)[0] == ("cy", 1)


def test_an_item_waiting_out_a_backoff_steps_aside_then_goes_first_for_its_user():
    queue = FairQueue()
    queue.push(item("ana", 1, not_before=10.0), now=0.0)
    queue.push(item("ana", 2))
    assert drain(queue, now=0.0) == [("ana", 2)]
    assert queue.peek(5.0) == (None, 10.0)
    queue.push(item("ana", 3))
    assert drain(queue, now=10.0) == [("ana", 1), ("ana", 3)]


def test_cancel_removes_every_queued_item_of_the_job_only():
    queue = FairQueue()
    queue.push(item("ana", 1))
    queue.push(item("ana", 2, not_before=5.0), now=0.0)
    queue.push(item("bo", 1, job="j2"))
    assert sorted(i.item_no for i in queue.remove_job("j1")) == [1, 2]
    assert drain(queue) == [("bo", 1)] and len(queue) == 0


def test_the_input_estimate_starts_high_then_follows_what_was_charged():
    estimator = InputEstimator()
    first = estimator.estimate(2000)
    estimator.learn(2000, 1100)
    assert estimator.estimate(2000) < first
    assert estimator.estimate(2000) >= 1100


def test_batches_are_split_by_request_count_and_by_bytes():
    requests = [{"custom_id": f"j-{n}", "params": {"note": "x" * 100}} for n in range(10)]
    assert [len(c) for c in split(requests, max_requests=4)] == [4, 4, 2]
    one = len(json.dumps(requests[0], separators=(",", ":"))) + 1
    chunks = split(requests, max_bytes=int(3.5 * one / 0.95))
    assert [len(c) for c in chunks] == [3, 3, 3, 1]
    assert [r["custom_id"] for c in chunks for r in c] == [r["custom_id"] for r in requests]
    with pytest.raises(ValueError, match="over the batch limit"):
        split(requests, max_bytes=one // 2)
