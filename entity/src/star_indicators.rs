use sea_orm::entity::prelude::*;

/// One indicator of a county's five-star rating for a year. `auto` ones carry a `metric`
/// and a `threshold`; `evidence` ones neither. The code is unique per county and year.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "star_indicators")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub county_id: i64,
    pub year: i32,
    /// A star key (`strong_branch`…).
    pub star: String,
    pub code: String,
    pub title: String,
    /// `auto` or `evidence`.
    pub kind: String,
    pub metric: Option<String>,
    pub threshold: Option<f64>,
    /// None for the built-in set copied by the command line.
    pub created_by: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
