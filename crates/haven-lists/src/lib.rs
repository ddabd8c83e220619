//! The I/O side of list loading: read the configured list sources from disk (plain and gzipped
//! list files, UT1 directories and tarballs, hashed feeds), stream them line by line into
//! `haven_policy::ListSetBuilder`, and return the frozen `ListSet` with a `LoadReport`.
//!
//! `build` has no side effects. On a `LoadError` nothing has changed anywhere, so the caller simply
//! keeps the lists it already has in force.
//!
//! Memory: files are streamed (no file is read whole) and a counting pass first sizes the domain
//! table, so it never rehashes while loading; a reload peaks at about twice the steady state.

mod error;
mod load;
mod read;
mod report;
mod ut1;

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use haven_policy::{CategoryId, ListFormat, ListSet, ListSetBuilder, Matching, Taxonomy};

pub use error::LoadError;
pub use report::{BadLine, FileKind, FileReport, LineProblem, LoadReport, MAX_SAMPLE_CHARS, MAX_SAMPLES, SourceReport};

use load::Loader;

/// One configured list source, as the configuration crate hands it over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    /// UT1 (Toulouse) blacklists: a directory (either the `blacklists/` dir itself or its parent) or the distributed .tar.gz.
    ///
    /// Each category directory becomes a source named `<name>/<dir>` (so `ut1/gambling` for `name = "ut1"`).
    Ut1 {
        /// Prefix of the per-category source names, normally `ut1`.
        name: String,
        /// The directory or tarball.
        path: PathBuf,
        /// Which UT1 categories feed which Haven category.
        mapping: Ut1Mapping,
    },
    /// A single list file (plain text or .gz) in one format, all entries in one Haven category.
    File {
        /// Source name shown in decisions.
        name: String,
        /// The file; gzip is recognised by its magic bytes or a `.gz` name.
        path: PathBuf,
        /// How its lines are written.
        format: ListFormat,
        /// The Haven category of every entry.
        category: CategoryId,
        /// Whether a domain entry also covers subdomains.
        matching: Matching,
    },
    /// Entries built into Haven (the illegal-floor test list), parsed exactly like a file.
    Inline {
        /// Source name shown in decisions.
        name: String,
        /// The list text.
        text: String,
        /// How its lines are written.
        format: ListFormat,
        /// The Haven category of every entry.
        category: CategoryId,
        /// Whether a domain entry also covers subdomains.
        matching: Matching,
    },
    /// A licensed feed of SHA-256-hashed entries (64 hex digits per line, optional `sha256:` prefix), for the illegal floor.
    Hashed {
        /// Source name shown in decisions.
        name: String,
        /// The feed file (plain text or .gz).
        path: PathBuf,
        /// The Haven category of every entry (normally the illegal one).
        category: CategoryId,
    },
}

impl SourceSpec {
    /// The configured name, for messages about the source.
    pub fn name(&self) -> &str {
        match self {
            SourceSpec::Ut1 { name, .. }
            | SourceSpec::File { name, .. }
            | SourceSpec::Hashed { name, .. }
            | SourceSpec::Inline { name, .. } => name,
        }
    }

    /// The configured path, for messages about the source.
    pub fn path(&self) -> &Path {
        match self {
            SourceSpec::Ut1 { path, .. } | SourceSpec::File { path, .. } | SourceSpec::Hashed { path, .. } => path,
            SourceSpec::Inline { .. } => Path::new(INLINE_ORIGIN),
        }
    }
}

/// What reports show as the origin of a built-in source.
pub const INLINE_ORIGIN: &str = "(built in)";

/// Which Haven category each UT1 directory feeds: UT1 dir name -> Haven category, `None` = deliberately not imported.
///
/// A UT1 directory missing from the map is reported as unmapped, never silently dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ut1Mapping(pub HashMap<String, Option<CategoryId>>);

/// What the mapping says about one UT1 directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ut1Class {
    /// Load it into this category.
    Import(CategoryId),
    /// Listed with `None`: a deliberate choice not to load it.
    NotImported,
    /// Not in the mapping at all.
    Unmapped,
}

impl Ut1Mapping {
    /// Classify one UT1 directory name.
    pub(crate) fn class(&self, dir: &str) -> Ut1Class {
        match self.0.get(dir) {
            Some(Some(c)) => Ut1Class::Import(*c),
            Some(None) => Ut1Class::NotImported,
            None => Ut1Class::Unmapped,
        }
    }
}

/// Load every source into one new `ListSet`, with a report of what was read and skipped.
///
/// Bad lines are skipped and counted; a missing or unreadable file, a corrupt archive or a full
/// list set is a `LoadError`, and then nothing has changed.
pub fn build(taxonomy: &Taxonomy, sources: &[SourceSpec]) -> Result<(ListSet, LoadReport), LoadError> {
    let started = Instant::now();
    // Counting pass: cheap, and it fails fast on a missing file before any real work.
    let mut plans = Vec::with_capacity(sources.len());
    let mut expected = 0u64;
    for spec in sources {
        let plan = load::plan(spec)?;
        expected = expected.saturating_add(plan.expected_domain_lines());
        plans.push(plan);
    }
    let builder = ListSetBuilder::new(taxonomy, usize::try_from(expected).unwrap_or(usize::MAX));
    let mut loader = Loader::new(taxonomy, builder);
    loader.report.expected_domain_lines = expected;
    for (spec, plan) in sources.iter().zip(plans) {
        loader.load(spec, plan)?;
    }
    loader.finish(started)
}

/// Load one UT1 tarball (gzip or plain tar) from any reader in a single pass.
///
/// `build` reads a tarball twice (counting, then loading); this reads it once, so it suits bytes
/// already in memory and the fuzz target, at the cost of a domain table that may rehash.
pub fn build_from_ut1_reader<R: Read>(
    taxonomy: &Taxonomy,
    name: &str,
    origin: &Path,
    mapping: &Ut1Mapping,
    reader: R,
) -> Result<(ListSet, LoadReport), LoadError> {
    let started = Instant::now();
    let mut loader = Loader::new(taxonomy, ListSetBuilder::new(taxonomy, 0));
    ut1::load_tar_reader(&mut loader, name, origin, mapping, reader, false, None)?;
    loader.finish(started)
}
