//! The break-glass recovery code `haven init` prints once: it resets the first administrator
//! when every administrator is locked out or has lost their second factor.

use crate::random::{self, RandomError};

/// Letters and digits that cannot be misread for one another (no 0/O, 1/I/L).
const ALPHABET: &[u8; 31] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

/// A new code: five groups of five characters (about 124 bits), e.g. `7KQ2M-...`.
pub fn generate() -> Result<String, RandomError> {
    // Rejection sampling: bytes >= 248 (8 x 31) would bias the first letters.
    let mut chars = Vec::with_capacity(25);
    while chars.len() < 25 {
        for b in random::bytes::<32>()? {
            if usize::from(b) < 8 * ALPHABET.len() && chars.len() < 25 {
                chars.push(ALPHABET[usize::from(b) % ALPHABET.len()] as char);
            }
        }
    }
    Ok(chars.chunks(5).map(|c| c.iter().collect::<String>()).collect::<Vec<_>>().join("-"))
}

/// The canonical form a code is hashed in: upper case, without spaces or dashes, so a code
/// typed as `7kq2m 9xw...` still matches.
pub fn normalise(code: &str) -> String {
    code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase()).collect()
}
