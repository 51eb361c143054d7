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

/// Names found for a response's people (see `NameCache::lookup`).
#[derive(Debug, Default)]
pub struct Names(HashMap<i64, String>);

impl Names {
    /// The person's display name; empty for an id with no user (none is ever deleted).
    pub fn of(&self, id: i64) -> String {
        self.0.get(&id).cloned().unwrap_or_default()
    }

    pub fn of_opt(&self, id: Option<i64>) -> Option<String> {
        id.map(|id| self.of(id))
    }
}

impl NameCache {
    /// The names of everyone a response mentions, in one batched lookup.
    pub async fn lookup<C: ConnectionTrait>(&self, db: &C, ids: impl IntoIterator<Item = i64>) -> Result<Names, DbErr> {
        let mut ids: Vec<i64> = ids.into_iter().collect();
        ids.sort_unstable();
        ids.dedup();
        Ok(Names(self.names(db, &ids).await?))
    }

    /// Drop a person's cached name (they renamed themselves).
    pub fn forget(&self, id: i64) {
        self.cache.invalidate(&id);
    }

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
