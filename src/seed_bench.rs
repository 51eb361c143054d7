//! `fivestar seed-bench`: a county-sized data set, fast (multi-row inserts), for `make
//! bench`: 20 townships × 30 branches, N members with a resident role each, M ledger
//! entries spread over the last two years with summaries that equal their sums, and a
//! file of access tokens for the load generator. Only into an empty database.
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use rand::{Rng, SeedableRng};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait, TransactionTrait};

use entity::{card_claims, incidents, points_ledger, points_summary, user_roles, users};

use crate::access::{OrgKind, Role};
use crate::orgs::store as orgs;
use crate::points::domain::LedgerKind;
use entity::card_claims::ClaimStatus;

use crate::points::domain::NewEntry;
use crate::points::store::ledger_row;
use crate::shop::{self, domain::ItemFields};
use crate::stars::Star;
use crate::state::AppState;
use crate::tasks::domain::TaskSpec;
use crate::tasks::store as tasks;
use entity::shop_items::LimitPeriod;
use entity::shop_stock_moves::StockMoveKind;

pub struct BenchSpec {
    pub townships: usize,
    pub branches_per_township: usize,
    pub members: usize,
    pub ledger_entries: usize,
    pub token_count: usize,
}

pub struct BenchReport {
    pub county_id: i64,
    pub branch_ids: Vec<i64>,
    pub first_user_id: i64,
    pub seconds: f64,
}

const CHUNK: usize = 1000;

#[derive(Default, Clone, Copy)]
struct Sums {
    points: i64,
    minutes: i64,
    stars: [i64; 5],
}

pub async fn seed(state: &AppState, spec: &BenchSpec, tokens: &Path) -> anyhow::Result<BenchReport> {
    let started = Instant::now();
    if orgs::count_orgs(&state.db).await? > 0 {
        anyhow::bail!("seed-bench only seeds an empty database");
    }
    let now = state.clock.now();
    let mut rng = rand::rngs::StdRng::seed_from_u64(2026);
    let txn = state.db.begin().await?;
    let county = orgs::insert_org(&txn, None, "基准县", OrgKind::County, now).await?;
    let mut branches = Vec::new();
    for t in 0..spec.townships {
        let township = orgs::insert_org(&txn, Some(&county), &format!("乡镇{t}"), OrgKind::Township, now).await?;
        for b in 0..spec.branches_per_township {
            branches
                .push(orgs::insert_org(&txn, Some(&township), &format!("支部{t}-{b}"), OrgKind::Branch, now).await?);
        }
    }
    txn.commit().await?;
    let branch_ids: Vec<i64> = branches.iter().map(|b| b.id).collect();

    // Members, each with a home branch and a resident role there.
    let mut user_ids = Vec::with_capacity(spec.members);
    let mut home = HashMap::with_capacity(spec.members);
    let first_user_id = {
        let txn = state.db.begin().await?;
        for chunk_start in (0..spec.members).step_by(CHUNK) {
            let rows: Vec<users::ActiveModel> = (chunk_start..(chunk_start + CHUNK).min(spec.members))
                .map(|i| users::ActiveModel {
                    display_name: Set(format!("成员{i}")),
                    phone: Set(None),
                    openid: Set(Some(format!("bench-{i}"))),
                    username: Set(None),
                    password_hash: Set(None),
                    home_branch_id: Set(Some(branch_ids[i % branch_ids.len()])),
                    created_at: Set(now),
                    updated_at: Set(now),
                    ..Default::default()
                })
                .collect();
            users::Entity::insert_many(rows).exec_without_returning(&txn).await?;
        }
        txn.commit().await?;
        let first = crate::members::store::find_by_openid(&state.db, "bench-0")
            .await?
            .ok_or_else(|| anyhow::anyhow!("seeded users missing"))?
            .id;
        let txn = state.db.begin().await?;
        for chunk_start in (0..spec.members).step_by(CHUNK) {
            let rows: Vec<user_roles::ActiveModel> = (chunk_start..(chunk_start + CHUNK).min(spec.members))
                .map(|i| {
                    let id = first + i as i64;
                    user_ids.push(id);
                    home.insert(id, branch_ids[i % branch_ids.len()]);
                    user_roles::ActiveModel {
                        user_id: Set(id),
                        org_id: Set(Some(branch_ids[i % branch_ids.len()])),
                        role: Set(Role::Resident.as_str().to_owned()),
                        granted_by: Set(None),
                        created_at: Set(now),
                        ..Default::default()
                    }
                })
                .collect();
            user_roles::Entity::insert_many(rows).exec_without_returning(&txn).await?;
        }
        txn.commit().await?;
        first
    };

    // Ledger entries over the last two years, with the summaries they add up to.
    let mut sums: HashMap<i64, Sums> = HashMap::with_capacity(spec.members);
    let span_secs = Duration::days(730).num_seconds();
    for batch_start in (0..spec.ledger_entries).step_by(CHUNK * 20) {
        let txn = state.db.begin().await?;
        let batch_end = (batch_start + CHUNK * 20).min(spec.ledger_entries);
        for chunk_start in (batch_start..batch_end).step_by(CHUNK) {
            let rows: Vec<points_ledger::ActiveModel> = (chunk_start..(chunk_start + CHUNK).min(batch_end))
                .map(|i| {
                    let user = user_ids[rng.random_range(0..user_ids.len())];
                    let at = now - Duration::seconds(rng.random_range(0..span_secs));
                    let star = Star::ALL[rng.random_range(0..5)];
                    let volunteer = rng.random_bool(0.3);
                    let minutes = if volunteer { rng.random_range(30..180) } else { 0 };
                    let points = if volunteer { (minutes * 10 + 30) / 60 } else { rng.random_range(1..20) };
                    let s = sums.entry(user).or_default();
                    s.points += points;
                    s.minutes += minutes;
                    s.stars[Star::ALL.iter().position(|x| *x == star).unwrap_or(0)] += points;
                    let entry = NewEntry {
                        user_id: user,
                        branch_id: home[&user],
                        delta_points: points,
                        delta_minutes: minutes,
                        star: Some(star),
                        kind: if volunteer { LedgerKind::Volunteer } else { LedgerKind::Task },
                        ref_type: "bench",
                        ref_id: i.to_string(),
                        idempotency_key: format!("bench:{i}"),
                        note: None,
                        actor_id: None,
                    };
                    ledger_row(&entry, at)
                })
                .collect();
            points_ledger::Entity::insert_many(rows).exec_without_returning(&txn).await?;
        }
        txn.commit().await?;
    }
    let txn = state.db.begin().await?;
    let all: Vec<(i64, Sums)> = sums.into_iter().collect();
    for chunk in all.chunks(CHUNK) {
        let rows: Vec<points_summary::ActiveModel> = chunk
            .iter()
            .map(|(user, s)| points_summary::ActiveModel {
                user_id: Set(*user),
                balance: Set(s.points),
                earned_total: Set(s.points),
                volunteer_minutes_total: Set(s.minutes),
                strong_branch: Set(s.stars[0]),
                thriving_industry: Set(s.stars[1]),
                eco_livable: Set(s.stars[2]),
                safe_lawful: Set(s.stars[3]),
                civil_happy: Set(s.stars[4]),
                updated_at: Set(now),
            })
            .collect();
        points_summary::Entity::insert_many(rows).exec_without_returning(&txn).await?;
    }
    txn.commit().await?;

    let mut file = std::io::BufWriter::new(std::fs::File::create(tokens)?);
    for i in 0..spec.token_count.min(user_ids.len()) {
        let user = user_ids[(i * 7919) % user_ids.len()];
        writeln!(file, "{}", state.jwt.issue(user, None, now)?)?;
    }
    file.flush()?;
    Ok(BenchReport { county_id: county.id, branch_ids, first_user_id, seconds: started.elapsed().as_secs_f64() })
}

/// Cards and incidents for the draw, review and filing benchmarks.
pub struct WorkSpec {
    /// Open cards in the first branch's pool (its card limit is lifted for the benchmark).
    pub open_cards: usize,
    /// Submitted cards in the second branch, waiting for review.
    pub submitted_cards: usize,
    /// Incidents already on the ledger of a grid in the first branch.
    pub incidents: usize,
    pub grid_workers: usize,
}

pub struct WorkReport {
    pub draw_branch: i64,
    /// The draw branch's shop items: one with stock to spare, one with 100 units (the race).
    pub shop_ample: i64,
    pub shop_race: i64,
    pub review_branch: i64,
    pub grid_id: i64,
    pub seconds: f64,
}

/// Seed the card, incident, shop and star workloads; writes `draw_tokens.txt` (members of the
/// draw branch), `secretary_token.txt`, `county_token.txt` (a county admin), `review_cards.txt`
/// and `grid_tokens.txt` into `dir`.
pub async fn seed_work(
    state: &AppState,
    spec: &WorkSpec,
    base: &BenchReport,
    members: usize,
    dir: &Path,
) -> anyhow::Result<WorkReport> {
    let started = Instant::now();
    let now = state.clock.now();
    let mut rng = rand::rngs::StdRng::seed_from_u64(2027);
    let (draw_branch, review_branch) = (base.branch_ids[0], base.branch_ids[1]);
    let branches = base.branch_ids.len();
    let members_of = |branch_index: usize| -> Vec<i64> {
        (branch_index..members).step_by(branches).map(|i| base.first_user_id + i as i64).collect()
    };

    let txn = state.db.begin().await?;
    orgs::update_settings(
        &txn,
        draw_branch,
        10,
        1_000_000,
        orgs::DEFAULT_PICKUP_SECONDS,
        orgs::DEFAULT_PUBLICITY_SECONDS,
    )
    .await?;
    let task_spec = |title: &str, copies: usize| TaskSpec {
        title: title.to_owned(),
        description: String::new(),
        star: Star::CivilHappy,
        points: 2,
        volunteer_minutes: 10,
        copies: copies as i32,
        claim_ttl_minutes: 240,
        requires_photo: false,
        expires_at: None,
    };
    let draw_task = tasks::insert_task(&txn, draw_branch, &task_spec("基准抽卡", spec.open_cards), 0, now).await?;
    tasks::insert_cards(&txn, &draw_task, draw_task.copies, now).await?;
    let review_task =
        tasks::insert_task(&txn, review_branch, &task_spec("基准审核", spec.submitted_cards), 0, now).await?;
    let review_cards = tasks::insert_cards(&txn, &review_task, review_task.copies, now).await?;
    let holders = members_of(1);
    for chunk in review_cards.chunks(CHUNK) {
        let rows: Vec<card_claims::ActiveModel> = chunk
            .iter()
            .enumerate()
            .map(|(i, card)| {
                let card = (*card, review_task.id, review_branch);
                let holder = holders[i % holders.len()];
                tasks::claim_row(card, holder, ClaimStatus::Submitted, now, now + Duration::hours(4))
            })
            .collect();
        card_claims::Entity::insert_many(rows).exec_without_returning(&txn).await?;
    }
    txn.execute_unprepared(&format!(
        "UPDATE cards SET status = 'submitted', \
         holder_id = (SELECT user_id FROM card_claims WHERE card_claims.card_id = cards.id), \
         claim_id = (SELECT id FROM card_claims WHERE card_claims.card_id = cards.id) \
         WHERE task_id = {}",
        review_task.id
    ))
    .await?;
    let secretary = staff_user(&txn, "bench-secretary", Role::Secretary, review_branch, now).await?;
    let county_admin = staff_user(&txn, "bench-county", Role::CountyAdmin, base.county_id, now).await?;
    let year = crate::stars::indicators::year_of(now);
    crate::stars::indicators::insert_defaults(&txn, base.county_id, year, None, now).await?;
    let draw_parent = crate::access::find_org(&txn, draw_branch)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the draw branch is missing"))?;
    let grid = orgs::insert_org(&txn, Some(&draw_parent), "基准网格", OrgKind::Grid, now).await?;
    let mut workers = Vec::new();
    for i in 0..spec.grid_workers.max(1) {
        workers.push(staff_user(&txn, &format!("bench-grid-{i}"), Role::GridWorker, grid.id, now).await?);
    }
    txn.commit().await?;

    let categories = ["event", "dispute", "hazard", "environment", "other"];
    use entity::incidents::IncidentStatus as S;
    let statuses = [S::Reported, S::Accepted, S::InProgress, S::Resolved, S::Closed, S::Closed, S::Closed];
    let span_secs = Duration::days(730).num_seconds();
    for batch in (0..spec.incidents).step_by(CHUNK * 20) {
        let txn = state.db.begin().await?;
        let end = (batch + CHUNK * 20).min(spec.incidents);
        for chunk in (batch..end).step_by(CHUNK) {
            let rows: Vec<incidents::ActiveModel> = (chunk..(chunk + CHUNK).min(end))
                .map(|_| {
                    let at = now - Duration::seconds(rng.random_range(0..span_secs));
                    let status = statuses[rng.random_range(0..statuses.len())];
                    incidents::ActiveModel {
                        grid_id: Set(grid.id),
                        grid_path: Set(grid.path.clone()),
                        owner_org_id: Set(draw_branch),
                        owner_path: Set(draw_parent.path.clone()),
                        category: Set(categories[rng.random_range(0..categories.len())].to_owned()),
                        title: Set("基准事件".to_owned()),
                        description: Set("基准数据".to_owned()),
                        severity: Set("low".to_owned()),
                        lat: Set(30.0 + rng.random_range(0.0..0.5)),
                        lng: Set(120.0 + rng.random_range(0.0..0.7)),
                        address: Set(None),
                        occurred_at: Set(at),
                        media_ids: Set(serde_json::json!([])),
                        star: Set(None),
                        status: Set(status),
                        reporter_id: Set(workers[rng.random_range(0..workers.len())]),
                        assignee_id: Set(None),
                        created_at: Set(at),
                        updated_at: Set(at),
                        closed_at: Set((status == S::Closed).then_some(at + Duration::hours(rng.random_range(1..200)))),
                        // Low severity: five working days, about a week. Their passing was
                        // acted on long ago (`watch_at` empty), as it would have been.
                        due_at: Set(Some(at + Duration::days(7))),
                        warn_at: Set(Some(at + Duration::hours(7 * 18))),
                        watch_at: Set(None),
                        extended: Set(false),
                        ..Default::default()
                    }
                })
                .collect();
            incidents::Entity::insert_many(rows).exec_without_returning(&txn).await?;
        }
        txn.commit().await?;
    }

    let write = |name: &str, lines: &mut dyn Iterator<Item = String>| -> anyhow::Result<()> {
        let mut file = std::io::BufWriter::new(std::fs::File::create(dir.join(name))?);
        for line in lines {
            writeln!(file, "{line}")?;
        }
        file.flush()?;
        Ok(())
    };
    let drawers = members_of(0);
    let (shop_ample, shop_race) = seed_shop(state, draw_branch, &drawers, now).await?;
    let jwt = &state.jwt;
    write("draw_tokens.txt", &mut drawers.iter().filter_map(|u| jwt.issue(*u, None, now).ok()))?;
    write("secretary_token.txt", &mut std::iter::once(jwt.issue(secretary, None, now)?))?;
    write("county_token.txt", &mut std::iter::once(jwt.issue(county_admin, None, now)?))?;
    write("review_cards.txt", &mut review_cards.iter().map(i64::to_string))?;
    write("grid_tokens.txt", &mut workers.iter().filter_map(|u| jwt.issue(*u, None, now).ok()))?;
    Ok(WorkReport {
        draw_branch,
        review_branch,
        shop_ample,
        shop_race,
        grid_id: grid.id,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Points each drawer gets to spend at the bench shop, enough for every redemption a load
/// can make (an `adjust` entry each, its summary moved with it).
const SHOP_POINTS: i64 = 1_000_000;

/// The draw branch's shop: an item with stock to spare and one of 100 units, 1 point each,
/// no limit; and points for the drawers to spend there. Returns the two items' ids.
async fn seed_shop(state: &AppState, branch: i64, drawers: &[i64], now: DateTime<Utc>) -> anyhow::Result<(i64, i64)> {
    let txn = state.db.begin().await?;
    let mut ids = Vec::new();
    for (name, stock) in [("基准物品", 100_000_000), ("限量100件", 100)] {
        let fields = ItemFields {
            name: name.to_owned(),
            description: String::new(),
            points_cost: 1,
            per_member_limit: None,
            limit_period: LimitPeriod::All,
            available_from: None,
            available_until: None,
            donor: Some("基准捐赠方".to_owned()),
            media_ids: Vec::new(),
        };
        let item = shop::store::insert_item(&txn, branch, fields, stock, 0, now).await?;
        let line = shop::store::NewMove {
            org_id: branch,
            item_id: item.id,
            kind: StockMoveKind::Restock,
            quantity: stock,
            stock_after: stock,
            redemption_id: None,
            user_id: None,
            actor_id: None,
            donor: Some("基准捐赠方"),
            note: None,
        };
        shop::store::insert_move(&txn, line, now).await?;
        ids.push(item.id);
    }
    for user in drawers {
        let entry = NewEntry {
            user_id: *user,
            branch_id: branch,
            delta_points: SHOP_POINTS,
            delta_minutes: 0,
            star: None,
            kind: LedgerKind::Adjust,
            ref_type: "bench",
            ref_id: "shop".to_owned(),
            idempotency_key: format!("bench-shop:{user}"),
            note: None,
            actor_id: None,
        };
        // A few hundred members: one by one, through the ledger's own statements.
        crate::points::store::insert_entry(&txn, &entry, now).await?;
        crate::points::store::apply_to_summary(&txn, &entry, now).await?;
    }
    txn.commit().await?;
    Ok((ids[0], ids[1]))
}

async fn staff_user<C: sea_orm::ConnectionTrait>(
    txn: &C,
    name: &str,
    role: Role,
    org_id: i64,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<i64> {
    let user = crate::members::store::insert_user(
        txn,
        crate::members::store::NewUser {
            display_name: name,
            openid: Some(name),
            username: None,
            password_hash: None,
            phone: None,
        },
        now,
    )
    .await?;
    orgs::insert_role(txn, user.id, Some(org_id), role, None, now).await?;
    Ok(user.id)
}
