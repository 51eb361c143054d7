//! Ledger kinds, leaderboard metrics and periods (Asia/Shanghai calendar), and the
//! score encoding that breaks ties by who got there first.
use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};

use crate::stars::Star;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LedgerKind {
    Task,
    Volunteer,
    Adjust,
    /// Spending at the shop: lowers the balance, never a leaderboard score.
    Redeem,
    /// A redemption given back (cancelled or expired): raises the balance, never a score.
    Refund,
}

impl LedgerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LedgerKind::Task => "task",
            LedgerKind::Volunteer => "volunteer",
            LedgerKind::Adjust => "adjust",
            LedgerKind::Redeem => "redeem",
            LedgerKind::Refund => "refund",
        }
    }

    /// The kinds that move the balance only: no board, no `earned_total`.
    pub const OFF_BOARDS: [LedgerKind; 2] = [LedgerKind::Redeem, LedgerKind::Refund];

    pub fn counts_on_boards(self) -> bool {
        !Self::OFF_BOARDS.contains(&self)
    }

    /// `OFF_BOARDS` as stored, for SQL filters.
    pub fn off_boards() -> impl Iterator<Item = &'static str> {
        Self::OFF_BOARDS.iter().map(|k| k.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum Metric {
    Points,
    VolunteerMinutes,
}

impl Metric {
    pub const ALL: [Metric; 2] = [Metric::Points, Metric::VolunteerMinutes];

    pub fn parse(s: &str) -> Option<Metric> {
        match s {
            "points" => Some(Metric::Points),
            "volunteer_minutes" => Some(Metric::VolunteerMinutes),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Points => "points",
            Metric::VolunteerMinutes => "volunteer_minutes",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum PeriodKind {
    Week,
    Month,
    Year,
    All,
}

impl PeriodKind {
    pub const ALL: [PeriodKind; 4] = [PeriodKind::Week, PeriodKind::Month, PeriodKind::Year, PeriodKind::All];

    pub fn parse(s: &str) -> Option<PeriodKind> {
        match s {
            "week" => Some(PeriodKind::Week),
            "month" => Some(PeriodKind::Month),
            "year" => Some(PeriodKind::Year),
            "all" => Some(PeriodKind::All),
            _ => None,
        }
    }
}

pub use crate::clock::shanghai;

/// The period a moment falls in: `w2026-47` (ISO week), `m2026-11`, `y2026`, or `all`.
pub fn period_key(kind: PeriodKind, at: DateTime<Utc>) -> String {
    let local = at.with_timezone(&shanghai());
    match kind {
        PeriodKind::Week => {
            let week = local.iso_week();
            format!("w{}-{:02}", week.year(), week.week())
        }
        PeriodKind::Month => format!("m{}-{:02}", local.year(), local.month()),
        PeriodKind::Year => format!("y{}", local.year()),
        PeriodKind::All => "all".to_owned(),
    }
}

/// How long a board outlives its period before Redis drops it.
/// Days after its end: a week's board is kept five weeks, a month's a quarter, a year's
/// about a year (`all` forever). Older boards can be rebuilt from the ledger if needed.
const WEEK_KEEP: i64 = 5 * 7;
const MONTH_KEEP: i64 = 95;
const YEAR_KEEP: i64 = 400;

/// When a period's board may expire: some time after the period ends. None for `all`
/// (and for a key that does not parse).
pub fn board_expiry(period_key: &str) -> Option<DateTime<Utc>> {
    let (end, keep) = if let Some(rest) = period_key.strip_prefix('w') {
        let (y, w) = rest.split_once('-')?;
        let monday = NaiveDate::from_isoywd_opt(y.parse().ok()?, w.parse().ok()?, Weekday::Mon)?;
        (monday + Duration::days(7), WEEK_KEEP)
    } else if let Some(rest) = period_key.strip_prefix('m') {
        let (y, m) = rest.split_once('-')?;
        let (y, m): (i32, u32) = (y.parse().ok()?, m.parse().ok()?);
        let next = if m == 12 { NaiveDate::from_ymd_opt(y + 1, 1, 1)? } else { NaiveDate::from_ymd_opt(y, m + 1, 1)? };
        (next, MONTH_KEEP)
    } else if let Some(rest) = period_key.strip_prefix('y') {
        (NaiveDate::from_ymd_opt(rest.parse::<i32>().ok()? + 1, 1, 1)?, YEAR_KEEP)
    } else {
        return None;
    };
    let end = shanghai().from_local_datetime(&end.and_hms_opt(0, 0, 0)?).single()?;
    Some(end.with_timezone(&Utc) + Duration::days(keep))
}

/// Scores are `points × 2^24 + tie`, where `tie` is larger the earlier (in minutes since
/// 2024-01-01 UTC) the member last changed that score. Equal points therefore rank the
/// member who got there first higher; within the same minute Redis orders by member id.
/// Exact for |points| < 2^28 and until 2055.
pub const TIE_SPAN: f64 = 16_777_216.0; // 2^24

const TIE_EPOCH_SECS: i64 = 1_704_067_200; // 2024-01-01T00:00:00Z

pub fn tie(at: DateTime<Utc>) -> i64 {
    let minutes = (at.timestamp() - TIE_EPOCH_SECS).div_euclid(60);
    (TIE_SPAN as i64 - 1 - minutes).clamp(0, TIE_SPAN as i64 - 1)
}

pub fn encode_score(points: i64, at: DateTime<Utc>) -> f64 {
    points as f64 * TIE_SPAN + tie(at) as f64
}

pub fn decode_score(score: f64) -> i64 {
    (score / TIE_SPAN).floor() as i64
}

/// What a ledger entry says; see `service::post_entry`.
#[derive(Debug, Clone)]
pub struct NewEntry {
    pub user_id: i64,
    pub branch_id: i64,
    pub delta_points: i64,
    pub delta_minutes: i64,
    pub star: Option<Star>,
    pub kind: LedgerKind,
    pub ref_type: &'static str,
    pub ref_id: String,
    pub idempotency_key: String,
    pub note: Option<String>,
    pub actor_id: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn periods_follow_the_shanghai_calendar() {
        // 2026-11-22 20:00 UTC is Monday 2026-11-23 04:00 in Shanghai: ISO week 48.
        let at = utc("2026-11-22T20:00:00Z");
        assert_eq!(period_key(PeriodKind::Week, at), "w2026-48");
        assert_eq!(period_key(PeriodKind::Week, utc("2026-11-22T15:00:00Z")), "w2026-47");
        // New Year's Eve 17:00 UTC is already January 1st in Shanghai.
        let at = utc("2026-12-31T17:00:00Z");
        assert_eq!(period_key(PeriodKind::Month, at), "m2027-01");
        assert_eq!(period_key(PeriodKind::Year, at), "y2027");
        // ISO week-years differ from calendar years at the edges.
        assert_eq!(period_key(PeriodKind::Week, utc("2027-01-01T04:00:00Z")), "w2026-53");
        assert_eq!(period_key(PeriodKind::All, at), "all");
    }

    #[test]
    fn boards_expire_after_their_period() {
        let week_end = board_expiry("w2026-47").unwrap();
        assert_eq!(week_end, utc("2026-11-22T16:00:00Z") + Duration::days(WEEK_KEEP));
        assert!(board_expiry("m2026-12").unwrap() > utc("2027-01-01T00:00:00Z"));
        assert!(board_expiry("y2026").is_some());
        assert_eq!(board_expiry("all"), None);
        assert_eq!(board_expiry("wbad"), None);
    }

    #[test]
    fn scores_keep_points_and_rank_the_earlier_first() {
        let early = utc("2026-11-01T00:00:00Z");
        let late = utc("2026-11-02T00:00:00Z");
        for points in [-5, 0, 1, 37, 250_000_000] {
            assert_eq!(decode_score(encode_score(points, early)), points);
        }
        assert!(encode_score(10, early) > encode_score(10, late), "same points: earlier ranks higher");
        assert!(encode_score(11, late) > encode_score(10, early), "more points always rank higher");
        assert!(encode_score(-1, early) < encode_score(0, late));
    }
}
