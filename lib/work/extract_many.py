"""Several pasted notes read at once: one `extract_note` call per note on a small thread pool, each
note's state (waiting, reading, done, failed and why) reported as it changes.

The rep waits for the slowest note, not for the sum of all of them. Concurrency is bounded: a rep's
paste is a handful of notes, so up to ten go at once and more wait their turn (the rate limits are the
organisation's); a 429 or 529 is retried by the SDK after the server's retry-after, so a tight limit
slows the notes down without failing them.
`iter_states` is a generator that runs on the caller's thread (Streamlit's script thread, which alone
may draw); the workers only put events on a queue.
"""

from __future__ import annotations

import queue
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum

from lib.claude.gateway import Gateway
from lib.core.errors import ScribeError
from lib.crm.fields import EMPTY, FieldCatalogue
from lib.work.extraction import NoteExtraction, extract_note

DEFAULT_CONCURRENCY = 10  # a paste of up to ten notes in one wave (bench/rep_flow.py: 4 made 5 notes take 2x)


class NoteStatus(StrEnum):
    WAITING = "waiting"
    READING = "reading"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class NoteState:
    """One note's progress; `run` once done, `error` once failed."""

    index: int  # 1-based, as the rep counts the notes they pasted
    preview: str
    status: NoteStatus = NoteStatus.WAITING
    run: NoteExtraction | None = None
    error: ScribeError | None = None

    @property
    def finished(self) -> bool:
        return self.status in (NoteStatus.DONE, NoteStatus.FAILED)


def preview_of(note: str, width: int = 60) -> str:
    """The note's first line, shortened: how the rep recognises it in the list (invalid characters as �)."""
    readable = note.encode("utf-8", errors="replace").decode("utf-8")
    first = next((line.strip() for line in readable.splitlines() if line.strip()), "")
    return first if len(first) <= width else first[: width - 1] + "…"


def iter_states(gateway: Gateway, notes: list[str], *, user: str, model: str, today: date | None = None,
                catalogue: FieldCatalogue = EMPTY, concurrency: int = DEFAULT_CONCURRENCY
                ) -> Iterator[list[NoteState]]:
    """Yield every note's state, first all waiting, then again after each change, until all are finished.

    A note that fails (a bad note, a reply invalid twice, an API error) is reported with its error and
    the others go on. Anything that is not a ScribeError is a defect: it propagates to the caller's
    error boundary once the pool has stopped."""
    states = [NoteState(index=n, preview=preview_of(note)) for n, note in enumerate(notes, start=1)]
    yield list(states)
    events: queue.SimpleQueue[tuple[int, NoteStatus, object]] = queue.SimpleQueue()

    def read(i: int, note: str) -> None:
        events.put((i, NoteStatus.READING, None))
        try:
            run = extract_note(gateway, note, user=user, model=model, today=today, catalogue=catalogue)
        except ScribeError as err:
            events.put((i, NoteStatus.FAILED, err))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread, raised there
            events.put((i, NoteStatus.FAILED, exc))
        else:
            events.put((i, NoteStatus.DONE, run))

    pool = ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(notes))), thread_name_prefix="extract")
    try:
        for i, note in enumerate(notes):
            pool.submit(read, i, note)
        while not all(s.finished for s in states):
            i, status, payload = events.get()
            if isinstance(payload, BaseException) and not isinstance(payload, ScribeError):
                raise payload
            states[i] = replace(states[i], status=status,
                                run=payload if isinstance(payload, NoteExtraction) else None,
                                error=payload if isinstance(payload, ScribeError) else None)
            yield list(states)
    finally:  # also when the caller stops early (a rerun): notes not started are dropped, calls in flight finish
        pool.shutdown(wait=True, cancel_futures=True)
