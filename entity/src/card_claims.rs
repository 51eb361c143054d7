use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One draw of a card by one member, from claim to its end: `claimed`, then `submitted`,
/// `released` or `expired`; a submitted claim ends `approved` or `rejected`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "card_claims")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub card_id: i64,
    pub task_id: i64,
    pub branch_id: i64,
    pub user_id: i64,
    pub status: ClaimStatus,
    pub claimed_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub submitted_at: Option<DateTimeUtc>,
    pub note: Option<String>,
    pub media_ids: Json,
    pub reviewer_id: Option<i64>,
    pub review_comment: Option<String>,
    pub ended_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Where one claim (one draw by one member) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize, ToSchema)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum ClaimStatus {
    #[sea_orm(string_value = "claimed")]
    Claimed,
    #[sea_orm(string_value = "submitted")]
    Submitted,
    #[sea_orm(string_value = "approved")]
    Approved,
    #[sea_orm(string_value = "rejected")]
    Rejected,
    #[sea_orm(string_value = "released")]
    Released,
    #[sea_orm(string_value = "expired")]
    Expired,
}
