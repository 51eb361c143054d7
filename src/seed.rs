//! `fivestar seed-demo`: a small demo county to click through. Idempotent: a second run
//! only prints the logins again.
use std::fmt;

use sea_orm::TransactionTrait;

use crate::access::{OrgKind, Role};
use crate::auth::service::hash_password;
use crate::incidents::domain::{Action, Category, IncidentSpec, Severity, Status};
use crate::incidents::store::{self as incidents, MoveExtras, NewEvent};
use crate::media::service as media;
use crate::members::store::{self as users, NewUser};
use crate::orgs::store as orgs;
use crate::points::boards::BoardUpdate;
use crate::points::domain::{LedgerKind, NewEntry};
use crate::points::service::post_entry;
use crate::shop::{self, domain::ItemFields};
use crate::stars::Star;
use crate::state::AppState;
use crate::tasks::domain::TaskSpec;
use crate::tasks::store as tasks;
use entity::shop_items::LimitPeriod;
use entity::shop_stock_moves::StockMoveKind;

pub const DEMO_PASSWORD: &str = "fivestar-demo";

#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Created,
    AlreadyPresent,
    /// The database holds other data: a demo does not belong there.
    Skipped,
}

pub struct DemoReport {
    pub outcome: Outcome,
    pub logins: Vec<(&'static str, &'static str)>,
}

impl fmt::Display for DemoReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.outcome {
            Outcome::Created => writeln!(
                f,
                "demo county created: 示范县 (2 townships, 5 branches, 8 grids, 3 tasks with 25 cards in 4 branches, 4 incidents with photos, a branch shop and a township shop, this year's star indicators and an application in each state)"
            )?,
            Outcome::AlreadyPresent => writeln!(f, "demo county already present")?,
            Outcome::Skipped => return writeln!(f, "the database already holds orgs; no demo data added"),
        }
        writeln!(
            f,
            "log in with POST /api/v1/auth/password {{\"username\", \"password\"}}; password for all: {DEMO_PASSWORD}"
        )?;
        for (username, what) in &self.logins {
            writeln!(f, "  {username:<16} {what}")?;
        }
        Ok(())
    }
}

const LOGINS: [(&str, &str); 8] = [
    ("demo-admin", "super_admin"),
    ("county-admin", "county_admin of 示范县"),
    ("township-admin", "township_admin of 城关镇"),
    ("secretary", "secretary of 东街社区党支部"),
    ("grid-worker", "grid_worker of 东街社区 第一网格"),
    ("resident", "resident of 东街社区党支部"),
    ("party-member", "party_member of 东街社区党支部"),
    ("shop-keeper", "shop_keeper of 东街社区党支部 (the shop's counter)"),
];

type DemoTask = (&'static str, &'static str, Star, i32, i32, i32, bool);

const DEMO_TASKS: [DemoTask; 3] = [
    ("反诈宣传进家门", "为 3 户邻居讲解防范电信诈骗知识，合影留念", Star::SafeLawful, 5, 30, 10, true),
    ("楼道清洁", "清理所在楼栋楼道的杂物和小广告", Star::EcoLivable, 3, 60, 10, true),
    ("关爱独居老人", "上门看望一位独居老人，记录其需求", Star::CivilHappy, 8, 60, 5, false),
];

pub async fn demo(state: &AppState) -> anyhow::Result<DemoReport> {
    let logins = LOGINS.to_vec();
    if users::find_by_username(&state.db, "demo-admin").await?.is_some() {
        return Ok(DemoReport { outcome: Outcome::AlreadyPresent, logins });
    }
    if orgs::count_orgs(&state.db).await? > 0 {
        return Ok(DemoReport { outcome: Outcome::Skipped, logins });
    }
    let now = state.clock.now();
    let hash = hash_password(DEMO_PASSWORD)?;
    let txn = state.db.begin().await?;
    let county = orgs::insert_org(&txn, None, "示范县", OrgKind::County, now).await?;
    let mut townships = Vec::new();
    let mut branches = Vec::new();
    let mut grids = Vec::new();
    for (township_name, branch_names) in
        [("城关镇", ["东街社区党支部", "西街社区党支部"]), ("河东乡", ["李庄村党支部", "王庄村党支部"])]
    {
        let township = orgs::insert_org(&txn, Some(&county), township_name, OrgKind::Township, now).await?;
        for branch_name in branch_names {
            let branch = orgs::insert_org(&txn, Some(&township), branch_name, OrgKind::Branch, now).await?;
            for grid_name in ["第一网格", "第二网格"] {
                grids.push(orgs::insert_org(&txn, Some(&branch), grid_name, OrgKind::Grid, now).await?);
            }
            branches.push(branch);
        }
        townships.push(township);
    }
    // A fifth branch, with no tasks or grids: one more application for the stars.
    let zhao = orgs::insert_org(&txn, Some(&townships[1]), "赵庄村党支部", OrgKind::Branch, now).await?;
    let township = &townships[0];
    let east = &branches[0];
    let grants: [(&str, &str, Role, i64, Option<&str>); 8] = [
        ("demo-admin", "演示管理员", Role::SuperAdmin, 0, None),
        ("county-admin", "县委组织部", Role::CountyAdmin, county.id, None),
        ("township-admin", "城关镇党委", Role::TownshipAdmin, township.id, None),
        ("secretary", "王书记", Role::Secretary, east.id, Some("13800000001")),
        ("grid-worker", "李网格员", Role::GridWorker, grids[0].id, Some("13800000002")),
        ("resident", "张居民", Role::Resident, east.id, Some("13800000003")),
        ("party-member", "赵党员", Role::PartyMember, east.id, Some("13800000004")),
        ("shop-keeper", "孙店员", Role::ShopKeeper, east.id, None),
    ];
    for (username, name, role, org_id, phone) in grants {
        let user = users::insert_user(
            &txn,
            NewUser {
                display_name: name,
                openid: None,
                username: Some(username),
                password_hash: Some(hash.clone()),
                phone: phone.map(str::to_owned),
            },
            now,
        )
        .await?;
        let org = (role != Role::SuperAdmin).then_some(org_id);
        orgs::insert_role(&txn, user.id, org, role, None, now).await?;
        if role.is_membership() || role == Role::Secretary || role == Role::GridWorker {
            orgs::set_home_branch(&txn, user.id, Some(east.id), now).await?;
        }
    }
    let secretary = users::find_by_username(&txn, "secretary").await?.map_or(0, |u| u.id);
    for branch in &branches {
        for (title, description, star, points, minutes, copies, requires_photo) in DEMO_TASKS {
            let spec = TaskSpec {
                title: title.to_owned(),
                description: description.to_owned(),
                star,
                points,
                volunteer_minutes: minutes,
                copies,
                claim_ttl_minutes: 120,
                requires_photo,
                expires_at: None,
            };
            let task = tasks::insert_task(&txn, branch.id, &spec, secretary, now).await?;
            tasks::insert_cards(&txn, &task, task.copies, now).await?;
        }
    }
    let credits = demo_shops(&txn, township, east, secretary, now).await?;
    txn.commit().await?;
    crate::points::service::publish(state, &credits).await;
    state.pending.flush().await;
    crate::tasks::sweeper::rebuild_pools(state, None).await?;
    let worker = users::find_by_username(&state.db, "grid-worker").await?.map_or(0, |u| u.id);
    demo_incidents(state, &grids[..2], east, worker, secretary).await?;
    let branch_ids = [branches[0].id, branches[1].id, branches[2].id, branches[3].id, zhao.id];
    demo_stars(state, county.id, branch_ids).await?;
    Ok(DemoReport { outcome: Outcome::Created, logins })
}

type DemoItem = (&'static str, &'static str, i64, i64, Option<i32>, LimitPeriod, &'static str);

/// What the demo shops stock: (name, description, cost, stock, limit, period, donor).
const DEMO_ITEMS: [(bool, DemoItem); 5] = [
    (false, ("洗衣皂", "雕牌洗衣皂一块", 10, 50, Some(2), LimitPeriod::Month, "县供销社")),
    (false, ("大米 5 kg", "本地粳米一袋", 80, 10, Some(1), LimitPeriod::Month, "帮扶单位：县农业农村局")),
    (false, ("理发券", "东街理发店理发一次", 20, 30, None, LimitPeriod::All, "东街理发店")),
    (true, ("食用油 5 L", "压榨花生油一桶", 60, 20, Some(1), LimitPeriod::Month, "城关镇商会")),
    (true, ("保温杯", "不锈钢保温杯一个", 40, 15, Some(1), LimitPeriod::Year, "县总工会")),
];

/// The east branch's shop and the township's, stocked with a few items (each first stock a
/// line of the shop's ledger), and points for the demo members to spend there. Returns
/// the board updates the credits owe.
async fn demo_shops<C: sea_orm::ConnectionTrait>(
    txn: &C,
    township: &entity::orgs::Model,
    east: &entity::orgs::Model,
    secretary: i64,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<Vec<BoardUpdate>> {
    for (at_township, (name, description, cost, stock, limit, period, donor)) in DEMO_ITEMS {
        let org = if at_township { township } else { east };
        let fields = ItemFields {
            name: name.to_owned(),
            description: description.to_owned(),
            points_cost: cost,
            per_member_limit: limit,
            limit_period: period,
            available_from: None,
            available_until: None,
            donor: Some(donor.to_owned()),
            media_ids: Vec::new(),
        };
        let item = shop::store::insert_item(txn, org.id, fields, stock, secretary, now).await?;
        let line = shop::store::NewMove {
            org_id: org.id,
            item_id: item.id,
            kind: StockMoveKind::Restock,
            quantity: stock,
            stock_after: stock,
            redemption_id: None,
            user_id: None,
            actor_id: Some(secretary),
            donor: Some(donor),
            note: Some("上架"),
        };
        shop::store::insert_move(txn, line, now).await?;
    }
    let mut credits = Vec::new();
    for (username, points) in [("resident", 120), ("party-member", 60)] {
        let Some(user) = users::find_by_username(txn, username).await? else { continue };
        let entry = NewEntry {
            user_id: user.id,
            branch_id: east.id,
            delta_points: points,
            delta_minutes: 0,
            star: None,
            kind: LedgerKind::Adjust,
            ref_type: "adjust",
            ref_id: "demo".to_owned(),
            idempotency_key: format!("demo:{}", user.id),
            note: Some("演示：初始积分".to_owned()),
            actor_id: Some(secretary),
        };
        credits.extend(post_entry(txn, &entry, &east.path, now).await?);
    }
    Ok(credits)
}

/// The five stars in the demo: this year's indicators (the built-in set), and an application
/// in each state: 东街 awarded three stars (the rated branch) with evidence, 西街 publicized
/// after a first application was rejected, 李庄 passed by the township, 王庄 returned for
/// revision, 赵庄 just submitted.
async fn demo_stars(state: &AppState, county: i64, branches: [i64; 5]) -> anyhow::Result<()> {
    use crate::stars::applications::{self as apps, NewEvidence};
    use crate::stars::indicators::{self, DefaultsRequest};
    let admin = demo_caller(state, "demo-admin").await?;
    let county_admin = demo_caller(state, "county-admin").await?;
    let township_admin = demo_caller(state, "township-admin").await?;
    let secretary = demo_caller(state, "secretary").await?;
    let year = indicators::year_of(state.clock.now());
    indicators::copy_defaults(state, &county_admin, county, DefaultsRequest { year }).await?;
    let [east, west, li, wang, zhao] = branches;

    let stars = ["strong_branch", "safe_lawful", "civil_happy"];
    let rated =
        demo_apply(state, &secretary, east, year, &stars, "东街社区全年组织志愿服务、调解纠纷，申报三星").await?;
    let evidence =
        NewEvidence {
            indicator_code: "SB3".into(), note: "全年“三会一课”记录 12 次".into(), media_ids: Vec::new()
        };
    apps::add_evidence(state, &secretary, rated, evidence).await?;
    demo_review(state, &township_admin, rated, "pass", Some("材料齐全，同意上报")).await?;
    demo_review(state, &county_admin, rated, "pass", Some("经审核，同意公示")).await?;
    let publicity = crate::access::org(state, county).await?.publicity_seconds;
    apps::award_due(state, state.clock.now() + chrono::Duration::seconds(publicity + 1)).await?;

    let first = demo_apply(state, &admin, west, year, &["thriving_industry"], "西街社区申报产业兴旺星").await?;
    demo_review(state, &township_admin, first, "reject", Some("集体经济收入台账不全")).await?;
    let second =
        demo_apply(state, &admin, west, year, &["eco_livable", "civil_happy"], "西街社区申报生态宜居、文明幸福两星")
            .await?;
    demo_review(state, &township_admin, second, "pass", None).await?;
    demo_review(state, &county_admin, second, "pass", None).await?;

    let passed = demo_apply(state, &admin, li, year, &["safe_lawful"], "李庄村申报平安法治星").await?;
    demo_review(state, &county_admin, passed, "pass", Some("乡镇初审通过")).await?;
    let returned = demo_apply(state, &admin, wang, year, &["eco_livable"], "王庄村申报生态宜居星").await?;
    demo_review(state, &county_admin, returned, "return", Some("请补充人居环境整治照片")).await?;
    demo_apply(state, &admin, zhao, year, &["strong_branch"], "赵庄村申报支部过硬星").await?;
    Ok(())
}

async fn demo_caller(state: &AppState, username: &str) -> anyhow::Result<crate::access::Caller> {
    let user = users::find_by_username(&state.db, username).await?.ok_or_else(|| anyhow::anyhow!("no {username}"))?;
    crate::access::load_caller(&state.db, user.id).await?.ok_or_else(|| anyhow::anyhow!("no roles for {username}"))
}

async fn demo_apply(
    state: &AppState,
    who: &crate::access::Caller,
    branch: i64,
    year: i32,
    stars: &[&str],
    statement: &str,
) -> anyhow::Result<i64> {
    let req = crate::stars::applications::NewApplication {
        year,
        stars: stars.iter().map(|s| (*s).to_owned()).collect(),
        statement: statement.to_owned(),
    };
    let answer = crate::stars::applications::apply(state, who, branch, req, None).await?;
    let body: serde_json::Value = serde_json::from_str(&answer.body)?;
    body["id"].as_i64().ok_or_else(|| anyhow::anyhow!("an application without an id"))
}

async fn demo_review(
    state: &AppState,
    who: &crate::access::Caller,
    id: i64,
    decision: &str,
    comment: Option<&str>,
) -> anyhow::Result<()> {
    let req = crate::stars::applications::StarReview {
        decision: decision.to_owned(),
        stars: None,
        comment: comment.map(str::to_owned),
    };
    crate::stars::applications::review(state, who, id, req).await?;
    Ok(())
}

/// A demo photo: a gradient in one of a few colours, so each report shows its own.
fn demo_photo(seed: u8) -> anyhow::Result<Vec<u8>> {
    let img = image::RgbImage::from_fn(640, 480, |x, y| {
        image::Rgb([(x / 3) as u8 ^ seed.wrapping_mul(40), (y / 2) as u8, seed.wrapping_mul(70).wrapping_add(60)])
    });
    let mut bytes = std::io::Cursor::new(Vec::new());
    img.write_to(&mut bytes, image::ImageFormat::Png)?;
    Ok(bytes.into_inner())
}

type DemoIncident = (usize, Category, Severity, &'static str, &'static str, f64, f64, &'static [(Action, Status)]);

/// Reports on the east branch's grids, each with a photo, in different places on the
/// workflow, so the demo has a ledger (台账) to look at and export.
const DEMO_INCIDENTS: [DemoIncident; 4] = [
    (
        0,
        Category::Hazard,
        Severity::High,
        "东街路口井盖缺失",
        "东街与北路交叉口的井盖缺失，夜间行人有跌落危险",
        30.2741,
        120.1551,
        &[],
    ),
    (
        0,
        Category::Environment,
        Severity::Medium,
        "小区垃圾桶满溢",
        "3 号楼旁垃圾桶已满两天，气味较大",
        30.2748,
        120.1563,
        &[(Action::Accept, Status::Accepted), (Action::Assign, Status::Assigned), (Action::Start, Status::InProgress)],
    ),
    (
        1,
        Category::Dispute,
        Severity::Low,
        "楼上噪音纠纷",
        "5 号楼住户反映楼上夜间噪音，双方已同意调解",
        30.2733,
        120.1542,
        &[
            (Action::Accept, Status::Accepted),
            (Action::Assign, Status::Assigned),
            (Action::Start, Status::InProgress),
            (Action::Resolve, Status::Resolved),
            (Action::Close, Status::Closed),
        ],
    ),
    (
        1,
        Category::Event,
        Severity::Medium,
        "独居老人求助",
        "李奶奶家中水管漏水，需要帮助联系维修",
        30.2729,
        120.1570,
        &[],
    ),
];

async fn demo_incidents(
    state: &AppState,
    grids: &[entity::orgs::Model],
    branch: &entity::orgs::Model,
    worker: i64,
    secretary: i64,
) -> anyhow::Result<()> {
    let uploader = crate::access::Caller { user_id: worker, roles: Vec::new() };
    let started = state.clock.now() - chrono::Duration::days(3);
    for (n, (grid, category, severity, title, description, lat, lng, moves)) in DEMO_INCIDENTS.into_iter().enumerate() {
        let photo = media::upload(state, &uploader, demo_photo(n as u8)?).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        // Filed over the last three days, the urgent one this morning: inside its deadline
        // (24 h), so the demo opens with nothing overdue yet.
        let filed_at = match severity {
            Severity::High => state.clock.now() - chrono::Duration::hours(6),
            _ => started + chrono::Duration::hours(7 * n as i64),
        };
        let spec = IncidentSpec {
            grid_id: grids[grid].id,
            category,
            title: title.to_owned(),
            description: description.to_owned(),
            severity,
            lat,
            lng,
            address: Some("城关镇东街社区".to_owned()),
            occurred_at: filed_at - chrono::Duration::minutes(30),
            media_ids: vec![photo.id],
            star: None,
        };
        let county = crate::incidents::sla::county_of(&grids[grid].path).unwrap_or_default();
        let deadline = crate::incidents::sla::book(state, county).await?.deadline(category, severity, filed_at);
        let txn = state.db.begin().await?;
        let incident =
            incidents::insert_incident(&txn, &spec, &grids[grid], branch, worker, deadline, filed_at).await?;
        let mut event = NewEvent {
            incident_id: incident.id,
            action: "report",
            from: None,
            to: Status::Reported,
            actor_id: Some(worker),
            note: None,
            media_ids: &spec.media_ids,
            at: filed_at,
        };
        incidents::insert_event(&txn, event).await?;
        let mut from = Status::Reported;
        for (step, (action, to)) in moves.iter().enumerate() {
            let at = filed_at + chrono::Duration::minutes(40 * (step as i64 + 1));
            let by_worker = matches!(action, Action::Start | Action::Resolve);
            let extras = MoveExtras {
                assignee_id: (*action == Action::Assign).then_some(worker),
                owner: None,
                closed: *to == Status::Closed,
            };
            incidents::move_incident(&txn, incident.id, from, *to, extras, at).await?;
            event = NewEvent {
                incident_id: incident.id,
                action: action.as_str(),
                from: Some(from),
                to: *to,
                actor_id: Some(if by_worker { worker } else { secretary }),
                note: (*action == Action::Resolve).then(|| "已上门调解，双方签订协议".to_owned()),
                media_ids: &[],
                at,
            };
            incidents::insert_event(&txn, event).await?;
            from = *to;
        }
        txn.commit().await?;
    }
    Ok(())
}
