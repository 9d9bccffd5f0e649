"""The live bulk runner: many extractions through the Messages API, under the rate limits, fairly.

One `LiveRunner` per process (the app holds it in a JobManager). A dispatcher thread takes the next item
in fair order, waits until the RateLimiter says it fits, then hands it to a worker thread that calls the
sync Gateway. So concurrency follows the headers: as many requests are in flight as the buckets admit
(at most `concurrency`, a thread cap), and the run stays under the limits instead of bouncing off them.

- Slow start: until the first reply comes back, one request at a time (it may be a spend limit or a bad
  key, which stop the job, and it brings the rate-limit headers the limiter needs).
- Fairness: per-user queues served round-robin (one rep's 500 notes cannot starve another's single
  note), and a priority lane served first (interactive work: `priority > 0`).
- Retries are the runner's own (the gateway sibling has `max_retries=0`, so the limiter sees every 429):
  429 -> every admission pauses for retry-after and the item is re-queued; 5xx, overloaded and dropped
  connections -> re-queued with backoff (0.5 s, 1 s, 2 s ... capped at 8 s) up to `max_attempts`;
  an invalid reply -> asked once more, as on the Extract page; 400/401, budgets and spend limits -> failed
  with the reason (401, budget and spend limit stop the job: every other item would fail the same way).
- Every item ends succeeded or failed with a reason, in the JobStore; every HTTP attempt is a usage row.
- Interrupting a job (SIGTERM, a full disk) stops admitting its items; those queued go back to queued in
  the store, those in flight finish and are kept; the job is then `interrupted`, ready to resume.
- When the store refuses a write (a full disk), nothing new is sent and the write is tried again for up
  to `storage_grace_s`: a disk that fills for a while costs a pause, not a note. Past that, every job
  here is interrupted and `storage_error` says why: nothing is reported done that was not stored.
- Items are claimed from the store a few at a time (`claim_size`) and topped up as they finish, so on a
  shared Postgres database no two processes work one item; the heartbeat renews the claims, a result is
  stored only while this process still holds its item's claim, and a job another process asks to
  cancel (its status turns `canceling`) is canceled here at the next heartbeat.
- Time is injectable (`clock`, `sleep`) so tests run it on the sandbox's virtual clock.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import threading
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from lib.bulk.input import extraction_request
from lib.bulk.limiter import Cost, Grant, NeverFits, RateLimiter, sustained_rate
from lib.claude.gateway import Gateway, observe_attempts
from lib.core.errors import (
    AuthenticationFailed,
    BudgetExceeded,
    ClaudeUnavailable,
    InputRejected,
    InvalidRequest,
    Overloaded,
    RateLimited,
    ReplyInvalid,
    ScribeError,
    StreamInterrupted,
)
from lib.usage.log import STORAGE_ERRORS, first_line
from lib.work.schemas import Extraction

if TYPE_CHECKING:
    from lib.bulk.jobs import JobStore

_log = logging.getLogger(__name__)
DEFAULT_MAX_TOKENS = 4000  # as on the Extract page; lowered per request when the output bucket is smaller
CANCELED = "Canceled before it was sent."
HEARTBEAT_S = 5.0


@dataclass(frozen=True)
class Stop:
    """Why a job stopped taking items: its final status, the reason, and whether its unsent items stay queued."""

    status: str
    reason: str | None
    requeue: bool = False
_GUIDE_TOKENS = 2000  # the cached house guide, counted until the first replies show it is cached


@dataclass(frozen=True)
class JobTemplate:
    """What every item of a live job shares (its WorkItems are made from it as they are claimed)."""

    job_id: str
    user: str
    model: str
    max_tokens: int = DEFAULT_MAX_TOKENS
    priority: int = 0


@dataclass
class WorkItem:
    """One note of a job, as the runner carries it between attempts."""

    job_id: str
    item_no: int
    user: str
    model: str
    note: str
    note_date: date | None
    max_tokens: int = DEFAULT_MAX_TOKENS
    priority: int = 0
    attempts: int = 0  # HTTP attempts made (all jobs' items share the limiter)
    transient: int = 0  # 5xx / overloaded / connection failures so far
    rate_limited: int = 0
    invalid: int = 0  # invalid replies so far
    not_before: float = 0.0
    finished: bool = False

    @property
    def note_bytes(self) -> int:
        return len(self.note.encode("utf-8"))


class FairQueue:
    """Priority lane first, then per-user queues round-robin; items waiting out a backoff step aside."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._priority: deque[WorkItem] = deque()
        self._users: OrderedDict[str, deque[WorkItem]] = OrderedDict()
        self._later: list[tuple[float, int, WorkItem]] = []  # heap by not_before
        self._tie = itertools.count()

    def push(self, item: WorkItem, now: float | None = None) -> None:
        with self._lock:
            if now is not None and item.not_before > now:
                heapq.heappush(self._later, (item.not_before, next(self._tie), item))
            else:
                self._lane(item).append(item)

    def _lane(self, item: WorkItem) -> deque[WorkItem]:
        if item.priority > 0:
            return self._priority
        return self._users.setdefault(item.user, deque())

    def peek(self, now: float) -> tuple[WorkItem | None, float | None]:
        """(the next item to send, None), or (None, when the next waiting item is due / None if empty)."""
        with self._lock:
            while self._later and self._later[0][0] <= now:
                item = heapq.heappop(self._later)[2]
                self._lane(item).appendleft(item)  # a retry goes before its user's other items
            if self._priority:
                return self._priority[0], None
            for lane in self._users.values():
                if lane:
                    return lane[0], None
            return None, (self._later[0][0] if self._later else None)

    def take(self, item: WorkItem) -> bool:
        """Remove `item` (the one peek returned); its user goes to the back of the round."""
        with self._lock:
            lane = self._lane(item)
            if not lane or lane[0] is not item:
                return False
            lane.popleft()
            if item.priority <= 0:
                self._users.move_to_end(item.user)
                if not lane:
                    del self._users[item.user]
            return True

    def remove_job(self, job_id: str) -> list[WorkItem]:
        """Take every queued item of a job out (cancel)."""
        with self._lock:
            removed = [i for i in self._priority if i.job_id == job_id]
            self._priority = deque(i for i in self._priority if i.job_id != job_id)
            for user in list(self._users):
                lane = self._users[user]
                removed += [i for i in lane if i.job_id == job_id]
                self._users[user] = deque(i for i in lane if i.job_id != job_id)
                if not self._users[user]:
                    del self._users[user]
            removed += [entry[2] for entry in self._later if entry[2].job_id == job_id]
            self._later = [entry for entry in self._later if entry[2].job_id != job_id]
            heapq.heapify(self._later)
            return removed

    def users(self) -> set[str]:
        with self._lock:
            return {u for u, lane in self._users.items() if lane} | {e[2].user for e in self._later}

    def __len__(self) -> int:
        with self._lock:
            return len(self._priority) + sum(len(lane) for lane in self._users.values()) + len(self._later)


class InputEstimator:
    """Input tokens a request will be charged for ITPM (input + cache writes), before it is sent.

    A cheap estimate (UTF-8 bytes / 4 of the note and the uncached prompt parts) times a ratio learned
    from the replies: the largest charged/estimated ratio of the last 20, plus 5 %. Until the first
    reply it also counts the house guide, which the first call writes to the cache.
    """

    def __init__(self, base_bytes: int = 2400):
        self.base_bytes = base_bytes  # task instructions, schema, fences: what every request adds
        self._ratios: deque[float] = deque(maxlen=20)
        self._lock = threading.Lock()

    def raw(self, note_bytes: int) -> float:
        return (note_bytes + self.base_bytes) / 4

    def estimate(self, note_bytes: int) -> int:
        with self._lock:
            if not self._ratios:
                return math.ceil(self.raw(note_bytes) * 1.25) + _GUIDE_TOKENS
            return math.ceil(self.raw(note_bytes) * max(self._ratios) * 1.05)

    def learn(self, note_bytes: int, charged: int) -> None:
        with self._lock:
            self._ratios.append(charged / self.raw(note_bytes))


@dataclass
class RunnerStats:
    """Counts since the runner started (for the bench and the page)."""

    sent: int = 0
    rate_limited: int = 0
    retried: int = 0
    succeeded: int = 0
    failed: int = 0
    completions: deque[float] = field(default_factory=lambda: deque(maxlen=200))


class LiveRunner:
    """Sends queued items through the gateway under the limiter, with `concurrency` worker threads."""

    def __init__(self, gateway: Gateway, store: JobStore, *, limiter: RateLimiter | None = None,
                 concurrency: int = 8, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] | None = None, max_attempts: int = 5,
                 max_rate_limited: int = 10, backoff_s: float = 0.5, max_backoff_s: float = 8.0,
                 storage_grace_s: float = 60.0):
        self.gateway = gateway.with_max_retries(0)
        self.store = store
        self.clock = clock
        self.limiter = limiter or RateLimiter(clock)
        self.concurrency = concurrency
        self.max_attempts = max_attempts
        self.max_rate_limited = max_rate_limited
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.storage_grace_s = storage_grace_s
        self.storage_waits = 0  # writes that had to wait for the store (for the CLI's summary)
        self._storage_waiting = 0  # threads waiting for the store to take a write: admit nothing meanwhile
        self.queue = FairQueue()
        self.estimator = InputEstimator()
        self.stats = RunnerStats()
        self._sleep = sleep
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._in_flight = 0
        self._outstanding: Counter[str] = Counter()
        self._closing: Counter[str] = Counter()  # jobs whose last item is done and whose ending is being stored
        self._stopped_jobs: dict[str, Stop] = {}
        self.outcomes: dict[str, Stop] = {}  # how each job ended here, even if the store could not be told
        self.storage_error: str | None = None
        self._last_beat = 0.0
        self.heartbeat_s = min(HEARTBEAT_S, getattr(store, "lease_s", 60.0) / 3)  # well inside the lease
        self.claim_size = max(8, 2 * concurrency)  # items claimed at a time per job
        self._feeds: dict[str, JobTemplate] = {}  # jobs whose items this runner claims as it goes
        self._job_locks: dict[str, threading.RLock] = {}  # a job's claims and ending, one thread at a time
        self._answered = False  # until the first reply, one request at a time: it may say stop (a spend
        # limit, a bad key) or bring the rate limits, before a burst of requests is sent blind
        self._avg_output = 500.0
        self._executor = ThreadPoolExecutor(concurrency, thread_name_prefix="scribe-bulk")
        self._stopping = False
        self._thread = threading.Thread(target=self._dispatch, name="scribe-bulk-dispatch", daemon=True)
        self._thread.start()

    # -- the public side ------------------------------------------------------------------------------

    def work(self, job: JobTemplate) -> int:
        """Work a live job: claim its first items now, the rest as these finish (a stopped job worked
        again runs again). Returns how many were claimed; 0: no item is left that no one else holds."""
        with self._job_lock(job.job_id):
            with self._lock:
                self.storage_error = None  # the caller has just written this job: the store takes writes
                self._stopped_jobs.pop(job.job_id, None)
            self._feeds[job.job_id] = job
        claimed = self._refill(job.job_id)
        if not claimed:
            self._feeds.pop(job.job_id, None)
        return claimed

    def submit(self, items: list[WorkItem]) -> None:
        """Queue items this process has claimed (in order); they are sent as the limits allow."""
        with self._lock:
            for item in items:
                self._outstanding[item.job_id] += 1
        for item in items:
            self.queue.push(item)
        self._wake.set()

    def _job_lock(self, job_id: str) -> threading.RLock:
        """Taken before `_lock`, never while holding it."""
        with self._lock:
            return self._job_locks.setdefault(job_id, threading.RLock())

    def _refill(self, job_id: str) -> int:
        """Claim more of the job's items, up to `claim_size` outstanding here; returns how many."""
        with self._job_lock(job_id):
            job = self._feeds.get(job_id)
            if job is None or job_id in self._stopped_jobs or self.storage_error:
                return 0
            with self._lock:
                want = self.claim_size - self._outstanding.get(job_id, 0)
            try:
                claimed = self._stored(self.store.claim_items, job_id, want) if want > 0 else []
            except STORAGE_ERRORS as exc:
                self._storage_failed(exc)
                return 0
            self.submit([WorkItem(job_id=job_id, item_no=p.item_no, user=job.user, model=job.model, note=p.note,
                                  note_date=p.note_date, max_tokens=job.max_tokens, priority=job.priority,
                                  attempts=p.attempts) for p in claimed])
            return len(claimed)

    def cancel(self, job_id: str, *, reason: str = CANCELED, status: str = "canceled") -> int:
        """Stop a job: its queued items fail with `reason`; items in flight finish (they are paid for)."""
        with self._job_lock(job_id), self._lock:  # a refill under way finishes first: its items are removed below
            self._stopped_jobs.setdefault(job_id, Stop(status, reason))
        removed = self.queue.remove_job(job_id)
        for item in removed:
            self._final(item, None, reason, "canceled")  # the last one to finish closes the job
        self._wake.set()
        return len(removed)

    def interrupt(self, job_id: str, reason: str) -> int:
        """Stop a job so it can be resumed: its queued items stay queued, items in flight finish and are kept."""
        with self._job_lock(job_id), self._lock:
            self._stopped_jobs.setdefault(job_id, Stop("interrupted", reason, requeue=True))
        removed = self.queue.remove_job(job_id)
        for item in removed:
            self._release(item)
        self._wake.set()
        return len(removed)

    def jobs_here(self) -> list[str]:
        """Jobs with items queued or in flight in this runner."""
        with self._lock:
            return [job_id for job_id, left in self._outstanding.items() if left > 0]

    def outstanding(self, job_id: str | None = None) -> int:
        """Items of a job (or of all jobs) not yet finished."""
        with self._lock:
            if job_id:
                return self._outstanding[job_id] + self._closing[job_id]
            return sum(self._outstanding.values()) + sum(self._closing.values())

    def in_flight(self) -> int:
        """Requests sent and not yet answered (and handled)."""
        with self._lock:
            return self._in_flight

    def wait_idle(self, timeout_s: float | None = None, poll_s: float = 0.05) -> bool:
        """Block (real time) until nothing is queued or in flight; False on timeout."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while self.outstanding():
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(poll_s)
        return True

    def eta_s(self, job_id: str, remaining: int | None = None) -> float | None:
        """Seconds until the job's remaining items are done (default: those claimed here), at the recent rate
        and its fair share."""
        remaining = self.outstanding(job_id) if remaining is None else remaining
        if not remaining:
            return 0.0
        rate = self.rate_per_s()
        if not rate:
            return None
        share = max(1, len(self.queue.users()))
        return remaining * share / rate

    def rate_per_s(self) -> float | None:
        """Items finished per second recently, or what the known limits sustain."""
        times = list(self.stats.completions)
        if len(times) >= 5 and times[-1] > times[0]:
            return (len(times) - 1) / (times[-1] - times[0])
        limits = self.limiter.limits()
        return sustained_rate(limits, self.estimator.estimate(2000), self._avg_output) if limits else None

    def shutdown(self, wait: bool = True) -> None:
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout=5)
        self._executor.shutdown(wait=wait, cancel_futures=not wait)

    # -- the dispatcher -------------------------------------------------------------------------------

    def _dispatch(self) -> None:
        while not self._stopping:
            try:
                self._dispatch_one()
            except STORAGE_ERRORS as exc:  # the store refused a write made here (a too-large item's failure)
                self._storage_failed(exc)
            except Exception:  # noqa: BLE001 - the dispatcher must outlive any one item
                _log.exception("bulk dispatcher: unexpected error")
                time.sleep(0.05)

    def _dispatch_one(self) -> None:
        """Admit the next item if the limits allow (one turn of the dispatcher)."""
        self._wake.clear()
        self._heartbeat()
        if self._in_flight >= self.concurrency or self._storage_waiting or (self._in_flight and not self._answered):
            self._wake.wait(0.05)
            return
        now = self.clock()
        item, due = self.queue.peek(now)
        if item is None:
            self._wait(None if due is None else due - now, idle=due is None)
            return
        cost = self._cost(item)
        try:
            grant, wait = self.limiter.try_acquire(cost)
        except NeverFits as exc:
            if self.queue.take(item):
                self._final(item, None, f"Too large for the rate limits: it {exc}.", "too_large")
            return
        if grant is None:
            self._wait(wait, idle=False)
            return
        if not self.queue.take(item):  # canceled meanwhile
            self.limiter.release(grant)
            return
        with self._lock:
            self._in_flight += 1
        future = self._executor.submit(self._run, item, grant)
        future.add_done_callback(lambda f, item=item, grant=grant: self._after(f, item, grant))

    def _heartbeat(self) -> None:
        """Tell the store, every few seconds, that this process still works its jobs (best effort)."""
        now = time.monotonic()
        if now - self._last_beat < self.heartbeat_s:
            return
        self._last_beat = now
        try:
            statuses = self.store.heartbeat(self.jobs_here())
        except STORAGE_ERRORS as exc:
            _log.warning("bulk: heartbeat not written: %s", exc)
            return
        for job_id, status in (statuses or {}).items():
            if status == "canceling" and job_id not in self._stopped_jobs:  # canceled from another process
                self.cancel(job_id)

    def _stored(self, write: Callable[..., object], *args: object, **kwargs: object) -> object:
        """`write(*args)` to the store; while it refuses, try again (admitting nothing) for up to storage_grace_s."""
        deadline = None
        while True:
            try:
                return write(*args, **kwargs)
            except STORAGE_ERRORS:
                now = time.monotonic()
                deadline = deadline if deadline is not None else now + self.storage_grace_s
                if now >= deadline or self._stopping:
                    raise
                with self._lock:
                    self._storage_waiting += 1
                    self.storage_waits += 1
                try:
                    time.sleep(0.25)
                finally:
                    with self._lock:
                        self._storage_waiting -= 1

    def _storage_failed(self, exc: BaseException) -> None:
        """The store refused a write: interrupt every job here, so none is reported done while items are unsaved."""
        reason = (f"Interrupted: the database could not be written ({type(exc).__name__}: "
                  f"{first_line(exc)}).")
        with self._lock:
            self.storage_error = self.storage_error or reason
        _log.error("bulk: %s", reason)
        for job_id in self.jobs_here():
            self.interrupt(job_id, reason)

    def _wait(self, seconds: float | None, *, idle: bool) -> None:
        """Wait for time to pass (injected sleep: virtual time in tests) or for something to happen."""
        if seconds is None:
            self._wake.wait(0.5 if idle else 0.05)
        elif self._sleep is not None:
            self._sleep(min(seconds, 1.0))
        else:
            self._wake.wait(min(seconds, 1.0))  # a reply or a new item may make room sooner

    def _cost(self, item: WorkItem) -> Cost:
        capacity = self.limiter.capacity("output_tokens")
        if capacity is not None and item.max_tokens > capacity:
            item.max_tokens = max(1, int(capacity * 0.9))  # never reserve more than the bucket can hold
        return Cost(input_tokens=self.estimator.estimate(item.note_bytes), output_tokens=item.max_tokens)

    def _after(self, future: Future, item: WorkItem, grant: Grant) -> None:
        try:
            error = future.exception()
            if isinstance(error, STORAGE_ERRORS):  # its result could not be stored: it is sent again on resume
                self._storage_failed(error)
                self._release(item)
            elif error is not None and not item.finished:  # a bug: still, never lose the item
                self._final(item, None, f"Internal error: {type(error).__name__}: {error}", "internal")
        finally:
            if grant.observed:
                self.limiter.settle(grant)
            else:
                self.limiter.release(grant)
            with self._lock:
                self._in_flight -= 1
                self._answered = True
            self._wake.set()

    # -- one attempt ----------------------------------------------------------------------------------

    def _run(self, item: WorkItem, grant: Grant) -> None:
        if item.job_id in self._stopped_jobs:  # stopped after it was taken
            self._stop_item(item)
            return
        item.attempts += 1
        with self._lock:
            self.stats.sent += 1
        try:
            with observe_attempts(lambda status, headers: self.limiter.observe(grant, status, headers)):
                parsed, result = self.gateway.parse(
                    feature="extract", user=item.user, output_format=Extraction,
                    **extraction_request(item.note, item.note_date, model=item.model, max_tokens=item.max_tokens))
        except ScribeError as err:
            self._failed_attempt(item, grant, err)
            return
        self._settle(item, grant, result.record)
        if not parsed.people:
            self._stored(self.store.add_spend, item.job_id, item.item_no, result.record)
            self._final(item, None, "Claude found no people in this note.", "no_people")
            return
        if not self._stored(self.store.succeed, item.job_id, item.item_no, parsed, result, attempts=item.attempts,
                            claimed=True):
            return self._lost(item)
        self._final(item, True, None)
        return None

    def _settle(self, item: WorkItem, grant: Grant, record) -> None:  # noqa: ANN001 - UsageRecord | None
        if record is None:
            self.limiter.settle(grant)
            return
        charged = record.input_tokens + record.cache_creation_input_tokens
        self.limiter.settle(grant, input_tokens=charged, output_tokens=record.output_tokens)
        self.estimator.learn(item.note_bytes, charged)
        self._avg_output = 0.9 * self._avg_output + 0.1 * record.output_tokens

    def _failed_attempt(self, item: WorkItem, grant: Grant, err: ScribeError) -> None:
        """Decide what a failed attempt means: wait and retry, ask again, or fail with the reason."""
        now = self.clock()
        if isinstance(err, ReplyInvalid):
            record = getattr(err.result, "record", None)
            self._settle(item, grant, record)
            self._stored(self.store.add_spend, item.job_id, item.item_no, record)
            item.invalid += 1
            if item.invalid < 2:
                return self._retry(item, now, "invalid reply")
            return self._final(item, None, f"Claude's reply failed validation twice: {_excerpt(err.raw_text)}",
                               "invalid")
        if isinstance(err, RateLimited):
            return self._rate_limited(item, grant, err, now)
        if isinstance(err, Overloaded | ClaudeUnavailable | StreamInterrupted):
            item.transient += 1
            if item.transient < self.max_attempts:
                delay = min(self.backoff_s * 2 ** (item.transient - 1), self.max_backoff_s)
                return self._retry(item, now + delay, "transient")
            return self._final(item, None, f"Failed {item.transient} times: {err.message}", "transient")
        if isinstance(err, AuthenticationFailed | BudgetExceeded):
            self._final(item, None, err.message, "stopped")
            self.cancel(item.job_id, reason=f"Not sent: {err.message}", status="failed")
            return None
        if isinstance(err, InvalidRequest | InputRejected):
            return self._final(item, None, err.message)
        return self._final(item, None, f"{type(err).__name__}: {err.message}")

    def _rate_limited(self, item: WorkItem, grant: Grant, err: RateLimited, now: float) -> None:
        capacity = self.limiter.capacity("output_tokens")
        if err.retry_after_s is None and capacity is not None and item.max_tokens > capacity:
            return self._retry(item, now, "max_tokens above the output bucket")  # _cost lowers it
        if err.retry_after_s is None:  # a spend limit: nothing will get through until someone acts
            self._final(item, None, err.message, "stopped")
            self.cancel(item.job_id, reason=f"Not sent: {err.message}", status="failed")
            return None
        with self._lock:
            self.stats.rate_limited += 1
        item.rate_limited += 1
        if item.rate_limited > self.max_rate_limited:
            return self._final(item, None, f"Rate limited {item.rate_limited} times; last: {err.message}",
                               "rate_limited")
        self.limiter.pause_until(now + err.retry_after_s)
        return self._retry(item, now + err.retry_after_s, "rate limited")

    def _retry(self, item: WorkItem, not_before: float, why: str) -> None:
        if item.job_id in self._stopped_jobs:
            return self._stop_item(item)
        with self._lock:
            self.stats.retried += 1
        item.not_before = not_before
        if not self._stored(self.store.mark, item.job_id, item.item_no, "queued", attempts=item.attempts,
                            error=f"retrying: {why}", claimed=True):
            return self._lost(item)
        self.queue.push(item, self.clock())
        self._wake.set()
        return None

    def _stop_item(self, item: WorkItem) -> None:
        """An item of a stopped job: back to queued (interrupted) or failed with the job's reason (canceled)."""
        stop = self._stopped_jobs[item.job_id]
        if stop.requeue:
            self._release(item)
        else:
            self._final(item, None, stop.reason, "canceled")

    def _release(self, item: WorkItem) -> None:
        """The item leaves this runner unfinished: queued again in the store, to be sent when the job resumes."""
        with self._lock:
            if item.finished:
                return
            item.finished = True
        try:
            self.store.mark(item.job_id, item.item_no, "queued", attempts=item.attempts, error=None, claimed=True,
                            release=True)
        except STORAGE_ERRORS as exc:  # still claimed there: sent again on resume, or by another after the lease
            _log.debug("bulk: item %s-%s not re-queued in the store: %s", item.job_id, item.item_no, exc)
        finally:
            self._item_left(item.job_id)

    def _lost(self, item: WorkItem) -> None:
        """The item's claim was lost (this process's lease lapsed and another took the item over): whatever
        this process got for it is not stored; the item is the other process's now."""
        _log.warning("bulk: item %s-%s was taken over by another process; its result here is not kept",
                     item.job_id, item.item_no)
        with self._lock:
            if item.finished:
                return
            item.finished = True
        self._item_left(item.job_id)

    def _item_left(self, job_id: str) -> None:
        """One item of the job is over here: top the job's claims up, or, at its last item, end it."""
        left = self._count_down(job_id)
        if left < self.concurrency:
            self._refill(job_id)
        if left <= 0:
            self._maybe_finish(job_id)

    def _count_down(self, job_id: str) -> int:
        """One item fewer; at the last one the job counts as closing until `_maybe_finish` has stored how it
        ended (so `wait_idle` never returns before the job's status is written)."""
        with self._lock:
            self._outstanding[job_id] -= 1
            left = self._outstanding[job_id]
            if left <= 0:
                del self._outstanding[job_id]
                self._closing[job_id] += 1
            return left

    def _final(self, item: WorkItem, succeeded: bool | None, reason: str | None, kind: str = "other") -> None:
        """The item is over: failed with a reason and its kind (succeeded items were stored by the caller)."""
        with self._lock:
            if item.finished:
                return
            item.finished = True
        try:
            if not succeeded:
                self._stored(self.store.mark, item.job_id, item.item_no, "failed", attempts=item.attempts,
                             error=reason, kind=kind, claimed=True, release=True)
        except STORAGE_ERRORS as exc:  # not stored: the job ends interrupted and a resume sends the item again
            self._storage_failed(exc)
        finally:  # the job's count goes down even if the database refused the row
            with self._lock:
                if succeeded:
                    self.stats.succeeded += 1
                else:
                    self.stats.failed += 1
                self.stats.completions.append(self.clock())
        self._item_left(item.job_id)

    def _maybe_finish(self, job_id: str) -> None:
        """The job has nothing left here: unless a refill just claimed more, store how it ended."""
        try:
            with self._job_lock(job_id):
                with self._lock:
                    refilled = self._outstanding.get(job_id, 0) > 0
                if not refilled:
                    self._feeds.pop(job_id, None)
                    self._store_ending(job_id)
        finally:
            with self._lock:
                self._closing[job_id] -= 1
                if self._closing[job_id] <= 0:
                    del self._closing[job_id]

    def _store_ending(self, job_id: str) -> None:
        stop = self._stopped_jobs.get(job_id) or (
            Stop("interrupted", self.storage_error, requeue=True) if self.storage_error else Stop("done", None))
        self.outcomes[job_id] = stop
        try:
            if not stop.requeue and stop.status != "done":  # canceled or failed: what no one sent fails with it
                self.store.fail_unsent(job_id, stop.reason or CANCELED)
            if stop.status == "done" and self.store.unfinished(job_id):  # the rest is held by another process
                self.outcomes[job_id] = Stop("running", "Another process works the rest of this job.")
                return
            if stop.status == "interrupted":
                self.store.set_status(job_id, stop.status, error=stop.reason)
            else:
                self.store.set_status(job_id, stop.status, error=stop.reason if stop.status == "failed" else None,
                                      finished=True)
        except STORAGE_ERRORS as exc:  # `outcomes` still says how it ended; the store shows it running
            _log.error("bulk: job %s ended %s but the store could not be told: %s", job_id, stop.status, exc)


def _excerpt(text: str, limit: int = 120) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class SimulatedTime:
    """Clock and sleep for a runner on a simulated clock (the sandbox's VirtualClock), for tests.

    Sleeping first waits (briefly, in real time) for a reply already in flight: the sandbox moves the
    clock as it answers, and the dispatcher must see that reply before time jumps past it, as it would
    in real time. With nothing in flight, sleeping moves the clock forward by itself.
    """

    def __init__(self, now: Callable[[], float], advance: Callable[[float], object]):
        self.now = now
        self._advance = advance
        self._runner: LiveRunner | None = None

    def attach(self, runner: LiveRunner) -> None:
        self._runner = runner

    def sleep(self, seconds: float) -> None:
        target = self.now() + seconds
        busy = self._runner.in_flight() if self._runner is not None else 0
        if busy:
            deadline = time.monotonic() + 5.0
            while self._runner.in_flight() >= busy and time.monotonic() < deadline:
                time.sleep(0.0005)
            return
        late = target - self.now()
        if late > 0:
            self._advance(late)
