//! Photos: upload, safe decoding and re-encoding, content-addressed storage, signed URLs,
//! and the check every other domain uses before it accepts `media_ids`.
pub mod process;
pub mod routes;
pub mod service;
pub mod store;

pub use routes::config;
