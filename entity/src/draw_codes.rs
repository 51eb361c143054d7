use sea_orm::entity::prelude::*;

/// A branch's mini-program code (scene `b=<branch_id>`), fetched from WeChat once and
/// kept in the media store at `path`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "draw_codes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub branch_id: i64,
    pub path: String,
    pub bytes: i64,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
