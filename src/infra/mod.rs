//! Adapters to the world outside the process: SQL, Redis, WeChat, token signing, randomness.
pub mod cache;
pub mod db;
pub mod group_commit;
pub mod jwt;
pub mod keys;
pub mod media_store;
pub mod media_urls;
pub mod names;
pub mod pending;
pub mod random;
pub mod redis;
pub mod shutdown;
pub mod threads;
pub mod wechat;
