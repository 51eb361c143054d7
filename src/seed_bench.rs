//! `fivestar seed-bench`: a county-sized data set, fast (multi-row inserts), for `make
//! bench`: 20 townships × 30 branches, N members with a resident role each, M ledger
//! entries spread over the last two years with summaries that equal their sums, and a
//! file of access tokens for the load generator. Only into an empty database.
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

use chrono::Duration;
use rand::{Rng, SeedableRng};
use sea_orm::{ActiveValue::Set, EntityTrait, TransactionTrait};

use entity::{points_ledger, points_summary, user_roles, users};

use crate::orgs::domain::{OrgKind, Role};
use crate::orgs::store as orgs;
use crate::points::domain::LedgerKind;
use crate::points::store::{ledger_row, NewEntry};
use crate::stars::Star;
use crate::state::AppState;

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
        writeln!(file, "{}", state.jwt.issue(user, now)?)?;
    }
    file.flush()?;
    Ok(BenchReport { county_id: county.id, branch_ids, first_user_id, seconds: started.elapsed().as_secs_f64() })
}
