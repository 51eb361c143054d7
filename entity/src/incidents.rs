use sea_orm::entity::prelude::*;

/// One incident report on a ledger (台账): filed in a grid, handled by its branch, or by
/// the township after escalation (`owner_*`).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "incidents")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub grid_id: i64,
    pub grid_path: String,
    /// The org whose ledger holds it: the grid's branch, or its township once escalated.
    pub owner_org_id: i64,
    pub owner_path: String,
    pub category: String,
    pub title: String,
    pub description: String,
    pub severity: String,
    pub lat: f64,
    pub lng: f64,
    pub address: Option<String>,
    pub occurred_at: DateTimeUtc,
    pub media_ids: Json,
    pub star: Option<String>,
    pub status: IncidentStatus,
    pub reporter_id: i64,
    pub assignee_id: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub closed_at: Option<DateTimeUtc>,
    /// The deadline (SLA) from its filing, or as extended once.
    pub due_at: Option<DateTimeUtc>,
    /// When it turns yellow: the last quarter of the time it was allowed.
    pub warn_at: Option<DateTimeUtc>,
    /// `due_at` while it is open and its passing has not been acted on yet (told,
    /// escalated): the background pass reads this column's index. Null otherwise.
    pub watch_at: Option<DateTimeUtc>,
    /// The deadline was moved once (`extend`); it cannot be again.
    pub extended: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

status_enum! {
    /// Where an incident is on its ledger.
    #[schema(as = Status)]
    IncidentStatus {
        Reported = "reported",
        Accepted = "accepted",
        Assigned = "assigned",
        InProgress = "in_progress",
        Resolved = "resolved",
        Closed = "closed",
        Rejected = "rejected",
        Escalated = "escalated",
    }
}
