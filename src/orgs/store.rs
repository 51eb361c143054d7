//! SQL for orgs, roles and invites. Reads of org data take the caller's `Scope` and filter
//! by it in SQL. No HTTP types here.
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use entity::{audit_log, invites, orgs, user_roles};

use crate::access::{OrgKind, Role, Scope};
use crate::infra::db::by_key;
use crate::pagination::PageRequest;

pub async fn children_in_scope<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
    parent_id: i64,
    page: PageRequest,
) -> Result<Vec<orgs::Model>, DbErr> {
    let mut query = orgs::Entity::find()
        .filter(orgs::Column::ParentId.eq(parent_id))
        .filter(scope.condition((orgs::Entity, orgs::Column::Path)));
    if let Some(after) = page.after {
        query = query.filter(orgs::Column::Id.gt(after));
    }
    query.order_by_asc(orgs::Column::Id).limit(page.limit + 1).all(db).await
}

/// A shop's reservations wait 14 days for pickup unless its org says otherwise.
pub const DEFAULT_PICKUP_SECONDS: i64 = 14 * 86_400;
/// A county publicizes a star application for 5 days unless it says otherwise.
pub const DEFAULT_PUBLICITY_SECONDS: i64 = 5 * 86_400;

/// Insert an org and give it its materialised path (`parent path` + `id/`).
pub async fn insert_org<C: ConnectionTrait>(
    txn: &C,
    parent: Option<&orgs::Model>,
    name: &str,
    kind: OrgKind,
    now: DateTime<Utc>,
) -> Result<orgs::Model, DbErr> {
    let inserted = orgs::ActiveModel {
        parent_id: Set(parent.map(|p| p.id)),
        name: Set(name.to_owned()),
        kind: Set(kind.as_str().to_owned()),
        path: Set(String::new()),
        depth: Set(parent.map_or(0, |p| p.depth + 1)),
        points_per_hour: Set(10),
        card_limit: Set(1),
        pickup_seconds: Set(DEFAULT_PICKUP_SECONDS),
        publicity_seconds: Set(DEFAULT_PUBLICITY_SECONDS),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    let path = format!("{}{}/", parent.map_or("/", |p| p.path.as_str()), inserted.id);
    let mut active: orgs::ActiveModel = inserted.into();
    active.path = Set(path);
    active.update(txn).await
}

pub async fn update_settings<C: ConnectionTrait>(
    txn: &C,
    id: i64,
    points_per_hour: i32,
    card_limit: i32,
    pickup_seconds: i64,
    publicity_seconds: i64,
) -> Result<orgs::Model, DbErr> {
    orgs::ActiveModel {
        id: Set(id),
        points_per_hour: Set(points_per_hour),
        card_limit: Set(card_limit),
        pickup_seconds: Set(pickup_seconds),
        publicity_seconds: Set(publicity_seconds),
        ..Default::default()
    }
    .update(txn)
    .await
}

pub async fn find_role<C: ConnectionTrait>(
    db: &C,
    user_id: i64,
    org_id: Option<i64>,
    role: Role,
) -> Result<Option<user_roles::Model>, DbErr> {
    let mut query = user_roles::Entity::find()
        .filter(user_roles::Column::UserId.eq(user_id))
        .filter(user_roles::Column::Role.eq(role.as_str()));
    query = match org_id {
        Some(id) => query.filter(user_roles::Column::OrgId.eq(id)),
        None => query.filter(user_roles::Column::OrgId.is_null()),
    };
    by_key(query, db).await
}

pub async fn insert_role<C: ConnectionTrait>(
    txn: &C,
    user_id: i64,
    org_id: Option<i64>,
    role: Role,
    granted_by: Option<i64>,
    now: DateTime<Utc>,
) -> Result<user_roles::Model, DbErr> {
    user_roles::ActiveModel {
        user_id: Set(user_id),
        org_id: Set(org_id),
        role: Set(role.as_str().to_owned()),
        granted_by: Set(granted_by),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await
}

pub async fn delete_role<C: ConnectionTrait>(txn: &C, id: i64) -> Result<(), DbErr> {
    user_roles::Entity::delete_by_id(id).exec(txn).await?;
    Ok(())
}

/// Membership roles (resident, party_member) a user holds anywhere.
pub async fn membership_roles<C: ConnectionTrait>(db: &C, user_id: i64) -> Result<Vec<user_roles::Model>, DbErr> {
    user_roles::Entity::find()
        .filter(user_roles::Column::UserId.eq(user_id))
        .filter(user_roles::Column::Role.is_in([Role::Resident.as_str(), Role::PartyMember.as_str()]))
        .all(db)
        .await
}

/// Membership roles a user holds at one branch.
pub async fn membership_roles_at<C: ConnectionTrait>(
    db: &C,
    user_id: i64,
    branch_id: i64,
) -> Result<Vec<user_roles::Model>, DbErr> {
    user_roles::Entity::find()
        .filter(user_roles::Column::UserId.eq(user_id))
        .filter(user_roles::Column::OrgId.eq(branch_id))
        .filter(user_roles::Column::Role.is_in([Role::Resident.as_str(), Role::PartyMember.as_str()]))
        .all(db)
        .await
}

/// Roles held by these users at orgs inside the scope.
pub async fn roles_of_users_in_scope<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
    user_ids: &[i64],
) -> Result<Vec<user_roles::Model>, DbErr> {
    if user_ids.is_empty() {
        return Ok(Vec::new());
    }
    let orgs_in_scope = Query::select()
        .column(orgs::Column::Id)
        .from(orgs::Entity)
        .cond_where(scope.condition((orgs::Entity, orgs::Column::Path)))
        .to_owned();
    user_roles::Entity::find()
        .filter(user_roles::Column::UserId.is_in(user_ids.iter().copied()))
        .filter(user_roles::Column::OrgId.in_subquery(orgs_in_scope))
        .order_by_asc(user_roles::Column::Id)
        .all(db)
        .await
}

pub struct NewInvite<'a> {
    pub org_id: i64,
    pub code: &'a str,
    pub role: Role,
    pub max_uses: i32,
    pub expires_at: DateTime<Utc>,
    pub created_by: i64,
}

pub async fn insert_invite<C: ConnectionTrait>(
    txn: &C,
    new: NewInvite<'_>,
    now: DateTime<Utc>,
) -> Result<invites::Model, DbErr> {
    invites::ActiveModel {
        org_id: Set(new.org_id),
        code: Set(new.code.to_owned()),
        role: Set(new.role.as_str().to_owned()),
        max_uses: Set(new.max_uses),
        uses: Set(0),
        expires_at: Set(new.expires_at),
        created_by: Set(new.created_by),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await
}

pub async fn find_invite<C: ConnectionTrait>(db: &C, code: &str) -> Result<Option<invites::Model>, DbErr> {
    by_key(invites::Entity::find().filter(invites::Column::Code.eq(code)), db).await
}

/// Take one use of an invite if it has one left and has not expired; false otherwise.
/// A conditional update, so two joins racing for the last use cannot both win.
pub async fn take_invite_use<C: ConnectionTrait>(txn: &C, id: i64, now: DateTime<Utc>) -> Result<bool, DbErr> {
    let result = invites::Entity::update_many()
        .col_expr(invites::Column::Uses, Expr::col(invites::Column::Uses).add(1))
        .filter(invites::Column::Id.eq(id))
        .filter(Expr::col(invites::Column::Uses).lt(Expr::col(invites::Column::MaxUses)))
        .filter(invites::Column::ExpiresAt.gt(now))
        .exec(txn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// An org's invites that can still be used, newest first.
pub async fn live_invites<C: ConnectionTrait>(
    db: &C,
    org_id: i64,
    now: DateTime<Utc>,
    page: PageRequest,
) -> Result<Vec<invites::Model>, DbErr> {
    let mut q = invites::Entity::find()
        .filter(invites::Column::OrgId.eq(org_id))
        .filter(invites::Column::ExpiresAt.gt(now))
        .filter(Expr::col(invites::Column::Uses).lt(Expr::col(invites::Column::MaxUses)));
    if let Some(before) = page.after {
        q = q.filter(invites::Column::Id.lt(before));
    }
    q.order_by_desc(invites::Column::Id).limit(page.limit + 1).all(db).await
}

/// End an invite now (it answers `invite_expired` from then on); false if it had ended.
pub async fn end_invite<C: ConnectionTrait>(txn: &C, id: i64, now: DateTime<Utc>) -> Result<bool, DbErr> {
    let result = invites::Entity::update_many()
        .col_expr(invites::Column::ExpiresAt, Expr::value(now))
        .filter(invites::Column::Id.eq(id))
        .filter(invites::Column::ExpiresAt.gt(now))
        .exec(txn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// What the audit log is asked for.
#[derive(Debug, Default)]
pub struct AuditFilter {
    pub action: Option<String>,
    pub actor_id: Option<i64>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// Audit rows of the orgs in a subtree (by path prefix), newest first.
pub async fn audit_in_subtree<C: ConnectionTrait>(
    db: &C,
    path: &str,
    filter: &AuditFilter,
    page: PageRequest,
) -> Result<Vec<audit_log::Model>, DbErr> {
    use audit_log::Column as A;
    let subtree = Query::select()
        .column(orgs::Column::Id)
        .from(orgs::Entity)
        .and_where(Expr::col(orgs::Column::Path).like(format!("{path}%")))
        .to_owned();
    let mut q = audit_log::Entity::find().filter(A::OrgId.in_subquery(subtree));
    if let Some(action) = &filter.action {
        q = q.filter(A::Action.eq(action.as_str()));
    }
    if let Some(actor) = filter.actor_id {
        q = q.filter(A::ActorId.eq(actor));
    }
    if let Some(from) = filter.from {
        q = q.filter(A::CreatedAt.gte(from));
    }
    if let Some(to) = filter.to {
        q = q.filter(A::CreatedAt.lt(to));
    }
    if let Some(before) = page.after {
        q = q.filter(A::Id.lt(before));
    }
    q.order_by_desc(A::Id).limit(page.limit + 1).all(db).await
}

pub async fn count_orgs<C: ConnectionTrait>(db: &C) -> Result<u64, DbErr> {
    orgs::Entity::find().count(db).await
}

pub async fn set_home_branch<C: ConnectionTrait>(
    txn: &C,
    user_id: i64,
    branch_id: Option<i64>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    use entity::users;
    users::Entity::update_many()
        .col_expr(users::Column::HomeBranchId, Expr::value(branch_id))
        .col_expr(users::Column::UpdatedAt, Expr::value(now))
        .filter(users::Column::Id.eq(user_id))
        .exec(txn)
        .await?;
    Ok(())
}

/// The user's home branch: None when there is no such user, Some(None) when they have no
/// home branch.
pub async fn home_branch_of<C: ConnectionTrait>(db: &C, user_id: i64) -> Result<Option<Option<i64>>, DbErr> {
    use entity::users;
    let home: Option<Option<i64>> = users::Entity::find_by_id(user_id)
        .select_only()
        .column(users::Column::HomeBranchId)
        .into_tuple()
        .one(db)
        .await?;
    Ok(home)
}

/// Branches whose path starts with `path`, as (id, path).
pub async fn branch_paths_under<C: ConnectionTrait>(db: &C, path: &str) -> Result<Vec<(i64, String)>, DbErr> {
    orgs::Entity::find()
        .select_only()
        .column(orgs::Column::Id)
        .column(orgs::Column::Path)
        .filter(orgs::Column::Kind.eq(OrgKind::Branch.as_str()))
        .filter(orgs::Column::Path.starts_with(path))
        .into_tuple()
        .all(db)
        .await
}

/// Branches whose path starts with `path`, as (id, name).
pub async fn branches_under<C: ConnectionTrait>(db: &C, path: &str) -> Result<Vec<(i64, String)>, DbErr> {
    orgs::Entity::find()
        .select_only()
        .column(orgs::Column::Id)
        .column(orgs::Column::Name)
        .filter(orgs::Column::Kind.eq(OrgKind::Branch.as_str()))
        .filter(orgs::Column::Path.starts_with(path))
        .into_tuple()
        .all(db)
        .await
}
