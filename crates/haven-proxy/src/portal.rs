//! The captive-portal redirect: a plain-HTTP request from an unknown device (nobody signed in on
//! its address, nothing in the directory) that the policy would allow is answered with a `302` to
//! the portal's sign-in page instead of being fetched, carrying the address it asked for.
//!
//! HTTPS cannot be redirected without interception; unknown devices' tunnels keep the fallback
//! group's filtering, and the DNS service sends their OS connectivity checks to the portal.

use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};

use crate::record::{ProxyBody, full};

/// Whether `url` is on the portal's own host (never redirect the portal to itself).
pub(crate) fn is_portal(portal: &str, url: &str) -> bool {
    fn authority(u: &str) -> &str {
        let rest = u.split_once("://").map_or(u, |(_, r)| r);
        rest.split(['/', '?', '#']).next().unwrap_or("")
    }
    authority(portal).eq_ignore_ascii_case(authority(url))
}

/// `302` to the portal with `?url=` the address asked for.
pub(crate) fn redirect(portal: &str, url: &str) -> Response<ProxyBody> {
    let target = format!("{portal}?url={}", form_urlencoded::byte_serialize(url.as_bytes()).collect::<String>());
    let body = format!(
        "<!doctype html><html lang=\"en-GB\"><head><meta charset=\"utf-8\"><title>Sign in to the school network</title></head>\
         <body><p>Sign in to use the school network: <a href=\"{}\">open the sign-in page</a>.</p></body></html>\n",
        target.replace('&', "&amp;").replace('"', "&quot;")
    );
    let mut r = Response::new(full(body));
    *r.status_mut() = StatusCode::FOUND;
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&target) {
        h.insert(header::LOCATION, v);
    }
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_portal_is_never_sent_to_itself_and_the_address_is_carried() {
        assert!(is_portal("http://haven.school.test:8080/portal", "http://HAVEN.school.test:8080/portal?url=x"));
        assert!(!is_portal("http://haven.school.test:8080/portal", "http://example.com/"));
        let r = redirect("https://haven.school.test/portal", "http://example.com/a?b=c");
        assert_eq!(r.status(), StatusCode::FOUND);
        assert_eq!(r.headers()[header::LOCATION], "https://haven.school.test/portal?url=http%3A%2F%2Fexample.com%2Fa%3Fb%3Dc");
    }
}
