//! SQL for users. Lists of people take the caller's `Scope`.
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use entity::{orgs, user_roles, users};

use crate::access::Scope;
use crate::infra::db::by_key;
use crate::pagination::PageRequest;

pub async fn find_user<C: ConnectionTrait>(db: &C, id: i64) -> Result<Option<users::Model>, DbErr> {
    by_key(users::Entity::find_by_id(id), db).await
}

pub async fn find_by_openid<C: ConnectionTrait>(db: &C, openid: &str) -> Result<Option<users::Model>, DbErr> {
    by_key(users::Entity::find().filter(users::Column::Openid.eq(openid)), db).await
}

pub async fn find_by_username<C: ConnectionTrait>(db: &C, username: &str) -> Result<Option<users::Model>, DbErr> {
    by_key(users::Entity::find().filter(users::Column::Username.eq(username)), db).await
}

pub struct NewUser<'a> {
    pub display_name: &'a str,
    pub openid: Option<&'a str>,
    pub username: Option<&'a str>,
    pub password_hash: Option<String>,
    pub phone: Option<String>,
}

pub async fn insert_user<C: ConnectionTrait>(
    db: &C,
    new: NewUser<'_>,
    now: DateTime<Utc>,
) -> Result<users::Model, DbErr> {
    users::ActiveModel {
        display_name: Set(new.display_name.to_owned()),
        phone: Set(new.phone),
        openid: Set(new.openid.map(str::to_owned)),
        username: Set(new.username.map(str::to_owned)),
        password_hash: Set(new.password_hash),
        home_branch_id: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
}

pub async fn update_profile<C: ConnectionTrait>(
    db: &C,
    id: i64,
    display_name: Option<String>,
    phone: Option<String>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let mut update = users::Entity::update_many()
        .col_expr(users::Column::UpdatedAt, Expr::value(now))
        .filter(users::Column::Id.eq(id));
    if let Some(name) = display_name {
        update = update.col_expr(users::Column::DisplayName, Expr::value(name));
    }
    if let Some(phone) = phone {
        update = update.col_expr(users::Column::Phone, Expr::value(phone));
    }
    update.exec(db).await?;
    Ok(())
}

pub async fn roles_of<C: ConnectionTrait>(db: &C, user_id: i64) -> Result<Vec<user_roles::Model>, DbErr> {
    user_roles::Entity::find()
        .filter(user_roles::Column::UserId.eq(user_id))
        .order_by_asc(user_roles::Column::Id)
        .all(db)
        .await
}

/// People of the subtree at `org_path` (home branch there, or a role there), limited to
/// what `scope` may see, by id.
pub async fn members_in_scope<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
    org_path: &str,
    page: PageRequest,
) -> Result<Vec<users::Model>, DbErr> {
    let subtree = Query::select()
        .column(orgs::Column::Id)
        .from(orgs::Entity)
        .and_where(Expr::col(orgs::Column::Path).like(format!("{org_path}%")))
        .cond_where(scope.condition((orgs::Entity, orgs::Column::Path)))
        .to_owned();
    let role_holders = Query::select()
        .column(user_roles::Column::UserId)
        .from(user_roles::Entity)
        .and_where(Expr::col(user_roles::Column::OrgId).in_subquery(subtree.clone()))
        .to_owned();
    let mut query = users::Entity::find().filter(
        Condition::any()
            .add(users::Column::HomeBranchId.in_subquery(subtree))
            .add(users::Column::Id.in_subquery(role_holders)),
    );
    if let Some(after) = page.after {
        query = query.filter(users::Column::Id.gt(after));
    }
    query.order_by_asc(users::Column::Id).limit(page.limit + 1).all(db).await
}

/// (home branch, people) for these branches.
pub async fn member_counts<C: ConnectionTrait>(db: &C, branch_ids: &[i64]) -> Result<Vec<(i64, i64)>, DbErr> {
    users::Entity::find()
        .select_only()
        .column(users::Column::HomeBranchId)
        .column_as(users::Column::Id.count(), "n")
        .filter(users::Column::HomeBranchId.is_in(branch_ids.iter().copied()))
        .group_by(users::Column::HomeBranchId)
        .into_tuple::<(i64, i64)>()
        .all(db)
        .await
}
