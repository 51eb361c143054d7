//! SQL for the inbox, the consents and the outbox. Every outbox write after the claim is
//! conditional on the lease, so a sender whose lease ran out cannot overwrite another's.
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use entity::{notifications, wechat_consents};

/// `wx_state` values.
pub const WX_NONE: &str = "none";
pub const WX_PENDING: &str = "pending";
pub const WX_SENT: &str = "sent";
pub const WX_FAILED: &str = "failed";
pub const WX_NO_CONSENT: &str = "no_consent";
pub const WX_NO_OPENID: &str = "no_openid";

pub struct NewRow<'a> {
    pub user_id: i64,
    pub event: &'a str,
    pub title: &'a str,
    pub body: &'a str,
    pub r#ref: &'a str,
    pub template_id: Option<&'a str>,
    pub at: DateTime<Utc>,
}

pub async fn insert<C: ConnectionTrait>(db: &C, rows: &[NewRow<'_>]) -> Result<(), DbErr> {
    if rows.is_empty() {
        return Ok(());
    }
    let models = rows.iter().map(|r| notifications::ActiveModel {
        user_id: Set(r.user_id),
        event: Set(r.event.to_owned()),
        title: Set(r.title.chars().take(100).collect()),
        body: Set(r.body.to_owned()),
        r#ref: Set(r.r#ref.to_owned()),
        read_at: Set(None),
        created_at: Set(r.at),
        template_id: Set(r.template_id.map(str::to_owned)),
        wx_state: Set(if r.template_id.is_some() { WX_PENDING } else { WX_NONE }.to_owned()),
        wx_attempts: Set(0),
        wx_next_at: Set(r.template_id.map(|_| r.at)),
        wx_lease_until: Set(None),
        wx_lease_owner: Set(None),
        wx_error: Set(None),
        wx_sent_at: Set(None),
        ..Default::default()
    });
    notifications::Entity::insert_many(models).exec_without_returning(db).await?;
    Ok(())
}

/// A user's notifications, newest first, below `before`.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    user_id: i64,
    unread: Option<bool>,
    before: Option<i64>,
    limit: u64,
) -> Result<Vec<notifications::Model>, DbErr> {
    use notifications::Column as N;
    let mut q = notifications::Entity::find().filter(N::UserId.eq(user_id));
    match unread {
        Some(true) => q = q.filter(N::ReadAt.is_null()),
        Some(false) => q = q.filter(N::ReadAt.is_not_null()),
        None => {}
    }
    if let Some(before) = before {
        q = q.filter(N::Id.lt(before));
    }
    q.order_by_desc(N::Id).limit(limit).all(db).await
}

pub async fn unread_count<C: ConnectionTrait>(db: &C, user_id: i64) -> Result<u64, DbErr> {
    use notifications::Column as N;
    use sea_orm::PaginatorTrait;
    notifications::Entity::find().filter(N::UserId.eq(user_id)).filter(N::ReadAt.is_null()).count(db).await
}

/// Mark the user's own notifications among `ids` read; the number newly marked.
pub async fn mark_read<C: ConnectionTrait>(
    db: &C,
    user_id: i64,
    ids: &[i64],
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    use notifications::Column as N;
    let res = notifications::Entity::update_many()
        .col_expr(N::ReadAt, Expr::value(now))
        .filter(N::UserId.eq(user_id))
        .filter(N::Id.is_in(ids.iter().copied()))
        .filter(N::ReadAt.is_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}

/// One more consent for each template.
pub async fn add_consents<C: ConnectionTrait>(db: &C, user_id: i64, template_ids: &[String]) -> Result<(), DbErr> {
    use wechat_consents::Column as W;
    for id in template_ids {
        let row =
            wechat_consents::ActiveModel { user_id: Set(user_id), template_id: Set(id.clone()), remaining: Set(1) };
        let mut on_conflict = OnConflict::columns([W::UserId, W::TemplateId]);
        on_conflict.value(W::Remaining, Expr::col((wechat_consents::Entity, W::Remaining)).add(1));
        wechat_consents::Entity::insert(row).on_conflict(on_conflict).exec_without_returning(db).await?;
    }
    Ok(())
}

pub async fn consents<C: ConnectionTrait>(db: &C, user_id: i64) -> Result<Vec<wechat_consents::Model>, DbErr> {
    wechat_consents::Entity::find()
        .filter(wechat_consents::Column::UserId.eq(user_id))
        .order_by_asc(wechat_consents::Column::TemplateId)
        .all(db)
        .await
}

/// Take one consent if one is left: whether it was taken.
pub async fn take_consent<C: ConnectionTrait>(db: &C, user_id: i64, template_id: &str) -> Result<bool, DbErr> {
    use wechat_consents::Column as W;
    let res = wechat_consents::Entity::update_many()
        .col_expr(W::Remaining, Expr::col(W::Remaining).sub(1))
        .filter(W::UserId.eq(user_id))
        .filter(W::TemplateId.eq(template_id))
        .filter(W::Remaining.gt(0))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Give back a consent taken for a message that did not go.
pub async fn return_consent<C: ConnectionTrait>(db: &C, user_id: i64, template_id: &str) -> Result<(), DbErr> {
    add_consents(db, user_id, &[template_id.to_owned()]).await
}

/// WeChat said the user has none left (43101).
pub async fn clear_consents<C: ConnectionTrait>(db: &C, user_id: i64, template_id: &str) -> Result<(), DbErr> {
    use wechat_consents::Column as W;
    wechat_consents::Entity::update_many()
        .col_expr(W::Remaining, Expr::value(0))
        .filter(W::UserId.eq(user_id))
        .filter(W::TemplateId.eq(template_id))
        .exec(db)
        .await
        .map(drop)
}

fn due_and_free(now: DateTime<Utc>) -> Condition {
    use notifications::Column as N;
    Condition::all()
        .add(N::WxNextAt.lte(now))
        .add(Condition::any().add(N::WxLeaseUntil.is_null()).add(N::WxLeaseUntil.lt(now)))
}

/// Lease up to `limit` due outbox rows to `owner` until `until`, and read them. The
/// outer conditions are checked again on each row as it is updated, so two servers
/// claiming at once never both get a row.
pub async fn claim<C: ConnectionTrait>(
    db: &C,
    owner: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<notifications::Model>, DbErr> {
    use notifications::Column as N;
    let due = Query::select()
        .column(N::Id)
        .from(notifications::Entity)
        .cond_where(due_and_free(now))
        .order_by(N::WxNextAt, sea_orm::Order::Asc)
        .limit(limit)
        .to_owned();
    notifications::Entity::update_many()
        .col_expr(N::WxLeaseOwner, Expr::value(owner))
        .col_expr(N::WxLeaseUntil, Expr::value(until))
        .filter(N::Id.in_subquery(due))
        .filter(due_and_free(now))
        .exec(db)
        .await?;
    notifications::Entity::find().filter(N::WxLeaseOwner.eq(owner)).filter(N::WxNextAt.is_not_null()).all(db).await
}

/// Where a leased row ends up after one attempt.
pub struct Outcome<'a> {
    pub state: &'a str,
    /// Set when it is to be tried again.
    pub next_at: Option<DateTime<Utc>>,
    pub attempts: i32,
    pub error: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// Record an attempt, if `owner` still holds the row.
pub async fn settle<C: ConnectionTrait>(db: &C, id: i64, owner: &str, o: Outcome<'_>) -> Result<bool, DbErr> {
    use notifications::Column as N;
    let res = notifications::Entity::update_many()
        .col_expr(N::WxState, Expr::value(o.state))
        .col_expr(N::WxNextAt, Expr::value(o.next_at))
        .col_expr(N::WxAttempts, Expr::value(o.attempts))
        .col_expr(N::WxError, Expr::value(o.error))
        .col_expr(N::WxSentAt, Expr::value(o.sent_at))
        .col_expr(N::WxLeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(N::WxLeaseUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .filter(N::Id.eq(id))
        .filter(N::WxLeaseOwner.eq(owner))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Rows waiting to be sent, by event.
pub async fn queued_by_event<C: ConnectionTrait>(db: &C) -> Result<Vec<(String, i64)>, DbErr> {
    use notifications::Column as N;
    notifications::Entity::find()
        .select_only()
        .column(N::Event)
        .expr_as(Expr::col(N::Id).count(), "n")
        .filter(N::WxNextAt.is_not_null())
        .group_by(N::Event)
        .into_tuple()
        .all(db)
        .await
}
