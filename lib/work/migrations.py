"""The work package's tables: its schema changes as named (name, sql) pairs, applied once each, in order.

The database module knows no table; the composition root (lib/services.py) hands these lists to it."""


CONVERSATIONS = [
    (
        "conversations_001_create",
        """
        CREATE TABLE conversations (
            id VARCHAR PRIMARY KEY,
            "user" VARCHAR NOT NULL,
            title VARCHAR NOT NULL,
            model VARCHAR,
            created_at TIMESTAMP NOT NULL,
            updated_at TIMESTAMP NOT NULL,
            summary VARCHAR,                -- older turns, folded by Claude (or a note that they were trimmed)
            context_start INTEGER NOT NULL DEFAULT 0,  -- first turn still sent as messages
            context_tokens INTEGER,         -- count_tokens of tools + system + messages after the last turn
            archived BOOLEAN NOT NULL DEFAULT FALSE
        );
        CREATE TABLE conversation_turns (
            conversation_id VARCHAR NOT NULL,
            seq INTEGER NOT NULL,
            ts TIMESTAMP NOT NULL,
            question VARCHAR NOT NULL,
            messages VARCHAR NOT NULL,      -- JSON: the API messages this turn appended, as sent
            details VARCHAR NOT NULL,       -- JSON: calls, proposals, notices
            PRIMARY KEY (conversation_id, seq)
        );
        """,
    ),
]


WORK_IN_PROGRESS = [
    (
        "work_001_in_progress",
        """
        CREATE TABLE work_in_progress (
            "user" VARCHAR NOT NULL,
            slot VARCHAR NOT NULL,          -- which piece of work: a page's pasted notes, a review not yet saved…
            payload VARCHAR NOT NULL,       -- JSON, as lib/work/work_store.py was handed it
            updated_at TIMESTAMP NOT NULL,
            PRIMARY KEY ("user", slot)
        );
        """,
    ),
]


MIGRATIONS = CONVERSATIONS + WORK_IN_PROGRESS
