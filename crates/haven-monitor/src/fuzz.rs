//! Fuzz bodies for the monitor's parsers of untrusted text, shared by the cargo-fuzz targets in
//! fuzz/ and checked here for their invariants: keyword libraries, rule sets, and search terms
//! from URLs. None may panic; what parses must behave.

use crate::keywords::{KeywordMatcher, Library};
use crate::rules::RuleSet;
use crate::search::search_terms;

/// A keyword library file: parse; if it parses, compile it and match the text against itself.
pub fn keyword_library(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(lib) = Library::parse("fuzz.txt", &text)
        && let Ok(m) = KeywordMatcher::new(std::slice::from_ref(&lib))
    {
        for hit in m.find(&text) {
            assert!(hit.entry < m.entries().len(), "a hit points past the entries");
        }
    }
}

/// A rules file: parse; what parses writes back to text that parses to the same rule ids.
pub fn rule_set(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(rules) = RuleSet::parse("fuzz", &text) {
        let again = RuleSet::parse("fuzz", &rules.to_text());
        let Ok(again) = again else { panic!("written rules do not re-parse: {:?}", rules.to_text()) };
        let ids = |r: &RuleSet| r.rules.iter().map(|x| x.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&rules), ids(&again));
    }
}

/// A URL the proxy saw: search terms out of it, if any; the engine host is lower case.
pub fn search(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Some(s) = search_terms(&text) {
        assert_eq!(s.engine, s.engine.to_ascii_lowercase(), "engine host is lower case");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_bodies_accept_the_shipped_files_and_garbage() {
        super::keyword_library(include_bytes!("../data/keywords-en.txt"));
        super::rule_set(include_bytes!("../data/default-rules.txt"));
        super::search(b"https://www.google.com/search?q=hello+world");
        for junk in [&b"\xff\xfe;=;="[..], b"id=x; when=flag:illegal; severity=critical; title=t; hours=Mon-Fri 08:00-16:00", b"http://[::1/?q="] {
            super::keyword_library(junk);
            super::rule_set(junk);
            super::search(junk);
        }
    }
}
