//! The question (who, what) and the answer (a decision that explains itself).

use std::net::IpAddr;

use crate::category::{CategoryId, CategorySet};
use crate::list_set::Hit;
use crate::name::{Name, NameError};
use crate::policy::{Action, Group, GroupIdx, IdentitySource, SiteEntry};

/// Who is asking, as far as the front end knows; any field may be missing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Who<'a> {
    /// Signed-in or proxy-authenticated user name.
    pub user: Option<&'a str>,
    /// A group the caller has already settled on (e.g. `haven check --group ks3`).
    pub group: Option<&'a str>,
    /// Device name, if known.
    pub device: Option<&'a str>,
    /// Client address.
    pub client: Option<IpAddr>,
}

/// Who is asking, resolved against the directory: always has a group.
#[derive(Debug, Clone, Copy)]
pub struct Identity<'a> {
    /// The group whose policy applies.
    pub group: GroupIdx,
    /// The user, if known.
    pub user: Option<&'a str>,
    /// The device, if known.
    pub device: Option<&'a str>,
    /// Bit mask of the group's sub-groups the user is in.
    pub subgroups: u64,
    /// How the group was found.
    pub source: IdentitySource,
}

/// Why a request could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The host name is malformed.
    #[error("invalid host name: {0}")]
    Name(#[from] NameError),
    /// The URL does not parse.
    #[error("invalid URL: {0}")]
    Url(String),
}

/// The host part of a request.
// Names are held inline (254 bytes) so deciding never allocates; boxing would cost more than it saves.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// A DNS name.
    Name(Name),
    /// An IP literal.
    Ip(IpAddr),
}

/// What is being asked for: a name (DNS, CONNECT, SNI) or a whole URL (plain HTTP).
#[allow(clippy::large_enum_variant)] // inline names: see `Host`
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum What {
    /// A host name alone: only domain-level rules can apply.
    Name(Name),
    /// An IP address alone.
    Ip(IpAddr),
    /// A full URL: URL-level rules apply too.
    Url {
        /// The host.
        host: Host,
        /// Path plus query, starting with `/`.
        path: String,
    },
}

impl What {
    /// A name or IP literal, as DNS and CONNECT see it.
    pub fn name(text: &str) -> Result<What, RequestError> {
        let t = text.trim();
        let bare = t.strip_prefix('[').and_then(|x| x.strip_suffix(']')).unwrap_or(t);
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(What::Ip(ip));
        }
        Ok(What::Name(Name::parse(t)?))
    }

    /// A URL; `http://` is assumed when no scheme is given.
    pub fn url(text: &str) -> Result<What, RequestError> {
        let t = text.trim();
        let with_scheme = if t.contains("://") { t.to_string() } else { format!("http://{t}") };
        let u = url::Url::parse(&with_scheme).map_err(|e| RequestError::Url(e.to_string()))?;
        let host = match u.host() {
            Some(url::Host::Domain(d)) => Host::Name(Name::parse(d)?),
            Some(url::Host::Ipv4(ip)) => Host::Ip(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Host::Ip(IpAddr::V6(ip)),
            None => return Err(RequestError::Url("no host".into())),
        };
        let mut path = u.path().to_string();
        if let Some(q) = u.query() {
            path.push('?');
            path.push_str(q);
        }
        Ok(What::Url { host, path })
    }

    /// A URL if the text has a scheme or a path, otherwise a name.
    pub fn parse(text: &str) -> Result<What, RequestError> {
        if text.contains("://") || text.trim().contains('/') { What::url(text) } else { What::name(text) }
    }

    /// The host as text, for logs.
    pub fn host_text(&self) -> String {
        match self {
            What::Name(n) => n.to_string(),
            What::Ip(ip) => ip.to_string(),
            What::Url { host: Host::Name(n), .. } => n.to_string(),
            What::Url { host: Host::Ip(ip), .. } => ip.to_string(),
        }
    }
}

/// How a category rule came out for this person at this time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The group allows the category.
    Allowed,
    /// The group blocks the category.
    Blocked,
    /// Allowed because one of these windows is open now (window index).
    AllowedInWindow(usize),
    /// Blocked because none of its windows is open now (mask of windows).
    BlockedOutsideWindows(u64),
    /// Allowed because the user is nominated.
    AllowedNominated,
    /// Blocked because only nominated users may use it.
    BlockedNotNominated,
    /// Allowed: a trusted allow-list category (education, child-safe) outranks a school-choice block.
    AllowException,
}

/// What decided the outcome, for block pages, logs and audits.
#[derive(Debug, Clone, Copy)]
pub enum DecidedBy<'s> {
    /// The illegal-content floor: checked first, overridden by nothing.
    IllegalFloor,
    /// A per-site entry of the group.
    SiteEntry(&'s SiteEntry),
    /// The group's rule for the category.
    Category(Verdict),
    /// No category matched: the group's default action.
    GroupDefault,
}

/// The answer: allow or block, and why.
#[derive(Debug, Clone, Copy)]
pub struct Decision<'s> {
    /// Allow or block.
    pub action: Action,
    /// The category that decided, if any.
    pub category: Option<CategoryId>,
    /// Every category the request matched.
    pub categories: CategorySet,
    /// The rule that decided.
    pub decided_by: DecidedBy<'s>,
    /// The list source and entry behind the deciding category, if a list decided.
    pub hit: Option<Hit<'s>>,
    /// The group whose policy applied.
    pub group: &'s Group,
    /// How the group was found.
    pub identity: IdentitySource,
}

impl Decision<'_> {
    /// True when the request is blocked.
    pub fn is_blocked(&self) -> bool {
        self.action == Action::Block
    }
}
