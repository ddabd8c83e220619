//! Groups and their policies: an action per category, per-site allow and block entries with a
//! reason and an author, nominated users, and the directory that says who is in which group.
//!
//! `PolicySpec` is plain data from configuration; `Policy::compile` checks it against the
//! taxonomy and the illegal floor and reports every problem with the field it came from.

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::category::{CategoryId, CategoryKind, CategorySet, Taxonomy};
use crate::domain_index::{Ancestry, DomainIndex, DomainIndexBuilder};
use crate::list_line::{UrlPattern, strip_www};
use crate::list_set::{ListSet, url_pattern_text};
use crate::name::{Name, is_public_suffix};
use crate::schedule::{LocalTime, Window};

/// Allow or block: the two outcomes a decision can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Let the request through (still logged).
    Allow,
    /// Stop the request and explain why.
    Block,
}

impl Action {
    /// Lower-case word for logs and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Block => "block",
        }
    }
}

/// Whose policy a group is; the fallback group must be a pupil-strict one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupKind {
    /// Pupils: the strictest policies; unknown clients must be at least this strict.
    Pupil,
    /// Staff.
    Staff,
    /// Visitors, trainees and supply staff.
    Guest,
    /// Unidentified devices: must fail closed.
    Unknown,
}

impl GroupKind {
    /// Parse the configuration word.
    pub fn parse(s: &str) -> Option<GroupKind> {
        Some(match s {
            "pupil" => GroupKind::Pupil,
            "staff" => GroupKind::Staff,
            "guest" => GroupKind::Guest,
            "unknown" => GroupKind::Unknown,
            _ => return None,
        })
    }

    /// The configuration word.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupKind::Pupil => "pupil",
            GroupKind::Staff => "staff",
            GroupKind::Guest => "guest",
            GroupKind::Unknown => "unknown",
        }
    }
}

/// YouTube Restricted Mode level a group is held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YouTubeMode {
    /// No restriction.
    Off,
    /// `restrictmoderate.youtube.com`.
    Moderate,
    /// `restrict.youtube.com`.
    Strict,
}

impl YouTubeMode {
    /// Parse the configuration word.
    pub fn parse(s: &str) -> Option<YouTubeMode> {
        Some(match s {
            "off" => YouTubeMode::Off,
            "moderate" => YouTubeMode::Moderate,
            "strict" => YouTubeMode::Strict,
            _ => return None,
        })
    }

    /// The configuration word.
    pub fn as_str(self) -> &'static str {
        match self {
            YouTubeMode::Off => "off",
            YouTubeMode::Moderate => "moderate",
            YouTubeMode::Strict => "strict",
        }
    }
}

/// Safe-search enforcement for a group: locked on for pupils by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SafeSearch {
    /// Force safe search on Google, Bing, DuckDuckGo, Ecosia, Yandex and Pixabay.
    pub search: bool,
    /// YouTube Restricted Mode level.
    pub youtube: YouTubeMode,
}

impl SafeSearch {
    /// Everything off (staff by default).
    pub const OFF: SafeSearch = SafeSearch { search: false, youtube: YouTubeMode::Off };
    /// Search locked and YouTube strict: the safe default for anyone unidentified.
    pub const STRICT: SafeSearch = SafeSearch { search: true, youtube: YouTubeMode::Strict };
}

/// How the DNS service answers a blocked A/AAAA query for a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockAnswer {
    /// The address of Haven's block page, so a browser shows why.
    BlockPage,
    /// NXDOMAIN, as if the name did not exist.
    Nxdomain,
}

impl BlockAnswer {
    /// Parse the configuration word.
    pub fn parse(s: &str) -> Option<BlockAnswer> {
        Some(match s {
            "block_page" => BlockAnswer::BlockPage,
            "nxdomain" => BlockAnswer::Nxdomain,
            _ => return None,
        })
    }

    /// The configuration word.
    pub fn as_str(self) -> &'static str {
        match self {
            BlockAnswer::BlockPage => "block_page",
            BlockAnswer::Nxdomain => "nxdomain",
        }
    }
}

/// A category rule as written: base action plus optional nominees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaseSpec {
    /// Always allowed.
    Allow,
    /// Always blocked (unless nominated).
    Block,
    /// Allowed inside the named windows, blocked outside them.
    During(Vec<String>),
}

/// One category's rule in a group, as configuration writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSpec {
    /// What applies to everyone in the group.
    pub base: BaseSpec,
    /// Users (`name`) or sub-groups (`@name`) always allowed this category.
    pub nominated: Vec<String>,
}

/// A per-site entry as written: every one carries why and who.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteSpec {
    /// Allow or block.
    pub action: Action,
    /// A domain (covers subdomains) or `host/path` prefix.
    pub site: String,
    /// Why the entry exists; mandatory.
    pub reason: String,
    /// Who asked for or approved it; mandatory.
    pub author: String,
    /// Only these user names (a pupil, a class, the requester); empty: everyone in the group.
    pub users: Vec<String>,
    /// A stable reference for block pages (console entries: `site-12`); `None`: `{group}-site-{n}`.
    pub reference: Option<String>,
}

/// A group as written in configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSpec {
    /// Identifier (`ks3`).
    pub id: String,
    /// Title for people ("Key Stage 3").
    pub title: String,
    /// Whose policy it is.
    pub kind: GroupKind,
    /// Action for names in no category, and for categories without a rule.
    pub default: Action,
    /// Category id to rule.
    pub rules: Vec<(String, RuleSpec)>,
    /// Sub-group id to member user names, for nominated-user rules.
    pub subgroups: Vec<(String, Vec<String>)>,
    /// Per-site entries.
    pub sites: Vec<SiteSpec>,
    /// Safe-search enforcement.
    pub safe_search: SafeSearch,
    /// How blocked names are answered over DNS.
    pub block_answer: BlockAnswer,
}

/// A named time window as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowSpec {
    /// Identifier (`lunch`).
    pub id: String,
    /// Title for block pages ("Lunch").
    pub title: String,
    /// Spans such as `Mon-Fri 12:15-13:15`.
    pub spans: Vec<String>,
}

/// Static identity as written: users, fixed device addresses and networks mapped to groups.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirectorySpec {
    /// (user name, group id).
    pub users: Vec<(String, String)>,
    /// Fixed addresses: (address, device name, optional user, optional group).
    pub devices: Vec<(String, String, Option<String>, Option<String>)>,
    /// (CIDR, group id); the longest prefix wins.
    pub networks: Vec<(String, String)>,
}

/// The whole policy as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicySpec {
    /// Groups in display order.
    pub groups: Vec<GroupSpec>,
    /// Named windows.
    pub windows: Vec<WindowSpec>,
    /// Group for anyone Haven cannot identify; must fail closed.
    pub fallback_group: String,
    /// Static identity.
    pub directory: DirectorySpec,
}

/// One problem in a policy, with the configuration field it came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct PolicyError {
    /// Dotted path of the offending field, e.g. `groups.ks3.categories.gamblin`.
    pub field: String,
    /// What is wrong, in plain English.
    pub message: String,
    /// True when this was an attempt to change the illegal-content floor (recorded for audit).
    pub floor_override: bool,
}

impl PolicyError {
    fn new(field: impl Into<String>, message: impl Into<String>) -> PolicyError {
        PolicyError { field: field.into(), message: message.into(), floor_override: false }
    }

    fn floor(field: impl Into<String>, message: impl Into<String>) -> PolicyError {
        PolicyError { field: field.into(), message: message.into(), floor_override: true }
    }
}

/// Most windows and most sub-groups per group: each is a bit in a `u64`.
pub const MAX_WINDOWS: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Base {
    Allow,
    Block,
    During(u64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rule {
    pub(crate) base: Base,
    users: Box<[Box<str>]>,
    subgroups: u64,
}

impl Rule {
    pub(crate) fn is_nominated(&self, user: Option<&str>, subgroups: u64) -> bool {
        self.subgroups & subgroups != 0 || user.is_some_and(|u| self.users.binary_search_by(|x| (**x).cmp(u)).is_ok())
    }

    pub(crate) fn has_nominees(&self) -> bool {
        self.subgroups != 0 || !self.users.is_empty()
    }

    fn strictness(&self) -> u8 {
        match (self.base, self.has_nominees()) {
            (Base::Block, false) => 0,
            (Base::Block, true) => 1,
            (Base::During(_), _) => 2,
            (Base::Allow, _) => 3,
        }
    }
}

/// A compiled per-site entry.
#[derive(Debug, Clone)]
pub struct SiteEntry {
    /// Allow or block.
    pub action: Action,
    /// The site as written, normalised.
    pub site: Box<str>,
    /// Why it exists.
    pub reason: Box<str>,
    /// Who made it.
    pub author: Box<str>,
    /// Reference number shown on block pages (`ks3-site-2`).
    pub reference: Box<str>,
    /// Only these users (sorted); empty: the whole group.
    pub users: Box<[Box<str>]>,
    url: Option<UrlPattern>,
}

impl SiteEntry {
    /// Whether the entry applies to this user (entries without a user scope apply to everyone).
    pub fn applies_to(&self, user: Option<&str>) -> bool {
        self.users.is_empty() || user.is_some_and(|u| self.users.binary_search_by(|x| (**x).cmp(u)).is_ok())
    }
}

#[derive(Debug, Clone, Default)]
struct SiteRules {
    entries: Vec<SiteEntry>,
    /// Host -> index into `buckets`, in the same fast table the lists use (no UTF-8 or SipHash per ancestor).
    hosts: DomainIndex,
    /// Per host: (domain-level entries, URL-level entries).
    buckets: Vec<(Vec<usize>, Vec<usize>)>,
}

/// A sub-group: its id and its sorted member user names.
type Subgroup = (Box<str>, Box<[Box<str>]>);

/// A compiled group: what its members may reach and when.
#[derive(Debug, Clone)]
pub struct Group {
    /// Identifier.
    pub id: Box<str>,
    /// Title for people.
    pub title: Box<str>,
    /// Whose policy it is.
    pub kind: GroupKind,
    /// Action for uncategorised names.
    pub default: Action,
    /// Safe-search enforcement for the group's members.
    pub safe_search: SafeSearch,
    /// How the DNS service answers blocked names for the group.
    pub block_answer: BlockAnswer,
    pub(crate) rules: Vec<Rule>,
    /// Categories blocked outright for everyone in the group: a fast path.
    pub(crate) block_mask: CategorySet,
    /// Categories allowed outright: a fast path.
    pub(crate) allow_mask: CategorySet,
    subgroups: Vec<Subgroup>,
    sites: SiteRules,
}

/// Index of a group in its policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GroupIdx(pub(crate) u16);

impl Group {
    /// Bit mask of the sub-groups `user` belongs to.
    pub fn subgroups_of(&self, user: &str) -> u64 {
        let mut m = 0;
        for (i, (_, members)) in self.subgroups.iter().enumerate() {
            if members.binary_search_by(|x| (**x).cmp(user)).is_ok() {
                m |= 1 << i;
            }
        }
        m
    }

    /// Fewest labels of any site entry's host (`usize::MAX` when there are none).
    pub(crate) fn site_min_labels(&self) -> usize {
        if self.sites.hosts.is_empty() { usize::MAX } else { self.sites.hosts.min_labels() }
    }

    /// All per-site entries.
    pub fn sites(&self) -> &[SiteEntry] {
        &self.sites.entries
    }

    pub(crate) fn rule(&self, c: CategoryId) -> &Rule {
        &self.rules[c.index()]
    }

    /// The most specific site entry for a name (and path, for URLs). Equal specificity: allow wins.
    pub(crate) fn site_for(&self, anc: &Ancestry<'_>, path: Option<&str>, user: Option<&str>) -> Option<&SiteEntry> {
        let entries = &self.sites.entries;
        if entries.is_empty() {
            return None;
        }
        // Specificity: (host labels, path length + 1 for URL entries); a URL entry beats its host.
        let mut best: Option<((usize, usize), usize)> = None;
        let mut consider = |spec: (usize, usize), k: usize| {
            if !entries[k].applies_to(user) {
                return;
            }
            let better = match best {
                None => true,
                Some((s, b)) => spec > s || (spec == s && entries[k].action == Action::Allow && entries[b].action == Action::Block),
            };
            if better {
                best = Some((spec, k));
            }
        };
        let (min, max) = (self.sites.hosts.min_labels(), self.sites.hosts.max_labels());
        for (ancestor, here, h) in anc.iter() {
            if here < min {
                break;
            }
            if here > max {
                continue;
            }
            let Some((_, b)) = self.sites.hosts.get_entry_hashed(ancestor, h) else { continue };
            let (domains, urls) = &self.sites.buckets[b as usize];
            for &k in domains {
                consider((here, 0), k);
            }
            if let Some(p) = path {
                for &k in urls {
                    if let Some(u) = entries[k].url.as_ref().filter(|u| u.path_matches(p)) {
                        consider((here, u.path.len() + 1), k);
                    }
                }
            }
        }
        best.map(|(_, k)| &entries[k])
    }
}

/// How a person was placed in a group, so decisions can say so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentitySource {
    /// The caller named the group.
    Group,
    /// Found by user name in the directory.
    User,
    /// Found by the device's fixed address.
    Device,
    /// Found by the network the client address is in.
    Network,
    /// Nobody recognised: the fallback group, failing closed.
    Unknown,
}

impl IdentitySource {
    /// Lower-case word for logs and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            IdentitySource::Group => "group",
            IdentitySource::User => "user",
            IdentitySource::Device => "device",
            IdentitySource::Network => "network",
            IdentitySource::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Device {
    pub(crate) name: Box<str>,
    pub(crate) user: Option<Box<str>>,
    pub(crate) group: Option<GroupIdx>,
}

/// Who is who: users, fixed device addresses and networks mapped to groups.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    pub(crate) users: HashMap<Box<str>, GroupIdx>,
    pub(crate) devices: HashMap<IpAddr, Device>,
    /// Longest prefix first.
    pub(crate) networks: Vec<(IpNet, GroupIdx)>,
}

/// The compiled policy: groups, windows and directory.
#[derive(Debug, Clone)]
pub struct Policy {
    pub(crate) groups: Vec<Group>,
    pub(crate) by_id: HashMap<Box<str>, GroupIdx>,
    pub(crate) windows: Vec<Window>,
    pub(crate) fallback: GroupIdx,
    pub(crate) directory: Directory,
}

impl Policy {
    /// Check a written policy against the taxonomy and the illegal floor and compile it.
    /// Every problem is reported, each naming its field; nothing is half-applied.
    pub fn compile(spec: &PolicySpec, taxonomy: &Taxonomy, floor: &ListSet) -> Result<Policy, Vec<PolicyError>> {
        let mut errors = Vec::new();
        let mut windows = Vec::new();
        let mut window_ids: HashMap<&str, usize> = HashMap::new();
        if spec.windows.len() > MAX_WINDOWS {
            errors.push(PolicyError::new("windows", format!("{} windows defined; at most {MAX_WINDOWS}", spec.windows.len())));
        }
        for w in spec.windows.iter().take(MAX_WINDOWS) {
            let field = format!("windows.{}", w.id);
            if window_ids.insert(&w.id, windows.len()).is_some() {
                errors.push(PolicyError::new(&field, "defined twice"));
                continue;
            }
            if w.spans.is_empty() {
                errors.push(PolicyError::new(&field, "a window needs at least one span such as `Mon-Fri 12:15-13:15`"));
            }
            match Window::new(&w.id, &w.title, &w.spans) {
                Ok(win) => windows.push(win),
                Err((i, e)) => {
                    errors.push(PolicyError::new(format!("{field}.spans[{i}]"), e.to_string()));
                    windows.push(Window::empty(&w.id, &w.title));
                }
            }
        }

        let mut by_id = HashMap::new();
        for (i, g) in spec.groups.iter().enumerate() {
            if by_id.insert(Box::from(g.id.as_str()), GroupIdx(i as u16)).is_some() {
                errors.push(PolicyError::new(format!("groups.{}", g.id), "defined twice"));
            }
        }
        if spec.groups.len() > usize::from(u16::MAX) {
            errors.push(PolicyError::new("groups", "too many groups"));
        }

        let mut groups = Vec::with_capacity(spec.groups.len());
        for g in &spec.groups {
            groups.push(compile_group(g, taxonomy, floor, &window_ids, &mut errors));
        }

        let fallback = match by_id.get(spec.fallback_group.as_str()) {
            Some(&f) => f,
            None => {
                errors.push(PolicyError::new("fallback_group", format!("group `{}` is not defined", spec.fallback_group)));
                GroupIdx(0)
            }
        };
        if let Some(fb) = groups.get(usize::from(fallback.0)) {
            check_fails_closed(fb, &groups, taxonomy, &mut errors);
        }

        let directory = compile_directory(&spec.directory, &by_id, &mut errors);
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Policy { groups, by_id, windows, fallback, directory })
    }

    /// Look a group up by identifier.
    pub fn group_idx(&self, id: &str) -> Option<GroupIdx> {
        self.by_id.get(id).copied()
    }

    /// The group behind an index.
    pub fn group(&self, idx: GroupIdx) -> &Group {
        &self.groups[usize::from(idx.0)]
    }

    /// All groups in configuration order.
    pub fn groups(&self) -> &[Group] {
        &self.groups
    }

    /// The group unknown clients get.
    pub fn fallback(&self) -> GroupIdx {
        self.fallback
    }

    /// Named windows.
    pub fn windows(&self) -> &[Window] {
        &self.windows
    }

    pub(crate) fn windows_active(&self, mask: u64, t: LocalTime) -> Option<usize> {
        (0..self.windows.len()).find(|&i| mask & (1 << i) != 0 && self.windows[i].contains(t))
    }

    /// Titles of the windows in a mask, for "allowed during Lunch, After school".
    pub fn window_titles(&self, mask: u64) -> Vec<&str> {
        (0..self.windows.len()).filter(|&i| mask & (1 << i) != 0).map(|i| &*self.windows[i].title).collect()
    }
}

fn compile_group(
    g: &GroupSpec,
    taxonomy: &Taxonomy,
    floor: &ListSet,
    window_ids: &HashMap<&str, usize>,
    errors: &mut Vec<PolicyError>,
) -> Group {
    let base = format!("groups.{}", g.id);
    let default_rule = Rule { base: if g.default == Action::Allow { Base::Allow } else { Base::Block }, users: Box::new([]), subgroups: 0 };
    let mut rules = vec![default_rule; taxonomy.len()];
    let mut subgroups: Vec<Subgroup> = Vec::new();
    if g.subgroups.len() > 64 {
        errors.push(PolicyError::new(format!("{base}.subgroups"), "at most 64 sub-groups per group"));
    }
    for (id, members) in g.subgroups.iter().take(64) {
        let mut m: Vec<Box<str>> = members.iter().map(|s| Box::from(s.as_str())).collect();
        m.sort();
        m.dedup();
        subgroups.push((id.as_str().into(), m.into_boxed_slice()));
    }
    for (i, c) in taxonomy.iter() {
        // Illegal categories are never governed by a group: the floor decides them, first.
        if c.kind == CategoryKind::Illegal {
            rules[i.index()] = Rule { base: Base::Block, users: Box::new([]), subgroups: 0 };
        }
    }
    for (cat, spec) in &g.rules {
        let field = format!("{base}.categories.{cat}");
        let Some(cid) = taxonomy.id(cat) else {
            errors.push(PolicyError::new(&field, format!("`{cat}` is not a category (see `haven lists categories`)")));
            continue;
        };
        if taxonomy.get(cid).kind == CategoryKind::Illegal {
            errors.push(PolicyError::floor(
                &field,
                "illegal-content categories are enforced by the illegal floor and cannot be set by any group policy",
            ));
            continue;
        }
        let base_rule = match &spec.base {
            BaseSpec::Allow => Base::Allow,
            BaseSpec::Block => Base::Block,
            BaseSpec::During(ws) => {
                let mut mask = 0u64;
                if ws.is_empty() {
                    errors.push(PolicyError::new(&field, "`during` needs at least one window"));
                }
                for w in ws {
                    match window_ids.get(w.as_str()) {
                        Some(&i) => mask |= 1 << i,
                        None => errors.push(PolicyError::new(&field, format!("window `{w}` is not defined"))),
                    }
                }
                Base::During(mask)
            }
        };
        let mut users = Vec::new();
        let mut sg = 0u64;
        for n in &spec.nominated {
            if let Some(sub) = n.strip_prefix('@') {
                match subgroups.iter().position(|(id, _)| &**id == sub) {
                    Some(p) => sg |= 1 << p,
                    None => errors.push(PolicyError::new(&field, format!("sub-group `@{sub}` is not defined in {base}.subgroups"))),
                }
            } else if n.trim().is_empty() {
                errors.push(PolicyError::new(&field, "empty nominated user"));
            } else {
                users.push(Box::from(n.as_str()));
            }
        }
        users.sort();
        users.dedup();
        rules[cid.index()] = Rule { base: base_rule, users: users.into_boxed_slice(), subgroups: sg };
    }
    let mut block_mask = CategorySet::EMPTY;
    let mut allow_mask = CategorySet::EMPTY;
    for (i, _) in taxonomy.iter() {
        let r = &rules[i.index()];
        match r.base {
            Base::Block if !r.has_nominees() => block_mask.insert(i),
            Base::Allow => allow_mask.insert(i),
            _ => {}
        }
    }
    let sites = compile_sites(g, floor, &base, errors);
    Group {
        id: g.id.as_str().into(),
        title: g.title.as_str().into(),
        kind: g.kind,
        default: g.default,
        safe_search: g.safe_search,
        block_answer: g.block_answer,
        rules,
        block_mask,
        allow_mask,
        subgroups,
        sites,
    }
}

fn compile_sites(g: &GroupSpec, floor: &ListSet, base: &str, errors: &mut Vec<PolicyError>) -> SiteRules {
    let mut out = SiteRules::default();
    let mut bucket_of: HashMap<Box<str>, usize> = HashMap::new();
    for (i, s) in g.sites.iter().enumerate() {
        let field = format!("{base}.sites[{i}]");
        let mut ok = true;
        if s.reason.trim().is_empty() {
            errors.push(PolicyError::new(format!("{field}.reason"), "every site entry needs a reason"));
            ok = false;
        }
        if s.author.trim().is_empty() {
            errors.push(PolicyError::new(format!("{field}.author"), "every site entry needs an author"));
            ok = false;
        }
        let text = s.site.trim();
        let is_url = text.contains('/');
        let (key, url, display) = if is_url {
            match UrlPattern::parse(text) {
                Ok(u) => (Box::from(u.host.as_str()), Some(u.clone()), url_pattern_text(&u)),
                Err(e) => {
                    errors.push(PolicyError::new(format!("{field}.site"), e.to_string()));
                    continue;
                }
            }
        } else {
            match Name::parse(text.strip_prefix("*.").unwrap_or(text)) {
                Ok(n) if is_public_suffix(&n) => {
                    errors.push(PolicyError::new(
                        format!("{field}.site"),
                        format!("`{n}` is a public suffix; an entry on it would cover every site under it"),
                    ));
                    continue;
                }
                Ok(n) => (Box::from(n.as_str()), None, n.to_string()),
                Err(e) => {
                    errors.push(PolicyError::new(format!("{field}.site"), e.to_string()));
                    continue;
                }
            }
        };
        if s.action == Action::Allow && floor_covers(floor, &key, url.as_ref()) {
            errors.push(PolicyError::floor(
                format!("{field}.site"),
                format!("`{display}` is on the illegal-content list; nothing can allow it"),
            ));
            continue;
        }
        if !ok {
            continue;
        }
        let idx = out.entries.len();
        let mut users: Vec<Box<str>> = s.users.iter().map(|u| u.trim()).filter(|u| !u.is_empty()).map(Box::from).collect();
        users.sort();
        users.dedup();
        out.entries.push(SiteEntry {
            users: users.into_boxed_slice(),
            action: s.action,
            site: display.into(),
            reason: s.reason.trim().into(),
            author: s.author.trim().into(),
            reference: s.reference.clone().unwrap_or_else(|| format!("{}-site-{}", g.id, i + 1)).into(),
            url: url.clone(),
        });
        let b = *bucket_of.entry(key).or_insert_with(|| {
            out.buckets.push((Vec::new(), Vec::new()));
            out.buckets.len() - 1
        });
        match url {
            Some(_) => out.buckets[b].1.push(idx),
            None => out.buckets[b].0.push(idx),
        }
    }
    let mut hosts = DomainIndexBuilder::with_capacity(bucket_of.len());
    for (key, b) in &bucket_of {
        // Bucket counts are bounded by the number of site entries, far below the table's value limit.
        let _ = hosts.upsert(key.as_bytes(), |_| Ok(*b as u32));
    }
    out.hosts = hosts.finish();
    out
}

/// True when the floor already blocks what an allow entry names.
fn floor_covers(floor: &ListSet, host: &str, url: Option<&UrlPattern>) -> bool {
    let Ok(name) = Name::parse(host) else { return false };
    if !floor.match_name(&name).categories.is_empty() {
        return true;
    }
    let mut candidates: Vec<String> = name.ancestors().map(|(_, a)| String::from_utf8_lossy(a).into_owned()).collect();
    if let Some(u) = url {
        if !floor.match_url(&u.host, &u.path).categories.is_empty() {
            return true;
        }
        candidates.push(url_pattern_text(u));
        let www = strip_www(u.host.clone());
        candidates.push(format!("{www}{}", u.path));
    }
    floor.match_hashed(candidates.iter().map(String::as_str)).is_some()
}

fn check_fails_closed(fb: &Group, groups: &[Group], taxonomy: &Taxonomy, errors: &mut Vec<PolicyError>) {
    if !matches!(fb.kind, GroupKind::Pupil | GroupKind::Unknown) {
        errors.push(PolicyError::new(
            "fallback_group",
            format!("`{}` is a {} group; unknown clients must get a pupil-strict group", fb.id, fb.kind.as_str()),
        ));
        return;
    }
    for g in groups.iter().filter(|g| g.kind == GroupKind::Pupil) {
        for (c, cat) in taxonomy.iter() {
            if fb.rule(c).strictness() > g.rule(c).strictness() {
                errors.push(PolicyError::new(
                    format!("groups.{}.categories.{}", fb.id, cat.id),
                    format!(
                        "the fallback group must be at least as strict as every pupil group, but pupil group `{}` is stricter here",
                        g.id
                    ),
                ));
            }
        }
        let yt = |m: YouTubeMode| m as u8;
        if (g.safe_search.search && !fb.safe_search.search) || yt(fb.safe_search.youtube) < yt(g.safe_search.youtube) {
            errors.push(PolicyError::new(
                format!("groups.{}.safe_search", fb.id),
                format!("pupil group `{}` has stricter safe search; the fallback group must be at least as strict", g.id),
            ));
        }
        if fb.default == Action::Allow && g.default == Action::Block {
            errors.push(PolicyError::new(
                format!("groups.{}.default", fb.id),
                format!("pupil group `{}` blocks uncategorised sites; the fallback group must too", g.id),
            ));
        }
    }
}

fn compile_directory(spec: &DirectorySpec, by_id: &HashMap<Box<str>, GroupIdx>, errors: &mut Vec<PolicyError>) -> Directory {
    let mut d = Directory::default();
    let group = |id: &str, field: String, errors: &mut Vec<PolicyError>| match by_id.get(id) {
        Some(&g) => Some(g),
        None => {
            errors.push(PolicyError::new(field, format!("group `{id}` is not defined")));
            None
        }
    };
    for (i, (user, g)) in spec.users.iter().enumerate() {
        if let Some(gi) = group(g, format!("identity.users[{i}].group"), errors) {
            d.users.insert(user.as_str().into(), gi);
        }
    }
    for (i, (addr, name, user, g)) in spec.devices.iter().enumerate() {
        let Ok(ip) = addr.parse::<IpAddr>() else {
            errors.push(PolicyError::new(format!("identity.devices[{i}].address"), format!("`{addr}` is not an IP address")));
            continue;
        };
        let gi = g.as_deref().and_then(|g| group(g, format!("identity.devices[{i}].group"), errors));
        d.devices.insert(ip, Device { name: name.as_str().into(), user: user.as_deref().map(Box::from), group: gi });
    }
    for (i, (cidr, g)) in spec.networks.iter().enumerate() {
        let net = match cidr.parse::<IpNet>().or_else(|_| cidr.parse::<IpAddr>().map(IpNet::from)) {
            Ok(n) => n.trunc(),
            Err(_) => {
                errors.push(PolicyError::new(
                    format!("identity.networks[{i}].cidr"),
                    format!("`{cidr}` is not a network such as 10.1.0.0/16"),
                ));
                continue;
            }
        };
        if let Some(gi) = group(g, format!("identity.networks[{i}].group"), errors) {
            d.networks.push((net, gi));
        }
    }
    d.networks.sort_by_key(|n| std::cmp::Reverse(n.0.prefix_len()));
    d
}
