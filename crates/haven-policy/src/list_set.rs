//! A compiled set of categorised lists: every source's domains, IPs, URL prefixes, expressions
//! and (for licensed illegal-content feeds) SHA-256-hashed entries, ready to match.
//!
//! Built once off to the side by `ListSetBuilder`, then frozen; lookups never allocate for names.

use std::collections::HashMap;
use std::net::IpAddr;

use regex::{RegexBuilder, RegexSet, RegexSetBuilder};
use sha2::{Digest, Sha256};

use crate::category::{CategoryId, CategorySet, Taxonomy};
use crate::domain_index::{Ancestry, DomainIndex, DomainIndexBuilder, IndexError};
use crate::list_line::{Entry, LineError, ListFormat, UrlPattern, parse_line, path_prefix_matches};
use crate::name::Name;

/// Index of a list source within one `ListSet`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SourceId(pub(crate) u16);

impl SourceId {
    /// Position in `ListSet::sources`, for per-source tables.
    pub fn index(self) -> usize {
        usize::from(self.0)
    }

    /// The identifier at a position of `ListSet::sources`, for walking sources with their counts.
    pub fn from_index(i: usize) -> SourceId {
        SourceId(u16::try_from(i).unwrap_or(u16::MAX))
    }
}

/// Whether a domain entry also covers subdomains; hosts files mean the exact name only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matching {
    /// The domain and every subdomain (UT1, plain lists, AdBlock `||d^`).
    Subdomains,
    /// Only that exact name (hosts files, by convention).
    Exact,
}

/// Where a set of entries came from: named in every decision that uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// Short name shown in decisions, e.g. `ut1/gambling`.
    pub name: Box<str>,
    /// The Haven category its entries belong to.
    pub category: CategoryId,
    /// File, directory or tarball path, for reports.
    pub origin: Box<str>,
    /// Domain matching semantics.
    pub matching: Matching,
}

/// What one source contributed, for `haven lists stats` and load reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceCounts {
    /// Domain entries accepted (including ones another source also lists).
    pub domains: u64,
    /// IP-address entries.
    pub ips: u64,
    /// URL-prefix entries.
    pub urls: u64,
    /// Regular expressions.
    pub expressions: u64,
    /// SHA-256-hashed entries (licensed feeds).
    pub hashed: u64,
    /// Entries this source repeated from itself.
    pub repeats: u64,
    /// Lines skipped as bad.
    pub rejected: u64,
}

/// A fatal problem building a list set (bad lines are not fatal; they are counted).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ListError {
    /// More than 65,535 sources.
    #[error("too many list sources (limit 65535)")]
    TooManySources,
    /// The domain table could not hold the lists.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// The combined expressions exceed the compiled-size limit.
    #[error("the list expressions together are too large to compile: {0}")]
    Expressions(String),
}

#[derive(Debug, Clone)]
struct Combo {
    sources: Box<[SourceId]>,
    /// Categories that apply to this name and its subdomains.
    suffix: CategorySet,
    /// Categories that apply only when this exact name is asked for.
    exact: CategorySet,
}

#[derive(Debug, Clone)]
struct UrlRule {
    path: Box<str>,
    entry: Box<str>,
    source: SourceId,
}

struct Expressions {
    set: RegexSet,
    sources: Vec<SourceId>,
}

/// A frozen, matchable list set.
pub struct ListSet {
    sources: Vec<Source>,
    counts: Vec<SourceCounts>,
    domains: DomainIndex,
    combos: Vec<Combo>,
    ips: HashMap<IpAddr, Vec<SourceId>>,
    urls: HashMap<Box<str>, Vec<UrlRule>>,
    expressions: Option<Expressions>,
    hashed: HashMap<[u8; 32], (SourceId, Box<str>)>,
}

/// Most matched ancestors kept for explaining a decision; categories from all of them still count.
const MAX_HITS: usize = 4;
/// Most ancestors whose first slots are read ahead together; further ones are probed one by one.
/// Kept small: the array is initialised on every lookup.
const MAX_PROBES: usize = 8;

/// The domain-level matches for one name, most specific first.
#[derive(Clone, Copy)]
pub struct NameMatches<'s> {
    hits: [(&'s str, u32); MAX_HITS],
    n: u8,
    /// Every category any matching entry puts the name in.
    pub categories: CategorySet,
}

impl<'s> NameMatches<'s> {
    /// No matches.
    pub const NONE: NameMatches<'static> = NameMatches { hits: [("", 0); MAX_HITS], n: 0, categories: CategorySet::EMPTY };
}

/// One list entry that matched, for explanations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit<'s> {
    /// The source that listed it.
    pub source: &'s Source,
    /// The entry as the list holds it (a domain, `host/path`, an expression, or `sha256:…`).
    pub entry: &'s str,
}

/// URL-level matches (URL prefixes and expressions) for one request.
#[derive(Debug, Clone, Default)]
pub struct UrlMatches<'s> {
    hits: Vec<(CategoryId, Hit<'s>)>,
    /// Every category a URL-level entry puts the request in.
    pub categories: CategorySet,
}

impl ListSet {
    /// An empty set, for a policy with no lists yet.
    pub fn empty() -> ListSet {
        ListSet {
            sources: Vec::new(),
            counts: Vec::new(),
            domains: DomainIndex::default(),
            combos: Vec::new(),
            ips: HashMap::new(),
            urls: HashMap::new(),
            expressions: None,
            hashed: HashMap::new(),
        }
    }

    /// All sources, in the order they were added.
    pub fn sources(&self) -> &[Source] {
        &self.sources
    }

    /// One source's contribution.
    pub fn counts(&self, id: SourceId) -> &SourceCounts {
        &self.counts[id.index()]
    }

    /// Distinct domain entries across all sources.
    pub fn distinct_domains(&self) -> usize {
        self.domains.len()
    }

    /// Bytes held by the domain table, the bulk of a list set.
    pub fn domain_index_bytes(&self) -> usize {
        self.domains.heap_bytes()
    }

    /// Approximate heap bytes of everything, for the memory report.
    pub fn heap_bytes(&self) -> usize {
        let combos: usize = self.combos.iter().map(|c| 48 + c.sources.len() * 2).sum();
        let urls: usize =
            self.urls.iter().map(|(k, v)| 48 + k.len() + v.iter().map(|r| 40 + r.path.len() + r.entry.len()).sum::<usize>()).sum();
        let ips = self.ips.len() * 64;
        let hashed = self.hashed.iter().map(|(_, (_, h))| 64 + h.len()).sum::<usize>();
        self.domains.heap_bytes() + combos + urls + ips + hashed
    }

    /// Fewest labels of any domain entry (0 when there are none), so callers can skip shorter ancestors.
    pub fn min_labels(&self) -> usize {
        if self.domains.is_empty() { usize::MAX } else { self.domains.min_labels() }
    }

    /// True when nothing at all is loaded.
    pub fn is_empty(&self) -> bool {
        self.domains.is_empty() && self.ips.is_empty() && self.urls.is_empty() && self.expressions.is_none() && self.hashed.is_empty()
    }

    /// True when hashed entries exist, so callers know hashing is needed.
    pub fn has_hashed(&self) -> bool {
        !self.hashed.is_empty()
    }

    /// Match a name against every domain entry, on label boundaries only.
    #[inline]
    pub fn match_name(&self, name: &Name) -> NameMatches<'_> {
        self.match_ancestry(&Ancestry::of(name))
    }

    /// `match_name` over ancestors already hashed, so one decision hashes each ancestor once.
    #[inline]
    pub fn match_ancestry(&self, anc: &Ancestry<'_>) -> NameMatches<'_> {
        let mut m = NameMatches { hits: [("", 0); MAX_HITS], n: 0, categories: CategorySet::EMPTY };
        if self.domains.is_empty() {
            return m;
        }
        let full = anc.full_len();
        let (min, max) = (self.domains.min_labels(), self.domains.max_labels());
        // Pass 1: read the first slot of every ancestor that could match. The reads do not depend
        // on each other, so their cache misses overlap; pass 2 then probes warm lines.
        let mut probes: [(&[u8], u64); MAX_PROBES] = [(&[], 0); MAX_PROBES];
        let mut n = 0;
        let mut warm = 0u64;
        for (ancestor, labels, h) in anc.iter() {
            if labels < min {
                break;
            }
            if labels > max {
                continue;
            }
            if n < MAX_PROBES {
                warm ^= self.domains.touch(h);
                probes[n] = (ancestor, h);
                n += 1;
            } else {
                // Pathologically deep lists: probe the rest directly rather than skip any.
                self.record(&mut m, ancestor, h, full);
            }
        }
        std::hint::black_box(warm);
        for &(ancestor, h) in &probes[..n] {
            self.record(&mut m, ancestor, h, full);
        }
        m
    }

    #[inline]
    fn record<'s>(&'s self, m: &mut NameMatches<'s>, ancestor: &[u8], h: u64, full: usize) {
        let Some((key, combo)) = self.domains.get_entry_hashed(ancestor, h) else { return };
        let c = &self.combos[combo as usize];
        m.categories = m.categories.union(c.suffix);
        if ancestor.len() == full {
            m.categories = m.categories.union(c.exact);
        }
        if usize::from(m.n) < MAX_HITS {
            m.hits[usize::from(m.n)] = (std::str::from_utf8(key).unwrap_or(""), combo);
            m.n += 1;
        }
    }

    /// The most specific domain entry that put the name in `category`.
    pub fn explain_name<'s>(&'s self, m: &NameMatches<'s>, name: &Name, category: CategoryId) -> Option<Hit<'s>> {
        for (idx, &(_, combo)) in m.hits[..usize::from(m.n)].iter().enumerate() {
            let c = &self.combos[combo as usize];
            let key = m.hits[idx].0;
            let exact_ok = key.len() == name.as_str().len();
            for &s in c.sources.iter() {
                let src = &self.sources[s.index()];
                if src.category == category && (src.matching == Matching::Subdomains || exact_ok) {
                    // `key` is the table's own copy, so it outlives the query.
                    return Some(Hit { source: src, entry: key });
                }
            }
        }
        None
    }

    /// Categories and sources for a bare IP address (UT1 lists some).
    pub fn match_ip(&self, ip: IpAddr) -> (CategorySet, Option<&[SourceId]>) {
        match self.ips.get(&ip) {
            Some(srcs) => {
                let mut set = CategorySet::EMPTY;
                for s in srcs {
                    set.insert(self.sources[s.index()].category);
                }
                (set, Some(srcs))
            }
            None => (CategorySet::EMPTY, None),
        }
    }

    /// The source behind an identifier.
    pub fn source(&self, id: SourceId) -> &Source {
        &self.sources[id.index()]
    }

    /// Match URL prefixes (on every host ancestor) and expressions against one request.
    /// `path` is the path plus query, starting with `/`.
    pub fn match_url(&self, host: &Name, path: &str) -> UrlMatches<'_> {
        let mut out = UrlMatches::default();
        if !self.urls.is_empty() {
            for (_, ancestor) in host.ancestors() {
                let Ok(a) = std::str::from_utf8(ancestor) else { continue };
                if let Some(rules) = self.urls.get(a) {
                    for r in rules.iter().filter(|r| path_prefix_matches(&r.path, path)) {
                        let src = &self.sources[r.source.index()];
                        out.categories.insert(src.category);
                        out.hits.push((src.category, Hit { source: src, entry: &r.entry }));
                    }
                }
            }
        }
        if let Some(x) = &self.expressions {
            let subject = format!("{}{}", host.as_str(), path);
            for i in x.set.matches(&subject).iter() {
                let src = &self.sources[x.sources[i].index()];
                out.categories.insert(src.category);
                out.hits.push((src.category, Hit { source: src, entry: &x.set.patterns()[i] }));
            }
        }
        out
    }

    /// Check hashed entries: each candidate text is hashed with SHA-256 and looked up.
    pub fn match_hashed<'a>(&self, candidates: impl IntoIterator<Item = &'a str>) -> Option<Hit<'_>> {
        self.match_hashed_bytes(candidates.into_iter().map(str::as_bytes))
    }

    /// As `match_hashed`, over byte slices, so name ancestors are hashed without allocating.
    pub fn match_hashed_bytes<'a>(&self, candidates: impl IntoIterator<Item = &'a [u8]>) -> Option<Hit<'_>> {
        if self.hashed.is_empty() {
            return None;
        }
        for c in candidates {
            let digest: [u8; 32] = Sha256::digest(c).into();
            if let Some((s, hex)) = self.hashed.get(&digest) {
                return Some(Hit { source: &self.sources[s.index()], entry: hex });
            }
        }
        None
    }

    /// True when a hashed entry equals the SHA-256 of `text`, so allow entries can be checked against hashed feeds.
    pub fn hashed_contains(&self, text: &str) -> bool {
        self.match_hashed([text]).is_some()
    }
}

impl<'s> UrlMatches<'s> {
    /// The first URL-level entry that put the request in `category`.
    pub fn explain(&self, category: CategoryId) -> Option<Hit<'s>> {
        self.hits.iter().find(|(c, _)| *c == category).map(|(_, h)| *h)
    }
}

/// Assembles a `ListSet` one line at a time, counting and classifying bad lines.
pub struct ListSetBuilder<'t> {
    taxonomy: &'t Taxonomy,
    sources: Vec<Source>,
    counts: Vec<SourceCounts>,
    domains: DomainIndexBuilder,
    combos: Vec<Combo>,
    combo_ids: HashMap<Box<[SourceId]>, u32>,
    extend_cache: HashMap<(u32, SourceId), u32>,
    ips: HashMap<IpAddr, Vec<SourceId>>,
    urls: HashMap<Box<str>, Vec<UrlRule>>,
    expressions: Vec<(String, SourceId)>,
    hashed: HashMap<[u8; 32], (SourceId, Box<str>)>,
}

/// Compiled-size limit for all expressions together: keeps a hostile list from eating memory.
const REGEX_SIZE_LIMIT: usize = 64 << 20;

impl<'t> ListSetBuilder<'t> {
    /// A builder presized for about `expected_domains` domain lines (an upper bound is fine).
    pub fn new(taxonomy: &'t Taxonomy, expected_domains: usize) -> ListSetBuilder<'t> {
        ListSetBuilder {
            taxonomy,
            sources: Vec::new(),
            counts: Vec::new(),
            domains: DomainIndexBuilder::with_capacity(expected_domains),
            combos: Vec::new(),
            combo_ids: HashMap::new(),
            extend_cache: HashMap::new(),
            ips: HashMap::new(),
            urls: HashMap::new(),
            expressions: Vec::new(),
            hashed: HashMap::new(),
        }
    }

    /// The taxonomy entries are checked against.
    pub fn taxonomy(&self) -> &Taxonomy {
        self.taxonomy
    }

    /// Register a source; its entries are then added with `add_line` or `add_entry`.
    pub fn add_source(&mut self, source: Source) -> Result<SourceId, ListError> {
        let id = u16::try_from(self.sources.len()).map_err(|_| ListError::TooManySources)?;
        self.sources.push(source);
        self.counts.push(SourceCounts::default());
        Ok(SourceId(id))
    }

    /// Counts so far for one source.
    pub fn counts(&self, id: SourceId) -> &SourceCounts {
        &self.counts[id.index()]
    }

    /// Parse one line of `format` and add what it holds; a bad line is counted and returned as an error.
    /// Only an overflow of the domain table is fatal (`Err(Ok(ListError))` is never produced: see `add_entry`).
    pub fn add_line(&mut self, source: SourceId, format: ListFormat, line: &str) -> Result<(), LineFault> {
        let mut pending: [Option<Entry<'_>>; 1] = [None];
        let mut overflow: Vec<Entry<'_>> = Vec::new();
        let parsed = parse_line(format, line, |e| {
            if pending[0].is_none() {
                pending[0] = Some(e);
            } else {
                overflow.push(e);
            }
        });
        if let Err(e) = parsed {
            self.counts[source.index()].rejected += 1;
            return Err(LineFault::Line(e));
        }
        for e in pending.into_iter().flatten().chain(overflow) {
            self.add_entry(source, e)?;
        }
        Ok(())
    }

    /// Count a line the caller refused before parsing (not UTF-8, far too long), so counts agree with reports.
    pub fn reject(&mut self, source: SourceId) {
        self.counts[source.index()].rejected += 1;
    }

    /// Add one parsed entry.
    pub fn add_entry(&mut self, source: SourceId, entry: Entry<'_>) -> Result<(), LineFault> {
        let counts = &mut self.counts[source.index()];
        match entry {
            Entry::Domain(name) => {
                counts.domains += 1;
                let mut repeat = false;
                let combos = &mut self.combos;
                let combo_ids = &mut self.combo_ids;
                let cache = &mut self.extend_cache;
                let sources = &self.sources;
                self.domains.upsert(name.as_bytes(), |old| match old {
                    None => intern(combos, combo_ids, sources, vec![source]),
                    Some(old) => {
                        if combos[old as usize].sources.contains(&source) {
                            repeat = true;
                            return Ok(old);
                        }
                        if let Some(&new) = cache.get(&(old, source)) {
                            return Ok(new);
                        }
                        let mut v = combos[old as usize].sources.to_vec();
                        v.push(source);
                        v.sort_unstable();
                        let new = intern(combos, combo_ids, sources, v)?;
                        cache.insert((old, source), new);
                        Ok(new)
                    }
                })?;
                if repeat {
                    self.counts[source.index()].repeats += 1;
                }
            }
            Entry::Ip(ip) => {
                counts.ips += 1;
                let v = self.ips.entry(ip).or_default();
                if v.contains(&source) {
                    counts.repeats += 1;
                } else {
                    v.push(source);
                }
            }
            Entry::Url(u) => {
                counts.urls += 1;
                let entry = format!("{}{}", u.host, u.path).into_boxed_str();
                let rules = self.urls.entry(Box::from(u.host.as_str())).or_default();
                if rules.iter().any(|r| r.source == source && r.path == u.path) {
                    counts.repeats += 1;
                } else {
                    rules.push(UrlRule { path: u.path, entry, source });
                }
            }
            Entry::Expression(x) => {
                if let Err(e) = RegexBuilder::new(x).case_insensitive(true).size_limit(REGEX_SIZE_LIMIT / 16).build() {
                    counts.rejected += 1;
                    let msg = e.to_string();
                    let first = msg.lines().last().unwrap_or("invalid expression").trim().to_string();
                    return Err(LineFault::Line(LineError::Regex(first)));
                }
                counts.expressions += 1;
                self.expressions.push((x.to_string(), source));
            }
        }
        Ok(())
    }

    /// Add a SHA-256-hashed entry (64 hex digits) from a licensed feed.
    pub fn add_hashed(&mut self, source: SourceId, line: &str) -> Result<(), LineFault> {
        let hex = line.trim();
        if hex.is_empty() || hex.starts_with('#') {
            return Ok(());
        }
        let hex = hex.strip_prefix("sha256:").unwrap_or(hex);
        match decode_hex32(hex) {
            Some(d) => {
                let counts = &mut self.counts[source.index()];
                counts.hashed += 1;
                if self.hashed.insert(d, (source, format!("sha256:{}", hex.to_ascii_lowercase()).into())).is_some() {
                    counts.repeats += 1;
                }
                Ok(())
            }
            None => {
                self.counts[source.index()].rejected += 1;
                Err(LineFault::Line(LineError::BadHash))
            }
        }
    }

    /// Freeze the set; compiles the expressions once.
    pub fn finish(self) -> Result<ListSet, ListError> {
        let _ = self.taxonomy;
        let expressions = if self.expressions.is_empty() {
            None
        } else {
            let set = RegexSetBuilder::new(self.expressions.iter().map(|(x, _)| x.as_str()))
                .case_insensitive(true)
                .size_limit(REGEX_SIZE_LIMIT)
                .build()
                .map_err(|e| ListError::Expressions(e.to_string()))?;
            Some(Expressions { set, sources: self.expressions.iter().map(|(_, s)| *s).collect() })
        };
        let mut urls = self.urls;
        urls.shrink_to_fit();
        Ok(ListSet {
            sources: self.sources,
            counts: self.counts,
            domains: self.domains.finish(),
            combos: self.combos,
            ips: self.ips,
            urls,
            expressions,
            hashed: self.hashed,
        })
    }
}

/// A line that could not be added: a bad line (counted, loading goes on) or a fatal list error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineFault {
    /// The line is bad; it was skipped and counted.
    #[error(transparent)]
    Line(#[from] LineError),
    /// The list set cannot grow further; loading must stop.
    #[error(transparent)]
    Fatal(#[from] ListError),
}

impl From<IndexError> for LineFault {
    fn from(e: IndexError) -> Self {
        LineFault::Fatal(ListError::Index(e))
    }
}

fn intern(
    combos: &mut Vec<Combo>,
    ids: &mut HashMap<Box<[SourceId]>, u32>,
    sources: &[Source],
    set: Vec<SourceId>,
) -> Result<u32, IndexError> {
    if let Some(&id) = ids.get(set.as_slice()) {
        return Ok(id);
    }
    let id = u32::try_from(combos.len()).map_err(|_| IndexError::TooManyValues)?;
    if id > crate::domain_index::MAX_VALUE {
        return Err(IndexError::TooManyValues);
    }
    let mut suffix = CategorySet::EMPTY;
    let mut exact = CategorySet::EMPTY;
    for s in &set {
        let src = &sources[s.index()];
        match src.matching {
            Matching::Subdomains => suffix.insert(src.category),
            Matching::Exact => exact.insert(src.category),
        }
    }
    let boxed: Box<[SourceId]> = set.into_boxed_slice();
    combos.push(Combo { sources: boxed.clone(), suffix, exact });
    ids.insert(boxed, id);
    Ok(id)
}

fn decode_hex32(hex: &str) -> Option<[u8; 32]> {
    let b = hex.as_bytes();
    if b.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in b.chunks_exact(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        out[i] = (hi * 16 + lo) as u8;
    }
    Some(out)
}

/// SHA-256 of a text as 64 lower-case hex digits: how licensed feeds deliver hashed entries.
pub fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// A URL pattern's text as stored and hashed: `host/path`.
pub fn url_pattern_text(p: &UrlPattern) -> String {
    format!("{}{}", p.host, p.path)
}
