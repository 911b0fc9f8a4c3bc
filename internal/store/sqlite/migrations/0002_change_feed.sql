-- The change feed: an ordered log of every change to a registration, numbered per
-- account without gaps, written in the same transaction as the change.

ALTER TABLE accounts ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0;

-- The highest sequence number pruned by retention: a reader behind it must resync.
ALTER TABLE accounts ADD COLUMN pruned_seq INTEGER NOT NULL DEFAULT 0;

CREATE TABLE registration_changes (
    account_id      TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    seq             INTEGER NOT NULL,
    kind            TEXT    NOT NULL,
    at              INTEGER NOT NULL,
    registration_id TEXT    NOT NULL,
    device_id       TEXT    NOT NULL,
    user_id         TEXT,
    key             TEXT    NOT NULL,
    key_type        TEXT,
    tunnel_type     TEXT,
    previous_key    TEXT,
    active          INTEGER NOT NULL,
    profile_id      TEXT    NOT NULL,
    PRIMARY KEY (account_id, seq)
) WITHOUT ROWID;

CREATE INDEX registration_changes_at ON registration_changes (at);
