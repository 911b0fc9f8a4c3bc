-- Registrations and devices name their account by a small integer, accounts.num,
-- instead of its 32-character id. The id led six registration indexes and nine
-- device indexes and sat in both rows: about thirteen copies of 33 bytes for each
-- registration, some 430 bytes of the 2,370 a registration took at a million. An
-- integer below 128 takes one byte.
--
-- num is a column of its own, not the rowid, which VACUUM may renumber. Existing
-- accounts take their rowid as it is now; InsertAccount gives a new one the number
-- after the greatest (accounts are never deleted, so no number is used twice). The
-- default of 0 is only what ALTER TABLE needs to add a NOT NULL column.

ALTER TABLE accounts ADD COLUMN num INTEGER NOT NULL DEFAULT 0;
UPDATE accounts SET num = rowid;
CREATE UNIQUE INDEX accounts_num ON accounts (num);

-- The tables are rebuilt (create, copy, drop, rename) with foreign keys on. A table
-- dropped while another still refers to it is first emptied row by row, which
-- would cascade into that other table; so each new table refers to the other new
-- ones, the old ones are dropped children first, when nothing refers to them any
-- more, and the renames carry the references over (SQLite writes the renamed
-- table's name in quotes). A rename also checks every view and trigger in the
-- schema, so those that name the old tables go first and come back at the end.
DROP VIEW device_refresh;
DROP TRIGGER users_denormalize;
DROP TRIGGER users_device_denormalize;

CREATE TABLE devices_new (
    id                        TEXT    PRIMARY KEY,
    account_id                INTEGER NOT NULL REFERENCES accounts (num) ON DELETE CASCADE,
    name                      TEXT    NOT NULL,
    model                     TEXT    NOT NULL,
    manufacturer              TEXT    NOT NULL,
    device_type               TEXT    NOT NULL,
    os_version                TEXT    NOT NULL,
    os_version_extra          TEXT    NOT NULL,
    serial_number             TEXT    NOT NULL,
    hardware_id               TEXT    NOT NULL,
    mac_address               TEXT    NOT NULL,
    client_version            TEXT    NOT NULL,
    last_seen_at              INTEGER NOT NULL,
    created_at                INTEGER NOT NULL,
    updated_at                INTEGER NOT NULL,
    deleted_at                INTEGER,
    active_count              INTEGER NOT NULL DEFAULT 0,
    last_seen_registration_id TEXT,
    last_seen_user_id         TEXT,
    last_seen_user_email      TEXT    NOT NULL DEFAULT '',
    last_seen_user_name       TEXT    NOT NULL DEFAULT '',
    search_text               TEXT    NOT NULL DEFAULT ''
);

-- A row whose account has no number would fail here, on NOT NULL, rather than be
-- left behind by a join.
INSERT INTO devices_new (rowid, id, account_id, name, model, manufacturer, device_type,
    os_version, os_version_extra, serial_number, hardware_id, mac_address, client_version,
    last_seen_at, created_at, updated_at, deleted_at, active_count,
    last_seen_registration_id, last_seen_user_id, last_seen_user_email, last_seen_user_name,
    search_text)
SELECT rowid, id, (SELECT num FROM accounts a WHERE a.id = d.account_id), name, model,
    manufacturer, device_type, os_version, os_version_extra, serial_number, hardware_id,
    mac_address, client_version, last_seen_at, created_at, updated_at, deleted_at,
    active_count, last_seen_registration_id, last_seen_user_id, last_seen_user_email,
    last_seen_user_name, search_text
FROM devices d;

CREATE TABLE registrations_new (
    id                TEXT    PRIMARY KEY,
    account_id        INTEGER NOT NULL REFERENCES accounts (num) ON DELETE CASCADE,
    device_id         TEXT    NOT NULL REFERENCES devices_new (id) ON DELETE CASCADE,
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
    policy_updated_at INTEGER NOT NULL,
    user_name         TEXT    NOT NULL DEFAULT '',
    user_email        TEXT    NOT NULL DEFAULT '',
    device_name       TEXT    NOT NULL DEFAULT '',
    client_version    TEXT    NOT NULL DEFAULT ''
);

-- The rowids are kept: registrations_search is keyed by them.
INSERT INTO registrations_new (rowid, id, account_id, device_id, user_id, profile_id, slot,
    key, key_type, tunnel_type, secret_hash, created_at, updated_at, last_seen_at,
    revoked_at, deleted_at, policy_updated_at, user_name, user_email, device_name,
    client_version)
SELECT rowid, id, (SELECT num FROM accounts a WHERE a.id = r.account_id), device_id, user_id,
    profile_id, slot, key, key_type, tunnel_type, secret_hash, created_at, updated_at,
    last_seen_at, revoked_at, deleted_at, policy_updated_at, user_name, user_email,
    device_name, client_version
FROM registrations r;

CREATE TABLE override_secrets_new (
    registration_id TEXT    PRIMARY KEY REFERENCES registrations_new (id) ON DELETE CASCADE,
    secret          BLOB    NOT NULL,
    counter         INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

INSERT INTO override_secrets_new (registration_id, secret, counter, created_at, updated_at)
SELECT registration_id, secret, counter, created_at, updated_at FROM override_secrets;

DROP TABLE override_secrets;
DROP TABLE registrations;
DROP TABLE devices;
ALTER TABLE devices_new RENAME TO devices;
ALTER TABLE registrations_new RENAME TO registrations;
ALTER TABLE override_secrets_new RENAME TO override_secrets;

-- The indexes as they stood, the account now a number.
CREATE INDEX devices_live_active ON devices (account_id, active_count, id)
    WHERE deleted_at IS NULL;
CREATE INDEX devices_live_client_version ON devices (account_id, client_version, id)
    WHERE deleted_at IS NULL;
CREATE INDEX devices_live_created ON devices (account_id, created_at, id)
    WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX devices_live_hardware_id ON devices (account_id, hardware_id)
    WHERE hardware_id <> '' AND deleted_at IS NULL;
CREATE INDEX devices_live_id ON devices (account_id, id) WHERE deleted_at IS NULL;
CREATE INDEX devices_live_name ON devices (account_id, name, id) WHERE deleted_at IS NULL;
CREATE INDEX devices_live_seen ON devices (account_id, last_seen_at, id)
    WHERE deleted_at IS NULL;
CREATE INDEX devices_live_serial ON devices (account_id, serial_number)
    WHERE serial_number <> '' AND deleted_at IS NULL;
CREATE INDEX devices_live_user_email ON devices (account_id, last_seen_user_email, id)
    WHERE deleted_at IS NULL;

CREATE INDEX registrations_device_deleted ON registrations (device_id)
    WHERE deleted_at IS NOT NULL;
CREATE INDEX registrations_live_created
    ON registrations (account_id, created_at, id, last_seen_at, revoked_at)
    WHERE deleted_at IS NULL;
CREATE INDEX registrations_live_id ON registrations (account_id, id)
    WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX registrations_live_key ON registrations (account_id, key)
    WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX registrations_live_seat ON registrations (device_id, slot)
    WHERE deleted_at IS NULL;
CREATE INDEX registrations_live_seen
    ON registrations (account_id, last_seen_at, id, revoked_at, created_at)
    WHERE deleted_at IS NULL;
CREATE INDEX registrations_live_user_email ON registrations (account_id, user_email, id)
    WHERE deleted_at IS NULL;
CREATE INDEX registrations_live_user_name ON registrations (account_id, user_name, id)
    WHERE deleted_at IS NULL;
CREATE INDEX registrations_user ON registrations (user_id);

-- The triggers as they stood, but for the account counters, which find the account
-- by its number.
CREATE VIEW device_refresh (device_id) AS SELECT NULL;

CREATE TRIGGER device_refresh_run INSTEAD OF INSERT ON device_refresh BEGIN
    UPDATE devices SET active_count = v.active, last_seen_registration_id = v.reg,
        last_seen_user_id = v.user_id, last_seen_user_email = v.email,
        last_seen_user_name = v.name,
        search_text = go_lower(devices.id || char(31) || devices.name || char(31) ||
            devices.model || char(31) || devices.manufacturer || char(31) ||
            devices.serial_number || char(31) || devices.hardware_id || char(31) ||
            devices.mac_address || char(31) || v.email || char(31) || v.name)
    FROM (SELECT s.active, s.reg, r.user_id, coalesce(u.email, '') AS email,
            coalesce(u.name, '') AS name
        FROM (SELECT
            (SELECT count(*) FROM registrations r WHERE r.device_id = NEW.device_id
                AND r.deleted_at IS NULL AND r.revoked_at IS NULL) AS active,
            coalesce(
                (SELECT r.id FROM registrations r WHERE r.device_id = NEW.device_id
                    AND r.deleted_at IS NULL ORDER BY r.last_seen_at DESC, r.id DESC LIMIT 1),
                (SELECT r.id FROM registrations r WHERE r.device_id = NEW.device_id
                    AND r.deleted_at IS NOT NULL ORDER BY r.last_seen_at DESC, r.id DESC
                    LIMIT 1)) AS reg) s
        LEFT JOIN registrations r ON r.id = s.reg
        LEFT JOIN users u ON u.id = r.user_id) v
    WHERE devices.id = NEW.device_id
        AND (devices.active_count, devices.last_seen_registration_id,
            devices.last_seen_user_id, devices.last_seen_user_email,
            devices.last_seen_user_name) IS NOT (v.active, v.reg, v.user_id, v.email, v.name);
END;

CREATE TRIGGER devices_count_delete AFTER DELETE ON devices BEGIN
    UPDATE accounts SET
        live_device_count = live_device_count - (OLD.deleted_at IS NULL),
        active_device_count = active_device_count
            - (OLD.deleted_at IS NULL AND OLD.active_count > 0)
    WHERE num = OLD.account_id;
END;

CREATE TRIGGER devices_count_insert AFTER INSERT ON devices BEGIN
    UPDATE accounts SET
        live_device_count = live_device_count + (NEW.deleted_at IS NULL),
        active_device_count = active_device_count
            + (NEW.deleted_at IS NULL AND NEW.active_count > 0)
    WHERE num = NEW.account_id;
END;

CREATE TRIGGER devices_count_update AFTER UPDATE OF active_count, deleted_at ON devices
WHEN (OLD.deleted_at IS NULL) IS NOT (NEW.deleted_at IS NULL)
    OR (OLD.active_count > 0) IS NOT (NEW.active_count > 0) BEGIN
    UPDATE accounts SET
        live_device_count = live_device_count - (OLD.deleted_at IS NULL)
            + (NEW.deleted_at IS NULL),
        active_device_count = active_device_count
            - (OLD.deleted_at IS NULL AND OLD.active_count > 0)
            + (NEW.deleted_at IS NULL AND NEW.active_count > 0)
    WHERE num = NEW.account_id;
END;

CREATE TRIGGER devices_denormalize AFTER UPDATE OF name, client_version ON devices
WHEN OLD.name IS NOT NEW.name OR OLD.client_version IS NOT NEW.client_version BEGIN
    UPDATE registrations SET device_name = NEW.name, client_version = NEW.client_version
    WHERE device_id = NEW.id AND deleted_at IS NULL;
END;

CREATE TRIGGER devices_search_insert AFTER INSERT ON devices WHEN NEW.search_text = '' BEGIN
    UPDATE devices SET search_text = go_lower(id || char(31) || name || char(31) ||
        model || char(31) || manufacturer || char(31) || serial_number || char(31) ||
        hardware_id || char(31) || mac_address || char(31) ||
        last_seen_user_email || char(31) || last_seen_user_name)
    WHERE id = NEW.id;
END;

CREATE TRIGGER devices_search_update AFTER UPDATE OF name, model, manufacturer, serial_number,
    hardware_id, mac_address, last_seen_user_email, last_seen_user_name ON devices
WHEN (OLD.name IS NOT NEW.name OR OLD.model IS NOT NEW.model
    OR OLD.manufacturer IS NOT NEW.manufacturer OR OLD.serial_number IS NOT NEW.serial_number
    OR OLD.hardware_id IS NOT NEW.hardware_id OR OLD.mac_address IS NOT NEW.mac_address
    OR OLD.last_seen_user_email IS NOT NEW.last_seen_user_email
    OR OLD.last_seen_user_name IS NOT NEW.last_seen_user_name)
    AND OLD.search_text IS NEW.search_text BEGIN
    UPDATE devices SET search_text = go_lower(id || char(31) || name || char(31) ||
        model || char(31) || manufacturer || char(31) || serial_number || char(31) ||
        hardware_id || char(31) || mac_address || char(31) ||
        last_seen_user_email || char(31) || last_seen_user_name)
    WHERE id = NEW.id;
END;

CREATE TRIGGER registrations_count_delete AFTER DELETE ON registrations BEGIN
    UPDATE accounts SET
        live_count = live_count - (OLD.deleted_at IS NULL),
        revoked_count = revoked_count - (OLD.deleted_at IS NULL AND OLD.revoked_at IS NOT NULL)
    WHERE num = OLD.account_id;
END;

CREATE TRIGGER registrations_count_insert AFTER INSERT ON registrations BEGIN
    UPDATE accounts SET
        live_count = live_count + (NEW.deleted_at IS NULL),
        revoked_count = revoked_count + (NEW.deleted_at IS NULL AND NEW.revoked_at IS NOT NULL)
    WHERE num = NEW.account_id;
END;

CREATE TRIGGER registrations_count_update AFTER UPDATE OF revoked_at, deleted_at ON registrations
WHEN (OLD.revoked_at IS NULL) IS NOT (NEW.revoked_at IS NULL)
    OR (OLD.deleted_at IS NULL) IS NOT (NEW.deleted_at IS NULL) BEGIN
    UPDATE accounts SET
        live_count = live_count - (OLD.deleted_at IS NULL) + (NEW.deleted_at IS NULL),
        revoked_count = revoked_count
            - (OLD.deleted_at IS NULL AND OLD.revoked_at IS NOT NULL)
            + (NEW.deleted_at IS NULL AND NEW.revoked_at IS NOT NULL)
    WHERE num = NEW.account_id;
END;

CREATE TRIGGER registrations_denormalize_insert AFTER INSERT ON registrations BEGIN
    UPDATE registrations SET
        user_name = coalesce((SELECT name FROM users WHERE id = NEW.user_id), ''),
        user_email = coalesce((SELECT email FROM users WHERE id = NEW.user_id), ''),
        device_name = coalesce((SELECT name FROM devices WHERE id = NEW.device_id), ''),
        client_version = coalesce((SELECT client_version FROM devices WHERE id = NEW.device_id), '')
    WHERE id = NEW.id;
    INSERT INTO registrations_search (rowid, text)
    SELECT rowid, go_lower(id || char(31) || device_name || char(31) ||
        user_email || char(31) || user_name)
    FROM registrations WHERE id = NEW.id;
END;

CREATE TRIGGER registrations_denormalize_update AFTER UPDATE OF user_id, device_id ON registrations
WHEN OLD.user_id IS NOT NEW.user_id OR OLD.device_id IS NOT NEW.device_id BEGIN
    UPDATE registrations SET
        user_name = coalesce((SELECT name FROM users WHERE id = NEW.user_id), ''),
        user_email = coalesce((SELECT email FROM users WHERE id = NEW.user_id), ''),
        device_name = coalesce((SELECT name FROM devices WHERE id = NEW.device_id), ''),
        client_version = coalesce((SELECT client_version FROM devices WHERE id = NEW.device_id), '')
    WHERE id = NEW.id;
END;

CREATE TRIGGER registrations_device_delete AFTER DELETE ON registrations BEGIN
    INSERT INTO device_refresh VALUES (OLD.device_id);
END;

CREATE TRIGGER registrations_device_insert AFTER INSERT ON registrations BEGIN
    INSERT INTO device_refresh VALUES (NEW.device_id);
END;

CREATE TRIGGER registrations_device_revoke AFTER UPDATE OF revoked_at ON registrations
WHEN OLD.device_id IS NEW.device_id AND OLD.deleted_at IS NULL AND NEW.deleted_at IS NULL
    AND (OLD.revoked_at IS NULL) IS NOT (NEW.revoked_at IS NULL)
    AND OLD.user_id IS NEW.user_id AND OLD.last_seen_at IS NEW.last_seen_at BEGIN
    UPDATE devices SET active_count = active_count + (NEW.revoked_at IS NULL)
        - (OLD.revoked_at IS NULL)
    WHERE id = NEW.device_id;
END;

CREATE TRIGGER registrations_device_revoke_refresh AFTER UPDATE OF revoked_at ON registrations
WHEN OLD.device_id IS NEW.device_id AND OLD.deleted_at IS NULL AND NEW.deleted_at IS NULL
    AND (OLD.revoked_at IS NULL) IS NOT (NEW.revoked_at IS NULL)
    AND (OLD.user_id IS NOT NEW.user_id OR OLD.last_seen_at IS NOT NEW.last_seen_at) BEGIN
    INSERT INTO device_refresh VALUES (NEW.device_id);
END;

CREATE TRIGGER registrations_device_seen AFTER UPDATE OF last_seen_at ON registrations
WHEN NEW.last_seen_at > OLD.last_seen_at
    AND NEW.id IS NOT (SELECT last_seen_registration_id FROM devices WHERE id = NEW.device_id)
BEGIN
    INSERT INTO device_refresh VALUES (NEW.device_id);
END;

CREATE TRIGGER registrations_device_state
AFTER UPDATE OF device_id, revoked_at, deleted_at ON registrations
WHEN OLD.device_id IS NOT NEW.device_id
    OR (OLD.deleted_at IS NULL) IS NOT (NEW.deleted_at IS NULL) BEGIN
    INSERT INTO device_refresh SELECT NEW.device_id UNION SELECT OLD.device_id;
END;

CREATE TRIGGER registrations_device_user AFTER UPDATE OF user_id ON registrations
WHEN OLD.user_id IS NOT NEW.user_id BEGIN
    INSERT INTO device_refresh VALUES (NEW.device_id);
END;

CREATE TRIGGER registrations_search_delete AFTER DELETE ON registrations BEGIN
    DELETE FROM registrations_search WHERE rowid = OLD.rowid;
END;

CREATE TRIGGER registrations_search_update
AFTER UPDATE OF id, device_name, user_email, user_name ON registrations
WHEN OLD.id IS NOT NEW.id OR OLD.device_name IS NOT NEW.device_name
    OR OLD.user_email IS NOT NEW.user_email OR OLD.user_name IS NOT NEW.user_name BEGIN
    UPDATE registrations_search SET text = go_lower(NEW.id || char(31) || NEW.device_name ||
        char(31) || NEW.user_email || char(31) || NEW.user_name)
    WHERE rowid = NEW.rowid;
END;

CREATE TRIGGER users_denormalize AFTER UPDATE OF name, email ON users
WHEN OLD.name IS NOT NEW.name OR OLD.email IS NOT NEW.email BEGIN
    UPDATE registrations SET user_name = NEW.name, user_email = NEW.email
    WHERE user_id = NEW.id;
END;

CREATE TRIGGER users_device_denormalize AFTER UPDATE OF name, email ON users
WHEN OLD.name IS NOT NEW.name OR OLD.email IS NOT NEW.email BEGIN
    UPDATE devices SET last_seen_user_email = NEW.email, last_seen_user_name = NEW.name
    WHERE id IN (SELECT device_id FROM registrations WHERE user_id = NEW.id)
        AND last_seen_user_id = NEW.id;
END;
