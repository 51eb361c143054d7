//! Incident reports from the field (grid reports): idempotent filing, the workflow with
//! its timeline, scoped lists, statistics and exports of the ledger (台账).
pub mod domain;
pub mod export;
pub mod filing;
pub mod ledger;
pub mod routes;
pub mod sla;
pub mod store;
pub mod views;
pub mod workflow;

pub use routes::config;
