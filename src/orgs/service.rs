//! The rules of the org tree: who may create which node, invite whom, grant and revoke
//! which role. Every change writes its audit row in the same transaction.
use chrono::{DateTime, Duration, Utc};
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use entity::{invites, orgs};

use super::domain::creator_role;
use super::store;
use crate::access::{self, Caller, OrgKind, Role, Scope};
use crate::audit::{self, AuditEntry};
use crate::error::{AppError, ErrorCode, FieldErrors, Result};
use crate::infra::db::begin_write;
use crate::pagination::{Page, PageQuery, PageRequest};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct OrgView {
    pub id: i64,
    pub parent_id: Option<i64>,
    pub name: String,
    pub kind: OrgKind,
    /// Points credited per hour of approved volunteer service (branches only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub points_per_hour: Option<i32>,
    /// Cards one member may hold at once in this branch (branches only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card_limit: Option<i32>,
    /// Days a shop's reservation waits for pickup (branches and townships, which keep shops).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pickup_days: Option<f64>,
    /// Days a star application stays publicized for objections (counties).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publicity_days: Option<f64>,
    pub created_at: DateTime<Utc>,
}

impl From<orgs::Model> for OrgView {
    fn from(m: orgs::Model) -> Self {
        let kind = OrgKind::parse(&m.kind).unwrap_or(OrgKind::Grid);
        let branch = kind == OrgKind::Branch;
        let shop = branch || kind == OrgKind::Township;
        OrgView {
            id: m.id,
            parent_id: m.parent_id,
            name: m.name,
            kind,
            points_per_hour: branch.then_some(m.points_per_hour),
            card_limit: branch.then_some(m.card_limit),
            pickup_days: shop.then_some(m.pickup_seconds as f64 / 86_400.0),
            publicity_days: (kind == OrgKind::County).then_some(m.publicity_seconds as f64 / 86_400.0),
            created_at: m.created_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewOrg {
    /// Absent or null only for a county (super_admin only).
    pub parent_id: Option<i64>,
    /// 1–100 characters.
    #[schema(min_length = 1, max_length = 100, pattern = r"^[^\x00]*[^\s\x00][^\x00]*$")]
    pub name: String,
    /// The next level below the parent.
    #[schema(value_type = OrgKind)]
    pub kind: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewInvite {
    /// `resident` or `party_member`.
    #[schema(pattern = "^(resident|party_member)$")]
    pub role: String,
    /// 1–10000.
    #[schema(minimum = 1, maximum = 10000)]
    pub max_uses: i32,
    /// In the future, at most a year ahead.
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InviteView {
    pub code: String,
    pub org_id: i64,
    pub role: Role,
    pub max_uses: i32,
    pub uses: i32,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RoleChange {
    pub user_id: i64,
    #[schema(value_type = Role)]
    pub role: String,
    /// Why, up to 200 characters: kept in the audit log.
    #[schema(max_length = 200, pattern = r"^[^\x00]*$")]
    pub reason: Option<String>,
}

/// A role change's reason, trimmed; 422 past 200 characters.
fn reason_of(req: &RoleChange) -> Result<Option<String>> {
    let reason = req.reason.as_deref().map(str::trim).filter(|r| !r.is_empty()).map(str::to_owned);
    if reason.as_ref().is_some_and(|r| r.chars().count() > 200) {
        return Err(AppError::field("reason", "不超过 200 个字符"));
    }
    Ok(reason)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RoleView {
    pub user_id: i64,
    pub user_name: String,
    pub org_id: i64,
    pub role: Role,
}

const MAX_INVITE_USES: i32 = 10_000;
const MAX_INVITE_DAYS: i64 = 366;

fn parse_name(name: &str, fields: &mut FieldErrors) -> String {
    let name = name.trim();
    let len = name.chars().count();
    if len == 0 || len > 100 {
        fields.insert("name".into(), "名称须为 1 到 100 个字符".into());
    }
    name.to_owned()
}

fn parse_role(role: &str) -> Result<Role> {
    Role::parse(role).ok_or_else(|| AppError::field("role", "未知的角色"))
}

/// Find an org the caller can see at all (any role in its subtree or above), else 404.
async fn visible_org<C: ConnectionTrait>(db: &C, caller: &Caller, id: i64) -> Result<orgs::Model> {
    access::in_subtree(db, caller, id).await
}

pub async fn create_org(state: &AppState, caller: &Caller, req: NewOrg) -> Result<OrgView> {
    let mut fields = FieldErrors::new();
    let name = parse_name(&req.name, &mut fields);
    let kind = OrgKind::parse(&req.kind);
    if kind.is_none() {
        fields.insert("kind".into(), "须为 county、township、branch 或 grid".into());
    }
    if !fields.is_empty() {
        return Err(AppError::Validation(fields));
    }
    let kind = kind.expect("checked above");
    let now = state.clock.now();
    let txn = begin_write(&state.writer).await?;
    let parent = match req.parent_id {
        None => {
            if !caller.is_super_admin() {
                return Err(access::needs(Role::SuperAdmin));
            }
            if kind != OrgKind::County {
                return Err(AppError::field("parent_id", "只有县（区）可以没有上级"));
            }
            None
        }
        Some(parent_id) => {
            let parent = visible_org(&txn, caller, parent_id).await?;
            let parent_kind = OrgKind::parse(&parent.kind).ok_or_else(|| anyhow::anyhow!("bad org kind in db"))?;
            access::authorize(caller, &parent, creator_role(kind).max(Role::Secretary))?;
            if parent_kind.child() != Some(kind) {
                return Err(AppError::field("kind", "下级组织类型须比上级低一级"));
            }
            Some(parent)
        }
    };
    let org = store::insert_org(&txn, parent.as_ref(), &name, kind, now).await?;
    audit::record(
        &txn,
        AuditEntry {
            actor_id: Some(caller.user_id),
            action: "org.create",
            target_type: "org",
            target_id: org.id.to_string(),
            org_id: Some(org.id),
            before: None,
            after: Some(json!({"name": org.name, "kind": org.kind, "parent_id": org.parent_id})),
            reason: None,
            at: now,
        },
    )
    .await?;
    txn.commit().await?;
    tracing::info!(org_id = org.id, kind = %org.kind, actor = caller.user_id, "org created");
    Ok(org.into())
}

pub async fn get_org(state: &AppState, caller: &Caller, id: i64) -> Result<OrgView> {
    Ok(visible_org(&state.db, caller, id).await?.into())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct BranchSettings {
    /// 1–1000 points per hour of approved volunteer service (branches).
    #[schema(minimum = 1, maximum = 1000)]
    pub points_per_hour: Option<i32>,
    /// 1–20 cards one member may hold at once (branches).
    #[schema(minimum = 1, maximum = 20)]
    pub card_limit: Option<i32>,
    /// Days (fractions allowed, more than 0, at most 365) a shop's reservation waits for
    /// pickup before it expires and is refunded (branches and townships).
    #[schema(exclusive_minimum = 0, maximum = 365)]
    pub pickup_days: Option<f64>,
    /// Days (fractions allowed, more than 0, at most 365) a star application stays
    /// publicized for objections before it is awarded (counties).
    #[schema(exclusive_minimum = 0, maximum = 365)]
    pub publicity_days: Option<f64>,
}

/// The most days a reservation may wait for pickup.
const MAX_PICKUP_DAYS: f64 = 365.0;

/// Change an org's settings (a branch's secretaries, a township's admins, and admins
/// above), audited. Branches have all three; a township only `pickup_days`.
pub async fn update_settings(state: &AppState, caller: &Caller, id: i64, req: BranchSettings) -> Result<OrgView> {
    let mut fields = FieldErrors::new();
    if req.points_per_hour.is_some_and(|p| !(1..=1000).contains(&p)) {
        fields.insert("points_per_hour".into(), "须在 1 到 1000 之间".into());
    }
    if req.card_limit.is_some_and(|c| !(1..=20).contains(&c)) {
        fields.insert("card_limit".into(), "须在 1 到 20 之间".into());
    }
    // Kept in whole seconds, at least one (a tiny positive fraction of a day is still > 0).
    for (name, days) in [("pickup_days", req.pickup_days), ("publicity_days", req.publicity_days)] {
        if days.is_some_and(|d| !(d > 0.0 && d <= MAX_PICKUP_DAYS)) {
            fields.insert(name.into(), "须为大于 0、不超过 365 的天数（可带小数）".into());
        }
    }
    if !fields.is_empty() {
        return Err(AppError::Validation(fields));
    }
    let now = state.clock.now();
    let txn = begin_write(&state.writer).await?;
    let org = visible_org(&txn, caller, id).await?;
    let kind = OrgKind::parse(&org.kind).ok_or_else(|| anyhow::anyhow!("bad org kind in db"))?;
    let branch_only = req.points_per_hour.is_some() || req.card_limit.is_some();
    match kind {
        OrgKind::Branch if req.publicity_days.is_none() => access::authorize(caller, &org, Role::Secretary)?,
        OrgKind::Township if !branch_only && req.publicity_days.is_none() => {
            access::authorize(caller, &org, Role::TownshipAdmin)?
        }
        OrgKind::County if !branch_only && req.pickup_days.is_none() => {
            access::authorize(caller, &org, Role::CountyAdmin)?
        }
        OrgKind::Branch => return Err(AppError::field("id", "publicity_days 是县（区）的设置")),
        OrgKind::Township => return Err(AppError::field("id", "乡镇只有 pickup_days 一项设置")),
        OrgKind::County => return Err(AppError::field("id", "县（区）只有 publicity_days 一项设置")),
        OrgKind::Grid => return Err(AppError::field("id", "网格没有这些设置")),
    }
    let points_per_hour = req.points_per_hour.unwrap_or(org.points_per_hour);
    let card_limit = req.card_limit.unwrap_or(org.card_limit);
    let seconds = |days: Option<f64>, now: i64| days.map_or(now, |d| ((d * 86_400.0).round() as i64).max(1));
    let pickup_seconds = seconds(req.pickup_days, org.pickup_seconds);
    let publicity_seconds = seconds(req.publicity_days, org.publicity_seconds);
    let updated =
        store::update_settings(&txn, org.id, points_per_hour, card_limit, pickup_seconds, publicity_seconds).await?;
    let settings = |pph: i32, limit: i32, pickup: i64, publicity: i64| {
        json!({"points_per_hour": pph, "card_limit": limit, "pickup_days": pickup as f64 / 86_400.0,
            "publicity_days": publicity as f64 / 86_400.0})
    };
    audit::record(
        &txn,
        AuditEntry {
            actor_id: Some(caller.user_id),
            action: "org.settings",
            target_type: "org",
            target_id: org.id.to_string(),
            org_id: Some(org.id),
            before: Some(settings(org.points_per_hour, org.card_limit, org.pickup_seconds, org.publicity_seconds)),
            after: Some(settings(points_per_hour, card_limit, pickup_seconds, publicity_seconds)),
            reason: None,
            at: now,
        },
    )
    .await?;
    txn.commit().await?;
    state.caches.orgs.invalidate(&org.id);
    Ok(updated.into())
}

pub async fn children(state: &AppState, caller: &Caller, id: i64, page: PageRequest) -> Result<Page<OrgView>> {
    let parent = visible_org(&state.db, caller, id).await?;
    let rows = store::children_in_scope(&state.db, &caller.scope(Role::Resident), parent.id, page).await?;
    Ok(Page::from_rows(rows, page, |o| o.id, OrgView::from))
}

pub async fn create_invite(state: &AppState, caller: &Caller, org_id: i64, req: NewInvite) -> Result<InviteView> {
    let now = state.clock.now();
    let mut fields = FieldErrors::new();
    let role = Role::parse(&req.role).filter(|r| r.is_membership());
    if role.is_none() {
        fields.insert("role".into(), "邀请只能授予 resident 或 party_member".into());
    }
    if !(1..=MAX_INVITE_USES).contains(&req.max_uses) {
        fields.insert("max_uses".into(), format!("须在 1 到 {MAX_INVITE_USES} 之间"));
    }
    if req.expires_at <= now || req.expires_at > now + Duration::days(MAX_INVITE_DAYS) {
        fields.insert("expires_at".into(), "须在未来一年之内".into());
    }
    let org = visible_org(&state.db, caller, org_id).await?;
    access::authorize(caller, &org, Role::Secretary)?;
    if org.kind != OrgKind::Branch.as_str() {
        fields.insert("org_id".into(), "只能邀请加入支部".into());
    }
    if !fields.is_empty() {
        return Err(AppError::Validation(fields));
    }
    let role = role.expect("checked above");
    let txn = begin_write(&state.writer).await?;
    let code = crate::infra::random::human_code(10);
    let new = store::NewInvite {
        org_id: org.id,
        code: &code,
        role,
        max_uses: req.max_uses,
        expires_at: req.expires_at,
        created_by: caller.user_id,
    };
    let invite = store::insert_invite(&txn, new, now).await?;
    audit::record(
        &txn,
        AuditEntry {
            actor_id: Some(caller.user_id),
            action: "invite.create",
            target_type: "invite",
            target_id: invite.id.to_string(),
            org_id: Some(org.id),
            before: None,
            after: Some(json!({"role": invite.role, "max_uses": invite.max_uses, "expires_at": invite.expires_at})),
            reason: None,
            at: now,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(invite_view(invite))
}

fn invite_view(invite: invites::Model) -> InviteView {
    InviteView {
        role: Role::parse(&invite.role).unwrap_or(Role::Resident),
        code: invite.code,
        org_id: invite.org_id,
        max_uses: invite.max_uses,
        uses: invite.uses,
        expires_at: invite.expires_at,
    }
}

/// A branch's live invites (not expired, uses left), for whoever may create them.
pub async fn list_invites(
    state: &AppState,
    caller: &Caller,
    org_id: i64,
    page: PageRequest,
) -> Result<Page<InviteView>> {
    let org = visible_org(&state.db, caller, org_id).await?;
    access::authorize(caller, &org, Role::Secretary)?;
    let rows = store::live_invites(&state.db, org.id, state.clock.now(), page).await?;
    Ok(Page::from_rows(rows, page, |i| i.id, invite_view))
}

/// End an invite now: joining with it answers `invite_expired` from then on. Ending an
/// ended one again changes nothing.
pub async fn end_invite(state: &AppState, caller: &Caller, code: &str) -> Result<()> {
    let code = code.trim().to_uppercase();
    let invite = store::find_invite(&state.db, &code).await?.ok_or(AppError::NotFound)?;
    let org = visible_org(&state.db, caller, invite.org_id).await?;
    access::authorize(caller, &org, Role::Secretary)?;
    let now = state.clock.now();
    let txn = begin_write(&state.writer).await?;
    if store::end_invite(&txn, invite.id, now).await? {
        let entry = AuditEntry {
            actor_id: Some(caller.user_id),
            action: "invite.end",
            target_type: "invite",
            target_id: invite.id.to_string(),
            org_id: Some(org.id),
            before: Some(json!({"expires_at": invite.expires_at, "uses": invite.uses})),
            after: Some(json!({"expires_at": now})),
            reason: None,
            at: now,
        };
        audit::record(&txn, entry).await?;
    }
    txn.commit().await?;
    Ok(())
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct AuditQuery {
    /// Only this action (e.g. `role.grant`, `member.remove`, `points.adjust`).
    pub action: Option<String>,
    pub actor_id: Option<i64>,
    /// At or after (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Before (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    pub cursor: Option<String>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
}

/// One audit row: who did what to what, where, when and why.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditView {
    pub id: i64,
    pub action: String,
    /// None for the command line.
    pub actor_id: Option<i64>,
    pub actor_name: Option<String>,
    pub org_id: Option<i64>,
    /// `type:id`, e.g. `user:42`, `task:7`, `invite:3`.
    pub target: String,
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
    /// What changed: the values before and after, where the action has them.
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
}

/// The audit log of an org's subtree, newest first: a branch's for its secretary, a
/// township's or county's for its admin.
pub async fn audit(state: &AppState, caller: &Caller, org_id: i64, q: AuditQuery) -> Result<Page<AuditView>> {
    if let (Some(from), Some(to)) = (q.from, q.to) {
        if from >= to {
            return Err(AppError::field("to", "结束时间须晚于开始时间"));
        }
    }
    let page = PageQuery { cursor: q.cursor.clone(), limit: q.limit }.parse()?;
    let org = visible_org(&state.db, caller, org_id).await?;
    let needed = match OrgKind::parse(&org.kind) {
        Some(OrgKind::Township) => Role::TownshipAdmin,
        Some(OrgKind::County) => Role::CountyAdmin,
        _ => Role::Secretary,
    };
    access::authorize(caller, &org, needed)?;
    let filter = store::AuditFilter { action: q.action, actor_id: q.actor_id, from: q.from, to: q.to };
    let rows = store::audit_in_subtree(&state.db, &org.path, &filter, page).await?;
    let names = state.caches.names.lookup(&state.db, rows.iter().filter_map(|r| r.actor_id)).await?;
    Ok(Page::from_rows(
        rows,
        page,
        |r| r.id,
        |r| AuditView {
            id: r.id,
            action: r.action,
            actor_id: r.actor_id,
            actor_name: names.of_opt(r.actor_id),
            org_id: r.org_id,
            target: format!("{}:{}", r.target_type, r.target_id),
            reason: r.reason,
            at: r.created_at,
            before: r.before,
            after: r.after,
        },
    ))
}

/// Check a grant or revoke of `role` at `org_id`: the org is visible, the role fits its
/// kind, and the caller holds at least that role (and at least secretary) at or above it.
async fn authorize_role_change<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    org_id: i64,
    role: &str,
) -> Result<(orgs::Model, Role)> {
    let role = parse_role(role)?;
    let org = visible_org(db, caller, org_id).await?;
    access::authorize(caller, &org, role.max(Role::Secretary))?;
    let kind = OrgKind::parse(&org.kind).ok_or_else(|| anyhow::anyhow!("bad org kind in db"))?;
    if !role.fits(kind) {
        return Err(AppError::field("role", "该角色不能设在这一级组织"));
    }
    Ok((org, role))
}

/// Grant `role` at `org_id`. A membership role is granted only to a member of that branch
/// (a promotion or a change between resident and party_member): people join a branch by
/// invite, and a grant never moves anyone's home branch or touches roles outside the
/// granter's scope. Granting a role already held answers the same view and changes nothing.
pub async fn grant_role(state: &AppState, caller: &Caller, org_id: i64, req: RoleChange) -> Result<RoleView> {
    let reason = reason_of(&req)?;
    let now = state.clock.now();
    let txn = begin_write(&state.writer).await?;
    let (org, role) = authorize_role_change(&txn, caller, org_id, &req.role).await?;
    let home = store::home_branch_of(&txn, req.user_id).await?.ok_or(AppError::NotFound)?;
    if role.is_membership() {
        match home {
            None => {
                return Err(AppError::Conflict {
                    code: ErrorCode::NotAMember,
                    message: "此人尚未加入任何支部，请发送邀请码让其加入",
                })
            }
            Some(home) if home != org.id => {
                return Err(AppError::Conflict {
                    code: ErrorCode::MemberOfOtherBranch,
                    message: "此人是其他支部的成员，须先在原支部退出或被移除",
                })
            }
            Some(_) => {}
        }
    }
    let user_name = state.caches.names.lookup(&txn, [req.user_id]).await?.of(req.user_id);
    let view = RoleView { user_id: req.user_id, user_name, org_id: org.id, role };
    if store::find_role(&txn, req.user_id, Some(org.id), role).await?.is_some() {
        return Ok(view);
    }
    let mut replaced = None;
    if role.is_membership() {
        // One membership role per member: a promotion replaces the other one held here,
        // and only here.
        for held in store::membership_roles_at(&txn, req.user_id, org.id).await? {
            store::delete_role(&txn, held.id).await?;
            replaced = Some(held.role);
        }
    }
    store::insert_role(&txn, req.user_id, Some(org.id), role, Some(caller.user_id), now).await?;
    let before = replaced.map(|old| json!({"org_id": org.id, "role": old}));
    audit_role(&txn, caller.user_id, "role.grant", (view.user_id, view.org_id, view.role), (before, reason), now)
        .await?;
    txn.commit().await?;
    crate::access::roles_changed(state, req.user_id).await;
    Ok(view)
}

/// Revoke `role` held at `org_id`. Revoking the last membership role at someone's home
/// branch clears their home branch; nothing held elsewhere changes.
pub async fn revoke_role(state: &AppState, caller: &Caller, org_id: i64, req: RoleChange) -> Result<()> {
    let reason = reason_of(&req)?;
    let now = state.clock.now();
    let txn = begin_write(&state.writer).await?;
    let (org, role) = authorize_role_change(&txn, caller, org_id, &req.role).await?;
    let held = store::find_role(&txn, req.user_id, Some(org.id), role).await?.ok_or(AppError::NotFound)?;
    store::delete_role(&txn, held.id).await?;
    if role.is_membership()
        && store::membership_roles_at(&txn, req.user_id, org.id).await?.is_empty()
        && store::home_branch_of(&txn, req.user_id).await? == Some(Some(org.id))
    {
        store::set_home_branch(&txn, req.user_id, None, now).await?;
    }
    let before = Some(json!({"org_id": org.id, "role": role}));
    audit_role(&txn, caller.user_id, "role.revoke", (req.user_id, org.id, role), (before, reason), now).await?;
    txn.commit().await?;
    crate::access::roles_changed(state, req.user_id).await;
    Ok(())
}

/// Make `branch` the user's home with a membership `role`, dropping membership roles
/// held at any other branch (a person has one home branch). Only for the person's own
/// act of joining by invite: a grant by someone else never moves a home branch.
/// Staff roles are never touched. Audited.
async fn join_branch<C: ConnectionTrait>(
    txn: &C,
    user_id: i64,
    previous_home: Option<i64>,
    branch: &orgs::Model,
    role: Role,
    now: DateTime<Utc>,
) -> Result<()> {
    let mut dropped = Vec::new();
    for held in store::membership_roles(txn, user_id).await? {
        if held.org_id == Some(branch.id) && held.role == role.as_str() {
            continue;
        }
        store::delete_role(txn, held.id).await?;
        dropped.push(json!({"org_id": held.org_id, "role": held.role}));
    }
    if store::find_role(txn, user_id, Some(branch.id), role).await?.is_none() {
        store::insert_role(txn, user_id, Some(branch.id), role, None, now).await?;
    }
    store::set_home_branch(txn, user_id, Some(branch.id), now).await?;
    audit::record(
        txn,
        AuditEntry {
            actor_id: Some(user_id),
            action: "member.join",
            target_type: "user",
            target_id: user_id.to_string(),
            org_id: Some(branch.id),
            before: Some(json!({"membership": dropped, "home_branch_id": previous_home})),
            after: Some(json!({"org_id": branch.id, "role": role, "home_branch_id": branch.id})),
            reason: None,
            at: now,
        },
    )
    .await?;
    Ok(())
}

/// End someone's membership of a branch, inside `txn`: every role they hold at the branch
/// or inside it (its grids) is deleted, and their home branch is cleared if it was this
/// one. Nothing outside the branch changes. Returns the roles that ended.
pub async fn end_membership<C: ConnectionTrait>(
    txn: &C,
    user_id: i64,
    branch: &orgs::Model,
    now: DateTime<Utc>,
) -> Result<Vec<serde_json::Value>> {
    let mut ended = Vec::new();
    let held = access::load_caller(txn, user_id).await?.map(|c| c.roles).unwrap_or_default();
    for grant in held.iter().filter(|g| g.org_path.as_deref().is_some_and(|p| p.starts_with(&branch.path))) {
        if let Some(row) = store::find_role(txn, user_id, grant.org_id, grant.role).await? {
            store::delete_role(txn, row.id).await?;
            ended.push(json!({"org_id": grant.org_id, "role": grant.role}));
        }
    }
    if store::home_branch_of(txn, user_id).await? == Some(Some(branch.id)) {
        store::set_home_branch(txn, user_id, None, now).await?;
    }
    Ok(ended)
}

async fn audit_role<C: ConnectionTrait>(
    txn: &C,
    actor: i64,
    action: &str,
    (user_id, org_id, role): (i64, i64, Role),
    (before, reason): (Option<serde_json::Value>, Option<String>),
    now: DateTime<Utc>,
) -> Result<()> {
    let after = (action == "role.grant").then(|| json!({"org_id": org_id, "role": role}));
    audit::record(
        txn,
        AuditEntry {
            actor_id: Some(actor),
            action,
            target_type: "user",
            target_id: user_id.to_string(),
            org_id: Some(org_id),
            before,
            after,
            reason,
            at: now,
        },
    )
    .await?;
    Ok(())
}

/// The branches below (or at) the org with this path, as (id, name).
pub async fn branches_under<C: ConnectionTrait>(db: &C, path: &str) -> Result<Vec<(i64, String)>> {
    Ok(store::branches_under(db, path).await?)
}

/// The branches below an org, as (id, path).
pub async fn branch_paths_under<C: ConnectionTrait>(db: &C, path: &str) -> Result<Vec<(i64, String)>> {
    Ok(store::branch_paths_under(db, path).await?)
}

/// The roles these users hold inside `scope`.
pub async fn roles_in_scope<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
    user_ids: &[i64],
) -> Result<Vec<entity::user_roles::Model>> {
    Ok(store::roles_of_users_in_scope(db, scope, user_ids).await?)
}

/// The `super_admin` role for a user made by `fivestar admin create` (audited there).
pub async fn grant_super_admin<C: ConnectionTrait>(txn: &C, user_id: i64, now: DateTime<Utc>) -> Result<()> {
    store::insert_role(txn, user_id, None, Role::SuperAdmin, None, now).await?;
    Ok(())
}

/// The caller joins a branch with an invite code: its branch becomes their home with the
/// invite's role (`join_branch`). A retry by someone already holding that membership
/// takes no second use. 404 for an unknown code, 410 `invite_expired` when expired or
/// used up.
pub async fn use_invite<C: ConnectionTrait>(
    txn: &C,
    user_id: i64,
    home: Option<i64>,
    code: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let invite = store::find_invite(txn, code).await?.ok_or(AppError::NotFound)?;
    let role = Role::parse(&invite.role).ok_or_else(|| anyhow::anyhow!("bad role in invite {}", invite.id))?;
    let already =
        home == Some(invite.org_id) && store::find_role(txn, user_id, Some(invite.org_id), role).await?.is_some();
    if already {
        return Ok(());
    }
    if !store::take_invite_use(txn, invite.id, now).await? {
        return Err(AppError::Gone { code: ErrorCode::InviteExpired, message: "邀请码已过期或已用完" });
    }
    let branch = access::find_org(txn, invite.org_id)
        .await?
        .filter(|o| o.kind == OrgKind::Branch.as_str())
        .ok_or_else(|| anyhow::anyhow!("invite {} points at no branch", invite.id))?;
    join_branch(txn, user_id, home, &branch, role, now).await
}

/// Where the caller may look for members: staff roles (grid worker and up) only.
pub fn staff_scope(caller: &Caller) -> Scope {
    caller.scope(Role::GridWorker)
}
