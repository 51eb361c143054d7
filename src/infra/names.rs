//! Display names for leaderboards, cached per process, so a leaderboard page costs one
//! Redis round trip and at most one batched SQL query, never a query per entry. A renamed
//! member shows the new name within a minute.
use std::collections::HashMap;
use std::time::Duration;

use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};

use entity::users;

use super::cache::TtlCache;

pub struct NameCache {
    cache: TtlCache<i64, String>,
}

impl Default for NameCache {
    fn default() -> Self {
        NameCache { cache: TtlCache::new(Duration::from_secs(60), 200_000) }
    }
}

impl NameCache {
    pub async fn names<C: ConnectionTrait>(&self, db: &C, ids: &[i64]) -> Result<HashMap<i64, String>, DbErr> {
        let mut found = HashMap::with_capacity(ids.len());
        let mut missing = Vec::new();
        for id in ids {
            match self.cache.get(id) {
                Some(name) => {
                    found.insert(*id, name);
                }
                None => missing.push(*id),
            }
        }
        if missing.is_empty() {
            return Ok(found);
        }
        let rows: Vec<(i64, String)> = users::Entity::find()
            .select_only()
            .column(users::Column::Id)
            .column(users::Column::DisplayName)
            .filter(users::Column::Id.is_in(missing))
            .into_tuple()
            .all(db)
            .await?;
        for (id, name) in rows {
            self.cache.insert(id, name.clone());
            found.insert(id, name);
        }
        Ok(found)
    }
}
