-- Columns and counters that let a registration be read from its own row and lists
-- page from an index: the user's name and email and the device's name and client
-- version copied onto each registration, a lower-cased search text, and per-account
-- counts for total_count. Triggers keep them right whatever writes the rows.
-- go_lower is registered by warpreg's driver setup.

ALTER TABLE registrations ADD COLUMN user_name TEXT NOT NULL DEFAULT '';
ALTER TABLE registrations ADD COLUMN user_email TEXT NOT NULL DEFAULT '';
ALTER TABLE registrations ADD COLUMN device_name TEXT NOT NULL DEFAULT '';
ALTER TABLE registrations ADD COLUMN client_version TEXT NOT NULL DEFAULT '';

-- id, device name, user email and user name, lower-cased and joined by U+001F, a
-- control character that a search term cannot contain, so no match spans two fields.
ALTER TABLE registrations ADD COLUMN search_text TEXT NOT NULL DEFAULT '';

CREATE TRIGGER registrations_denormalize_insert AFTER INSERT ON registrations BEGIN
    UPDATE registrations SET
        user_name = coalesce((SELECT name FROM users WHERE id = NEW.user_id), ''),
        user_email = coalesce((SELECT email FROM users WHERE id = NEW.user_id), ''),
        device_name = coalesce((SELECT name FROM devices WHERE id = NEW.device_id), ''),
        client_version = coalesce((SELECT client_version FROM devices WHERE id = NEW.device_id), ''),
        search_text = go_lower(NEW.id || char(31) ||
            coalesce((SELECT name FROM devices WHERE id = NEW.device_id), '') || char(31) ||
            coalesce((SELECT email FROM users WHERE id = NEW.user_id), '') || char(31) ||
            coalesce((SELECT name FROM users WHERE id = NEW.user_id), ''))
    WHERE id = NEW.id;
END;

CREATE TRIGGER registrations_denormalize_update AFTER UPDATE OF user_id, device_id ON registrations
WHEN OLD.user_id IS NOT NEW.user_id OR OLD.device_id IS NOT NEW.device_id BEGIN
    UPDATE registrations SET
        user_name = coalesce((SELECT name FROM users WHERE id = NEW.user_id), ''),
        user_email = coalesce((SELECT email FROM users WHERE id = NEW.user_id), ''),
        device_name = coalesce((SELECT name FROM devices WHERE id = NEW.device_id), ''),
        client_version = coalesce((SELECT client_version FROM devices WHERE id = NEW.device_id), ''),
        search_text = go_lower(NEW.id || char(31) ||
            coalesce((SELECT name FROM devices WHERE id = NEW.device_id), '') || char(31) ||
            coalesce((SELECT email FROM users WHERE id = NEW.user_id), '') || char(31) ||
            coalesce((SELECT name FROM users WHERE id = NEW.user_id), ''))
    WHERE id = NEW.id;
END;

CREATE TRIGGER users_denormalize AFTER UPDATE OF name, email ON users
WHEN OLD.name IS NOT NEW.name OR OLD.email IS NOT NEW.email BEGIN
    UPDATE registrations SET user_name = NEW.name, user_email = NEW.email,
        search_text = go_lower(id || char(31) || device_name || char(31) ||
            NEW.email || char(31) || NEW.name)
    WHERE user_id = NEW.id;
END;

-- Live registrations follow their device; a tombstone keeps what it showed.
CREATE TRIGGER devices_denormalize AFTER UPDATE OF name, client_version ON devices
WHEN OLD.name IS NOT NEW.name OR OLD.client_version IS NOT NEW.client_version BEGIN
    UPDATE registrations SET device_name = NEW.name, client_version = NEW.client_version,
        search_text = go_lower(id || char(31) || NEW.name || char(31) ||
            user_email || char(31) || user_name)
    WHERE device_id = NEW.id AND deleted_at IS NULL;
END;

UPDATE registrations SET
    user_name = coalesce((SELECT name FROM users u WHERE u.id = registrations.user_id), ''),
    user_email = coalesce((SELECT email FROM users u WHERE u.id = registrations.user_id), ''),
    device_name = coalesce((SELECT name FROM devices d WHERE d.id = registrations.device_id), ''),
    client_version = coalesce(
        (SELECT client_version FROM devices d WHERE d.id = registrations.device_id), ''),
    search_text = go_lower(id || char(31) ||
        coalesce((SELECT name FROM devices d WHERE d.id = registrations.device_id), '') ||
        char(31) ||
        coalesce((SELECT email FROM users u WHERE u.id = registrations.user_id), '') ||
        char(31) ||
        coalesce((SELECT name FROM users u WHERE u.id = registrations.user_id), ''));

-- One index per sort key, over live rows only: every list filters deleted_at IS NULL,
-- so these are smaller than whole-table indexes and match the lists' WHERE clause,
-- which leads the planner to them rather than to another partial index.
DROP INDEX registrations_account_id;
DROP INDEX registrations_account_created;
DROP INDEX registrations_account_seen;
CREATE INDEX registrations_live_id ON registrations (account_id, id)
    WHERE deleted_at IS NULL;
CREATE INDEX registrations_live_created ON registrations (account_id, created_at, id)
    WHERE deleted_at IS NULL;
-- revoked_at rides along so that counting a seen_after/seen_before filter with a
-- status reads only this index, not a million rows.
CREATE INDEX registrations_live_seen ON registrations (account_id, last_seen_at, id, revoked_at)
    WHERE deleted_at IS NULL;
CREATE INDEX registrations_live_user_name ON registrations (account_id, user_name, id)
    WHERE deleted_at IS NULL;
CREATE INDEX registrations_live_user_email ON registrations (account_id, user_email, id)
    WHERE deleted_at IS NULL;

-- Live (not deleted) and revoked registrations per account.
ALTER TABLE accounts ADD COLUMN live_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN revoked_count INTEGER NOT NULL DEFAULT 0;

UPDATE accounts SET
    live_count = (SELECT count(*) FROM registrations r
        WHERE r.account_id = accounts.id AND r.deleted_at IS NULL),
    revoked_count = (SELECT count(*) FROM registrations r
        WHERE r.account_id = accounts.id AND r.deleted_at IS NULL AND r.revoked_at IS NOT NULL);

CREATE TRIGGER registrations_count_insert AFTER INSERT ON registrations BEGIN
    UPDATE accounts SET
        live_count = live_count + (NEW.deleted_at IS NULL),
        revoked_count = revoked_count + (NEW.deleted_at IS NULL AND NEW.revoked_at IS NOT NULL)
    WHERE id = NEW.account_id;
END;

CREATE TRIGGER registrations_count_update AFTER UPDATE OF revoked_at, deleted_at ON registrations
WHEN (OLD.revoked_at IS NULL) IS NOT (NEW.revoked_at IS NULL)
    OR (OLD.deleted_at IS NULL) IS NOT (NEW.deleted_at IS NULL) BEGIN
    UPDATE accounts SET
        live_count = live_count - (OLD.deleted_at IS NULL) + (NEW.deleted_at IS NULL),
        revoked_count = revoked_count
            - (OLD.deleted_at IS NULL AND OLD.revoked_at IS NOT NULL)
            + (NEW.deleted_at IS NULL AND NEW.revoked_at IS NOT NULL)
    WHERE id = NEW.account_id;
END;

CREATE TRIGGER registrations_count_delete AFTER DELETE ON registrations BEGIN
    UPDATE accounts SET
        live_count = live_count - (OLD.deleted_at IS NULL),
        revoked_count = revoked_count - (OLD.deleted_at IS NULL AND OLD.revoked_at IS NOT NULL)
    WHERE id = OLD.account_id;
END;
