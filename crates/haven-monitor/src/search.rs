//! Search terms out of URLs the proxy saw: Google, Bing, YouTube, DuckDuckGo, Ecosia, Yahoo,
//! and any other site's `q=`-style parameter.
//!
//! Only the proxy sees full URLs (plain HTTP, or HTTPS it intercepts); DNS events carry names
//! only and never yield terms. Input is untrusted; the function never panics and returns `None`
//! when the URL carries no query.

/// Which parameter carries the query on a known engine, by host suffix and path prefix.
const ENGINES: &[(&str, &str, &str)] = &[
    ("youtube.com", "/results", "search_query"),
    ("yahoo.com", "/search", "p"),
    ("yandex.com", "/search", "text"),
    ("baidu.com", "/s", "wd"),
    ("google.", "/search", "q"),
    ("bing.com", "/search", "q"),
    ("duckduckgo.com", "/", "q"),
    ("ecosia.org", "/search", "q"),
    ("startpage.com", "/", "query"),
];

/// Parameters that carry a search on sites Haven does not know by name.
const GENERIC: &[&str] = &["q", "query", "search", "search_query", "searchterm", "keywords", "term"];

/// Longest term kept: a search longer than this is not a search (and bounds the work).
const MAX_TERM_CHARS: usize = 512;

/// A search found in a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchTerms {
    /// The site's host, lower case (`www.google.co.uk`).
    pub engine: String,
    /// The decoded terms as typed.
    pub terms: String,
}

/// The search terms in `url`, if it carries any.
pub fn search_terms(url: &str) -> Option<SearchTerms> {
    let parsed = url::Url::parse(url).ok()?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return None;
    }
    let host = parsed.host_str()?.trim_end_matches('.').to_ascii_lowercase();
    let path = parsed.path();
    let known = ENGINES.iter().find(|(h, p, _)| host_is(&host, h) && path.starts_with(p)).map(|(_, _, k)| *k);
    let wanted: &[&str] = match &known {
        Some(k) => std::slice::from_ref(k),
        None => GENERIC,
    };
    let terms = parsed.query_pairs().find(|(k, v)| wanted.contains(&k.as_ref()) && !v.trim().is_empty())?.1;
    let terms: String = terms.trim().chars().take(MAX_TERM_CHARS).collect();
    Some(SearchTerms { engine: host, terms })
}

/// `google.` matches any Google country domain (`www.google.co.uk`); other suffixes match the
/// domain and its subdomains on label boundaries.
fn host_is(host: &str, pattern: &str) -> bool {
    if let Some(brand) = pattern.strip_suffix('.') {
        return host.split('.').any(|label| label == brand);
    }
    host == pattern || host.strip_suffix(pattern).is_some_and(|rest| rest.ends_with('.'))
}

#[cfg(test)]
mod tests {
    use super::search_terms;

    #[test]
    fn engines_and_generic_parameters() {
        let cases: &[(&str, Option<&str>)] = &[
            ("http://www.google.co.uk/search?q=how+to+tie+a+noose&hl=en", Some("how to tie a noose")),
            ("https://www.bing.com/search?form=QBLH&q=buy%20weed", Some("buy weed")),
            ("https://www.youtube.com/results?search_query=real+gore", Some("real gore")),
            ("https://duckduckgo.com/?q=pro+ana&ia=web", Some("pro ana")),
            ("https://www.ecosia.org/search?method=index&q=kill+myself", Some("kill myself")),
            ("https://search.yahoo.com/search?p=send+nudes", Some("send nudes")),
            ("https://forum.example/find?query=zombie+knife", Some("zombie knife")),
            ("https://www.google.com/maps?q=", None),
            ("https://www.youtube.com/watch?v=abc", None),
            ("https://notgoogle-bing.com.evil/search?x=1", None),
            ("not a url", None),
            ("ftp://example.com/?q=x", None),
        ];
        for (url, want) in cases {
            assert_eq!(search_terms(url).map(|s| s.terms), want.map(str::to_owned), "{url}");
        }
    }

    #[test]
    fn hosts_match_on_label_boundaries() {
        assert!(super::host_is("m.youtube.com", "youtube.com"));
        assert!(!super::host_is("notyoutube.com", "youtube.com"));
        assert!(super::host_is("www.google.de", "google."));
        assert!(!super::host_is("googlex.com", "google."));
    }
}
