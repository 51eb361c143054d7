use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One copy of a task. Moves `open -> claimed -> submitted -> approved`, back to `open`
/// when a claim is released, expires or is rejected, and to `expired` when its task ends.
/// Every move is a conditional update on `status`, so one card has one holder.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "cards")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub task_id: i64,
    pub branch_id: i64,
    pub status: CardStatus,
    pub holder_id: Option<i64>,
    /// The current claim (a row of `card_claims`) while claimed or submitted.
    pub claim_id: Option<i64>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Where a card is. `Open` cards are in the branch's Redis pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize, ToSchema)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum CardStatus {
    #[sea_orm(string_value = "open")]
    Open,
    #[sea_orm(string_value = "claimed")]
    Claimed,
    #[sea_orm(string_value = "submitted")]
    Submitted,
    #[sea_orm(string_value = "approved")]
    Approved,
    /// Its task ended before anyone finished it.
    #[sea_orm(string_value = "expired")]
    Expired,
}
