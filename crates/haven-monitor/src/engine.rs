//! The rule engine: events in, alerts (new or counted on an open one) out. Pure and
//! single-threaded; time is the event's own time, so tests drive it with any clock they like.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use haven_activity::{Event, Flags};
use haven_policy::Severity;
use haven_policy::schedule::LocalTime;
use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::keywords::KeywordMatcher;
use crate::rules::{Rule, RuleSet, Trigger};
use crate::search::{SearchTerms, search_terms};

/// Who an event belongs to: the user name, else the device, else the client address.
pub fn person_of(event: &Event) -> String {
    match (&event.user, &event.device) {
        (Some(u), _) if !u.is_empty() => u.clone(),
        (_, Some(d)) if !d.is_empty() => format!("device {d}"),
        _ => format!("address {}", event.client),
    }
}

/// The host of an event's name (a DNS name, or a URL's host).
pub fn host_of(event: &Event) -> String {
    let name = event.name.as_str();
    let rest = name.split_once("://").map_or(name, |(_, r)| r);
    let host = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = if host.starts_with('[') { host } else { host.split(':').next().unwrap_or(host) };
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// A keyword that matched, as the alert keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedKeyword {
    /// The library's term.
    pub term: String,
    /// The normalised words that matched.
    pub matched: String,
    /// Keyword category.
    pub category: String,
    /// Entry severity.
    pub severity: Severity,
    /// Why the entry exists.
    pub rationale: String,
    /// `library@version`.
    pub library: String,
}

/// A scoped, time-limited suppression recorded with a reason: every field that is set must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exclusion {
    /// Stored id.
    pub id: i64,
    /// Only this person.
    pub person: Option<String>,
    /// Only this rule.
    pub rule: Option<String>,
    /// Only this host and its subdomains, or this keyword term.
    pub subject: Option<String>,
    /// Until when (exclusive).
    pub until: Timestamp,
    /// Why, in the DSL's words.
    pub reason: String,
}

impl Exclusion {
    fn covers(&self, person: &str, rule: &str, subject: &str, at: Timestamp) -> bool {
        at < self.until
            && self.person.as_deref().is_none_or(|p| p == person)
            && self.rule.as_deref().is_none_or(|r| r == rule)
            && self.subject.as_deref().is_none_or(|s| subject == s || subject.strip_suffix(s).is_some_and(|r| r.ends_with('.')))
    }
}

/// A reference to an alert the engine raised, stable while the engine lives.
pub type AlertRef = u64;

/// A new alert, with what a DSL needs to understand it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertDraft {
    /// Engine reference (the stage maps it to the stored id).
    pub reference: AlertRef,
    /// The rule that fired.
    pub rule: String,
    /// Its title.
    pub title: String,
    /// Why it fired, in a sentence.
    pub why: String,
    /// Severity.
    pub severity: Severity,
    /// Category: the keyword category, the filtering category, or `illegal`/`bypass`.
    pub category: String,
    /// Who.
    pub person: String,
    /// Their group.
    pub group: String,
    /// The host or keyword term the dedupe is keyed on.
    pub subject: String,
    /// Search found in the URL, if any.
    pub search: Option<SearchTerms>,
    /// Keywords that matched.
    pub keywords: Vec<MatchedKeyword>,
    /// The events that triggered it (for a repeat rule, the ones in the window).
    pub events: Vec<Event>,
}

/// What one event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A new alert.
    New(Box<AlertDraft>),
    /// Counted on an open alert.
    Repeat {
        /// The open alert.
        alert: AlertRef,
        /// The event, kept as evidence.
        event: Box<Event>,
    },
    /// Suppressed by an exclusion.
    Excluded {
        /// Which exclusion.
        exclusion: i64,
        /// The alert it would have been counted on or raised as (rule id).
        rule: String,
    },
}

#[derive(Debug)]
struct Open {
    alert: AlertRef,
    last: Timestamp,
    window: Duration,
}

/// Counters for metrics and the quality report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EngineStats {
    /// Events looked at.
    pub events: u64,
    /// Alerts raised.
    pub alerts: u64,
    /// Hits counted on an open alert instead.
    pub deduplicated: u64,
    /// Hits suppressed by an exclusion.
    pub excluded: u64,
}

/// The engine: rules, keyword libraries, exclusions and what it remembers between events.
#[derive(Debug)]
pub struct Engine {
    rules: RuleSet,
    keywords: KeywordMatcher,
    exclusions: Vec<Exclusion>,
    tz: TimeZone,
    next_ref: AlertRef,
    /// (rule, person, subject) -> open alert.
    open: HashMap<(String, String, String), Open>,
    /// (rule, person) -> times and events of recent matches for repeat rules.
    recent: HashMap<(String, String), VecDeque<Event>>,
    stats: EngineStats,
    scratch: String,
}

impl Engine {
    /// An engine over these rules and libraries, reading local times in `tz`.
    pub fn new(rules: RuleSet, keywords: KeywordMatcher, tz: TimeZone) -> Engine {
        Engine {
            rules,
            keywords,
            exclusions: Vec::new(),
            tz,
            next_ref: 1,
            open: HashMap::new(),
            recent: HashMap::new(),
            stats: EngineStats::default(),
            scratch: String::new(),
        }
    }

    /// Replace the rules (a console edit); open alerts and repeat counts are kept.
    pub fn set_rules(&mut self, rules: RuleSet) {
        self.rules = rules;
    }

    /// The rules in force.
    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// Replace the exclusions in force.
    pub fn set_exclusions(&mut self, exclusions: Vec<Exclusion>) {
        self.exclusions = exclusions;
    }

    /// An alert got an outcome: further hits raise a new one rather than counting on it.
    pub fn close(&mut self, alert: AlertRef) {
        self.open.retain(|_, o| o.alert != alert);
    }

    /// Counters so far.
    pub fn stats(&self) -> EngineStats {
        self.stats
    }

    /// Look at one event.
    pub fn evaluate(&mut self, event: &Event) -> Option<Outcome> {
        self.stats.events += 1;
        let at = event.time;
        let local = LocalTime::at(at, &self.tz);
        let blocked = event.action == "block";
        let search = if event.channel == haven_activity::Channel::Proxy { search_terms(&event.name) } else { None };
        let keyword_hits = match &search {
            Some(s) => self.keywords.find_with(&s.terms, &mut self.scratch),
            None => Vec::new(),
        };
        let person = person_of(event);
        let host = host_of(event);
        for idx in 0..self.rules.rules.len() {
            let rule = &self.rules.rules[idx];
            if !rule.applies(&event.group, local) {
                continue;
            }
            let (category, severity, subject, keywords) = match &rule.trigger {
                Trigger::Illegal if event.flags.contains(Flags::ILLEGAL) => {
                    (event.category.clone().unwrap_or_else(|| "illegal".to_owned()), rule.severity, host.clone(), Vec::new())
                }
                Trigger::Bypass if event.flags.contains(Flags::BYPASS) => (
                    event.category.clone().unwrap_or_else(|| "bypass".to_owned()),
                    rule.severity,
                    if rule.repeat.is_some() { String::new() } else { host.clone() },
                    Vec::new(),
                ),
                Trigger::Category(pattern)
                    if blocked && event.category.as_deref().is_some_and(|c| Trigger::category_matches(pattern, c)) =>
                {
                    (event.category.clone().unwrap_or_default(), rule.severity, host.clone(), Vec::new())
                }
                Trigger::Keyword(k) => {
                    let entries = self.keywords.entries();
                    let matched: Vec<MatchedKeyword> = keyword_hits
                        .iter()
                        .filter(|h| k == "*" || entries[h.entry].category == *k)
                        .map(|h| {
                            let e = &entries[h.entry];
                            let version = self.keywords.versions().iter().find(|(id, _)| *id == e.library).map_or("", |(_, v)| v);
                            MatchedKeyword {
                                term: e.term.clone(),
                                matched: h.matched.clone(),
                                category: e.category.clone(),
                                severity: e.severity,
                                rationale: e.rationale.clone(),
                                library: format!("{}@{version}", e.library),
                            }
                        })
                        .collect();
                    let Some(top) = matched.first() else { continue };
                    (top.category.clone(), rule.severity.or(Some(top.severity)), top.term.clone(), matched)
                }
                _ => continue,
            };
            let Some(severity) = severity else { continue };
            let rule_id = rule.id.clone();
            if let Some(x) = self.exclusions.iter().find(|x| x.covers(&person, &rule_id, &subject, at)) {
                self.stats.excluded += 1;
                return Some(Outcome::Excluded { exclusion: x.id, rule: rule_id });
            }
            let key = (rule_id.clone(), person.clone(), subject.clone());
            if let Some(open) = self.open.get_mut(&key) {
                let since = at.duration_since(open.last);
                if since.unsigned_abs() <= open.window {
                    open.last = open.last.max(at);
                    self.stats.deduplicated += 1;
                    return Some(Outcome::Repeat { alert: open.alert, event: Box::new(event.clone()) });
                }
            }
            let events = match rule.repeat {
                None => vec![event.clone()],
                Some(r) => {
                    let window = self.recent.entry((rule_id.clone(), person.clone())).or_default();
                    window.push_back(event.clone());
                    while window.front().is_some_and(|e| at.duration_since(e.time).unsigned_abs() > r.within) {
                        window.pop_front();
                    }
                    if window.len() < r.count as usize {
                        continue;
                    }
                    window.drain(..).collect()
                }
            };
            let rule = &self.rules.rules[idx];
            let reference = self.next_ref;
            self.next_ref += 1;
            self.open.insert(key, Open { alert: reference, last: at, window: rule.dedupe });
            self.stats.alerts += 1;
            let why = explain(rule, &category, &keywords, &host, events.len());
            return Some(Outcome::New(Box::new(AlertDraft {
                reference,
                rule: rule.id.clone(),
                title: rule.title.clone(),
                why,
                severity,
                category,
                person,
                group: event.group.clone(),
                subject,
                search,
                keywords,
                events,
            })));
        }
        None
    }

    /// Forget dedupe and repeat state older than the longest window, so memory stays bounded.
    pub fn expire(&mut self, now: Timestamp) {
        self.open.retain(|_, o| now.duration_since(o.last).unsigned_abs() <= o.window);
        let longest = self.rules.rules.iter().filter_map(|r| r.repeat.map(|x| x.within)).max().unwrap_or_default();
        self.recent.retain(|_, w| w.back().is_some_and(|e| now.duration_since(e.time).unsigned_abs() <= longest));
    }
}

/// The sentence saying why a rule fired, for a DSL who has never seen a log line.
fn explain(rule: &Rule, category: &str, keywords: &[MatchedKeyword], host: &str, count: usize) -> String {
    let mut why = match &rule.trigger {
        Trigger::Keyword(_) => {
            let words: Vec<String> = keywords.iter().map(|k| format!("\"{}\" ({})", k.term, k.rationale)).collect();
            format!("The search matched {}.", words.join("; "))
        }
        Trigger::Illegal => format!("{host} is on the illegal-content list ({category}); it was blocked."),
        Trigger::Bypass => format!("{host} is a way round the filter ({category}); it was blocked."),
        Trigger::Category(_) => format!("{host} is in the {category} category; it was blocked."),
    };
    if let Some(r) = rule.repeat {
        why += &format!(" This happened {count} times within {}.", crate::rules::format_duration(r.within));
    }
    why += &format!(" Rule: {}.", rule.id);
    why
}
