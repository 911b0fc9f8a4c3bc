-- The search index merges its segments inside commits once a level holds 16 of
-- them, rather than FTS5's default 4; the writer merges the rest when it is idle.
-- See searchMergeAfter in writer.go for the measurements behind the number.
INSERT INTO registrations_search (registrations_search, rank) VALUES ('automerge', 16);
