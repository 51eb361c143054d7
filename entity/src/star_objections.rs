use sea_orm::entity::prelude::*;

/// An objection raised while an application is publicized. Its author is never shown to
/// the branch.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "star_objections")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub application_id: i64,
    pub author_id: i64,
    pub text: String,
    /// `open`, `upheld` or `dismissed`.
    pub status: String,
    pub resolved_by: Option<i64>,
    pub resolution: Option<String>,
    pub created_at: DateTimeUtc,
    pub resolved_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
