-- Device settings profiles: every setting of Cloudflare's SettingsPolicy, the rule
-- (match expression, precedence, enabled) that assigns custom profiles, and the
-- progress of re-evaluating assignments after a profile changes.
--
-- The column defaults are Cloudflare's defaults (device.DefaultSettings), which the
-- profiles created before this migration keep. A NULL route or domain list reads as
-- Cloudflare's default list.

ALTER TABLE profiles ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE profiles ADD COLUMN match_rule TEXT NOT NULL DEFAULT '';
ALTER TABLE profiles ADD COLUMN precedence INTEGER; -- NULL on profiles without a rule
ALTER TABLE profiles ADD COLUMN enabled INTEGER NOT NULL DEFAULT 1;
ALTER TABLE profiles ADD COLUMN allow_mode_switch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE profiles ADD COLUMN allow_updates INTEGER NOT NULL DEFAULT 0;
ALTER TABLE profiles ADD COLUMN allowed_to_leave INTEGER NOT NULL DEFAULT 1;
ALTER TABLE profiles ADD COLUMN auto_connect INTEGER NOT NULL DEFAULT 0;
ALTER TABLE profiles ADD COLUMN captive_portal INTEGER NOT NULL DEFAULT 180;
ALTER TABLE profiles ADD COLUMN disable_auto_fallback INTEGER NOT NULL DEFAULT 0;
ALTER TABLE profiles ADD COLUMN exclude_office_ips INTEGER NOT NULL DEFAULT 0;
ALTER TABLE profiles ADD COLUMN lan_allow_minutes INTEGER;
ALTER TABLE profiles ADD COLUMN lan_allow_subnet_size INTEGER;
ALTER TABLE profiles ADD COLUMN register_interface_ip_with_dns INTEGER NOT NULL DEFAULT 1;
ALTER TABLE profiles ADD COLUMN sccm_vpn_boundary_support INTEGER NOT NULL DEFAULT 0;
ALTER TABLE profiles ADD COLUMN service_mode TEXT NOT NULL DEFAULT 'warp';
ALTER TABLE profiles ADD COLUMN service_port INTEGER NOT NULL DEFAULT 0;
ALTER TABLE profiles ADD COLUMN support_url TEXT NOT NULL DEFAULT '';
ALTER TABLE profiles ADD COLUMN switch_locked INTEGER NOT NULL DEFAULT 0;
ALTER TABLE profiles ADD COLUMN tunnel_protocol TEXT NOT NULL DEFAULT 'wireguard';
ALTER TABLE profiles ADD COLUMN split_mode TEXT NOT NULL DEFAULT 'exclude';
ALTER TABLE profiles ADD COLUMN exclude_routes TEXT;   -- JSON array of routes
ALTER TABLE profiles ADD COLUMN include_routes TEXT;   -- JSON array of routes
ALTER TABLE profiles ADD COLUMN fallback_domains TEXT; -- JSON array of domains

-- Custom profiles are tried in precedence order, which must therefore be total.
CREATE UNIQUE INDEX profiles_live_precedence ON profiles (account_id, precedence)
    WHERE deleted_at IS NULL AND precedence IS NOT NULL;

-- The progress of each account's re-evaluation of profile assignments: every
-- change of a profile's rule takes the next generation and starts again from the
-- first registration; those with ids up to after_id are done, and a NULL after_id
-- means none is pending. A run that a crash interrupted resumes from here. Rows are
-- never deleted, so that a generation is never used twice.
CREATE TABLE profile_reassignments (
    account_id TEXT    PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    generation INTEGER NOT NULL,
    after_id   TEXT
) WITHOUT ROWID;
