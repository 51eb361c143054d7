//! `/healthz`: the process lives. `/readyz`: SQL and Redis both answer, else 503 naming
//! what is down.
use std::time::Duration;

use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ErrorCode;
use crate::state::AppState;

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Serialize, ToSchema)]
pub struct Health {
    pub status: String,
}

#[derive(Serialize, ToSchema)]
pub struct NotReady {
    /// `not_ready`.
    pub code: ErrorCode,
    pub message: String,
    /// What did not answer: `database`, `redis`.
    pub down: Vec<String>,
}

/// The process is alive.
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, body = Health)))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok".into() })
}

/// SQL and Redis both answer.
#[utoipa::path(get, path = "/readyz", tag = "ops",
    responses((status = 200, body = Health), (status = 503, body = NotReady)))]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let (db, redis) = tokio::join!(
        tokio::time::timeout(CHECK_TIMEOUT, state.db.ping()),
        tokio::time::timeout(CHECK_TIMEOUT, state.redis.ping()),
    );
    let mut down = Vec::new();
    if !matches!(db, Ok(Ok(()))) {
        down.push("database".to_owned());
    }
    if !matches!(redis, Ok(Ok(()))) {
        down.push("redis".to_owned());
    }
    if down.is_empty() {
        HttpResponse::Ok().json(Health { status: "ready".into() })
    } else {
        tracing::warn!(?down, "not ready");
        HttpResponse::ServiceUnavailable().json(NotReady {
            code: ErrorCode::NotReady,
            message: format!("依赖服务不可用：{}", down.join("、")),
            down,
        })
    }
}
