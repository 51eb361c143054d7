//! Who is calling: WeChat and password logins, access and refresh tokens, login
//! throttling, and the `CurrentUser` extractor every handler uses.
pub mod domain;
pub mod extractor;
pub mod routes;
pub mod service;
pub mod store;

pub use routes::config;
