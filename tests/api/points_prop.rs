//! Property: whatever sequence of credits, deductions and spending is posted, the
//! summary equals the sum of the ledger and the balance never goes below zero.
use std::sync::LazyLock;

use fivestar::clock::Clock;
use fivestar::infra::db::begin_write;
use fivestar::members::store::{insert_user, NewUser};
use fivestar::points::domain::LedgerKind;
use fivestar::points::domain::NewEntry;
use fivestar::points::service::post_entry;
use fivestar::points::store::summary;
use fivestar::stars::Star;
use fivestar::state::AppState;
use proptest::prelude::*;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use tokio::sync::OnceCell;

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

async fn run(ops: Vec<(i64, bool)>) -> Result<(), TestCaseError> {
    let state = state().await;
    let now = state.clock.now();
    let user = insert_user(
        &state.db,
        NewUser { display_name: "p", openid: None, username: None, password_hash: None, phone: None },
        now,
    )
    .await
    .unwrap();
    let mut model = 0i64;
    for (i, (delta, redeem)) in ops.into_iter().enumerate() {
        let kind = if redeem && delta < 0 { LedgerKind::Redeem } else { LedgerKind::Adjust };
        let entry = NewEntry {
            user_id: user.id,
            branch_id: 1,
            delta_points: delta,
            delta_minutes: delta.max(0),
            star: (delta > 0).then_some(Star::CivilHappy),
            kind,
            ref_type: "prop",
            ref_id: i.to_string(),
            idempotency_key: format!("prop:{}:{i}", user.id),
            note: None,
            actor_id: None,
        };
        let txn = begin_write(&state.writer).await.unwrap();
        match post_entry(&txn, &entry, "/1/", now).await {
            Ok(_) => {
                txn.commit().await.unwrap();
                model += delta;
            }
            Err(err) => {
                prop_assert_eq!(err.code().as_str(), "insufficient_points");
                prop_assert!(model + delta < 0, "refused although affordable");
            }
        }
        prop_assert!(model >= 0);
    }
    let entries = entity::points_ledger::Entity::find()
        .filter(entity::points_ledger::Column::UserId.eq(user.id))
        .all(&state.db)
        .await
        .unwrap();
    let sum: i64 = entries.iter().map(|e| e.delta_points).sum();
    let earned: i64 = entries.iter().filter(|e| e.kind != "redeem").map(|e| e.delta_points).sum();
    let minutes: i64 = entries.iter().map(|e| e.delta_minutes).sum();
    let summary = summary(&state.db, user.id).await.unwrap();
    let (balance, earned_total, minutes_total, civil) =
        summary.map_or((0, 0, 0, 0), |s| (s.balance, s.earned_total, s.volunteer_minutes_total, s.civil_happy));
    prop_assert_eq!(balance, sum);
    prop_assert_eq!(balance, model);
    prop_assert_eq!(earned_total, earned);
    prop_assert_eq!(minutes_total, minutes);
    let civil_sum: i64 =
        entries.iter().filter(|e| e.star.as_deref() == Some("civil_happy")).map(|e| e.delta_points).sum();
    prop_assert_eq!(civil, civil_sum);
    prop_assert!(balance >= 0);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn the_summary_is_the_sum_of_the_ledger_and_never_negative(
        ops in prop::collection::vec((-60i64..60, any::<bool>()), 1..30)
    ) {
        RUNTIME.block_on(run(ops))?;
    }
}
