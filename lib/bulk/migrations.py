"""The bulk package's tables: its schema changes as named (name, sql) pairs, applied once each, in order.

The database module knows no table; the composition root (lib/services.py) hands these lists to it."""


JOBS = [
    (
        "jobs_001_create",
        """
        CREATE TABLE jobs (
            id VARCHAR PRIMARY KEY,
            kind VARCHAR NOT NULL,             -- live | batch
            "user" VARCHAR NOT NULL,
            model VARCHAR NOT NULL,
            max_tokens INTEGER NOT NULL,
            priority INTEGER NOT NULL DEFAULT 0,  -- > 0: served before everyone's bulk work
            source VARCHAR,                    -- the uploaded file's name
            status VARCHAR NOT NULL,           -- running | submitted | done | canceled | failed | interrupted
            total INTEGER NOT NULL,
            bad_rows INTEGER NOT NULL DEFAULT 0,
            error VARCHAR,
            created_at TIMESTAMP NOT NULL,     -- UTC
            finished_at TIMESTAMP
        );
        CREATE TABLE job_items (
            job_id VARCHAR NOT NULL,
            item_no INTEGER NOT NULL,          -- 1..total; custom_id = <job_id>-<item_no>
            source_row INTEGER NOT NULL,       -- the row in the uploaded file
            note VARCHAR NOT NULL,             -- the note as sent
            note_date DATE,
            author VARCHAR,
            contact VARCHAR,
            status VARCHAR NOT NULL,           -- queued | running | submitted | succeeded | failed
            attempts INTEGER NOT NULL DEFAULT 0,
            error VARCHAR,                     -- why it failed
            failure_kind VARCHAR,              -- errored | expired | canceled | invalid | missing (batch: resubmittable), other
            extraction_json VARCHAR,           -- the validated Extraction
            call_id VARCHAR,
            request_id VARCHAR,
            usage_json VARCHAR,                -- the usage row of the reply that was kept
            input_tokens BIGINT NOT NULL DEFAULT 0,   -- every billed reply of this item, invalid ones too
            output_tokens BIGINT NOT NULL DEFAULT 0,
            cost_usd DECIMAL(18, 9) NOT NULL DEFAULT 0,
            cost_unknown BOOLEAN NOT NULL DEFAULT FALSE,
            batch_id VARCHAR,
            updated_at TIMESTAMP NOT NULL,
            PRIMARY KEY (job_id, item_no)
        );
        CREATE TABLE job_batches (
            batch_id VARCHAR PRIMARY KEY,
            job_id VARCHAR NOT NULL,
            requests INTEGER NOT NULL,
            processing_status VARCHAR NOT NULL, -- in_progress | canceling | ended
            counts_json VARCHAR,
            created_at TIMESTAMP NOT NULL,
            ended_at TIMESTAMP,
            imported_at TIMESTAMP,
            checked_at TIMESTAMP
        );
        """,
    ),
]


OWNERS = [
    (
        "jobs_002_owner",
        # Which process works a live job, and when it last said so: a job whose process stopped
        # (killed, crashed) is marked interrupted and offered for resuming, never resumed silently.
        """
        ALTER TABLE jobs ADD COLUMN owner VARCHAR;
        ALTER TABLE jobs ADD COLUMN heartbeat_at TIMESTAMP;
        """,
    ),
]


CLAIMS = [
    (
        "jobs_003_claims",
        # Which process works an item, and until when (renewed by its heartbeat): several processes on
        # one Postgres database never work the same item, and a dead one's items are taken over once
        # the lease lapses. Plain SQL: the same on DuckDB and Postgres.
        """
        ALTER TABLE job_items ADD COLUMN claimed_by VARCHAR;
        ALTER TABLE job_items ADD COLUMN lease_until TIMESTAMP;
        """,
    ),
]


MIGRATIONS = JOBS + OWNERS + CLAIMS
