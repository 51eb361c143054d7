//! Client methods and checks for the points shop.
use reqwest::{Method, StatusCode};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};

use super::{parts, Session, TestApp};

impl TestApp {
    /// A new item at `org_id` (asserting 201): `stock` units at `cost` points, with `extra`
    /// fields merged into the request.
    pub async fn shop_item(&self, manager: &Session, org_id: i64, cost: i64, stock: i64, extra: Value) -> Value {
        let mut body = json!({"name": "洗衣皂", "description": "一块", "points_cost": cost, "stock": stock,
            "donor": "县供销社", "media_ids": []});
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        let (status, item) = self.post(&format!("/orgs/{org_id}/shop/items"), &manager.token, body).await;
        assert_eq!(status, StatusCode::CREATED, "{item}");
        item
    }

    /// POST /shop/items/{id}/redeem with this key (a fresh one for None): (status, body,
    /// replayed header).
    pub async fn redeem(
        &self,
        token: &str,
        item_id: i64,
        quantity: i64,
        key: Option<&str>,
    ) -> (StatusCode, Value, bool) {
        let fresh = uuid::Uuid::new_v4().to_string();
        let resp = self
            .client
            .post(self.url(&format!("/api/v1/shop/items/{item_id}/redeem")))
            .bearer_auth(token)
            .header("Idempotency-Key", key.unwrap_or(&fresh))
            .json(&json!({"quantity": quantity}))
            .send()
            .await
            .unwrap();
        let replayed = resp.headers().get("idempotent-replayed").is_some_and(|v| v == "true");
        let (status, body) = parts(resp).await;
        (status, body, replayed)
    }

    pub async fn fulfil(&self, token: &str, org_id: i64, code: &str) -> (StatusCode, Value) {
        self.post(&format!("/orgs/{org_id}/redemptions/fulfil"), token, json!({"code": code})).await
    }

    pub async fn cancel_redemption(&self, token: &str, id: i64) -> (StatusCode, Value) {
        parts(self.call(Method::POST, &format!("/redemptions/{id}/cancel"), Some(token), None).await).await
    }

    pub async fn balance(&self, user: &Session) -> i64 {
        let (status, points) = self.get("/me/points", &user.token).await;
        assert_eq!(status, StatusCode::OK, "{points}");
        points["balance"].as_i64().unwrap()
    }

    pub async fn stock_left(&self, manager: &Session, item_id: i64) -> i64 {
        let (status, item) = self.get(&format!("/shop/items/{item_id}"), &manager.token).await;
        assert_eq!(status, StatusCode::OK, "{item}");
        item["stock_left"].as_i64().unwrap()
    }

    /// The shop's four truths, read straight from SQL: no stock below zero, no balance
    /// below zero, no redemption refunded twice, every summary the sum of its ledger; and
    /// for every item, stock moved == redeemed − refunded (each line of its stock ledger adds up).
    pub async fn assert_shop_truths(&self) {
        use entity::redemptions::RedemptionStatus as R;
        use entity::shop_stock_moves::StockMoveKind;
        use entity::{points_ledger, points_summary, redemptions, shop_items, shop_stock_moves};
        let db = &self.state.db;
        let items = shop_items::Entity::find().all(db).await.unwrap();
        let moves = shop_stock_moves::Entity::find().all(db).await.unwrap();
        let all = redemptions::Entity::find().all(db).await.unwrap();
        for item in &items {
            assert!(item.stock_left >= 0, "item {} below zero: {}", item.id, item.stock_left);
            let lines: Vec<_> = moves.iter().filter(|m| m.item_id == item.id).collect();
            let moved: i64 = lines.iter().map(|m| m.quantity).sum();
            assert_eq!(moved, item.stock_left, "item {}: its stock ledger adds up to its stock", item.id);
            let restocked: i64 = lines.iter().filter(|m| m.kind == StockMoveKind::Restock).map(|m| m.quantity).sum();
            let kept: i64 = all
                .iter()
                .filter(|r| r.item_id == item.id)
                .filter(|r| matches!(r.status, R::Reserved | R::Fulfilled))
                .map(|r| i64::from(r.quantity))
                .sum();
            assert_eq!(restocked - item.stock_left, kept, "item {}: stock moved == redeemed − refunded", item.id);
        }
        let ledger = points_ledger::Entity::find().all(db).await.unwrap();
        for r in &all {
            let refunds = ledger.iter().filter(|e| e.idempotency_key == format!("refund:{}", r.id)).count();
            let closed = matches!(r.status, R::Cancelled | R::Expired);
            assert_eq!(refunds, usize::from(closed), "redemption {} ({:?}) refunded {refunds} times", r.id, r.status);
            let spent = ledger.iter().filter(|e| e.idempotency_key == format!("redeem:{}", r.id)).count();
            assert_eq!(spent, 1, "redemption {} has one redeem entry", r.id);
        }
        for s in points_summary::Entity::find().all(db).await.unwrap() {
            assert!(s.balance >= 0, "user {} below zero", s.user_id);
            let mine = ledger.iter().filter(|e| e.user_id == s.user_id);
            let (sum, earned) = mine.fold((0, 0), |(sum, earned), e| {
                let counts = !matches!(e.kind.as_str(), "redeem" | "refund");
                (sum + e.delta_points, earned + if counts { e.delta_points } else { 0 })
            });
            assert_eq!((s.balance, s.earned_total), (sum, earned), "user {}: summary == ledger", s.user_id);
        }
    }

    /// How many ledger entries of `kind` the user has.
    pub async fn entries_of_kind(&self, user_id: i64, kind: &str) -> Vec<entity::points_ledger::Model> {
        use entity::points_ledger::{Column, Entity};
        Entity::find()
            .filter(Column::UserId.eq(user_id))
            .filter(Column::Kind.eq(kind))
            .all(&self.state.db)
            .await
            .unwrap()
    }
}
