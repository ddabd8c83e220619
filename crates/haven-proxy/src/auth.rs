//! Who is signing in to the proxy: `Proxy-Authorization: Basic` checked against Haven's accounts.
//!
//! Password checks are argon2id and deliberately slow, so a verified pair is remembered (as a
//! SHA-256 of the pair, never the password) for a few minutes; each request of a browser's
//! keep-alive connection would otherwise cost tens of milliseconds of CPU.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::error::ProxyError;

/// Where the proxy checks a user name and password; Haven's account store implements it.
pub trait Authenticate: Send + Sync {
    /// The account's user name (as the policy directory knows it) if the password is right.
    ///
    /// May take tens of milliseconds (argon2id): the proxy calls it on a blocking thread.
    fn verify(&self, user: &str, password: &str) -> Option<String>;
}

/// No accounts: every sign-in fails, so only address-based identity applies.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoAccounts;

impl Authenticate for NoAccounts {
    fn verify(&self, _user: &str, _password: &str) -> Option<String> {
        None
    }
}

/// Accounts from a file of `user:$argon2id$...` lines (`haven proxy hash-password` writes the
/// hash), for schools that do not yet keep accounts in Haven's store.
#[derive(Debug, Clone, Default)]
pub struct PasswordFile {
    users: HashMap<String, String>,
}

impl PasswordFile {
    /// Read and check the file; a bad line is an error naming the file and line.
    pub fn load(path: &Path) -> Result<PasswordFile, ProxyError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ProxyError::Users { path: origin.clone(), message: e.to_string() })?;
        PasswordFile::parse(&text, &origin)
    }

    /// Check the text of a users file; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<PasswordFile, ProxyError> {
        let mut users = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |message: String| ProxyError::Users { path: origin.to_string(), message: format!("line {}: {message}", i + 1) };
            let Some((user, hash)) = line.split_once(':') else {
                return Err(bad("expected `user:$argon2id$...`".into()));
            };
            if user.is_empty() {
                return Err(bad("empty user name".into()));
            }
            let parsed = PasswordHash::new(hash).map_err(|e| bad(format!("not a PHC password hash: {e}")))?;
            if parsed.algorithm.as_str() != "argon2id" {
                return Err(bad(format!("hash algorithm `{}`: only argon2id is accepted", parsed.algorithm)));
            }
            if users.insert(user.to_string(), hash.to_string()).is_some() {
                return Err(bad(format!("user `{user}` appears twice")));
            }
        }
        Ok(PasswordFile { users })
    }

    /// How many accounts the file holds.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// True when the file holds no accounts.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

impl Authenticate for PasswordFile {
    fn verify(&self, user: &str, password: &str) -> Option<String> {
        let hash = self.users.get(user)?;
        let parsed = PasswordHash::new(hash).ok()?;
        argon2::Argon2::default().verify_password(password.as_bytes(), &parsed).ok()?;
        Some(user.to_string())
    }
}

/// An argon2id PHC hash of a password, with a fresh random salt, for a users file.
pub fn hash_password(password: &str) -> Result<String, String> {
    let mut salt_bytes = [0u8; 16];
    getrandom_fill(&mut salt_bytes)?;
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| e.to_string())?;
    argon2::Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| e.to_string())
}

fn getrandom_fill(buf: &mut [u8]) -> Result<(), String> {
    use std::io::Read as _;
    std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(buf)).map_err(|e| format!("reading /dev/urandom: {e}"))
}

/// User name and password from a `Proxy-Authorization` value, if it is well-formed Basic.
pub fn parse_basic(value: &[u8]) -> Option<(String, String)> {
    let text = std::str::from_utf8(value).ok()?.trim();
    let (scheme, rest) = text.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD.decode(rest.trim()).ok()?;
    let pair = String::from_utf8(raw).ok()?;
    let (user, pass) = pair.split_once(':')?;
    if user.is_empty() {
        return None;
    }
    Some((user.to_string(), pass.to_string()))
}

/// Verified sign-ins, remembered briefly by a digest of the pair.
pub(crate) struct CredentialCache {
    ttl: Duration,
    max: usize,
    entries: Mutex<HashMap<[u8; 32], (String, Instant)>>,
}

impl CredentialCache {
    pub(crate) fn new(ttl: Duration, max: usize) -> CredentialCache {
        CredentialCache { ttl, max, entries: Mutex::new(HashMap::new()) }
    }

    pub(crate) fn key(user: &str, password: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(user.as_bytes());
        h.update([0]);
        h.update(password.as_bytes());
        h.finalize().into()
    }

    pub(crate) fn get(&self, key: &[u8; 32]) -> Option<String> {
        let map = self.entries.lock().ok()?;
        let (user, at) = map.get(key)?;
        (at.elapsed() < self.ttl).then(|| user.clone())
    }

    pub(crate) fn put(&self, key: [u8; 32], user: String) {
        if let Ok(mut map) = self.entries.lock() {
            if map.len() >= self.max {
                let ttl = self.ttl;
                map.retain(|_, (_, at)| at.elapsed() < ttl);
                if map.len() >= self.max {
                    map.clear();
                }
            }
            map.insert(key, (user, Instant::now()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_parse() {
        let v = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("j.smith:pa:ss"));
        assert_eq!(parse_basic(v.as_bytes()), Some(("j.smith".into(), "pa:ss".into())));
        assert_eq!(parse_basic(b"Bearer abc"), None);
        assert_eq!(parse_basic(b"Basic !!!"), None);
        let empty_user = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(":x"));
        assert_eq!(parse_basic(empty_user.as_bytes()), None);
    }

    #[test]
    fn password_file_checks_hashes_and_reports_lines() {
        let h = hash_password("Correct-Horse-7").unwrap();
        let f = PasswordFile::parse(&format!("# staff\nj.smith:{h}\n"), "users").unwrap();
        assert_eq!(f.len(), 1);
        assert_eq!(f.verify("j.smith", "Correct-Horse-7"), Some("j.smith".into()));
        assert_eq!(f.verify("j.smith", "wrong"), None);
        assert_eq!(f.verify("nobody", "Correct-Horse-7"), None);
        let e = PasswordFile::parse(&format!("a:{h}\nb:plaintext\n"), "users").unwrap_err().to_string();
        assert!(e.contains("users") && e.contains("line 2"), "{e}");
        let e = PasswordFile::parse(&format!("a:{h}\na:{h}\n"), "users").unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("twice"), "{e}");
    }

    #[test]
    fn cache_remembers_and_expires() {
        let c = CredentialCache::new(Duration::from_millis(0), 4);
        let k = CredentialCache::key("a", "b");
        c.put(k, "a".into());
        assert_eq!(c.get(&k), None, "a zero TTL remembers nothing");
        let c = CredentialCache::new(Duration::from_secs(60), 2);
        c.put(k, "a".into());
        assert_eq!(c.get(&k), Some("a".into()));
        assert_ne!(CredentialCache::key("a", "b"), CredentialCache::key("a\0b", ""));
    }
}
