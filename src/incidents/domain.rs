//! Incidents as types: categories, severities, the workflow as one state machine, a
//! validated filing, distances and human-readable numbers.
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::FieldErrors;
use crate::geo::{self, CoordSystem};
use crate::stars::{Star, STAR_INVALID};

pub const MAX_MEDIA: usize = 9;
/// Possible duplicates: the same category within this distance…
pub const DUPLICATE_RADIUS_M: f64 = 100.0;
/// …filed within this window.
pub const DUPLICATE_WINDOW: Duration = Duration::hours(72);

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn parse(s: &str) -> Option<$name> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }
    };
}

string_enum!(Category { Event => "event", Dispute => "dispute", Hazard => "hazard", Environment => "environment", Other => "other" });
string_enum!(Severity { Low => "low", Medium => "medium", High => "high" });
/// Where an incident is on its ledger (stored by `entity::incidents`).
pub use entity::incidents::IncidentStatus as Status;

string_enum!(Action {
    Accept => "accept",
    Assign => "assign",
    Start => "start",
    Resolve => "resolve",
    Close => "close",
    Escalate => "escalate",
    Reopen => "reopen",
    Reject => "reject",
    Extend => "extend",
});

impl Category {
    pub fn label(self) -> &'static str {
        match self {
            Category::Event => "事件",
            Category::Dispute => "矛盾纠纷",
            Category::Hazard => "安全隐患",
            Category::Environment => "环境问题",
            Category::Other => "其他",
        }
    }
}

impl Action {
    pub fn label(self) -> &'static str {
        match self {
            Action::Accept => "受理",
            Action::Assign => "分派",
            Action::Start => "开始处置",
            Action::Resolve => "办结",
            Action::Close => "销号",
            Action::Escalate => "上报乡镇",
            Action::Reopen => "重新处置",
            Action::Reject => "不予受理",
            Action::Extend => "延期",
        }
    }
}

/// Who is asking to move an incident, as far as the workflow cares.
#[derive(Debug, Clone, Copy)]
pub struct Mover {
    /// Secretary (or above) over the ledger holding it: every move of the workflow.
    pub ledger_staff: bool,
    /// Its assignee: start and resolve.
    pub assignee: bool,
    /// Whether the ledger is a branch's, so that escalating to the township is a move.
    pub on_branch_ledger: bool,
}

/// The actions `mover` may take on an incident in `from`, in the workflow's order.
pub fn allowed_actions(from: Status, mover: Mover) -> Vec<Action> {
    Action::ALL
        .iter()
        .copied()
        .filter(|&a| transition(from, a).is_some())
        .filter(|&a| a != Action::Escalate || mover.on_branch_ledger)
        .filter(|&a| mover.ledger_staff || (mover.assignee && matches!(a, Action::Start | Action::Resolve)))
        .collect()
}

impl Severity {
    pub fn label(self) -> &'static str {
        match self {
            Severity::Low => "低",
            Severity::Medium => "中",
            Severity::High => "高",
        }
    }
}

/// What the ledger says of a status: its wire name, its label, whether it is open.
pub trait StatusText {
    fn as_str(&self) -> &'static str;
    /// Closed and rejected incidents are off the open ledger.
    fn is_open(&self) -> bool;
    fn label(&self) -> &'static str;
}

/// Every status, for filters and tests.
pub const STATUSES: [Status; 8] = [
    Status::Reported,
    Status::Accepted,
    Status::Assigned,
    Status::InProgress,
    Status::Resolved,
    Status::Closed,
    Status::Rejected,
    Status::Escalated,
];

/// A status from its wire name.
pub fn parse_status(s: &str) -> Option<Status> {
    STATUSES.into_iter().find(|x| x.as_str() == s)
}

impl StatusText for Status {
    fn as_str(&self) -> &'static str {
        match self {
            Status::Reported => "reported",
            Status::Accepted => "accepted",
            Status::Assigned => "assigned",
            Status::InProgress => "in_progress",
            Status::Resolved => "resolved",
            Status::Closed => "closed",
            Status::Rejected => "rejected",
            Status::Escalated => "escalated",
        }
    }

    fn is_open(&self) -> bool {
        !matches!(self, Status::Closed | Status::Rejected)
    }

    fn label(&self) -> &'static str {
        match self {
            Status::Reported => "已上报",
            Status::Accepted => "已受理",
            Status::Assigned => "已分派",
            Status::InProgress => "处置中",
            Status::Resolved => "已办结",
            Status::Closed => "已销号",
            Status::Rejected => "不予受理",
            Status::Escalated => "已上报乡镇",
        }
    }
}

/// The workflow: where `action` takes an incident in `from`, or None when it may not.
/// reported→accepted|rejected; accepted→assigned; assigned→in_progress;
/// in_progress→resolved; resolved→closed, or reopened to in_progress; any open state
/// below the township→escalated. An escalated incident starts again on the township's
/// ledger: it can be accepted or rejected there.
pub fn transition(from: Status, action: Action) -> Option<Status> {
    use Action as A;
    use Status as S;
    match (from, action) {
        (S::Reported | S::Escalated, A::Accept) => Some(S::Accepted),
        (S::Reported | S::Escalated, A::Reject) => Some(S::Rejected),
        (S::Accepted, A::Assign) => Some(S::Assigned),
        (S::Assigned, A::Start) => Some(S::InProgress),
        (S::InProgress, A::Resolve) => Some(S::Resolved),
        (S::Resolved, A::Close) => Some(S::Closed),
        (S::Resolved, A::Reopen) => Some(S::InProgress),
        (S::Reported | S::Accepted | S::Assigned | S::InProgress | S::Resolved, A::Escalate) => Some(S::Escalated),
        _ => None,
    }
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct NewIncidentRequest {
    pub grid_id: i64,
    #[schema(value_type = Category)]
    pub category: String,
    /// 1–100 characters.
    #[schema(min_length = 1, max_length = 100, pattern = r"^[^\x00]*[^\s\x00][^\x00]*$")]
    pub title: String,
    /// 1–2000 characters.
    #[schema(min_length = 1, max_length = 2000, pattern = r"^[^\x00]*[^\s\x00][^\x00]*$")]
    pub description: String,
    #[schema(value_type = Severity)]
    pub severity: String,
    /// −90 to 90.
    #[schema(minimum = -90, maximum = 90)]
    pub lat: f64,
    /// −180 to 180.
    #[schema(minimum = -180, maximum = 180)]
    pub lng: f64,
    /// The datum of `lat`/`lng`: `gcj02` (WeChat's map and `wx.getLocation({type: "gcj02"})`,
    /// the default) or `wgs84` (GPS). Stored and answered in GCJ-02.
    #[schema(value_type = Option<CoordSystem>)]
    pub coord_system: Option<String>,
    /// Up to 200 characters.
    #[schema(max_length = 200, pattern = r"^[^\x00]*$")]
    pub address: Option<String>,
    /// When it happened; not in the future.
    pub occurred_at: DateTime<Utc>,
    #[serde(default)]
    pub media_ids: Vec<i64>,
    #[schema(value_type = Option<Star>)]
    pub star: Option<String>,
}

/// A filing with every field checked (the grid and media are checked against SQL later),
/// its location in GCJ-02.
#[derive(Debug, Clone)]
pub struct IncidentSpec {
    pub grid_id: i64,
    pub category: Category,
    pub title: String,
    pub description: String,
    pub severity: Severity,
    pub lat: f64,
    pub lng: f64,
    pub address: Option<String>,
    pub occurred_at: DateTime<Utc>,
    pub media_ids: Vec<i64>,
    pub star: Option<Star>,
}

/// Clocks on phones drift: this far in the future still counts as now.
const CLOCK_SKEW: Duration = Duration::minutes(5);

impl IncidentSpec {
    pub fn parse(req: &NewIncidentRequest, now: DateTime<Utc>) -> Result<IncidentSpec, FieldErrors> {
        let mut fields = FieldErrors::new();
        let category = Category::parse(&req.category);
        if category.is_none() {
            fields.insert("category".into(), "须为 event、dispute、hazard、environment 或 other".into());
        }
        let severity = Severity::parse(&req.severity);
        if severity.is_none() {
            fields.insert("severity".into(), "须为 low、medium 或 high".into());
        }
        let title = req.title.trim().to_owned();
        if title.is_empty() || title.chars().count() > 100 {
            fields.insert("title".into(), "须为 1 到 100 个字符".into());
        }
        let description = req.description.trim().to_owned();
        if description.is_empty() || description.chars().count() > 2000 {
            fields.insert("description".into(), "须为 1 到 2000 个字符".into());
        }
        if !req.lat.is_finite() || !(-90.0..=90.0).contains(&req.lat) {
            fields.insert("lat".into(), "纬度须在 -90 到 90 之间".into());
        }
        if !req.lng.is_finite() || !(-180.0..=180.0).contains(&req.lng) {
            fields.insert("lng".into(), "经度须在 -180 到 180 之间".into());
        }
        let datum = match req.coord_system.as_deref() {
            None => Some(CoordSystem::Gcj02),
            Some(s) => CoordSystem::parse(s),
        };
        if datum.is_none() {
            fields.insert("coord_system".into(), "须为 gcj02（微信地图）或 wgs84（GPS）".into());
        }
        let (lat, lng) = geo::to_gcj02(datum.unwrap_or_default(), req.lat, req.lng);
        let address = req.address.as_deref().map(str::trim).filter(|a| !a.is_empty()).map(str::to_owned);
        if address.as_ref().is_some_and(|a| a.chars().count() > 200) {
            fields.insert("address".into(), "不超过 200 个字符".into());
        }
        if req.occurred_at > now + CLOCK_SKEW {
            fields.insert("occurred_at".into(), "发生时间不能在将来".into());
        }
        if req.media_ids.len() > MAX_MEDIA {
            fields.insert("media_ids".into(), format!("最多 {MAX_MEDIA} 张照片"));
        }
        let star = match req.star.as_deref() {
            None => None,
            Some(s) => {
                let star = Star::parse(s);
                if star.is_none() {
                    fields.insert("star".into(), STAR_INVALID.into());
                }
                star
            }
        };
        match (category, severity) {
            (Some(category), Some(severity)) if fields.is_empty() => Ok(IncidentSpec {
                grid_id: req.grid_id,
                category,
                title,
                description,
                severity,
                lat,
                lng,
                address,
                occurred_at: req.occurred_at,
                media_ids: req.media_ids.clone(),
                star,
            }),
            _ => Err(fields),
        }
    }
}

const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Great-circle distance in metres (haversine).
pub fn distance_m(lat1: f64, lng1: f64, lat2: f64, lng2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lng2 - lng1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * a.sqrt().asin()
}

/// A box around a point that holds every point within `radius_m`: (lat_min, lat_max,
/// lng_min, lng_max). Near the poles the longitude span is the whole circle.
pub fn bounding_box(lat: f64, lng: f64, radius_m: f64) -> (f64, f64, f64, f64) {
    let dlat = (radius_m / EARTH_RADIUS_M).to_degrees();
    let cos = lat.to_radians().cos();
    let dlng = if cos < 1e-6 { 180.0 } else { (dlat / cos).min(180.0) };
    (lat - dlat, lat + dlat, lng - dlng, lng + dlng)
}

/// The number people quote: `NH-2026-000123` (the year in Asia/Shanghai, then the id).
/// Unique because the id is; not gapless per year.
pub fn number(id: i64, created_at: DateTime<Utc>) -> String {
    format!("NH-{}-{:06}", created_at.with_timezone(&crate::clock::shanghai()).year(), id)
}

// ---- Deadlines (SLA) --------------------------------------------------------------

/// The time a county allows an incident of one category and severity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Allowance {
    /// Wall-clock hours, fractions allowed.
    Hours(f64),
    /// Working days by the county's calendar (see [`due_at`]).
    WorkingDays(u32),
}

/// Rules may allow at most a year of hours, or 60 working days.
pub const MAX_SLA_HOURS: f64 = 8760.0;
pub const MAX_SLA_WORKING_DAYS: u32 = 60;

impl Allowance {
    /// Without a county rule: `high` 24 h, `medium` 3 working days, `low` 5 working days.
    pub fn default_for(severity: Severity) -> Allowance {
        match severity {
            Severity::High => Allowance::Hours(24.0),
            Severity::Medium => Allowance::WorkingDays(3),
            Severity::Low => Allowance::WorkingDays(5),
        }
    }

    /// From a rule's two columns, exactly one of which is set and in range.
    pub fn from_parts(hours: Option<f64>, working_days: Option<i64>) -> Result<Allowance, &'static str> {
        match (hours, working_days) {
            (Some(h), None) if h.is_finite() && h > 0.0 && h <= MAX_SLA_HOURS => Ok(Allowance::Hours(h)),
            (Some(_), None) => Err("hours 须大于 0 且不超过 8760"),
            (None, Some(d)) if (1..=MAX_SLA_WORKING_DAYS as i64).contains(&d) => Ok(Allowance::WorkingDays(d as u32)),
            (None, Some(_)) => Err("working_days 须为 1 到 60 的整数"),
            _ => Err("hours 与 working_days 须且只须给出一个"),
        }
    }
}

/// A county's exceptions to the Monday–Friday week for working-day deadlines: holidays
/// (法定节假日) and the weekend days worked in exchange (调休).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkCalendar {
    pub holidays: std::collections::BTreeSet<NaiveDate>,
    pub workdays: std::collections::BTreeSet<NaiveDate>,
}

impl WorkCalendar {
    pub fn is_working_day(&self, day: NaiveDate) -> bool {
        if self.holidays.contains(&day) {
            return false;
        }
        let weekend = matches!(day.weekday(), chrono::Weekday::Sat | chrono::Weekday::Sun);
        !weekend || self.workdays.contains(&day)
    }
}

/// When an incident filed at `filed` is due.
/// - `Hours(h)`: `h` hours after filing, whatever the day.
/// - `WorkingDays(n)`: the end (24:00, Asia/Shanghai) of the `n`th working day after the
///   day it was filed: filed on a Friday with 3 working days, it is due at the end of
///   Wednesday; filed on a Saturday, the same. Holidays do not count; make-up Saturdays
///   and Sundays do.
pub fn due_at(filed: DateTime<Utc>, allowance: Allowance, calendar: &WorkCalendar) -> DateTime<Utc> {
    match allowance {
        Allowance::Hours(h) => filed + Duration::milliseconds((h * 3_600_000.0).round() as i64),
        Allowance::WorkingDays(n) => {
            let tz = crate::clock::shanghai();
            let mut day = filed.with_timezone(&tz).date_naive();
            let mut left = n;
            // A calendar cannot make a year of holidays in a row; stop looking after ten years.
            for _ in 0..3660 {
                day = day.succ_opt().unwrap_or(day);
                if calendar.is_working_day(day) {
                    left -= 1;
                    if left == 0 {
                        break;
                    }
                }
            }
            let end = day.succ_opt().unwrap_or(day).and_hms_opt(0, 0, 0).unwrap_or_default();
            end.and_local_timezone(tz).single().map_or(filed, |t| t.with_timezone(&Utc))
        }
    }
}

/// When an incident due at `due` turns yellow: in the last quarter of the time allowed.
pub fn warn_at(filed: DateTime<Utc>, due: DateTime<Utc>) -> DateTime<Utc> {
    due - (due - filed) / 4
}

/// Where an open incident stands against its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Sla {
    Ok,
    /// In the last 25 % of the time allowed.
    Warning,
    /// Past `due_at`.
    Overdue,
}

impl Sla {
    pub fn parse(s: &str) -> Option<Sla> {
        match s {
            "ok" => Some(Sla::Ok),
            "warning" => Some(Sla::Warning),
            "overdue" => Some(Sla::Overdue),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Sla::Ok => "ok",
            Sla::Warning => "warning",
            Sla::Overdue => "overdue",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Sla::Ok => "正常",
            Sla::Warning => "临期",
            Sla::Overdue => "超期",
        }
    }

    pub fn at(now: DateTime<Utc>, warn_at: DateTime<Utc>, due_at: DateTime<Utc>) -> Sla {
        if now >= due_at {
            Sla::Overdue
        } else if now >= warn_at {
            Sla::Warning
        } else {
            Sla::Ok
        }
    }
}

/// How long after closing the reporter may say whether they are satisfied (回访).
pub const FEEDBACK_WINDOW: Duration = Duration::days(7);

#[cfg(test)]
mod tests {
    use super::*;

    fn shanghai(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, min, 0)
            .unwrap()
            .and_local_timezone(crate::clock::shanghai())
            .unwrap()
            .with_timezone(&Utc)
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn hours_are_wall_clock() {
        let filed = shanghai(2026, 11, 27, 10, 0); // a Friday
        let cal = WorkCalendar::default();
        assert_eq!(due_at(filed, Allowance::Hours(24.0), &cal), shanghai(2026, 11, 28, 10, 0));
        assert_eq!(due_at(filed, Allowance::Hours(1.5), &cal), shanghai(2026, 11, 27, 11, 30));
    }

    #[test]
    fn working_days_skip_the_weekend() {
        let cal = WorkCalendar::default();
        // Friday 10:00 + 3 working days: Mon, Tue, Wed → due at the end of Wednesday.
        let friday = shanghai(2026, 11, 27, 10, 0);
        assert_eq!(due_at(friday, Allowance::WorkingDays(3), &cal), shanghai(2026, 12, 3, 0, 0));
        // Filed on Saturday: the same days count.
        let saturday = shanghai(2026, 11, 28, 23, 0);
        assert_eq!(due_at(saturday, Allowance::WorkingDays(3), &cal), shanghai(2026, 12, 3, 0, 0));
        // Monday + 1: the end of Tuesday.
        let monday = shanghai(2026, 11, 30, 9, 0);
        assert_eq!(due_at(monday, Allowance::WorkingDays(1), &cal), shanghai(2026, 12, 2, 0, 0));
        // Late on a Shanghai Friday is still Friday, though it is Friday afternoon in UTC.
        let late = shanghai(2026, 11, 27, 23, 59);
        assert_eq!(due_at(late, Allowance::WorkingDays(1), &cal), shanghai(2026, 12, 1, 0, 0));
    }

    #[test]
    fn working_days_skip_a_national_holiday() {
        // National Day 2026: 1–7 October off (Thu–Wed), with 10 October (Saturday) worked.
        let mut cal = WorkCalendar::default();
        for d in 1..=7 {
            cal.holidays.insert(day(2026, 10, d));
        }
        // Filed Wednesday 30 September + 2 working days: 8 Oct (Thu), 9 Oct (Fri).
        let filed = shanghai(2026, 9, 30, 15, 0);
        assert_eq!(due_at(filed, Allowance::WorkingDays(2), &cal), shanghai(2026, 10, 10, 0, 0));
    }

    #[test]
    fn a_make_up_saturday_counts() {
        let mut cal = WorkCalendar::default();
        for d in 1..=7 {
            cal.holidays.insert(day(2026, 10, d));
        }
        cal.workdays.insert(day(2026, 10, 10)); // Saturday, worked (调休)
        assert!(cal.is_working_day(day(2026, 10, 10)));
        assert!(!cal.is_working_day(day(2026, 10, 11)));
        // Filed Friday 9 October + 1 working day: the make-up Saturday.
        let filed = shanghai(2026, 10, 9, 10, 0);
        assert_eq!(due_at(filed, Allowance::WorkingDays(1), &cal), shanghai(2026, 10, 11, 0, 0));
        // + 2: Saturday, then Monday.
        assert_eq!(due_at(filed, Allowance::WorkingDays(2), &cal), shanghai(2026, 10, 13, 0, 0));
    }

    #[test]
    fn sla_turns_yellow_in_the_last_quarter() {
        let filed = shanghai(2026, 11, 27, 0, 0);
        let due = filed + Duration::hours(24);
        let warn = warn_at(filed, due);
        assert_eq!(warn, filed + Duration::hours(18));
        assert_eq!(Sla::at(filed + Duration::hours(17), warn, due), Sla::Ok);
        assert_eq!(Sla::at(filed + Duration::hours(18), warn, due), Sla::Warning);
        assert_eq!(Sla::at(due, warn, due), Sla::Overdue);
    }

    #[test]
    fn allowances_are_checked() {
        assert_eq!(Allowance::from_parts(Some(0.5), None), Ok(Allowance::Hours(0.5)));
        assert_eq!(Allowance::from_parts(None, Some(3)), Ok(Allowance::WorkingDays(3)));
        assert!(Allowance::from_parts(Some(0.0), None).is_err());
        assert!(Allowance::from_parts(Some(f64::NAN), None).is_err());
        assert!(Allowance::from_parts(None, Some(0)).is_err());
        assert!(Allowance::from_parts(Some(1.0), Some(1)).is_err());
        assert!(Allowance::from_parts(None, None).is_err());
        assert_eq!(Allowance::default_for(Severity::High), Allowance::Hours(24.0));
        assert_eq!(Allowance::default_for(Severity::Medium), Allowance::WorkingDays(3));
        assert_eq!(Allowance::default_for(Severity::Low), Allowance::WorkingDays(5));
    }

    #[test]
    fn every_allowed_move() {
        use Action as A;
        use Status as S;
        let allowed = [
            (S::Reported, A::Accept, S::Accepted),
            (S::Reported, A::Reject, S::Rejected),
            (S::Accepted, A::Assign, S::Assigned),
            (S::Assigned, A::Start, S::InProgress),
            (S::InProgress, A::Resolve, S::Resolved),
            (S::Resolved, A::Close, S::Closed),
            (S::Resolved, A::Reopen, S::InProgress),
            (S::Reported, A::Escalate, S::Escalated),
            (S::Accepted, A::Escalate, S::Escalated),
            (S::Assigned, A::Escalate, S::Escalated),
            (S::InProgress, A::Escalate, S::Escalated),
            (S::Resolved, A::Escalate, S::Escalated),
            (S::Escalated, A::Accept, S::Accepted),
            (S::Escalated, A::Reject, S::Rejected),
        ];
        for (from, action, to) in allowed {
            assert_eq!(transition(from, action), Some(to), "{from:?} --{action:?}-->");
        }
        // Everything else is refused.
        let mut refused = 0;
        for from in &STATUSES {
            for action in Action::ALL {
                if !allowed.iter().any(|(f, a, _)| f == from && a == action) {
                    assert_eq!(transition(*from, *action), None, "{from:?} --{action:?}-->");
                    refused += 1;
                }
            }
        }
        assert_eq!(refused, STATUSES.len() * Action::ALL.len() - allowed.len());
        assert_eq!(transition(S::Closed, A::Reopen), None);
        assert_eq!(transition(S::Closed, A::Escalate), None, "a closed incident is not open");
        assert_eq!(transition(S::Escalated, A::Escalate), None);
    }

    #[test]
    fn allowed_actions_follow_the_workflow_and_the_movers_part() {
        use Action as A;
        use Status as S;
        let staff = Mover { ledger_staff: true, assignee: false, on_branch_ledger: true };
        assert_eq!(allowed_actions(S::Reported, staff), vec![A::Accept, A::Escalate, A::Reject]);
        assert_eq!(allowed_actions(S::Resolved, staff), vec![A::Close, A::Escalate, A::Reopen]);
        assert_eq!(allowed_actions(S::Closed, staff), vec![]);
        let township = Mover { on_branch_ledger: false, ..staff };
        assert_eq!(allowed_actions(S::Reported, township), vec![A::Accept, A::Reject]);
        let handler = Mover { ledger_staff: false, assignee: true, on_branch_ledger: true };
        assert_eq!(allowed_actions(S::Assigned, handler), vec![A::Start]);
        assert_eq!(allowed_actions(S::InProgress, handler), vec![A::Resolve]);
        assert_eq!(allowed_actions(S::Resolved, handler), vec![]);
        let nobody = Mover { ledger_staff: false, assignee: false, on_branch_ledger: true };
        for from in STATUSES {
            assert_eq!(allowed_actions(from, nobody), vec![]);
            // Whatever is allowed is a move of the workflow.
            for a in allowed_actions(from, staff) {
                assert!(transition(from, a).is_some());
            }
        }
    }

    #[test]
    fn strings_round_trip() {
        for s in STATUSES {
            assert_eq!(parse_status(s.as_str()), Some(s));
            let stored: String = sea_orm::ActiveEnum::to_value(&s);
            assert_eq!(stored, s.as_str(), "the wire name is the stored one");
        }
        for a in Action::ALL {
            assert_eq!(Action::parse(a.as_str()), Some(*a));
        }
        assert_eq!(Category::parse("fire"), None);
    }

    #[test]
    fn distances_and_boxes() {
        // 0.0009° of latitude is about 100 m.
        let d = distance_m(30.0, 120.0, 30.0009, 120.0);
        assert!((d - 100.08).abs() < 0.5, "{d}");
        let (lat0, lat1, lng0, lng1) = bounding_box(30.0, 120.0, 100.0);
        assert!(lat0 < 30.0 && lat1 > 30.0 && lng0 < 120.0 && lng1 > 120.0);
        // A point just inside 100 m east is inside the box.
        let east = 120.0 + 0.00089 / 30f64.to_radians().cos();
        assert!(distance_m(30.0, 120.0, 30.0, east) < 100.0 && east < lng1);
    }

    #[test]
    fn numbers_use_the_shanghai_year() {
        let new_year_eve_utc = DateTime::parse_from_rfc3339("2026-12-31T17:00:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(number(123, new_year_eve_utc), "NH-2027-000123");
    }

    fn request() -> NewIncidentRequest {
        NewIncidentRequest {
            grid_id: 1,
            category: "hazard".into(),
            title: "井盖缺失".into(),
            description: "路口井盖缺失".into(),
            severity: "high".into(),
            lat: 30.0,
            lng: 120.0,
            coord_system: None,
            address: None,
            occurred_at: Utc::now(),
            media_ids: vec![],
            star: None,
        }
    }

    #[test]
    fn locations_are_kept_in_gcj02() {
        let now = Utc::now();
        let gcj = IncidentSpec::parse(&request(), now).unwrap();
        assert_eq!((gcj.lat, gcj.lng), (30.0, 120.0), "GCJ-02 is the default and is kept");
        let wgs =
            IncidentSpec::parse(&NewIncidentRequest { coord_system: Some("wgs84".into()), ..request() }, now).unwrap();
        assert_eq!((wgs.lat, wgs.lng), crate::geo::wgs84_to_gcj02(30.0, 120.0));
        assert!(distance_m(gcj.lat, gcj.lng, wgs.lat, wgs.lng) > 300.0, "the datums differ by hundreds of metres here");
    }

    #[test]
    fn filings_name_every_bad_field() {
        let now = Utc::now();
        assert!(IncidentSpec::parse(&request(), now).is_ok());
        let bad = NewIncidentRequest {
            category: "fire".into(),
            severity: "extreme".into(),
            title: String::new(),
            description: " ".into(),
            lat: 91.0,
            lng: -181.0,
            occurred_at: now + Duration::hours(1),
            media_ids: (0..10).collect(),
            star: Some("gold".into()),
            address: Some("x".repeat(201)),
            coord_system: Some("bd09".into()),
            ..request()
        };
        let fields = IncidentSpec::parse(&bad, now).unwrap_err();
        for f in [
            "category",
            "severity",
            "title",
            "description",
            "lat",
            "lng",
            "occurred_at",
            "media_ids",
            "star",
            "address",
            "coord_system",
        ] {
            assert!(fields.contains_key(f), "{f}: {fields:?}");
        }
    }
}
