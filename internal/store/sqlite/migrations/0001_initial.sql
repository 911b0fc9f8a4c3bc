-- Accounts, their profiles, users, devices, registrations and credentials.
-- Timestamps are INTEGER microseconds since the Unix epoch, UTC; NULL means unset.

CREATE TABLE accounts (
    id                 TEXT    PRIMARY KEY,
    name               TEXT    NOT NULL,
    multi_user         INTEGER NOT NULL,
    default_profile_id TEXT    REFERENCES profiles (id) DEFERRABLE INITIALLY DEFERRED,
    created_at         INTEGER NOT NULL
);

CREATE TABLE profiles (
    id         TEXT    PRIMARY KEY,
    account_id TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    is_default INTEGER NOT NULL,
    deleted_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE INDEX profiles_account ON profiles (account_id);

CREATE TABLE users (
    id         TEXT    PRIMARY KEY,
    account_id TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    email      TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    groups     TEXT    NOT NULL, -- JSON array of group names
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE UNIQUE INDEX users_email ON users (account_id, email) WHERE email <> '';

CREATE TABLE devices (
    id               TEXT    PRIMARY KEY,
    account_id       TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name             TEXT    NOT NULL,
    model            TEXT    NOT NULL,
    manufacturer     TEXT    NOT NULL,
    device_type      TEXT    NOT NULL,
    os_version       TEXT    NOT NULL,
    os_version_extra TEXT    NOT NULL,
    serial_number    TEXT    NOT NULL,
    hardware_id      TEXT    NOT NULL,
    mac_address      TEXT    NOT NULL,
    client_version   TEXT    NOT NULL,
    last_seen_at     INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    deleted_at       INTEGER
);

CREATE INDEX devices_account ON devices (account_id);

-- A live device is recognised by its hardware id, else its serial number.
CREATE UNIQUE INDEX devices_live_hardware_id ON devices (account_id, hardware_id)
    WHERE hardware_id <> '' AND deleted_at IS NULL;
CREATE INDEX devices_live_serial ON devices (account_id, serial_number)
    WHERE serial_number <> '' AND deleted_at IS NULL;

CREATE TABLE registrations (
    id                TEXT    PRIMARY KEY,
    account_id        TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    device_id         TEXT    NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    user_id           TEXT    REFERENCES users (id) ON DELETE RESTRICT,
    profile_id        TEXT    NOT NULL REFERENCES profiles (id) ON DELETE RESTRICT,
    slot              TEXT    NOT NULL, -- '' in single-user accounts, else the user id
    key               TEXT    NOT NULL,
    key_type          TEXT,
    tunnel_type       TEXT,
    secret_hash       BLOB,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    last_seen_at      INTEGER NOT NULL,
    revoked_at        INTEGER,
    deleted_at        INTEGER,
    policy_updated_at INTEGER NOT NULL
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
    id         TEXT    PRIMARY KEY,
    account_id TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    read_only  INTEGER NOT NULL,
    hash       BLOB    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

CREATE TABLE global_keys (
    id         TEXT    PRIMARY KEY,
    account_id TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    email      TEXT    NOT NULL,
    hash       BLOB    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    UNIQUE (account_id, email)
);

CREATE TABLE enrollment_keys (
    id         TEXT    PRIMARY KEY,
    account_id TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    reusable   INTEGER NOT NULL,
    expires_at INTEGER,
    used_at    INTEGER,
    hash       BLOB    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

-- Server-wide values shared by every process on this database, such as the key
-- that signs list cursors.
CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
