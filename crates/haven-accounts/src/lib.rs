//! Console accounts: who may sign in to Haven's console and API, and what each may see.
//!
//! Pure logic with an injectable [`Clock`], so every expiry, lockout and reminder is testable
//! without waiting. Persistence lives in `haven-store`; HTTP lives in `haven-console`.
//!
//! - [`password`]: argon2id hashing and the per-school [`PasswordPolicy`].
//! - [`totp`]: RFC 6238 one-time codes, enrolment URIs and replay protection.
//! - [`role`]: the roles and the one [`Permission`] table every route is checked against.
//! - [`lockout`]: per-account lockout and per-address throttling of sign-in attempts.
//! - [`session`]: session and CSRF tokens, idle and absolute expiry.
//! - [`token`]: scoped API bearer tokens, stored only as hashes.
//! - [`recovery`]: the one-time break-glass recovery code.
//! - [`people`]: the people directory and its CSV import (Wonde, SIMS, Arbor, plain).


pub mod clock;
pub mod lockout;
pub mod password;
pub mod people;

pub mod random;
pub mod recovery;
pub mod role;
pub mod session;
pub mod token;
pub mod totp;

pub use clock::{Clock, ManualClock, SystemClock};
pub use lockout::{AddressThrottle, LockoutPolicy};
pub use password::{PasswordError, PasswordPolicy, hash_password, verify_password};
pub use role::{Permission, Role, RoleSet};
pub use session::SessionPolicy;
