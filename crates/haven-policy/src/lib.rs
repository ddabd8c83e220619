//! Haven's policy core: who, what and when go in; a decision and its reason come out.
//!
//! This crate does no I/O and has no async code. Lists arrive as text lines (`ListSetBuilder`),
//! policies as plain data (`PolicySpec`), and the result is an immutable `Snapshot` that front
//! ends (DNS, proxy, `haven check`) query through `PolicyHandle`.
//!
//! Decision order (`Snapshot::decide_for`):
//! 1. the illegal-content floor, which nothing overrides;
//! 2. the group's per-site entries, most specific first;
//! 3. the group's rule for each matched category, at the current Europe/London time;
//! 4. the group's default action.

pub mod category;
pub mod decision;
pub mod domain_index;
/// Fuzz bodies for every parser of untrusted bytes, shared by `fuzz/` and a stable smoke test.
pub mod fuzz;
pub mod list_line;
pub mod list_set;
pub mod name;
pub mod overlay;
pub mod policy;
pub mod schedule;
pub mod snapshot;
/// Names the DNS front end answers itself: safe-search rewrites and bypass controls, as pure data.
pub mod special_names;

pub use category::{Category, CategoryId, CategoryKind, CategorySet, FourCs, Severity, Taxonomy, TaxonomyError};
pub use decision::{DecidedBy, Decision, Host, Identity, RequestError, Verdict, What, Who};
pub use list_line::{Entry, LineError, ListFormat, UrlPattern};
pub use list_set::{Hit, LineFault, ListError, ListSet, ListSetBuilder, Matching, Source, SourceCounts, SourceId};
pub use name::{Name, NameError};
pub use policy::{
    Action, BaseSpec, BlockAnswer, DirectorySpec, Group, GroupKind, GroupSpec, IdentitySource, Policy, PolicyError, PolicySpec, RuleSpec,
    SafeSearch, SiteEntry, SiteSpec, WindowSpec, YouTubeMode,
};
pub use overlay::{Applied, Overlay, OverlayRule, OverlaySite};
pub use schedule::{LocalTime, Window};
pub use snapshot::{PolicyHandle, Snapshot, SnapshotError};

/// The school's time zone, from the tz database compiled into the binary (no file is read).
pub fn london() -> jiff::tz::TimeZone {
    jiff::tz::TimeZone::get("Europe/London").unwrap_or(jiff::tz::TimeZone::UTC)
}
