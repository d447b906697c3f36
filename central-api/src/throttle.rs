//! Sign-in throttling. Failed attempts are counted per username, registered or not (an unknown
//! name is throttled exactly as a real one, so throttling tells nobody which names exist), and
//! per client address (one address trying many names — password spraying — is slowed as one
//! name is): after `sign_in_free_attempts` failures at a name, or
//! `sign_in_address_free_attempts` from an address, each further attempt must wait, the wait
//! doubling from `sign_in_delay_s` up to `sign_in_max_delay_s`. A success clears its name's
//! count; an address's count is forgotten once `sign_in_max_delay_s` passes without a failure
//! from it (an office behind one address keeps signing in while one of its officers mistypes).
//! IPv6 addresses count by their /64 network, which one client holds whole. An attempt made
//! while it must wait is refused before any password is checked. Passwords are checked at most
//! `sign_in_max_concurrent` at a time (Argon2 takes about 19 MiB and a core's time each);
//! beyond that an attempt is refused at once rather than queued.
//!
//! The client address is the connection's peer, or behind trusted reverse proxies the address
//! they forward (`http.trusted_proxies`, [`service_kit::http::ClientAddr`]).
//!
//! This is the quick, in-memory half. The lasting half — an account locked after
//! `sign_in_lock_after` failures in a row until an administrator unlocks it — is in the
//! database (`db::officers::sign_in_failed`), so a restart does not reset it.

use std::{
    collections::HashMap,
    hash::Hash,
    net::IpAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use prometheus_client::metrics::counter::Counter;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::ReviewSettings;

/// Usernames (and addresses) remembered at most; past this, those whose wait has long ended are
/// forgotten first, then the oldest.
const REMEMBERED: usize = 50_000;

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

/// Failures in a row by key, and the waits they earn: after `free` failures, `delay` doubling
/// at each further one up to `max_delay`.
#[derive(Debug)]
struct Counts<K> {
    failures: Mutex<HashMap<K, Failures>>,
    free: u32,
    delay: Duration,
    max_delay: Duration,
    /// Forget a key's count once this long has passed since its last failure.
    forget: Option<Duration>,
}

impl<K: Hash + Eq + Clone> Counts<K> {
    fn new(free: u32, settings: &ReviewSettings, forget: Option<Duration>) -> Self {
        Self {
            failures: Mutex::default(),
            free,
            delay: Duration::from_secs(settings.sign_in_delay_s),
            max_delay: Duration::from_secs(settings.sign_in_max_delay_s),
            forget,
        }
    }

    /// The wait after `count` failures in a row.
    fn wait_after(&self, count: u32) -> Duration {
        match count.checked_sub(self.free) {
            None => Duration::ZERO,
            Some(extra) => self
                .delay
                .saturating_mul(1 << extra.min(20))
                .min(self.max_delay),
        }
    }

    /// How long `key` must still wait, if it must.
    fn wait(&self, key: &K) -> Option<Duration> {
        let f = *lock(&self.failures).get(key)?;
        let until = f.last + self.wait_after(f.count);
        let now = Instant::now();
        (until > now).then(|| until - now)
    }

    /// Counts a failure at `key`; returns its failures in a row. When the map is full, entries
    /// whose wait has long ended are forgotten first, then the oldest.
    fn failed(&self, key: K) -> u32 {
        let now = Instant::now();
        let mut failures = lock(&self.failures);
        if failures.len() >= REMEMBERED {
            failures.retain(|_, f| now.duration_since(f.last) < self.max_delay * 2);
            if failures.len() >= REMEMBERED
                && let Some(oldest) = failures
                    .iter()
                    .min_by_key(|(_, f)| f.last)
                    .map(|(k, _)| k.clone())
            {
                failures.remove(&oldest);
            }
        }
        let f = failures.entry(key).or_insert(Failures {
            count: 0,
            last: now,
        });
        if self
            .forget
            .is_some_and(|after| now.duration_since(f.last) >= after)
        {
            f.count = 0;
        }
        f.count = f.count.saturating_add(1);
        f.last = now;
        f.count
    }

    fn clear(&self, key: &K) {
        lock(&self.failures).remove(key);
    }
}

/// Failed sign-ins by username and by client address, and the permits for checking a password.
#[derive(Debug, Clone)]
pub struct Throttle {
    names: Arc<Counts<String>>,
    addresses: Arc<Counts<IpAddr>>,
    hashing: Arc<Semaphore>,
    pub metrics: ThrottleMetrics,
}

/// The throttle's figures for `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct ThrottleMetrics {
    /// Sign-ins refused for a wrong password, an unknown username or a locked account.
    pub failures: Counter,
    /// Attempts refused before their password was checked (429 and 503).
    pub throttled: Counter,
}

impl ThrottleMetrics {
    pub fn register(&self, metrics: &service_kit::http::Metrics) {
        metrics.register(
            "sign_in_failures",
            "Sign-ins refused: a wrong password, an unknown username or a locked account",
            self.failures.clone(),
        );
        metrics.register(
            "sign_in_throttled",
            "Sign-ins refused before their password was checked: too many failures at the username or from the address lately, or too many at once",
            self.throttled.clone(),
        );
    }
}

/// Why an attempt is refused before its password is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Too many failures at this username or from this address: try again after this long.
    Wait(Duration),
    /// As many passwords as allowed are being checked now.
    Busy,
}

impl Throttle {
    pub fn new(settings: &ReviewSettings) -> Self {
        let quiet = Duration::from_secs(settings.sign_in_max_delay_s);
        Self {
            names: Arc::new(Counts::new(settings.sign_in_free_attempts, settings, None)),
            addresses: Arc::new(Counts::new(
                settings.sign_in_address_free_attempts,
                settings,
                Some(quiet),
            )),
            hashing: Arc::new(Semaphore::new(settings.sign_in_max_concurrent.max(1))),
            metrics: ThrottleMetrics::default(),
        }
    }

    fn name_key(username: &str) -> String {
        username.trim().to_lowercase()
    }

    /// An address as it is counted: IPv6 by its /64 network.
    fn address_key(address: IpAddr) -> IpAddr {
        match address.to_canonical() {
            IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
            v4 => v4,
        }
    }

    /// Admits an attempt at `username` from `address` (when known): a permit to check its
    /// password, or why not now.
    pub fn admit(
        &self,
        username: &str,
        address: Option<IpAddr>,
    ) -> Result<OwnedSemaphorePermit, Refusal> {
        let by_name = self.names.wait(&Self::name_key(username));
        let by_address = address.and_then(|a| self.addresses.wait(&Self::address_key(a)));
        if let Some(wait) = by_name.max(by_address) {
            self.metrics.throttled.inc();
            return Err(Refusal::Wait(wait));
        }
        self.hashing.clone().try_acquire_owned().map_err(|_| {
            self.metrics.throttled.inc();
            Refusal::Busy
        })
    }

    /// Counts a failed attempt at `username` from `address`; returns the name's failures in a
    /// row.
    pub fn failed(&self, username: &str, address: Option<IpAddr>) -> u32 {
        self.metrics.failures.inc();
        if let Some(a) = address {
            self.addresses.failed(Self::address_key(a));
        }
        self.names.failed(Self::name_key(username))
    }

    /// A successful sign-in at `username`: its count starts again (its address's does not).
    pub fn succeeded(&self, username: &str) {
        self.names.clear(&Self::name_key(username));
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle(free: u32, delay_s: u64, max_s: u64, concurrent: usize) -> Throttle {
        Throttle::new(&ReviewSettings {
            sign_in_free_attempts: free,
            sign_in_address_free_attempts: free * 2,
            sign_in_delay_s: delay_s,
            sign_in_max_delay_s: max_s,
            sign_in_max_concurrent: concurrent,
            ..ReviewSettings::default()
        })
    }

    #[test]
    fn the_wait_doubles_after_the_free_attempts_up_to_the_cap() {
        let t = throttle(3, 2, 60, 1);
        let waits: Vec<u64> = (0..10).map(|n| t.names.wait_after(n).as_secs()).collect();
        assert_eq!(waits, [0, 0, 0, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(t.names.wait_after(u32::MAX), Duration::from_secs(60));
    }

    #[test]
    fn a_name_that_failed_too_often_waits_whoever_it_is_and_a_success_clears_it() {
        let t = throttle(2, 30, 600, 4);
        for _ in 0..2 {
            assert!(t.admit("Nobody", None).is_ok());
            t.failed("nobody", None);
        }
        // Any spelling of the same name waits, from any address; another name does not.
        let anywhere = Some(IpAddr::from([192, 0, 2, 1]));
        assert!(
            matches!(t.admit(" NOBODY", anywhere), Err(Refusal::Wait(w)) if w > Duration::from_secs(29))
        );
        assert!(t.admit("reviewer", None).is_ok());
        t.succeeded("nobody");
        assert!(t.admit("nobody", None).is_ok());
    }

    #[test]
    fn an_address_trying_many_names_waits_and_its_network_with_it() {
        let t = throttle(2, 30, 600, 8);
        let sprayer: IpAddr = "2001:db8:1:2::17".parse().unwrap();
        // Four names, one failure each: no name waits, the address has used its four.
        for name in ["a", "b", "c", "d"] {
            assert!(t.admit(name, Some(sprayer)).is_ok(), "{name}");
            t.failed(name, Some(sprayer));
        }
        // A fifth name from the same /64 waits; from elsewhere, or with no address, it does not.
        let neighbour: IpAddr = "2001:db8:1:2:ffff::1".parse().unwrap();
        assert!(
            matches!(t.admit("e", Some(neighbour)), Err(Refusal::Wait(w)) if w > Duration::from_secs(29))
        );
        assert!(
            t.admit("e", Some("2001:db8:1:3::17".parse().unwrap()))
                .is_ok()
        );
        assert!(t.admit("e", None).is_ok());
        // A success at a name does not clear its address's count.
        t.succeeded("a");
        assert!(t.admit("a", Some(sprayer)).is_err());
    }

    #[test]
    fn an_addresss_count_is_forgotten_after_a_quiet_spell() {
        let counts: Counts<IpAddr> = Counts::new(
            1,
            &ReviewSettings::default(),
            Some(Duration::from_millis(50)),
        );
        let a = IpAddr::from([198, 51, 100, 4]);
        assert_eq!(counts.failed(a), 1);
        assert_eq!(counts.failed(a), 2);
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(counts.failed(a), 1);
    }

    #[test]
    fn passwords_beyond_the_cap_are_refused_not_queued() {
        let t = throttle(3, 2, 60, 2);
        let a = t.admit("a", None).expect("first");
        let _b = t.admit("b", None).expect("second");
        assert_eq!(t.admit("c", None).err(), Some(Refusal::Busy));
        drop(a);
        assert!(t.admit("c", None).is_ok());
    }
}
