//! Who may do what where: org kinds, roles and their levels, the caller and the scope their
//! roles reach. Parse, don't validate: once a `Role` or `OrgKind` exists it is valid.
//! Plain types only: nothing here touches SQL, Redis or HTTP.
use std::fmt;

use sea_orm::sea_query::{Condition, Expr, ExprTrait, IntoColumnRef};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrgKind {
    County,
    Township,
    Branch,
    Grid,
}

impl OrgKind {
    pub fn parse(s: &str) -> Option<OrgKind> {
        Some(match s {
            "county" => OrgKind::County,
            "township" => OrgKind::Township,
            "branch" => OrgKind::Branch,
            "grid" => OrgKind::Grid,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OrgKind::County => "county",
            OrgKind::Township => "township",
            OrgKind::Branch => "branch",
            OrgKind::Grid => "grid",
        }
    }

    /// The only kind a child of this kind may have.
    pub fn child(self) -> Option<OrgKind> {
        match self {
            OrgKind::County => Some(OrgKind::Township),
            OrgKind::Township => Some(OrgKind::Branch),
            OrgKind::Branch => Some(OrgKind::Grid),
            OrgKind::Grid => None,
        }
    }
}

/// Roles in rising order of authority; `Ord` follows the level. `ShopKeeper` stands below
/// all: it only fulfils redemptions and reads the shop's ledger where it is held, which the
/// shop checks by name, so no "this role or higher" ever reaches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    ShopKeeper,
    Resident,
    PartyMember,
    GridWorker,
    Secretary,
    TownshipAdmin,
    CountyAdmin,
    SuperAdmin,
}

impl Role {
    /// The lowest role: `scope(Role::LOWEST)` is every subtree the caller holds any role in.
    pub const LOWEST: Role = Role::ShopKeeper;

    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "shop_keeper" => Role::ShopKeeper,
            "resident" => Role::Resident,
            "party_member" => Role::PartyMember,
            "grid_worker" => Role::GridWorker,
            "secretary" => Role::Secretary,
            "township_admin" => Role::TownshipAdmin,
            "county_admin" => Role::CountyAdmin,
            "super_admin" => Role::SuperAdmin,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::ShopKeeper => "shop_keeper",
            Role::Resident => "resident",
            Role::PartyMember => "party_member",
            Role::GridWorker => "grid_worker",
            Role::Secretary => "secretary",
            Role::TownshipAdmin => "township_admin",
            Role::CountyAdmin => "county_admin",
            Role::SuperAdmin => "super_admin",
        }
    }

    /// The role's name as people in the campaign say it.
    pub fn label(self) -> &'static str {
        match self {
            Role::ShopKeeper => "积分超市管理员",
            Role::Resident => "居民",
            Role::PartyMember => "党员",
            Role::GridWorker => "网格员",
            Role::Secretary => "支部书记",
            Role::TownshipAdmin => "乡镇管理员",
            Role::CountyAdmin => "县级管理员",
            Role::SuperAdmin => "超级管理员",
        }
    }

    /// Membership roles make a branch someone's home; the others are staff.
    pub fn is_membership(self) -> bool {
        matches!(self, Role::Resident | Role::PartyMember)
    }

    /// Whether this role may be held at an org of that kind.
    pub fn fits(self, kind: OrgKind) -> bool {
        match self {
            Role::Resident | Role::PartyMember | Role::Secretary => kind == OrgKind::Branch,
            Role::GridWorker => matches!(kind, OrgKind::Grid | OrgKind::Branch),
            Role::TownshipAdmin => kind == OrgKind::Township,
            Role::ShopKeeper => matches!(kind, OrgKind::Branch | OrgKind::Township),
            Role::CountyAdmin => kind == OrgKind::County,
            Role::SuperAdmin => false,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One role the caller holds, with where it sits in the tree.
#[derive(Debug, Clone)]
pub struct RoleGrant {
    pub role: Role,
    /// None for `super_admin`.
    pub org_id: Option<i64>,
    pub org_path: Option<String>,
}

/// Who is calling: their id and every role they hold. Built per request from SQL, so a
/// revoked role stops working at once.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: i64,
    pub roles: Vec<RoleGrant>,
}

impl Caller {
    pub fn is_super_admin(&self) -> bool {
        self.roles.iter().any(|g| g.role == Role::SuperAdmin)
    }

    /// The subtrees where the caller holds `min` or a higher role.
    pub fn scope(&self, min: Role) -> Scope {
        if self.is_super_admin() {
            return Scope::All;
        }
        let mut paths: Vec<String> =
            self.roles.iter().filter(|g| g.role >= min).filter_map(|g| g.org_path.clone()).collect();
        paths.sort();
        paths.dedup();
        Scope::Paths(paths)
    }

    /// Every org the caller relates to: the subtrees of all their roles and the
    /// ancestors of those orgs (a resident may read their township's board).
    pub fn reach(&self) -> Scope {
        if self.is_super_admin() {
            return Scope::All;
        }
        let mut paths: Vec<String> = Vec::new();
        for path in self.roles.iter().filter_map(|g| g.org_path.as_deref()) {
            paths.push(path.to_owned());
            let mut end = 0;
            while let Some(i) = path[end + 1..].find('/') {
                end += i + 1;
                if end + 1 < path.len() {
                    paths.push(format!("={}", &path[..=end]));
                }
            }
        }
        paths.sort();
        paths.dedup();
        Scope::Paths(paths)
    }

    /// The highest role the caller holds at this org or any of its ancestors.
    pub fn level_at(&self, path: &str) -> Option<Role> {
        self.roles
            .iter()
            .filter(|g| match &g.org_path {
                None => g.role == Role::SuperAdmin,
                Some(p) => path.starts_with(p.as_str()),
            })
            .map(|g| g.role)
            .max()
    }

    /// True when the caller holds at least `min` at this org or above it.
    pub fn has_at(&self, path: &str, min: Role) -> bool {
        self.level_at(path).is_some_and(|r| r >= min)
    }
}

/// The org subtrees a query may see. Store functions that read org data take one, so a
/// query that forgets the caller's scope does not compile.
#[derive(Debug, Clone)]
pub enum Scope {
    All,
    /// Materialised paths (`/1/7/`); a row is in scope when its path starts with one.
    /// A path written `=/1/7/` matches that org exactly, not its subtree.
    Paths(Vec<String>),
}

impl Scope {
    pub fn contains(&self, path: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Paths(paths) => paths.iter().any(|p| match p.strip_prefix('=') {
                Some(exact) => path == exact,
                None => path.starts_with(p.as_str()),
            }),
        }
    }

    /// `col LIKE p1% OR col LIKE p2% …`; matches nothing for an empty scope.
    pub fn condition<C: IntoColumnRef + Clone>(&self, path_col: C) -> Condition {
        match self {
            Scope::All => Condition::all(),
            Scope::Paths(paths) if paths.is_empty() => Condition::all().add(Expr::val(1).eq(0)),
            Scope::Paths(paths) => paths.iter().fold(Condition::any(), |cond, p| match p.strip_prefix('=') {
                Some(exact) => cond.add(Expr::col(path_col.clone()).eq(exact)),
                None => cond.add(Expr::col(path_col.clone()).like(format!("{p}%"))),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(grants: &[(Role, &str)]) -> Caller {
        Caller {
            user_id: 1,
            roles: grants
                .iter()
                .map(|(role, path)| RoleGrant { role: *role, org_id: Some(1), org_path: Some(path.to_string()) })
                .collect(),
        }
    }

    #[test]
    fn kinds_nest_one_level_at_a_time() {
        assert_eq!(OrgKind::County.child(), Some(OrgKind::Township));
        assert_eq!(OrgKind::Branch.child(), Some(OrgKind::Grid));
        assert_eq!(OrgKind::Grid.child(), None);
        assert_eq!(OrgKind::parse("village"), None);
    }

    #[test]
    fn roles_order_by_authority_and_round_trip() {
        assert!(Role::Resident < Role::Secretary && Role::Secretary < Role::CountyAdmin);
        for r in
            ["resident", "party_member", "grid_worker", "secretary", "township_admin", "county_admin", "super_admin"]
        {
            assert_eq!(Role::parse(r).unwrap().as_str(), r);
        }
        assert!(Role::GridWorker.fits(OrgKind::Grid) && !Role::Secretary.fits(OrgKind::Grid));
    }

    #[test]
    fn level_and_scope_follow_the_subtree() {
        let c = caller(&[(Role::Secretary, "/1/2/3/"), (Role::Resident, "/1/2/9/")]);
        assert_eq!(c.level_at("/1/2/3/44/"), Some(Role::Secretary));
        assert_eq!(c.level_at("/1/2/"), None);
        assert_eq!(c.level_at("/1/2/30/"), None, "a sibling sharing a prefix of digits is outside");
        assert!(c.scope(Role::Secretary).contains("/1/2/3/"));
        assert!(!c.scope(Role::Secretary).contains("/1/2/9/"));
        assert!(c.scope(Role::Resident).contains("/1/2/9/"));
    }

    #[test]
    fn reach_adds_ancestors_but_not_their_other_children() {
        let c = caller(&[(Role::Resident, "/1/2/3/")]);
        let reach = c.reach();
        assert!(reach.contains("/1/") && reach.contains("/1/2/") && reach.contains("/1/2/3/"));
        assert!(reach.contains("/1/2/3/9/"), "the subtree of the role");
        assert!(!reach.contains("/1/2/4/"), "a sibling branch is outside");
        assert!(!reach.contains("/1/5/"));
    }
}
