//! Time-based one-time passwords (RFC 6238 over RFC 4226 HOTP, HMAC-SHA1, 6 digits, 30 s), as
//! every authenticator app speaks them.
//!
//! A code is accepted one step either side of now (clock drift), and never twice: the caller
//! stores the step of the last accepted code and passes it back, so a code seen over a
//! shoulder cannot be replayed within its window.

use hmac::{KeyInit, Mac};
use jiff::Timestamp;

use crate::random::{self, RandomError};

/// Seconds per code.
pub const STEP_SECONDS: i64 = 30;
/// Digits per code.
pub const DIGITS: u32 = 6;
/// Steps either side of now that are still accepted.
pub const DRIFT_STEPS: i64 = 1;

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// A shared TOTP secret (160 bits, as RFC 4226 recommends).
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Vec<u8>);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(..)")
    }
}

/// A base32 secret that does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the TOTP secret is not valid base32 (RFC 4648)")]
pub struct BadSecret;

impl TotpSecret {
    /// A fresh random secret.
    pub fn generate() -> Result<TotpSecret, RandomError> {
        Ok(TotpSecret(random::bytes::<20>()?.to_vec()))
    }

    /// A secret from raw bytes (the RFC test vectors, imports).
    pub fn from_bytes(bytes: &[u8]) -> TotpSecret {
        TotpSecret(bytes.to_vec())
    }

    /// The secret as unpadded base32, as shown to the user and stored.
    pub fn to_base32(&self) -> String {
        base32_encode(&self.0)
    }

    /// Read an unpadded or padded base32 secret; spaces and case are ignored.
    pub fn from_base32(text: &str) -> Result<TotpSecret, BadSecret> {
        base32_decode(text).map(TotpSecret).ok_or(BadSecret)
    }

    /// The code for a given time step (RFC 4226 dynamic truncation).
    pub fn code_at_step(&self, step: i64) -> u32 {
        let Ok(mut mac) = hmac::Hmac::<sha1::Sha1>::new_from_slice(&self.0) else {
            return 0; // HMAC takes keys of any length; unreachable in practice.
        };
        mac.update(&step.to_be_bytes());
        let digest = mac.finalize().into_bytes();
        let offset = usize::from(digest[digest.len() - 1] & 0x0f);
        let word = u32::from_be_bytes([digest[offset], digest[offset + 1], digest[offset + 2], digest[offset + 3]]) & 0x7fff_ffff;
        word % 10u32.pow(DIGITS)
    }

    /// The code shown by an authenticator at `at`, zero-padded.
    pub fn code_at(&self, at: Timestamp) -> String {
        format!("{:0width$}", self.code_at_step(step_of(at)), width = DIGITS as usize)
    }

    /// Check a code typed at `now`; `last_step` is the step of the last code accepted for this
    /// account. Returns the step to store on success.
    pub fn verify(&self, code: &str, now: Timestamp, last_step: Option<i64>) -> Option<i64> {
        let code: String = code.chars().filter(|c| !c.is_whitespace() && *c != '-').collect();
        if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let typed: u32 = code.parse().ok()?;
        let now_step = step_of(now);
        let mut found = None;
        // Check every candidate, so timing does not reveal which step matched.
        for step in (now_step - DRIFT_STEPS)..=(now_step + DRIFT_STEPS) {
            let ok = random::constant_time_eq(&self.code_at_step(step).to_be_bytes(), &typed.to_be_bytes());
            if ok && last_step.is_none_or(|last| step > last) && found.is_none() {
                found = Some(step);
            }
        }
        found
    }

    /// The `otpauth://` URI an authenticator app scans (Key URI Format).
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> String {
        let label = format!("{}:{}", uri_encode(issuer), uri_encode(account));
        format!(
            "otpauth://totp/{label}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
            self.to_base32(),
            uri_encode(issuer)
        )
    }
}

/// The RFC 6238 time step containing `at`.
pub fn step_of(at: Timestamp) -> i64 {
    at.as_second().div_euclid(STEP_SECONDS)
}

fn uri_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(BASE32[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(BASE32[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    let mut any = false;
    for c in text.chars().filter(|c| !c.is_whitespace() && *c != '=' && *c != '-') {
        let c = c.to_ascii_uppercase();
        let value = BASE32.iter().position(|&b| b as char == c)? as u32;
        any = true;
        buffer = ((buffer << 5) | value) & 0xffff;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(((buffer >> bits) & 0xff) as u8);
        }
    }
    if any { Some(out) } else { None }
}
