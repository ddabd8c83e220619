//! The live address book: which person (or guest, or registered device) is behind each client
//! address right now, and which source said so.
//!
//! Sources (the captive portal, guest passes, RADIUS accounting, registered devices) write
//! bindings; every DNS query and proxy request reads them through [`Identify`]. Reads are one
//! atomic load of an immutable map (no lock on the answer path); writes, which are rare, copy the
//! map and swap it in.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use jiff::Timestamp;

use crate::{Identify, OwnedWho};

/// Where a binding came from, so the console can say why an address belongs to someone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BindingSource {
    /// Someone signed in at the captive portal.
    Portal,
    /// A guest pass, approved by a sponsoring member of staff.
    Guest,
    /// A Wi-Fi controller's RADIUS accounting (Start/Interim-Update).
    Radius,
    /// A device registered in the console with a fixed address.
    Device,
}

impl BindingSource {
    /// The stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            BindingSource::Portal => "portal",
            BindingSource::Guest => "guest",
            BindingSource::Radius => "radius",
            BindingSource::Device => "device",
        }
    }

    /// Parse a stored name.
    pub fn parse(s: &str) -> Option<BindingSource> {
        Some(match s {
            "portal" => BindingSource::Portal,
            "guest" => BindingSource::Guest,
            "radius" => BindingSource::Radius,
            "device" => BindingSource::Device,
            _ => return None,
        })
    }
}

/// One address bound to whoever is using it, for a while.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The person's user name (directory or account), if known.
    pub user: Option<String>,
    /// The filtering group settled on when the binding was made (from the people directory).
    pub group: Option<String>,
    /// The device name, if known (registered devices, RADIUS station id).
    pub device: Option<String>,
    /// Which source made the binding.
    pub source: BindingSource,
    /// When it was made.
    pub since: Timestamp,
    /// When it stops counting; `None` until released (registered devices, RADIUS until Stop).
    pub expires: Option<Timestamp>,
}

impl Binding {
    /// Whether the binding still counts at `now`.
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.expires.is_none_or(|e| now < e)
    }
}

/// The shared, live address book; cheap to read from every query.
#[derive(Debug, Default)]
pub struct IdentityBook {
    map: ArcSwap<HashMap<IpAddr, Binding>>,
    /// Serialises writers so two copy-and-swap updates never lose each other's change.
    write: Mutex<()>,
}

impl IdentityBook {
    /// An empty book.
    pub fn new() -> Arc<IdentityBook> {
        Arc::new(IdentityBook::default())
    }

    fn update<R>(&self, f: impl FnOnce(&mut HashMap<IpAddr, Binding>) -> R) -> R {
        let _guard = self.write.lock().unwrap_or_else(|p| p.into_inner());
        let mut next = HashMap::clone(&self.map.load());
        let r = f(&mut next);
        self.map.store(Arc::new(next));
        r
    }

    /// Bind an address, replacing whatever was bound to it (the newest sign-in wins); returns the
    /// binding it replaced.
    pub fn bind(&self, addr: IpAddr, binding: Binding) -> Option<Binding> {
        self.update(|m| m.insert(addr, binding))
    }

    /// Release an address if it is still bound by `source` (a RADIUS Stop must not end a portal
    /// sign-in made since); returns the binding released.
    pub fn release(&self, addr: IpAddr, source: BindingSource) -> Option<Binding> {
        self.update(|m| if m.get(&addr).is_some_and(|b| b.source == source) { m.remove(&addr) } else { None })
    }

    /// Release an address whatever bound it (a forced sign-out from the console); returns the
    /// binding released.
    pub fn remove(&self, addr: IpAddr) -> Option<Binding> {
        if !self.map.load().contains_key(&addr) {
            return None;
        }
        self.update(|m| m.remove(&addr))
    }

    /// Whether an address has a live binding at `now` (the captive portal leaves bound ones alone).
    pub fn is_bound(&self, addr: IpAddr, now: Timestamp) -> bool {
        self.map.load().get(&addr).is_some_and(|b| b.is_live(now))
    }

    /// Replace every binding of one source at once (reloading registered devices or restoring
    /// stored sessions at start), leaving other sources' bindings alone.
    pub fn replace_source(&self, source: BindingSource, bindings: impl IntoIterator<Item = (IpAddr, Binding)>) {
        self.update(|m| {
            m.retain(|_, b| b.source != source);
            for (a, b) in bindings {
                m.insert(a, b);
            }
        })
    }

    /// Drop bindings that have expired by `now`; returns them, so the caller can record the ends.
    pub fn expire(&self, now: Timestamp) -> Vec<(IpAddr, Binding)> {
        if self.map.load().values().all(|b| b.is_live(now)) {
            return Vec::new();
        }
        self.update(|m| {
            let gone: Vec<IpAddr> = m.iter().filter(|(_, b)| !b.is_live(now)).map(|(a, _)| *a).collect();
            gone.into_iter().filter_map(|a| m.remove(&a).map(|b| (a, b))).collect()
        })
    }

    /// The live binding for an address at `now`.
    pub fn lookup(&self, addr: IpAddr, now: Timestamp) -> Option<Binding> {
        self.map.load().get(&addr).filter(|b| b.is_live(now)).cloned()
    }

    /// Everything bound now, sorted by address, for the console's "who is on which address".
    pub fn current(&self, now: Timestamp) -> Vec<(IpAddr, Binding)> {
        let mut v: Vec<(IpAddr, Binding)> =
            self.map.load().iter().filter(|(_, b)| b.is_live(now)).map(|(a, b)| (*a, b.clone())).collect();
        v.sort_by_key(|(a, _)| *a);
        v
    }
}

impl Identify for IdentityBook {
    fn who(&self, client: IpAddr) -> OwnedWho {
        let map = self.map.load();
        match map.get(&client) {
            Some(b) if b.is_live(Timestamp::now()) => {
                OwnedWho { user: b.user.clone(), group: b.group.clone(), device: b.device.clone(), client: Some(client) }
            }
            _ => OwnedWho { client: Some(client), ..OwnedWho::default() },
        }
    }
}
