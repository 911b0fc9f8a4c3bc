-- Kept in step with the SQLite adapter's 0005: what the physical device sorts and
-- filters need, kept on the device's row by triggers whatever writes the rows, so
-- that every sort pages from an index.
--
-- A device's last seen registration is the one seen most recently, preferring one
-- that is not deleted, ties broken by the greater id; its user is the device's last
-- seen user. A revoked registration still counts: it was seen when it was.

ALTER TABLE devices ADD COLUMN active_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN last_seen_registration_id TEXT COLLATE "C";
ALTER TABLE devices ADD COLUMN last_seen_user_id TEXT COLLATE "C";
ALTER TABLE devices ADD COLUMN last_seen_user_email TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN last_seen_user_name TEXT COLLATE "C" NOT NULL DEFAULT '';

-- id, name, model, manufacturer, serial number, hardware id, MAC address and the
-- last seen user's email and name, lower-cased and joined by U+001F, a control
-- character that a search term cannot contain, so no match spans two fields.
ALTER TABLE devices ADD COLUMN search_text TEXT COLLATE "C" NOT NULL DEFAULT '';

-- client_version is a sort key: it compares bytewise, as in SQLite. A column named
-- in a trigger's WHEN clause cannot change, so 0003's trigger is set aside meanwhile.
DROP TRIGGER devices_denormalize ON devices;
ALTER TABLE devices ALTER COLUMN client_version TYPE TEXT COLLATE "C";
CREATE TRIGGER devices_denormalize AFTER UPDATE OF name, client_version ON devices FOR EACH ROW
    WHEN (OLD.name IS DISTINCT FROM NEW.name OR OLD.client_version IS DISTINCT FROM NEW.client_version)
    EXECUTE FUNCTION warpreg_device_denormalize();

-- A device's live registrations are found through registrations_live_seat; its
-- tombstones, which the ranking needs once no live registration is left, through
-- this index, which no enrolment or heartbeat writes.
CREATE INDEX registrations_device_deleted ON registrations (device_id)
    WHERE deleted_at IS NOT NULL;

-- warpreg_refresh_device recomputes what a device shows of its registrations and
-- writes the row only when something changed.
CREATE FUNCTION warpreg_refresh_device(dev TEXT) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    active BIGINT;
    reg TEXT;
    uid TEXT;
    u_email TEXT;
    u_name TEXT;
BEGIN
    SELECT count(*) INTO active FROM registrations r
    WHERE r.device_id = dev AND r.deleted_at IS NULL AND r.revoked_at IS NULL;
    SELECT r.id, r.user_id INTO reg, uid FROM registrations r
    WHERE r.device_id = dev AND r.deleted_at IS NULL
    ORDER BY r.last_seen_at DESC, r.id DESC LIMIT 1;
    IF NOT FOUND THEN
        SELECT r.id, r.user_id INTO reg, uid FROM registrations r
        WHERE r.device_id = dev AND r.deleted_at IS NOT NULL
        ORDER BY r.last_seen_at DESC, r.id DESC LIMIT 1;
    END IF;
    IF uid IS NOT NULL THEN
        SELECT u.email, u.name INTO u_email, u_name FROM users u WHERE u.id = uid;
    END IF;
    UPDATE devices d SET active_count = active, last_seen_registration_id = reg,
        last_seen_user_id = uid, last_seen_user_email = coalesce(u_email, ''),
        last_seen_user_name = coalesce(u_name, '')
    WHERE d.id = dev AND (d.active_count, d.last_seen_registration_id, d.last_seen_user_id,
        d.last_seen_user_email, d.last_seen_user_name) IS DISTINCT FROM
        (active, reg, uid, coalesce(u_email, ''), coalesce(u_name, ''));
END
$$;

CREATE FUNCTION warpreg_registration_device() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM warpreg_refresh_device(NEW.device_id);
    END IF;
    IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.device_id <> NEW.device_id) THEN
        PERFORM warpreg_refresh_device(OLD.device_id);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER registrations_device AFTER INSERT OR DELETE
    OR UPDATE OF device_id, user_id, revoked_at, deleted_at ON registrations FOR EACH ROW
    EXECUTE FUNCTION warpreg_registration_device();

-- A heartbeat changes the ranking only when it moves a registration that is not
-- already its device's last seen one; the check keeps the common case, the
-- device's own registration checking in, to one lookup.
CREATE FUNCTION warpreg_registration_device_seen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM devices d
            WHERE d.id = NEW.device_id AND d.last_seen_registration_id = NEW.id) THEN
        PERFORM warpreg_refresh_device(NEW.device_id);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER registrations_device_seen AFTER UPDATE OF last_seen_at ON registrations
    FOR EACH ROW WHEN (NEW.last_seen_at > OLD.last_seen_at)
    EXECUTE FUNCTION warpreg_registration_device_seen();

-- Devices follow their last seen user's renames, found through the user's
-- registrations.
CREATE FUNCTION warpreg_user_device_denormalize() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE devices SET last_seen_user_email = NEW.email, last_seen_user_name = NEW.name
    WHERE id IN (SELECT r.device_id FROM registrations r WHERE r.user_id = NEW.id)
        AND last_seen_user_id = NEW.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER users_device_denormalize AFTER UPDATE OF name, email ON users FOR EACH ROW
    WHEN (OLD.name IS DISTINCT FROM NEW.name OR OLD.email IS DISTINCT FROM NEW.email)
    EXECUTE FUNCTION warpreg_user_device_denormalize();

CREATE FUNCTION warpreg_device_search_text() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.search_text := lower((NEW.id || chr(31) || NEW.name || chr(31) || NEW.model ||
        chr(31) || NEW.manufacturer || chr(31) || NEW.serial_number || chr(31) ||
        NEW.hardware_id || chr(31) || NEW.mac_address || chr(31) ||
        NEW.last_seen_user_email || chr(31) || NEW.last_seen_user_name) COLLATE "default");
    RETURN NEW;
END
$$;

CREATE TRIGGER devices_search BEFORE INSERT OR UPDATE OF name, model, manufacturer,
    serial_number, hardware_id, mac_address, last_seen_user_email, last_seen_user_name
    ON devices FOR EACH ROW EXECUTE FUNCTION warpreg_device_search_text();

-- The backfill, through the function the triggers use. The search trigger fills
-- search_text of every device written, and the second statement writes the rest.
DO $$ BEGIN PERFORM warpreg_refresh_device(id) FROM devices; END $$;
UPDATE devices SET name = name WHERE search_text = '';

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
ALTER TABLE accounts ADD COLUMN live_device_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN active_device_count BIGINT NOT NULL DEFAULT 0;

UPDATE accounts a SET
    live_device_count = (SELECT count(*) FROM devices d
        WHERE d.account_id = a.id AND d.deleted_at IS NULL),
    active_device_count = (SELECT count(*) FROM devices d
        WHERE d.account_id = a.id AND d.deleted_at IS NULL AND d.active_count > 0);

CREATE FUNCTION warpreg_count_devices() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    live_delta BIGINT := 0;
    active_delta BIGINT := 0;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        live_delta := live_delta - (OLD.deleted_at IS NULL)::int;
        active_delta := active_delta - (OLD.deleted_at IS NULL AND OLD.active_count > 0)::int;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        live_delta := live_delta + (NEW.deleted_at IS NULL)::int;
        active_delta := active_delta + (NEW.deleted_at IS NULL AND NEW.active_count > 0)::int;
    END IF;
    IF live_delta <> 0 OR active_delta <> 0 THEN
        UPDATE accounts SET live_device_count = live_device_count + live_delta,
            active_device_count = active_device_count + active_delta
        WHERE id = coalesce(NEW.account_id, OLD.account_id);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER devices_count AFTER INSERT OR DELETE OR UPDATE OF active_count, deleted_at
    ON devices FOR EACH ROW EXECUTE FUNCTION warpreg_count_devices();
