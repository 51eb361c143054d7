//! SQL for incidents and their timelines. Moves are conditional on
//! the status read, so two handlers acting at once cannot both move an incident.
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use entity::{incident_events, incidents, orgs};

use super::domain::{Action, Category, IncidentSpec, Sla, Status};
use crate::access::Scope;
use crate::infra::db::by_key;

pub async fn insert_incident<C: ConnectionTrait>(
    txn: &C,
    spec: &IncidentSpec,
    grid: &orgs::Model,
    owner: &orgs::Model,
    reporter_id: i64,
    (due_at, warn_at): (DateTime<Utc>, DateTime<Utc>),
    now: DateTime<Utc>,
) -> Result<incidents::Model, DbErr> {
    incidents::ActiveModel {
        grid_id: Set(grid.id),
        grid_path: Set(grid.path.clone()),
        owner_org_id: Set(owner.id),
        owner_path: Set(owner.path.clone()),
        category: Set(spec.category.as_str().to_owned()),
        title: Set(spec.title.clone()),
        description: Set(spec.description.clone()),
        severity: Set(spec.severity.as_str().to_owned()),
        lat: Set(spec.lat),
        lng: Set(spec.lng),
        address: Set(spec.address.clone()),
        occurred_at: Set(spec.occurred_at),
        media_ids: Set(serde_json::json!(spec.media_ids)),
        star: Set(spec.star.map(|s| s.as_str().to_owned())),
        status: Set(Status::Reported),
        reporter_id: Set(reporter_id),
        assignee_id: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        closed_at: Set(None),
        due_at: Set(Some(due_at)),
        warn_at: Set(Some(warn_at)),
        watch_at: Set(Some(due_at)),
        extended: Set(false),
        ..Default::default()
    }
    .insert(txn)
    .await
}

pub struct NewEvent<'a> {
    pub incident_id: i64,
    pub action: &'a str,
    pub from: Option<Status>,
    pub to: Status,
    /// None for the background jobs' moves.
    pub actor_id: Option<i64>,
    pub note: Option<String>,
    pub media_ids: &'a [i64],
    pub at: DateTime<Utc>,
}

pub async fn insert_event<C: ConnectionTrait>(txn: &C, e: NewEvent<'_>) -> Result<(), DbErr> {
    incident_events::ActiveModel {
        incident_id: Set(e.incident_id),
        action: Set(e.action.to_owned()),
        from_status: Set(e.from),
        to_status: Set(e.to),
        actor_id: Set(e.actor_id),
        note: Set(e.note),
        media_ids: Set(serde_json::json!(e.media_ids)),
        at: Set(e.at),
        ..Default::default()
    }
    .insert(txn)
    .await
    .map(drop)
}

pub async fn find_incident<C: ConnectionTrait>(db: &C, id: i64) -> Result<Option<incidents::Model>, DbErr> {
    by_key(incidents::Entity::find_by_id(id), db).await
}

pub async fn timeline<C: ConnectionTrait>(db: &C, incident_id: i64) -> Result<Vec<incident_events::Model>, DbErr> {
    incident_events::Entity::find()
        .filter(incident_events::Column::IncidentId.eq(incident_id))
        .order_by_asc(incident_events::Column::Id)
        .all(db)
        .await
}

/// Open incidents of a category inside a box, filed since `since`: (id, created_at, lat, lng).
/// Answered from `ix_incidents_nearby` alone (it holds every column read here).
pub async fn nearby<C: ConnectionTrait>(
    db: &C,
    category: Category,
    (lat0, lat1, lng0, lng1): (f64, f64, f64, f64),
    since: DateTime<Utc>,
) -> Result<Vec<(i64, DateTime<Utc>, f64, f64)>, DbErr> {
    use incidents::Column as I;
    incidents::Entity::find()
        .select_only()
        .columns([I::Id, I::CreatedAt, I::Lat, I::Lng])
        .filter(I::Category.eq(category.as_str()))
        .filter(I::Lat.between(lat0, lat1))
        .filter(I::Lng.between(lng0, lng1))
        .filter(I::CreatedAt.gte(since))
        .filter(I::Status.is_not_in([Status::Closed, Status::Rejected]))
        .limit(200)
        .into_tuple()
        .all(db)
        .await
}

/// What a move changes besides the status.
#[derive(Default)]
pub struct MoveExtras<'a> {
    pub assignee_id: Option<i64>,
    pub owner: Option<&'a orgs::Model>,
    pub closed: bool,
}

/// `from → to` if the incident is still in `from`; false otherwise.
pub async fn move_incident<C: ConnectionTrait>(
    txn: &C,
    id: i64,
    from: Status,
    to: Status,
    extras: MoveExtras<'_>,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    use incidents::Column as I;
    let mut q =
        incidents::Entity::update_many().col_expr(I::Status, Expr::value(to)).col_expr(I::UpdatedAt, Expr::value(now));
    if let Some(assignee) = extras.assignee_id {
        q = q.col_expr(I::AssigneeId, Expr::value(assignee));
    }
    if let Some(owner) = extras.owner {
        q = q.col_expr(I::OwnerOrgId, Expr::value(owner.id)).col_expr(I::OwnerPath, Expr::value(owner.path.clone()));
    }
    if extras.closed {
        q = q.col_expr(I::ClosedAt, Expr::value(now));
    }
    if matches!(to, Status::Closed | Status::Rejected) {
        // Off the open ledger: its deadline no longer matters.
        q = q.col_expr(I::WatchAt, Expr::value(Option::<DateTime<Utc>>::None));
    }
    let res = q.filter(I::Id.eq(id)).filter(I::Status.eq(from)).exec(txn).await?;
    Ok(res.rows_affected == 1)
}

/// Move the deadline from `current` to `new_due`, once: only while it has not passed and
/// was never extended. False when someone else moved it, or it passed.
pub async fn extend_deadline<C: ConnectionTrait>(
    txn: &C,
    id: i64,
    current: DateTime<Utc>,
    new_due: DateTime<Utc>,
    warn_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    use incidents::Column as I;
    let res = incidents::Entity::update_many()
        .col_expr(I::DueAt, Expr::value(new_due))
        .col_expr(I::WarnAt, Expr::value(warn_at))
        .col_expr(I::WatchAt, Expr::value(new_due))
        .col_expr(I::Extended, Expr::value(true))
        .col_expr(I::UpdatedAt, Expr::value(now))
        .filter(I::Id.eq(id))
        .filter(I::Extended.eq(false))
        .filter(I::DueAt.eq(current))
        .filter(I::DueAt.gt(now))
        .filter(I::WatchAt.is_not_null())
        .filter(I::Status.is_not_in([Status::Closed, Status::Rejected]))
        .exec(txn)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Touch a closed incident if it is still closed from `closed_at` (holding its row).
pub async fn touch_closed<C: ConnectionTrait>(
    txn: &C,
    id: i64,
    closed_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    use incidents::Column as I;
    let res = incidents::Entity::update_many()
        .col_expr(I::UpdatedAt, Expr::value(now))
        .filter(I::Id.eq(id))
        .filter(I::Status.eq(Status::Closed))
        .filter(I::ClosedAt.eq(closed_at))
        .exec(txn)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Whether the reporter gave feedback since `since` (the closing it would answer).
pub async fn feedback_since<C: ConnectionTrait>(db: &C, id: i64, since: DateTime<Utc>) -> Result<bool, DbErr> {
    use incident_events::Column as E;
    let found = incident_events::Entity::find()
        .select_only()
        .column(E::Id)
        .filter(E::IncidentId.eq(id))
        .filter(E::Action.eq("feedback"))
        .filter(E::At.gte(since))
        .into_tuple::<i64>()
        .one(db)
        .await?;
    Ok(found.is_some())
}

/// Reopen a closed incident on the reporter's feedback: `in_progress` with the same
/// assignee and a new deadline.
pub async fn reopen_closed<C: ConnectionTrait>(
    txn: &C,
    id: i64,
    closed_at: DateTime<Utc>,
    (due_at, warn_at): (DateTime<Utc>, DateTime<Utc>),
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    use incidents::Column as I;
    let res = incidents::Entity::update_many()
        .col_expr(I::Status, Expr::value(Status::InProgress))
        .col_expr(I::ClosedAt, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(I::DueAt, Expr::value(due_at))
        .col_expr(I::WarnAt, Expr::value(warn_at))
        .col_expr(I::WatchAt, Expr::value(due_at))
        .col_expr(I::Extended, Expr::value(false))
        .col_expr(I::UpdatedAt, Expr::value(now))
        .filter(I::Id.eq(id))
        .filter(I::Status.eq(Status::Closed))
        .filter(I::ClosedAt.eq(closed_at))
        .exec(txn)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Who may see which incidents, as SQL: incidents in the org's subtree that the caller
/// reaches; disputes only where the caller is staff, or their reporter or handler.
pub struct Visibility {
    pub org_path: String,
    /// Subtrees where the caller holds any role.
    pub any_role: Scope,
    /// Subtrees where the caller is staff (grid worker or above).
    pub staff: Scope,
    pub user_id: i64,
}

impl Visibility {
    fn condition(&self) -> Condition {
        use incidents::Column as I;
        let in_org = Condition::any()
            .add(I::GridPath.like(format!("{}%", self.org_path)))
            .add(I::OwnerPath.like(format!("{}%", self.org_path)));
        let own = Condition::any().add(I::ReporterId.eq(self.user_id)).add(I::AssigneeId.eq(self.user_id));
        let seen = Condition::any()
            .add(self.staff.condition((incidents::Entity, I::GridPath)))
            .add(self.staff.condition((incidents::Entity, I::OwnerPath)))
            .add(own.clone())
            .add(
                Condition::all()
                    .add(I::Category.ne(Category::Dispute.as_str()))
                    .add(self.any_role.condition((incidents::Entity, I::GridPath))),
            );
        Condition::all().add(in_org).add(seen)
    }
}

#[derive(Default)]
pub struct ListFilter {
    /// Open incidents only, by where they stand against their deadline at `now`.
    pub sla: Option<(Sla, DateTime<Utc>)>,
    pub status: Option<Status>,
    pub category: Option<Category>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// Newest first, `limit` rows with id below `before`.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    vis: &Visibility,
    filter: &ListFilter,
    before: Option<i64>,
    limit: u64,
) -> Result<Vec<incidents::Model>, DbErr> {
    use incidents::Column as I;
    let mut q = incidents::Entity::find().filter(vis.condition());
    if let Some((sla, now)) = filter.sla {
        q = q.filter(I::Status.is_not_in([Status::Closed, Status::Rejected]));
        q = match sla {
            Sla::Overdue => q.filter(I::DueAt.lte(now)),
            Sla::Warning => q.filter(I::DueAt.gt(now)).filter(I::WarnAt.lte(now)),
            Sla::Ok => q.filter(I::WarnAt.gt(now)),
        };
    }
    if let Some(status) = filter.status {
        q = q.filter(I::Status.eq(status));
    }
    if let Some(category) = filter.category {
        q = q.filter(I::Category.eq(category.as_str()));
    }
    if let Some(from) = filter.from {
        q = q.filter(I::CreatedAt.gte(from));
    }
    if let Some(to) = filter.to {
        q = q.filter(I::CreatedAt.lt(to));
    }
    if let Some(before) = before {
        q = q.filter(I::Id.lt(before));
    }
    q.order_by_desc(I::Id).limit(limit).all(db).await
}

/// What the statistics read of each incident.
pub type StatsRow =
    (String, String, DateTime<Utc>, Option<DateTime<Utc>>, Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// (category, status, created_at, closed_at, due_at, warn_at) of the visible incidents
/// filed in a period.
pub async fn stats_rows<C: ConnectionTrait>(
    db: &C,
    vis: &Visibility,
    filter: &ListFilter,
) -> Result<Vec<StatsRow>, DbErr> {
    use incidents::Column as I;
    let mut q = incidents::Entity::find()
        .select_only()
        .columns([I::Category, I::Status, I::CreatedAt, I::ClosedAt, I::DueAt, I::WarnAt])
        .filter(vis.condition());
    if let Some(from) = filter.from {
        q = q.filter(I::CreatedAt.gte(from));
    }
    if let Some(to) = filter.to {
        q = q.filter(I::CreatedAt.lt(to));
    }
    q.into_tuple().all(db).await
}

/// The last action of each incident: incident id → (action, at).
pub async fn last_actions<C: ConnectionTrait>(
    db: &C,
    ids: &[i64],
) -> Result<std::collections::HashMap<i64, (String, DateTime<Utc>)>, DbErr> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    let rows: Vec<(i64, String, DateTime<Utc>)> = incident_events::Entity::find()
        .select_only()
        .columns([incident_events::Column::IncidentId, incident_events::Column::Action, incident_events::Column::At])
        .filter(incident_events::Column::IncidentId.is_in(ids.iter().copied()))
        .order_by_asc(incident_events::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|(id, action, at)| (id, (action, at))).collect())
}

pub fn action_label(action: &str) -> &'static str {
    match Action::parse(action) {
        Some(a) => a.label(),
        None if action == "report" => "上报",
        None if action == "auto_escalate" => "超期自动上报",
        None if action == "feedback" => "回访",
        None => "其他",
    }
}
