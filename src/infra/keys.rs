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

    /// Held by the one process rebuilding Redis.
    pub fn rebuild_lock(&self) -> String {
        format!("{}:lock:rebuild", self.prefix)
    }

    /// Failed password logins for one username (lower-cased), within the window.
    pub fn login_failures_user(&self, username: &str) -> String {
        format!("{}:login_fail:u:{}", self.prefix, username.to_lowercase())
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
        assert_eq!(keys.login_failures_user("Admin"), "t1:login_fail:u:admin");
    }
}
