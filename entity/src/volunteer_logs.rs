use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "volunteer_logs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_id: i64,
    pub branch_id: i64,
    pub description: String,
    pub star: String,
    pub started_at: DateTimeUtc,
    pub ended_at: DateTimeUtc,
    pub minutes: i32,
    pub media_ids: Json,
    /// `pending`, `approved` or `rejected`.
    pub status: String,
    pub reviewer_id: Option<i64>,
    pub review_comment: Option<String>,
    pub reviewed_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
