//! Property: whatever sequence of credits, redemptions, cancellations, expiries and
//! fulfilments happens, after every step the shop's truths hold: no stock below zero, no
//! balance below zero, no redemption refunded twice, every summary the sum of its ledger
//! (and every item's stock what its restocks, redemptions and refunds leave).
use std::sync::LazyLock;

use fivestar::access::{Caller, OrgKind, Role, RoleGrant};
use fivestar::clock::Clock;
use fivestar::infra::db::begin_write;
use fivestar::members::store::{insert_user, NewUser};
use fivestar::orgs::store::insert_org;
use fivestar::points::domain::{LedgerKind, NewEntry};
use fivestar::points::service::post_entry;
use fivestar::shop::domain::{FulfilRequest, ItemFields, RedeemRequest};
use fivestar::shop::{redemptions, store as shop_store};
use fivestar::state::AppState;
use proptest::prelude::*;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use tokio::sync::OnceCell;

use entity::redemptions::RedemptionStatus;
use entity::shop_items::LimitPeriod;
use entity::shop_stock_moves::StockMoveKind;
use entity::{points_ledger, points_summary, redemptions as redemption_rows, shop_items, shop_stock_moves};

static RUNTIME: LazyLock<tokio::runtime::Runtime> =
    LazyLock::new(|| tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap());
static STATE: OnceCell<AppState> = OnceCell::const_new();

async fn state() -> &'static AppState {
    STATE
        .get_or_init(|| async {
            let (settings, _, _wechat) = crate::helpers::test_settings().await;
            fivestar::startup::build_state(settings, Clock::default()).await.unwrap()
        })
        .await
}

#[derive(Debug, Clone)]
enum Op {
    Credit {
        user: usize,
        points: i64,
    },
    Redeem {
        user: usize,
        item: usize,
        quantity: i32,
    },
    Cancel {
        nth: usize,
    },
    Fulfil {
        nth: usize,
    },
    /// Every reservation past its deadline at a moment 15 days on.
    Expire,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..2usize, 1..40i64).prop_map(|(user, points)| Op::Credit { user, points }),
        (0..2usize, 0..2usize, 1..3i32).prop_map(|(user, item, quantity)| Op::Redeem { user, item, quantity }),
        (0..8usize).prop_map(|nth| Op::Cancel { nth }),
        (0..8usize).prop_map(|nth| Op::Fulfil { nth }),
        Just(Op::Expire),
    ]
}

struct World {
    branch_id: i64,
    branch_path: String,
    members: Vec<Caller>,
    keeper: Caller,
    items: Vec<i64>,
    redemptions: Vec<(i64, String, usize)>,
}

async fn world(state: &AppState) -> World {
    let now = state.clock.now();
    let county = insert_org(&state.db, None, "属性县", OrgKind::County, now).await.unwrap();
    let township = insert_org(&state.db, Some(&county), "属性镇", OrgKind::Township, now).await.unwrap();
    let branch = insert_org(&state.db, Some(&township), "属性村", OrgKind::Branch, now).await.unwrap();
    let person = |name: &'static str| async move {
        let new = NewUser { display_name: name, openid: None, username: None, password_hash: None, phone: None };
        insert_user(&state.db, new, now).await.unwrap().id
    };
    let grant = |user_id: i64, role: Role| Caller {
        user_id,
        roles: vec![RoleGrant { role, org_id: Some(branch.id), org_path: Some(branch.path.clone()) }],
    };
    let members = vec![grant(person("甲").await, Role::Resident), grant(person("乙").await, Role::Resident)];
    let keeper = grant(person("店员").await, Role::ShopKeeper);
    let mut items = Vec::new();
    for (cost, stock, limit) in [(10, 5, Some(2)), (25, 3, None)] {
        let fields = ItemFields {
            name: "物品".into(),
            description: String::new(),
            points_cost: cost,
            per_member_limit: limit,
            limit_period: LimitPeriod::All,
            available_from: None,
            available_until: None,
            donor: None,
            media_ids: Vec::new(),
        };
        let item = shop_store::insert_item(&state.db, branch.id, fields, stock, keeper.user_id, now).await.unwrap();
        let line = shop_store::NewMove {
            org_id: branch.id,
            item_id: item.id,
            kind: StockMoveKind::Restock,
            quantity: stock,
            stock_after: stock,
            redemption_id: None,
            user_id: None,
            actor_id: None,
            donor: None,
            note: None,
        };
        shop_store::insert_move(&state.db, line, now).await.unwrap();
        items.push(item.id);
    }
    World { branch_id: branch.id, branch_path: branch.path, members, keeper, items, redemptions: Vec::new() }
}

/// A refusal the shop may answer with; anything else fails the property.
fn expected_refusal(err: &fivestar::error::AppError) -> bool {
    matches!(
        err.code().as_str(),
        "insufficient_points"
            | "out_of_stock"
            | "limit_reached"
            | "item_unavailable"
            | "already_fulfilled"
            | "redemption_closed"
    )
}

async fn step(state: &AppState, w: &mut World, op: &Op, i: usize) -> Result<(), TestCaseError> {
    let now = state.clock.now();
    match *op {
        Op::Credit { user, points } => {
            let entry = NewEntry {
                user_id: w.members[user].user_id,
                branch_id: w.branch_id,
                delta_points: points,
                delta_minutes: 0,
                star: None,
                kind: LedgerKind::Adjust,
                ref_type: "prop",
                ref_id: i.to_string(),
                idempotency_key: format!("shop-prop:{}:{i}", w.members[user].user_id),
                note: None,
                actor_id: None,
            };
            let txn = begin_write(&state.writer).await.unwrap();
            post_entry(&txn, &entry, &w.branch_path, now).await.unwrap();
            txn.commit().await.unwrap();
        }
        Op::Redeem { user, item, quantity } => {
            let key = fivestar::idempotency::IdempotencyKey::parse(&uuid::Uuid::new_v4().to_string()).unwrap();
            let req = RedeemRequest { quantity };
            match redemptions::redeem(state, &w.members[user], w.items[item], req, Some(key)).await {
                Ok(answer) => {
                    let body: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
                    let code = body["code"].as_str().unwrap().to_owned();
                    w.redemptions.push((body["id"].as_i64().unwrap(), code, user));
                }
                Err(err) => prop_assert!(expected_refusal(&err), "redeem: {err:?}"),
            }
        }
        Op::Cancel { nth } if !w.redemptions.is_empty() => {
            let (id, _, user) = w.redemptions[nth % w.redemptions.len()].clone();
            if let Err(err) = redemptions::cancel(state, &w.members[user], id, None).await {
                prop_assert!(expected_refusal(&err), "cancel: {err:?}");
            }
        }
        Op::Fulfil { nth } if !w.redemptions.is_empty() => {
            let (_, code, _) = w.redemptions[nth % w.redemptions.len()].clone();
            if let Err(err) = redemptions::fulfil(state, &w.keeper, w.branch_id, FulfilRequest { code }, None).await {
                prop_assert!(expected_refusal(&err), "fulfil: {err:?}");
            }
        }
        Op::Expire => {
            redemptions::expire_due(state, now + chrono::Duration::days(15)).await.unwrap();
        }
        Op::Cancel { .. } | Op::Fulfil { .. } => {}
    }
    Ok(())
}

async fn truths(state: &AppState, w: &World) -> Result<(), TestCaseError> {
    let db = &state.db;
    let users: Vec<i64> = w.members.iter().map(|m| m.user_id).collect();
    let rows = redemption_rows::Entity::find()
        .filter(redemption_rows::Column::ItemId.is_in(w.items.clone()))
        .all(db)
        .await
        .unwrap();
    let ledger =
        points_ledger::Entity::find().filter(points_ledger::Column::UserId.is_in(users.clone())).all(db).await.unwrap();
    for item in shop_items::Entity::find().filter(shop_items::Column::Id.is_in(w.items.clone())).all(db).await.unwrap()
    {
        prop_assert!(item.stock_left >= 0, "stock below zero");
        let moves = shop_stock_moves::Entity::find()
            .filter(shop_stock_moves::Column::ItemId.eq(item.id))
            .all(db)
            .await
            .unwrap();
        let restocked: i64 = moves.iter().filter(|m| m.kind == StockMoveKind::Restock).map(|m| m.quantity).sum();
        let kept: i64 = rows
            .iter()
            .filter(|r| r.item_id == item.id)
            .filter(|r| matches!(r.status, RedemptionStatus::Reserved | RedemptionStatus::Fulfilled))
            .map(|r| i64::from(r.quantity))
            .sum();
        prop_assert_eq!(restocked - item.stock_left, kept, "stock moved == redeemed − refunded");
        prop_assert_eq!(moves.iter().map(|m| m.quantity).sum::<i64>(), item.stock_left, "the stock ledger adds up");
    }
    for r in &rows {
        let refunds = ledger.iter().filter(|e| e.idempotency_key == format!("refund:{}", r.id)).count();
        let closed = matches!(r.status, RedemptionStatus::Cancelled | RedemptionStatus::Expired);
        prop_assert_eq!(refunds, usize::from(closed), "refunded at most once, and only when given back");
    }
    for user in users {
        let summary = points_summary::Entity::find_by_id(user).one(db).await.unwrap();
        let balance = summary.as_ref().map_or(0, |s| s.balance);
        let earned = summary.as_ref().map_or(0, |s| s.earned_total);
        let mine = ledger.iter().filter(|e| e.user_id == user);
        let sum: i64 = mine.clone().map(|e| e.delta_points).sum();
        let counted: i64 =
            mine.filter(|e| !matches!(e.kind.as_str(), "redeem" | "refund")).map(|e| e.delta_points).sum();
        prop_assert!(balance >= 0, "balance below zero");
        prop_assert_eq!((balance, earned), (sum, counted), "the summary is the sum of the ledger");
    }
    Ok(())
}

async fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let state = state().await;
    let mut w = world(state).await;
    for (i, op) in ops.iter().enumerate() {
        step(state, &mut w, op, i).await?;
        truths(state, &w).await?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn the_shops_truths_hold_after_every_step(ops in prop::collection::vec(op(), 1..25)) {
        RUNTIME.block_on(run(ops))?;
    }
}
