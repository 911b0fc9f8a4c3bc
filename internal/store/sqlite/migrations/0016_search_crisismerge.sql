-- FTS5 merges a level's segments all at once, inside whichever commit brings the
-- level to 'crisismerge' segments (16 by default). With automerge at 16 (migration
-- 0014) every merge was such a merge: the incremental merging that automerge starts
-- never had a commit to do its work in. Most are small, but a level of large
-- segments took one enrolment's commit 2.6 s at a million registrations, and every
-- write queued behind it. At 64, a level of 16 is merged a little at each commit
-- that follows, and a whole-level merge happens only if writes outrun that.
INSERT INTO registrations_search (registrations_search, rank) VALUES ('crisismerge', 64);
