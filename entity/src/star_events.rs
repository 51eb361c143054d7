use sea_orm::entity::prelude::*;

/// One step of an application's history: who moved it from where to where, and why.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "star_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub application_id: i64,
    pub action: String,
    /// None for the award the background jobs make.
    pub actor_id: Option<i64>,
    pub from_status: Option<String>,
    pub to_status: String,
    pub comment: Option<String>,
    pub at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
