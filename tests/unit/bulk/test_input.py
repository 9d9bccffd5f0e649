"""Bulk input: good rows go on, every bad row is listed with its reason, the file is refused only when unreadable."""

import json
from datetime import date
from pathlib import Path

import pytest

from lib.bulk import input as bulk_input
from lib.bulk.input import ColumnMap, NoteRow
from lib.core.errors import InputRejected

SAMPLE = Path(__file__).resolve().parents[3] / "data" / "notes" / "sample_notes.csv"


def test_the_sample_file_keeps_twenty_notes_and_lists_the_three_bad_rows():
    notes = bulk_input.load(SAMPLE.read_bytes(), SAMPLE.name)
    assert len(notes.rows) == 20
    assert notes.mapping == ColumnMap(note="note", date="date", author="author", contact="contact_email")
    reasons = {b.row: b.reason for b in notes.bad}
    assert reasons == {21: "The note is empty.", 22: "The date 2026-02-30 does not exist.",
                       23: "The date 'next Tuesday' is not a date (use YYYY-MM-DD)."}
    first = notes.rows[0]
    assert (first.row, first.note_date, first.author, first.contact) == (1, date(2026, 11, 19), "dana",
                                                                        "john.smith@acme.com")


def test_a_note_is_sent_with_its_date_and_rep_as_header_lines():
    row = NoteRow(row=1, note="Met Ann.", note_date=date(2026, 11, 19), author="dana")
    assert row.text() == "Date: 2026-11-19\nRep: dana\n\nMet Ann."
    assert NoteRow(row=1, note="Date: 2026-01-02\nMet Ann.", note_date=date(2026, 11, 19)).text().startswith(
        "Date: 2026-01-02")
    assert NoteRow(row=1, note="Met Ann.").text() == "Met Ann."


def test_a_file_that_is_not_utf8_is_refused_with_a_hint():
    with pytest.raises(InputRejected, match="not UTF-8") as caught:
        bulk_input.load("note\nCafé con Zoë\n".encode("latin-1"), "notes.csv")
    assert "UTF-8" in caught.value.hint


def test_an_empty_file_and_a_missing_column_are_refused():
    with pytest.raises(InputRejected, match="empty"):
        bulk_input.load(b"  \n", "notes.csv")
    table = bulk_input.read_table(b"note\nhello\n", "notes.csv")
    with pytest.raises(InputRejected, match="'text' is not in"):
        bulk_input.parse_notes(table, ColumnMap(note="text"))


def test_a_row_with_too_many_fields_is_listed_and_the_rest_go_on():
    data = b"note,date\nfirst note,2026-11-19\nsecond, with a stray comma,2026-11-19\nthird note,\n"
    notes = bulk_input.load(data, "notes.csv")
    assert [r.note for r in notes.rows] == ["first note", "third note"]
    (bad,) = notes.bad
    assert bad.row == 2 and "3 fields, the header has 2" in bad.reason


def test_broken_quoting_stops_reading_there_and_says_so():
    data = b'note,date\nfine,2026-11-19\n"broken "quote,2026-11-19\nnever read,2026-11-19\n'
    notes = bulk_input.load(data, "notes.csv")
    assert [r.note for r in notes.rows] == ["fine"]
    assert len(notes.bad) == 1 and "Malformed CSV" in notes.bad[0].reason


def test_a_note_too_long_and_binary_data_are_bad_rows():
    long_note = "x" * (bulk_input.MAX_NOTE_CHARS + 1)
    data = f"note\n{long_note}\nok\n".encode() + b'"nul \x00 here"\n'
    notes = bulk_input.load(data, "notes.csv")
    assert [r.note for r in notes.rows] == ["ok"]
    reasons = [b.reason for b in notes.bad]
    assert "too long" in reasons[0] and f"{bulk_input.MAX_NOTE_CHARS:,}" in reasons[0]
    assert reasons[1] == "The note contains binary data."


def test_jsonl_lists_malformed_lines_and_takes_the_rest():
    lines = [json.dumps({"text": "Call with Ann Lee", "when": "2026-11-19", "rep": "li"}), "{not json", "[1, 2]",
             json.dumps({"text": "", "when": "2026-11-19"}), json.dumps({"text": "Met Bo", "when": "19/11/2026"})]
    table = bulk_input.read_table("\n".join(lines).encode(), "notes.jsonl")
    mapping = bulk_input.guess_mapping(table.columns)
    assert mapping == ColumnMap(note="text", date="when", author="rep", contact=None)
    notes = bulk_input.parse_notes(table, mapping)
    assert [(r.row, r.note_date) for r in notes.rows] == [(1, date(2026, 11, 19))]
    assert [(b.row, b.reason.split(" (")[0]) for b in notes.bad] == [
        (2, "Malformed JSON line"), (3, "Malformed JSON line: not an object."), (4, "The note is empty."),
        (5, "The date '19/11/2026' is not a date")]


def test_dates_accept_timestamps_and_reject_impossible_days():
    assert bulk_input.parse_date("2026-11-19T10:30:00") == date(2026, 11, 19)
    assert bulk_input.parse_date(None) is None
    with pytest.raises(InputRejected, match="does not exist"):
        bulk_input.parse_date("2026-13-01")


def test_the_batch_params_are_the_live_request_plus_the_schema():
    params = bulk_input.extraction_params("Date: 2026-11-19\n\nMet Ann.", date(2026, 11, 19),
                                          model="claude-sonnet-4-6", max_tokens=4000)
    assert set(params) == {"model", "max_tokens", "system", "messages", "output_config"}
    assert params["output_config"]["format"]["type"] == "json_schema"
    assert "2026-11-19" in params["system"][1]["text"] and "Met Ann." in params["messages"][0]["content"]


def test_a_lone_surrogate_is_a_bad_row_and_the_good_rows_still_go():
    # issue 11.9: the CLI exited 1 and sent nothing
    notes = bulk_input.load(b'{"note": "Call with Ada at Acme."}\n{"note": "bad \\ud800 here"}\n', "notes.jsonl")
    assert [r.note for r in notes.rows] == ["Call with Ada at Acme."]
    assert "invalid character" in notes.bad[0].reason


def test_a_csv_without_a_note_column_is_refused_not_read_as_notes():
    # issue 11.10: `foo` was taken as the note column
    table = bulk_input.read_table(b"foo,bar\n1,2\n", "x.csv")
    with pytest.raises(InputRejected, match="no column named like notes"):
        bulk_input.parse_notes(table, bulk_input.guess_mapping(table.columns))
