//! The command line: `serve` (default), `migrate`, `admin create`, `seed-demo`,
//! `rebuild-redis`, `openapi`.
use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use migration::{Migrator, MigratorTrait};

use crate::auth::service::{create_super_admin, CreateAdminError};
use crate::clock::Clock;
use crate::config::Settings;
use crate::startup::{build_state, Application};
use crate::{infra, maintenance, openapi, seed, seed_bench, telemetry};

#[derive(Parser)]
#[command(name = "fivestar", version, about = "五星支部 backend", after_help = ENV_HELP)]
pub struct Cli {
    /// Configuration file (default: ./fivestar.toml if present).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

/// The environment variables, shown after `fivestar --help`.
const ENV_HELP: &str = "Configuration: built-in defaults < fivestar.toml (or --config) < environment:
  FIVESTAR_BIND                  listen address (127.0.0.1:8080)
  FIVESTAR_DATABASE_URL          sqlite://data/fivestar.db?mode=rwc, or postgres://…
  FIVESTAR_REDIS_URL             redis://127.0.0.1:6379
  FIVESTAR_REDIS_PREFIX          prefix of every Redis key (fs)
  FIVESTAR_REDIS_TIMEOUT_MS      connect and response timeout of each Redis call (1500)
  FIVESTAR_JWT_SECRET            HS256 key, 32+ characters; generated into the data dir in dev
  FIVESTAR_WECHAT_APPID          mini-program app id (empty: WeChat login answers 503)
  FIVESTAR_WECHAT_SECRET         mini-program secret
  FIVESTAR_WECHAT_API_BASE       https://api.weixin.qq.com
  FIVESTAR_MEDIA_DIR             where processed images are stored (data/media)
  FIVESTAR_DATA_DIR              where dev-only generated files live (data)
  FIVESTAR_ENV                   dev or production
  FIVESTAR_ACCESS_TTL_SECS       access token lifetime (7200)
  FIVESTAR_REFRESH_TTL_DAYS      refresh token lifetime (30)
  FIVESTAR_LOGIN_MAX_FAILURES_PER_USER  failed password logins per username before 429 (5)
  FIVESTAR_LOGIN_MAX_FAILURES_PER_IP    failed password logins per address before 429 (30)
  FIVESTAR_LOGIN_WINDOW_SECS     the window those failures count in (900)
  FIVESTAR_RECONCILE_INTERVAL_SECS  how often Redis is checked against SQL, in seconds (10)
  FIVESTAR_SWEEP_INTERVAL_SECS   how often expired claims return to their pools, in seconds (15)
  FIVESTAR_METRICS_TOKEN         in production, /metrics needs this bearer token (unset: 404)
  FIVESTAR_WRITE_LIMIT_PER_MINUTE  writes per user a minute, all servers together (120; 0: off)
  FIVESTAR_IMAGE_WAIT_SECS       how long an upload waits for a free image decoder before 503 busy (20)
  FIVESTAR_TRUSTED_PROXIES       proxy addresses (comma-separated) whose X-Forwarded-For names the client
  RUST_LOG                       log filter (info)";

#[derive(Subcommand)]
enum Command {
    /// Run migrations, then serve HTTP (the default).
    Serve,
    /// Apply pending migrations and exit.
    Migrate,
    /// Administer accounts.
    Admin {
        #[command(subcommand)]
        action: AdminCommand,
    },
    /// Create a small demo county and print how to log in to it.
    SeedDemo,
    /// Bulk-load a county-sized data set for benchmarks (empty database only).
    SeedBench {
        /// Members spread over the county's 600 branches.
        #[arg(long, default_value_t = 100_000)]
        members: usize,
        /// Ledger entries spread over two years.
        #[arg(long, default_value_t = 1_000_000)]
        ledger_entries: usize,
        /// Where to write access tokens of seeded members, one a line.
        #[arg(long, default_value = "bench/tokens.txt")]
        tokens: PathBuf,
        /// How many access tokens to write.
        #[arg(long, default_value_t = 2000)]
        token_count: usize,
        /// Open cards in the first branch's pool (for the draw benchmark).
        #[arg(long, default_value_t = 100_000)]
        open_cards: usize,
        /// Submitted cards in the second branch (for the approval benchmark).
        #[arg(long, default_value_t = 50_000)]
        submitted_cards: usize,
        /// Incidents already on a grid's ledger (for the filing benchmark).
        #[arg(long, default_value_t = 100_000)]
        incidents: usize,
    },
    /// Recompute every Redis structure from SQL.
    RebuildRedis,
    /// Compare every leaderboard, pool and lease in Redis with a fresh recomputation from
    /// SQL, writing nothing; exits 1 if any differs.
    VerifyRedis,
    /// List membership grants that moved someone's home branch (the grant path fixed on
    /// 2026-11-29 did so even outside the granter's scope), from the audit log; writes
    /// nothing. Exits 1 if any is found.
    AuditMovedMembers,
    /// Print the OpenAPI 3.1 document.
    Openapi,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create a super_admin; the password is read from stdin (one line).
    Create {
        /// The account's login name.
        #[arg(long)]
        username: String,
        /// Read the password from standard input.
        #[arg(long, required = true)]
        password_stdin: bool,
    },
}

pub async fn run() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::Openapi = command {
        print!("{}", openapi::spec_json());
        return ExitCode::SUCCESS;
    }
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(err) => {
            eprintln!("fivestar: {err:#}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(settings.env);
    match execute(command, settings).await {
        Ok(code) => code,
        Err(err) => {
            tracing::error!(error = %format!("{err:#}"), "fivestar failed");
            eprintln!("fivestar: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn execute(command: Command, settings: Settings) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve => {
            Application::build(settings).await?.run_until_stopped().await?;
        }
        Command::Migrate => {
            let db = infra::db::connect(&settings.database_url).await?;
            Migrator::up(&db, None).await?;
            println!("migrations applied");
        }
        Command::Admin { action: AdminCommand::Create { username, .. } } => {
            let mut password = String::new();
            std::io::stdin().lock().read_line(&mut password)?;
            let password = password.trim_end_matches(['\r', '\n']);
            let state = build_state(settings, Clock::default()).await?;
            match create_super_admin(&state.db, &username, password, state.clock.now()).await {
                Ok(id) => println!("{id}"),
                Err(CreateAdminError::Clash) => {
                    eprintln!("fivestar: username {username:?} is already taken");
                    return Ok(ExitCode::FAILURE);
                }
                Err(CreateAdminError::Invalid(why)) => {
                    eprintln!("fivestar: {why}");
                    return Ok(ExitCode::from(2));
                }
                Err(CreateAdminError::Other(err)) => return Err(err),
            }
        }
        Command::SeedDemo => {
            let state = build_state(settings, Clock::default()).await?;
            let report = seed::demo(&state).await?;
            print!("{report}");
        }
        Command::SeedBench { members, ledger_entries, tokens, token_count, open_cards, submitted_cards, incidents } => {
            let state = build_state(settings, Clock::default()).await?;
            let spec = seed_bench::BenchSpec {
                townships: 20,
                branches_per_township: 30,
                members,
                ledger_entries,
                token_count,
            };
            let report = seed_bench::seed(&state, &spec, &tokens).await?;
            println!("county_id={}", report.county_id);
            println!("branch_id={}", report.branch_ids[0]);
            println!("first_user_id={}", report.first_user_id);
            println!("seed_seconds={:.1}", report.seconds);
            let work = seed_bench::WorkSpec { open_cards, submitted_cards, incidents, grid_workers: 64 };
            let dir = tokens.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
            let work = seed_bench::seed_work(&state, &work, &report, members, dir).await?;
            println!("draw_branch={}", work.draw_branch);
            println!("review_branch={}", work.review_branch);
            println!("grid_id={}", work.grid_id);
            println!("shop_ample={}", work.shop_ample);
            println!("shop_race={}", work.shop_race);
            println!("work_seed_seconds={:.1}", work.seconds);
        }
        Command::RebuildRedis => {
            let state = build_state(settings, Clock::default()).await?;
            let bar = ProgressBar::new(0);
            bar.set_style(ProgressStyle::with_template("{spinner} {msg:28} [{bar:40}] {pos}/{len}")?);
            // Log lines (the rebuild's own, the server's if it shares the terminal) are
            // written around the bar, not through it.
            crate::telemetry::show_progress(Some(&bar));
            let report = maintenance::rebuild(&state, Some(&bar)).await;
            crate::telemetry::show_progress(None);
            let report = report?;
            // The counts below say what was done; the bar's line is not left under them.
            bar.finish_and_clear();
            for (step, count) in report.steps {
                println!("{step}: {count}");
            }
            println!("redis rebuilt from SQL");
        }
        Command::VerifyRedis => {
            let state = build_state(settings, Clock::default()).await?;
            let boards = crate::points::reconcile::verify_boards(&state).await?;
            println!(
                "leaderboards: {} keys, {} members; {} differ, {} unexpected",
                boards.keys,
                boards.members,
                boards.mismatched.len(),
                boards.unexpected.len()
            );
            for (key, member, expected, found) in boards.mismatched.iter().take(10) {
                println!("  {key}: member {member} should have {expected:?}, has {found:?}");
            }
            for key in boards.unexpected.iter().take(10) {
                println!("  {key}: not supported by the ledger");
            }
            let pools = crate::tasks::sweeper::verify_pools(&state).await?;
            println!(
                "card pools: {} branches, {} open cards, {} leases; {} branches differ",
                pools.branches,
                pools.open_cards,
                pools.leases,
                pools.mismatched.len()
            );
            let clean = boards.mismatched.is_empty() && boards.unexpected.is_empty() && pools.mismatched.is_empty();
            return Ok(if clean { ExitCode::SUCCESS } else { ExitCode::FAILURE });
        }
        Command::AuditMovedMembers => {
            let db = infra::db::connect(&settings.database_url).await?;
            let moved = crate::orgs::moved_members::find(&db).await?;
            for m in &moved {
                let dropped = if m.dropped.is_empty() { "-".to_owned() } else { m.dropped.join(",") };
                let home = m.home_now.map_or("none".to_owned(), |h| h.to_string());
                println!(
                    "audit {} at {} actor {} moved user {} into branch {} dropped {} home now {}",
                    m.audit_id,
                    m.at.to_rfc3339(),
                    m.actor_id,
                    m.user_id,
                    m.into_branch,
                    dropped,
                    home
                );
            }
            println!("{} membership grants moved a home branch", moved.len());
            return Ok(if moved.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE });
        }
        Command::Openapi => unreachable!("handled before settings are loaded"),
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    /// Every flag of every subcommand says what it is for.
    #[test]
    fn every_flag_has_help() {
        fn check(cmd: &clap::Command, path: &str) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                assert!(arg.get_help().is_some(), "`{path} --{id}` has no help text");
            }
            for sub in cmd.get_subcommands() {
                assert!(sub.get_about().is_some(), "`{path} {}` has no description", sub.get_name());
                check(sub, &format!("{path} {}", sub.get_name()));
            }
        }
        check(&Cli::command(), "fivestar");
    }

    /// `fivestar --help` names every variable the contract and `Settings` read.
    #[test]
    fn the_help_lists_the_environment() {
        let help = Cli::command().render_long_help().to_string();
        for var in [
            "BIND",
            "DATABASE_URL",
            "REDIS_URL",
            "REDIS_PREFIX",
            "REDIS_TIMEOUT_MS",
            "JWT_SECRET",
            "WECHAT_APPID",
            "WECHAT_SECRET",
            "WECHAT_API_BASE",
            "MEDIA_DIR",
            "DATA_DIR",
            "ENV",
            "ACCESS_TTL_SECS",
            "REFRESH_TTL_DAYS",
            "LOGIN_MAX_FAILURES_PER_USER",
            "LOGIN_MAX_FAILURES_PER_IP",
            "LOGIN_WINDOW_SECS",
            "RECONCILE_INTERVAL_SECS",
            "METRICS_TOKEN",
            "TRUSTED_PROXIES",
            "WRITE_LIMIT_PER_MINUTE",
            "IMAGE_WAIT_SECS",
            "SWEEP_INTERVAL_SECS",
        ] {
            assert!(help.contains(&format!("FIVESTAR_{var} ")), "FIVESTAR_{var} is missing from --help");
        }
    }
}
