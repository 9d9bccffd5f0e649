"""Unfinished work kept per user and slot, on DuckDB and Postgres (issue 12.4)."""

from lib.work.work_store import EXTRACT_NOTES, EXTRACT_REVIEW, WorkStore


def test_a_slot_keeps_the_latest_payload_per_user_and_clears(database):
    store = WorkStore(database)
    assert store.load("dana", EXTRACT_NOTES) is None
    store.save("dana", EXTRACT_NOTES, {"text": "first"})
    store.save("dana", EXTRACT_NOTES, {"text": "Date: 2026-11-19\nDemo with Acme — ünïcode"})
    store.save("li", EXTRACT_NOTES, {"text": "li's own"})
    store.save("dana", EXTRACT_REVIEW, {"rows": [1, None, "x"]})
    assert store.load("dana", EXTRACT_NOTES) == {"text": "Date: 2026-11-19\nDemo with Acme — ünïcode"}
    assert store.load("li", EXTRACT_NOTES) == {"text": "li's own"}  # one user's work is not another's
    assert store.updated_at("dana", EXTRACT_NOTES) is not None
    store.clear("dana", EXTRACT_REVIEW)
    assert store.load("dana", EXTRACT_REVIEW) is None and store.updated_at("dana", EXTRACT_REVIEW) is None
    assert store.load("dana", EXTRACT_NOTES) is not None  # clearing one slot leaves the others
