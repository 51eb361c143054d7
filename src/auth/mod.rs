//! Logging in: WeChat and password logins, access and refresh tokens, login throttling.
//! (Who is calling, per request, is `access::extractor::CurrentUser`.)
pub mod domain;
pub mod routes;
pub mod service;
pub mod store;

pub use routes::config;
