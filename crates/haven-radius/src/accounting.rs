//! What an accounting packet does to the identity book: Start and Interim-Update bind the
//! session's addresses to its user, Stop releases them (only if this session still holds them),
//! Accounting-On/Off from a NAS ends every session that NAS had. Pure and synchronous; the
//! listener looks the user's group up first and hands it in.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use haven_identity::{Binding, BindingSource, IdentityBook};
use jiff::{SignedDuration, Timestamp};

use crate::packet::{AccountingRequest, StatusType};

/// How a RADIUS User-Name becomes a directory user name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserNameMap {
    /// Strip a realm: `j.smith@school.example` and `SCHOOL\j.smith` both become `j.smith`.
    pub strip_realm: bool,
}

impl Default for UserNameMap {
    fn default() -> Self {
        UserNameMap { strip_realm: true }
    }
}

impl UserNameMap {
    /// The directory user name for a User-Name (lower case; `None` when nothing is left).
    pub fn person(&self, user_name: &str) -> Option<String> {
        let mut u = user_name.trim();
        if self.strip_realm {
            if let Some((_, rest)) = u.rsplit_once('\\') {
                u = rest;
            }
            if let Some((name, _)) = u.split_once('@') {
                u = name;
            }
        }
        let u = u.trim().to_lowercase();
        (!u.is_empty()).then_some(u)
    }
}

/// Lifetimes of RADIUS bindings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    /// How long a binding lasts without a Stop when the NAS gives no Acct-Interim-Interval.
    pub default: Duration,
    /// With an interim interval, a binding lasts this many intervals past the last update.
    pub interim_factor: u32,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Lifetimes { default: Duration::from_secs(8 * 3600), interim_factor: 2 }
    }
}

impl Lifetimes {
    /// How long a binding made by this request lasts.
    pub fn for_request(&self, req: &AccountingRequest) -> Duration {
        let by_interim =
            req.interim_interval.filter(|i| *i > 0).map(|i| Duration::from_secs(u64::from(i) * u64::from(self.interim_factor.max(1))));
        match (by_interim, req.session_timeout.filter(|t| *t > 0)) {
            (Some(d), _) => d,
            (None, Some(t)) => self.default.min(Duration::from_secs(u64::from(t))),
            (None, None) => self.default,
        }
    }
}

/// Which NAS a packet came from: its source address plus what it calls itself.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NasKey {
    /// UDP source address.
    pub source: IpAddr,
    /// NAS-Identifier, else NAS-IP-Address, else empty.
    pub name: String,
}

impl NasKey {
    /// The NAS behind a request from `source`.
    pub fn of(req: &AccountingRequest, source: IpAddr) -> NasKey {
        let name = req.nas_identifier.clone().or_else(|| req.nas_ip.map(|a| a.to_string())).unwrap_or_default();
        NasKey { source, name }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct SessionKey {
    nas: NasKey,
    id: String,
}

#[derive(Debug, Clone)]
struct Session {
    addrs: Vec<IpAddr>,
    expires: Timestamp,
}

/// What one packet changed, for the log and the tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Addresses bound to a user.
    Bound {
        /// The directory user name.
        user: String,
        /// The addresses.
        addrs: Vec<IpAddr>,
    },
    /// Addresses released.
    Released(Vec<IpAddr>),
    /// Nothing to do (no address, no user, or nothing of ours was bound).
    Nothing(&'static str),
}

/// RADIUS sessions and the bindings they hold in the book.
#[derive(Debug)]
pub struct Accounting {
    book: Arc<IdentityBook>,
    names: UserNameMap,
    lifetimes: Lifetimes,
    sessions: HashMap<SessionKey, Session>,
    /// Which session holds each address, so a late Stop cannot release a newer session's binding.
    owner: HashMap<IpAddr, SessionKey>,
}

impl Accounting {
    /// Sessions writing into `book`.
    pub fn new(book: Arc<IdentityBook>, names: UserNameMap, lifetimes: Lifetimes) -> Accounting {
        Accounting { book, names, lifetimes, sessions: HashMap::new(), owner: HashMap::new() }
    }

    /// The user-name mapping in use.
    pub fn names(&self) -> UserNameMap {
        self.names
    }

    /// Sessions open now.
    pub fn open_sessions(&self) -> usize {
        self.sessions.len()
    }

    /// Apply one verified request from `source`; `group` is the user's filtering group from the
    /// people directory, if they are in it.
    pub fn apply(&mut self, req: &AccountingRequest, source: IpAddr, group: Option<String>, now: Timestamp) -> Effect {
        let nas = NasKey::of(req, source);
        match req.status {
            StatusType::Start | StatusType::InterimUpdate => self.bind(req, nas, group, now),
            StatusType::Stop => self.stop(req, nas),
            StatusType::AccountingOn | StatusType::AccountingOff => self.clear_nas(&nas),
            StatusType::Other(_) => Effect::Nothing("status type not used for identity"),
        }
    }

    fn key(req: &AccountingRequest, nas: NasKey) -> Option<SessionKey> {
        let id = req.session_id.clone().filter(|s| !s.is_empty()).or_else(|| req.framed_addrs().first().map(|a| format!("addr:{a}")))?;
        Some(SessionKey { nas, id })
    }

    fn bind(&mut self, req: &AccountingRequest, nas: NasKey, group: Option<String>, now: Timestamp) -> Effect {
        let addrs = req.framed_addrs();
        if addrs.is_empty() {
            return Effect::Nothing("no Framed-IP-Address");
        }
        let Some(user) = req.user_name.as_deref().and_then(|u| self.names.person(u)) else {
            return Effect::Nothing("no User-Name");
        };
        let Some(key) = Accounting::key(req, nas) else { return Effect::Nothing("no session") };
        let life = SignedDuration::try_from(self.lifetimes.for_request(req)).unwrap_or(SignedDuration::from_hours(8));
        let expires = now.checked_add(life).unwrap_or(Timestamp::MAX);
        // An Interim-Update may carry a new address (a roam with DHCP renewal): drop the old ones.
        if let Some(old) = self.sessions.get(&key) {
            for a in old.addrs.clone() {
                if !addrs.contains(&a) {
                    self.release_owned(a, &key);
                }
            }
        }
        for a in &addrs {
            let since = match self.book.lookup(*a, now) {
                Some(b) if b.source == BindingSource::Radius && b.user.as_deref() == Some(user.as_str()) => b.since,
                _ => now,
            };
            self.book.bind(
                *a,
                Binding {
                    user: Some(user.clone()),
                    group: group.clone(),
                    device: req.calling_station.clone(),
                    source: BindingSource::Radius,
                    since,
                    expires: Some(expires),
                },
            );
            if let Some(prev) = self.owner.insert(*a, key.clone())
                && prev != key
                && let Some(s) = self.sessions.get_mut(&prev)
            {
                s.addrs.retain(|x| x != a);
            }
        }
        self.sessions.insert(key, Session { addrs: addrs.clone(), expires });
        Effect::Bound { user, addrs }
    }

    fn release_owned(&mut self, addr: IpAddr, key: &SessionKey) -> bool {
        if self.owner.get(&addr) == Some(key) {
            self.owner.remove(&addr);
            return self.book.release(addr, BindingSource::Radius).is_some();
        }
        false
    }

    fn stop(&mut self, req: &AccountingRequest, nas: NasKey) -> Effect {
        let Some(key) = Accounting::key(req, nas) else { return Effect::Nothing("no session") };
        // A Stop for a session begun before a restart still names its addresses: release those.
        let addrs = self.sessions.remove(&key).map(|s| s.addrs).unwrap_or_else(|| req.framed_addrs());
        let mut released = Vec::new();
        for a in addrs {
            let ours = self.owner.get(&a).is_none_or(|k| *k == key);
            if ours {
                self.owner.remove(&a);
                if self.book.release(a, BindingSource::Radius).is_some() {
                    released.push(a);
                }
            }
        }
        if released.is_empty() { Effect::Nothing("nothing of this session was bound") } else { Effect::Released(released) }
    }

    fn clear_nas(&mut self, nas: &NasKey) -> Effect {
        let keys: Vec<SessionKey> = self.sessions.keys().filter(|k| k.nas == *nas).cloned().collect();
        let mut released = Vec::new();
        for k in keys {
            if let Some(s) = self.sessions.remove(&k) {
                for a in s.addrs {
                    if self.release_owned(a, &k) {
                        released.push(a);
                    }
                }
            }
        }
        released.sort();
        Effect::Released(released)
    }

    /// Forget sessions whose bindings have expired (no Stop ever came); returns how many.
    pub fn prune(&mut self, now: Timestamp) -> usize {
        let gone: Vec<SessionKey> = self.sessions.iter().filter(|(_, s)| s.expires <= now).map(|(k, _)| k.clone()).collect();
        for k in &gone {
            if let Some(s) = self.sessions.remove(k) {
                for a in s.addrs {
                    if self.owner.get(&a) == Some(k) {
                        self.owner.remove(&a);
                        // Expired already for lookups; drop it from the book too if nobody rebound it.
                        if self.book.lookup(a, now).is_none() {
                            self.book.release(a, BindingSource::Radius);
                        }
                    }
                }
            }
        }
        gone.len()
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::packet::{RequestBuilder, parse_request};

    fn req(status: u32, user: &str, ip: [u8; 4], session: &str) -> AccountingRequest {
        let b = RequestBuilder::new(1, status).user(user).framed_ip(Ipv4Addr::from(ip)).session(session).build(b"s");
        parse_request(&b).unwrap_or_else(|e| panic!("{e}"))
    }

    const NAS: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
    const OTHER_NAS: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 3));

    fn ip(a: [u8; 4]) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(a))
    }

    #[test]
    fn realms_are_stripped_both_ways() {
        let m = UserNameMap::default();
        assert_eq!(m.person("J.Smith@school.example").as_deref(), Some("j.smith"));
        assert_eq!(m.person("SCHOOL\\J.Smith").as_deref(), Some("j.smith"));
        assert_eq!(m.person("@school"), None);
        let keep = UserNameMap { strip_realm: false };
        assert_eq!(keep.person("J.Smith@School").as_deref(), Some("j.smith@school"));
    }

    #[test]
    fn start_binds_stop_releases_and_a_late_stop_spares_the_new_session() {
        let book = IdentityBook::new();
        let mut acc = Accounting::new(book.clone(), UserNameMap::default(), Lifetimes::default());
        let now = Timestamp::from_second(1_700_000_000).unwrap_or(Timestamp::UNIX_EPOCH);
        acc.apply(&req(1, "amy@school", [10, 1, 0, 5], "s1"), NAS, Some("ks3".into()), now);
        let b = book.lookup(ip([10, 1, 0, 5]), now).unwrap_or_else(|| panic!("not bound"));
        assert_eq!((b.user.as_deref(), b.group.as_deref(), b.source), (Some("amy"), Some("ks3"), BindingSource::Radius));
        // The address moves to Ben's new session before Amy's Stop arrives.
        acc.apply(&req(1, "ben", [10, 1, 0, 5], "s2"), NAS, None, now);
        assert_eq!(acc.apply(&req(2, "amy", [10, 1, 0, 5], "s1"), NAS, None, now), Effect::Nothing("nothing of this session was bound"));
        assert_eq!(book.lookup(ip([10, 1, 0, 5]), now).and_then(|b| b.user).as_deref(), Some("ben"));
        assert_eq!(acc.apply(&req(2, "ben", [10, 1, 0, 5], "s2"), NAS, None, now), Effect::Released(vec![ip([10, 1, 0, 5])]));
        assert!(book.lookup(ip([10, 1, 0, 5]), now).is_none());
    }

    #[test]
    fn a_stop_never_ends_a_portal_sign_in() {
        let book = IdentityBook::new();
        let mut acc = Accounting::new(book.clone(), UserNameMap::default(), Lifetimes::default());
        let now = Timestamp::UNIX_EPOCH;
        acc.apply(&req(1, "amy", [10, 1, 0, 6], "s1"), NAS, None, now);
        let portal =
            Binding { user: Some("cat".into()), group: None, device: None, source: BindingSource::Portal, since: now, expires: None };
        book.bind(ip([10, 1, 0, 6]), portal);
        acc.apply(&req(2, "amy", [10, 1, 0, 6], "s1"), NAS, None, now);
        assert_eq!(book.lookup(ip([10, 1, 0, 6]), now).map(|b| b.source), Some(BindingSource::Portal));
    }

    #[test]
    fn accounting_on_clears_only_that_nas() {
        let book = IdentityBook::new();
        let mut acc = Accounting::new(book.clone(), UserNameMap::default(), Lifetimes::default());
        let now = Timestamp::UNIX_EPOCH;
        acc.apply(&req(1, "a", [10, 1, 0, 1], "s1"), NAS, None, now);
        acc.apply(&req(1, "b", [10, 1, 0, 2], "s2"), NAS, None, now);
        acc.apply(&req(1, "c", [10, 2, 0, 1], "s1"), OTHER_NAS, None, now);
        let on = parse_request(&RequestBuilder::new(9, 7).build(b"s")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(acc.apply(&on, NAS, None, now), Effect::Released(vec![ip([10, 1, 0, 1]), ip([10, 1, 0, 2])]));
        assert!(book.lookup(ip([10, 1, 0, 1]), now).is_none());
        assert!(book.lookup(ip([10, 2, 0, 1]), now).is_some());
        assert_eq!(acc.open_sessions(), 1);
    }

    #[test]
    fn interim_interval_sets_the_lifetime_and_prune_forgets_the_silent() {
        let book = IdentityBook::new();
        let mut acc = Accounting::new(book.clone(), UserNameMap::default(), Lifetimes::default());
        let now = Timestamp::UNIX_EPOCH;
        let b = RequestBuilder::new(1, 3)
            .user("a")
            .framed_ip(Ipv4Addr::new(10, 1, 0, 9))
            .session("s")
            .attr(85, &300u32.to_be_bytes())
            .build(b"s");
        let r = parse_request(&b).unwrap_or_else(|e| panic!("{e}"));
        acc.apply(&r, NAS, None, now);
        let exp = book.lookup(ip([10, 1, 0, 9]), now).and_then(|b| b.expires);
        assert_eq!(exp, now.checked_add(SignedDuration::from_secs(600)).ok());
        assert_eq!(acc.prune(now.checked_add(SignedDuration::from_secs(599)).unwrap_or(now)), 0);
        assert_eq!(acc.prune(now.checked_add(SignedDuration::from_secs(600)).unwrap_or(now)), 1);
        assert_eq!(acc.open_sessions(), 0);
    }
}
