"""Several notes read at once against the sandbox (real clock, real SDK over HTTP): every note's
state is reported as it changes, they overlap, and one bad note fails alone."""

from pathlib import Path

from lib.claude.gateway import Gateway
from lib.core.settings import load_settings
from lib.usage.log import UsageLog
from lib.work.extract_many import NoteStatus, iter_states

NOTES_DIR = Path(__file__).resolve().parents[3] / "data" / "notes"
MODEL = load_settings().scribe_model_extract


def notes(n: int) -> list[str]:
    files = sorted(NOTES_DIR.glob("*.txt"))
    return [files[i % len(files)].read_text() for i in range(n)]


def test_five_notes_overlap_and_each_reports_its_state(sandbox_realtime, db):
    sandbox_realtime.configure(ttft_ms=800)  # long enough that the notes are in flight together
    gateway = Gateway(UsageLog(db), api_key="sk-test", base_url=sandbox_realtime.base_url, backend="sandbox")
    snapshots = list(iter_states(gateway, notes(5), user="dana", model=MODEL, concurrency=4))

    assert [s.status for s in snapshots[0]] == [NoteStatus.WAITING] * 5
    final = snapshots[-1]
    assert [s.status for s in final] == [NoteStatus.DONE] * 5 and all(s.run.people for s in final)
    assert max(sum(s.status is NoteStatus.READING for s in snap) for snap in snapshots) >= 2  # concurrent
    assert max(sum(s.status is NoteStatus.READING for s in snap) for snap in snapshots) <= 4  # bounded
    for i in range(5):  # each note went waiting -> reading -> done, in that order
        seen = [snap[i].status for snap in snapshots]
        assert seen.index(NoteStatus.READING) < seen.index(NoteStatus.DONE)
    assert [s.index for s in final] == [1, 2, 3, 4, 5]
    rows = db.cursor().execute("SELECT count(*) FROM usage_log WHERE feature = 'extract'").fetchone()[0]
    assert rows == 5


def test_a_bad_note_fails_alone_with_its_reason(sandbox_realtime, db):
    gateway = Gateway(UsageLog(db), api_key="sk-test", base_url=sandbox_realtime.base_url, backend="sandbox")
    good, bad = notes(1)[0], "Call with \ud800 someone"
    *_, final = iter_states(gateway, [good, bad], user="dana", model=MODEL)
    assert final[0].status is NoteStatus.DONE
    assert final[1].status is NoteStatus.FAILED and "invalid character" in final[1].error.message
    assert final[1].preview == "Call with ? someone"  # shown without the character that cannot be drawn
    assert db.cursor().execute("SELECT count(*) FROM usage_log").fetchone()[0] == 1  # the bad note was not sent
