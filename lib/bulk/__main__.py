"""The cron CLI: enrich a file of notes live or through the Batch API; write proposals, never CRM changes.

    python -m lib.bulk enrich NOTES.csv --mode live|batch [--out proposals.jsonl] [--no-wait]
    python -m lib.bulk collect JOB_ID [--out proposals.jsonl] [--no-wait]     # a batch job sent earlier
    python -m lib.bulk resume JOB_ID [--out proposals.jsonl]                  # a live job that was interrupted
    python -m lib.bulk migrate --to postgresql://… [--from FILE]              # a DuckDB file's data into Postgres

Same settings as the app (ANTHROPIC_API_KEY, or the sandbox: without a key an in-process sandbox is
started; ANTHROPIC_BASE_URL; SCRIBE_DB or SCRIBE_DATABASE_URL; SCRIBE_MODEL_EXTRACT; SCRIBE_BULK_CONCURRENCY).
DuckDB lets one process write the file: when the running app holds it, the command is handed to the
app, which runs it with its own job manager while this prints its progress and outcome, and exits as
it would have (lib/bulk/handoff.py); another program holding the file: this says so and exits with
status 2. On Postgres the CLI and the app processes work side by side.

`migrate` copies the DuckDB file (default SCRIBE_DB) into Postgres (default SCRIBE_DATABASE_URL), table
by table; a second run copies nothing new. It prints the rows per table and checks that each arrived;
a key that holds different rows in the two stops it with status 1, having copied nothing.

SIGTERM or SIGINT (Ctrl-C) stops a live job cleanly: nothing new is sent, the requests in flight are
waited for (up to --grace-s) and logged, the job is marked interrupted, and the command that resumes
it is printed; `resume` sends only what was not finished. A batch job keeps running at the API.

Exit status: 0 the job finished (failed notes are listed with their reasons) or, with --no-wait, was
submitted; 1 the job failed, was canceled, or stopped because the database could not be written;
2 it could not start (database busy, unreadable file); 128 + the signal (130 SIGINT, 143 SIGTERM)
interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from lib import services
from lib.core.errors import ScribeError
from lib.core.models import model_table
from lib.core.settings import Settings, load_settings

if TYPE_CHECKING:  # imported in main(), once the database is opening: a start imports the SDK meanwhile
    from lib.bulk.input import BulkInput
    from lib.bulk.jobs import JobInfo
    from lib.bulk.manager import JobManager
    from lib.core.db import DatabaseBusy


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m lib.bulk", description="Bulk enrichment of call notes.")
    sub = p.add_subparsers(dest="command", required=True)
    enrich = sub.add_parser("enrich", help="extract CRM proposals from a CSV or JSONL file of notes")
    enrich.add_argument("notes", type=Path, help="CSV (header line; a note column) or JSONL (one object per line)")
    enrich.add_argument("--mode", choices=("live", "batch"), required=True,
                        help="live: now, under the rate limits; batch: Message Batches, half price, within 24 h")
    enrich.add_argument("--model", help="default SCRIBE_MODEL_EXTRACT")
    enrich.add_argument("--max-tokens", type=int, help="default 4000 (lib/bulk/runner.py DEFAULT_MAX_TOKENS)")
    for role in ("note", "date", "author", "contact"):
        enrich.add_argument(f"--{role}-column", help=f"the {role} column (default: guessed from the header)")
    collect = sub.add_parser("collect", help="check a batch job, import ended batches, write proposals")
    collect.add_argument("job_id")
    resume = sub.add_parser("resume", help="send what an interrupted live job did not finish")
    resume.add_argument("job_id")
    migrate = sub.add_parser("migrate", help="copy a DuckDB file's data into Postgres (idempotent)")
    migrate.add_argument("--to", help="postgresql://user:password@host:5432/db (default SCRIBE_DATABASE_URL; "
                         "the environment keeps the password out of the process list)")
    migrate.add_argument("--from", dest="source", type=Path, help="the DuckDB file (default SCRIBE_DB); its "
                         "pending migrations are applied first, as the app's start would")
    for command in (enrich, collect, resume):
        command.add_argument("--user", help="who runs it: recorded with every call and on the job, and, with "
                             "sign-in on, whose role applies (default the OS user)")
        command.add_argument("--out", type=Path, help="write the proposals here, one JSON object per line")
        command.add_argument("--no-wait", action="store_true", help="batch: print the batch ids and return")
        command.add_argument("--poll-s", type=float, default=30.0, help="batch: seconds between status checks")
        command.add_argument("--grace-s", type=float, default=30.0,
                             help="live: on SIGTERM/SIGINT, how long to wait for the requests in flight")
        command.add_argument("--storage-grace-s", type=float, default=60.0,
                             help="live: how long to pause and retry while the database refuses writes (a full "
                                  "disk) before the job is interrupted")
    return p.parse_args(argv)


class Stopping:
    """SIGTERM / SIGINT as a flag the wait loops check, so a job stops cleanly instead of mid-write."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.event = threading.Event()

    def install(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._handle)

    def _handle(self, signum: int, _frame: object) -> None:
        if self.signum is None:
            print(f"\n{signal.Signals(signum).name}: stopping; waiting for the requests in flight…", flush=True)
        self.signum = signum
        self.event.set()

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum else ""

    @property
    def exit_code(self) -> int:
        return 128 + (self.signum or 0)


STOP = Stopping()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.command == "migrate":
        return _migrate(args)
    STOP.install()
    settings = load_settings()
    opening = services.open_in_background(settings)  # the database and the backend, while the SDK is imported
    from lib.bulk.runner import DEFAULT_MAX_TOKENS
    from lib.core.db import DatabaseBusy

    if getattr(args, "max_tokens", 0) is None:
        args.max_tokens = DEFAULT_MAX_TOKENS
    try:
        app = services.build(settings, seed=False, **opening.result())
    except DatabaseBusy as err:
        return _hand_off(args, settings, err)
    from lib.auth import cli_identity

    auth_configured = _auth_configured()
    who = cli_identity(getattr(args, "user", None), app.rules, auth_configured=auth_configured)
    manager = app.jobs()
    manager.runner.storage_grace_s = args.storage_grace_s
    print(f"Backend: {'sandbox (offline simulator, nothing billed)' if app.backend.is_sandbox else 'Claude API'}")
    for job_id in manager.interrupted_on_start:
        print(f"Job {job_id} was left unfinished by a process that stopped; resume it with: "
              f"python -m lib.bulk resume {job_id}")
    code = 1
    try:
        if args.command == "enrich":
            job_id = _enrich(args, manager, who.user, settings.model_for("batch"))
        else:
            job_id = args.job_id
            if manager.job(job_id) is None:
                print(f"No job {job_id} in {settings.scribe_db}.", file=sys.stderr)
                return (code := 2)
            app.job_for(who, job_id, manage=args.command == "resume")  # a rep works only their own jobs
            if args.command == "resume":
                print(f"Resuming job {job_id}: {app.resume_job(who, job_id)} note(s) still to send")
        if job_id is None:
            return (code := 2)
        code = _finish(args, manager, job_id)
        return code
    except ScribeError as err:
        print(f"Error: {err}", file=sys.stderr)
        return (code := 1)
    finally:
        code = _close(app, code)


# The usage package's roll-ups: rebuilt from usage_log on first use, so not copied (emptied when rows are).
DERIVED_TABLES = ("usage_daily", "usage_latency_daily", "usage_outcome_daily", "usage_rollup_state")


def _migrate(args: argparse.Namespace) -> int:
    """Copy the DuckDB file's data into Postgres; print and check the counts per table. Never shows the password."""
    from lib.core.db import DB_ERRORS, DatabaseBusy
    from lib.core.postgres import redact
    from lib.core.transfer import TransferConflict, copy_database

    settings = load_settings()
    url = args.to or (settings.scribe_database_url.get_secret_value() if settings.scribe_database_url else "")
    if not url.startswith(services.POSTGRES_PREFIXES):
        print("migrate needs the Postgres database: --to postgresql://user:password@host:5432/db, or "
              "SCRIBE_DATABASE_URL.", file=sys.stderr)
        return 2
    source_path = args.source or settings.scribe_db
    if not Path(source_path).is_file():
        print(f"There is no DuckDB file at {source_path}.", file=sys.stderr)
        return 2
    label = redact(url)
    opened = []
    try:
        opened.append(source := services.open_database(source_path))
        opened.append(target := services.open_database(url))
        print(f"Copying {source_path} into {label}")
        report = copy_database(source, target, derived=DERIVED_TABLES)
    except DatabaseBusy as err:
        print(f"{err.message}\n{err.hint}", file=sys.stderr)
        return 2
    except TransferConflict as err:
        print(f"Error: {_scrub(err.message, url)}\n{err.hint}", file=sys.stderr)
        return 1
    except DB_ERRORS as err:
        print(f"Error: {_scrub(str(err), url)}", file=sys.stderr)
        return 2 if len(opened) < 2 else 1
    finally:
        for db in opened:
            db.close()
    return _migrate_report(report)


def _migrate_report(report: list) -> int:
    """The counts per table; 1 if a table's rows did not all arrive."""
    width = max(len(r.table) for r in report)
    print(f"{'table':<{width}}  {'source':>8}  {'present':>8}  {'copied':>8}  {'target':>8}")
    for r in report:
        print(f"{r.table:<{width}}  {r.source:>8}  {r.present:>8}  {r.copied:>8}  {r.target:>8}"
              + ("" if r.complete else "  MISSING ROWS"))
    missing = [r.table for r in report if not r.complete]
    if missing:
        print(f"Check failed: not every row arrived in {', '.join(missing)}.", file=sys.stderr)
        return 1
    copied = sum(r.copied for r in report)
    print(f"Checked: every row is in Postgres ({copied} copied now, {sum(r.present for r in report)} already there).")
    return 0


def _scrub(text: str, url: str) -> str:
    """`text` without the URL's password, wherever a driver's message may have quoted it."""
    from urllib.parse import unquote, urlsplit

    password = urlsplit(url).password
    for secret in filter(None, {password, unquote(password or "")}):
        text = text.replace(secret, "***")
    return text


def _auth_configured() -> bool:
    """Whether sign-in is on: an [auth] section in the app's secrets (then roles apply to --user).

    The same files the app reads: STREAMLIT_SECRETS_FILES (comma-separated) when set, else
    .streamlit/secrets.toml."""
    import os
    import tomllib
    from pathlib import Path

    from lib.core.settings import SECRETS_FILE

    chosen = os.environ.get("STREAMLIT_SECRETS_FILES")
    files = [Path(p.strip()) for p in chosen.split(",") if p.strip()] if chosen else [SECRETS_FILE]
    for path in files:
        try:
            with path.open("rb") as fh:
                if "auth" in tomllib.load(fh):
                    return True
        except OSError:
            continue
        except tomllib.TOMLDecodeError:
            return True  # fail closed: a broken file never means "everyone is an admin"
    return False


def _enrich(args: argparse.Namespace, manager: JobManager, default_user: str, default_model: str) -> str | None:
    notes = _read_notes(args)
    model = args.model or default_model
    if notes is None or not _fits_max_tokens(model, args.max_tokens):
        return None
    user = default_user
    if args.mode == "live":
        job_id = manager.start_live(notes, user=user, model=model, max_tokens=args.max_tokens)
        print(f"Live job {job_id}: {len(notes.rows)} note(s), model {model}")
    else:
        job_id = manager.start_batch(notes, user=user, model=model, max_tokens=args.max_tokens)
        print(f"Batch job {job_id}: batch(es) {', '.join(manager.store.batches(job_id)['batch_id'])}")
    return job_id


def _read_notes(args: argparse.Namespace) -> BulkInput | None:
    """The file's good rows (its bad ones listed with their reasons), or None when there is nothing to send."""
    from lib.bulk import input as bulk_input
    from lib.bulk.input import ColumnMap

    try:
        table = bulk_input.read_table(args.notes.read_bytes(), args.notes.name)
        guessed = bulk_input.guess_mapping(table.columns)
        mapping = ColumnMap(note=args.note_column or guessed.note, date=args.date_column or guessed.date,
                            author=args.author_column or guessed.author, contact=args.contact_column or guessed.contact)
        notes = bulk_input.parse_notes(table, mapping)
    except (OSError, ScribeError) as err:
        print(f"Cannot read {args.notes}: {err}", file=sys.stderr)
        return None
    print(f"{args.notes.name}: {len(notes.rows)} note(s) to send, {len(notes.bad)} bad row(s) left out")
    for bad in notes.bad:
        print(f"  row {bad.row}: {bad.reason}")
    if not notes.rows:
        print("Nothing to send.", file=sys.stderr)
        return None
    return notes


def _fits_max_tokens(model: str, max_tokens: int) -> bool:
    most = model_table().max_output(model)
    if max_tokens < 1 or (most is not None and max_tokens > most):
        print(f"--max-tokens {max_tokens} is outside what {model} can write (1 to {most or '?'}).", file=sys.stderr)
        return False
    return True


def _hand_off(args: argparse.Namespace, settings: Settings, busy: DatabaseBusy) -> int:
    """The running app holds the DuckDB file: hand it the job and print what it reports (lib/bulk/handoff.py).
    Without an app watching (another program holds the file), say the database is busy: exit 2."""
    from lib.auth import cli_identity
    from lib.bulk import handoff

    mailbox = handoff.Mailbox(handoff.folder_for(settings.scribe_db))
    pid = None if settings.uses_postgres else mailbox.wait_for_app(handoff.FIRST_BEAT_WITHIN_S)
    if pid is None:
        print(f"{busy.message}\n{busy.hint}", file=sys.stderr)
        return 2
    auth_configured = _auth_configured()
    who = cli_identity(getattr(args, "user", None), services.role_rules(settings), auth_configured=auth_configured)
    common = {"user": who.user, "auth_configured": auth_configured, "want_proposals": args.out is not None,
              "no_wait": args.no_wait, "poll_s": args.poll_s}
    if args.command == "enrich":
        notes = _read_notes(args)
        model = args.model or settings.model_for("batch")
        if notes is None or not _fits_max_tokens(model, args.max_tokens):
            return 2
        request = handoff.Request.enrich(notes, mode=args.mode, model=model, max_tokens=args.max_tokens, **common)
    else:
        request = handoff.Request(command=args.command, job_id=args.job_id, **common)
    print(f"The running app (pid {pid}) holds {settings.scribe_db}: the job is handed to it.", flush=True)
    mailbox.submit(request)
    return _follow_hand_off(args, mailbox, request)


def _follow_hand_off(args: argparse.Namespace, mailbox, request) -> int:
    """Print the app's report on the request as it comes; the exit status is the one this CLI would give."""
    from lib.bulk import handoff

    submitted, printed, last_progress = time.monotonic(), 0, 0.0
    while True:
        state = mailbox.state(request.id) or {}
        lines = state.get("lines", [])
        for line in lines[printed:]:
            print(line, flush=True)
        printed = len(lines)
        job_id = state.get("job_id")
        if state.get("state") == "done":
            if args.out and state.get("proposals") is not None and job_id:
                with args.out.open("w", encoding="utf-8") as fh:
                    fh.writelines(json.dumps(p, ensure_ascii=False) + "\n" for p in state["proposals"])
                print(f"Wrote {len(state['proposals'])} proposal(s) to {args.out} (review them in the app before "
                      "anything is saved)")
            mailbox.forget(request.id)
            return int(state.get("exit_code", 1))
        if "total" in state and time.monotonic() - last_progress > 5:
            print(f"  {state['done']}/{state['total']} done, {state['failed']} failed", flush=True)
            last_progress = time.monotonic()
        if not state and time.monotonic() - submitted > handoff.TAKE_WITHIN_S and mailbox.withdraw(request.id):
            print("The app holding the database did not take the job; nothing was sent. Try again when it is not "
                  "busy, or stop it.", file=sys.stderr)
            return 2
        if mailbox.app_alive() is None:
            print("The app stopped before the job finished." + (
                f" Nothing of it is lost; resume it with: python -m lib.bulk resume {job_id}" if job_id else ""),
                file=sys.stderr)
            return 1
        if STOP.event.wait(0.3):
            if mailbox.withdraw(request.id):
                print(f"{STOP.name}: the job was withdrawn before the app took it; nothing was sent.", file=sys.stderr)
            else:
                print(f"{STOP.name}: stopped following; the job goes on in the app"
                      + (f" (job {job_id}, on the Bulk page)." if job_id else "."), file=sys.stderr)
            return STOP.exit_code


def _finish(args: argparse.Namespace, manager: JobManager, job_id: str) -> int:
    job = manager.store.job(job_id)
    if job.kind == "batch":
        if args.no_wait:
            manager.refresh_batches(job_id)
            job = manager.store.job(job_id)
            if job.active:
                print(f"Submitted; collect later with: python -m lib.bulk collect {job_id}")
                return 0
        else:
            while (job := manager.store.job(job_id)).active and not STOP.event.is_set():
                manager.refresh_batches(job_id)
                if manager.store.job(job_id).active:
                    STOP.event.wait(args.poll_s)
            if STOP.event.is_set() and job.active:
                print(f"{STOP.name}: stopped waiting; the batch goes on at the API. Collect it later with: "
                      f"python -m lib.bulk collect {job_id}")
                return STOP.exit_code
    else:
        stopped = _wait_live(args, manager, job_id)
        if stopped is not None:
            return stopped
        job = manager.store.job(job_id)
    if args.out:
        proposals = manager.store.proposals(job_id)
        with args.out.open("w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(p, ensure_ascii=False) + "\n" for p in proposals)
        print(f"Wrote {len(proposals)} proposal(s) to {args.out} (review them in the app before anything is saved)")
    _summary(manager, job)
    return 0 if job.status == "done" else 1


def _wait_live(args: argparse.Namespace, manager: JobManager, job_id: str) -> int | None:
    """Follow a live job until this process has nothing left of it; an exit code if it did not finish."""
    last = 0.0
    while manager.runner.outstanding(job_id):
        if STOP.event.is_set():
            manager.interrupt(f"Interrupted by {STOP.name}.", grace_s=args.grace_s)
            break
        if time.monotonic() - last > 5:
            job = manager.store.job(job_id)
            print(f"  {job.done}/{job.total} done, {job.failed} failed", flush=True)
            last = time.monotonic()
        STOP.event.wait(0.2)
    if manager.runner.storage_waits:
        print("The database refused writes for a while (a full disk?); the run paused until it took them again.",
              file=sys.stderr)
    outcome = manager.runner.outcomes.get(job_id)
    if outcome is not None and outcome.status == "running":  # another process works the job's last notes
        return _wait_elsewhere(manager, job_id)
    if outcome is None or outcome.status != "interrupted":
        return None
    job = manager.store.job(job_id)
    left = job.remaining if job is not None else "?"
    print(f"{outcome.reason} Job {job_id}: {left} note(s) not finished, nothing of them lost.", file=sys.stderr)
    print(f"Resume it with: python -m lib.bulk resume {job_id}", file=sys.stderr)
    return STOP.exit_code if STOP.signum else 1


def _wait_elsewhere(manager: JobManager, job_id: str) -> int | None:
    """Nothing of the job is left here, but another process (on a shared database) still works some of it:
    wait for the job to end there (or, if that process stops, to be marked interrupted)."""
    print("Another process works the rest of this job; waiting for it to finish…", flush=True)
    while (progress := manager.progress(job_id)) is not None and progress.job.active:
        if STOP.event.wait(1.0):
            return STOP.exit_code  # nothing of it is in flight here: nothing to wait for
    return None


def _close(app: services.Services, code: int) -> int:
    """Stop the threads and close the database before the interpreter exits; say so if usage rows are
    still unsaved (then they are printed, so cron's mail keeps them). Returns the exit code."""
    held = app.usage_log.unsaved()
    in_flight = app.jobs().runner.in_flight()
    if in_flight:  # requests outlived --grace-s: their threads cannot be joined
        print(f"{in_flight} request(s) still in flight; their notes are sent again on resume.",
              file=sys.stderr)
        _keep_in_stderr(app.usage_log.in_memory_only())
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code or 1)
    lost = app.close()
    if held and len(held) > len(lost):
        print(f"{len(held) - len(lost)} usage row(s) the database refused are kept in a fallback file "
              f"({app.usage_log.fallback_path} or {app.usage_log.second_fallback_path}); the next start "
              "imports them.", file=sys.stderr)
    if lost:
        _keep_in_stderr(lost)
        return code or 1
    return code


def _keep_in_stderr(records: list) -> None:
    """Usage rows no disk took: printed, so cron's mail keeps them."""
    if not records:
        return
    print(f"{len(records)} usage row(s) could not be written to the database or a fallback file; here they are, "
          "one JSON object per line:", file=sys.stderr)
    for record in records:
        print(record.model_dump_json(), file=sys.stderr)


def _summary(manager: JobManager, job: JobInfo) -> None:
    from lib.bulk.handoff import summary_lines

    for line in summary_lines(job, manager.store.failures(job.id)):
        print(line)


if __name__ == "__main__":
    sys.exit(main())
