//! Domain-name normalisation: lists and queries are brought to one canonical form so matching is exact.
//!
//! The canonical form is ASCII lower case, no trailing dot, A-labels (punycode) for international
//! names, labels of 1 to 63 bytes, at most 253 bytes in all. Names from the DNS wire are already
//! A-labels, so the IDNA step only runs when a name contains non-ASCII characters.

use std::fmt;

/// Longest name the DNS allows in text form, so an inline buffer always fits.
pub const MAX_NAME_LEN: usize = 253;
const MAX_LABEL_LEN: usize = 63;

/// Why a name was refused; shown beside the file and line of a bad list entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// Nothing left once whitespace and the trailing dot are removed.
    #[error("empty name")]
    Empty,
    /// Over 253 bytes.
    #[error("name is {0} bytes long; the limit is 253")]
    TooLong(usize),
    /// Two dots in a row, or a leading dot.
    #[error("empty label")]
    EmptyLabel,
    /// A label over 63 bytes.
    #[error("label `{0}` is over 63 bytes")]
    LabelTooLong(String),
    /// A byte that cannot appear in a host name.
    #[error("character {0:?} is not allowed in a host name")]
    BadChar(char),
    /// Unicode that IDNA (UTS 46) refuses.
    #[error("international name could not be converted to punycode")]
    Idna,
}

/// A normalised name held inline, so deciding a DNS query never allocates.
#[derive(Clone)]
pub struct Name {
    buf: [u8; MAX_NAME_LEN],
    len: u8,
}

impl Name {
    /// Normalise text typed by a person, read from a list, or taken from a query.
    pub fn parse(input: &str) -> Result<Name, NameError> {
        let trimmed = input.trim();
        let trimmed = trimmed.strip_suffix('.').unwrap_or(trimmed);
        if trimmed.is_ascii() {
            Name::from_ascii(trimmed.as_bytes())
        } else {
            let ascii = idna::domain_to_ascii(trimmed).map_err(|_| NameError::Idna)?;
            Name::from_ascii(ascii.as_bytes())
        }
    }

    /// Normalise ASCII bytes (lower-casing as it copies); the DNS wire path uses this directly.
    pub fn from_ascii(bytes: &[u8]) -> Result<Name, NameError> {
        let bytes = bytes.strip_suffix(b".").unwrap_or(bytes);
        if bytes.is_empty() {
            return Err(NameError::Empty);
        }
        if bytes.len() > MAX_NAME_LEN {
            return Err(NameError::TooLong(bytes.len()));
        }
        let mut buf = [0u8; MAX_NAME_LEN];
        let mut label_len = 0usize;
        for (i, &b) in bytes.iter().enumerate() {
            let c = b.to_ascii_lowercase();
            match c {
                b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' => {
                    label_len += 1;
                    if label_len > MAX_LABEL_LEN {
                        let start = i + 1 - label_len;
                        let end = bytes[i..].iter().position(|&x| x == b'.').map_or(bytes.len(), |p| i + p);
                        return Err(NameError::LabelTooLong(String::from_utf8_lossy(&bytes[start..end]).into_owned()));
                    }
                }
                b'.' => {
                    if label_len == 0 {
                        return Err(NameError::EmptyLabel);
                    }
                    label_len = 0;
                }
                _ => return Err(NameError::BadChar(char::from(b))),
            }
            buf[i] = c;
        }
        if label_len == 0 {
            return Err(NameError::EmptyLabel);
        }
        // Length checked above against MAX_NAME_LEN (253), which fits in a u8.
        Ok(Name { buf, len: bytes.len() as u8 })
    }

    /// The canonical text, for lookups and explanations.
    pub fn as_str(&self) -> &str {
        // Only ASCII bytes are ever written into `buf`.
        std::str::from_utf8(self.as_bytes()).unwrap_or("")
    }

    /// The canonical bytes, for hashing.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }

    /// Number of labels, so lookups can skip ancestors no list has entries for.
    pub fn label_count(&self) -> usize {
        self.as_bytes().iter().filter(|&&b| b == b'.').count() + 1
    }

    /// The name and each ancestor, most specific first (`a.b.c`, `b.c`, `c`).
    pub fn ancestors(&self) -> Ancestors<'_> {
        Ancestors { name: self.as_bytes(), next: Some(0) }
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({})", self.as_str())
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Name) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}
impl Eq for Name {}

/// Walks a name's ancestors on label boundaries only, so `ad.com` can never match `bad.com`.
pub struct Ancestors<'a> {
    name: &'a [u8],
    next: Option<usize>,
}

impl<'a> Iterator for Ancestors<'a> {
    /// (byte offset where the ancestor starts, the ancestor's bytes)
    type Item = (usize, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let start = self.next?;
        let rest = &self.name[start..];
        self.next = rest.iter().position(|&b| b == b'.').map(|p| start + p + 1);
        Some((start, rest))
    }
}

/// True when `name` is a bare ICANN public suffix (`com`, `co.uk`), which a suffix rule must never be.
///
/// Private-section suffixes (`blogspot.com`, dynamic-DNS providers) stay allowed as entries: a list
/// that names a whole hosting or dynamic-DNS provider means to block all of it.
pub fn is_public_suffix(name: &Name) -> bool {
    let bytes = name.as_bytes();
    match psl::suffix(bytes) {
        Some(s) => s.as_bytes() == bytes && s.is_known() && s.typ() == Some(psl::Type::Icann),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_dot_and_idn() {
        assert_eq!(Name::parse("WWW.Example.COM.").map(|n| n.to_string()), Ok("www.example.com".into()));
        assert_eq!(Name::parse("bücher.de").map(|n| n.to_string()), Ok("xn--bcher-kva.de".into()));
        assert_eq!(Name::parse("XN--BCHER-KVA.de").map(|n| n.to_string()), Ok("xn--bcher-kva.de".into()));
    }

    #[test]
    fn refuses_malformed_names() {
        assert_eq!(Name::parse(""), Err(NameError::Empty));
        assert_eq!(Name::parse("."), Err(NameError::Empty));
        assert_eq!(Name::parse("a..b"), Err(NameError::EmptyLabel));
        assert_eq!(Name::parse(".a.b"), Err(NameError::EmptyLabel));
        assert_eq!(Name::parse("a b.com"), Err(NameError::BadChar(' ')));
        assert!(matches!(Name::parse(&"a".repeat(64)), Err(NameError::LabelTooLong(_))));
        let long = ["abcdefghij"; 26].join(".");
        assert_eq!(Name::parse(&long), Err(NameError::TooLong(long.len())));
    }

    #[test]
    fn ancestors_stop_on_label_boundaries() {
        let n = Name::parse("a.bad.com").unwrap();
        let got: Vec<_> = n.ancestors().map(|(_, a)| String::from_utf8_lossy(a).into_owned()).collect();
        assert_eq!(got, ["a.bad.com", "bad.com", "com"]);
    }

    #[test]
    fn public_suffixes_are_recognised() {
        assert!(is_public_suffix(&Name::parse("co.uk").unwrap()));
        assert!(is_public_suffix(&Name::parse("com").unwrap()));
        assert!(!is_public_suffix(&Name::parse("bbc.co.uk").unwrap()));
        // Private-section suffixes are whole providers a list may deliberately block.
        assert!(!is_public_suffix(&Name::parse("blogspot.com").unwrap()));
        assert!(!is_public_suffix(&Name::parse("kicks-ass.net").unwrap()));
    }
}
