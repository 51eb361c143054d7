use sea_orm::entity::prelude::*;

/// One entry of a user's inbox, written in the same transaction as the event it tells
/// of. With a WeChat template configured for its event it is also an outbox row:
/// `wx_state` `pending` until sent (`sent`), refused for want of consent (`no_consent`),
/// or given up (`failed`); `wx_next_at` is set only while it waits to be sent.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notifications")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_id: i64,
    pub event: String,
    pub title: String,
    pub body: String,
    /// What it is about, as `kind:id` (`card:12`, `incident:7`).
    #[sea_orm(column_name = "ref")]
    pub r#ref: String,
    pub read_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub template_id: Option<String>,
    pub wx_state: String,
    pub wx_attempts: i32,
    pub wx_next_at: Option<DateTimeUtc>,
    /// A sender holds the row until then (`wx_lease_owner`).
    pub wx_lease_until: Option<DateTimeUtc>,
    pub wx_lease_owner: Option<String>,
    pub wx_error: Option<String>,
    pub wx_sent_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
