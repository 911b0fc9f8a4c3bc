-- A device's derived columns (active count, last seen registration, its user, the
-- search text) written by one UPDATE per change of a registration, instead of a
-- cascade. Until now an enrolment updated its device's row four times: the count
-- and last seen registration, then (devices_last_seen_user) the user, then
-- (devices_search_update) the search text, after (devices_search_insert) the search
-- text of the row just inserted; each rewrite moved the row's entries in the
-- device indexes. Nothing stored changes meaning, so nothing is backfilled.

DROP TRIGGER registrations_device_insert;
DROP TRIGGER registrations_device_state;
DROP TRIGGER registrations_device_seen;
DROP TRIGGER registrations_device_delete;
DROP TRIGGER registrations_device_user;
DROP TRIGGER devices_last_seen_user;
DROP TRIGGER devices_search_insert;
DROP TRIGGER devices_search_update;

-- SQLite has no procedures: inserting a device id into this view runs the trigger
-- below, which recomputes everything the device shows of its registrations and
-- writes the row once, only when something changed, search text included, so that
-- the write fires no trigger that writes the row again.
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

CREATE TRIGGER registrations_device_insert AFTER INSERT ON registrations BEGIN
    INSERT INTO device_refresh VALUES (NEW.device_id);
END;

-- A move to another device or a deletion can change both devices' last seen
-- registration; a revocation alone changes only the count (below).
CREATE TRIGGER registrations_device_state
AFTER UPDATE OF device_id, revoked_at, deleted_at ON registrations
WHEN OLD.device_id IS NOT NEW.device_id
    OR (OLD.deleted_at IS NULL) IS NOT (NEW.deleted_at IS NULL) BEGIN
    INSERT INTO device_refresh SELECT NEW.device_id UNION SELECT OLD.device_id;
END;

-- A revocation or unrevocation of a live registration moves its device's active
-- count by one and changes nothing else the device shows: a revoked registration
-- still counts as seen when it was. Only when nothing else the device's views
-- depend on changes in the same statement: SQLite runs a statement's triggers
-- newest first, so the refresh that a new user or a later last seen time asks for
-- (an import's upsert writes every column) recounts first, and a move by one on
-- top of that recount would count the revocation twice. Those statements refresh
-- the device in full instead (registrations_device_revoke_refresh).
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

-- A heartbeat changes the ranking only when it moves a registration that is not
-- already its device's last seen one; the WHEN clause keeps the common case, the
-- device's own registration checking in, to one lookup.
CREATE TRIGGER registrations_device_seen AFTER UPDATE OF last_seen_at ON registrations
WHEN NEW.last_seen_at > OLD.last_seen_at
    AND NEW.id IS NOT (SELECT last_seen_registration_id FROM devices WHERE id = NEW.device_id)
BEGIN
    INSERT INTO device_refresh VALUES (NEW.device_id);
END;

CREATE TRIGGER registrations_device_delete AFTER DELETE ON registrations BEGIN
    INSERT INTO device_refresh VALUES (OLD.device_id);
END;

-- A re-enrolment by another user moves the seat's user.
CREATE TRIGGER registrations_device_user AFTER UPDATE OF user_id ON registrations
WHEN OLD.user_id IS NOT NEW.user_id BEGIN
    INSERT INTO device_refresh VALUES (NEW.device_id);
END;

-- The adapter's insert writes the search text with the row; this covers any other
-- writer, since a device's search text is never empty (it starts with the id).
CREATE TRIGGER devices_search_insert AFTER INSERT ON devices WHEN NEW.search_text = '' BEGIN
    UPDATE devices SET search_text = go_lower(id || char(31) || name || char(31) ||
        model || char(31) || manufacturer || char(31) || serial_number || char(31) ||
        hardware_id || char(31) || mac_address || char(31) ||
        last_seen_user_email || char(31) || last_seen_user_name)
    WHERE id = NEW.id;
END;

-- A statement that wrote the search text along with the facts (device_refresh) is
-- left as it is.
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
