//! sea-orm entities, one file per table. Plain data: no logic lives here.
pub mod audit_log;
pub mod invites;
pub mod orgs;
pub mod refresh_tokens;
pub mod user_roles;
pub mod users;
