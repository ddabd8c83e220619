//! Sign-in throttling: an account locks after repeated failures, and an address that keeps
//! failing (password spraying across many accounts) is slowed down on its own.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use jiff::Timestamp;

/// When an account locks and for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Consecutive failed sign-ins (password or second factor) that lock the account.
    pub max_failures: u32,
    /// How long a locked account stays locked (an administrator can unlock it sooner).
    pub lock_for: Duration,
    /// Failures from one address within `address_window` before that address is refused.
    pub address_max_failures: u32,
    /// The window over which an address's failures are counted.
    pub address_window: Duration,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        LockoutPolicy {
            max_failures: 5,
            lock_for: Duration::from_secs(15 * 60),
            address_max_failures: 20,
            address_window: Duration::from_secs(15 * 60),
        }
    }
}

/// What one more failure does to an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureOutcome {
    /// The consecutive failure count to store.
    pub failures: u32,
    /// Set when this failure locks the account: locked until then.
    pub locked_until: Option<Timestamp>,
}

impl LockoutPolicy {
    /// The account's state after one more failure, given the failures before it.
    pub fn on_failure(&self, failures_before: u32, now: Timestamp) -> FailureOutcome {
        let failures = failures_before.saturating_add(1);
        let locked_until = (failures >= self.max_failures).then(|| add(now, self.lock_for));
        FailureOutcome { failures: if locked_until.is_some() { 0 } else { failures }, locked_until }
    }

    /// Whether an account locked until `locked_until` is still locked at `now`.
    pub fn is_locked(locked_until: Option<Timestamp>, now: Timestamp) -> bool {
        locked_until.is_some_and(|until| now < until)
    }
}

/// Most addresses remembered; beyond this the oldest windows are forgotten first.
const MAX_ADDRESSES: usize = 65_536;

/// Failed sign-ins per client address over a sliding window, in memory.
#[derive(Debug, Default)]
pub struct AddressThrottle {
    seen: HashMap<IpAddr, (Timestamp, u32)>,
}

impl AddressThrottle {
    /// An empty throttle.
    pub fn new() -> AddressThrottle {
        AddressThrottle::default()
    }

    /// Whether `addr` may try to sign in at `now`.
    pub fn allowed(&self, policy: &LockoutPolicy, addr: IpAddr, now: Timestamp) -> bool {
        match self.seen.get(&addr) {
            Some((start, n)) if now < add(*start, policy.address_window) => *n < policy.address_max_failures,
            _ => true,
        }
    }

    /// Count a failure from `addr`.
    pub fn record_failure(&mut self, policy: &LockoutPolicy, addr: IpAddr, now: Timestamp) {
        if self.seen.len() >= MAX_ADDRESSES && !self.seen.contains_key(&addr) {
            let window = policy.address_window;
            self.seen.retain(|_, (start, _)| now < add(*start, window));
            if self.seen.len() >= MAX_ADDRESSES {
                self.seen.clear();
            }
        }
        let entry = self.seen.entry(addr).or_insert((now, 0));
        if now >= add(entry.0, policy.address_window) {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }

    /// Forget `addr`'s failures after a successful sign-in from it.
    pub fn record_success(&mut self, addr: IpAddr) {
        self.seen.remove(&addr);
    }
}

/// `at + by`, saturating at the far future.
pub fn add(at: Timestamp, by: Duration) -> Timestamp {
    let ms = at.as_millisecond().saturating_add(i64::try_from(by.as_millis()).unwrap_or(i64::MAX));
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::MAX)
}
