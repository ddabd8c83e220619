//! The answer cache: sharded maps behind short-held locks, TTLs honoured and counted down in the
//! answers it serves, and negative answers cached for their SOA minimum (RFC 2308).

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use crate::wire::Sections;

/// Shards spread lock contention across cores; each lock is held only for one map operation.
const SHARDS: usize = 32;

/// What a cached answer is looked up by: the policy core's form of the name (lower case, no
/// final dot) and the query type, so the wire path and the hickory path share entries.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    name: Box<str>,
    qtype: u16,
}

impl Key {
    pub(crate) fn new(name: &str, qtype: RecordType) -> Key {
        Key { name: name.into(), qtype: u16::from(qtype) }
    }
}

/// One upstream answer, as records (for the floor re-check and the hickory path) and as
/// pre-encoded sections (for the wire path).
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) rcode: ResponseCode,
    pub(crate) answers: Vec<Record>,
    authorities: Vec<Record>,
    /// The sections after a question for this entry's name; `None` if they could not be encoded.
    pub(crate) sections: Option<Sections>,
    stored: Instant,
    /// When the entry stops being served (`stored` plus its TTL).
    expires: Instant,
}

impl Entry {
    /// The records with TTLs reduced by `age` seconds, for the hickory path.
    pub(crate) fn hit(&self, age: u32) -> Hit {
        let count_down = |rs: &[Record]| {
            rs.iter()
                .map(|r| {
                    let mut r = r.clone();
                    r.ttl = r.ttl.saturating_sub(age);
                    r
                })
                .collect()
        };
        Hit { rcode: self.rcode, answers: count_down(&self.answers), authorities: count_down(&self.authorities) }
    }
}

/// Records from the cache with their TTLs counted down by the time they have been held.
pub(crate) struct Hit {
    pub(crate) rcode: ResponseCode,
    pub(crate) answers: Vec<Record>,
    pub(crate) authorities: Vec<Record>,
}

type Shard = HashMap<Key, Arc<Entry>>;

/// A bounded TTL cache of upstream answers.
pub(crate) struct Cache {
    shards: Box<[Mutex<Shard>]>,
    hasher: RandomState,
    per_shard: usize,
    max_ttl: u32,
    negative_max_ttl: u32,
}

fn lock(m: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    // A panic while holding a shard lock leaves the map consistent (single operations), so carry on.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Cache {
    pub(crate) fn new(entries: usize, max_ttl: u32, negative_max_ttl: u32) -> Cache {
        let n = if entries == 0 { 0 } else { entries.min(SHARDS) };
        let shards = (0..n).map(|_| Mutex::new(HashMap::new())).collect();
        Cache { shards, hasher: RandomState::new(), per_shard: entries.div_ceil(n.max(1)), max_ttl, negative_max_ttl }
    }

    fn shard(&self, key: &Key) -> Option<&Mutex<Shard>> {
        if self.shards.is_empty() {
            return None;
        }
        let i = (self.hasher.hash_one(key) as usize) % self.shards.len();
        self.shards.get(i)
    }

    /// The cached answer and its age in whole seconds; expired entries are removed.
    pub(crate) fn get(&self, key: &Key) -> Option<(Arc<Entry>, u32)> {
        let shard = self.shard(key)?;
        let now = Instant::now();
        let entry = {
            let mut map = lock(shard);
            let e = map.get(key)?;
            if now >= e.expires {
                map.remove(key);
                return None;
            }
            Arc::clone(e)
        };
        let age = u32::try_from(now.saturating_duration_since(entry.stored).as_secs()).unwrap_or(u32::MAX);
        Some((entry, age))
    }

    /// Turn an upstream answer for `name`/`qtype` into an entry and keep it if it is cacheable:
    /// a positive answer for its smallest TTL, a negative one for its SOA minimum; anything else
    /// (SERVFAIL, no SOA, TTL 0) is answered once and not kept.
    pub(crate) fn insert(&self, key: Key, name: &Name, qtype: RecordType, msg: Message) -> Arc<Entry> {
        let now = Instant::now();
        let kept = self.ttl_of(&msg).filter(|(ttl, _)| *ttl > 0);
        let (ttl, authorities) = match kept {
            Some((ttl, auth)) => (Some(ttl), auth),
            None => (None, msg.authorities.into_iter().filter(|r| r.record_type() == RecordType::SOA).take(1).collect()),
        };
        let rcode = msg.metadata.response_code;
        let sections = Sections::encode(Query::query(name.clone(), qtype), rcode, &msg.answers, &authorities);
        let expires = now + Duration::from_secs(u64::from(ttl.unwrap_or(0)));
        let entry = Arc::new(Entry { rcode, answers: msg.answers, authorities, sections, stored: now, expires });
        if ttl.is_some() {
            self.keep(key, Arc::clone(&entry), now);
        }
        entry
    }

    fn keep(&self, key: Key, entry: Arc<Entry>, now: Instant) {
        let Some(shard) = self.shard(&key) else { return };
        let mut map = lock(shard);
        if map.len() >= self.per_shard && !map.contains_key(&key) {
            // Full: drop what has expired and, if that is not enough, an arbitrary eighth more,
            // so the sweep is paid once per many inserts rather than on every one.
            map.retain(|_, e| now < e.expires);
            if map.len() >= self.per_shard {
                let keep = self.per_shard - self.per_shard.div_ceil(8);
                let mut excess = map.len() - keep;
                map.retain(|_, _| {
                    if excess > 0 {
                        excess -= 1;
                        false
                    } else {
                        true
                    }
                });
            }
        }
        map.insert(key, entry);
    }

    fn ttl_of(&self, msg: &Message) -> Option<(u32, Vec<Record>)> {
        let rcode = msg.metadata.response_code;
        if msg.metadata.truncation {
            return None;
        }
        if rcode == ResponseCode::NoError && !msg.answers.is_empty() {
            let ttl = msg.answers.iter().map(|r| r.ttl).min()?;
            return Some((ttl.min(self.max_ttl), Vec::new()));
        }
        if rcode == ResponseCode::NoError || rcode == ResponseCode::NXDomain {
            let soa = msg.authorities.iter().find(|r| r.record_type() == RecordType::SOA)?;
            let RData::SOA(s) = &soa.data else { return None };
            let ttl = soa.ttl.min(s.minimum).min(self.negative_max_ttl);
            let mut soa = soa.clone();
            soa.ttl = ttl;
            return Some((ttl, vec![soa]));
        }
        None
    }
}
