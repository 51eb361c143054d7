//! SQL for who is calling: a user's roles with the paths of their orgs, and orgs by id.
//! No HTTP types here.
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, FromQueryResult, QueryFilter};

use entity::{orgs, user_roles};

use super::roles::{Caller, Role, RoleGrant, Scope};
use crate::infra::db::by_key;

/// The caller and all their roles, in one query; None when the user does not exist.
pub async fn load_caller<C: ConnectionTrait>(db: &C, user_id: i64) -> Result<Option<Caller>, DbErr> {
    #[derive(FromQueryResult)]
    struct Row {
        role: Option<String>,
        org_id: Option<i64>,
        path: Option<String>,
    }
    let stmt = Query::select()
        .expr_as(Expr::col((user_roles::Entity, user_roles::Column::Role)), Alias::new("role"))
        .expr_as(Expr::col((user_roles::Entity, user_roles::Column::OrgId)), Alias::new("org_id"))
        .expr_as(Expr::col((orgs::Entity, orgs::Column::Path)), Alias::new("path"))
        .from(entity::users::Entity)
        .left_join(
            user_roles::Entity,
            Expr::col((user_roles::Entity, user_roles::Column::UserId))
                .equals((entity::users::Entity, entity::users::Column::Id)),
        )
        .left_join(
            orgs::Entity,
            Expr::col((orgs::Entity, orgs::Column::Id)).equals((user_roles::Entity, user_roles::Column::OrgId)),
        )
        .and_where(Expr::col((entity::users::Entity, entity::users::Column::Id)).eq(user_id))
        .to_owned();
    let rows = Row::find_by_statement(db.get_database_backend().build(&stmt)).all(db).await?;
    if rows.is_empty() {
        return Ok(None);
    }
    let roles = rows
        .into_iter()
        .filter_map(|r| Some(RoleGrant { role: Role::parse(r.role.as_deref()?)?, org_id: r.org_id, org_path: r.path }))
        .collect();
    Ok(Some(Caller { user_id, roles }))
}

/// An org by id, whoever asks (callers check reach and roles themselves).
pub async fn find_org<C: ConnectionTrait>(db: &C, id: i64) -> Result<Option<orgs::Model>, DbErr> {
    by_key(orgs::Entity::find_by_id(id), db).await
}

/// An org the scope can see.
pub async fn find_in_scope<C: ConnectionTrait>(db: &C, scope: &Scope, id: i64) -> Result<Option<orgs::Model>, DbErr> {
    by_key(orgs::Entity::find_by_id(id).filter(scope.condition((orgs::Entity, orgs::Column::Path))), db).await
}

/// Users holding one of `roles` at exactly this org.
pub async fn holders_at<C: ConnectionTrait>(db: &C, org_id: i64, roles: &[Role]) -> Result<Vec<i64>, DbErr> {
    use sea_orm::{ColumnTrait, QuerySelect};
    user_roles::Entity::find()
        .select_only()
        .column(user_roles::Column::UserId)
        .distinct()
        .filter(user_roles::Column::OrgId.eq(org_id))
        .filter(user_roles::Column::Role.is_in(roles.iter().map(|r| r.as_str())))
        .into_tuple()
        .all(db)
        .await
}
