"""The nightly run while the app is up, on the embedded DuckDB file: the CLI hands its job to the app.

DuckDB lets one process write a file, and the running app holds it. So when `python -m lib.bulk` finds
the file held, it writes its request into a folder beside the database; the app's watcher takes it (a
rename: one taker), runs it with the app's own job manager as the CLI would have, and writes its progress
and outcome there; the CLI prints them and exits as it would have. The app beats a heartbeat file while
it watches: without a fresh beat (another program holds the file, or an older Scribe) the CLI says the
database is busy and exits 2, as before. On Postgres nothing is handed off: every process writes itself.

    <db>.handoff/alive           the watching app's pid and its last beat
    <db>.handoff/inbox/ID.json   a request, until the app takes it (moved to taken/)
    <db>.handoff/outbox/ID.json  the request's progress, rewritten as it goes, then its outcome

Whoever may write this folder may write the database beside it, so a request is trusted as the CLI is:
it names who runs it, and that person's role applies in the app as it would in the CLI.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from lib.bulk.input import BadRow, BulkInput, ColumnMap, NoteRow

if TYPE_CHECKING:
    from lib.auth import Identity, RoleRules
    from lib.bulk.jobs import JobInfo
    from lib.bulk.manager import JobManager
    from lib.core.settings import Settings


class Services(Protocol):
    """What a handed-in request needs of the composition root's Services (lib/services.py ranks above)."""

    settings: Settings
    db: Any
    rules: RoleRules

    def jobs(self) -> JobManager: ...

    def job_for(self, identity: Identity, job_id: str, *, manage: bool = False) -> JobInfo: ...

    def resume_job(self, identity: Identity, job_id: str) -> int: ...

HEARTBEAT_S = 1.0  # how often the watching app beats and looks into its inbox
ALIVE_WITHIN_S = 10.0  # a beat older than this: no app is watching
FIRST_BEAT_WITHIN_S = 5.0  # an app that has just opened the file starts beating within this
TAKE_WITHIN_S = 15.0  # a request the app has not taken by then is withdrawn
PROGRESS_S = 1.0  # how often a running request's progress is rewritten

_log = logging.getLogger(__name__)


def folder_for(database_file: Path) -> Path:
    return database_file.with_name(database_file.name + ".handoff")


@dataclass
class Request:
    """What the CLI asks the app to run: the same commands, with the notes already read and checked."""

    command: str  # enrich | resume | collect
    user: str
    auth_configured: bool
    mode: str | None = None  # enrich: live | batch
    model: str | None = None
    max_tokens: int | None = None
    notes: list[dict[str, Any]] = field(default_factory=list)  # NoteRow fields, dates as ISO text
    bad_rows: list[dict[str, Any]] = field(default_factory=list)  # BadRow fields
    source: str | None = None
    job_id: str | None = None  # resume, collect
    want_proposals: bool = False  # the CLI has --out
    no_wait: bool = False
    poll_s: float = 30.0
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    @classmethod
    def enrich(cls, notes: BulkInput, **kw: Any) -> Request:
        rows = [asdict(r) | {"note_date": r.note_date.isoformat() if r.note_date else None} for r in notes.rows]
        return cls(command="enrich", notes=rows, bad_rows=[asdict(b) for b in notes.bad], source=notes.source, **kw)

    def bulk_input(self) -> BulkInput:
        rows = [NoteRow(**(n | {"note_date": date.fromisoformat(n["note_date"]) if n["note_date"] else None}))
                for n in self.notes]
        return BulkInput(rows=rows, bad=[BadRow(**b) for b in self.bad_rows], mapping=ColumnMap(note=None),
                         source=self.source or "")


class Mailbox:
    """The folder's protocol; the app's side and the CLI's."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.inbox, self.taken, self.outbox = folder / "inbox", folder / "taken", folder / "outbox"

    # -- the app's side ---------------------------------------------------------------------------------

    def beat(self) -> None:
        for part in (self.inbox, self.taken, self.outbox):
            part.mkdir(parents=True, exist_ok=True)
        _write_json(self.folder / "alive", {"pid": os.getpid(), "at": time.time()})

    def take(self) -> list[Request]:
        """Requests waiting, oldest first, each moved to taken/ (a rename: a withdrawn one is not taken)."""
        taken = []
        for path in sorted(self.inbox.glob("*.json"), key=lambda p: p.stat().st_mtime if p.exists() else 0):
            target = self.taken / path.name
            try:
                os.rename(path, target)
            except FileNotFoundError:
                continue  # withdrawn by its CLI meanwhile
            try:
                taken.append(Request(**json.loads(target.read_text(encoding="utf-8"))))
            except (ValueError, TypeError) as err:
                self.report(path.stem, state="done", exit_code=2, lines=[f"Error: unreadable request ({err})."])
        return taken

    def report(self, request_id: str, **state: Any) -> None:
        _write_json(self.outbox / f"{request_id}.json", state)

    def stop_beating(self) -> None:
        (self.folder / "alive").unlink(missing_ok=True)

    # -- the CLI's side ---------------------------------------------------------------------------------

    def app_alive(self) -> int | None:
        """The pid of the app watching this folder, if its last beat is fresh and the process is there."""
        beat = _read_json(self.folder / "alive")
        if not beat or time.time() - float(beat.get("at", 0)) > ALIVE_WITHIN_S:
            return None
        pid = int(beat.get("pid", 0))
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass  # another OS user's app: alive all the same
        return pid

    def wait_for_app(self, within_s: float) -> int | None:
        """`app_alive`, giving an app that has just opened the database the time to start watching."""
        deadline = time.monotonic() + within_s
        while (pid := self.app_alive()) is None and time.monotonic() < deadline:
            time.sleep(0.2)
        return pid

    def submit(self, request: Request) -> None:
        _write_json(self.inbox / f"{request.id}.json", asdict(request))

    def withdraw(self, request_id: str) -> bool:
        """Take a request back if the app has not taken it; False when it has (it runs: wait for it)."""
        try:
            (self.inbox / f"{request_id}.json").unlink()
        except FileNotFoundError:
            return False
        return True

    def state(self, request_id: str) -> dict[str, Any] | None:
        return _read_json(self.outbox / f"{request_id}.json")

    def forget(self, request_id: str) -> None:
        for path in (self.outbox / f"{request_id}.json", self.taken / f"{request_id}.json"):
            path.unlink(missing_ok=True)


def summary_lines(job: JobInfo, failures: list[tuple[int, str]]) -> list[str]:
    """The job's outcome as the CLI prints it (run here or handed to the app)."""
    cost = "price unknown" if job.cost_unknown else f"${job.cost_usd:.4f}"
    lines = [f"Job {job.id} ({job.kind}, {job.status}): {job.total} item(s), {job.succeeded} succeeded, "
             f"{job.failed} failed; {job.input_tokens:,} input + {job.output_tokens:,} output tokens; cost {cost}"
             + (" (batch: half price)" if job.kind == "batch" else "")]
    if job.bad_rows:
        lines.append(f"  ({job.bad_rows} bad row(s) in the file were not sent)")
    for reason, count in Counter(reason for _, reason in failures).most_common():
        rows = [str(r) for r, why in failures if why == reason]
        lines.append(f"  failed x{count}: {reason} (rows {', '.join(rows[:20])}{' …' if len(rows) > 20 else ''})")
    if job.error:
        lines.append(f"  job error: {job.error}")
    return lines


# -- the app's watcher ----------------------------------------------------------------------------------


class Watcher:
    """Beats, and runs each request the CLI hands in, in its own thread, with the app's services."""

    def __init__(self, mailbox: Mailbox, services: Services) -> None:
        self.mailbox = mailbox
        self.services = services  # the newest Services of this database (the app may rebuild them)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="scribe-handoff", daemon=True)

    def start(self) -> None:
        self.mailbox.beat()  # at once: a CLI started right after the app sees it
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.mailbox.stop_beating()

    def _watch(self) -> None:
        while not self._stop.is_set():
            try:
                self.mailbox.beat()
                for request in self.mailbox.take():
                    threading.Thread(target=serve, args=(self.services, self.mailbox, request),
                                     name=f"scribe-handoff-{request.id}", daemon=True).start()
            except OSError:
                _log.exception("the handoff folder %s cannot be used", self.mailbox.folder)
            self._stop.wait(HEARTBEAT_S)


_watchers: dict[Path, Watcher] = {}
_watchers_lock = threading.Lock()


def watch(services: Services) -> Watcher | None:
    """Serve CLI handoffs for this Services' DuckDB file (once per file per process; the newest Services
    runs them). None on Postgres, where the CLI writes itself."""
    if services.db.dialect != "duckdb" or str(services.db.path) == ":memory:":
        return None
    folder = folder_for(Path(services.db.path))
    with _watchers_lock:
        watcher = _watchers.get(folder)
        if watcher is None:
            watcher = _watchers[folder] = Watcher(Mailbox(folder), services)
            watcher.start()
        watcher.services = services
        return watcher


def stop_watching(services: Services) -> None:
    with _watchers_lock:
        for folder, watcher in list(_watchers.items()):
            if watcher.services is services:
                watcher.stop()
                del _watchers[folder]


def serve(services: Services, mailbox: Mailbox, request: Request) -> None:
    """Run one handed-in request to its end and write the outcome; nothing it raises escapes the thread."""
    from lib.auth import cli_identity
    from lib.core.errors import ScribeError

    try:
        if request.command != "enrich" and services.jobs().job(request.job_id) is None:
            mailbox.report(request.id, state="done", exit_code=2, lines=[f"No job {request.job_id} in {services.db.path}."])
            return
        who = cli_identity(request.user, services.rules, auth_configured=request.auth_configured)
        lines, job_id = _start(services, who, request)
        mailbox.report(request.id, state="running", job_id=job_id, lines=lines)
        job = _follow(services, mailbox, request, job_id, lines)
        if request.no_wait and job.kind == "batch" and job.active:
            lines.append(f"Submitted; collect later with: python -m lib.bulk collect {job_id}")
            mailbox.report(request.id, state="done", job_id=job_id, lines=lines, exit_code=0)
            return
        manager = services.jobs()
        proposals = manager.store.proposals(job_id) if request.want_proposals else []
        lines += summary_lines(job, manager.store.failures(job_id))
        mailbox.report(request.id, state="done", job_id=job_id, lines=lines, proposals=proposals,
                       exit_code=0 if job.status == "done" else 1)
    except ScribeError as err:
        mailbox.report(request.id, state="done", lines=[f"Error: {err}"], exit_code=1)
    except Exception:  # noqa: BLE001 - a thread of the app: the CLI gets a reference, the log the traceback
        reference = uuid.uuid4().hex[:8]
        _log.exception("handed-off request %s failed, reference %s", request.id, reference)
        mailbox.report(request.id, state="done", exit_code=1,
                       lines=[f"Error: the app could not run it (reference {reference}, in the app's log)."])


def _start(services: Services, who: Any, request: Request) -> tuple[list[str], str]:
    manager = services.jobs()
    if request.command == "enrich":
        notes = request.bulk_input()
        model = request.model or services.settings.model_for("batch")
        if request.mode == "live":
            job_id = manager.start_live(notes, user=who.user, model=model, max_tokens=request.max_tokens)
            return [f"Live job {job_id}: {len(notes.rows)} note(s), model {model}"], job_id
        job_id = manager.start_batch(notes, user=who.user, model=model, max_tokens=request.max_tokens)
        return [f"Batch job {job_id}: batch(es) {', '.join(manager.store.batches(job_id)['batch_id'])}"], job_id
    services.job_for(who, request.job_id, manage=request.command == "resume")  # a rep works only their own jobs
    if request.command == "resume":
        return [f"Resuming job {request.job_id}: {services.resume_job(who, request.job_id)} note(s) still to send"], \
            request.job_id
    return [], request.job_id


def _follow(services: Services, mailbox: Mailbox, request: Request, job_id: str, lines: list[str]) -> JobInfo:
    """Wait for the job, rewriting its progress; a batch is polled at the API every poll_s."""
    manager = services.jobs()
    last_poll = 0.0
    while True:
        job = manager.store.job(job_id)
        if job.kind == "batch" and job.active and time.monotonic() - last_poll >= request.poll_s:
            manager.refresh_batches(job_id)
            last_poll = time.monotonic()
            job = manager.store.job(job_id)
        if not job.active or (request.no_wait and job.kind == "batch"):
            return job
        mailbox.report(request.id, state="running", job_id=job_id, lines=lines, done=job.done, total=job.total,
                       failed=job.failed)
        time.sleep(PROGRESS_S)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    """Whole or not at all: a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(data, default=str), encoding="utf-8")
    os.replace(tmp, path)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
