-- Two indexes that no query reads. devices_account (account_id) and
-- registrations_profile (profile_id) only served the foreign keys' actions when an
-- account or a profile row is deleted, and warpreg deletes neither: accounts stay,
-- and profiles, like devices and registrations, are deleted by setting deleted_at.
-- Every list of devices filters live rows and pages from a devices_live_* index;
-- registrations join their profile by its primary key. At a million registrations
-- the two took about 70 MB. A row deleted by hand still has its foreign keys
-- enforced, by a scan instead of an index.
DROP INDEX devices_account;
DROP INDEX registrations_profile;
