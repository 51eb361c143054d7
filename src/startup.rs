//! `Application::build(settings)`: connect, migrate, bind (port 0 in tests) and serve.
//! The same function serves production and the integration tests.
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::http::header;
use actix_web::middleware::{from_fn, DefaultHeaders};
use actix_web::{web, App, HttpServer};
use migration::{Migrator, MigratorTrait};
use tokio::sync::Semaphore;
use tracing_actix_web::TracingLogger;
use utoipa_swagger_ui::{Config as SwaggerConfig, SwaggerUi};

use crate::clock::Clock;
use crate::config::Settings;
use crate::http::{errors, request_id};
use crate::infra::media_store::LocalDisk;
use crate::infra::media_urls::UrlSigner;
use crate::infra::threads::Threads;
use crate::infra::{db, group_commit::GroupCommit, jwt::JwtKeys, pending::Pending, redis::Redis, wechat::WechatClient};
use crate::jobs::Jobs;
use crate::openapi::SpecJson;
use crate::ops::metrics;
use crate::state::AppState;
use crate::telemetry::RequestSpan;
use crate::{auth, incidents, maintenance, media, members, notify, ops, orgs, points, shop, stars, tasks};

pub struct Application {
    port: u16,
    server: Server,
    state: AppState,
    jobs: Jobs,
}

/// Connect to SQL and Redis and apply pending migrations: what every subcommand needs.
pub async fn build_state(settings: Settings, clock: Clock) -> anyhow::Result<AppState> {
    let db = db::connect(&settings.database_url).await?;
    Migrator::up(&db, None).await?;
    let writer = db::connect_writer(&settings.database_url, &db).await?;
    let group_commit = GroupCommit::new(&writer)?;
    let pending = Pending::start(group_commit.clone());
    let redis =
        Redis::new(&settings.redis_url, &settings.redis_prefix, Duration::from_millis(settings.redis_timeout_ms))?;
    let secret = settings.jwt_secret()?;
    let jwt = JwtKeys::new(&secret, settings.access_ttl_secs);
    let media_store = Arc::new(LocalDisk::new(&settings.media_dir));
    let media_urls = Arc::new(UrlSigner::new(&secret));
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let templates = settings.wechat_templates()?;
    notify::domain::check_templates(&templates)?;
    let wechat = WechatClient::new(&settings.wechat_api_base, settings.wechat_credentials(), templates)?;
    Ok(AppState {
        db,
        writer,
        group_commit,
        pending,
        redis,
        clock,
        settings: Arc::new(settings),
        jwt,
        wechat,
        caches: Default::default(),
        media_store,
        media_urls,
        image_permits: Arc::new(Semaphore::new(cores)),
        image_threads: Arc::new(Threads::start("photo-decode", cores)?),
        upload_permits: Arc::new(Semaphore::new(cores * 2)),
    })
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        Self::build_with_clock(settings, Clock::default()).await
    }

    pub async fn build_with_clock(settings: Settings, clock: Clock) -> anyhow::Result<Application> {
        settings.check_production()?;
        let bind = settings.bind.clone();
        let state = build_state(settings, clock).await?;
        // Redis may be down at start: serve anyway (readyz says so) and rebuild later.
        if let Err(err) = maintenance::ensure_epoch(&state).await {
            tracing::warn!(error = %err, "could not check the redis epoch at start-up");
        }
        let jobs = Jobs::start(&state);
        let listener = TcpListener::bind(&bind)?;
        let port = listener.local_addr()?.port();
        let server = serve(listener, state.clone())?;
        tracing::info!(%bind, port, "listening");
        Ok(Application { port, server, state, jobs })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Stops the server from another task (tests stop theirs when they end).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Runs until SIGINT/SIGTERM (or `handle().stop()`); in-flight requests get 30 s to
    /// finish, then the background jobs are stopped.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        self.jobs.stop().await;
        // Writes settled by the last requests: their records go now, not by a repair.
        self.state.pending.flush().await;
        served
    }
}

fn serve(listener: TcpListener, state: AppState) -> anyhow::Result<Server> {
    let spec = web::Data::new(SpecJson(crate::openapi::spec_json()));
    let metrics = web::Data::new(metrics::Metrics::new(state.group_commit.metrics(), &state.wechat.metrics)?);
    let server = HttpServer::new(move || {
        // Built on each worker's thread: its Redis connection is the worker's own.
        let state = web::Data::new(state.for_worker());
        App::new()
            .wrap(from_fn(errors::json_errors))
            .wrap(from_fn(metrics::track))
            .wrap(TracingLogger::<RequestSpan>::new())
            .wrap(from_fn(request_id::stamp))
            // No browser guesses a type we did not say (an uploaded "photo" run as HTML).
            .wrap(DefaultHeaders::new().add((header::X_CONTENT_TYPE_OPTIONS, "nosniff")))
            .app_data(state)
            .app_data(metrics.clone())
            .app_data(spec.clone())
            .app_data(errors::json_config())
            .app_data(errors::path_config())
            .configure(ops::config)
            .configure(crate::openapi::config)
            // The reference UI is Swagger UI's own files, embedded in the binary (the
            // `vendored` feature): `/docs` works on an intranet with no internet access.
            .service(web::redirect("/docs", "/docs/"))
            .service(SwaggerUi::new("/docs/{_:.*}").config(
                SwaggerConfig::from("/api-docs/openapi.json").validator_url("none").persist_authorization(true),
            ))
            .service(
                // Points first: its leaderboard is the hottest read (`points::routes::config`).
                web::scope("/api/v1")
                    .configure(points::config)
                    .configure(auth::config)
                    .configure(members::config)
                    .configure(orgs::config)
                    .configure(tasks::config)
                    .configure(incidents::config)
                    .configure(shop::config)
                    .configure(stars::config)
                    .configure(notify::config)
                    .configure(media::config),
            )
            .configure(media::routes::files)
            .configure(crate::webapp::config)
            .default_service(web::to(errors::not_found))
    })
    // A file is written as headers, then body chunks: with Nagle's algorithm the body waited
    // for the client's delayed ACK of the headers, 40 ms on every phone-page file (measured
    // by `make bench`: 1,826 requests/s for /m/, p50 44 ms). JSON answers go in one write.
    .tcp_nodelay(true)
    .listen(listener)?
    // Phones on weak networks pause between requests; keep their connections a while.
    .keep_alive(Duration::from_secs(30))
    .shutdown_timeout(30)
    .run();
    Ok(server)
}
