//! Who is calling and what they may do: roles and scopes (`roles`), the caller loaded per
//! request (`extractor::CurrentUser`) and cached across requests (`role_feed`), and the
//! checks every domain makes before it acts on an org. Part of the base: it knows no
//! domain, and every domain asks it the same way.
pub mod extractor;
pub mod role_feed;
pub mod roles;
mod store;

pub use roles::{Caller, OrgKind, Role, RoleGrant, Scope};
pub use store::{find_org, load_caller};

use sea_orm::ConnectionTrait;

use entity::orgs;

use crate::error::{AppError, ErrorCode, Result};
use crate::state::AppState;

/// An org by id, from the per-process cache (an org's path and kind never change; a
/// settings change drops the entry). 404 when there is no such org. Checks nothing about
/// the caller: `reachable` and `org_for` do.
pub async fn org(state: &AppState, id: i64) -> Result<orgs::Model> {
    if let Some(org) = state.caches.orgs.get(&id) {
        return Ok(org);
    }
    let org = store::find_org(&state.db, id).await?.ok_or(AppError::NotFound)?;
    state.caches.orgs.insert(id, org.clone());
    Ok(org)
}

/// The org if the caller's roles reach it (their subtrees and the ancestors of their
/// orgs); 404 otherwise, so that nobody learns what lies outside their reach.
pub async fn reachable(state: &AppState, caller: &Caller, id: i64) -> Result<orgs::Model> {
    let org = org(state, id).await?;
    within_reach(caller, &org)?;
    Ok(org)
}

/// 404 unless the caller's roles reach the org (its subtree or its ancestors).
pub fn within_reach(caller: &Caller, org: &orgs::Model) -> Result<()> {
    if caller.reach().contains(&org.path) {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

/// The org if the caller reaches it (else 404) and holds `needed` or above at it or
/// above it (else 403).
pub async fn org_for(state: &AppState, caller: &Caller, id: i64, needed: Role) -> Result<orgs::Model> {
    let org = org(state, id).await?;
    require(caller, &org, needed)?;
    Ok(org)
}

/// An org inside the subtree of one of the caller's roles, whichever role (not the
/// ancestors: see `reachable`), read on `db` so a transaction sees its own writes; 404
/// otherwise. What the caller may do there is `authorize`'s question (403).
pub async fn in_subtree<C: ConnectionTrait>(db: &C, caller: &Caller, id: i64) -> Result<orgs::Model> {
    store::find_in_scope(db, &caller.scope(Role::LOWEST), id).await?.ok_or(AppError::NotFound)
}

/// Users holding one of `roles` at exactly this org (to tell them something).
pub async fn holders_at<C: ConnectionTrait>(db: &C, org_id: i64, roles: &[Role]) -> Result<Vec<i64>> {
    Ok(store::holders_at(db, org_id, roles).await?)
}

/// 404 unless the caller's roles reach the org; then 403 unless they hold `needed` or
/// above at it or above it.
pub fn require(caller: &Caller, org: &orgs::Model, needed: Role) -> Result<()> {
    within_reach(caller, org)?;
    authorize(caller, org, needed)
}

/// 403 unless the caller holds `needed` or a higher role at this org or above it.
pub fn authorize(caller: &Caller, org: &orgs::Model, needed: Role) -> Result<()> {
    if caller.has_at(&org.path, needed) {
        Ok(())
    } else {
        Err(needs(needed))
    }
}

/// 403 naming the role that would allow the act, with a message of the act's own.
pub fn needs_as(role: Role, message: &'static str) -> AppError {
    AppError::Forbidden { code: ErrorCode::Forbidden, message: message.into(), required_role: Some(role.as_str()) }
}

/// 403 naming the lowest role that would allow the act, at or above the org concerned.
pub fn needs(role: Role) -> AppError {
    let message = if role == Role::SuperAdmin {
        format!("需要{}", role.label())
    } else {
        format!("需要本组织或上级组织的{}（或更高）角色", role.label())
    };
    AppError::Forbidden { code: ErrorCode::Forbidden, message: message.into(), required_role: Some(role.as_str()) }
}

/// After a login family was revoked (committed): its access tokens answer 401 on every
/// server from now until they would have expired.
pub async fn login_ended(state: &AppState, family: &str, now: chrono::DateTime<chrono::Utc>) {
    let until = state.jwt.last_second(now);
    role_feed::announce_family(&state.redis, &state.caches.callers, family, until, now.timestamp()).await;
}

/// After a committed role change: drop the user from every server's callers cache.
pub async fn roles_changed(state: &AppState, user_id: i64) {
    role_feed::announce(&state.redis, &state.caches.callers, user_id).await;
}
