-- The change feed; kept in step with the SQLite adapter's 0002.

ALTER TABLE accounts ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0;

-- The highest sequence number pruned by retention: a reader behind it must resync.
ALTER TABLE accounts ADD COLUMN pruned_seq BIGINT NOT NULL DEFAULT 0;

CREATE TABLE registration_changes (
    account_id      TEXT COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    seq             BIGINT  NOT NULL,
    kind            TEXT    NOT NULL,
    at              BIGINT  NOT NULL,
    registration_id TEXT    NOT NULL,
    device_id       TEXT    NOT NULL,
    user_id         TEXT,
    key             TEXT    NOT NULL,
    key_type        TEXT,
    tunnel_type     TEXT,
    previous_key    TEXT,
    active          BOOLEAN NOT NULL,
    profile_id      TEXT    NOT NULL,
    PRIMARY KEY (account_id, seq)
);

CREATE INDEX registration_changes_at ON registration_changes (at);
