"""The crm package's tables: its schema changes as named (name, sql) pairs, applied once each, in order.

The database module knows no table; the composition root (lib/services.py) hands these lists to it."""


CRM = [
    (
        "crm_001_create",
        """
        CREATE SEQUENCE IF NOT EXISTS company_id_seq START 100000;
        CREATE SEQUENCE IF NOT EXISTS contact_id_seq START 100000;
        CREATE SEQUENCE IF NOT EXISTS deal_id_seq START 100000;
        CREATE SEQUENCE IF NOT EXISTS interaction_id_seq START 100000;
        CREATE SEQUENCE IF NOT EXISTS field_history_id_seq START 1;
        CREATE TABLE companies (
            id BIGINT PRIMARY KEY DEFAULT nextval('company_id_seq'),
            name VARCHAR NOT NULL, domain VARCHAR, industry VARCHAR, city VARCHAR,
            archived BOOLEAN NOT NULL DEFAULT FALSE
        );
        CREATE TABLE contacts (
            id BIGINT PRIMARY KEY DEFAULT nextval('contact_id_seq'),
            name VARCHAR NOT NULL, email VARCHAR, phone VARCHAR, title VARCHAR,
            company_id BIGINT, owner VARCHAR,
            archived BOOLEAN NOT NULL DEFAULT FALSE
        );
        CREATE TABLE deals (
            id BIGINT PRIMARY KEY DEFAULT nextval('deal_id_seq'),
            company_id BIGINT, contact_id BIGINT, name VARCHAR NOT NULL,
            stage VARCHAR NOT NULL, amount DECIMAL(14, 2), next_step VARCHAR, next_step_date DATE,
            owner VARCHAR, archived BOOLEAN NOT NULL DEFAULT FALSE
        );
        CREATE TABLE interactions (
            id BIGINT PRIMARY KEY DEFAULT nextval('interaction_id_seq'),
            contact_id BIGINT NOT NULL, ts TIMESTAMP NOT NULL, kind VARCHAR NOT NULL,
            summary VARCHAR, note VARCHAR, author VARCHAR,
            change_set_id VARCHAR, call_id VARCHAR,
            archived BOOLEAN NOT NULL DEFAULT FALSE
        );
        CREATE TABLE change_sets (
            id VARCHAR PRIMARY KEY, ts TIMESTAMP NOT NULL, "user" VARCHAR NOT NULL,
            kind VARCHAR NOT NULL,          -- extraction | undo | revert | manual | import
            review_key VARCHAR UNIQUE,      -- a review saved twice is one change set
            reverts VARCHAR,                -- the change set an undo reverts
            call_id VARCHAR, summary VARCHAR
        );
        CREATE TABLE field_history (
            id BIGINT PRIMARY KEY DEFAULT nextval('field_history_id_seq'),
            change_set_id VARCHAR NOT NULL, ts TIMESTAMP NOT NULL,
            entity VARCHAR NOT NULL,        -- contact | company | deal | interaction
            entity_id BIGINT NOT NULL, field VARCHAR NOT NULL,
            old_value VARCHAR, new_value VARCHAR,
            actor VARCHAR NOT NULL,         -- ai | human | undo | import
            approved_by VARCHAR, call_id VARCHAR, request_id VARCHAR, evidence VARCHAR,
            reverts_history_id BIGINT
        );
        """,
    ),
    (
        "crm_002_custom_values_and_hubspot",
        """
        -- the team's own fields (lib/crm/fields.py) on the built-in CRM, and their mirror from HubSpot
        CREATE TABLE custom_values (
            entity VARCHAR NOT NULL,        -- contact | deal
            entity_id BIGINT NOT NULL, key VARCHAR NOT NULL, value VARCHAR,
            PRIMARY KEY (entity, entity_id, key)
        );
        -- HubSpot as the system of record: which local (mirror) row is which HubSpot record
        CREATE TABLE hubspot_ids (
            kind VARCHAR NOT NULL,          -- contact | company | deal | interaction (a note)
            hs_id VARCHAR NOT NULL, local_id BIGINT NOT NULL,
            PRIMARY KEY (kind, hs_id)
        );
        CREATE UNIQUE INDEX hubspot_ids_local ON hubspot_ids (kind, local_id);
        -- the sync cursor, the pipeline and its stage mapping: small JSON values by name
        CREATE TABLE hubspot_state (name VARCHAR PRIMARY KEY, value VARCHAR NOT NULL, ts TIMESTAMP NOT NULL);
        -- what a save did in HubSpot, step by step, so a retried save creates nothing twice
        CREATE TABLE hubspot_writes (
            review_key VARCHAR NOT NULL, step VARCHAR NOT NULL,   -- e.g. row1:contact, row1:note
            hs_id VARCHAR NOT NULL, created BOOLEAN NOT NULL, ts TIMESTAMP NOT NULL,
            PRIMARY KEY (review_key, step)
        );
        """,
    ),
]


MIGRATIONS = CRM
