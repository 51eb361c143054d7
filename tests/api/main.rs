//! Black-box tests of the HTTP API: a real server on port 0, a fresh database (SQLite, or
//! PostgreSQL when FIVESTAR_TEST_DATABASE_URL is set) and a fresh Redis prefix per test.
//! The only fake is WeChat (wiremock).
mod auth;
mod cards;
mod cli;
mod errors;
mod faults;
mod group_commit;
mod health;
mod helpers;
mod idempotency;
mod incidents;
mod invites;
mod leaderboards;
mod media;
mod members;
mod notifications;
mod openapi;
mod orgs;
mod people_and_photos;
mod points;
mod points_prop;
mod reports;
mod shop;
mod shop_prop;
mod shop_races;
mod sla;
mod stars;
mod stars_metrics;
mod stars_summary;
mod stars_workflow;
mod tasks;
mod webapp;
