-- Kept in step with the SQLite adapter's 0003: the user's name and email copied onto
-- each registration for the user sorts, a lower-cased search text, per-account
-- counts for total_count, and sort indexes over live rows. Triggers keep them right
-- whatever writes the rows.

ALTER TABLE registrations ADD COLUMN user_name TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE registrations ADD COLUMN user_email TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE registrations ADD COLUMN device_name TEXT NOT NULL DEFAULT '';
ALTER TABLE registrations ADD COLUMN client_version TEXT NOT NULL DEFAULT '';

-- id, device name, user email and user name, lower-cased and joined by U+001F, a
-- control character that a search term cannot contain, so no match spans two fields.
ALTER TABLE registrations ADD COLUMN search_text TEXT COLLATE "C" NOT NULL DEFAULT '';

CREATE FUNCTION warpreg_search_text(reg_id TEXT, device_name TEXT, email TEXT, name TEXT)
RETURNS TEXT LANGUAGE sql IMMUTABLE AS $$
    SELECT lower((reg_id || chr(31) || coalesce(device_name, '') || chr(31) ||
        coalesce(email, '') || chr(31) || coalesce(name, '')) COLLATE "default")
$$;

CREATE FUNCTION warpreg_registration_denormalize() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    u_name TEXT := '';
    u_email TEXT := '';
    d_name TEXT := '';
    d_version TEXT := '';
BEGIN
    SELECT name, email INTO u_name, u_email FROM users WHERE id = NEW.user_id;
    SELECT name, client_version INTO d_name, d_version FROM devices WHERE id = NEW.device_id;
    NEW.user_name := coalesce(u_name, '');
    NEW.user_email := coalesce(u_email, '');
    NEW.device_name := coalesce(d_name, '');
    NEW.client_version := coalesce(d_version, '');
    NEW.search_text := warpreg_search_text(NEW.id, d_name, u_email, u_name);
    RETURN NEW;
END
$$;

CREATE TRIGGER registrations_denormalize_insert BEFORE INSERT
    ON registrations FOR EACH ROW EXECUTE FUNCTION warpreg_registration_denormalize();
CREATE TRIGGER registrations_denormalize_update BEFORE UPDATE OF user_id, device_id
    ON registrations FOR EACH ROW
    WHEN (OLD.user_id IS DISTINCT FROM NEW.user_id OR OLD.device_id IS DISTINCT FROM NEW.device_id)
    EXECUTE FUNCTION warpreg_registration_denormalize();

CREATE FUNCTION warpreg_user_denormalize() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE registrations r SET user_name = NEW.name, user_email = NEW.email,
        search_text = warpreg_search_text(r.id, r.device_name, NEW.email, NEW.name)
    WHERE r.user_id = NEW.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER users_denormalize AFTER UPDATE OF name, email ON users FOR EACH ROW
    WHEN (OLD.name IS DISTINCT FROM NEW.name OR OLD.email IS DISTINCT FROM NEW.email)
    EXECUTE FUNCTION warpreg_user_denormalize();

-- Live registrations follow their device; a tombstone keeps what it showed.
CREATE FUNCTION warpreg_device_denormalize() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE registrations r
    SET device_name = NEW.name, client_version = NEW.client_version,
        search_text = warpreg_search_text(r.id, NEW.name, r.user_email, r.user_name)
    WHERE r.device_id = NEW.id AND r.deleted_at IS NULL;
    RETURN NULL;
END
$$;

CREATE TRIGGER devices_denormalize AFTER UPDATE OF name, client_version ON devices FOR EACH ROW
    WHEN (OLD.name IS DISTINCT FROM NEW.name OR OLD.client_version IS DISTINCT FROM NEW.client_version)
    EXECUTE FUNCTION warpreg_device_denormalize();

UPDATE registrations r SET
    user_name = coalesce((SELECT name FROM users u WHERE u.id = r.user_id), ''),
    user_email = coalesce((SELECT email FROM users u WHERE u.id = r.user_id), ''),
    device_name = coalesce((SELECT name FROM devices d WHERE d.id = r.device_id), ''),
    client_version = coalesce((SELECT client_version FROM devices d WHERE d.id = r.device_id), ''),
    search_text = warpreg_search_text(r.id,
        (SELECT name FROM devices d WHERE d.id = r.device_id),
        (SELECT email FROM users u WHERE u.id = r.user_id),
        (SELECT name FROM users u WHERE u.id = r.user_id));

-- One index per sort key, over live rows only: every list filters deleted_at IS NULL.
DROP INDEX registrations_account_id;
DROP INDEX registrations_account_created;
DROP INDEX registrations_account_seen;
CREATE INDEX registrations_live_id ON registrations (account_id, id)
    WHERE deleted_at IS NULL;
CREATE INDEX registrations_live_created ON registrations (account_id, created_at, id)
    WHERE deleted_at IS NULL;
-- revoked_at rides along so that counting a seen_after/seen_before filter with a
-- status can be an index-only scan.
CREATE INDEX registrations_live_seen ON registrations (account_id, last_seen_at, id)
    INCLUDE (revoked_at) WHERE deleted_at IS NULL;
CREATE INDEX registrations_live_user_name ON registrations (account_id, user_name, id)
    WHERE deleted_at IS NULL;
CREATE INDEX registrations_live_user_email ON registrations (account_id, user_email, id)
    WHERE deleted_at IS NULL;

-- Live (not deleted) and revoked registrations per account.
ALTER TABLE accounts ADD COLUMN live_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN revoked_count BIGINT NOT NULL DEFAULT 0;

UPDATE accounts a SET
    live_count = (SELECT count(*) FROM registrations r
        WHERE r.account_id = a.id AND r.deleted_at IS NULL),
    revoked_count = (SELECT count(*) FROM registrations r
        WHERE r.account_id = a.id AND r.deleted_at IS NULL AND r.revoked_at IS NOT NULL);

CREATE FUNCTION warpreg_count_registrations() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    live_delta BIGINT := 0;
    revoked_delta BIGINT := 0;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        live_delta := live_delta - (OLD.deleted_at IS NULL)::int;
        revoked_delta := revoked_delta -
            (OLD.deleted_at IS NULL AND OLD.revoked_at IS NOT NULL)::int;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        live_delta := live_delta + (NEW.deleted_at IS NULL)::int;
        revoked_delta := revoked_delta +
            (NEW.deleted_at IS NULL AND NEW.revoked_at IS NOT NULL)::int;
    END IF;
    IF live_delta <> 0 OR revoked_delta <> 0 THEN
        UPDATE accounts SET live_count = live_count + live_delta,
            revoked_count = revoked_count + revoked_delta
        WHERE id = coalesce(NEW.account_id, OLD.account_id);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER registrations_count AFTER INSERT OR DELETE OR UPDATE OF revoked_at, deleted_at
    ON registrations FOR EACH ROW EXECUTE FUNCTION warpreg_count_registrations();
