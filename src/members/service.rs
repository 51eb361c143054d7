//! Profiles, joining a branch, and member lists. Phone numbers leave the server masked,
//! except to their owner.
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use entity::{user_roles, users};

use super::domain::{mask_phone, DisplayName, PhoneNumber};
use super::store;
pub use super::store::NewUser;
use crate::access::{self, Caller, Role, Scope};
use crate::error::{AppError, FieldErrors, Result};
use crate::infra::db::begin_write;
use crate::orgs::service as orgs_service;
use crate::pagination::{Page, PageRequest};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct RoleAt {
    pub role: Role,
    /// Null for `super_admin`.
    pub org_id: Option<i64>,
}

/// The caller's own profile: the only response with the full phone number.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeView {
    pub id: i64,
    pub display_name: String,
    /// The caller's own number, unmasked.
    pub phone: Option<String>,
    pub phone_masked: Option<String>,
    pub home_branch_id: Option<i64>,
    pub roles: Vec<RoleAt>,
}

/// Someone else, as staff see them.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberView {
    pub id: i64,
    pub display_name: String,
    pub phone_masked: Option<String>,
    pub home_branch_id: Option<i64>,
    /// Roles held inside the listed org's subtree.
    pub roles: Vec<RoleAt>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ProfileUpdate {
    /// 1–32 characters, no control characters.
    #[schema(pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$", max_length = 32)]
    pub display_name: Option<String>,
    /// An 11-digit mainland China mobile number.
    #[schema(pattern = r"^\s*1[3-9][0-9]{9}\s*$")]
    pub phone: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct JoinRequest {
    /// The invite code: 1–32 visible ASCII characters.
    #[schema(pattern = "^[!-~]{1,32}$")]
    pub code: String,
}

fn role_at(r: user_roles::Model) -> Option<RoleAt> {
    Some(RoleAt { role: Role::parse(&r.role)?, org_id: r.org_id })
}

pub async fn me<C: ConnectionTrait>(db: &C, user_id: i64) -> Result<MeView> {
    let user = store::find_user(db, user_id).await?.ok_or(AppError::NotFound)?;
    let roles = store::roles_of(db, user_id).await?;
    Ok(me_view(user, roles))
}

fn me_view(user: users::Model, roles: Vec<user_roles::Model>) -> MeView {
    MeView {
        id: user.id,
        display_name: user.display_name,
        phone_masked: user.phone.as_deref().map(mask_phone),
        phone: user.phone,
        home_branch_id: user.home_branch_id,
        roles: roles.into_iter().filter_map(role_at).collect(),
    }
}

pub async fn update_me(state: &AppState, caller: &Caller, req: ProfileUpdate) -> Result<MeView> {
    let mut fields = FieldErrors::new();
    let name = match req.display_name.as_deref().map(DisplayName::parse) {
        Some(Err(why)) => {
            fields.insert("display_name".into(), why.into());
            None
        }
        Some(Ok(name)) => Some(name.into_inner()),
        None => None,
    };
    let phone = match req.phone.as_deref().map(PhoneNumber::parse) {
        Some(Err(why)) => {
            fields.insert("phone".into(), why.into());
            None
        }
        Some(Ok(phone)) => Some(phone.into_inner()),
        None => None,
    };
    if !fields.is_empty() {
        return Err(AppError::Validation(fields));
    }
    let renamed = name.is_some();
    store::update_profile(&state.db, caller.user_id, name, phone, state.clock.now()).await?;
    if renamed {
        // This server shows the new name at once; the others within the cache's minute.
        state.caches.names.forget(caller.user_id);
    }
    me(&state.db, caller.user_id).await
}

/// Join the invite's branch with its role; it becomes the caller's home branch. A retry
/// by someone already holding that membership takes no second use.
pub async fn join(state: &AppState, caller: &Caller, req: JoinRequest) -> Result<MeView> {
    let code = req.code.trim().to_uppercase();
    if code.is_empty() || code.len() > 32 || !code.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(AppError::field("code", "邀请码无效"));
    }
    let now = state.clock.now();
    let txn = begin_write(&state.writer).await?;
    let user = store::find_user(&txn, caller.user_id).await?.ok_or(AppError::NotFound)?;
    orgs_service::use_invite(&txn, caller.user_id, user.home_branch_id, &code, now).await?;
    let view = me(&txn, caller.user_id).await?;
    txn.commit().await?;
    access::roles_changed(state, caller.user_id).await;
    Ok(view)
}

/// Members of an org's subtree, for staff (grid worker and up) over that org.
pub async fn list_members(
    state: &AppState,
    caller: &Caller,
    org_id: i64,
    page: PageRequest,
) -> Result<Page<MemberView>> {
    let org = access::in_subtree(&state.db, caller, org_id).await?;
    let staff = orgs_service::staff_scope(caller);
    if !staff.contains(&org.path) {
        return Err(access::needs(Role::GridWorker));
    }
    let rows = store::members_in_scope(&state.db, &staff, &org.path, page).await?;
    let mut page = Page::from_rows(
        rows,
        page,
        |u| u.id,
        |u| MemberView {
            id: u.id,
            display_name: u.display_name,
            phone_masked: u.phone.as_deref().map(mask_phone),
            home_branch_id: u.home_branch_id,
            roles: Vec::new(),
        },
    );
    let ids: Vec<i64> = page.items.iter().map(|m| m.id).collect();
    let subtree = Scope::Paths(vec![org.path.clone()]);
    for role in orgs_service::roles_in_scope(&state.db, &subtree, &ids).await? {
        if let Some(member) = page.items.iter_mut().find(|m| m.id == role.user_id) {
            member.roles.extend(role_at(role));
        }
    }
    Ok(page)
}

/// A user's roles wherever they are held.
pub async fn roles_of<C: ConnectionTrait>(db: &C, user_id: i64) -> Result<Vec<user_roles::Model>> {
    Ok(store::roles_of(db, user_id).await?)
}

/// Whether the user's home branch is this one.
pub async fn is_member_of<C: ConnectionTrait>(db: &C, user_id: i64, branch_id: i64) -> Result<bool> {
    Ok(store::find_user(db, user_id).await?.is_some_and(|u| u.home_branch_id == Some(branch_id)))
}

/// How many people have each of these branches as home (branches with none are absent).
pub async fn member_counts<C: ConnectionTrait>(db: &C, branch_ids: &[i64]) -> Result<BTreeMap<i64, i64>> {
    Ok(store::member_counts(db, branch_ids).await?.into_iter().collect())
}

/// A WeChat user by openid.
pub async fn find_by_openid<C: ConnectionTrait>(db: &C, openid: &str) -> Result<Option<users::Model>> {
    Ok(store::find_by_openid(db, openid).await?)
}

/// A user's WeChat openid, if they ever logged in through WeChat.
pub async fn openid_of<C: ConnectionTrait>(db: &C, user_id: i64) -> Result<Option<String>> {
    Ok(store::find_user(db, user_id).await?.and_then(|u| u.openid))
}

/// A staff account by username.
pub async fn find_by_username<C: ConnectionTrait>(db: &C, username: &str) -> Result<Option<users::Model>> {
    Ok(store::find_by_username(db, username).await?)
}

/// A new person; the database error is kept, so a clash of openid or username shows.
pub async fn create_user<C: ConnectionTrait>(
    db: &C,
    new: NewUser<'_>,
    now: DateTime<Utc>,
) -> std::result::Result<users::Model, sea_orm::DbErr> {
    store::insert_user(db, new, now).await
}
