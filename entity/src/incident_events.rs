use sea_orm::entity::prelude::*;

use crate::incidents::IncidentStatus;

/// One step of an incident's timeline, written in the same transaction as the move.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "incident_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub incident_id: i64,
    pub action: String,
    pub from_status: Option<IncidentStatus>,
    pub to_status: IncidentStatus,
    /// None for moves the background jobs make (`auto_escalate`).
    pub actor_id: Option<i64>,
    pub note: Option<String>,
    pub media_ids: Json,
    pub at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
