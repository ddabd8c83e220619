//! The pages people see: a block page that explains, the separate illegal-content page, and the
//! plain "could not reach the site" pages for 502 and 504.
//!
//! Templates are compiled in (askama, HTML-escaped); the school brands them through
//! [`PageSettings`]. Every page Haven serves for a block carries `X-Haven-Block` with the rule's
//! reference, so a self-test can tell Haven's block page from a site's own error page.

use askama::Template;
use haven_policy::{CategoryKind, DecidedBy, Decision, Snapshot, Verdict};
use jiff::Timestamp;

use crate::config::PageSettings;

/// The header that marks a response as Haven's block page; its value is the rule's reference.
pub const BLOCK_MARKER: &str = "x-haven-block";

#[derive(Template)]
#[template(path = "blocked.html")]
struct Blocked<'a> {
    school: &'a str,
    logo_url: Option<&'a str>,
    time: String,
    what: &'a str,
    why_simple: String,
    category: String,
    group: &'a str,
    policy: String,
    sentence: String,
    reference: &'a str,
    list: Option<String>,
    unblock_href: String,
    worry_href: String,
    dsl_contact: &'a str,
}

#[derive(Template)]
#[template(path = "illegal.html")]
struct Illegal<'a> {
    school: &'a str,
    logo_url: Option<&'a str>,
    time: String,
    what: &'a str,
    terrorism: bool,
    reference: &'a str,
    appeal_href: &'a str,
    worry_href: &'a str,
    dsl_contact: &'a str,
}

#[derive(Template)]
#[template(path = "problem.html")]
struct Problem<'a> {
    school: &'a str,
    logo_url: Option<&'a str>,
    time: String,
    what: &'a str,
    heading: &'a str,
    explanation: &'a str,
    reference: &'a str,
}

/// A rendered page: what the HTTP response needs.
#[derive(Debug, Clone)]
pub struct Page {
    /// HTTP status.
    pub status: u16,
    /// The HTML.
    pub html: String,
    /// The rule's reference for the marker header, when the page is a block.
    pub reference: Option<String>,
}

/// Renders pages with one school's branding.
#[derive(Debug, Clone)]
pub struct Pages {
    settings: PageSettings,
}

fn now_text() -> String {
    Timestamp::now().strftime("%Y-%m-%d %H:%M UTC").to_string()
}

impl Pages {
    /// Pages branded with these settings.
    pub fn new(settings: PageSettings) -> Pages {
        Pages { settings }
    }

    /// The page for a blocked request: the illegal-content page for floor hits, otherwise the
    /// block page with its category, group, rule and the two links.
    pub fn blocked(&self, snap: &Snapshot, d: &Decision<'_>, what: &str) -> Page {
        let s = &self.settings;
        let reference = snap.reference(d);
        let category = d.category.map(|c| snap.taxonomy().get(c));
        if matches!(d.decided_by, DecidedBy::IllegalFloor) {
            let terrorism = category.is_some_and(|c| c.id.contains("terror"));
            let html = Illegal {
                school: &s.school_name,
                logo_url: s.logo_url.as_deref(),
                time: now_text(),
                what,
                terrorism,
                reference: &reference,
                appeal_href: &s.appeal_url,
                worry_href: &s.worry_url,
                dsl_contact: &s.dsl_contact,
            }
            .render()
            .unwrap_or_else(|_| FALLBACK.to_string());
            return Page { status: 403, html, reference: Some(reference) };
        }
        let title = category.map_or_else(|| "Not categorised".to_string(), |c| c.title.to_string());
        let group = &*d.group.title;
        let why_simple = match d.decided_by {
            DecidedBy::Category(Verdict::BlockedOutsideWindows(mask)) => format!(
                "This website is in the category “{}”. {} can only use it at certain times: {}.",
                title,
                group,
                snap.policy().window_titles(mask).join(", ")
            ),
            DecidedBy::Category(Verdict::BlockedNotNominated) => {
                format!("This website is in the category “{title}”. Only people the school has chosen can use it.")
            }
            DecidedBy::SiteEntry(e) => format!("The school has blocked this website for {group}. The reason given: {}.", e.reason),
            DecidedBy::GroupDefault => format!("This website is not on the list of websites {group} can use."),
            _ => match category.map(|c| c.kind) {
                Some(CategoryKind::Security) => "This website could harm your device or steal information.".to_string(),
                _ => format!("This website is in the category “{title}”, which the school does not allow for {group}."),
            },
        };
        let list = d.hit.map(|h| format!("{} ({})", h.source.name, h.entry));
        let category_id = category.map_or("", |c| &*c.id);
        let unblock_href = format!("{}?url={}&ref={}&category={}", s.unblock_url, percent(what), percent(&reference), percent(category_id));
        let worry_href = s.worry_url.clone();
        let html = Blocked {
            school: &s.school_name,
            logo_url: s.logo_url.as_deref(),
            time: now_text(),
            what,
            why_simple,
            category: title,
            group,
            policy: format!("{} ({})", group, d.group.id),
            sentence: snap.sentence(d),
            reference: &reference,
            list,
            unblock_href,
            worry_href,
            dsl_contact: &s.dsl_contact,
        }
        .render()
        .unwrap_or_else(|_| FALLBACK.to_string());
        Page { status: 403, html, reference: Some(reference) }
    }

    /// A page for a request Haven could not complete (bad gateway, time-out, bad request).
    pub fn problem(&self, status: u16, what: &str, heading: &str, explanation: &str) -> Page {
        let s = &self.settings;
        let html = Problem {
            school: &s.school_name,
            logo_url: s.logo_url.as_deref(),
            time: now_text(),
            what,
            heading,
            explanation,
            reference: "",
        }
        .render()
        .unwrap_or_else(|_| FALLBACK.to_string());
        Page { status, html, reference: None }
    }
}

/// Served only if a template fails to render, which would be a bug.
const FALLBACK: &str = "<!DOCTYPE html><title>Blocked</title><p>This page is blocked by the school's web filter.</p>";

/// Percent-encode a query parameter value.
pub(crate) fn percent(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::percent;

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(percent("http://a.example/x?y=1&z=é"), "http%3A%2F%2Fa.example%2Fx%3Fy%3D1%26z%3D%C3%A9");
    }
}
