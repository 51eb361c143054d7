//! `CurrentUser`: the verified caller with their roles. Handlers take it as an argument
//! and never read the Authorization header themselves.
use actix_web::http::{header, Method};
use actix_web::{dev::Payload, web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;

use super::role_feed;
use super::roles::Caller;
use super::store::load_caller;
use crate::error::AppError;
use crate::state::AppState;

pub struct CurrentUser(pub Caller);

impl FromRequest for CurrentUser {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let writes = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
        let token = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(|t| t.trim().to_owned());
        Box::pin(async move {
            let state = state.ok_or_else(|| AppError::Internal(anyhow::anyhow!("AppState is not registered")))?;
            let token = token.ok_or_else(AppError::unauthenticated)?;
            let verified = state.jwt.verify(&token).ok_or_else(AppError::unauthenticated)?;
            if let Some(family) = &verified.family {
                let now = chrono::Utc::now().timestamp();
                if role_feed::is_revoked(&state.redis, &state.caches.callers, family, now).await {
                    return Err(AppError::unauthenticated());
                }
            }
            let user_id = verified.user_id;
            if writes {
                write_allowed(&state, user_id).await?;
            }
            if let Some(caller) = state.caches.callers.get(user_id) {
                return Ok(CurrentUser(caller));
            }
            let seen = state.caches.callers.generation();
            let caller = load_caller(&state.db, user_id).await?.ok_or_else(AppError::unauthenticated)?;
            state.caches.callers.insert(user_id, caller.clone(), seen);
            Ok(CurrentUser(caller))
        })
    }
}

/// The per-user write limit (`FIVESTAR_WRITE_LIMIT_PER_MINUTE`), shared by every server: a
/// counter per user and minute in Redis. Over it, 429 with the seconds left in the minute.
/// A guard, not a dependency: without Redis, writes go on.
async fn write_allowed(state: &AppState, user_id: i64) -> Result<(), AppError> {
    let limit = state.settings.write_limit_per_minute;
    if limit == 0 {
        return Ok(());
    }
    let now = chrono::Utc::now().timestamp();
    let key = state.redis.keys().writes(user_id, now / 60);
    let counted = async {
        let mut conn = state.redis.conn().await?;
        redis::pipe().incr(&key, 1).cmd("EXPIRE").arg(&key).arg(120).ignore().query_async::<(u32,)>(&mut conn).await
    };
    match counted.await {
        Ok((n,)) if n > limit => Err(AppError::RateLimited { retry_after_secs: (60 - now % 60).max(1) as u64 }),
        Ok(_) => Ok(()),
        Err(err) => {
            tracing::warn!(error = %err, "write limit unavailable");
            Ok(())
        }
    }
}
