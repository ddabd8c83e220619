//! One directory sync: read the directory, map it to people, plan the change against the people
//! directory (adds, changes, leavers), refuse a plan that would wrongly disable people, and apply
//! it with the sign-in names. Leavers are marked as left, never deleted.

use haven_accounts::people::{GroupMap, PersonKind};
use haven_store::{ImportPlan, PeopleQuery, Store};
use jiff::Timestamp;

use crate::client::read_directory;
use crate::config::DirectoryConfig;
use crate::error::DirectoryError;
use crate::mapping::{EntryError, GroupGraph, map_people};

/// The record's name for changes a sync makes.
pub const SYNC_SOURCE: &str = "directory";

/// How a sync runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncMode {
    /// Plan only: show what would change.
    pub dry_run: bool,
    /// Apply even when more than `max_leavers_percent` would be marked as left.
    pub allow_mass_leavers: bool,
}

/// What a sync found and did.
#[derive(Debug, Clone, Default)]
pub struct SyncReport {
    /// Adds, changes and leavers.
    pub plan: ImportPlan,
    /// Entries that could not be used (DN, attribute, why); the rest still go in.
    pub errors: Vec<EntryError>,
    /// Members found per configured group, after nesting.
    pub group_sizes: Vec<(String, usize)>,
    /// Users and groups read.
    pub users_read: usize,
    /// Groups read.
    pub groups_read: usize,
    /// Whether the plan was applied.
    pub applied: bool,
    /// Sign-in names written.
    pub logins_written: u64,
}

/// Read the directory and sync the people directory with it.
pub async fn sync(store: &Store, c: &DirectoryConfig, groups: &GroupMap, mode: SyncMode, now: Timestamp) -> Result<SyncReport, DirectoryError> {
    let read = read_directory(c).await?;
    let graph = GroupGraph::from_entries(&read.groups);
    let mapped = map_people(&c.groups, &graph, &read.users, &c.attributes, groups);
    let plan = store.plan_people_import(&mapped.people, &mapped.kinds).await?;
    let mut report = SyncReport {
        plan,
        errors: mapped.errors,
        group_sizes: mapped.group_sizes,
        users_read: read.users.len(),
        groups_read: read.groups.len(),
        applied: false,
        logins_written: 0,
    };
    if mode.dry_run {
        return Ok(report);
    }
    if let Some((dn, _)) = report.group_sizes.iter().find(|(_, n)| *n == 0) {
        return Err(DirectoryError::MissingGroup(format!(
            "the group `{dn}` was not found or is empty, so its members would be marked as left; fix directory.groups or the directory"
        )));
    }
    if !mode.allow_mass_leavers {
        check_leavers(store, &report.plan, &mapped.kinds, c.max_leavers_percent).await?;
    }
    let source = format!("{SYNC_SOURCE} {}", c.url);
    store.apply_people_import(&report.plan, &source, now).await?;
    report.logins_written = store.set_person_logins(&mapped.logins, SYNC_SOURCE, now).await?;
    report.applied = true;
    Ok(report)
}

async fn check_leavers(store: &Store, plan: &ImportPlan, kinds: &[PersonKind], limit: u32) -> Result<(), DirectoryError> {
    if plan.leavers.is_empty() {
        return Ok(());
    }
    let mut active = 0usize;
    for k in kinds {
        active += store.people(&PeopleQuery { kind: Some(*k), ..Default::default() }).await?.iter().filter(|p| p.active).count();
    }
    let percent = plan.leavers.len() * 100 / active.max(1);
    // A handful of leavers in a tiny directory is normal; the guard is for whole year groups.
    if plan.leavers.len() > 5 && percent > limit as usize {
        let kinds = kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(" and ");
        return Err(DirectoryError::MassLeavers { leavers: plan.leavers.len(), active, kinds, percent, limit });
    }
    Ok(())
}
