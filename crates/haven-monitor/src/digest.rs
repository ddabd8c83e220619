//! The weekly DSL digest: alerts by category, group, severity and outcome, the open ones listed,
//! and alert quality (precision per rule and category, time to acknowledge and to outcome).
//!
//! Pure: plain input structs in, a [`Digest`] out, and a plain-text rendering that carries counts,
//! ids and links only — no pupil names, so it can go by email. The console renders the same
//! [`Digest`] its own way.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::civil::{ISOWeekDate, Weekday};
use jiff::tz::TimeZone;

use crate::quality::{Quality, Scored, quality};

/// One alert as the digest needs it (deliberately without the person).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestAlert {
    /// Stored id.
    pub id: i64,
    /// When raised.
    pub raised: Timestamp,
    /// Severity word.
    pub severity: String,
    /// Category id.
    pub category: String,
    /// Filtering group (age band), not a person.
    pub group: String,
    /// Rule id.
    pub rule: String,
    /// `new`, `acknowledged` or `closed`.
    pub state: String,
    /// Outcome word once closed.
    pub outcome: Option<String>,
    /// When acknowledged.
    pub ack_at: Option<Timestamp>,
    /// When closed.
    pub outcome_at: Option<Timestamp>,
}

/// An ISO week in the school's time zone: Monday 00:00 to the next Monday 00:00.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Week {
    /// ISO week-numbering year.
    pub year: i16,
    /// Week 1-53.
    pub week: i8,
}

/// A week that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("week `{0}`: expected an ISO week such as 2026-W48")]
pub struct WeekError(pub String);

impl Week {
    /// Parse `2026-W48`.
    pub fn parse(s: &str) -> Result<Week, WeekError> {
        let bad = || WeekError(s.to_owned());
        let (y, w) = s.trim().split_once("-W").ok_or_else(bad)?;
        let (year, week) = (y.parse::<i16>().map_err(|_| bad())?, w.parse::<i8>().map_err(|_| bad())?);
        ISOWeekDate::new(year, week, Weekday::Monday).map_err(|_| bad())?;
        Ok(Week { year, week })
    }

    /// The week containing `at` in `tz`.
    pub fn containing(at: Timestamp, tz: &TimeZone) -> Week {
        let d = at.to_zoned(tz.clone()).date().iso_week_date();
        Week { year: d.year(), week: d.week() }
    }

    /// The week before this one.
    pub fn previous(self, tz: &TimeZone) -> Week {
        let (from, _) = self.bounds(tz);
        Week::containing(from.checked_sub(jiff::SignedDuration::from_hours(1)).unwrap_or(from), tz)
    }

    /// Start (inclusive) and end (exclusive) in UTC.
    pub fn bounds(self, tz: &TimeZone) -> (Timestamp, Timestamp) {
        let monday = ISOWeekDate::new(self.year, self.week, Weekday::Monday).map(|d| d.date()).unwrap_or_default();
        let start = monday.to_zoned(tz.clone()).map(|z| z.timestamp()).unwrap_or_default();
        let next = monday.checked_add(jiff::Span::new().days(7)).unwrap_or(monday);
        let end = next.to_zoned(tz.clone()).map(|z| z.timestamp()).unwrap_or(start);
        (start, end)
    }

    /// `2026-W48`.
    pub fn label(self) -> String {
        format!("{}-W{:02}", self.year, self.week)
    }
}

/// An alert still open, for the list at the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenItem {
    /// Stored id.
    pub id: i64,
    /// Severity word.
    pub severity: String,
    /// Category id.
    pub category: String,
    /// When raised.
    pub raised: Timestamp,
    /// `new` or `acknowledged`.
    pub state: String,
}

/// The digest.
#[derive(Debug, Clone, PartialEq)]
pub struct Digest {
    /// The week.
    pub week: Week,
    /// Alerts raised in the week.
    pub total: u64,
    /// By category, most first.
    pub by_category: Vec<(String, u64)>,
    /// By group, most first.
    pub by_group: Vec<(String, u64)>,
    /// By severity, most severe first.
    pub by_severity: Vec<(String, u64)>,
    /// By outcome (`open` for those without one), most first.
    pub by_outcome: Vec<(String, u64)>,
    /// Every alert still open (raised this week or before), oldest first.
    pub open: Vec<OpenItem>,
    /// Quality over the week's alerts.
    pub quality: Quality,
}

fn counted<'a>(items: impl Iterator<Item = &'a str>) -> Vec<(String, u64)> {
    let mut m: BTreeMap<&str, u64> = BTreeMap::new();
    for i in items {
        *m.entry(i).or_default() += 1;
    }
    let mut v: Vec<(String, u64)> = m.into_iter().map(|(k, n)| (k.to_owned(), n)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}

const SEVERITY_ORDER: [&str; 5] = ["critical", "high", "medium", "low", "digest"];

/// Build the digest for `week` from `alerts`: those raised in the week, plus any still open.
pub fn build(week: Week, tz: &TimeZone, alerts: &[DigestAlert]) -> Digest {
    let (from, to) = week.bounds(tz);
    let in_week: Vec<&DigestAlert> = alerts.iter().filter(|a| a.raised >= from && a.raised < to).collect();
    let mut by_severity: Vec<(String, u64)> = SEVERITY_ORDER
        .iter()
        .map(|s| ((*s).to_owned(), in_week.iter().filter(|a| a.severity == *s).count() as u64))
        .filter(|(_, n)| *n > 0)
        .collect();
    by_severity.extend(counted(in_week.iter().filter(|a| !SEVERITY_ORDER.contains(&a.severity.as_str())).map(|a| a.severity.as_str())));
    let mut open: Vec<OpenItem> = alerts
        .iter()
        .filter(|a| a.state != "closed" && a.raised < to)
        .map(|a| OpenItem { id: a.id, severity: a.severity.clone(), category: a.category.clone(), raised: a.raised, state: a.state.clone() })
        .collect();
    open.sort_by_key(|o| (o.raised, o.id));
    open.dedup_by_key(|o| o.id);
    let scored: Vec<Scored> = in_week
        .iter()
        .map(|a| Scored {
            rule: a.rule.clone(),
            category: a.category.clone(),
            outcome: a.outcome.clone(),
            ack_ms: a.ack_at.map(|t| t.as_millisecond() - a.raised.as_millisecond()),
            outcome_ms: a.outcome_at.map(|t| t.as_millisecond() - a.raised.as_millisecond()),
        })
        .collect();
    Digest {
        week,
        total: in_week.len() as u64,
        by_category: counted(in_week.iter().map(|a| a.category.as_str())),
        by_group: counted(in_week.iter().map(|a| a.group.as_str())),
        by_severity,
        by_outcome: counted(in_week.iter().map(|a| a.outcome.as_deref().unwrap_or("open"))),
        open,
        quality: quality(&scored),
    }
}

fn minutes(ms: i64) -> String {
    let s = ms / 1000;
    if s < 120 { format!("{s} s") } else if s < 7200 { format!("{} min", s / 60) } else { format!("{:.1} h", s as f64 / 3600.0) }
}

/// The digest as plain text for email and the command line: counts, ids and links, no pupil names.
pub fn render_text(d: &Digest, tz: &TimeZone, console_url: &str) -> String {
    use std::fmt::Write;
    let (from, to) = d.week.bounds(tz);
    let day = |t: Timestamp| t.to_zoned(tz.clone()).strftime("%a %-d %b %Y").to_string();
    let last = to.checked_sub(jiff::SignedDuration::from_secs(1)).unwrap_or(to);
    let mut out = format!("Haven weekly safeguarding digest, week {} ({} to {})\n\n", d.week.label(), day(from), day(last));
    let _ = writeln!(out, "Alerts raised: {}", d.total);
    let section = |out: &mut String, title: &str, rows: &[(String, u64)]| {
        let _ = writeln!(out, "\n{title}:");
        if rows.is_empty() {
            let _ = writeln!(out, "  (none)");
        }
        for (k, n) in rows {
            let _ = writeln!(out, "  {:<28} {n}", k.replace('_', " "));
        }
    };
    section(&mut out, "By severity", &d.by_severity);
    section(&mut out, "By category", &d.by_category);
    section(&mut out, "By group", &d.by_group);
    section(&mut out, "By outcome", &d.by_outcome);
    let _ = writeln!(out, "\nAlert quality (from your outcomes):");
    match d.quality.overall {
        Some(p) => {
            let _ = writeln!(out, "  acted on: {:.0} % of closed alerts (goal: more than half)", p * 100.0);
        }
        None => {
            let _ = writeln!(out, "  acted on: no alert closed yet");
        }
    }
    for p in &d.quality.by_rule {
        if let Some(v) = p.precision {
            let _ = writeln!(out, "  rule {:<24} precision {:.0} % ({} closed, {} false positive)", p.key, v * 100.0, p.closed, p.false_positives);
        }
    }
    for p in &d.quality.by_category {
        if let Some(v) = p.precision {
            let _ = writeln!(out, "  category {:<20} precision {:.0} % ({} closed)", p.key.replace('_', " "), v * 100.0, p.closed);
        }
    }
    if let Some((m, p90)) = d.quality.ack {
        let _ = writeln!(out, "  time to acknowledge: median {}, 90th percentile {}", minutes(m), minutes(p90));
    }
    if let Some((m, p90)) = d.quality.outcome {
        let _ = writeln!(out, "  time to outcome: median {}, 90th percentile {}", minutes(m), minutes(p90));
    }
    let _ = writeln!(out, "\nStill open: {}", d.open.len());
    let base = console_url.trim_end_matches('/');
    for o in &d.open {
        let when = o.raised.to_zoned(tz.clone()).strftime("%a %-d %b %H:%M").to_string();
        let _ = writeln!(out, "  #{} {} {} ({}), raised {when}: {base}/alerts/{}", o.id, o.severity, o.category.replace('_', " "), o.state, o.id);
    }
    out
}

/// When the next digest is due after `now`: Monday 07:00 school time.
pub fn next_due(now: Timestamp, tz: &TimeZone) -> Timestamp {
    let week = Week::containing(now, tz);
    let (monday, _) = week.bounds(tz);
    let at_seven = |t: Timestamp| t.to_zoned(tz.clone()).with().hour(7).build().map_or(t, |z| z.timestamp());
    let this = at_seven(monday);
    if this > now {
        return this;
    }
    let (next_monday, _) = Week::containing(monday.checked_add(jiff::SignedDuration::from_hours(24 * 7 + 12)).unwrap_or(monday), tz).bounds(tz);
    at_seven(next_monday)
}
