//! API bearer tokens: `hvn_` and 256 random bits, shown once, stored as a SHA-256 hash, scoped
//! to permissions and never more than the owner's roles allow at the time of use.

use crate::random::{self, RandomError};

/// The prefix that makes a leaked Haven token recognisable to secret scanners.
pub const PREFIX: &str = "hvn_";

/// A freshly minted token: the secret (shown to the user once) and what the store keeps.
#[derive(Debug)]
pub struct MintedToken {
    /// The full token to hand to the user; never stored.
    pub secret: String,
    /// Its SHA-256 hash, the lookup key in the store.
    pub hash: String,
    /// The first characters, stored so people can tell their tokens apart.
    pub hint: String,
}

/// Make a new token.
pub fn mint() -> Result<MintedToken, RandomError> {
    let secret = format!("{PREFIX}{}", random::hex(&random::bytes::<32>()?));
    let hash = random::token_hash(&secret);
    let hint = secret.chars().take(PREFIX.len() + 6).collect();
    Ok(MintedToken { secret, hash, hint })
}

/// Whether `text` looks like a Haven token (before looking it up).
pub fn looks_like_token(text: &str) -> bool {
    text.len() == PREFIX.len() + 64 && text.starts_with(PREFIX) && text[PREFIX.len()..].bytes().all(|b| b.is_ascii_hexdigit())
}
