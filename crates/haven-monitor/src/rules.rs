//! Alert rules as data: one rule per line, read top to bottom, the first that matches decides.
//!
//! ```text
//! id=bypass-repeat; when=flag:bypass; severity=medium; repeat=5/10m; title=Repeated attempts to get round the filter
//! ```
//!
//! Fields (separated by `;`, each `key=value`):
//! - `id` (required): short stable name, shown in the change log and alert quality report.
//! - `when` (required): `category:ID` (a blocked event in that filtering category; `ID*` for a
//!   prefix), `flag:illegal` or `flag:bypass` (an event carrying that flag), or `keyword:ID` (a
//!   search term matching a keyword library entry of that category, `keyword:*` for any).
//! - `severity`: `critical`, `high`, `medium`, `low` or `digest`; for keyword rules, leaving it out
//!   uses the severity of the library entry that matched.
//! - `repeat=N/M`: only after N matching events by the same person within M (`10m`, `1h`).
//! - `groups=a,b`: only for people in these filtering groups (age bands).
//! - `hours=Mon-Fri 08:00-16:00, ...`: only at these local times (`outside=` for the opposite).
//! - `dedupe=30m`: further hits by the same person on the same thing within this time of the
//!   last one are counted on the open alert instead of raising another (default 30m).
//! - `title` (required): the plain-English sentence a DSL sees.
//! - `enabled=false` keeps a rule without using it.

use std::time::Duration;

use haven_policy::Severity;
use haven_policy::schedule::{LocalTime, Span};

/// The default rules shipped with Haven.
pub const DEFAULT_RULES: &str = include_str!("../data/default-rules.txt");

/// What makes a rule look at an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// A blocked event in this category (or, ending in `*`, any category with this prefix).
    Category(String),
    /// An event blocked by the illegal-content floor.
    Illegal,
    /// An event flagged as an attempt to get round the filter.
    Bypass,
    /// A search term matching a keyword entry of this category (`*`: any).
    Keyword(String),
}

impl Trigger {
    fn parse(s: &str) -> Option<Trigger> {
        let (kind, what) = s.split_once(':')?;
        let what = what.trim();
        match (kind.trim(), what) {
            ("flag", "illegal") => Some(Trigger::Illegal),
            ("flag", "bypass") => Some(Trigger::Bypass),
            ("category", w) if valid_id(w.trim_end_matches('*')) => Some(Trigger::Category(w.to_owned())),
            ("keyword", "*") => Some(Trigger::Keyword("*".to_owned())),
            ("keyword", w) if valid_id(w) => Some(Trigger::Keyword(w.to_owned())),
            _ => None,
        }
    }

    /// The `when=` text for this trigger.
    pub fn as_text(&self) -> String {
        match self {
            Trigger::Category(c) => format!("category:{c}"),
            Trigger::Illegal => "flag:illegal".to_owned(),
            Trigger::Bypass => "flag:bypass".to_owned(),
            Trigger::Keyword(k) => format!("keyword:{k}"),
        }
    }

    /// True when a category id satisfies a `category:` trigger pattern.
    pub fn category_matches(pattern: &str, category: &str) -> bool {
        match pattern.strip_suffix('*') {
            Some(prefix) => category.starts_with(prefix),
            None => pattern == category,
        }
    }
}

fn valid_id(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// N matching events by the same person within a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repeat {
    /// Events needed.
    pub count: u32,
    /// Within this long.
    pub within: Duration,
}

/// One alert rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Stable id.
    pub id: String,
    /// What it looks at.
    pub trigger: Trigger,
    /// Fixed severity, or `None` to take the keyword entry's.
    pub severity: Option<Severity>,
    /// Repetition threshold, if any.
    pub repeat: Option<Repeat>,
    /// Groups it applies to (empty: all).
    pub groups: Vec<String>,
    /// Local times it applies in (empty: always).
    pub hours: Vec<Span>,
    /// True when `hours` lists the times it does NOT apply.
    pub outside: bool,
    /// The original `hours`/`outside` text, for writing the rule back.
    pub hours_text: String,
    /// Dedupe window.
    pub dedupe: Duration,
    /// Plain-English title.
    pub title: String,
    /// False keeps the rule without using it.
    pub enabled: bool,
}

/// Default dedupe window.
pub const DEFAULT_DEDUPE: Duration = Duration::from_secs(30 * 60);

/// A rule line that cannot be used, naming the line and field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name} line {line}: field `{field}`: {reason}")]
pub struct RuleError {
    /// Where the rules came from (file name, or `console`).
    pub source_name: String,
    /// 1-based line.
    pub line: usize,
    /// The field at fault.
    pub field: String,
    /// What is wrong, in words.
    pub reason: String,
}

/// Parse `10m`, `90s`, `1h`, `2d`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = num.parse().ok()?;
    let secs = match unit {
        "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        "d" => n.checked_mul(86_400)?,
        _ => return None,
    };
    (secs > 0).then_some(Duration::from_secs(secs))
}

/// Write a duration the way [`parse_duration`] reads it.
pub fn format_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s.is_multiple_of(86_400) {
        format!("{}d", s / 86_400)
    } else if s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

impl Rule {
    /// Parse one rule line.
    pub fn parse(source_name: &str, line: usize, text: &str) -> Result<Rule, RuleError> {
        let err = |field: &str, reason: &str| RuleError {
            source_name: source_name.to_owned(),
            line,
            field: field.to_owned(),
            reason: reason.to_owned(),
        };
        let (mut id, mut trigger, mut severity, mut repeat, mut groups, mut title) = (None, None, None, None, Vec::new(), None);
        let (mut hours, mut outside, mut hours_text, mut dedupe, mut enabled) = (Vec::new(), false, String::new(), DEFAULT_DEDUPE, true);
        for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((k, v)) = part.split_once('=') else {
                return Err(err(part, "expected key=value"));
            };
            let (k, v) = (k.trim(), v.trim());
            match k {
                "id" if valid_id(v) => id = Some(v.to_owned()),
                "id" => return Err(err("id", "use lower-case letters, digits, `-` and `_`")),
                "when" => {
                    trigger = Some(Trigger::parse(v).ok_or_else(|| {
                        err("when", "expected category:ID, category:PREFIX*, flag:illegal, flag:bypass, keyword:ID or keyword:*")
                    })?)
                }
                "severity" => match Severity::parse(v) {
                    Some(s) if s != Severity::None => severity = Some(s),
                    _ => return Err(err("severity", "expected critical, high, medium, low or digest")),
                },
                "repeat" => {
                    let parsed = v.split_once('/').and_then(|(n, m)| Some((n.trim().parse::<u32>().ok()?, parse_duration(m)?)));
                    match parsed {
                        Some((n, within)) if n >= 1 => repeat = Some(Repeat { count: n, within }),
                        _ => return Err(err("repeat", "expected N/TIME, like 5/10m")),
                    }
                }
                "groups" => groups = v.split(',').map(str::trim).filter(|g| !g.is_empty()).map(str::to_owned).collect(),
                "hours" | "outside" => {
                    outside = k == "outside";
                    hours_text = v.to_owned();
                    hours = v
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(|s| Span::parse(s).map_err(|e| err(k, &e.to_string())))
                        .collect::<Result<_, _>>()?;
                    if hours.is_empty() {
                        return Err(err(k, "expected one or more spans like Mon-Fri 08:00-16:00"));
                    }
                }
                "dedupe" => dedupe = parse_duration(v).ok_or_else(|| err("dedupe", "expected a time like 30m"))?,
                "title" if !v.is_empty() => title = Some(v.to_owned()),
                "title" => return Err(err("title", "must not be empty")),
                "enabled" => {
                    enabled = match v {
                        "true" => true,
                        "false" => false,
                        _ => return Err(err("enabled", "expected true or false")),
                    }
                }
                other => return Err(err(other, "unknown field")),
            }
        }
        let id = id.ok_or_else(|| err("id", "missing"))?;
        let trigger = trigger.ok_or_else(|| err("when", "missing"))?;
        if severity.is_none() && !matches!(trigger, Trigger::Keyword(_)) {
            return Err(err("severity", "missing (only keyword rules may take the entry's severity)"));
        }
        let title = title.ok_or_else(|| err("title", "missing"))?;
        Ok(Rule { id, trigger, severity, repeat, groups, hours, outside, hours_text, dedupe, title, enabled })
    }

    /// The rule as one line, as [`Rule::parse`] reads it.
    pub fn to_line(&self) -> String {
        let mut out = format!("id={}; when={}", self.id, self.trigger.as_text());
        if let Some(s) = self.severity {
            out += &format!("; severity={}", s.as_str());
        }
        if let Some(r) = self.repeat {
            out += &format!("; repeat={}/{}", r.count, format_duration(r.within));
        }
        if !self.groups.is_empty() {
            out += &format!("; groups={}", self.groups.join(","));
        }
        if !self.hours.is_empty() {
            out += &format!("; {}={}", if self.outside { "outside" } else { "hours" }, self.hours_text);
        }
        if self.dedupe != DEFAULT_DEDUPE {
            out += &format!("; dedupe={}", format_duration(self.dedupe));
        }
        if !self.enabled {
            out += "; enabled=false";
        }
        out += &format!("; title={}", self.title);
        out
    }

    /// True when the rule applies to this group at this local time.
    pub fn applies(&self, group: &str, local: LocalTime) -> bool {
        if !self.enabled {
            return false;
        }
        if !self.groups.is_empty() && !self.groups.iter().any(|g| g == group) {
            return false;
        }
        if self.hours.is_empty() {
            return true;
        }
        self.hours.iter().any(|s| s.contains(local)) != self.outside
    }
}

/// An ordered list of rules.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RuleSet {
    /// The rules, first match wins.
    pub rules: Vec<Rule>,
}

impl RuleSet {
    /// Parse a rules file: one rule per line, `#` comments and blank lines ignored.
    pub fn parse(source_name: &str, text: &str) -> Result<RuleSet, RuleError> {
        let mut rules: Vec<Rule> = Vec::new();
        for (n, l) in text.lines().enumerate() {
            let l = l.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            let rule = Rule::parse(source_name, n + 1, l)?;
            if rules.iter().any(|r| r.id == rule.id) {
                return Err(RuleError {
                    source_name: source_name.to_owned(),
                    line: n + 1,
                    field: "id".to_owned(),
                    reason: format!("`{}` is used by an earlier rule", rule.id),
                });
            }
            rules.push(rule);
        }
        Ok(RuleSet { rules })
    }

    /// The shipped defaults.
    pub fn defaults() -> Result<RuleSet, RuleError> {
        RuleSet::parse("default-rules.txt", DEFAULT_RULES)
    }

    /// The rules as a file.
    pub fn to_text(&self) -> String {
        self.rules.iter().map(|r| r.to_line() + "\n").collect()
    }

    /// The rule with this id.
    pub fn get(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }
}
