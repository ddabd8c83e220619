//! What a load read, accepted and refused, file by file, so a school can see that its lists
//! loaded whole and exactly which lines were skipped and why.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use haven_policy::{CategoryId, LineError, ListFormat, SourceId};

/// Bad-line samples kept per file; the count covers the rest.
pub const MAX_SAMPLES: usize = 20;

/// Characters of a bad line kept in its sample.
pub const MAX_SAMPLE_CHARS: usize = 200;

/// How a file's lines are read, so reports can say what was expected of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// Lines of one list format, parsed by the policy core.
    List(ListFormat),
    /// SHA-256-hashed entries from a licensed feed.
    Hashed,
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileKind::List(format) => f.write_str(format.as_str()),
            FileKind::Hashed => f.write_str("hashed"),
        }
    }
}

/// Why one line was skipped: the parser's reason, or bytes that are not text at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LineProblem {
    /// The policy core refused the line.
    #[error("{0}")]
    Parse(LineError),
    /// The line is not valid UTF-8; `byte` is the 1-based column of the first bad byte.
    #[error("line is not valid UTF-8 (bad byte at column {byte})")]
    NotUtf8 {
        /// 1-based byte column of the first invalid byte.
        byte: usize,
    },
}

/// One skipped line, kept as a sample so the report can point at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    /// The file (or `tarball/member`) the line came from.
    pub file: String,
    /// 1-based line number.
    pub line: u64,
    /// The line as text (invalid bytes shown as U+FFFD), cut to 200 characters.
    pub text: String,
    /// Why it was skipped.
    pub problem: LineProblem,
}

impl fmt::Display for BadLine {
    /// `path:line: error: text`, with control characters escaped so a hostile list cannot drive the terminal.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}: ", self.file, self.line, self.problem)?;
        for c in self.text.chars() {
            if c.is_control() {
                write!(f, "{}", c.escape_default())?;
            } else {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

/// What one file (or tarball member) contributed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileReport {
    /// The file on disk, or the tarball that holds it.
    pub path: PathBuf,
    /// For a tarball member, its path inside the archive (e.g. `blacklists/gambling/domains`).
    pub member: Option<String>,
    /// How its lines were read.
    pub kind: FileKind,
    /// Lines read, blank ones and comments included.
    pub lines: u64,
    /// Lines that yielded at least one entry.
    pub accepted_lines: u64,
    /// Lines that yielded nothing and were not wrong: blank lines, comments, hosts-file local names.
    pub ignored_lines: u64,
    /// Lines skipped as bad.
    pub rejected: u64,
    /// Entries accepted (a hosts line can hold several), repeats within the source included.
    pub entries: u64,
    /// Entries this source had already listed.
    pub repeats: u64,
    /// The first `MAX_SAMPLES` bad lines.
    pub samples: Vec<BadLine>,
}

impl FileReport {
    /// An empty report for a file about to be read.
    pub(crate) fn new(path: PathBuf, member: Option<String>, kind: FileKind) -> FileReport {
        FileReport {
            path,
            member,
            kind,
            lines: 0,
            accepted_lines: 0,
            ignored_lines: 0,
            rejected: 0,
            entries: 0,
            repeats: 0,
            samples: Vec::new(),
        }
    }

    /// The name shown for this file in reports: the path, or `tarball/member` inside an archive.
    pub fn display_path(&self) -> String {
        match &self.member {
            Some(m) => format!("{}/{}", self.path.display(), m),
            None => self.path.display().to_string(),
        }
    }
}

/// What one list source (one UT1 category, one file, one feed) contributed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceReport {
    /// The source's name as decisions show it, e.g. `ut1/gambling`.
    pub name: String,
    /// Its identifier in the built `ListSet`.
    pub id: SourceId,
    /// The file, directory or tarball it was read from.
    pub origin: PathBuf,
    /// The Haven category its entries belong to.
    pub category: CategoryId,
    /// Each file read for it, in reading order.
    pub files: Vec<FileReport>,
}

impl SourceReport {
    /// Lines read across its files.
    pub fn lines(&self) -> u64 {
        self.files.iter().map(|f| f.lines).sum()
    }

    /// Entries accepted across its files.
    pub fn entries(&self) -> u64 {
        self.files.iter().map(|f| f.entries).sum()
    }

    /// Lines skipped as bad across its files.
    pub fn rejected(&self) -> u64 {
        self.files.iter().map(|f| f.rejected).sum()
    }

    /// The report for one file, found by member path (tarballs) or by file name.
    pub fn file(&self, name: &str) -> Option<&FileReport> {
        self.files.iter().find(|f| match &f.member {
            Some(m) => m == name || m.rsplit('/').next() == Some(name),
            None => f.path.file_name().is_some_and(|n| n == name) || f.path.as_os_str() == name,
        })
    }
}

/// The outcome of one successful `build`: every source and file read, and UT1 categories left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// One entry per source in the built set, in `SourceId` order.
    pub sources: Vec<SourceReport>,
    /// UT1 categories the mapping deliberately does not import, as `<source>/<dir>`.
    pub not_imported: Vec<String>,
    /// UT1 categories the mapping does not mention, skipped, as `<source>/<dir>`; the mapping needs updating.
    pub unmapped: Vec<String>,
    /// UT1 symbolic-link categories (aliases such as `porn` -> `adult`), skipped so nothing loads twice.
    pub aliases: Vec<String>,
    /// Wall-clock time for the whole build, counting pass included.
    pub elapsed: Duration,
    /// Lines read across all files.
    pub total_lines: u64,
    /// Entries accepted across all files.
    pub total_entries: u64,
    /// Lines skipped as bad across all files.
    pub total_rejected: u64,
    /// Domain-bearing lines counted before loading, used to presize the domain table.
    pub expected_domain_lines: u64,
    /// Distinct domain entries in the built set.
    pub distinct_domains: usize,
}

impl LoadReport {
    /// Every bad-line sample, file by file, for `haven lists check` and the console.
    pub fn bad_lines(&self) -> impl Iterator<Item = &BadLine> {
        self.sources.iter().flat_map(|s| s.files.iter()).flat_map(|f| f.samples.iter())
    }

    /// Every file report, source by source.
    pub fn files(&self) -> impl Iterator<Item = &FileReport> {
        self.sources.iter().flat_map(|s| s.files.iter())
    }

    /// The report for one source, by name.
    pub fn source(&self, name: &str) -> Option<&SourceReport> {
        self.sources.iter().find(|s| s.name == name)
    }

    /// Fill in the totals from the per-file counts.
    pub(crate) fn total_up(&mut self) {
        let (mut lines, mut entries, mut rejected) = (0, 0, 0);
        for f in self.files() {
            lines += f.lines;
            entries += f.entries;
            rejected += f.rejected;
        }
        self.total_lines = lines;
        self.total_entries = entries;
        self.total_rejected = rejected;
    }
}

impl fmt::Display for LoadReport {
    /// A one-line summary for logs: sources, lines, entries, rejects, distinct domains, time.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} sources, {} lines, {} entries, {} bad lines skipped, {} distinct domains in {} ms",
            self.sources.len(),
            self.total_lines,
            self.total_entries,
            self.total_rejected,
            self.distinct_domains,
            self.elapsed.as_millis()
        )?;
        if !self.unmapped.is_empty() {
            write!(f, "; unmapped UT1 categories skipped: {}", self.unmapped.join(", "))?;
        }
        Ok(())
    }
}
