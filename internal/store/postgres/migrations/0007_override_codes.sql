-- Admin override codes: each registration's override secret, handed to its client
-- once at enrolment, and the counter of the last issue of codes. The codes are
-- derived from both and never stored. Registrations enrolled before this migration
-- have no row until their client enrols again.
CREATE TABLE override_secrets (
    registration_id TEXT COLLATE "C" PRIMARY KEY
        REFERENCES registrations (id) ON DELETE CASCADE,
    secret          BYTEA  NOT NULL,
    counter         BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
