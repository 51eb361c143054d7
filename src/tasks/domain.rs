//! Tasks and cards as types: a validated task spec, the card and claim states, and the
//! pool member that carries a card's claim time in Redis.
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::FieldErrors;
use crate::stars::{Star, STAR_INVALID};

pub const MAX_COPIES: i32 = 1000;
/// A task's copies, all added together (`POST /tasks/{id}/copies`).
pub const MAX_TASK_COPIES: i32 = 10_000;
pub const MAX_MEDIA: usize = 9;

#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct NewTaskRequest {
    /// 1–100 characters.
    #[schema(min_length = 1, max_length = 100, pattern = r"^[^\x00]*[^\s\x00][^\x00]*$")]
    pub title: String,
    /// Up to 2000 characters.
    #[serde(default)]
    #[schema(max_length = 2000, pattern = r"^[^\x00]*$")]
    pub description: String,
    #[schema(value_type = Star)]
    pub star: String,
    /// 0–1000 points credited on approval.
    #[schema(minimum = 0, maximum = 1000)]
    pub points: i32,
    /// 0–1440 volunteer minutes credited on approval.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1440)]
    pub volunteer_minutes: i32,
    /// 1–1000 cards put into the pool.
    #[schema(minimum = 1, maximum = 1000)]
    pub copies: i32,
    /// 5–1440 minutes a holder has to submit; default 120.
    #[serde(default = "default_ttl")]
    #[schema(minimum = 5, maximum = 1440)]
    pub claim_ttl_minutes: i32,
    #[serde(default)]
    pub requires_photo: bool,
    /// When the task ends: its open cards leave the pool. Must be in the future.
    pub expires_at: Option<DateTime<Utc>>,
}

fn default_ttl() -> i32 {
    120
}

/// `PATCH /tasks/{id}`: any of the three; `expires_at: null` removes the deadline.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TaskEdit {
    /// 1–100 characters.
    #[schema(min_length = 1, max_length = 100, pattern = r"^[^\x00]*[^\s\x00][^\x00]*$")]
    pub title: Option<String>,
    /// Up to 2000 characters.
    #[schema(max_length = 2000, pattern = r"^[^\x00]*$")]
    pub description: Option<String>,
    /// In the future; `null` removes the deadline.
    #[serde(default, deserialize_with = "crate::http::json::present")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub expires_at: Option<Option<DateTime<Utc>>>,
}

/// What an edit changes (None: left as it is; `expires_at: Some(None)` clears it).
#[derive(Debug, Default)]
pub struct TaskChanges {
    pub title: Option<String>,
    pub description: Option<String>,
    pub expires_at: Option<Option<DateTime<Utc>>>,
}

/// A task as published: every field checked.
#[derive(Debug, Clone)]
pub struct TaskSpec {
    pub title: String,
    pub description: String,
    pub star: Star,
    pub points: i32,
    pub volunteer_minutes: i32,
    pub copies: i32,
    pub claim_ttl_minutes: i32,
    pub requires_photo: bool,
    pub expires_at: Option<DateTime<Utc>>,
}

impl TaskSpec {
    pub fn parse(req: NewTaskRequest, now: DateTime<Utc>) -> Result<TaskSpec, FieldErrors> {
        let mut fields = FieldErrors::new();
        let title = req.title.trim().to_owned();
        if title.is_empty() || title.chars().count() > 100 {
            fields.insert("title".into(), "须为 1 到 100 个字符".into());
        }
        let description = req.description.trim().to_owned();
        if description.chars().count() > 2000 {
            fields.insert("description".into(), "不超过 2000 个字符".into());
        }
        let star = Star::parse(&req.star);
        if star.is_none() {
            fields.insert("star".into(), STAR_INVALID.into());
        }
        if !(0..=1000).contains(&req.points) {
            fields.insert("points".into(), "须在 0 到 1000 之间".into());
        }
        if !(0..=1440).contains(&req.volunteer_minutes) {
            fields.insert("volunteer_minutes".into(), "须在 0 到 1440 之间".into());
        }
        if !(1..=MAX_COPIES).contains(&req.copies) {
            fields.insert("copies".into(), format!("须在 1 到 {MAX_COPIES} 之间"));
        }
        if !(5..=1440).contains(&req.claim_ttl_minutes) {
            fields.insert("claim_ttl_minutes".into(), "须在 5 到 1440 分钟之间".into());
        }
        if let Some(at) = req.expires_at {
            if at <= now + Duration::minutes(1) {
                fields.insert("expires_at".into(), "截止时间须在将来".into());
            }
        }
        match star {
            Some(star) if fields.is_empty() => Ok(TaskSpec {
                title,
                description,
                star,
                points: req.points,
                volunteer_minutes: req.volunteer_minutes,
                copies: req.copies,
                claim_ttl_minutes: req.claim_ttl_minutes,
                requires_photo: req.requires_photo,
                expires_at: req.expires_at,
            }),
            _ => Err(fields),
        }
    }
}

/// Where a card goes when it leaves a holder or the pool for good because its task is
/// over: `cancelled` for a cancelled task, `expired` for one past its deadline; None
/// while the task is live.
pub fn retired_status(
    cancelled_at: Option<DateTime<Utc>>,
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<CardStatus> {
    if cancelled_at.is_some() {
        Some(CardStatus::Cancelled)
    } else if expires_at.is_some_and(|at| at <= now) {
        Some(CardStatus::Expired)
    } else {
        None
    }
}

impl TaskSpec {
    /// An edit with every given field checked like a new task's.
    pub fn edit(req: TaskEdit, now: DateTime<Utc>) -> Result<TaskChanges, FieldErrors> {
        let mut fields = FieldErrors::new();
        let title = req.title.map(|t| t.trim().to_owned());
        if title.as_ref().is_some_and(|t| t.is_empty() || t.chars().count() > 100) {
            fields.insert("title".into(), "须为 1 到 100 个字符".into());
        }
        let description = req.description.map(|d| d.trim().to_owned());
        if description.as_ref().is_some_and(|d| d.chars().count() > 2000) {
            fields.insert("description".into(), "不超过 2000 个字符".into());
        }
        if let Some(Some(at)) = req.expires_at {
            if at <= now + Duration::minutes(1) {
                fields.insert("expires_at".into(), "截止时间须在将来".into());
            }
        }
        if title.is_none() && description.is_none() && req.expires_at.is_none() {
            fields.insert("title".into(), "请至少修改标题、说明或截止时间中的一项".into());
        }
        if !fields.is_empty() {
            return Err(fields);
        }
        Ok(TaskChanges { title, description, expires_at: req.expires_at })
    }
}

pub use entity::card_claims::ClaimStatus;
pub use entity::cards::CardStatus;

/// A card in a Redis pool: `"{card_id}:{claim_ttl_minutes}"`, so the draw script can set
/// the lease's deadline without another round trip.
pub fn pool_member(card_id: i64, claim_ttl_minutes: i32) -> String {
    format!("{card_id}:{claim_ttl_minutes}")
}

pub fn parse_pool_member(member: &str) -> Option<(i64, i32)> {
    let (id, ttl) = member.split_once(':')?;
    Some((id.parse().ok()?, ttl.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> NewTaskRequest {
        NewTaskRequest {
            title: "反诈宣传".into(),
            description: "给邻居讲一次反诈知识".into(),
            star: "safe_lawful".into(),
            points: 5,
            volunteer_minutes: 30,
            copies: 10,
            claim_ttl_minutes: 60,
            requires_photo: true,
            expires_at: None,
        }
    }

    #[test]
    fn a_good_task_parses() {
        let spec = TaskSpec::parse(request(), Utc::now()).unwrap();
        assert_eq!(spec.star, Star::SafeLawful);
        assert_eq!(spec.copies, 10);
    }

    #[test]
    fn every_bad_field_is_named() {
        let now = Utc::now();
        let req = NewTaskRequest {
            title: " ".into(),
            star: "gold".into(),
            points: -1,
            volunteer_minutes: 2000,
            copies: 1001,
            claim_ttl_minutes: 1,
            expires_at: Some(now - Duration::hours(1)),
            description: "x".repeat(2001),
            ..request()
        };
        let fields = TaskSpec::parse(req, now).unwrap_err();
        for f in
            ["title", "description", "star", "points", "volunteer_minutes", "copies", "claim_ttl_minutes", "expires_at"]
        {
            assert!(fields.contains_key(f), "{f} not named: {fields:?}");
        }
        let fields = TaskSpec::parse(NewTaskRequest { copies: 0, ..request() }, now).unwrap_err();
        assert!(fields.contains_key("copies"));
    }

    #[test]
    fn pool_members_round_trip() {
        assert_eq!(parse_pool_member(&pool_member(42, 120)), Some((42, 120)));
        assert_eq!(parse_pool_member("42"), None);
        assert_eq!(parse_pool_member("x:1"), None);
    }

    #[test]
    fn statuses_are_stored_as_their_wire_names() {
        use sea_orm::{ActiveEnum, Iterable};
        for s in ClaimStatus::iter() {
            let stored = s.to_value();
            assert_eq!(serde_json::to_value(s).unwrap(), stored.as_str());
            assert_eq!(ClaimStatus::try_from_value(&stored).unwrap(), s);
        }
        assert!(ClaimStatus::try_from_value(&"open".to_owned()).is_err());
        let stored: Vec<String> = CardStatus::iter().map(|s| s.to_value()).collect();
        assert_eq!(stored, ["open", "claimed", "submitted", "approved", "expired", "cancelled"]);
    }

    #[test]
    fn a_card_leaving_for_good_is_cancelled_or_expired() {
        let now = Utc::now();
        let (past, future) = (Some(now - Duration::minutes(1)), Some(now + Duration::minutes(1)));
        assert_eq!(retired_status(None, None, now), None);
        assert_eq!(retired_status(None, future, now), None);
        assert_eq!(retired_status(None, past, now), Some(CardStatus::Expired));
        assert_eq!(retired_status(Some(now), future, now), Some(CardStatus::Cancelled));
        assert_eq!(retired_status(Some(now), past, now), Some(CardStatus::Cancelled), "a cancel outranks the deadline");
    }
}
