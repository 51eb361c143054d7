//! sea-orm entities, one file per table, with the status enums of their columns (stored as
//! the same strings as before). Plain data: no logic lives here.
pub mod audit_log;
pub mod card_claims;
pub mod card_pool_dirty;
pub mod cards;
pub mod idempotency_keys;
pub mod incident_events;
pub mod incidents;
pub mod invites;
pub mod leaderboard_dirty;
pub mod media;
pub mod orgs;
pub mod points_ledger;
pub mod points_summary;
pub mod refresh_tokens;
pub mod tasks;
pub mod user_roles;
pub mod users;
pub mod volunteer_logs;
