-- The audit log; kept in step with the SQLite adapter's 0008.

ALTER TABLE accounts ADD COLUMN audit_seq BIGINT NOT NULL DEFAULT 0;

CREATE TABLE audit_log (
    account_id  TEXT COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    seq         BIGINT  NOT NULL,
    at          BIGINT  NOT NULL,
    actor_kind  TEXT    NOT NULL,
    actor_id    TEXT    NOT NULL,
    actor_addr  TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    target_type TEXT COLLATE "C" NOT NULL,
    target_id   TEXT COLLATE "C" NOT NULL,
    before      JSONB,
    after       JSONB,
    PRIMARY KEY (account_id, seq)
);

CREATE INDEX audit_log_target ON audit_log (account_id, target_id, seq);
CREATE INDEX audit_log_type ON audit_log (account_id, target_type, seq);
