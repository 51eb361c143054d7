use sea_orm::entity::prelude::*;

/// A county's deadline for incidents of one category and severity: `hours` of wall-clock
/// time or `working_days` by the county's calendar (exactly one is set).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "incident_sla_rules")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub county_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub category: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub severity: String,
    pub hours: Option<f64>,
    pub working_days: Option<i32>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
