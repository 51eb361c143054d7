//! Telling people what concerns them: the inbox (`notifications`, written in the same
//! transaction as the event it tells of), WeChat subscribe messages sent from it as an
//! outbox, and the mini-program code a branch posts at its service point.
pub mod domain;
pub mod draw_code;
pub mod outbox;
pub mod routes;
pub mod service;
pub mod store;

pub use routes::config;
pub use service::{push, Notice};
