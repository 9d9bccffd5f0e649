"""Work a rep has not finished, kept per user so it survives navigation and a reload (all its SQL lives here).

One row per (user, slot): a slot names one piece of work (the notes pasted on a page, the review not
yet saved, a follow-up draft); its payload is JSON that the owner of the slot writes and reads back.
A slot holds the latest state only: saving replaces it, clearing forgets it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from lib.core.db import Database

SUMMARIZE_NOTES = "summarize_notes"
EXTRACT_NOTES = "extract_notes"
FOLLOW_UP = "follow_up"
EXTRACT_REVIEW = "extract_review"


class WorkStore:
    """The unfinished work of each user, by slot."""

    def __init__(self, db: Database):
        self.db = db

    def load(self, user: str, slot: str) -> Any | None:
        """What was last kept in this slot for this user (None: nothing)."""
        row = self.db.cursor().execute('SELECT payload FROM work_in_progress WHERE "user" = ? AND slot = ?',
                                       [user, slot]).fetchone()
        return json.loads(row[0]) if row else None

    def save(self, user: str, slot: str, payload: Any) -> None:
        """Keep `payload` (anything JSON can hold) as this user's latest state of the slot."""
        self.db.cursor().execute(
            """INSERT INTO work_in_progress ("user", slot, payload, updated_at) VALUES (?, ?, ?, ?)
               ON CONFLICT ("user", slot) DO UPDATE SET payload = EXCLUDED.payload, updated_at = EXCLUDED.updated_at""",
            [user, slot, json.dumps(payload), datetime.now(UTC).replace(tzinfo=None)])

    def clear(self, user: str, slot: str) -> None:
        self.db.cursor().execute('DELETE FROM work_in_progress WHERE "user" = ? AND slot = ?', [user, slot])

    def updated_at(self, user: str, slot: str) -> datetime | None:
        """When the slot was last saved (UTC), or None."""
        row = self.db.cursor().execute('SELECT updated_at FROM work_in_progress WHERE "user" = ? AND slot = ?',
                                       [user, slot]).fetchone()
        return row[0].replace(tzinfo=UTC) if row else None
