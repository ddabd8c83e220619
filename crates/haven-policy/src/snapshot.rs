//! A snapshot: taxonomy, illegal floor, lists and policy frozen together, plus the handle that
//! swaps a new snapshot in atomically so decisions in flight never see a half-built state.

use std::sync::Arc;

use arc_swap::ArcSwap;
use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::category::{CategoryId, CategoryKind, CategorySet, Taxonomy};
use crate::decision::{DecidedBy, Decision, Host, Identity, Verdict, What, Who};
use crate::domain_index::Ancestry;
use crate::list_line::strip_www;
use crate::list_set::{Hit, ListSet, NameMatches, UrlMatches};
use crate::name::Name;
use crate::policy::{Action, Base, Group, IdentitySource, Policy};
use crate::schedule::LocalTime;

/// Why lists and a policy could not be frozen together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// A floor source names a category that is not illegal content.
    #[error("illegal-floor source `{source_name}` must use an illegal-content category, not `{category}`")]
    FloorCategory {
        /// The source.
        source_name: String,
        /// Its category.
        category: String,
    },
    /// An ordinary list source tries to use an illegal-content category.
    #[error("list `{source_name}` uses illegal-content category `{category}`; such lists belong to the illegal floor ([[illegal]])")]
    ListCategory {
        /// The source.
        source_name: String,
        /// Its category.
        category: String,
    },
}

/// Everything a decision needs, immutable once built. The floor and the lists are shared
/// (`Arc`), so a policy change compiles a new `Policy` and swaps it in without reloading them.
pub struct Snapshot {
    taxonomy: Taxonomy,
    floor: Arc<ListSet>,
    lists: Arc<ListSet>,
    policy: Policy,
    tz: TimeZone,
    strong: CategorySet,
    allow_kind: CategorySet,
    /// Fewest labels of any domain entry in any table; shorter ancestors are never hashed.
    min_labels: usize,
}

impl Snapshot {
    /// Freeze a snapshot, checking that illegal content lives only in the floor.
    pub fn new(taxonomy: Taxonomy, floor: ListSet, lists: ListSet, policy: Policy, tz: TimeZone) -> Result<Snapshot, SnapshotError> {
        Snapshot::from_shared(taxonomy, Arc::new(floor), Arc::new(lists), policy, tz)
    }

    /// The same taxonomy, floor and lists (shared, not copied) under another policy: how a
    /// console policy change takes effect in milliseconds. The policy must have been compiled
    /// against this snapshot's floor (`Policy::compile(spec, self.taxonomy(), self.floor())`).
    pub fn with_policy(&self, policy: Policy) -> Snapshot {
        let min_labels = Snapshot::min_labels_of(&policy, &self.floor, &self.lists);
        Snapshot {
            taxonomy: self.taxonomy.clone(),
            floor: self.floor.clone(),
            lists: self.lists.clone(),
            policy,
            tz: self.tz.clone(),
            strong: self.strong,
            allow_kind: self.allow_kind,
            min_labels,
        }
    }

    fn min_labels_of(policy: &Policy, floor: &ListSet, lists: &ListSet) -> usize {
        policy.groups().iter().map(|g| g.site_min_labels()).fold(floor.min_labels().min(lists.min_labels()), usize::min).max(1)
    }

    /// As [`Snapshot::new`], over lists already shared with another snapshot.
    pub fn from_shared(
        taxonomy: Taxonomy,
        floor: Arc<ListSet>,
        lists: Arc<ListSet>,
        policy: Policy,
        tz: TimeZone,
    ) -> Result<Snapshot, SnapshotError> {
        for s in floor.sources() {
            if taxonomy.get(s.category).kind != CategoryKind::Illegal {
                return Err(SnapshotError::FloorCategory {
                    source_name: s.name.to_string(),
                    category: taxonomy.get(s.category).id.to_string(),
                });
            }
        }
        for s in lists.sources() {
            if taxonomy.get(s.category).kind == CategoryKind::Illegal {
                return Err(SnapshotError::ListCategory {
                    source_name: s.name.to_string(),
                    category: taxonomy.get(s.category).id.to_string(),
                });
            }
        }
        let strong = taxonomy
            .of_kind(CategoryKind::Harm)
            .union(taxonomy.of_kind(CategoryKind::Bypass))
            .union(taxonomy.of_kind(CategoryKind::Security))
            .union(taxonomy.of_kind(CategoryKind::Illegal));
        let allow_kind = taxonomy.of_kind(CategoryKind::Allow);
        let min_labels = Snapshot::min_labels_of(&policy, &floor, &lists);
        Ok(Snapshot { taxonomy, floor, lists, policy, tz, strong, allow_kind, min_labels })
    }

    /// The taxonomy in force.
    pub fn taxonomy(&self) -> &Taxonomy {
        &self.taxonomy
    }

    /// The categorised lists.
    pub fn lists(&self) -> &ListSet {
        &self.lists
    }

    /// The illegal-content floor.
    pub fn floor(&self) -> &ListSet {
        &self.floor
    }

    /// The groups, windows and directory.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The school's time zone (Europe/London).
    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    /// Place a person in a group: named group, then user, then device address, then network, else the fallback.
    pub fn resolve<'a>(&'a self, who: &Who<'a>) -> Identity<'a> {
        let p = &self.policy;
        let mut id = Identity { group: p.fallback(), user: who.user, device: who.device, subgroups: 0, source: IdentitySource::Unknown };
        if let Some(g) = who.group {
            if let Some(gi) = p.group_idx(g) {
                id.group = gi;
                id.source = IdentitySource::Group;
            }
        } else if let Some(gi) = who.user.and_then(|u| p.directory.users.get(u)) {
            id.group = *gi;
            id.source = IdentitySource::User;
        } else if let Some(ip) = who.client {
            if let Some(d) = p.directory.devices.get(&ip) {
                id.device = Some(&d.name);
                if id.user.is_none() {
                    id.user = d.user.as_deref();
                }
                let by_user = id.user.and_then(|u| p.directory.users.get(u)).copied();
                if let Some(g) = d.group.or(by_user) {
                    id.group = g;
                    id.source = IdentitySource::Device;
                }
            }
            if id.source == IdentitySource::Unknown
                && let Some((_, g)) = p.directory.networks.iter().find(|(net, _)| net.contains(&ip))
            {
                id.group = *g;
                id.source = IdentitySource::Network;
            }
        }
        if let Some(u) = id.user {
            id.subgroups = p.group(id.group).subgroups_of(u);
        }
        id
    }

    /// Decide for a person at an instant.
    pub fn decide<'s>(&'s self, who: &Who<'s>, what: &What, at: Timestamp) -> Decision<'s> {
        let id = self.resolve(who);
        self.decide_for(&id, what, at)
    }

    /// Decide for an already-resolved identity: the hot path front ends call.
    pub fn decide_for<'s>(&'s self, id: &Identity<'_>, what: &What, at: Timestamp) -> Decision<'s> {
        let group = self.policy.group(id.group);
        let mut d = Decision {
            action: Action::Allow,
            category: None,
            categories: CategorySet::EMPTY,
            decided_by: DecidedBy::GroupDefault,
            hit: None,
            group,
            identity: id.source,
        };

        let (name, path): (Option<&Name>, Option<&str>) = match what {
            What::Name(n) => (Some(n), None),
            What::Ip(_) => (None, None),
            What::Url { host: Host::Name(n), path } => (Some(n), Some(path.as_str())),
            What::Url { host: Host::Ip(_), path } => (None, Some(path.as_str())),
        };
        let ip_as_name;
        let site_name = match name {
            Some(n) => Some(n),
            None => {
                ip_as_name = ip_name(what);
                ip_as_name.as_ref()
            }
        };
        // Each ancestor is hashed once here and shared by the floor, the site entries and the lists.
        let anc = site_name.map(|n| Ancestry::down_to(n, self.min_labels));

        // 1. The illegal floor, before anything else; nothing below can undo it.
        if let Some((cat, hit)) = self.floor_hit(what, anc.as_ref()) {
            return self.floor_decision(id, cat, hit);
        }

        // 2. The group's own site entries, most specific first.
        if let Some(e) = anc.as_ref().and_then(|a| group.site_for(a, path, id.user)) {
            d.action = e.action;
            d.decided_by = DecidedBy::SiteEntry(e);
            return d;
        }

        // 3. Categories from the lists.
        let name_m = match (name, anc.as_ref()) {
            (Some(_), Some(a)) => self.lists.match_ancestry(a),
            _ => NameMatches::NONE,
        };
        let url_m = match (what, name) {
            (What::Url { path, .. }, Some(n)) => self.lists.match_url(n, path),
            _ => UrlMatches::default(),
        };
        let ip = match what {
            What::Ip(ip) | What::Url { host: Host::Ip(ip), .. } => Some(*ip),
            _ => None,
        };
        let (ip_cats, ip_sources) = ip.map_or((CategorySet::EMPTY, None), |ip| self.lists.match_ip(ip));
        d.categories = name_m.categories.union(url_m.categories).union(ip_cats);
        if d.categories.is_empty() {
            d.action = group.default;
            return d;
        }
        let mut local = None;
        let (action, cat, verdict) = self.categorise(group, id, d.categories, at, &mut local);
        d.action = action;
        d.category = Some(cat);
        d.decided_by = DecidedBy::Category(verdict);
        d.hit = url_m.explain(cat).or_else(|| name.and_then(|n| self.lists.explain_name(&name_m, n, cat))).or_else(|| {
            ip_sources.and_then(|srcs| {
                srcs.iter().map(|s| self.lists.source(*s)).find(|s| s.category == cat).map(|s| Hit { source: s, entry: "" })
            })
        });
        d
    }

    /// Only the illegal floor: for re-checking CNAME targets and answer addresses without the
    /// cost of a full decision. `Some` exactly when `decide_for` would be decided by the floor.
    pub fn decide_floor<'s>(&'s self, id: &Identity<'_>, what: &What) -> Option<Decision<'s>> {
        let anc = match what {
            What::Name(n) | What::Url { host: Host::Name(n), .. } => Some(Ancestry::down_to(n, self.min_labels)),
            _ => None,
        };
        self.floor_hit(what, anc.as_ref()).map(|(cat, hit)| self.floor_decision(id, cat, hit))
    }

    fn floor_decision<'s>(&'s self, id: &Identity<'_>, cat: CategoryId, hit: Hit<'s>) -> Decision<'s> {
        let mut categories = CategorySet::EMPTY;
        categories.insert(cat);
        Decision {
            action: Action::Block,
            category: Some(cat),
            categories,
            decided_by: DecidedBy::IllegalFloor,
            hit: Some(hit),
            group: self.policy.group(id.group),
            identity: id.source,
        }
    }

    fn categorise(
        &self,
        g: &Group,
        id: &Identity<'_>,
        cats: CategorySet,
        at: Timestamp,
        local: &mut Option<LocalTime>,
    ) -> (Action, CategoryId, Verdict) {
        let mut blocked = cats.intersect(g.block_mask);
        let mut allowed = cats.intersect(g.allow_mask);
        for c in cats.minus(g.block_mask).minus(g.allow_mask).iter() {
            match self.verdict(g, c, id, at, local) {
                Verdict::Allowed | Verdict::AllowedInWindow(_) | Verdict::AllowedNominated | Verdict::AllowException => allowed.insert(c),
                _ => blocked.insert(c),
            }
        }
        let strong = blocked.intersect(self.strong);
        if let Some(c) = self.top(strong) {
            return (Action::Block, c, self.verdict(g, c, id, at, local));
        }
        if !blocked.is_empty()
            && let Some(c) = self.top(allowed.intersect(self.allow_kind))
        {
            return (Action::Allow, c, Verdict::AllowException);
        }
        if let Some(c) = self.top(blocked) {
            return (Action::Block, c, self.verdict(g, c, id, at, local));
        }
        match self.top(allowed) {
            Some(c) => (Action::Allow, c, self.verdict(g, c, id, at, local)),
            // Unreachable while `cats` is non-empty; answer as a block to fail closed.
            None => (Action::Block, cats.iter().next().unwrap_or(CategoryId(0)), Verdict::Blocked),
        }
    }

    fn verdict(&self, g: &Group, c: CategoryId, id: &Identity<'_>, at: Timestamp, local: &mut Option<LocalTime>) -> Verdict {
        let r = g.rule(c);
        let nominated = r.has_nominees() && r.is_nominated(id.user, id.subgroups);
        match r.base {
            Base::Allow => Verdict::Allowed,
            Base::Block if nominated => Verdict::AllowedNominated,
            Base::Block if r.has_nominees() => Verdict::BlockedNotNominated,
            Base::Block => Verdict::Blocked,
            Base::During(mask) => {
                let t = *local.get_or_insert_with(|| LocalTime::at(at, &self.tz));
                match self.policy.windows_active(mask, t) {
                    Some(w) => Verdict::AllowedInWindow(w),
                    None if nominated => Verdict::AllowedNominated,
                    None => Verdict::BlockedOutsideWindows(mask),
                }
            }
        }
    }

    /// The most serious category in a set: by kind, then taxonomy order.
    fn top(&self, set: CategorySet) -> Option<CategoryId> {
        let mut best: Option<(u8, CategoryId)> = None;
        for c in set.iter() {
            let r = self.taxonomy.get(c).kind.rank();
            if best.is_none_or(|(br, _)| r > br) {
                best = Some((r, c));
            }
        }
        best.map(|(_, c)| c)
    }

    fn floor_hit(&self, what: &What, anc: Option<&Ancestry<'_>>) -> Option<(CategoryId, Hit<'_>)> {
        let f = &self.floor;
        if f.is_empty() {
            return None;
        }
        let (name, path, ip) = match what {
            What::Name(n) => (Some(n), None, None),
            What::Ip(ip) => (None, None, Some(*ip)),
            What::Url { host: Host::Name(n), path } => (Some(n), Some(path.as_str()), None),
            What::Url { host: Host::Ip(ip), path } => (None, Some(path.as_str()), Some(*ip)),
        };
        if let (Some(n), Some(a)) = (name, anc) {
            let m = f.match_ancestry(a);
            if let Some(c) = m.categories.iter().next() {
                return f.explain_name(&m, n, c).map(|h| (c, h));
            }
            if let Some(p) = path {
                let um = f.match_url(n, p);
                if let Some(c) = um.categories.iter().next() {
                    return um.explain(c).map(|h| (c, h));
                }
            }
        }
        if let Some(ip) = ip {
            let (cats, srcs) = f.match_ip(ip);
            if let (Some(c), Some(srcs)) = (cats.iter().next(), srcs) {
                return Some((c, Hit { source: f.source(srcs[0]), entry: "" }));
            }
        }
        if f.has_hashed() {
            // Names: hash each ancestor's bytes in place. URLs (proxy only) also need host/path texts.
            let hit = match what {
                What::Name(n) => f.match_hashed_bytes(n.ancestors().map(|(_, a)| a)),
                _ => {
                    let candidates = hashed_candidates(what);
                    f.match_hashed(candidates.iter().map(String::as_str))
                }
            };
            if let Some(h) = hit {
                return Some((h.source.category, h));
            }
        }
        None
    }

    /// The plain-English sentence for a decision ("Blocked for Key Stage 3: Gambling").
    pub fn sentence(&self, d: &Decision<'_>) -> String {
        let verb = if d.is_blocked() { "Blocked" } else { "Allowed" };
        let title = |c: Option<CategoryId>| c.map_or("", |c| &*self.taxonomy.get(c).title);
        match d.decided_by {
            DecidedBy::IllegalFloor => format!(
                "Blocked: {} on the {} list. Nothing can override this.",
                title(d.category).to_lowercase(),
                d.hit.map_or("illegal-content", |h| &*h.source.name)
            ),
            DecidedBy::SiteEntry(e) => {
                format!("{verb} for {}: site entry {} ({}), added by {}", d.group.title, e.reference, e.reason, e.author)
            }
            DecidedBy::GroupDefault => match d.action {
                Action::Allow => format!("Allowed for {}: not in any blocked category", d.group.title),
                Action::Block => format!("Blocked for {}: not on the group's allowed sites", d.group.title),
            },
            DecidedBy::Category(v) => {
                let t = title(d.category);
                let g = &d.group.title;
                match v {
                    Verdict::Allowed | Verdict::Blocked => format!("{verb} for {g}: {t}"),
                    Verdict::AllowedInWindow(w) => {
                        format!("Allowed for {g}: {t} (during {})", self.policy.windows().get(w).map_or("", |w| &*w.title))
                    }
                    Verdict::BlockedOutsideWindows(mask) => {
                        format!("Blocked for {g}: {t} (allowed only during {})", self.policy.window_titles(mask).join(", "))
                    }
                    Verdict::AllowedNominated => format!("Allowed for {g}: {t} (nominated user)"),
                    Verdict::BlockedNotNominated => format!("Blocked for {g}: {t} (allowed for nominated users only)"),
                    Verdict::AllowException => format!("Allowed for {g}: {t} (a trusted category that outranks school-choice blocks)"),
                }
            }
        }
    }

    /// A short stable reference for the deciding rule, shown on block pages.
    pub fn reference(&self, d: &Decision<'_>) -> String {
        match d.decided_by {
            DecidedBy::IllegalFloor => format!("floor/{}", d.hit.map_or("illegal", |h| &*h.source.name)),
            DecidedBy::SiteEntry(e) => e.reference.to_string(),
            DecidedBy::GroupDefault => format!("{}/default", d.group.id),
            DecidedBy::Category(_) => format!("{}/{}", d.group.id, d.category.map_or("", |c| &*self.taxonomy.get(c).id)),
        }
    }
}

fn ip_name(what: &What) -> Option<Name> {
    match what {
        What::Ip(ip) | What::Url { host: Host::Ip(ip), .. } => Name::parse(&ip.to_string()).ok(),
        _ => None,
    }
}

/// Texts whose SHA-256 a hashed feed may hold: each host ancestor, and `host/path` at each path boundary.
fn hashed_candidates(what: &What) -> Vec<String> {
    let (host, path) = match what {
        What::Name(n) => (n.to_string(), None),
        What::Ip(ip) => (ip.to_string(), None),
        What::Url { host: Host::Name(n), path } => (n.to_string(), Some(path.as_str())),
        What::Url { host: Host::Ip(ip), path } => (ip.to_string(), Some(path.as_str())),
    };
    let mut out: Vec<String> = Vec::new();
    match Name::parse(&host) {
        Ok(n) => out.extend(n.ancestors().map(|(_, a)| String::from_utf8_lossy(a).into_owned())),
        Err(_) => out.push(host.clone()),
    }
    if let Some(p) = path {
        let mut hosts = vec![host.clone()];
        if let Ok(n) = Name::parse(&host) {
            let w = strip_www(n).to_string();
            if w != host {
                hosts.push(w);
            }
        }
        for h in hosts {
            let (p_no_q, _) = p.split_once('?').unwrap_or((p, ""));
            for (i, b) in p_no_q.bytes().enumerate() {
                if b == b'/' && i > 0 {
                    out.push(format!("{h}{}", &p_no_q[..i]));
                    out.push(format!("{h}{}", &p_no_q[..=i]));
                }
            }
            out.push(format!("{h}{p_no_q}"));
            if p_no_q.len() != p.len() {
                out.push(format!("{h}{p}"));
            }
        }
    }
    out
}

/// The live snapshot, swapped atomically on reload; readers never block and never see half a build.
pub struct PolicyHandle {
    current: ArcSwap<Snapshot>,
}

impl PolicyHandle {
    /// Start serving a snapshot.
    pub fn new(snapshot: Snapshot) -> PolicyHandle {
        PolicyHandle { current: ArcSwap::from_pointee(snapshot) }
    }

    /// The snapshot in force now; hold it for the whole of one decision.
    pub fn load(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Swap in a new snapshot; returns the old one, which is freed when its last reader finishes.
    pub fn replace(&self, snapshot: Snapshot) -> Arc<Snapshot> {
        self.current.swap(Arc::new(snapshot))
    }
}
