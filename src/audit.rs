//! The audit log: who changed what, when, from what to what, and why. Written by the
//! service that makes a privileged change, inside that change's transaction, so there is
//! never a change without its record nor a record without its change.
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ConnectionTrait, DbErr, Set};
use serde_json::Value;

use entity::audit_log;

pub struct AuditEntry<'a> {
    /// None for the command line.
    pub actor_id: Option<i64>,
    pub action: &'a str,
    pub target_type: &'a str,
    pub target_id: String,
    pub org_id: Option<i64>,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

pub async fn record<C: ConnectionTrait>(txn: &C, entry: AuditEntry<'_>) -> Result<(), DbErr> {
    audit_log::ActiveModel {
        actor_id: Set(entry.actor_id),
        action: Set(entry.action.to_owned()),
        target_type: Set(entry.target_type.to_owned()),
        target_id: Set(entry.target_id),
        org_id: Set(entry.org_id),
        before: Set(entry.before),
        after: Set(entry.after),
        reason: Set(entry.reason),
        created_at: Set(entry.at),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok(())
}
