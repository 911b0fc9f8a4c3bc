-- A trigram index for the registration list's substring search, kept in step with
-- the SQLite adapter's 0009 (which indexes the same text with FTS5's trigram
-- tokenizer). search_text LIKE '%term%' uses it for a rare term; for a common one
-- the planner still walks the sort key's index.
--
-- pg_trgm is a trusted extension: a database owner may create it without being a
-- superuser. It goes to public rather than to the first schema of the search path,
-- where dropping that schema would drop it and every index that uses it; where it
-- is already installed, in whatever schema, its operator class is named from there.

CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public;

DO $$
BEGIN
    EXECUTE format('CREATE INDEX registrations_live_search ON registrations '
        'USING gin (search_text %s.gin_trgm_ops) WHERE deleted_at IS NULL',
        (SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm'));
END
$$;
