//! Every Redis key is built here, by one typed function, under the deployment's prefix.
//! Rule: whatever a key holds can be rebuilt from SQL (`fivestar rebuild-redis`) or is
//! disposable (throttling counters).
#[derive(Clone, Debug)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    pub fn new(prefix: &str) -> Self {
        Keys { prefix: prefix.to_owned() }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Present while Redis holds this deployment's derived data; its absence means
    /// Redis was flushed or replaced and must be rebuilt from SQL.
    pub fn epoch(&self) -> String {
        format!("{}:epoch", self.prefix)
    }

    /// Set once the card pools have been rebuilt from SQL after Redis lost them (before
    /// the leaderboards, which take longer): until then an empty pool proves nothing.
    pub fn pools_ready(&self) -> String {
        format!("{}:epoch:pools", self.prefix)
    }

    /// Held by the one process rebuilding Redis.
    pub fn rebuild_lock(&self) -> String {
        format!("{}:lock:rebuild", self.prefix)
    }

    /// A leaderboard: sorted set of user ids by encoded score (see `points::domain`).
    /// Hash-tagged by org, so one org's keys share a Redis Cluster slot.
    pub fn board(&self, org_id: i64, metric: &str, period: &str) -> String {
        format!("{}:{{o{}}}:lb:{}:{}", self.prefix, org_id, metric, period)
    }

    /// An org's board version: moved after every write to any of its boards, so a server
    /// may keep a board's top entries while the version it read them at is still current
    /// (`points::boards::read`). Same hash tag as the org's boards.
    pub fn board_version(&self, org_id: i64) -> String {
        format!("{}:{{o{}}}:lbv", self.prefix, org_id)
    }

    /// Per-branch totals below a township or county: sorted set of branch ids by score.
    pub fn branch_totals(&self, org_id: i64, metric: &str, period: &str) -> String {
        format!("{}:{{o{}}}:bt:{}:{}", self.prefix, org_id, metric, period)
    }

    /// Patterns matching every board and branch-total key, for rebuilds.
    pub fn board_patterns(&self) -> [String; 2] {
        [format!("{}:{{o*}}:lb:*", self.prefix), format!("{}:{{o*}}:bt:*", self.prefix)]
    }

    /// A branch's pool: set of open cards, each member `"{card_id}:{claim_ttl_minutes}"`.
    /// Hash-tagged by branch, so the pool and its leases share a Redis Cluster slot.
    pub fn pool(&self, branch_id: i64) -> String {
        format!("{}:{{b{}}}:pool", self.prefix, branch_id)
    }

    /// A branch's leases: sorted set of drawn pool members by claim deadline (ms).
    pub fn leases(&self, branch_id: i64) -> String {
        format!("{}:{{b{}}}:leases", self.prefix, branch_id)
    }

    /// Patterns matching every pool and lease key, for rebuilds.
    pub fn pool_patterns(&self) -> [String; 2] {
        [format!("{}:{{b*}}:pool", self.prefix), format!("{}:{{b*}}:leases", self.prefix)]
    }

    /// The pub/sub channel on which servers announce role changes (`infra::role_feed`).
    /// A refresh's answer, kept for the grace in which the same token may be sent again.
    pub fn refresh_answer(&self, token_hash: &str) -> String {
        format!("{}:refresh-answer:{}", self.prefix, token_hash)
    }

    /// A user's writes in one minute (unix minute), for the per-user write limit.
    pub fn writes(&self, user_id: i64, minute: i64) -> String {
        format!("{}:writes:{}:{}", self.prefix, user_id, minute)
    }

    /// Sorted set of revoked login families, scored by the last second one of their access
    /// tokens is accepted: what a server (re)subscribing to the role feed loads.
    pub fn revoked_families(&self) -> String {
        format!("{}:revoked-families", self.prefix)
    }

    pub fn role_changes(&self) -> String {
        format!("{}:role-changes", self.prefix)
    }

    /// Held by the one process sweeping expired claims at a time.
    pub fn sweep_lock(&self) -> String {
        format!("{}:lock:sweep", self.prefix)
    }

    /// Held by the one process reconciling Redis with SQL at a time.
    pub fn reconcile_lock(&self) -> String {
        format!("{}:lock:reconcile", self.prefix)
    }

    /// WeChat's access token, shared by every server until shortly before it expires.
    pub fn wechat_token(&self) -> String {
        format!("{}:wx:token", self.prefix)
    }

    /// Held by the one process fetching WeChat's access token at a time.
    pub fn wechat_token_lock(&self) -> String {
        format!("{}:lock:wx-token", self.prefix)
    }

    /// Failed password logins for one username (lower-cased), within the window.
    /// Failed password logins for one username from one client address: only that address
    /// is slowed, so nobody can lock someone else out.
    pub fn login_failures_user(&self, username: &str, ip: &str) -> String {
        format!("{}:login_fail:u:{}:{}", self.prefix, ip, username.to_lowercase())
    }

    /// Failed password logins from one client address, within the window.
    pub fn login_failures_ip(&self, ip: &str) -> String {
        format!("{}:login_fail:ip:{}", self.prefix, ip)
    }
}

#[cfg(test)]
mod tests {
    use super::Keys;

    #[test]
    fn keys_carry_the_prefix() {
        let keys = Keys::new("t1");
        assert_eq!(keys.epoch(), "t1:epoch");
        assert_eq!(keys.pools_ready(), "t1:epoch:pools");
        assert_eq!(keys.login_failures_user("Admin", "10.0.0.1"), "t1:login_fail:u:10.0.0.1:admin");
        assert_eq!(keys.board(42, "points", "w2026-47"), "t1:{o42}:lb:points:w2026-47");
        assert_eq!(keys.board_version(42), "t1:{o42}:lbv");
        assert_eq!(keys.branch_totals(7, "points", "all"), "t1:{o7}:bt:points:all");
        assert_eq!(keys.pool(42), "t1:{b42}:pool");
        assert_eq!(keys.leases(42), "t1:{b42}:leases");
    }
}
