//! The inbox and the consents, and `push`: how every other domain tells someone
//! something, inside the transaction of the event itself.
use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use entity::notifications;

use super::domain::Event;
use super::store::{self, NewRow};
use crate::access::Caller;
use crate::error::{AppError, FieldErrors, Result};
use crate::infra::db::begin_write;
use crate::infra::wechat::WechatClient;
use crate::pagination::{Page, PageQuery};
use crate::state::AppState;

/// Something to tell one or more people.
pub struct Notice<'a> {
    pub event: Event,
    pub title: &'a str,
    pub body: &'a str,
    /// What it is about, `kind:id`.
    pub r#ref: String,
    pub at: DateTime<Utc>,
}

/// Put the notice in each user's inbox (each user once), and in the WeChat outbox when
/// the event has a template. Call it inside the event's own transaction.
pub async fn push<C: ConnectionTrait>(
    txn: &C,
    wechat: &WechatClient,
    users: impl IntoIterator<Item = i64>,
    notice: &Notice<'_>,
) -> Result<()> {
    let mut users: Vec<i64> = users.into_iter().collect();
    users.sort_unstable();
    users.dedup();
    let template = if wechat.configured() {
        wechat.templates().for_event(notice.event.as_str()).map(|t| t.id.as_str())
    } else {
        None
    };
    let rows: Vec<NewRow<'_>> = users
        .iter()
        .map(|&user_id| NewRow {
            user_id,
            event: notice.event.as_str(),
            title: notice.title,
            body: notice.body,
            r#ref: &notice.r#ref,
            template_id: template,
            at: notice.at,
        })
        .collect();
    store::insert(txn, &rows).await?;
    Ok(())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationView {
    pub id: i64,
    pub event: Event,
    pub title: String,
    pub body: String,
    /// What it is about: `card:12`, `redemption:5`, `incident:7`, `star_application:3`.
    pub r#ref: String,
    pub read: bool,
    pub at: DateTime<Utc>,
}

impl From<notifications::Model> for NotificationView {
    fn from(m: notifications::Model) -> Self {
        NotificationView {
            id: m.id,
            event: Event::parse(&m.event).unwrap_or(Event::CardApproved),
            title: m.title,
            body: m.body,
            r#ref: m.r#ref,
            read: m.read_at.is_some(),
            at: m.created_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct InboxQuery {
    /// `true`: only unread; `false`: only read; absent: all.
    pub unread: Option<bool>,
    pub cursor: Option<String>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
}

/// The caller's inbox, newest first, with how many are unread.
#[derive(Debug, Serialize, ToSchema)]
pub struct InboxPage {
    pub items: Vec<NotificationView>,
    pub next_cursor: Option<String>,
    pub unread_count: u64,
}

pub async fn inbox(state: &AppState, caller: &Caller, q: &InboxQuery) -> Result<InboxPage> {
    let page = PageQuery { cursor: q.cursor.clone(), limit: q.limit }.parse()?;
    let rows = store::list(&state.db, caller.user_id, q.unread, page.after, page.limit + 1).await?;
    let Page { items, next_cursor } = Page::from_rows(rows, page, |r| r.id, NotificationView::from);
    let unread_count = store::unread_count(&state.db, caller.user_id).await?;
    Ok(InboxPage { items, next_cursor, unread_count })
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct MarkRead {
    /// 1–100 of the caller's notification ids; others are ignored.
    #[schema(min_items = 1, max_items = 100)]
    pub ids: Vec<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MarkedRead {
    /// How many were unread and now are read.
    pub updated: u64,
    pub unread_count: u64,
}

pub async fn mark_read(state: &AppState, caller: &Caller, req: MarkRead) -> Result<MarkedRead> {
    if req.ids.is_empty() || req.ids.len() > 100 {
        return Err(AppError::field("ids", "须给出 1 到 100 个通知编号"));
    }
    let updated = store::mark_read(&state.writer, caller.user_id, &req.ids, state.clock.now()).await?;
    let unread_count = store::unread_count(&state.db, caller.user_id).await?;
    Ok(MarkedRead { updated, unread_count })
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct SubscribeRequest {
    /// The templates the user just accepted in `wx.requestSubscribeMessage` (1–20): one
    /// message each may be sent. Each must be one of `FIVESTAR_WECHAT_TEMPLATES`'.
    #[schema(min_items = 1, max_items = 20)]
    pub template_ids: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Consent {
    pub template_id: String,
    /// Messages that may still be sent with this template.
    pub remaining: i32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Consents {
    pub consents: Vec<Consent>,
}

pub async fn subscribe(state: &AppState, caller: &Caller, req: SubscribeRequest) -> Result<Consents> {
    let mut fields = FieldErrors::new();
    if req.template_ids.is_empty() || req.template_ids.len() > 20 {
        fields.insert("template_ids".into(), "须给出 1 到 20 个模板编号".into());
    }
    for (i, id) in req.template_ids.iter().enumerate() {
        if !state.wechat.templates().knows_id(id) {
            fields.insert(format!("template_ids[{i}]"), "不是本系统配置的订阅消息模板".into());
        }
    }
    if !fields.is_empty() {
        return Err(AppError::Validation(fields));
    }
    // One consent per template per call, as `wx.requestSubscribeMessage` gives them.
    let mut ids = req.template_ids;
    ids.sort();
    ids.dedup();
    let txn = begin_write(&state.writer).await?;
    store::add_consents(&txn, caller.user_id, &ids).await?;
    txn.commit().await?;
    consents(state, caller).await
}

pub async fn consents(state: &AppState, caller: &Caller) -> Result<Consents> {
    let rows = store::consents(&state.db, caller.user_id).await?;
    Ok(Consents {
        consents: rows.into_iter().map(|r| Consent { template_id: r.template_id, remaining: r.remaining }).collect(),
    })
}
