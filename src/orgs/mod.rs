//! The organisation tree (county > township > branch > grid), roles held at its nodes,
//! invites into a branch, and the scope every other domain filters by.
pub mod domain;
pub mod moved_members;
pub mod routes;
pub mod service;
pub mod store;

pub use routes::config;
