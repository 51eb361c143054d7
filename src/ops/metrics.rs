//! Prometheus metrics: request counts and latency histograms per route pattern (not per
//! URL, so ids do not explode the label set), and how busy the SQL writer is
//! (`infra::group_commit::WriterMetrics`).
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{web, HttpRequest, HttpResponse};
use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder};
use secrecy::ExposeSecret;

use crate::config::{Environment, Settings};
use crate::error::AppError;
use crate::infra::group_commit::WriterMetrics;
use crate::infra::wechat::WechatMetrics;
use crate::state::AppState;

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
}

impl Metrics {
    pub fn new(writer: &WriterMetrics, wechat: &WechatMetrics) -> anyhow::Result<Metrics> {
        let registry = Registry::new();
        writer.register(&registry)?;
        wechat.register(&registry)?;
        let requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests by method, route and status"),
            &["method", "route", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency by method and route")
                .buckets(vec![0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0]),
            &["method", "route"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        Ok(Metrics { registry, requests, latency })
    }
}

pub async fn track(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let method = req.method().to_string();
    let started = Instant::now();
    let res = next.call(req).await?;
    if let Some(metrics) = metrics {
        let route = res.request().match_pattern().unwrap_or_else(|| "unmatched".to_owned());
        let status = res.status().as_u16().to_string();
        metrics.requests.with_label_values(&[method.as_str(), route.as_str(), status.as_str()]).inc();
        metrics.latency.with_label_values(&[method.as_str(), route.as_str()]).observe(started.elapsed().as_secs_f64());
    }
    Ok(res)
}

/// Who may read `/metrics`: anyone in dev; in production only the bearer of
/// `FIVESTAR_METRICS_TOKEN` (401 otherwise), and nobody when it is not set (404).
fn allowed(settings: &Settings, req: &HttpRequest) -> Result<(), AppError> {
    if settings.env != Environment::Production {
        return Ok(());
    }
    let token = settings.metrics_token.as_ref().filter(|t| !t.expose_secret().is_empty()).ok_or(AppError::NotFound)?;
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    // Compared in constant time: the token is a password.
    let same = given.len() == token.expose_secret().len()
        && given.bytes().zip(token.expose_secret().bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
    if same {
        Ok(())
    } else {
        Err(AppError::unauthenticated())
    }
}

pub async fn render(req: HttpRequest, state: web::Data<AppState>, metrics: web::Data<Metrics>) -> HttpResponse {
    if let Err(err) = allowed(&state.settings, &req) {
        return actix_web::ResponseError::error_response(&err);
    }
    let mut buf = Vec::new();
    match TextEncoder::new().encode(&metrics.registry.gather(), &mut buf) {
        Ok(()) => HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(buf),
        Err(err) => actix_web::ResponseError::error_response(&crate::error::AppError::Internal(err.into())),
    }
}
