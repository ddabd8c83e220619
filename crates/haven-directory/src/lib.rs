//! Directory sync from LDAP / Active Directory, and directory sign-in for the captive portal.
//!
//! A school's directory already knows who is a pupil in which year and who is staff, by group
//! membership (often nested: "All Pupils" holds "Year 7" holds "7A"). A sync reads every user
//! and group under the base DN with paged searches, expands nested groups in memory (so it works
//! the same on OpenLDAP and AD, with no server-side matching rule), maps each user to a person
//! by the first configured group that contains them, and plans the change against the people
//! directory exactly as a CSV import does: adds, changes, and leavers marked as left, never
//! deleted. A sync that would disable a large share of people is refused.
//!
//! - [`config`]: what the sync needs (the binary maps `[directory]` onto it).
//! - [`mapping`]: pure: DN comparison, nested-group expansion, entry → person with errors.
//! - [`client`]: connecting (plain, StartTLS, LDAPS), binding, paged and ranged reads.
//! - [`sync`](mod@sync): one sync, with its leaver guard.
//! - [`sign_in`](mod@sign_in): a portal sign-in checked by a bind as the user.

pub mod client;
pub mod config;
pub mod error;
pub mod mapping;
pub mod sign_in;
pub mod sync;

pub use config::{Attributes, BindPassword, DEFAULT_GROUP_FILTER, DEFAULT_USER_FILTER, DirectoryConfig, DirectoryGroup, Transport};
pub use error::DirectoryError;
pub use mapping::{Entry, EntryError, GroupGraph, Mapped, map_people, normalise_dn};
pub use sign_in::{DirectorySignIn, sign_in};
pub use sync::{SYNC_SOURCE, SyncMode, SyncReport, sync};
