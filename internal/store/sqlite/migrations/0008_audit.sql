-- The audit log: who changed what, when, from where, with the object's audited state
-- before and after. Numbered per account without gaps, written in the same
-- transaction as the change. before and after are JSON objects of strings.

ALTER TABLE accounts ADD COLUMN audit_seq INTEGER NOT NULL DEFAULT 0;

CREATE TABLE audit_log (
    account_id  TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    actor_kind  TEXT    NOT NULL,
    actor_id    TEXT    NOT NULL,
    actor_addr  TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    target_type TEXT    NOT NULL,
    target_id   TEXT    NOT NULL,
    before      TEXT,
    after       TEXT,
    PRIMARY KEY (account_id, seq)
) WITHOUT ROWID;

CREATE INDEX audit_log_target ON audit_log (account_id, target_id, seq);
CREATE INDEX audit_log_type ON audit_log (account_id, target_type, seq);
