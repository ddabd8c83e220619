//! Parsers for one line of each list format schools use. Pure functions over untrusted text:
//! a bad line is an error value for the caller to count and report, never a panic.

use std::net::IpAddr;

use crate::name::{Name, NameError, is_public_suffix};

/// The list formats Haven reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListFormat {
    /// One domain per line, covering the domain and its subdomains (UT1 `domains`, plain lists).
    Domains,
    /// `host/path` prefixes without a scheme (UT1 `urls`).
    Urls,
    /// Regular expressions over `host/path?query` (UT1 `expressions`); proxy only.
    Expressions,
    /// Hosts file lines: `0.0.0.0 name [name ...]`.
    Hosts,
    /// AdBlock-style `||domain^` lines.
    Adblock,
    /// Domains and URLs mixed, as illegal-content feeds deliver them: a line with a path is a
    /// URL-level entry (that page and below only), a bare domain covers the domain and subdomains.
    Mixed,
}

impl ListFormat {
    /// Parse the configuration word for a format.
    pub fn parse(s: &str) -> Option<ListFormat> {
        Some(match s {
            "domains" => ListFormat::Domains,
            "urls" => ListFormat::Urls,
            "expressions" => ListFormat::Expressions,
            "hosts" => ListFormat::Hosts,
            "adblock" => ListFormat::Adblock,
            "mixed" => ListFormat::Mixed,
            _ => return None,
        })
    }

    /// The configuration word for this format.
    pub fn as_str(self) -> &'static str {
        match self {
            ListFormat::Domains => "domains",
            ListFormat::Urls => "urls",
            ListFormat::Expressions => "expressions",
            ListFormat::Hosts => "hosts",
            ListFormat::Adblock => "adblock",
            ListFormat::Mixed => "mixed",
        }
    }
}

/// A host plus path prefix, as URL lists and URL-level site entries hold them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlPattern {
    /// Host, normalised; a leading `www.` is dropped so both forms match.
    pub host: Name,
    /// Path prefix starting with `/`, case kept; may include a query.
    pub path: Box<str>,
}

impl UrlPattern {
    /// Parse `host/path`, with or without a scheme, port or fragment.
    pub fn parse(text: &str) -> Result<UrlPattern, LineError> {
        let t = text.trim();
        let t = strip_scheme(t);
        let (hostport, path) = match t.find('/') {
            Some(i) => (&t[..i], &t[i..]),
            None => (t, "/"),
        };
        let host = strip_port(hostport);
        let host = Name::parse(host).map_err(LineError::Name)?;
        let host = strip_www(host);
        let path = path.split('#').next().unwrap_or("/");
        if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(LineError::BadPath);
        }
        Ok(UrlPattern { host, path: path.into() })
    }

    /// True when `path_and_query` (starting with `/`) is this pattern's path or lies under it.
    /// Matching stops on a boundary, so `/games` covers `/games/x` and `/games?id=1` but not `/gamesroom`.
    pub fn path_matches(&self, path_and_query: &str) -> bool {
        path_prefix_matches(&self.path, path_and_query)
    }
}

/// True when `path` equals `prefix` or continues it across a path, query or parameter boundary.
pub fn path_prefix_matches(prefix: &str, path: &str) -> bool {
    if !path.starts_with(prefix) {
        return false;
    }
    if prefix.ends_with('/') || prefix.len() == path.len() {
        return true;
    }
    matches!(path.as_bytes()[prefix.len()], b'/' | b'?' | b'#' | b';' | b'&')
}

fn strip_scheme(t: &str) -> &str {
    for scheme in ["http://", "https://", "HTTP://", "HTTPS://"] {
        if let Some(rest) = t.strip_prefix(scheme) {
            return rest;
        }
    }
    t
}

fn strip_port(hostport: &str) -> &str {
    match hostport.rsplit_once(':') {
        Some((h, p)) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => hostport,
    }
}

/// Drop one leading `www.` (squidGuard does the same for URL lists) unless nothing would be left.
pub fn strip_www(host: Name) -> Name {
    match host.as_str().strip_prefix("www.") {
        Some(rest) if rest.contains('.') => Name::from_ascii(rest.as_bytes()).unwrap_or(host),
        _ => host,
    }
}

/// One entry a list line yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry<'a> {
    /// A domain name (suffix or exact semantics is the source's choice).
    Domain(Name),
    /// A bare IP address: an IP rule, not a name.
    Ip(IpAddr),
    /// A host plus path prefix.
    Url(UrlPattern),
    /// A regular expression, compiled later with a size limit.
    Expression(&'a str),
}

/// Why a list line was skipped; reported with its file and line number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LineError {
    /// The name is not a valid host name.
    #[error("{0}")]
    Name(NameError),
    /// A bare public suffix such as `com` or `co.uk` would block a whole registry.
    #[error("`{0}` is a public suffix; a rule on it would block every site under it")]
    PublicSuffix(String),
    /// A hosts line whose first field is not an IP address.
    #[error("hosts line must start with an IP address")]
    HostsAddress,
    /// A hosts line with an address but no names.
    #[error("hosts line has no host name")]
    HostsNoName,
    /// AdBlock syntax Haven cannot honour at DNS level.
    #[error("unsupported AdBlock rule: {0}")]
    Adblock(&'static str),
    /// A URL path with spaces or control characters.
    #[error("URL path contains spaces or control characters")]
    BadPath,
    /// A line far longer than any real entry.
    #[error("line is {0} bytes long; entries over 2048 bytes are refused")]
    TooLong(usize),
    /// A hashed entry that is not 64 hexadecimal digits.
    #[error("hashed entry must be 64 hexadecimal digits (SHA-256)")]
    BadHash,
    /// A regular expression that does not compile.
    #[error("regular expression does not compile: {0}")]
    Regex(String),
}

const MAX_LINE: usize = 2048;

/// Host names that hosts files list for the local machine, never as blocks.
const HOSTS_LOCAL_NAMES: [&str; 10] = [
    "localhost",
    "localhost.localdomain",
    "local",
    "broadcasthost",
    "ip6-localhost",
    "ip6-loopback",
    "ip6-localnet",
    "ip6-mcastprefix",
    "ip6-allnodes",
    "ip6-allrouters",
];

/// Parse one line, handing each entry to `emit`. Blank lines and comments emit nothing.
pub fn parse_line<'a>(format: ListFormat, line: &'a str, mut emit: impl FnMut(Entry<'a>)) -> Result<(), LineError> {
    if line.len() > MAX_LINE {
        return Err(LineError::TooLong(line.len()));
    }
    let line = line.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    match format {
        ListFormat::Domains => {
            let l = strip_comment(line, '#');
            if l.is_empty() {
                return Ok(());
            }
            emit(domain_or_ip(l.strip_prefix("*.").or_else(|| l.strip_prefix('.')).unwrap_or(l))?);
        }
        ListFormat::Mixed => {
            let l = strip_comment(line, '#');
            if l.is_empty() {
                return Ok(());
            }
            let no_scheme = strip_scheme(l);
            if no_scheme.contains('/') {
                emit(Entry::Url(UrlPattern::parse(l)?));
            } else {
                emit(domain_or_ip(no_scheme)?);
            }
        }
        ListFormat::Urls => {
            let l = strip_comment(line, '#');
            if l.is_empty() {
                return Ok(());
            }
            emit(Entry::Url(UrlPattern::parse(l)?));
        }
        ListFormat::Expressions => {
            if line.is_empty() || line.starts_with('#') {
                return Ok(());
            }
            emit(Entry::Expression(line));
        }
        ListFormat::Hosts => {
            let l = strip_comment(line, '#');
            if l.is_empty() {
                return Ok(());
            }
            let mut fields = l.split_whitespace();
            let addr = fields.next().unwrap_or("");
            if addr.parse::<IpAddr>().is_err() {
                return Err(LineError::HostsAddress);
            }
            let mut names = Vec::new();
            for f in fields {
                if HOSTS_LOCAL_NAMES.contains(&f) || f.parse::<IpAddr>().is_ok() {
                    continue;
                }
                names.push(Name::parse(f).map_err(LineError::Name)?);
            }
            if names.is_empty() {
                // `127.0.0.1 localhost` and friends are normal in hosts files: nothing to block.
                return if l.split_whitespace().nth(1).is_some() { Ok(()) } else { Err(LineError::HostsNoName) };
            }
            for n in names {
                emit(Entry::Domain(n));
            }
        }
        ListFormat::Adblock => {
            if line.is_empty() || line.starts_with('!') || line.starts_with('[') || line.starts_with('#') {
                return Ok(());
            }
            if line.starts_with("@@") {
                return Err(LineError::Adblock("exception rules (@@) are not supported; use a site allow entry"));
            }
            if line.contains("##") || line.contains("#@#") || line.contains("#?#") {
                return Err(LineError::Adblock("cosmetic rules apply to page content, not to names"));
            }
            let Some(rest) = line.strip_prefix("||") else {
                return Err(LineError::Adblock("only ||domain^ rules are supported"));
            };
            let (body, options) = match rest.split_once('$') {
                Some((b, o)) => (b, Some(o)),
                None => (rest, None),
            };
            if let Some(o) = options
                && o.split(',').any(|opt| opt != "important" && opt != "all" && opt != "document")
            {
                return Err(LineError::Adblock("rule options other than $important change its meaning"));
            }
            let Some(domain) = body.strip_suffix('^').or_else(|| body.strip_suffix("^|")) else {
                return Err(LineError::Adblock("rule must end with ^ to cover a whole domain"));
            };
            if domain.contains(['*', '/', '^', '|']) {
                return Err(LineError::Adblock("wildcards and paths are not supported"));
            }
            emit(domain_or_ip(domain)?);
        }
    }
    Ok(())
}

fn strip_comment(line: &str, marker: char) -> &str {
    match line.find(marker) {
        Some(i) => line[..i].trim(),
        None => line,
    }
}

fn domain_or_ip(text: &str) -> Result<Entry<'_>, LineError> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(Entry::Ip(ip));
    }
    let name = Name::parse(text).map_err(LineError::Name)?;
    if is_public_suffix(&name) {
        return Err(LineError::PublicSuffix(name.to_string()));
    }
    Ok(Entry::Domain(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(format: ListFormat, line: &str) -> Result<Vec<String>, LineError> {
        let mut v = Vec::new();
        parse_line(format, line, |e| {
            v.push(match e {
                Entry::Domain(n) => n.to_string(),
                Entry::Ip(ip) => format!("ip:{ip}"),
                Entry::Url(u) => format!("{}{}", u.host, u.path),
                Entry::Expression(x) => format!("re:{x}"),
            })
        })?;
        Ok(v)
    }

    #[test]
    fn each_format_parses_its_lines() {
        use ListFormat::*;
        let ok = |f, l: &str, want: &[&str]| assert_eq!(entries(f, l).unwrap(), want, "{l}");
        ok(Domains, "Bet365.COM.", &["bet365.com"]);
        ok(Domains, ".afshin.ir", &["afshin.ir"]);
        ok(Domains, "*.example.org # note", &["example.org"]);
        ok(Domains, "1.1.1.1", &["ip:1.1.1.1"]);
        ok(Domains, "  # comment", &[]);
        ok(Domains, "", &[]);
        ok(Urls, "www.Example.com/Games/", &["example.com/Games/"]);
        ok(Urls, "http://example.com:8080/a#frag", &["example.com/a"]);
        ok(Urls, "example.com", &["example.com/"]);
        ok(Hosts, "0.0.0.0 ads.example.com tracker.example.net # both", &["ads.example.com", "tracker.example.net"]);
        ok(Hosts, "127.0.0.1 localhost", &[]);
        ok(Hosts, "::1 ip6-localhost ip6-loopback", &[]);
        ok(Adblock, "||doubleclick.net^", &["doubleclick.net"]);
        ok(Adblock, "||Ads.Example.com^$important", &["ads.example.com"]);
        ok(Adblock, "! Title: list", &[]);
        ok(Adblock, "[Adblock Plus 2.0]", &[]);
        ok(Expressions, "(/banner/|/sponsor/)", &["re:(/banner/|/sponsor/)"]);
        ok(Mixed, "bad.example.com", &["bad.example.com"]);
        ok(Mixed, "http://bad.example.com/a/b.jpg", &["bad.example.com/a/b.jpg"]);
    }

    #[test]
    fn bad_lines_say_why() {
        use ListFormat::*;
        assert_eq!(entries(Domains, "co.uk"), Err(LineError::PublicSuffix("co.uk".into())));
        assert!(matches!(entries(Domains, "bad name.com"), Err(LineError::Name(_))));
        assert_eq!(entries(Hosts, "ads.example.com"), Err(LineError::HostsAddress));
        assert_eq!(entries(Hosts, "0.0.0.0"), Err(LineError::HostsNoName));
        assert!(matches!(entries(Adblock, "@@||good.com^"), Err(LineError::Adblock(_))));
        assert!(matches!(entries(Adblock, "example.com##.ad"), Err(LineError::Adblock(_))));
        assert!(matches!(entries(Adblock, "||ads.com^$third-party"), Err(LineError::Adblock(_))));
        assert!(matches!(entries(Adblock, "/banner/"), Err(LineError::Adblock(_))));
        assert!(matches!(entries(Domains, &"a".repeat(3000)), Err(LineError::TooLong(3000))));
    }

    #[test]
    fn url_paths_match_on_boundaries() {
        let p = UrlPattern::parse("example.com/games").unwrap();
        assert!(p.path_matches("/games"));
        assert!(p.path_matches("/games/chess"));
        assert!(p.path_matches("/games?id=1"));
        assert!(!p.path_matches("/gamesroom"));
        assert!(!p.path_matches("/Games"));
        assert!(UrlPattern::parse("example.com/dir/").unwrap().path_matches("/dir/anything"));
    }
}
