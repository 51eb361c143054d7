//! Deadlines (SLA): a county's rules (category × severity → hours or working days) and
//! its calendar of holidays and make-up workdays, each incident's `due_at` from them, and
//! the background pass that acts on deadlines as they pass: an incident on a branch's
//! ledger is escalated to the township (`auto_escalate`, no actor), and whoever handles an
//! overdue incident is told. Each move is conditional on `watch_at`, so with several
//! servers running the pass each incident is acted on exactly once.
use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use entity::{incident_sla_rules, incidents, orgs, work_calendar};

use super::domain::{due_at, transition, warn_at, Action, Allowance, Category, Severity, Status, WorkCalendar};
use super::store::{self, NewEvent};
use crate::access::{self, Caller, OrgKind, Role};
use crate::audit::{self, AuditEntry};
use crate::error::{AppError, FieldErrors, Result};
use crate::infra::db::begin_write;
use crate::notify::{self, domain::Event, Notice};
use crate::points::boards::path_ids;
use crate::state::AppState;

/// A county's rules and calendar, as deadlines are computed from them.
#[derive(Debug, Default)]
pub struct SlaBook {
    rules: HashMap<(Category, Severity), Allowance>,
    calendar: WorkCalendar,
}

impl SlaBook {
    pub fn allowance(&self, category: Category, severity: Severity) -> Allowance {
        self.rules.get(&(category, severity)).copied().unwrap_or_else(|| Allowance::default_for(severity))
    }

    /// (due_at, warn_at) for an incident filed (or reopened) at `from`.
    pub fn deadline(
        &self,
        category: Category,
        severity: Severity,
        from: DateTime<Utc>,
    ) -> (DateTime<Utc>, DateTime<Utc>) {
        let due = due_at(from, self.allowance(category, severity), &self.calendar);
        (due, warn_at(from, due))
    }
}

/// The county's book. Its rows come from the per-process cache: a change made here drops
/// them at once; one made through another server shows within 30 s.
pub async fn book(state: &AppState, county_id: i64) -> Result<SlaBook> {
    let rows = match state.caches.sla.get(&county_id) {
        Some(rows) => rows,
        None => {
            let rules = incident_sla_rules::Entity::find()
                .filter(incident_sla_rules::Column::CountyId.eq(county_id))
                .all(&state.db)
                .await?;
            let days = work_calendar::Entity::find()
                .filter(work_calendar::Column::CountyId.eq(county_id))
                .all(&state.db)
                .await?;
            let rows = Arc::new((rules, days));
            state.caches.sla.insert(county_id, rows.clone());
            rows
        }
    };
    let mut book = SlaBook::default();
    for r in &rows.0 {
        let (Some(c), Some(s)) = (Category::parse(&r.category), Severity::parse(&r.severity)) else { continue };
        if let Ok(a) = Allowance::from_parts(r.hours, r.working_days.map(i64::from)) {
            book.rules.insert((c, s), a);
        }
    }
    for d in &rows.1 {
        match d.kind.as_str() {
            HOLIDAY => book.calendar.holidays.insert(d.day),
            _ => book.calendar.workdays.insert(d.day),
        };
    }
    Ok(book)
}

const HOLIDAY: &str = "holiday";
const WORKDAY: &str = "workday";

/// The county of an org path (its first id).
pub fn county_of(path: &str) -> Option<i64> {
    path_ids(path).first().copied()
}

/// A county the caller reaches; 422 for another kind of org.
async fn county(state: &AppState, caller: &Caller, id: i64) -> Result<orgs::Model> {
    let org = access::reachable(state, caller, id).await?;
    if org.kind != OrgKind::County.as_str() {
        return Err(AppError::field("county_id", "时限规则与工作日历按县（区）设置，须为县（区）"));
    }
    Ok(org)
}

/// A rule names only these fields (`additionalProperties: false`): a misspelt `hour`
/// would otherwise be dropped unseen.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlaRuleInput {
    #[schema(value_type = Category)]
    pub category: String,
    #[schema(value_type = Severity)]
    pub severity: String,
    /// Wall-clock hours, > 0 (fractions allowed), at most 8760. Exactly one of `hours`
    /// and `working_days`.
    #[schema(exclusive_minimum = 0, maximum = 8760)]
    pub hours: Option<f64>,
    /// Working days by the county's calendar, 1–60: due at the end of the nth working day
    /// after the day of filing (Asia/Shanghai).
    #[schema(minimum = 1, maximum = 60)]
    pub working_days: Option<i64>,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct SlaRulesRequest {
    /// The county's rules; a pair of category and severity left out takes the default
    /// (`high` 24 h, `medium` 3 working days, `low` 5 working days). At most 15.
    #[schema(max_items = 15)]
    pub rules: Vec<SlaRuleInput>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SlaRuleView {
    pub category: Category,
    pub severity: Severity,
    pub hours: Option<f64>,
    pub working_days: Option<u32>,
    /// `county` (set by the county) or `default`.
    pub source: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SlaRulesView {
    pub county_id: i64,
    /// Every category and severity (15 rules), as deadlines are computed now. A change
    /// applies to incidents filed after it.
    pub rules: Vec<SlaRuleView>,
}

fn rules_view(county_id: i64, book: &SlaBook) -> SlaRulesView {
    let mut rules = Vec::new();
    for &category in Category::ALL {
        for &severity in Severity::ALL {
            let own = book.rules.get(&(category, severity));
            let allowance = own.copied().unwrap_or_else(|| Allowance::default_for(severity));
            let (hours, working_days) = match allowance {
                Allowance::Hours(h) => (Some(h), None),
                Allowance::WorkingDays(d) => (None, Some(d)),
            };
            let source = if own.is_some() { "county" } else { "default" };
            rules.push(SlaRuleView { category, severity, hours, working_days, source: source.into() });
        }
    }
    SlaRulesView { county_id, rules }
}

/// Anyone whose roles reach the county may read its rules.
pub async fn rules(state: &AppState, caller: &Caller, county_id: i64) -> Result<SlaRulesView> {
    let county = county(state, caller, county_id).await?;
    Ok(rules_view(county.id, &book(state, county.id).await?))
}

/// A county admin replaces the county's rules; audited.
pub async fn set_rules(
    state: &AppState,
    caller: &Caller,
    county_id: i64,
    req: SlaRulesRequest,
) -> Result<SlaRulesView> {
    let county = county(state, caller, county_id).await?;
    access::authorize(caller, &county, Role::CountyAdmin)?;
    let mut fields = FieldErrors::new();
    let mut parsed: HashMap<(Category, Severity), Allowance> = HashMap::new();
    if req.rules.len() > 15 {
        fields.insert("rules".into(), "最多 15 条".into());
    }
    for (i, r) in req.rules.iter().enumerate() {
        let category = Category::parse(&r.category);
        let severity = Severity::parse(&r.severity);
        if category.is_none() {
            fields.insert(format!("rules[{i}].category"), "须为 event、dispute、hazard、environment 或 other".into());
        }
        if severity.is_none() {
            fields.insert(format!("rules[{i}].severity"), "须为 low、medium 或 high".into());
        }
        match Allowance::from_parts(r.hours, r.working_days) {
            Err(why) => {
                fields.insert(format!("rules[{i}]"), why.into());
            }
            Ok(a) => {
                if let (Some(c), Some(s)) = (category, severity) {
                    if parsed.insert((c, s), a).is_some() {
                        fields.insert(format!("rules[{i}]"), "同一类别与紧急程度只能有一条".into());
                    }
                }
            }
        }
    }
    if !fields.is_empty() {
        return Err(AppError::Validation(fields));
    }
    let now = state.clock.now();
    let before = serde_json::to_value(rules_view(county.id, &book(state, county.id).await?).rules)
        .map_err(anyhow::Error::from)?;
    let txn = begin_write(&state.writer).await?;
    incident_sla_rules::Entity::delete_many()
        .filter(incident_sla_rules::Column::CountyId.eq(county.id))
        .exec(&txn)
        .await?;
    let rows: Vec<_> = parsed
        .iter()
        .map(|(&(c, s), &a)| incident_sla_rules::ActiveModel {
            county_id: Set(county.id),
            category: Set(c.as_str().into()),
            severity: Set(s.as_str().into()),
            hours: Set(match a {
                Allowance::Hours(h) => Some(h),
                Allowance::WorkingDays(_) => None,
            }),
            working_days: Set(match a {
                Allowance::WorkingDays(d) => Some(d as i32),
                Allowance::Hours(_) => None,
            }),
            updated_at: Set(now),
        })
        .collect();
    if !rows.is_empty() {
        incident_sla_rules::Entity::insert_many(rows).exec_without_returning(&txn).await?;
    }
    audit::record(
        &txn,
        AuditEntry {
            actor_id: Some(caller.user_id),
            action: "incidents.sla.set",
            target_type: "incident_sla",
            target_id: county.id.to_string(),
            org_id: Some(county.id),
            before: Some(before),
            after: Some(serde_json::to_value(&req.rules).map_err(anyhow::Error::from)?),
            reason: None,
            at: now,
        },
    )
    .await?;
    txn.commit().await?;
    state.caches.sla.invalidate(&county.id);
    rules(state, caller, county.id).await
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct CalendarRequest {
    /// Weekdays off (法定节假日), `YYYY-MM-DD`, in the year; at most 100.
    #[serde(default)]
    #[schema(max_items = 100)]
    pub holidays: Vec<NaiveDate>,
    /// Saturdays and Sundays worked (调休), `YYYY-MM-DD`, in the year; at most 100.
    #[serde(default)]
    #[schema(max_items = 100)]
    pub workdays: Vec<NaiveDate>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CalendarView {
    pub county_id: i64,
    pub year: i32,
    pub holidays: Vec<NaiveDate>,
    pub workdays: Vec<NaiveDate>,
}

fn check_calendar_year(year: i32) -> Result<()> {
    if !(2000..=2100).contains(&year) {
        return Err(AppError::field("year", "须在 2000 到 2100 之间"));
    }
    Ok(())
}

pub async fn calendar(state: &AppState, caller: &Caller, county_id: i64, year: i32) -> Result<CalendarView> {
    check_calendar_year(year)?;
    let county = county(state, caller, county_id).await?;
    let book = book(state, county.id).await?;
    let in_year = |d: &&NaiveDate| d.year() == year;
    Ok(CalendarView {
        county_id: county.id,
        year,
        holidays: book.calendar.holidays.iter().filter(in_year).copied().collect(),
        workdays: book.calendar.workdays.iter().filter(in_year).copied().collect(),
    })
}

/// A county admin replaces the year's holidays and make-up workdays; audited.
pub async fn set_calendar(
    state: &AppState,
    caller: &Caller,
    county_id: i64,
    year: i32,
    req: CalendarRequest,
) -> Result<CalendarView> {
    check_calendar_year(year)?;
    let county = county(state, caller, county_id).await?;
    access::authorize(caller, &county, Role::CountyAdmin)?;
    let mut fields = FieldErrors::new();
    let weekend = |d: &NaiveDate| matches!(d.weekday(), chrono::Weekday::Sat | chrono::Weekday::Sun);
    for (name, days) in [("holidays", &req.holidays), ("workdays", &req.workdays)] {
        if days.len() > 100 {
            fields.insert(name.into(), "最多 100 天".into());
        }
        for (i, d) in days.iter().enumerate() {
            if d.year() != year {
                fields.insert(format!("{name}[{i}]"), format!("须在 {year} 年内"));
            } else if name == "workdays" && !weekend(d) {
                fields.insert(format!("{name}[{i}]"), "调休上班日须为周六或周日".into());
            } else if name == "holidays" && req.workdays.contains(d) {
                fields.insert(format!("{name}[{i}]"), "同一天不能既是节假日又是调休上班日".into());
            }
        }
    }
    if !fields.is_empty() {
        return Err(AppError::Validation(fields));
    }
    let mut holidays = req.holidays.clone();
    let mut workdays = req.workdays.clone();
    holidays.sort_unstable();
    holidays.dedup();
    workdays.sort_unstable();
    workdays.dedup();
    let first = NaiveDate::from_ymd_opt(year, 1, 1).ok_or_else(|| AppError::field("year", "无效的年份"))?;
    let last = NaiveDate::from_ymd_opt(year, 12, 31).ok_or_else(|| AppError::field("year", "无效的年份"))?;
    let now = state.clock.now();
    let txn = begin_write(&state.writer).await?;
    work_calendar::Entity::delete_many()
        .filter(work_calendar::Column::CountyId.eq(county.id))
        .filter(work_calendar::Column::Day.between(first, last))
        .exec(&txn)
        .await?;
    let rows: Vec<_> = holidays
        .iter()
        .map(|d| (d, HOLIDAY))
        .chain(workdays.iter().map(|d| (d, WORKDAY)))
        .map(|(d, kind)| work_calendar::ActiveModel { county_id: Set(county.id), day: Set(*d), kind: Set(kind.into()) })
        .collect();
    if !rows.is_empty() {
        work_calendar::Entity::insert_many(rows).exec_without_returning(&txn).await?;
    }
    audit::record(
        &txn,
        AuditEntry {
            actor_id: Some(caller.user_id),
            action: "incidents.calendar.set",
            target_type: "work_calendar",
            target_id: format!("{}:{year}", county.id),
            org_id: Some(county.id),
            before: None,
            after: Some(serde_json::json!({"holidays": holidays, "workdays": workdays})),
            reason: None,
            at: now,
        },
    )
    .await?;
    txn.commit().await?;
    state.caches.sla.invalidate(&county.id);
    calendar(state, caller, county.id, year).await
}

/// Incidents whose deadline passed and has not been acted on, oldest first.
async fn due_for_watch<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<incidents::Model>, DbErr> {
    incidents::Entity::find()
        .filter(incidents::Column::WatchAt.lte(now))
        .order_by_asc(incidents::Column::WatchAt)
        .limit(limit)
        .all(db)
        .await
}

/// One pass of the deadline watch; the number of incidents acted on.
pub async fn watch_due(state: &AppState, now: DateTime<Utc>) -> Result<usize> {
    let mut acted = 0;
    for incident in due_for_watch(&state.db, now, 200).await? {
        // One incident that cannot be acted on (its org gone, a write refused) must not hold
        // up the others behind it: it is logged and tried again next pass.
        let id = incident.id;
        match act_on_deadline(state, incident, now).await {
            Ok(true) => acted += 1,
            Ok(false) => {}
            Err(err) => tracing::warn!(incident = id, error = %err, "could not act on a passed deadline"),
        }
    }
    Ok(acted)
}

async fn act_on_deadline(state: &AppState, i: incidents::Model, now: DateTime<Utc>) -> Result<bool> {
    let Some(watch_at) = i.watch_at else { return Ok(false) };
    let owner = access::org(state, i.owner_org_id).await?;
    let path = path_ids(&i.grid_path);
    let on_branch_ledger = owner.kind == OrgKind::Branch.as_str() && path.len() >= 2;
    let escalate_to = match transition(i.status, Action::Escalate) {
        Some(_) if on_branch_ledger => Some(access::org(state, path[1]).await?),
        _ => None,
    };
    let ledger_staff = if on_branch_ledger { vec![Role::Secretary] } else { vec![Role::TownshipAdmin] };
    let mut told_overdue = match i.assignee_id {
        Some(a) => vec![a],
        None => access::holders_at(&state.db, owner.id, &ledger_staff).await?,
    };
    let township_staff = match &escalate_to {
        Some(t) => access::holders_at(&state.db, t.id, &[Role::TownshipAdmin]).await?,
        None => Vec::new(),
    };
    if escalate_to.is_some() {
        told_overdue.extend(access::holders_at(&state.db, owner.id, &[Role::Secretary]).await?);
    }
    let txn = begin_write(&state.writer).await?;
    use incidents::Column as I;
    let mut update = incidents::Entity::update_many()
        .col_expr(I::WatchAt, Expr::value(Option::<DateTime<Utc>>::None))
        .filter(I::Id.eq(i.id))
        .filter(I::WatchAt.eq(watch_at))
        .filter(I::Status.eq(i.status));
    if let Some(township) = &escalate_to {
        update = update
            .col_expr(I::Status, Expr::value(Status::Escalated))
            .col_expr(I::OwnerOrgId, Expr::value(township.id))
            .col_expr(I::OwnerPath, Expr::value(township.path.clone()))
            .col_expr(I::UpdatedAt, Expr::value(now));
    }
    if update.exec(&txn).await?.rows_affected != 1 {
        // Another server (or a handler) got there first.
        return Ok(false);
    }
    let number = super::domain::number(i.id, i.created_at);
    let r#ref = format!("incident:{}", i.id);
    let body = format!("{number}「{}」已超过办理时限", i.title);
    notify::push(
        &txn,
        &state.wechat,
        told_overdue,
        &Notice { event: Event::IncidentOverdue, title: "事件已超期", body: &body, r#ref: r#ref.clone(), at: now },
    )
    .await?;
    if let Some(township) = &escalate_to {
        store::insert_event(
            &txn,
            NewEvent {
                incident_id: i.id,
                action: "auto_escalate",
                from: Some(i.status),
                to: Status::Escalated,
                actor_id: None,
                note: Some("超过办理时限，自动上报乡镇".into()),
                media_ids: &[],
                at: now,
            },
        )
        .await?;
        let body = format!("{number}「{}」超期未办结，已自动上报{}", i.title, township.name);
        notify::push(
            &txn,
            &state.wechat,
            township_staff,
            &Notice { event: Event::IncidentEscalated, title: "事件已上报乡镇", body: &body, r#ref, at: now },
        )
        .await?;
    }
    txn.commit().await?;
    if escalate_to.is_some() {
        tracing::info!(incident = i.id, "overdue incident escalated to the township");
    }
    Ok(true)
}
