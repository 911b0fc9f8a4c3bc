-- A trigram index for the registration list's substring search, which scanned every
-- registration of the account (LIKE '%term%' on search_text) when a term is rare.
-- The index is contentless: it holds the trigrams of each registration's search
-- text, keyed by the registration's rowid, and nothing else. The list rechecks
-- the real substring on the candidates it returns, from the row's own columns, so
-- the search_text column is dropped: the index takes its place, not its size again.
-- go_lower is registered by warpreg's driver setup.

DROP TRIGGER registrations_denormalize_insert;
DROP TRIGGER registrations_denormalize_update;
DROP TRIGGER users_denormalize;
DROP TRIGGER devices_denormalize;
ALTER TABLE registrations DROP COLUMN search_text;

-- The search text is id, device name, user email and user name, lower-cased and
-- joined by U+001F, a control character that a search term cannot contain, so no
-- match spans two fields. It is lower-cased before it is indexed (by Go's rules,
-- as the term is), and the tokenizer keeps case, so both sides fold the same way.
-- detail=none keeps only which rows hold a trigram: a query ANDs
-- the term's trigrams and the list rechecks the substring on the candidates.
CREATE VIRTUAL TABLE registrations_search USING fts5(
    text, content='', contentless_delete=1, detail=none,
    tokenize='trigram case_sensitive 1');

INSERT INTO registrations_search (rowid, text)
SELECT rowid, go_lower(id || char(31) || device_name || char(31) ||
    user_email || char(31) || user_name)
FROM registrations;

-- One segment rather than the many that a bulk load leaves: a query reads each
-- segment's doclist for each trigram, and a merged index answers in half the time.
INSERT INTO registrations_search (registrations_search) VALUES ('optimize');

-- created_at rides along in the last seen index too, so that a list filtered by a
-- narrow seen_after/seen_before window and sorted by created_at reads the window
-- from this index alone and sorts it, rather than walk the created_at index (last
-- seen and creation times go together, so the window's rows are all at one end).
DROP INDEX registrations_live_seen;
CREATE INDEX registrations_live_seen
    ON registrations (account_id, last_seen_at, id, revoked_at, created_at)
    WHERE deleted_at IS NULL;

-- And last_seen_at and revoked_at ride along in the created_at index, so that a
-- wider window sorted by created_at walks this index without reading the rows it
-- skips: ascending, those are every older registration the window leaves out
-- (0.2 to 0.35 s a page at a million when each was read; 5 to 20 ms now).
DROP INDEX registrations_live_created;
CREATE INDEX registrations_live_created
    ON registrations (account_id, created_at, id, last_seen_at, revoked_at)
    WHERE deleted_at IS NULL;

-- A new row's names are filled in, then its search text indexed, in that order in
-- one trigger: the search index's own update trigger fires for the names too, but
-- finds no entry to update yet, so each registration is indexed once.
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

CREATE TRIGGER users_denormalize AFTER UPDATE OF name, email ON users
WHEN OLD.name IS NOT NEW.name OR OLD.email IS NOT NEW.email BEGIN
    UPDATE registrations SET user_name = NEW.name, user_email = NEW.email
    WHERE user_id = NEW.id;
END;

-- Live registrations follow their device; a tombstone keeps what it showed.
CREATE TRIGGER devices_denormalize AFTER UPDATE OF name, client_version ON devices
WHEN OLD.name IS NOT NEW.name OR OLD.client_version IS NOT NEW.client_version BEGIN
    UPDATE registrations SET device_name = NEW.name, client_version = NEW.client_version
    WHERE device_id = NEW.id AND deleted_at IS NULL;
END;

-- The index follows the row whatever writes its names.
CREATE TRIGGER registrations_search_update
AFTER UPDATE OF id, device_name, user_email, user_name ON registrations
WHEN OLD.id IS NOT NEW.id OR OLD.device_name IS NOT NEW.device_name
    OR OLD.user_email IS NOT NEW.user_email OR OLD.user_name IS NOT NEW.user_name BEGIN
    UPDATE registrations_search SET text = go_lower(NEW.id || char(31) || NEW.device_name ||
        char(31) || NEW.user_email || char(31) || NEW.user_name)
    WHERE rowid = NEW.rowid;
END;

CREATE TRIGGER registrations_search_delete AFTER DELETE ON registrations BEGIN
    DELETE FROM registrations_search WHERE rowid = OLD.rowid;
END;
