use sea_orm::entity::prelude::*;

/// Branches whose Redis card pool may be missing open cards (a pool write after a
/// committed card move failed); the card sweeper re-adds the open cards and clears the mark.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "card_pool_dirty")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub branch_id: i64,
    pub marked_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
