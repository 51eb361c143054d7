//! Logging: `tracing` to stdout, JSON in production, human-readable in dev. Each request
//! runs in a span carrying its request id (`http::request_id`).
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::HttpMessage;
use tracing::Span;
use tracing_actix_web::RootSpanBuilder;
use tracing_subscriber::{fmt, EnvFilter};

use crate::config::Environment;
use crate::http::request_id::RequestId;

pub fn init(env: Environment) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    // Colours only on a terminal: a log file or a pipe gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let builder = fmt().with_env_filter(filter).with_target(false).with_ansi(ansi);
    // try_init: a second call (tests, or a subcommand after another) is harmless.
    let _ = match env {
        Environment::Production => builder.json().try_init(),
        Environment::Dev => builder.try_init(),
    };
}

/// The span each request runs in: method, path, request id and, at the end, status (and
/// the error of a 5xx). `tracing-actix-web`'s default span carries a dozen OpenTelemetry
/// fields, and the fmt layer formats every one of them for every request, logged or not.
/// `GET /healthz` at 64 connections on 2 cores: 17.6k-22.7k requests/s with that span,
/// 26.9k with this one, 34k with no span formatted at all.
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let extensions = request.extensions();
        let request_id = extensions.get::<RequestId>();
        tracing::info_span!(
            "request",
            method = %request.method(),
            path = request.path(),
            request_id = request_id.map(|id| tracing::field::display(&id.0)),
            status = tracing::field::Empty,
            error = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, actix_web::Error>) {
        let (status, error) = match outcome {
            Ok(response) => (response.status(), response.response().error()),
            Err(error) => (error.as_response_error().status_code(), Some(error)),
        };
        span.record("status", status.as_u16());
        if let Some(error) = error.filter(|_| status.is_server_error()) {
            span.record("error", tracing::field::display(error));
        }
        // One line per refused or failed request, carrying the span's request id, so that
        // the id a user reads from an error body finds its line in the log.
        // INFO even for a 5xx: its cause was logged where it arose, at its own level.
        if status.is_client_error() || status.is_server_error() {
            tracing::info!(parent: &span, status = status.as_u16(), "answered with an error");
        }
    }
}
