//! People: the caller's own profile (`/me`), joining a branch by invite, and the member
//! lists staff see (phones masked), and leaving a branch (`leaving`).
pub mod domain;
pub mod leaving;
pub mod routes;
pub mod service;
pub mod store;

pub use routes::config;
