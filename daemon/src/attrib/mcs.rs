//! SELinux MCS categories (`subj=system_u:system_r:container_t:s0:c390,c427`) as a further
//! key: container runtimes give every container (every pod, with CRI) its own pair of
//! categories, so once a record with a resolved pid has shown which container a label
//! belongs to, later records of that label resolve even when the pid is gone.
//!
//! A label seen with two different containers is not used any more (pods share one label
//! among their containers; guessing between them would be wrong).

use std::collections::HashMap;
use std::sync::Arc;

use parsers::cgroup::CgroupAttribution;

/// The MCS part of an SELinux context when it names categories of one sensitivity
/// (`s0:c390,c427`): the key. `None` for contexts without categories, for category ranges
/// (`c0.c1023`, the unconfined range) and for non-SELinux subjects (AppArmor profiles).
pub fn mcs_key(subj: &str) -> Option<&str> {
    // user:role:type:level, where the level itself contains ':'.
    let mut idx = 0;
    for _ in 0..3 {
        idx += subj.get(idx..)?.find(':')? + 1;
    }
    let level = subj.get(idx..)?.trim();
    let (sens, cats) = level.split_once(':')?;
    let sens_ok =
        sens.len() > 1 && sens.starts_with('s') && sens[1..].bytes().all(|b| b.is_ascii_digit());
    let cats_ok = !cats.is_empty()
        && cats.split(',').all(|c| {
            c.len() > 1 && c.starts_with('c') && c[1..].bytes().all(|b| b.is_ascii_digit())
        });
    (sens_ok && cats_ok).then_some(level)
}

#[derive(Debug)]
enum Entry {
    Container(Arc<CgroupAttribution>),
    /// Seen with more than one container.
    Conflict,
}

/// MCS label -> the container (its cgroup classification) it was seen with.
#[derive(Debug, Default)]
pub struct McsMap {
    map: HashMap<String, Entry>,
    max: usize,
}

impl McsMap {
    pub fn new(max: usize) -> McsMap {
        McsMap {
            map: HashMap::new(),
            max,
        }
    }

    /// Records that `key` was seen on a process of the container of `cg`.
    pub fn learn(&mut self, key: &str, cg: &Arc<CgroupAttribution>) {
        let Some(id) = cg.container_id() else { return };
        match self.map.get_mut(key) {
            Some(Entry::Container(c)) => {
                if c.container_id() != Some(id) {
                    self.map.insert(key.to_string(), Entry::Conflict);
                }
            }
            Some(Entry::Conflict) => {}
            None => {
                if self.map.len() >= self.max {
                    self.map.clear();
                }
                self.map
                    .insert(key.to_string(), Entry::Container(cg.clone()));
            }
        }
    }

    /// The container `key` belongs to, when it is known and unambiguous.
    pub fn get(&self, key: &str) -> Option<&Arc<CgroupAttribution>> {
        match self.map.get(key)? {
            Entry::Container(c) => Some(c),
            Entry::Conflict => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert_eq!(
            mcs_key("system_u:system_r:container_t:s0:c390,c427"),
            Some("s0:c390,c427")
        );
        assert_eq!(
            mcs_key("system_u:system_r:container_t:s0:c5"),
            Some("s0:c5")
        );
        assert_eq!(mcs_key("system_u:system_r:spc_t:s0"), None);
        assert_eq!(
            mcs_key("unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023"),
            None
        );
        assert_eq!(mcs_key("docker-default (enforce)"), None);
        assert_eq!(mcs_key("unconfined"), None);
        assert_eq!(mcs_key("a:b:c:s0:c1,x"), None);
        assert_eq!(mcs_key(""), None);
    }

    #[test]
    fn conflicts_are_not_used() {
        let id1 = "1".repeat(64);
        let id2 = "2".repeat(64);
        let a = Arc::new(parsers::cgroup::classify_path(&format!("/docker/{id1}")));
        let b = Arc::new(parsers::cgroup::classify_path(&format!("/docker/{id2}")));
        let host = Arc::new(parsers::cgroup::classify_path("/system.slice/sshd.service"));
        let mut m = McsMap::new(10);
        m.learn("s0:c1,c2", &a);
        m.learn("s0:c1,c2", &a);
        m.learn("s0:c3,c4", &host);
        assert_eq!(
            m.get("s0:c1,c2").and_then(|c| c.container_id()),
            Some(id1.as_str())
        );
        assert!(m.get("s0:c3,c4").is_none(), "not a container");
        m.learn("s0:c1,c2", &b);
        assert!(m.get("s0:c1,c2").is_none());
        m.learn("s0:c1,c2", &a);
        assert!(m.get("s0:c1,c2").is_none(), "a conflict stays");
    }
}
