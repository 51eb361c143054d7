//! fivestar: the backend of the Five-Star Branch (五星支部) mini-program.
pub mod audit;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod error;
pub mod infra;
pub mod maintenance;
pub mod members;
pub mod openapi;
pub mod ops;
pub mod orgs;
pub mod pagination;
pub mod seed;
pub mod startup;
pub mod state;
pub mod telemetry;
