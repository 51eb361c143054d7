//! The WeChat outbox: each pass leases due rows (so several servers never send one row
//! twice), sends each whose user has an openid and a consent left for its template, and
//! records how it went. A failure is tried again later (30 s, then doubling, at most an
//! hour apart) and given up a day after the notification was made.
use chrono::{DateTime, Duration, Utc};
use futures_util::StreamExt;

use entity::notifications;

use super::domain::{message_data, Event, Parts};
use super::store::{self, Outcome, WX_FAILED, WX_NO_CONSENT, WX_NO_OPENID, WX_PENDING, WX_SENT};
use crate::infra::wechat::SendOutcome;
use crate::state::AppState;

/// Rows one pass takes.
const BATCH: u64 = 50;
/// Messages a pass has in flight at once.
const SENDS_AT_ONCE: usize = 8;
/// How long a lease lasts: longer than a batch of sends takes.
const LEASE: Duration = Duration::seconds(120);
/// When a notification stops being tried.
const GIVE_UP_AFTER: Duration = Duration::days(1);

/// The wait before attempt `attempts + 1`.
pub fn backoff(attempts: i32) -> Duration {
    let secs = 30i64.saturating_mul(1 << attempts.clamp(0, 7));
    Duration::seconds(secs.min(3600))
}

/// One pass; the number of rows attempted.
pub async fn send_due(state: &AppState, now: DateTime<Utc>) -> anyhow::Result<usize> {
    // Without WeChat credentials nothing is queued (`notify::push`): nothing to count.
    if !state.wechat.configured() {
        return Ok(0);
    }
    refresh_queued(state).await;
    let owner = format!("{}-{}", std::process::id(), crate::infra::random::token_hex(6));
    let rows = store::claim(&state.writer, &owner, now, now + LEASE, BATCH).await?;
    let count = rows.len();
    let owner = owner.as_str();
    let sends = futures_util::stream::iter(rows).map(|row| async move {
        let outcome = attempt(state, &row, now).await?;
        let label = match outcome.state {
            WX_PENDING => "retry",
            other => other,
        };
        if store::settle(&state.writer, row.id, owner, outcome).await? {
            state.wechat.metrics.notifications.with_label_values(&[row.event.as_str(), label]).inc();
        }
        anyhow::Ok(())
    });
    let results: Vec<anyhow::Result<()>> = sends.buffer_unordered(SENDS_AT_ONCE).collect().await;
    for result in results {
        result?;
    }
    if count > 0 {
        refresh_queued(state).await;
    }
    Ok(count)
}

async fn refresh_queued(state: &AppState) {
    if let Ok(rows) = store::queued_by_event(&state.db).await {
        let gauge = &state.wechat.metrics.queued;
        gauge.reset();
        for (event, n) in rows {
            gauge.with_label_values(&[event.as_str()]).set(n);
        }
    }
}

async fn attempt<'a>(state: &AppState, row: &notifications::Model, now: DateTime<Utc>) -> anyhow::Result<Outcome<'a>> {
    let done = |state_: &'a str, error: Option<String>| Outcome {
        state: state_,
        next_at: None,
        attempts: row.wx_attempts + 1,
        error,
        sent_at: None,
    };
    let Some(template_id) = row.template_id.as_deref() else {
        return Ok(done(WX_FAILED, Some("no template".into())));
    };
    let Some(spec) = state.wechat.templates().for_event(&row.event).filter(|t| t.id == template_id) else {
        return Ok(done(WX_FAILED, Some("the template is no longer configured for this event".into())));
    };
    let openid = crate::members::service::openid_of(&state.db, row.user_id).await?;
    let Some(openid) = openid else {
        return Ok(done(WX_NO_OPENID, None));
    };
    if !store::take_consent(&state.writer, row.user_id, template_id).await? {
        return Ok(done(WX_NO_CONSENT, None));
    }
    let event = Event::parse(&row.event);
    let parts = Parts {
        title: &row.title,
        body: &row.body,
        at: row.created_at,
        status: event.map_or("", |e| e.status_word()),
        r#ref: &row.r#ref,
    };
    let data = message_data(&spec.fields, &parts);
    let page = event.map(|e| e.page());
    match state.wechat.send_subscribe(&state.redis, &openid, template_id, page, &data).await {
        SendOutcome::Sent => Ok(Outcome { sent_at: Some(state.clock.now()), ..done(WX_SENT, None) }),
        SendOutcome::NoConsent => {
            store::clear_consents(&state.writer, row.user_id, template_id).await?;
            Ok(done(WX_NO_CONSENT, Some("43101".into())))
        }
        SendOutcome::Failed(err) => {
            store::return_consent(&state.writer, row.user_id, template_id).await?;
            let next = now + backoff(row.wx_attempts);
            if next > row.created_at + GIVE_UP_AFTER {
                tracing::warn!(notification = row.id, error = %err, "wechat message given up after a day");
                Ok(done(WX_FAILED, Some(err)))
            } else {
                tracing::info!(notification = row.id, error = %err, "wechat message to be tried again");
                Ok(Outcome { next_at: Some(next), ..done(WX_PENDING, Some(err)) })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        assert_eq!(backoff(0), Duration::seconds(30));
        assert_eq!(backoff(1), Duration::seconds(60));
        assert_eq!(backoff(3), Duration::seconds(240));
        assert_eq!(backoff(7), Duration::seconds(3600));
        assert_eq!(backoff(50), Duration::seconds(3600));
    }
}
