//! Why a load failed as a whole. Bad lines are not errors (they are counted in the report);
//! these are the problems that leave the caller with its previous lists in force.

use std::error::Error as _;
use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use haven_policy::ListError;

/// A load that could not finish; the message names the path (or source) and the cause.
///
/// Causes are written into the message rather than exposed as `source()`, so a caller that prints
/// the whole chain does not print them twice.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// A file, directory or tarball is missing or cannot be read.
    #[error("{}: {}", path.display(), describe(cause))]
    Io {
        /// The path as configured (or the file inside a UT1 directory).
        path: PathBuf,
        /// What the operating system said.
        cause: io::Error,
    },
    /// A gzip stream or tar archive is damaged, so what it holds cannot be trusted.
    #[error("{}: corrupt archive: {}", path.display(), describe(cause))]
    Corrupt {
        /// The compressed file or tarball.
        path: PathBuf,
        /// What the decoder said.
        cause: io::Error,
    },
    /// A UT1 path that holds no category lists, so loading it would silently block nothing.
    #[error("{}: no UT1 lists found (expected `blacklists/<category>/domains`, `urls` or `expressions`)", path.display())]
    NotUt1 {
        /// The directory or tarball as configured.
        path: PathBuf,
    },
    /// Two sources with one name would make decisions ambiguous about which list matched.
    #[error("list source name `{0}` is used twice")]
    DuplicateName(String),
    /// A source names a category that is not in the taxonomy it is loaded against.
    #[error("list source `{0}`: its category is not in the taxonomy")]
    UnknownCategory(String),
    /// The list set cannot hold the lists (too many sources, domain table full, expressions too large).
    #[error("{name}: {cause}")]
    List {
        /// The source being loaded, or `lists` when the whole set failed to freeze.
        name: String,
        /// What the policy core said.
        cause: ListError,
    },
}

impl LoadError {
    /// A failed open or read of a plain file or directory.
    pub(crate) fn io(path: &Path, cause: io::Error) -> LoadError {
        LoadError::Io { path: path.to_path_buf(), cause }
    }

    /// A failed read through a decoder: damage in the data is `Corrupt`, anything else `Io`.
    pub(crate) fn decode(path: &Path, cause: io::Error) -> LoadError {
        match cause.kind() {
            io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof | io::ErrorKind::Other => {
                LoadError::Corrupt { path: path.to_path_buf(), cause }
            }
            _ => LoadError::Io { path: path.to_path_buf(), cause },
        }
    }
}

/// The error and its causes on one line, without the `(os error N)` suffix people do not need.
fn describe(e: &io::Error) -> String {
    let mut out = strip_os_code(&e.to_string()).to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        let text = cause.to_string();
        let text = strip_os_code(&text);
        if !out.ends_with(text) {
            let _ = write!(out, ": {text}");
        }
        next = cause.source();
    }
    out
}

fn strip_os_code(s: &str) -> &str {
    match s.rfind(" (os error ") {
        Some(i) if s.ends_with(')') => &s[..i],
        _ => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_path_and_cause() {
        let e = LoadError::io(Path::new("lists/extra.txt"), io::Error::from_raw_os_error(2));
        assert_eq!(e.to_string(), "lists/extra.txt: No such file or directory");
    }
}
