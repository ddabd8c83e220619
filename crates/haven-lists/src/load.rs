//! The two passes of a build: a counting plan for every source, then the load proper, which
//! registers sources and feeds their files line by line into the policy core's builder.

use std::collections::HashSet;
use std::io::{self, BufRead};
use std::path::{Path, PathBuf};
use std::time::Instant;

use haven_policy::{CategoryId, LineError, LineFault, ListFormat, ListSet, ListSetBuilder, Matching, Source, SourceCounts, Taxonomy};

use crate::error::LoadError;
use crate::read::{self, LineReader, MAX_LINE};
use crate::report::{BadLine, FileKind, FileReport, LineProblem, LoadReport, MAX_SAMPLE_CHARS, MAX_SAMPLES, SourceReport};
use crate::{SourceSpec, ut1};

/// What the counting pass learned about one source.
pub(crate) enum Plan {
    /// A single file: only its domain-bearing line count matters.
    File {
        /// Lines that may each add a domain.
        expected: u64,
    },
    /// A UT1 directory or tarball: its categories, found while counting.
    Ut1(ut1::Ut1Plan),
}

impl Plan {
    /// Lines that may each add a domain, to presize the domain table.
    pub fn expected_domain_lines(&self) -> u64 {
        match self {
            Plan::File { expected } => *expected,
            Plan::Ut1(p) => p.expected,
        }
    }
}

/// Formats whose lines put names in the domain table.
fn bears_domains(format: ListFormat) -> bool {
    matches!(format, ListFormat::Domains | ListFormat::Hosts | ListFormat::Adblock | ListFormat::Mixed)
}

/// The counting pass for one source.
pub(crate) fn plan(spec: &SourceSpec) -> Result<Plan, LoadError> {
    match spec {
        SourceSpec::File { path, format, .. } if bears_domains(*format) => Ok(Plan::File { expected: count_file(path)? }),
        SourceSpec::Inline { text, format, .. } if bears_domains(*format) => Ok(Plan::File { expected: text.lines().count() as u64 }),
        SourceSpec::File { .. } | SourceSpec::Hashed { .. } | SourceSpec::Inline { .. } => Ok(Plan::File { expected: 0 }),
        SourceSpec::Ut1 { path, mapping, .. } => Ok(Plan::Ut1(ut1::plan(path, mapping)?)),
    }
}

/// Lines in one (possibly gzipped) file.
fn count_file(path: &Path) -> Result<u64, LoadError> {
    let mut opened = read::open(path).map_err(|e| LoadError::io(path, e))?;
    read::count_lines(&mut opened.reader).map_err(|e| read_error(path, opened.compressed, e))
}

/// A read error: through a decoder it may be corruption, otherwise it is plain I/O.
pub(crate) fn read_error(path: &Path, compressed: bool, e: io::Error) -> LoadError {
    if compressed { LoadError::decode(path, e) } else { LoadError::io(path, e) }
}

/// Why feeding a file stopped: its bytes could not be read, or the list set is full.
pub(crate) enum FeedError {
    /// Reading failed; the caller knows whether that means I/O trouble or a corrupt archive.
    Read(io::Error),
    /// A fatal list error, already a `LoadError`.
    Load(LoadError),
}

impl FeedError {
    /// Turn into a `LoadError`, naming the path the way the caller chooses.
    pub fn into_load(self, on_read: impl FnOnce(io::Error) -> LoadError) -> LoadError {
        match self {
            FeedError::Read(e) => on_read(e),
            FeedError::Load(e) => e,
        }
    }
}

/// Sums of a source's counts before and after a line, to see what the line added.
#[derive(Clone, Copy)]
struct Tally {
    entries: u64,
    repeats: u64,
}

fn tally(c: &SourceCounts) -> Tally {
    Tally { entries: c.domains + c.ips + c.urls + c.expressions + c.hashed, repeats: c.repeats }
}

/// The builder, the report being written, and the names already taken.
pub(crate) struct Loader<'t> {
    taxonomy: &'t Taxonomy,
    builder: ListSetBuilder<'t>,
    /// The report so far.
    pub report: LoadReport,
    names: HashSet<String>,
}

impl<'t> Loader<'t> {
    /// Start loading into `builder`.
    pub fn new(taxonomy: &'t Taxonomy, builder: ListSetBuilder<'t>) -> Loader<'t> {
        Loader { taxonomy, builder, report: LoadReport::default(), names: HashSet::new() }
    }

    /// Load one source from its plan.
    pub fn load(&mut self, spec: &SourceSpec, plan: Plan) -> Result<(), LoadError> {
        match (spec, plan) {
            (SourceSpec::Ut1 { name, path, mapping }, Plan::Ut1(plan)) => ut1::load(self, name, path, mapping, plan),
            (SourceSpec::File { name, path, format, category, matching }, _) => {
                self.load_file(name, path, FileKind::List(*format), *category, *matching)
            }
            (SourceSpec::Hashed { name, path, category }, _) => self.load_file(name, path, FileKind::Hashed, *category, Matching::Exact),
            (SourceSpec::Inline { name, text, format, category, matching }, _) => {
                let origin = Path::new(crate::INLINE_ORIGIN);
                let idx = self.add_source(name.clone(), *category, origin.to_path_buf(), *matching)?;
                let mut reader: &[u8] = text.as_bytes();
                self.feed(idx, FileKind::List(*format), &mut reader, origin, None).map_err(|e| e.into_load(|io| LoadError::io(origin, io)))
            }
            // A UT1 spec always plans as UT1; should a mismatched plan ever arrive, count afresh.
            (SourceSpec::Ut1 { name, path, mapping }, Plan::File { .. }) => ut1::load(self, name, path, mapping, ut1::plan(path, mapping)?),
        }
    }

    fn load_file(&mut self, name: &str, path: &Path, kind: FileKind, category: CategoryId, matching: Matching) -> Result<(), LoadError> {
        let idx = self.add_source(name.to_string(), category, path.to_path_buf(), matching)?;
        let mut opened = read::open(path).map_err(|e| LoadError::io(path, e))?;
        let compressed = opened.compressed;
        self.feed(idx, kind, &mut opened.reader, path, None).map_err(|e| e.into_load(|io| read_error(path, compressed, io)))
    }

    /// Register a source; returns its index in `report.sources`.
    pub fn add_source(&mut self, name: String, category: CategoryId, origin: PathBuf, matching: Matching) -> Result<usize, LoadError> {
        if category.index() >= self.taxonomy.len() {
            return Err(LoadError::UnknownCategory(name));
        }
        if !self.names.insert(name.clone()) {
            return Err(LoadError::DuplicateName(name));
        }
        let source = Source { name: name.clone().into(), category, origin: origin.display().to_string().into(), matching };
        let id = self.builder.add_source(source).map_err(|cause| LoadError::List { name: name.clone(), cause })?;
        self.report.sources.push(SourceReport { name, id, origin, category, files: Vec::new() });
        Ok(self.report.sources.len() - 1)
    }

    /// Stream one file's lines into the source at `idx`, recording a `FileReport` for it.
    pub fn feed(
        &mut self,
        idx: usize,
        kind: FileKind,
        reader: &mut dyn BufRead,
        path: &Path,
        member: Option<String>,
    ) -> Result<(), FeedError> {
        let (source, source_name) = match self.report.sources.get(idx) {
            Some(s) => (s.id, s.name.clone()),
            None => return Ok(()),
        };
        let mut file = FileReport::new(path.to_path_buf(), member, kind);
        let display = file.display_path();
        let mut lines = LineReader::new(reader);
        let mut line_no = 0u64;
        while let Some(raw) = lines.next_line().map_err(FeedError::Read)? {
            line_no += 1;
            let before = tally(self.builder.counts(source));
            let text = if raw.len > MAX_LINE {
                Err(LineProblem::Parse(LineError::TooLong(raw.len)))
            } else {
                std::str::from_utf8(raw.bytes).map_err(|e| LineProblem::NotUtf8 { byte: e.valid_up_to() + 1 })
            };
            let outcome = match text {
                Err(problem) => {
                    // Refused before parsing: the builder counts it too, so its counts agree with ours.
                    self.builder.reject(source);
                    Err(problem)
                }
                Ok(text) => {
                    let added = match kind {
                        FileKind::List(format) => self.builder.add_line(source, format, text),
                        FileKind::Hashed => self.builder.add_hashed(source, text),
                    };
                    match added {
                        Ok(()) => Ok(()),
                        Err(LineFault::Line(e)) => Err(LineProblem::Parse(e)),
                        Err(LineFault::Fatal(cause)) => return Err(FeedError::Load(LoadError::List { name: source_name, cause })),
                    }
                }
            };
            match outcome {
                Ok(()) => {
                    let after = tally(self.builder.counts(source));
                    let added = after.entries - before.entries;
                    file.entries += added;
                    file.repeats += after.repeats - before.repeats;
                    if added > 0 {
                        file.accepted_lines += 1;
                    } else {
                        file.ignored_lines += 1;
                    }
                }
                Err(problem) => {
                    file.rejected += 1;
                    if file.samples.len() < MAX_SAMPLES {
                        let text: String = String::from_utf8_lossy(raw.bytes).chars().take(MAX_SAMPLE_CHARS).collect();
                        file.samples.push(BadLine { file: display.clone(), line: line_no, text, problem });
                    }
                }
            }
            file.lines += 1;
        }
        if let Some(s) = self.report.sources.get_mut(idx) {
            s.files.push(file);
        }
        Ok(())
    }

    /// Freeze the set and complete the report.
    pub fn finish(self, started: Instant) -> Result<(ListSet, LoadReport), LoadError> {
        let set = self.builder.finish().map_err(|cause| LoadError::List { name: "lists".into(), cause })?;
        let mut report = self.report;
        report.distinct_domains = set.distinct_domains();
        for v in [&mut report.not_imported, &mut report.unmapped, &mut report.aliases] {
            v.sort();
            v.dedup();
        }
        report.total_up();
        report.elapsed = started.elapsed();
        Ok((set, report))
    }
}
