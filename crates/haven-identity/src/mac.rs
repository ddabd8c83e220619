//! MAC addresses as Wi-Fi controllers and spreadsheets write them (`AA-BB-CC-DD-EE-FF`,
//! `aa:bb:cc:dd:ee:ff`, `aabb.ccdd.eeff`, RADIUS `Calling-Station-Id` with `:SSID` after it),
//! normalised to one form so a registered device and a RADIUS session find each other.

/// `aa:bb:cc:dd:ee:ff`, or `None` when the text holds no MAC address.
pub fn normalise_mac(text: &str) -> Option<String> {
    let text = text.trim();
    let mut hex = Vec::with_capacity(12);
    let mut end = text.len();
    for (i, c) in text.char_indices() {
        if hex.len() == 12 {
            end = i;
            break;
        }
        match c {
            '0'..='9' | 'a'..='f' | 'A'..='F' => hex.push(c.to_ascii_lowercase()),
            ':' | '-' | '.' => {}
            _ => return None,
        }
    }
    if hex.len() != 12 {
        return None;
    }
    // Only an SSID may follow (RADIUS Calling-Station-Id), never more address digits.
    let rest = &text[end..];
    let ssid = rest.strip_prefix(':').is_some_and(|s| s.chars().any(|c| !c.is_ascii_hexdigit()));
    if !rest.is_empty() && !ssid {
        return None;
    }
    Some(hex.chunks(2).map(|p| p.iter().collect::<String>()).collect::<Vec<_>>().join(":"))
}

#[cfg(test)]
mod tests {
    use super::normalise_mac;

    #[test]
    fn every_common_spelling_is_the_same_mac() {
        for s in [
            "AA-BB-CC-DD-EE-0F",
            "aa:bb:cc:dd:ee:0f",
            "aabb.ccdd.ee0f",
            "AABBCCDDEE0F",
            " aa:bb:cc:dd:ee:0f ",
            "AA-BB-CC-DD-EE-0F:School-WiFi",
        ] {
            assert_eq!(normalise_mac(s).as_deref(), Some("aa:bb:cc:dd:ee:0f"), "{s}");
        }
        for s in ["", "aa:bb:cc", "aa:bb:cc:dd:ee:fg", "aa:bb:cc:dd:ee:ff:00", "not a mac", "10.0.0.1", "aabbccddeeff00"] {
            assert_eq!(normalise_mac(s), None, "{s}");
        }
    }
}
