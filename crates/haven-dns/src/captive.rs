//! The names operating systems look up to ask "is there a captive portal here?".
//!
//! When the captive portal is on, an unknown device (nobody signed in on its address, no network
//! or device in the directory) gets the portal's address (the block-page address, where Haven's
//! port-80 listener redirects to the sign-in page) for these names, so its OS opens the portal
//! sheet by itself. Once the address is bound the real answer comes back and the OS's check passes.

use haven_policy::Name;

/// Connectivity-check hosts of Apple, Android/ChromeOS, Windows, Firefox, GNOME, Ubuntu and Debian.
pub const PROBE_NAMES: &[&str] = &[
    "captive.apple.com",
    "www.appleiphonecell.com",
    "www.itools.info",
    "www.ibook.info",
    "www.airport.us",
    "www.thinkdifferent.us",
    "connectivitycheck.gstatic.com",
    "connectivitycheck.android.com",
    "clients3.google.com",
    "www.msftconnecttest.com",
    "ipv6.msftconnecttest.com",
    "www.msftncsi.com",
    "detectportal.firefox.com",
    "nmcheck.gnome.org",
    "connectivity-check.ubuntu.com",
    "network-test.debian.org",
];

/// Whether `name` is one of the OS connectivity-check hosts (exact name, not its subdomains).
pub fn is_probe(name: &Name) -> bool {
    PROBE_NAMES.contains(&name.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_are_exact_names() {
        let n = |s: &str| Name::from_ascii(s.as_bytes()).unwrap();
        assert!(is_probe(&n("captive.apple.com")));
        assert!(is_probe(&n("CONNECTIVITYCHECK.GSTATIC.COM")));
        assert!(!is_probe(&n("apple.com")));
        assert!(!is_probe(&n("evil.captive.apple.com")));
    }
}
