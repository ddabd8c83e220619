//! Who is behind a client address: the one interface identity sources plug into.
//!
//! Shared by every front end (DNS, proxy), so a captive-portal or RADIUS session that binds an
//! address to a person counts for both without either knowing where it came from.
//!
//! The default, [`SnapshotIdentity`], hands the address to the policy snapshot's directory (fixed
//! device addresses, then CIDR networks; unknown addresses get the fail-closed fallback group).
//! [`IdentityBook`] holds the live bindings the captive portal, guest passes, RADIUS accounting and
//! registered devices write; it answers [`Identify`] with the bound person, else the address alone.

use std::net::IpAddr;

use haven_policy::Who;

/// An owned [`Who`], so identity sources can hand back names they looked up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnedWho {
    /// Signed-in user name, if the source knows it.
    pub user: Option<String>,
    /// A group already settled on, if the source knows it.
    pub group: Option<String>,
    /// Device name, if the source knows it.
    pub device: Option<String>,
    /// The client address.
    pub client: Option<IpAddr>,
}

impl OwnedWho {
    /// Borrow as the policy core's [`Who`], for `Snapshot::resolve`.
    pub fn as_who(&self) -> Who<'_> {
        Who { user: self.user.as_deref(), group: self.group.as_deref(), device: self.device.as_deref(), client: self.client }
    }
}

/// Turns a client address into what is known about the person behind it; called once per query,
/// so it must be quick and must not block.
pub trait Identify: Send + Sync {
    /// What is known about whoever sent a query from this address.
    fn who(&self, client: IpAddr) -> OwnedWho;
}

/// Identity from the policy snapshot's static directory alone: the address is all it passes on.
#[derive(Debug, Clone, Copy, Default)]
pub struct SnapshotIdentity;

impl Identify for SnapshotIdentity {
    fn who(&self, client: IpAddr) -> OwnedWho {
        OwnedWho { client: Some(client), ..OwnedWho::default() }
    }
}

pub mod book;
pub mod mac;

pub use book::{Binding, BindingSource, IdentityBook};
pub use mac::normalise_mac;

impl<T: Identify + ?Sized> Identify for std::sync::Arc<T> {
    fn who(&self, client: IpAddr) -> OwnedWho {
        (**self).who(client)
    }
}
