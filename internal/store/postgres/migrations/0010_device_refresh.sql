-- Kept in step with the SQLite adapter's 0010. PostgreSQL's device triggers already
-- write a device's row once per change (warpreg_refresh_device, and a BEFORE trigger
-- for the search text), so only the revocation changes: revoking or unrevoking a
-- live registration moves its device's active count by one and changes nothing else
-- the device shows, so it no longer recounts and re-ranks the device's
-- registrations.

CREATE OR REPLACE FUNCTION warpreg_registration_device() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.device_id = NEW.device_id
        AND OLD.user_id IS NOT DISTINCT FROM NEW.user_id
        AND OLD.deleted_at IS NULL AND NEW.deleted_at IS NULL THEN
        IF (OLD.revoked_at IS NULL) <> (NEW.revoked_at IS NULL) THEN
            UPDATE devices SET active_count = active_count + (NEW.revoked_at IS NULL)::int
                - (OLD.revoked_at IS NULL)::int
            WHERE id = NEW.device_id;
        END IF;
        RETURN NULL;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM warpreg_refresh_device(NEW.device_id);
    END IF;
    IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.device_id <> NEW.device_id) THEN
        PERFORM warpreg_refresh_device(OLD.device_id);
    END IF;
    RETURN NULL;
END
$$;
