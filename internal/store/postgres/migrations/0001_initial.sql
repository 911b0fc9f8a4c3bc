-- Accounts, their profiles, users, devices, registrations and credentials; kept in
-- step with the SQLite adapter's 0001. Text that is sorted or compared uses the "C"
-- collation (byte order), as SQLite does, so both engines order rows identically.
-- Timestamps are BIGINT microseconds since the Unix epoch, UTC; NULL means unset.

CREATE TABLE accounts (
    id                 TEXT COLLATE "C" PRIMARY KEY,
    name               TEXT    NOT NULL,
    multi_user         BOOLEAN NOT NULL,
    default_profile_id TEXT COLLATE "C",
    created_at         BIGINT  NOT NULL
);

CREATE TABLE profiles (
    id         TEXT COLLATE "C" PRIMARY KEY,
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    is_default BOOLEAN NOT NULL,
    deleted_at BIGINT,
    created_at BIGINT  NOT NULL,
    updated_at BIGINT  NOT NULL
);

CREATE INDEX profiles_account ON profiles (account_id);

ALTER TABLE accounts ADD CONSTRAINT accounts_default_profile_fk
    FOREIGN KEY (default_profile_id) REFERENCES profiles (id) DEFERRABLE INITIALLY DEFERRED;

CREATE TABLE users (
    id         TEXT COLLATE "C" PRIMARY KEY,
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    email      TEXT COLLATE "C" NOT NULL,
    name       TEXT COLLATE "C" NOT NULL,
    groups     TEXT   NOT NULL, -- JSON array of group names, as in SQLite
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE UNIQUE INDEX users_email ON users (account_id, email) WHERE email <> '';

CREATE TABLE devices (
    id               TEXT COLLATE "C" PRIMARY KEY,
    account_id       TEXT COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name             TEXT COLLATE "C" NOT NULL,
    model            TEXT   NOT NULL,
    manufacturer     TEXT   NOT NULL,
    device_type      TEXT   NOT NULL,
    os_version       TEXT   NOT NULL,
    os_version_extra TEXT   NOT NULL,
    serial_number    TEXT COLLATE "C" NOT NULL,
    hardware_id      TEXT COLLATE "C" NOT NULL,
    mac_address      TEXT   NOT NULL,
    client_version   TEXT   NOT NULL,
    last_seen_at     BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    deleted_at       BIGINT
);

CREATE INDEX devices_account ON devices (account_id);

-- A live device is recognised by its hardware id, else its serial number.
CREATE UNIQUE INDEX devices_live_hardware_id ON devices (account_id, hardware_id)
    WHERE hardware_id <> '' AND deleted_at IS NULL;
CREATE INDEX devices_live_serial ON devices (account_id, serial_number)
    WHERE serial_number <> '' AND deleted_at IS NULL;

CREATE TABLE registrations (
    id                TEXT COLLATE "C" PRIMARY KEY,
    account_id        TEXT COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    device_id         TEXT COLLATE "C" NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    user_id           TEXT COLLATE "C" REFERENCES users (id) ON DELETE RESTRICT,
    profile_id        TEXT COLLATE "C" NOT NULL REFERENCES profiles (id) ON DELETE RESTRICT,
    slot              TEXT COLLATE "C" NOT NULL, -- '' in single-user accounts, else the user id
    key               TEXT COLLATE "C" NOT NULL,
    key_type          TEXT,
    tunnel_type       TEXT,
    secret_hash       BYTEA,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    last_seen_at      BIGINT NOT NULL,
    revoked_at        BIGINT,
    deleted_at        BIGINT,
    policy_updated_at BIGINT NOT NULL
);

-- One live registration per public key in an account, and per seat on a device.
CREATE UNIQUE INDEX registrations_live_key ON registrations (account_id, key)
    WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX registrations_live_seat ON registrations (device_id, slot)
    WHERE deleted_at IS NULL;

-- Keyset pagination for the sorts on the registration's own columns.
CREATE INDEX registrations_account_id ON registrations (account_id, id);
CREATE INDEX registrations_account_created ON registrations (account_id, created_at, id);
CREATE INDEX registrations_account_seen ON registrations (account_id, last_seen_at, id);
CREATE INDEX registrations_user ON registrations (user_id);
CREATE INDEX registrations_profile ON registrations (profile_id);

CREATE TABLE api_tokens (
    id         TEXT COLLATE "C" PRIMARY KEY,
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    read_only  BOOLEAN NOT NULL,
    hash       BYTEA   NOT NULL UNIQUE,
    created_at BIGINT  NOT NULL
);

CREATE TABLE global_keys (
    id         TEXT COLLATE "C" PRIMARY KEY,
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    email      TEXT COLLATE "C" NOT NULL,
    hash       BYTEA  NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    UNIQUE (account_id, email)
);

CREATE TABLE enrollment_keys (
    id         TEXT COLLATE "C" PRIMARY KEY,
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    reusable   BOOLEAN NOT NULL,
    expires_at BIGINT,
    used_at    BIGINT,
    hash       BYTEA   NOT NULL UNIQUE,
    created_at BIGINT  NOT NULL
);

-- Server-wide values shared by every instance on this database, such as the key that
-- signs list cursors.
CREATE TABLE settings (
    name  TEXT COLLATE "C" PRIMARY KEY,
    value BYTEA NOT NULL
);
