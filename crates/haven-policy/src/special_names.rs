//! Names the DNS front end answers itself: safe-search rewrites and the names that protect the
//! filter (Firefox's DoH canary, iCloud Private Relay, `resolver.arpa`).
//!
//! Pure data and pure functions over a normalised [`Name`]; no I/O. The tables follow
//! `filtering-behaviour.md` §3 and §4: Google's own list of search domains (plus the few extra
//! hosts AdGuard Home rewrites), YouTube, Bing, DuckDuckGo, Ecosia, Pixabay and Yandex.

use std::net::Ipv4Addr;

use crate::name::Name;
use crate::policy::{SafeSearch, YouTubeMode};

/// Google's forced-SafeSearch front end (web, image and video search).
pub const GOOGLE_SAFE: &str = "forcesafesearch.google.com";
/// YouTube Restricted Mode, strict.
pub const YOUTUBE_STRICT: &str = "restrict.youtube.com";
/// YouTube Restricted Mode, moderate.
pub const YOUTUBE_MODERATE: &str = "restrictmoderate.youtube.com";
/// Bing's strict SafeSearch front end.
pub const BING_STRICT: &str = "strict.bing.com";
/// DuckDuckGo's safe-search front end.
pub const DUCKDUCKGO_SAFE: &str = "safe.duckduckgo.com";
/// Ecosia's strict safe-search front end.
pub const ECOSIA_STRICT: &str = "strict-safe-search.ecosia.org";
/// Pixabay's safe-search front end.
pub const PIXABAY_SAFE: &str = "safesearch.pixabay.com";
/// Yandex's "family search" address; Yandex publishes an address, not a host name.
pub const YANDEX_FAMILY: Ipv4Addr = Ipv4Addr::new(213, 180, 193, 56);

/// Every `www.google.<domain>` Google serves search on (Google's supported-domains list plus
/// `co`, `gp` and `tk`, which AdGuard Home also rewrites). Sorted, for binary search.
pub const GOOGLE_DOMAINS: &[&str] = &[
    "ad", "ae", "al", "am", "as", "at", "az", "ba", "be", "bf", "bg", "bi", "bj", "bs", "bt", "by", "ca", "cat", "cd", "cf", "cg", "ch",
    "ci", "cl", "cm", "cn", "co", "co.ao", "co.bw", "co.ck", "co.cr", "co.id", "co.il", "co.in", "co.jp", "co.ke", "co.kr", "co.ls",
    "co.ma", "co.mz", "co.nz", "co.th", "co.tz", "co.ug", "co.uk", "co.uz", "co.ve", "co.vi", "co.za", "co.zm", "co.zw", "com", "com.af",
    "com.ag", "com.ai", "com.ar", "com.au", "com.bd", "com.bh", "com.bn", "com.bo", "com.br", "com.bz", "com.co", "com.cu", "com.cy",
    "com.do", "com.ec", "com.eg", "com.et", "com.fj", "com.gh", "com.gi", "com.gt", "com.hk", "com.jm", "com.kh", "com.kw", "com.lb",
    "com.ly", "com.mm", "com.mt", "com.mx", "com.my", "com.na", "com.ng", "com.ni", "com.np", "com.om", "com.pa", "com.pe", "com.pg",
    "com.ph", "com.pk", "com.pr", "com.py", "com.qa", "com.sa", "com.sb", "com.sg", "com.sl", "com.sv", "com.tj", "com.tr", "com.tw",
    "com.ua", "com.uy", "com.vc", "com.vn", "cv", "cz", "de", "dj", "dk", "dm", "dz", "ee", "es", "fi", "fm", "fr", "ga", "ge", "gg", "gl",
    "gm", "gp", "gr", "gy", "hn", "hr", "ht", "hu", "ie", "im", "iq", "is", "it", "je", "jo", "kg", "ki", "kz", "la", "li", "lk", "lt",
    "lu", "lv", "md", "me", "mg", "mk", "ml", "mn", "ms", "mu", "mv", "mw", "ne", "nl", "no", "nr", "nu", "pl", "pn", "ps", "pt", "ro",
    "rs", "ru", "rw", "sc", "se", "sh", "si", "sk", "sm", "sn", "so", "sr", "st", "td", "tg", "tk", "tl", "tm", "tn", "to", "tt", "vg",
    "vu", "ws",
];

/// Hosts YouTube is reached through: the site, the mobile site, the app APIs and the embed host.
pub const YOUTUBE_HOSTS: &[&str] =
    &["m.youtube.com", "www.youtube-nocookie.com", "www.youtube.com", "youtube.googleapis.com", "youtubei.googleapis.com"];

/// Bing's search hosts.
pub const BING_HOSTS: &[&str] = &["edgeservices.bing.com", "www.bing.com"];

/// DuckDuckGo's search hosts.
pub const DUCKDUCKGO_HOSTS: &[&str] = &["duckduckgo.com", "start.duckduckgo.com", "www.duckduckgo.com"];

/// Ecosia's search host.
pub const ECOSIA_HOSTS: &[&str] = &["www.ecosia.org"];

/// Pixabay's host.
pub const PIXABAY_HOSTS: &[&str] = &["pixabay.com"];

/// Yandex search domains; each is rewritten bare and with `www.` (`яндекс.рф` as its A-label).
pub const YANDEX_DOMAINS: &[&str] = &[
    "xn--d1acpjx3f.xn--p1ai",
    "ya.ru",
    "yandex.az",
    "yandex.by",
    "yandex.co.il",
    "yandex.com",
    "yandex.com.am",
    "yandex.com.ge",
    "yandex.com.ru",
    "yandex.com.tr",
    "yandex.de",
    "yandex.ee",
    "yandex.eu",
    "yandex.fi",
    "yandex.fr",
    "yandex.kz",
    "yandex.lt",
    "yandex.lv",
    "yandex.md",
    "yandex.net",
    "yandex.org",
    "yandex.pl",
    "yandex.ru",
    "yandex.tj",
    "yandex.tm",
    "yandex.uz",
];

/// Firefox's DoH canary: a negative answer keeps Firefox's default-on DoH off on this network.
pub const FIREFOX_CANARY: &str = "use-application-dns.net";
/// iCloud Private Relay's entry hosts: a quick negative answer makes Apple devices ask the user to turn it off.
pub const PRIVATE_RELAY_HOSTS: &[&str] = &["mask-h2.icloud.com", "mask.icloud.com"];
/// RFC 9462 discovery zone: NODATA stops clients upgrading themselves to an outside encrypted resolver.
pub const RESOLVER_ARPA: &str = "resolver.arpa";

/// A search engine whose safe mode Haven enforces by DNS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Engine {
    /// Google Search, every country domain.
    Google,
    /// YouTube (Restricted Mode).
    YouTube,
    /// Microsoft Bing.
    Bing,
    /// DuckDuckGo.
    DuckDuckGo,
    /// Ecosia.
    Ecosia,
    /// Pixabay image search.
    Pixabay,
    /// Yandex.
    Yandex,
}

impl Engine {
    /// Lower-case word for logs and rule references.
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Google => "google",
            Engine::YouTube => "youtube",
            Engine::Bing => "bing",
            Engine::DuckDuckGo => "duckduckgo",
            Engine::Ecosia => "ecosia",
            Engine::Pixabay => "pixabay",
            Engine::Yandex => "yandex",
        }
    }
}

/// What a rewritten name is answered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RewriteTarget {
    /// A CNAME to this host, whose own records are then resolved like any name.
    Cname(&'static str),
    /// This IPv4 address (and no data for other types).
    A(Ipv4Addr),
}

/// A safe-search rewrite that applies to a name for a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SafeSearchRewrite {
    /// Whose search it is.
    pub engine: Engine,
    /// What to answer with.
    pub target: RewriteTarget,
}

/// The engine a host belongs to, whatever a group's settings, so tools can explain rewrites.
pub fn safe_search_engine(name: &Name) -> Option<Engine> {
    let n = name.as_str();
    if let Some(rest) = n.strip_prefix("www.google.") {
        return GOOGLE_DOMAINS.binary_search(&rest).is_ok().then_some(Engine::Google);
    }
    if YOUTUBE_HOSTS.contains(&n) {
        return Some(Engine::YouTube);
    }
    if BING_HOSTS.contains(&n) {
        return Some(Engine::Bing);
    }
    if DUCKDUCKGO_HOSTS.contains(&n) {
        return Some(Engine::DuckDuckGo);
    }
    if ECOSIA_HOSTS.contains(&n) {
        return Some(Engine::Ecosia);
    }
    if PIXABAY_HOSTS.contains(&n) {
        return Some(Engine::Pixabay);
    }
    let bare = n.strip_prefix("www.").unwrap_or(n);
    if YANDEX_DOMAINS.binary_search(&bare).is_ok() {
        return Some(Engine::Yandex);
    }
    None
}

/// The rewrite a group's safe-search settings call for on this name, if any.
pub fn safe_search_rewrite(name: &Name, settings: SafeSearch) -> Option<SafeSearchRewrite> {
    let engine = safe_search_engine(name)?;
    let target = match engine {
        Engine::YouTube => match settings.youtube {
            YouTubeMode::Off => return None,
            YouTubeMode::Moderate => RewriteTarget::Cname(YOUTUBE_MODERATE),
            YouTubeMode::Strict => RewriteTarget::Cname(YOUTUBE_STRICT),
        },
        _ if !settings.search => return None,
        Engine::Google => RewriteTarget::Cname(GOOGLE_SAFE),
        Engine::Bing => RewriteTarget::Cname(BING_STRICT),
        Engine::DuckDuckGo => RewriteTarget::Cname(DUCKDUCKGO_SAFE),
        Engine::Ecosia => RewriteTarget::Cname(ECOSIA_STRICT),
        Engine::Pixabay => RewriteTarget::Cname(PIXABAY_SAFE),
        Engine::Yandex => RewriteTarget::A(YANDEX_FAMILY),
    };
    Some(SafeSearchRewrite { engine, target })
}

/// A name that protects the filter itself, answered before any safe-search rewrite or forwarding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpecialName {
    /// `use-application-dns.net`: answer NXDOMAIN.
    FirefoxCanary,
    /// `mask.icloud.com`, `mask-h2.icloud.com`: answer NXDOMAIN at once.
    PrivateRelay,
    /// `resolver.arpa` and below: answer NODATA (Haven designates no encrypted resolver).
    ResolverArpa,
}

/// How a special name is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecialAnswer {
    /// The name does not exist.
    Nxdomain,
    /// The name exists but has no records of any type asked for.
    NoData,
}

impl SpecialName {
    /// True for attempts to get round the filter, which the activity log flags.
    pub fn is_bypass(self) -> bool {
        matches!(self, SpecialName::FirefoxCanary | SpecialName::PrivateRelay)
    }

    /// The answer it gets.
    pub fn answer(self) -> SpecialAnswer {
        match self {
            SpecialName::FirefoxCanary | SpecialName::PrivateRelay => SpecialAnswer::Nxdomain,
            SpecialName::ResolverArpa => SpecialAnswer::NoData,
        }
    }

    /// A stable identifier for rule references (`special/firefox-canary`).
    pub fn as_str(self) -> &'static str {
        match self {
            SpecialName::FirefoxCanary => "firefox-canary",
            SpecialName::PrivateRelay => "private-relay",
            SpecialName::ResolverArpa => "resolver-arpa",
        }
    }
}

/// The special name this is, if any.
pub fn special_name(name: &Name) -> Option<SpecialName> {
    let n = name.as_str();
    if n == FIREFOX_CANARY {
        Some(SpecialName::FirefoxCanary)
    } else if PRIVATE_RELAY_HOSTS.contains(&n) {
        Some(SpecialName::PrivateRelay)
    } else if n == RESOLVER_ARPA || n.strip_suffix(RESOLVER_ARPA).is_some_and(|p| p.ends_with('.')) {
        Some(SpecialName::ResolverArpa)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn n(s: &str) -> Name {
        Name::parse(s).unwrap()
    }

    const ALL: SafeSearch = SafeSearch::STRICT;

    #[test]
    fn tables_are_sorted_and_normalised() {
        for t in [GOOGLE_DOMAINS, YANDEX_DOMAINS] {
            assert!(t.windows(2).all(|w| w[0] < w[1]), "table must be sorted and unique for binary search");
        }
        assert!(GOOGLE_DOMAINS.len() >= 190, "Google serves search on about 190 domains");
        for h in GOOGLE_DOMAINS.iter().map(|d| format!("www.google.{d}")).chain(YANDEX_DOMAINS.iter().map(|d| d.to_string())) {
            assert_eq!(n(&h).as_str(), h, "{h} is not in canonical form");
        }
    }

    #[test]
    fn google_every_country_domain() {
        for h in ["www.google.com", "www.google.co.uk", "www.google.de", "www.google.com.au", "www.google.cat", "WWW.Google.FR."] {
            assert_eq!(safe_search_rewrite(&n(h), ALL).map(|r| r.target), Some(RewriteTarget::Cname(GOOGLE_SAFE)), "{h}");
        }
        for h in ["google.com", "mail.google.com", "www.google.example", "www.google.co", "forcesafesearch.google.com"] {
            let r = safe_search_rewrite(&n(h), ALL).map(|r| r.target);
            assert!(r.is_none() || h == "www.google.co", "{h}: {r:?}");
        }
    }

    #[test]
    fn youtube_levels_are_separate_from_search() {
        let y = n("www.youtube.com");
        let s = |search, youtube| SafeSearch { search, youtube };
        assert_eq!(safe_search_rewrite(&y, s(false, YouTubeMode::Strict)).map(|r| r.target), Some(RewriteTarget::Cname(YOUTUBE_STRICT)));
        assert_eq!(safe_search_rewrite(&y, s(true, YouTubeMode::Moderate)).map(|r| r.target), Some(RewriteTarget::Cname(YOUTUBE_MODERATE)));
        assert_eq!(safe_search_rewrite(&y, s(true, YouTubeMode::Off)), None);
        assert_eq!(safe_search_rewrite(&n("www.google.com"), s(false, YouTubeMode::Strict)), None);
        for h in YOUTUBE_HOSTS {
            assert_eq!(safe_search_engine(&n(h)), Some(Engine::YouTube));
        }
        assert_eq!(safe_search_rewrite(&n("restrict.youtube.com"), ALL), None, "targets are never rewritten again");
    }

    #[test]
    fn other_engines() {
        let t = |h: &str| safe_search_rewrite(&n(h), ALL).map(|r| r.target);
        assert_eq!(t("www.bing.com"), Some(RewriteTarget::Cname(BING_STRICT)));
        assert_eq!(t("edgeservices.bing.com"), Some(RewriteTarget::Cname(BING_STRICT)));
        assert_eq!(t("start.duckduckgo.com"), Some(RewriteTarget::Cname(DUCKDUCKGO_SAFE)));
        assert_eq!(t("duckduckgo.com"), Some(RewriteTarget::Cname(DUCKDUCKGO_SAFE)));
        assert_eq!(t("www.ecosia.org"), Some(RewriteTarget::Cname(ECOSIA_STRICT)));
        assert_eq!(t("pixabay.com"), Some(RewriteTarget::Cname(PIXABAY_SAFE)));
        assert_eq!(t("yandex.ru"), Some(RewriteTarget::A(YANDEX_FAMILY)));
        assert_eq!(t("www.yandex.com.tr"), Some(RewriteTarget::A(YANDEX_FAMILY)));
        assert_eq!(t("яндекс.рф"), Some(RewriteTarget::A(YANDEX_FAMILY)));
        assert_eq!(t("mail.yandex.ru"), None);
        assert_eq!(t("safe.duckduckgo.com"), None);
    }

    #[test]
    fn special_names() {
        assert_eq!(special_name(&n("use-application-dns.net")), Some(SpecialName::FirefoxCanary));
        assert_eq!(special_name(&n("mask.icloud.com")), Some(SpecialName::PrivateRelay));
        assert_eq!(special_name(&n("mask-h2.icloud.com")), Some(SpecialName::PrivateRelay));
        assert_eq!(special_name(&n("_dns.resolver.arpa")), Some(SpecialName::ResolverArpa));
        assert_eq!(special_name(&n("resolver.arpa")), Some(SpecialName::ResolverArpa));
        assert_eq!(special_name(&n("notresolver.arpa")), None);
        assert_eq!(special_name(&n("www.icloud.com")), None);
        assert_eq!(special_name(&n("x.use-application-dns.net")), None);
        assert!(SpecialName::FirefoxCanary.is_bypass() && !SpecialName::ResolverArpa.is_bypass());
    }
}
