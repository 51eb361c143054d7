//! Fixtures too big for the API: many members at once, inserted straight into SQL.
use super::{Session, TestApp};

impl TestApp {
    /// `n` residents of `branch`, inserted straight into SQL (as `seed-bench` does) with
    /// access tokens: for tests that need hundreds of members at once.
    pub async fn bulk_residents(&self, branch: i64, n: usize) -> Vec<Session> {
        use entity::{user_roles, users};
        use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
        let now = self.clock.now();
        let tag = uuid::Uuid::new_v4().simple().to_string();
        let rows = (0..n).map(|i| users::ActiveModel {
            display_name: Set(format!("居民{i}")),
            openid: Set(Some(format!("bulk-{tag}-{i}"))),
            home_branch_id: Set(Some(branch)),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        });
        users::Entity::insert_many(rows).exec_without_returning(&self.state.db).await.unwrap();
        let ids: Vec<i64> = users::Entity::find()
            .filter(users::Column::Openid.starts_with(format!("bulk-{tag}-")))
            .order_by_asc(users::Column::Id)
            .all(&self.state.db)
            .await
            .unwrap()
            .into_iter()
            .map(|u| u.id)
            .collect();
        let roles = ids.iter().map(|id| user_roles::ActiveModel {
            user_id: Set(*id),
            org_id: Set(Some(branch)),
            role: Set("resident".into()),
            created_at: Set(now),
            ..Default::default()
        });
        user_roles::Entity::insert_many(roles).exec_without_returning(&self.state.db).await.unwrap();
        ids.into_iter()
            .map(|id| Session {
                token: self.state.jwt.issue(id, None, now).unwrap(),
                refresh: String::new(),
                user_id: id,
            })
            .collect()
    }
}
