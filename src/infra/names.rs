//! A small per-process cache of display names, so a leaderboard page costs one Redis
//! round trip and at most one batched SQL query, never a query per entry. Entries live
//! a minute; a renamed member shows the new name within that.
use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};

use entity::users;

const TTL: Duration = Duration::from_secs(60);
const MAX_ENTRIES: usize = 200_000;

#[derive(Default)]
pub struct NameCache {
    entries: RwLock<HashMap<i64, (String, Instant)>>,
}

impl NameCache {
    pub async fn names<C: ConnectionTrait>(&self, db: &C, ids: &[i64]) -> Result<HashMap<i64, String>, DbErr> {
        let now = Instant::now();
        let mut found = HashMap::with_capacity(ids.len());
        let mut missing = Vec::new();
        {
            let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
            for id in ids {
                match entries.get(id) {
                    Some((name, at)) if now.duration_since(*at) < TTL => {
                        found.insert(*id, name.clone());
                    }
                    _ => missing.push(*id),
                }
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
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.len() + rows.len() > MAX_ENTRIES {
            entries.clear();
        }
        for (id, name) in rows {
            entries.insert(id, (name.clone(), now));
            found.insert(id, name);
        }
        Ok(found)
    }
}
