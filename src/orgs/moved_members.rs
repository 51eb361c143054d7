//! For operators: membership grants that moved someone's home branch. Until the fix of
//! 2026-11-29 a `PUT /orgs/{id}/roles` of `resident` or `party_member` made the branch the
//! person's home and dropped their membership roles at every other branch, even outside the
//! granter's scope. Each such grant left an audit row (`role.grant`, an actor other than the
//! person, `after.home_branch_id` set, the dropped roles in `before.membership`); this finds
//! them so an operator can check each and restore what was taken. Reads only.
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::Value;

use entity::audit_log;

/// One grant that moved a person into a branch.
#[derive(Debug)]
pub struct MovedMember {
    pub audit_id: i64,
    pub at: DateTime<Utc>,
    pub actor_id: i64,
    pub user_id: i64,
    pub into_branch: i64,
    /// Membership roles the grant deleted, as `role@org_id`.
    pub dropped: Vec<String>,
    /// The person's home branch now, to tell whether the move still stands.
    pub home_now: Option<i64>,
}

const CHUNK: u64 = 1000;

/// Every membership grant by someone other than the person that set their home branch,
/// oldest first. Walks the audit log in chunks of 1,000 rows.
pub async fn find<C: ConnectionTrait>(db: &C) -> Result<Vec<MovedMember>, DbErr> {
    let mut found = Vec::new();
    let mut after_id = 0;
    loop {
        let rows = audit_log::Entity::find()
            .filter(audit_log::Column::Action.eq("role.grant"))
            .filter(audit_log::Column::TargetType.eq("user"))
            .filter(audit_log::Column::Id.gt(after_id))
            .order_by_asc(audit_log::Column::Id)
            .limit(CHUNK)
            .all(db)
            .await?;
        let Some(last) = rows.last() else { break };
        after_id = last.id;
        for row in rows {
            if let Some(moved) = moved_member(row) {
                found.push(moved);
            }
        }
    }
    for moved in &mut found {
        moved.home_now = super::store::home_branch_of(db, moved.user_id).await?.flatten();
    }
    Ok(found)
}

fn moved_member(row: audit_log::Model) -> Option<MovedMember> {
    let after = row.after.as_ref()?;
    let into_branch = after.get("home_branch_id")?.as_i64()?;
    let user_id: i64 = row.target_id.parse().ok()?;
    let actor_id = row.actor_id.filter(|a| *a != user_id)?;
    let dropped = row
        .before
        .as_ref()
        .and_then(|b| b.get("membership"))
        .and_then(Value::as_array)
        .map(|roles| {
            roles
                .iter()
                .map(|r| {
                    let org = r.get("org_id").and_then(Value::as_i64).map_or("-".into(), |o| o.to_string());
                    format!("{}@{org}", r.get("role").and_then(Value::as_str).unwrap_or("?"))
                })
                .collect()
        })
        .unwrap_or_default();
    Some(MovedMember { audit_id: row.id, at: row.created_at, actor_id, user_id, into_branch, dropped, home_now: None })
}
