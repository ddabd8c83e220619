//! Keyword libraries (open, versioned data files) and the whole-word phrase matcher over them.
//!
//! A library file is plain text, one entry per line:
//!
//! ```text
//! library: en
//! language: English
//! version: 2026.12.1
//! # category | severity | term, variant, ... | rationale
//! suicide_risk | critical | kill myself, kms | First-person statement of intent to die.
//! ```
//!
//! Every term and its variants are normalised ([`crate::normalise`]) and padded with spaces, so
//! a pattern matches whole words only (`rapist` never matches inside `therapist`). A phrase also
//! matches with its words run together (`killmyself`). Matching is one Aho-Corasick pass over the
//! normalised text, reporting overlapping matches so a phrase and a word inside it both count.

use aho_corasick::{AhoCorasick, MatchKind};
use haven_policy::Severity;

use crate::normalise::normalise_into;

/// Categories a keyword entry may carry (the monitoring themes of UKSIC and the issue).
pub const KEYWORD_CATEGORIES: &[&str] =
    &["self_harm", "suicide_risk", "extremism", "grooming_cse", "bullying", "drugs", "weapons", "violence"];

/// The starter libraries shipped with Haven, written for this project: (file name, text).
pub const SHIPPED_LIBRARIES: &[(&str, &str)] =
    &[("keywords-en.txt", include_str!("../data/keywords-en.txt")), ("keywords-pl.txt", include_str!("../data/keywords-pl.txt"))];

/// A library line that cannot be used, named by file and line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LibraryError {
    /// The line does not have four `|`-separated fields, or a field is empty.
    #[error("{file} line {line}: expected `category | severity | term, variant | rationale`")]
    Shape {
        /// The library file.
        file: String,
        /// 1-based line number.
        line: usize,
    },
    /// Unknown category.
    #[error("{file} line {line}: unknown category `{category}` (known: {known})")]
    Category {
        /// The library file.
        file: String,
        /// 1-based line number.
        line: usize,
        /// What the line said.
        category: String,
        /// The allowed categories.
        known: String,
    },
    /// Unknown or unusable severity.
    #[error("{file} line {line}: severity `{severity}` is not one of critical, high, medium, low, digest")]
    Severity {
        /// The library file.
        file: String,
        /// 1-based line number.
        line: usize,
        /// What the line said.
        severity: String,
    },
    /// A term that normalises to nothing (only punctuation).
    #[error("{file} line {line}: term `{term}` has no letters or digits")]
    EmptyTerm {
        /// The library file.
        file: String,
        /// 1-based line number.
        line: usize,
        /// The term.
        term: String,
    },
    /// A header (`library:`, `language:`, `version:`) is missing.
    #[error("{file}: missing header `{header}:`")]
    MissingHeader {
        /// The library file.
        file: String,
        /// The header.
        header: &'static str,
    },
    /// The libraries together could not be compiled into a matcher.
    #[error("keyword matcher could not be built: {0}")]
    Build(String),
}

/// One library entry: a term and its spelling variants, with why it matters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeywordEntry {
    /// Monitoring category (one of [`KEYWORD_CATEGORIES`]).
    pub category: String,
    /// Severity of an alert this entry raises.
    pub severity: Severity,
    /// The term as written in the library (the first spelling).
    pub term: String,
    /// Other spellings, as written.
    pub variants: Vec<String>,
    /// Short rationale shown to the DSL.
    pub rationale: String,
    /// Library id (`en`, `pl`) it came from.
    pub library: String,
    /// 1-based line in the library file.
    pub line: usize,
}

/// One parsed library file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Library {
    /// Short id (`en`), used in evidence.
    pub id: String,
    /// Language name, for the console.
    pub language: String,
    /// Version of the library, recorded with every alert it raised.
    pub version: String,
    /// The entries.
    pub entries: Vec<KeywordEntry>,
}

impl Library {
    /// Parse a library file's text; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Library, LibraryError> {
        let (mut id, mut language, mut version) = (None, None, None);
        let mut entries = Vec::new();
        for (n, raw) in text.lines().enumerate() {
            let line = n + 1;
            let l = raw.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            if !l.contains('|') {
                if let Some((k, v)) = l.split_once(':') {
                    let v = v.trim().to_owned();
                    match k.trim() {
                        "library" => id = Some(v),
                        "language" => language = Some(v),
                        "version" => version = Some(v),
                        _ => return Err(LibraryError::Shape { file: file.to_owned(), line }),
                    }
                    continue;
                }
                return Err(LibraryError::Shape { file: file.to_owned(), line });
            }
            let fields: Vec<&str> = l.split('|').map(str::trim).collect();
            let [category, severity, terms, rationale] = fields[..] else {
                return Err(LibraryError::Shape { file: file.to_owned(), line });
            };
            if category.is_empty() || terms.is_empty() || rationale.is_empty() {
                return Err(LibraryError::Shape { file: file.to_owned(), line });
            }
            if !KEYWORD_CATEGORIES.contains(&category) {
                return Err(LibraryError::Category {
                    file: file.to_owned(),
                    line,
                    category: category.to_owned(),
                    known: KEYWORD_CATEGORIES.join(", "),
                });
            }
            let severity = match Severity::parse(severity) {
                Some(s) if s != Severity::None => s,
                _ => return Err(LibraryError::Severity { file: file.to_owned(), line, severity: severity.to_owned() }),
            };
            let mut spellings = terms.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned);
            let Some(term) = spellings.next() else {
                return Err(LibraryError::Shape { file: file.to_owned(), line });
            };
            let variants: Vec<String> = spellings.collect();
            for t in std::iter::once(&term).chain(&variants) {
                if crate::normalise(t).trim().is_empty() {
                    return Err(LibraryError::EmptyTerm { file: file.to_owned(), line, term: t.clone() });
                }
            }
            entries.push(KeywordEntry {
                category: category.to_owned(),
                severity,
                term,
                variants,
                rationale: rationale.to_owned(),
                library: String::new(),
                line,
            });
        }
        let missing = |header| LibraryError::MissingHeader { file: file.to_owned(), header };
        let id = id.ok_or_else(|| missing("library"))?;
        let language = language.ok_or_else(|| missing("language"))?;
        let version = version.ok_or_else(|| missing("version"))?;
        for e in &mut entries {
            e.library = id.clone();
        }
        Ok(Library { id, language, version, entries })
    }

    /// Every library shipped with Haven.
    pub fn shipped() -> Result<Vec<Library>, LibraryError> {
        SHIPPED_LIBRARIES.iter().map(|(f, t)| Library::parse(f, t)).collect()
    }
}

/// One keyword found in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeywordHit {
    /// Index into [`KeywordMatcher::entries`].
    pub entry: usize,
    /// The normalised words that matched (for highlighting: compare normalised words).
    pub matched: String,
}

/// All libraries compiled into one automaton.
#[derive(Debug, Clone)]
pub struct KeywordMatcher {
    automaton: AhoCorasick,
    /// Pattern index -> entry index.
    pattern_entry: Vec<usize>,
    /// Pattern index -> normalised words (without padding).
    pattern_words: Vec<String>,
    entries: Vec<KeywordEntry>,
    versions: Vec<(String, String)>,
}

impl KeywordMatcher {
    /// Compile libraries. When two entries normalise to the same pattern, the more severe wins.
    pub fn new(libraries: &[Library]) -> Result<KeywordMatcher, LibraryError> {
        let mut entries = Vec::new();
        let mut by_pattern: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        let mut patterns: Vec<String> = Vec::new();
        let mut pattern_entry: Vec<usize> = Vec::new();
        let mut scratch = String::new();
        for lib in libraries {
            for e in &lib.entries {
                let idx = entries.len();
                entries.push(e.clone());
                for spelling in std::iter::once(&e.term).chain(&e.variants) {
                    normalise_into(spelling, &mut scratch);
                    let words = scratch.trim().to_owned();
                    let mut forms = vec![words.clone()];
                    if words.contains(' ') {
                        // Run together, then folded again: `kill lots` -> `kilots`, as typed.
                        forms.push(crate::normalise(&words.replace(' ', "")).trim().to_owned());
                    }
                    for form in forms {
                        let padded = format!(" {form} ");
                        match by_pattern.get(&padded) {
                            Some(&p) => {
                                if entries[pattern_entry[p]].severity < e.severity {
                                    pattern_entry[p] = idx;
                                }
                            }
                            None => {
                                by_pattern.insert(padded.clone(), patterns.len());
                                patterns.push(padded);
                                pattern_entry.push(idx);
                            }
                        }
                    }
                }
            }
        }
        let automaton =
            AhoCorasick::builder().match_kind(MatchKind::Standard).build(&patterns).map_err(|e| LibraryError::Build(e.to_string()))?;
        let pattern_words = patterns.iter().map(|p| p.trim().to_owned()).collect();
        let versions = libraries.iter().map(|l| (l.id.clone(), l.version.clone())).collect();
        Ok(KeywordMatcher { automaton, pattern_entry, pattern_words, entries, versions })
    }

    /// The entries, indexed by [`KeywordHit::entry`].
    pub fn entries(&self) -> &[KeywordEntry] {
        &self.entries
    }

    /// `(library id, version)` of every library compiled in, for evidence and the console.
    pub fn versions(&self) -> &[(String, String)] {
        &self.versions
    }

    /// Every keyword in `text`, each entry at most once, most severe first.
    pub fn find(&self, text: &str) -> Vec<KeywordHit> {
        let mut scratch = String::with_capacity(text.len() + 2);
        self.find_with(text, &mut scratch)
    }

    /// As [`KeywordMatcher::find`], normalising into a caller's buffer (no allocation when
    /// nothing matches).
    pub fn find_with(&self, text: &str, scratch: &mut String) -> Vec<KeywordHit> {
        normalise_into(text, scratch);
        let mut hits: Vec<KeywordHit> = Vec::new();
        for m in self.automaton.find_overlapping_iter(scratch.as_str()) {
            let p = m.pattern().as_usize();
            let entry = self.pattern_entry[p];
            if !hits.iter().any(|h| h.entry == entry) {
                hits.push(KeywordHit { entry, matched: self.pattern_words[p].clone() });
            }
        }
        hits.sort_by(|a, b| self.entries[b.entry].severity.cmp(&self.entries[a.entry].severity));
        hits
    }

    /// True when `text` holds any keyword (the fast path for the bench and the monitor stage).
    pub fn is_match(&self, text: &str, scratch: &mut String) -> bool {
        normalise_into(text, scratch);
        self.automaton.is_match(scratch.as_str())
    }
}
