use sea_orm::entity::prelude::*;

/// A county's exception to the week: a `holiday` on a weekday, or a `workday` on a
/// weekend (调休). Other days follow Monday–Friday.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "work_calendar")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub county_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub day: Date,
    pub kind: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
