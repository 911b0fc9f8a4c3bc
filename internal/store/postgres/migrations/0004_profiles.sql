-- Kept in step with the SQLite adapter's 0004: every setting of Cloudflare's
-- SettingsPolicy on profiles, the rule that assigns custom profiles, and the progress
-- of re-evaluating assignments. The column defaults are Cloudflare's defaults
-- (device.DefaultSettings); a NULL route or domain list reads as its default list.

ALTER TABLE profiles
    ADD COLUMN description TEXT NOT NULL DEFAULT '',
    ADD COLUMN match_rule TEXT NOT NULL DEFAULT '',
    ADD COLUMN precedence BIGINT, -- NULL on profiles without a rule
    ADD COLUMN enabled BOOLEAN NOT NULL DEFAULT TRUE,
    ADD COLUMN allow_mode_switch BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN allow_updates BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN allowed_to_leave BOOLEAN NOT NULL DEFAULT TRUE,
    ADD COLUMN auto_connect BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN captive_portal BIGINT NOT NULL DEFAULT 180,
    ADD COLUMN disable_auto_fallback BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN exclude_office_ips BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN lan_allow_minutes BIGINT,
    ADD COLUMN lan_allow_subnet_size BIGINT,
    ADD COLUMN register_interface_ip_with_dns BOOLEAN NOT NULL DEFAULT TRUE,
    ADD COLUMN sccm_vpn_boundary_support BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN service_mode TEXT NOT NULL DEFAULT 'warp',
    ADD COLUMN service_port BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN support_url TEXT NOT NULL DEFAULT '',
    ADD COLUMN switch_locked BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN tunnel_protocol TEXT NOT NULL DEFAULT 'wireguard',
    ADD COLUMN split_mode TEXT NOT NULL DEFAULT 'exclude',
    ADD COLUMN exclude_routes TEXT,  -- JSON array of routes, as in SQLite
    ADD COLUMN include_routes TEXT,  -- JSON array of routes
    ADD COLUMN fallback_domains TEXT; -- JSON array of domains

-- Custom profiles are tried in precedence order, which must therefore be total.
CREATE UNIQUE INDEX profiles_live_precedence ON profiles (account_id, precedence)
    WHERE deleted_at IS NULL AND precedence IS NOT NULL;

-- The progress of each account's re-evaluation of profile assignments: each rule
-- change takes the next generation and starts from the first registration; a NULL
-- after_id means none is pending. Rows are never deleted, so that a generation is
-- never used twice.
CREATE TABLE profile_reassignments (
    account_id TEXT COLLATE "C" PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    generation BIGINT NOT NULL,
    after_id   TEXT COLLATE "C"
);
