//! The console's policy changes, laid over the configuration's policy: category rules per
//! group, time windows, and per-site entries with an optional expiry and user scope.
//!
//! `haven.toml` and the default policy stay the base; an [`Overlay`] (read from the store) is
//! applied to a copy of the base [`PolicySpec`] and the result compiled like any other policy, so
//! every check (the illegal floor first of all) applies to console changes too.

use jiff::Timestamp;

use crate::policy::{PolicyError, PolicySpec, RuleSpec, SiteSpec, WindowSpec};

/// A category rule set from the console: replaces the group's rule for that category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverlayRule {
    /// The group.
    pub group: String,
    /// The category id.
    pub category: String,
    /// The rule.
    pub rule: RuleSpec,
}

/// A per-site entry made from the console (or by approving an unblock request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverlaySite {
    /// The group it belongs to.
    pub group: String,
    /// The entry; its `reference` is set from the stored id.
    pub spec: SiteSpec,
    /// When it stops applying by itself.
    pub expires: Option<Timestamp>,
}

/// Every console change in force.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overlay {
    /// Category rules, later ones replacing earlier ones for the same group and category.
    pub rules: Vec<OverlayRule>,
    /// Windows, replacing a base window of the same id or added after them.
    pub windows: Vec<WindowSpec>,
    /// Site entries.
    pub sites: Vec<OverlaySite>,
}

/// The base policy with an overlay applied at an instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The policy to compile.
    pub spec: PolicySpec,
    /// The next instant an entry expires: rebuild then.
    pub next_expiry: Option<Timestamp>,
}

impl Overlay {
    /// Lay the overlay over `base` as it stands at `now` (expired entries left out). Entries naming
    /// a group the base does not have are refused with their field, like configuration errors.
    pub fn apply(&self, base: &PolicySpec, now: Timestamp) -> Result<Applied, Vec<PolicyError>> {
        let mut spec = base.clone();
        let mut errors = Vec::new();
        for w in &self.windows {
            match spec.windows.iter_mut().find(|b| b.id == w.id) {
                Some(b) => *b = w.clone(),
                None => spec.windows.push(w.clone()),
            }
        }
        for r in &self.rules {
            let Some(g) = spec.groups.iter_mut().find(|g| g.id == r.group) else {
                errors.push(unknown_group(format!("console.rules.{}.{}", r.group, r.category), &r.group));
                continue;
            };
            match g.rules.iter_mut().find(|(c, _)| *c == r.category) {
                Some((_, rule)) => *rule = r.rule.clone(),
                None => g.rules.push((r.category.clone(), r.rule.clone())),
            }
        }
        let mut next_expiry: Option<Timestamp> = None;
        for s in &self.sites {
            if let Some(e) = s.expires {
                if e <= now {
                    continue;
                }
                next_expiry = Some(next_expiry.map_or(e, |n| n.min(e)));
            }
            let field = format!("console.sites.{}", s.spec.reference.as_deref().unwrap_or(&s.spec.site));
            match spec.groups.iter_mut().find(|g| g.id == s.group) {
                Some(g) => g.sites.push(s.spec.clone()),
                None => errors.push(unknown_group(field, &s.group)),
            }
        }
        if errors.is_empty() { Ok(Applied { spec, next_expiry }) } else { Err(errors) }
    }
}

fn unknown_group(field: String, group: &str) -> PolicyError {
    PolicyError { field, message: format!("group `{group}` is not defined in the configuration"), floor_override: false }
}
