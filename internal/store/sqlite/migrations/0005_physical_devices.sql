-- Physical devices as a list of their own: what the device sorts and filters need,
-- kept on the device's row by triggers whatever writes the rows, so that every
-- sort pages from an index. go_lower is registered by warpreg's driver setup.
--
-- A device's last seen registration is the one seen most recently, preferring one
-- that is not deleted, ties broken by the greater id; its user is the device's last
-- seen user. A revoked registration still counts: it was seen when it was.

ALTER TABLE devices ADD COLUMN active_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN last_seen_registration_id TEXT;
ALTER TABLE devices ADD COLUMN last_seen_user_id TEXT;
ALTER TABLE devices ADD COLUMN last_seen_user_email TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN last_seen_user_name TEXT NOT NULL DEFAULT '';

-- id, name, model, manufacturer, serial number, hardware id, MAC address and the
-- last seen user's email and name, lower-cased and joined by U+001F, a control
-- character that a search term cannot contain, so no match spans two fields.
ALTER TABLE devices ADD COLUMN search_text TEXT NOT NULL DEFAULT '';

-- A device's live registrations are found through registrations_live_seat; its
-- tombstones, which the ranking needs once no live registration is left, through
-- this index, which no enrolment or heartbeat writes.
CREATE INDEX registrations_device_deleted ON registrations (device_id)
    WHERE deleted_at IS NOT NULL;

-- The triggers on registrations recompute the device's active count and last seen
-- registration, written out in each since SQLite has no procedures; a trigger on
-- devices then follows the last seen registration to its user.
CREATE TRIGGER registrations_device_insert AFTER INSERT ON registrations BEGIN
    UPDATE devices SET
        active_count = (SELECT count(*) FROM registrations r WHERE r.device_id = devices.id
            AND r.deleted_at IS NULL AND r.revoked_at IS NULL),
        last_seen_registration_id = coalesce(
            (SELECT r.id FROM registrations r WHERE r.device_id = devices.id
                AND r.deleted_at IS NULL ORDER BY r.last_seen_at DESC, r.id DESC LIMIT 1),
            (SELECT r.id FROM registrations r WHERE r.device_id = devices.id
                AND r.deleted_at IS NOT NULL ORDER BY r.last_seen_at DESC, r.id DESC LIMIT 1))
    WHERE id = NEW.device_id;
END;

CREATE TRIGGER registrations_device_state
AFTER UPDATE OF device_id, revoked_at, deleted_at ON registrations
WHEN OLD.device_id IS NOT NEW.device_id
    OR (OLD.revoked_at IS NULL) IS NOT (NEW.revoked_at IS NULL)
    OR (OLD.deleted_at IS NULL) IS NOT (NEW.deleted_at IS NULL) BEGIN
    UPDATE devices SET
        active_count = (SELECT count(*) FROM registrations r WHERE r.device_id = devices.id
            AND r.deleted_at IS NULL AND r.revoked_at IS NULL),
        last_seen_registration_id = coalesce(
            (SELECT r.id FROM registrations r WHERE r.device_id = devices.id
                AND r.deleted_at IS NULL ORDER BY r.last_seen_at DESC, r.id DESC LIMIT 1),
            (SELECT r.id FROM registrations r WHERE r.device_id = devices.id
                AND r.deleted_at IS NOT NULL ORDER BY r.last_seen_at DESC, r.id DESC LIMIT 1))
    WHERE id IN (NEW.device_id, OLD.device_id);
END;

-- A heartbeat changes the ranking only when it moves a registration that is not
-- already its device's last seen one; the WHEN clause keeps the common case, the
-- device's own registration checking in, to one lookup.
CREATE TRIGGER registrations_device_seen AFTER UPDATE OF last_seen_at ON registrations
WHEN NEW.last_seen_at > OLD.last_seen_at
    AND NEW.id IS NOT (SELECT last_seen_registration_id FROM devices WHERE id = NEW.device_id)
BEGIN
    UPDATE devices SET last_seen_registration_id = coalesce(
            (SELECT r.id FROM registrations r WHERE r.device_id = devices.id
                AND r.deleted_at IS NULL ORDER BY r.last_seen_at DESC, r.id DESC LIMIT 1),
            (SELECT r.id FROM registrations r WHERE r.device_id = devices.id
                AND r.deleted_at IS NOT NULL ORDER BY r.last_seen_at DESC, r.id DESC LIMIT 1))
    WHERE id = NEW.device_id;
END;

CREATE TRIGGER registrations_device_delete AFTER DELETE ON registrations BEGIN
    UPDATE devices SET
        active_count = (SELECT count(*) FROM registrations r WHERE r.device_id = devices.id
            AND r.deleted_at IS NULL AND r.revoked_at IS NULL),
        last_seen_registration_id = coalesce(
            (SELECT r.id FROM registrations r WHERE r.device_id = devices.id
                AND r.deleted_at IS NULL ORDER BY r.last_seen_at DESC, r.id DESC LIMIT 1),
            (SELECT r.id FROM registrations r WHERE r.device_id = devices.id
                AND r.deleted_at IS NOT NULL ORDER BY r.last_seen_at DESC, r.id DESC LIMIT 1))
    WHERE id = OLD.device_id;
END;

-- A re-enrolment by another user moves the seat's user.
CREATE TRIGGER registrations_device_user AFTER UPDATE OF user_id ON registrations
WHEN OLD.user_id IS NOT NEW.user_id BEGIN
    UPDATE devices SET last_seen_user_id = NEW.user_id,
        last_seen_user_email = coalesce((SELECT email FROM users WHERE id = NEW.user_id), ''),
        last_seen_user_name = coalesce((SELECT name FROM users WHERE id = NEW.user_id), '')
    WHERE id = NEW.device_id AND last_seen_registration_id = NEW.id;
END;

CREATE TRIGGER devices_last_seen_user AFTER UPDATE OF last_seen_registration_id ON devices
WHEN OLD.last_seen_registration_id IS NOT NEW.last_seen_registration_id BEGIN
    UPDATE devices SET
        last_seen_user_id = (SELECT r.user_id FROM registrations r
            WHERE r.id = NEW.last_seen_registration_id),
        last_seen_user_email = coalesce((SELECT u.email FROM registrations r
            JOIN users u ON u.id = r.user_id WHERE r.id = NEW.last_seen_registration_id), ''),
        last_seen_user_name = coalesce((SELECT u.name FROM registrations r
            JOIN users u ON u.id = r.user_id WHERE r.id = NEW.last_seen_registration_id), '')
    WHERE id = NEW.id;
END;

-- Devices follow their last seen user's renames, found through the user's
-- registrations.
CREATE TRIGGER users_device_denormalize AFTER UPDATE OF name, email ON users
WHEN OLD.name IS NOT NEW.name OR OLD.email IS NOT NEW.email BEGIN
    UPDATE devices SET last_seen_user_email = NEW.email, last_seen_user_name = NEW.name
    WHERE id IN (SELECT device_id FROM registrations WHERE user_id = NEW.id)
        AND last_seen_user_id = NEW.id;
END;

CREATE TRIGGER devices_search_insert AFTER INSERT ON devices BEGIN
    UPDATE devices SET search_text = go_lower(id || char(31) || name || char(31) ||
        model || char(31) || manufacturer || char(31) || serial_number || char(31) ||
        hardware_id || char(31) || mac_address || char(31) ||
        last_seen_user_email || char(31) || last_seen_user_name)
    WHERE id = NEW.id;
END;

CREATE TRIGGER devices_search_update AFTER UPDATE OF name, model, manufacturer, serial_number,
    hardware_id, mac_address, last_seen_user_email, last_seen_user_name ON devices
WHEN OLD.name IS NOT NEW.name OR OLD.model IS NOT NEW.model
    OR OLD.manufacturer IS NOT NEW.manufacturer OR OLD.serial_number IS NOT NEW.serial_number
    OR OLD.hardware_id IS NOT NEW.hardware_id OR OLD.mac_address IS NOT NEW.mac_address
    OR OLD.last_seen_user_email IS NOT NEW.last_seen_user_email
    OR OLD.last_seen_user_name IS NOT NEW.last_seen_user_name BEGIN
    UPDATE devices SET search_text = go_lower(id || char(31) || name || char(31) ||
        model || char(31) || manufacturer || char(31) || serial_number || char(31) ||
        hardware_id || char(31) || mac_address || char(31) ||
        last_seen_user_email || char(31) || last_seen_user_name)
    WHERE id = NEW.id;
END;

-- The backfill; devices_last_seen_user fills in each device's user as it goes.
UPDATE devices SET
    active_count = (SELECT count(*) FROM registrations r WHERE r.device_id = devices.id
        AND r.deleted_at IS NULL AND r.revoked_at IS NULL),
    last_seen_registration_id = coalesce(
        (SELECT r.id FROM registrations r WHERE r.device_id = devices.id
            AND r.deleted_at IS NULL ORDER BY r.last_seen_at DESC, r.id DESC LIMIT 1),
        (SELECT r.id FROM registrations r WHERE r.device_id = devices.id
            AND r.deleted_at IS NOT NULL ORDER BY r.last_seen_at DESC, r.id DESC LIMIT 1));
UPDATE devices SET search_text = go_lower(id || char(31) || name || char(31) ||
    model || char(31) || manufacturer || char(31) || serial_number || char(31) ||
    hardware_id || char(31) || mac_address || char(31) ||
    last_seen_user_email || char(31) || last_seen_user_name);

-- One index per sort key over live devices, as for registrations.
CREATE INDEX devices_live_id ON devices (account_id, id) WHERE deleted_at IS NULL;
CREATE INDEX devices_live_name ON devices (account_id, name, id) WHERE deleted_at IS NULL;
CREATE INDEX devices_live_client_version ON devices (account_id, client_version, id)
    WHERE deleted_at IS NULL;
CREATE INDEX devices_live_user_email ON devices (account_id, last_seen_user_email, id)
    WHERE deleted_at IS NULL;
CREATE INDEX devices_live_seen ON devices (account_id, last_seen_at, id)
    WHERE deleted_at IS NULL;
CREATE INDEX devices_live_active ON devices (account_id, active_count, id)
    WHERE deleted_at IS NULL;
CREATE INDEX devices_live_created ON devices (account_id, created_at, id)
    WHERE deleted_at IS NULL;

-- Live devices, and live devices with an active registration, per account.
ALTER TABLE accounts ADD COLUMN live_device_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN active_device_count INTEGER NOT NULL DEFAULT 0;

UPDATE accounts SET
    live_device_count = (SELECT count(*) FROM devices d
        WHERE d.account_id = accounts.id AND d.deleted_at IS NULL),
    active_device_count = (SELECT count(*) FROM devices d
        WHERE d.account_id = accounts.id AND d.deleted_at IS NULL AND d.active_count > 0);

CREATE TRIGGER devices_count_insert AFTER INSERT ON devices BEGIN
    UPDATE accounts SET
        live_device_count = live_device_count + (NEW.deleted_at IS NULL),
        active_device_count = active_device_count
            + (NEW.deleted_at IS NULL AND NEW.active_count > 0)
    WHERE id = NEW.account_id;
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
    WHERE id = NEW.account_id;
END;

CREATE TRIGGER devices_count_delete AFTER DELETE ON devices BEGIN
    UPDATE accounts SET
        live_device_count = live_device_count - (OLD.deleted_at IS NULL),
        active_device_count = active_device_count
            - (OLD.deleted_at IS NULL AND OLD.active_count > 0)
    WHERE id = OLD.account_id;
END;
