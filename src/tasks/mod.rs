//! Micro-task cards: tasks a branch publishes, drawn at random from the branch's Redis
//! pool, confirmed with a photo and reviewed; approval credits through the ledger.
pub mod cards;
pub mod domain;
pub mod pool;
pub mod publishing;
pub mod routes;
pub mod store;
pub mod sweeper;
pub mod views;

pub use routes::config;
