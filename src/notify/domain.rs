//! Notifications as types: the events, their words, and WeChat's rules for the values
//! of a subscribe message's fields.
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::infra::wechat::Templates;

/// What a notification tells of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    CardApproved,
    CardRejected,
    RedemptionReady,
    RedemptionExpiring,
    IncidentAssigned,
    IncidentOverdue,
    IncidentEscalated,
    StarApplicationReviewed,
}

impl Event {
    pub const ALL: [Event; 8] = [
        Event::CardApproved,
        Event::CardRejected,
        Event::RedemptionReady,
        Event::RedemptionExpiring,
        Event::IncidentAssigned,
        Event::IncidentOverdue,
        Event::IncidentEscalated,
        Event::StarApplicationReviewed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Event::CardApproved => "card_approved",
            Event::CardRejected => "card_rejected",
            Event::RedemptionReady => "redemption_ready",
            Event::RedemptionExpiring => "redemption_expiring",
            Event::IncidentAssigned => "incident_assigned",
            Event::IncidentOverdue => "incident_overdue",
            Event::IncidentEscalated => "incident_escalated",
            Event::StarApplicationReviewed => "star_application_reviewed",
        }
    }

    pub fn parse(s: &str) -> Option<Event> {
        Event::ALL.into_iter().find(|e| e.as_str() == s)
    }

    /// At most five Chinese characters: the `status` a template's `phrase` field shows.
    pub fn status_word(self) -> &'static str {
        match self {
            Event::CardApproved => "审核通过",
            Event::CardRejected => "未通过",
            Event::RedemptionReady => "待领取",
            Event::RedemptionExpiring => "即将过期",
            Event::IncidentAssigned => "已分派",
            Event::IncidentOverdue => "已超期",
            Event::IncidentEscalated => "已上报",
            Event::StarApplicationReviewed => "已审核",
        }
    }

    /// The mini-program page a message opens.
    pub fn page(self) -> &'static str {
        match self {
            Event::CardApproved | Event::CardRejected => "pages/cards/index",
            Event::RedemptionReady | Event::RedemptionExpiring => "pages/shop/redemptions",
            Event::IncidentAssigned | Event::IncidentOverdue | Event::IncidentEscalated => "pages/incidents/index",
            Event::StarApplicationReviewed => "pages/stars/index",
        }
    }
}

/// Every event named in the templates setting must be one of ours: a typo would
/// otherwise silently send nothing.
pub fn check_templates(templates: &Templates) -> anyhow::Result<()> {
    for event in templates.0.keys() {
        if Event::parse(event).is_none() {
            let known: Vec<&str> = Event::ALL.iter().map(|e| e.as_str()).collect();
            anyhow::bail!("FIVESTAR_WECHAT_TEMPLATES names an unknown event {event:?}; events: {}", known.join(", "));
        }
    }
    Ok(())
}

/// The parts of a notification a template field can show.
pub struct Parts<'a> {
    pub title: &'a str,
    pub body: &'a str,
    pub at: DateTime<Utc>,
    pub status: &'a str,
    pub r#ref: &'a str,
}

/// A message's `data`: each template key filled from its source and fitted to its type.
pub fn message_data(fields: &[(String, String)], parts: &Parts<'_>) -> BTreeMap<String, String> {
    fields
        .iter()
        .map(|(key, source)| {
            let value = match source.as_str() {
                "title" => parts.title.to_owned(),
                "body" => parts.body.to_owned(),
                "status" => parts.status.to_owned(),
                "ref" => parts.r#ref.to_owned(),
                _ => format_time(parts.at),
            };
            (key.clone(), fit(key, &value))
        })
        .collect()
}

fn format_time(at: DateTime<Utc>) -> String {
    at.with_timezone(&crate::clock::shanghai()).format("%Y-%m-%d %H:%M").to_string()
}

/// A value fitted to the type WeChat gives a field by its key's name (`thing1` is a
/// `thing`): `thing` at most 20 characters (longer ends in `…`), `phrase` at most 5 Chinese
/// characters, `character_string` and `number` at most 32 of their characters, `letter` at
/// most 32 letters, `name` at most 10 characters, `time` and `date` as WeChat reads them.
pub fn fit(key: &str, value: &str) -> String {
    let kind = key.trim_end_matches(|c: char| c.is_ascii_digit());
    let value = value.trim();
    match kind {
        "thing" => clip(value, 20),
        "name" => clip(value, 10),
        "phrase" => value.chars().filter(|c| is_han(*c)).take(5).collect(),
        "character_string" => value.chars().filter(|c| c.is_ascii_graphic()).take(32).collect(),
        "number" => value.chars().filter(|c| c.is_ascii_digit() || *c == '.').take(32).collect(),
        "letter" => value.chars().filter(|c| c.is_ascii_alphabetic()).take(32).collect(),
        "time" => {
            let time = DateTime::parse_from_rfc3339(value).map(|t| format_time(t.with_timezone(&Utc)));
            time.unwrap_or_else(|_| value.chars().take(20).collect())
        }
        "date" => value.chars().take(10).collect(),
        _ => clip(value, 20),
    }
}

/// At most `max` characters; a longer value keeps `max − 1` and ends in `…`.
fn clip(value: &str, max: usize) -> String {
    if value.chars().count() <= max {
        value.to_owned()
    } else {
        value.chars().take(max - 1).chain(std::iter::once('…')).collect()
    }
}

fn is_han(c: char) -> bool {
    matches!(c, '\u{4e00}'..='\u{9fff}' | '\u{3400}'..='\u{4dbf}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_and_their_words_fit_a_phrase() {
        for e in Event::ALL {
            assert_eq!(Event::parse(e.as_str()), Some(e));
            assert_eq!(fit("phrase1", e.status_word()), e.status_word(), "{e:?}");
        }
    }

    #[test]
    fn values_fit_wechats_types() {
        let long = "东街社区第三网格垃圾堆放点清理任务已经审核通过啦";
        assert_eq!(long.chars().count(), 24);
        let thing = fit("thing1", long);
        assert_eq!(thing.chars().count(), 20);
        assert!(thing.ends_with('…'));
        assert_eq!(fit("thing2", "短"), "短");
        assert_eq!(fit("phrase3", "已通过 OK 123 審核"), "已通过審核");
        assert_eq!(fit("character_string4", "ab-12 三34"), "ab-1234");
        assert_eq!(fit("character_string4", &"x".repeat(40)).len(), 32);
        assert_eq!(fit("number5", "共 12.5 分"), "12.5");
        assert_eq!(fit("time6", "2026-11-29T07:30:00Z"), "2026-11-29 15:30");
        assert_eq!(fit("name7", "一二三四五六七八九十十一"), "一二三四五六七八九…");
    }

    #[test]
    fn data_comes_from_the_templates_fields() {
        let fields = vec![("thing1".to_owned(), "title".to_owned()), ("time2".to_owned(), "at".to_owned())];
        let at = DateTime::parse_from_rfc3339("2026-11-29T01:00:00Z").unwrap().with_timezone(&Utc);
        let data =
            message_data(&fields, &Parts { title: "任务卡审核通过", body: "b", at, status: "s", r#ref: "card:1" });
        assert_eq!(data["thing1"], "任务卡审核通过");
        assert_eq!(data["time2"], "2026-11-29 09:00");
    }
}
