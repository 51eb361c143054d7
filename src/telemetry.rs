//! Logging: `tracing` to stdout, JSON in production, human-readable in dev. Request ids
//! come from `tracing-actix-web`.
use tracing_subscriber::{fmt, EnvFilter};

use crate::config::Environment;

pub fn init(env: Environment) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let builder = fmt().with_env_filter(filter).with_target(false);
    // try_init: a second call (tests, or a subcommand after another) is harmless.
    let _ = match env {
        Environment::Production => builder.json().try_init(),
        Environment::Dev => builder.try_init(),
    };
}
