//! The points shop (积分超市): items a branch or township offers for points, redemptions
//! reserved with a pickup code and fulfilled at the counter (or cancelled, or expired and
//! refunded), and the stock ledger (台账). Spends through the ledger's one writer
//! (`points::service::post_entry`), never on a leaderboard.
pub mod domain;
pub mod redemptions;
pub mod routes;
pub mod service;
pub mod stock_ledger;
pub mod store;

pub use routes::config;
