//! Rules of the tree itself: who may add a node of which kind. (Kinds, roles and scopes,
//! which every domain checks, live in `access::roles`.)
use crate::access::{OrgKind, Role};

/// The least role that may create a child of this kind.
pub fn creator_role(child: OrgKind) -> Role {
    match child {
        OrgKind::County => Role::SuperAdmin,
        OrgKind::Township => Role::CountyAdmin,
        OrgKind::Branch => Role::TownshipAdmin,
        OrgKind::Grid => Role::Secretary,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_level_is_created_by_the_one_above() {
        assert_eq!(creator_role(OrgKind::County), Role::SuperAdmin);
        assert_eq!(creator_role(OrgKind::Township), Role::CountyAdmin);
        assert_eq!(creator_role(OrgKind::Branch), Role::TownshipAdmin);
        assert_eq!(creator_role(OrgKind::Grid), Role::Secretary);
    }
}
