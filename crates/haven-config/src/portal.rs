//! `[portal]`: the captive portal on the console. Unknown devices' web requests are sent to its
//! sign-in page; signing in binds the device's address to the person for a while.

use std::time::Duration;

use haven_policy::{PolicyError, PolicySpec};
use serde::Deserialize;

use crate::err;

/// `[portal]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPortal {
    /// Turn the portal on (default true when the section is present).
    pub enabled: Option<bool>,
    /// The portal's address as devices reach it (`https://haven.school.example:8443/portal`).
    pub url: Option<String>,
    /// Hours a portal sign-in lasts (default 8: a school day).
    pub sign_in_hours: Option<u64>,
    /// The filtering group for staff who sign in and are not in the people directory.
    pub staff_group: Option<String>,
    /// The filtering group approved guests get.
    pub guest_group: Option<String>,
    /// Hours a sponsor may grant a guest at most (default 72).
    pub guest_max_hours: Option<u64>,
}

/// Checked portal settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalConfig {
    /// Where devices are sent.
    pub url: String,
    /// How long a sign-in binds an address.
    pub sign_in_for: Duration,
    /// Group for staff accounts not found in the people directory.
    pub staff_group: String,
    /// Group for guests.
    pub guest_group: String,
    /// Longest guest pass.
    pub guest_max: Duration,
}

/// Check `[portal]` against the policy's groups; `None` when absent or turned off.
pub fn portal_config(raw: Option<&RawPortal>, policy: &PolicySpec, errors: &mut Vec<PolicyError>) -> Option<PortalConfig> {
    let raw = raw?;
    if raw.enabled == Some(false) {
        return None;
    }
    let url = match raw.url.as_deref().map(str::trim) {
        Some(u) if u.starts_with("https://") || u.starts_with("http://") => u.trim_end_matches('/').to_owned(),
        Some(u) => {
            errors.push(err(
                "portal.url",
                format!("`{u}` must be an http:// or https:// address devices can reach, such as https://haven.school.example:8443/portal"),
            ));
            String::new()
        }
        None => {
            errors.push(err(
                "portal.url",
                "the address devices reach the portal at is required, such as https://haven.school.example:8443/portal",
            ));
            String::new()
        }
    };
    let hours = |field: &str, v: Option<u64>, default: u64, errors: &mut Vec<PolicyError>| {
        let h = v.unwrap_or(default);
        if h == 0 || h > 24 * 31 {
            errors.push(err(format!("portal.{field}"), format!("{h} hours: use 1 to 744")));
        }
        Duration::from_secs(h.clamp(1, 24 * 31) * 3600)
    };
    let group = |field: &str, v: Option<&String>, default: &str, errors: &mut Vec<PolicyError>| {
        let g = v.map_or(default, String::as_str).to_owned();
        if !policy.groups.iter().any(|s| s.id == g) {
            errors.push(err(format!("portal.{field}"), format!("group `{g}` is not defined")));
        }
        g
    };
    Some(PortalConfig {
        url,
        sign_in_for: hours("sign_in_hours", raw.sign_in_hours, 8, errors),
        staff_group: group("staff_group", raw.staff_group.as_ref(), "staff", errors),
        guest_group: group("guest_group", raw.guest_group.as_ref(), "guests", errors),
        guest_max: hours("guest_max_hours", raw.guest_max_hours, 72, errors),
    })
}
