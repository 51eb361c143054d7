//! Operations: health and readiness, Prometheus metrics.
pub mod health;
pub mod metrics;

use actix_web::web;

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/healthz").route(web::get().to(health::healthz)))
        .service(web::resource("/readyz").route(web::get().to(health::readyz)))
        .service(web::resource("/metrics").route(web::get().to(metrics::render)));
}
