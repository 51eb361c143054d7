//! A small per-process TTL cache. Each app server keeps its own; entries are short-lived
//! so a change made through another server shows within the TTL, and a server drops an
//! entry itself the moment it makes a change that concerns it.
use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::RwLock;
use std::time::{Duration, Instant};

pub struct TtlCache<K, V> {
    ttl: Duration,
    max_entries: usize,
    entries: RwLock<HashMap<K, (V, Instant)>>,
}

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        TtlCache { ttl, max_entries, entries: RwLock::new(HashMap::new()) }
    }

    pub fn get<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        self.get_within(key, self.ttl)
    }

    /// An entry no older than `max_age` (and within the TTL).
    pub fn get_within<Q: Hash + Eq + ?Sized>(&self, key: &Q, max_age: Duration) -> Option<V>
    where
        K: Borrow<Q>,
    {
        let max_age = max_age.min(self.ttl);
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries.get(key).filter(|(_, at)| at.elapsed() < max_age).map(|(v, _)| v.clone())
    }

    pub fn clear(&self) {
        self.entries.write().unwrap_or_else(|e| e.into_inner()).clear();
    }

    pub fn insert(&self, key: K, value: V) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= self.max_entries {
            let ttl = self.ttl;
            entries.retain(|_, (_, at)| at.elapsed() < ttl);
            if entries.len() >= self.max_entries {
                entries.clear();
            }
        }
        entries.insert(key, (value, Instant::now()));
    }

    pub fn invalidate(&self, key: &K) {
        self.entries.write().unwrap_or_else(|e| e.into_inner()).remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_can_be_dropped() {
        let cache = TtlCache::new(Duration::from_millis(30), 2);
        cache.insert(1, "a");
        assert_eq!(cache.get(&1), Some("a"));
        cache.invalidate(&1);
        assert_eq!(cache.get(&1), None);
        cache.insert(2, "b");
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(cache.get(&2), None);
        cache.insert(3, "c");
        cache.insert(4, "d");
        cache.insert(5, "e");
        assert_eq!(cache.get(&5), Some("e"));
    }
}
