//! The shop under real concurrency: requests fired at once at a real server (and its
//! writer), and two servers' expiry jobs at once. Every race has exactly one winner and
//! leaves the shop's truths standing.
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, Session, TestApp, Tree};

struct Fixture {
    tree: Tree,
    secretary: Session,
    keeper: Session,
}

async fn fixture(app: &TestApp) -> Fixture {
    let admin = app.super_admin().await;
    let tree = app.tree(&admin).await;
    let secretary = app.user_with_role(&admin, "race-sec", tree.branch_a, "secretary").await;
    let keeper = app.user_with_role(&admin, "race-keeper", tree.branch_a, "shop_keeper").await;
    Fixture { tree, secretary, keeper }
}

/// A member of branch A with `points` to spend.
async fn member(app: &TestApp, f: &Fixture, openid: &str, points: i64) -> Session {
    let user = app.user_with_role(&f.secretary, openid, f.tree.branch_a, "resident").await;
    app.credit(&f.secretary, f.tree.branch_a, user.user_id, points).await;
    user
}

fn id(v: &Value) -> i64 {
    v["id"].as_i64().unwrap()
}

fn codes(results: &[(StatusCode, Value, bool)]) -> Vec<String> {
    let mut codes: Vec<String> = results
        .iter()
        .map(|(status, body, _)| match body["code"].as_str() {
            Some(code) if !status.is_success() => code.to_owned(),
            _ => status.as_u16().to_string(),
        })
        .collect();
    codes.sort();
    codes
}

#[tokio::test]
async fn fifty_members_racing_for_ten_units_get_exactly_ten() {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    let members = app.bulk_residents(f.tree.branch_a, 50).await;
    for m in &members {
        app.credit(&f.secretary, f.tree.branch_a, m.user_id, 10).await;
    }
    let item = app.shop_item(&f.secretary, f.tree.branch_a, 7, 10, json!({})).await;
    let results = join_all(members.iter().map(|m| app.redeem(&m.token, id(&item), 1, None))).await;
    let won: Vec<usize> = (0..50).filter(|i| results[*i].0 == StatusCode::CREATED).collect();
    assert_eq!(won.len(), 10, "{:?}", codes(&results));
    for (i, (status, body, _)) in results.iter().enumerate() {
        if !won.contains(&i) {
            assert_eq!((*status, body["code"].as_str()), (StatusCode::CONFLICT, Some("out_of_stock")), "{body}");
        }
    }
    assert_eq!(app.stock_left(&f.secretary, id(&item)).await, 0);
    for (i, m) in members.iter().enumerate() {
        let expected = if won.contains(&i) { 3 } else { 10 };
        assert_eq!(app.balance(m).await, expected, "member {i}: the losers' balances are untouched");
    }
    app.assert_shop_truths().await;
}

#[tokio::test]
async fn ten_redemptions_with_one_key_make_one() {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    let m = member(&app, &f, "race-one-key", 100).await;
    let item = app.shop_item(&f.secretary, f.tree.branch_a, 10, 50, json!({})).await;
    let results = join_all((0..10).map(|_| app.redeem(&m.token, id(&item), 1, Some("one-key-for-all")))).await;
    for (status, body, _) in &results {
        assert_eq!(*status, StatusCode::CREATED, "{body}");
        assert_eq!(body["id"], results[0].1["id"], "every answer is the one redemption");
    }
    assert_eq!(results.iter().filter(|(.., replayed)| !replayed).count(), 1, "one first answer, nine replays");
    assert_eq!(app.balance(&m).await, 90);
    assert_eq!(app.stock_left(&f.secretary, id(&item)).await, 49);
    assert_eq!(app.entries_of_kind(m.user_id, "redeem").await.len(), 1);
    app.assert_shop_truths().await;
}

#[tokio::test]
async fn ten_keys_against_a_limit_of_two_make_two() {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    let m = member(&app, &f, "race-limit", 100).await;
    let item = app
        .shop_item(&f.secretary, f.tree.branch_a, 1, 50, json!({"per_member_limit": 2, "limit_period": "week"}))
        .await;
    let results = join_all((0..10).map(|_| app.redeem(&m.token, id(&item), 1, None))).await;
    let mut expected = vec!["201".to_owned(); 2];
    expected.extend(vec!["limit_reached".to_owned(); 8]);
    expected.sort();
    assert_eq!(codes(&results), expected);
    assert_eq!(app.balance(&m).await, 98);
    assert_eq!(app.stock_left(&f.secretary, id(&item)).await, 48);
    app.assert_shop_truths().await;
}

#[tokio::test]
async fn thirty_points_buy_one_of_three_twenty_point_items_fired_at_once() {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    let m = member(&app, &f, "race-points", 30).await;
    let mut items = Vec::new();
    for name in ["米", "油", "面"] {
        items.push(app.shop_item(&f.secretary, f.tree.branch_a, 20, 5, json!({"name": name})).await);
    }
    let results = join_all(items.iter().map(|item| app.redeem(&m.token, id(item), 1, None))).await;
    let mut expected = vec!["201".to_owned(), "insufficient_points".to_owned(), "insufficient_points".to_owned()];
    expected.sort();
    assert_eq!(codes(&results), expected);
    assert_eq!(app.balance(&m).await, 10);
    let stocks = join_all(items.iter().map(|i| app.stock_left(&f.secretary, id(i)))).await;
    assert_eq!(stocks.iter().sum::<i64>(), 14, "one unit left the shelves: {stocks:?}");
    app.assert_shop_truths().await;
}

#[tokio::test]
async fn cancel_racing_fulfil_has_exactly_one_winner() {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    let m = member(&app, &f, "race-cancel", 1000).await;
    let item = app.shop_item(&f.secretary, f.tree.branch_a, 10, 100, json!({})).await;
    let mut outcomes = std::collections::BTreeMap::new();
    for _ in 0..12 {
        let (_, r, _) = app.redeem(&m.token, id(&item), 1, None).await;
        let code = r["code"].as_str().unwrap().to_owned();
        let (cancel, fulfil) =
            tokio::join!(app.cancel_redemption(&m.token, id(&r)), app.fulfil(&f.keeper.token, f.tree.branch_a, &code));
        let winner = match (cancel.0, fulfil.0) {
            (StatusCode::OK, StatusCode::CONFLICT) => {
                assert_eq!(fulfil.1["code"].as_str(), Some("redemption_closed"), "{}", fulfil.1);
                "cancelled"
            }
            (StatusCode::CONFLICT, StatusCode::OK) => {
                assert_eq!(cancel.1["code"].as_str(), Some("already_fulfilled"), "{}", cancel.1);
                "fulfilled"
            }
            other => panic!("not exactly one winner: {other:?} {} {}", cancel.1, fulfil.1),
        };
        let (_, now) = app.get(&format!("/redemptions/{}", id(&r)), &m.token).await;
        assert_eq!(now["status"].as_str(), Some(winner));
        *outcomes.entry(winner).or_insert(0) += 1;
    }
    let refunds = app.entries_of_kind(m.user_id, "refund").await.len();
    assert_eq!(
        refunds,
        outcomes.get("cancelled").copied().unwrap_or(0),
        "a refund for each cancel that won: {outcomes:?}"
    );
    app.assert_shop_truths().await;
}

#[tokio::test]
async fn expiry_racing_fulfil_has_exactly_one_winner() {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    let m = member(&app, &f, "race-expiry", 1000).await;
    let item = app.shop_item(&f.secretary, f.tree.branch_a, 10, 100, json!({})).await;
    for _ in 0..12 {
        let (_, r, _) = app.redeem(&m.token, id(&item), 1, None).await;
        let code = r["code"].as_str().unwrap().to_owned();
        // Another server whose clock already reads past the pickup deadline runs its expiry
        // pass while the counter (whose clock does not) fulfils.
        let late = app.clock.now() + chrono::Duration::days(15);
        let (expired, fulfil) = tokio::join!(
            fivestar::shop::redemptions::expire_due(&app.state, late),
            app.fulfil(&f.keeper.token, f.tree.branch_a, &code)
        );
        let expired = expired.expect("an expiry pass");
        match (expired, fulfil.0) {
            (1, StatusCode::CONFLICT) => assert_eq!(fulfil.1["code"].as_str(), Some("redemption_closed")),
            (0, StatusCode::OK) => {}
            other => panic!("not exactly one winner: {other:?} {}", fulfil.1),
        }
    }
    app.assert_shop_truths().await;
}

#[tokio::test]
async fn two_servers_expiring_at_once_refund_each_reservation_once() {
    let app = spawn_app().await;
    let sibling = app.spawn_sibling().await;
    let f = fixture(&app).await;
    let m = member(&app, &f, "race-two-servers", 1000).await;
    let item = app.shop_item(&f.secretary, f.tree.branch_a, 10, 100, json!({})).await;
    for _ in 0..30 {
        let (status, body, _) = app.redeem(&m.token, id(&item), 1, None).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    assert_eq!(app.balance(&m).await, 700);
    let late = app.clock.now() + chrono::Duration::days(15);
    let (a, b) = tokio::join!(
        fivestar::shop::redemptions::expire_due(&app.state, late),
        fivestar::shop::redemptions::expire_due(&sibling.state, late)
    );
    assert_eq!(a.unwrap() + b.unwrap(), 30, "each reservation expired by one server");
    assert_eq!(app.entries_of_kind(m.user_id, "refund").await.len(), 30);
    assert_eq!(app.balance(&m).await, 1000);
    assert_eq!(app.stock_left(&f.secretary, id(&item)).await, 100);
    app.assert_shop_truths().await;
}
