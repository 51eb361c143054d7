//! Points and volunteer hours: the append-only ledger and its one credit function,
//! per-user summaries, volunteer logs, adjustments, and leaderboards on Redis that can
//! always be rebuilt from the ledger.
pub mod boards;
pub mod domain;
pub mod reconcile;
pub mod routes;
pub mod service;
pub mod store;
pub mod volunteer;

pub use routes::config;
