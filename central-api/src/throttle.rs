//! Sign-in throttling. Failed attempts are counted per username, registered or not (an unknown
//! name is throttled exactly as a real one, so throttling tells nobody which names exist):
//! after `sign_in_free_attempts` failures each further attempt must wait, the wait doubling
//! from `sign_in_delay_s` up to `sign_in_max_delay_s`; a success clears the count. An attempt
//! made while it must wait is refused before any password is checked. Passwords are checked at
//! most `sign_in_max_concurrent` at a time (Argon2 takes about 19 MiB and a core's time each);
//! beyond that an attempt is refused at once rather than queued.
//!
//! This is the quick, in-memory half. The lasting half — an account locked after
//! `sign_in_lock_after` failures in a row until an administrator unlocks it — is in the
//! database (`db::officers::sign_in_failed`), so a restart does not reset it.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use prometheus_client::metrics::counter::Counter;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::ReviewSettings;

/// Usernames remembered at most; past this, those whose wait has long ended are forgotten
/// first, then the oldest.
const REMEMBERED: usize = 50_000;

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

/// Failed sign-ins by username, and the permits for checking a password.
#[derive(Debug, Clone)]
pub struct Throttle {
    failures: Arc<Mutex<HashMap<String, Failures>>>,
    hashing: Arc<Semaphore>,
    free: u32,
    delay: Duration,
    max_delay: Duration,
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
            "Sign-ins refused before their password was checked: too many failures at the username lately, or too many at once",
            self.throttled.clone(),
        );
    }
}

/// Why an attempt is refused before its password is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Too many failures at this username: try again after this long.
    Wait(Duration),
    /// As many passwords as allowed are being checked now.
    Busy,
}

impl Throttle {
    pub fn new(settings: &ReviewSettings) -> Self {
        Self {
            failures: Arc::default(),
            hashing: Arc::new(Semaphore::new(settings.sign_in_max_concurrent.max(1))),
            free: settings.sign_in_free_attempts,
            delay: Duration::from_secs(settings.sign_in_delay_s),
            max_delay: Duration::from_secs(settings.sign_in_max_delay_s),
            metrics: ThrottleMetrics::default(),
        }
    }

    fn key(username: &str) -> String {
        username.trim().to_lowercase()
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

    /// Admits an attempt at `username`: a permit to check its password, or why not now.
    pub fn admit(&self, username: &str) -> Result<OwnedSemaphorePermit, Refusal> {
        let key = Self::key(username);
        if let Some(f) = lock(&self.failures).get(&key) {
            let until = f.last + self.wait_after(f.count);
            let now = Instant::now();
            if until > now {
                self.metrics.throttled.inc();
                return Err(Refusal::Wait(until - now));
            }
        }
        self.hashing.clone().try_acquire_owned().map_err(|_| {
            self.metrics.throttled.inc();
            Refusal::Busy
        })
    }

    /// Counts a failed attempt at `username`; returns the failures in a row.
    pub fn failed(&self, username: &str) -> u32 {
        self.metrics.failures.inc();
        let mut failures = lock(&self.failures);
        if failures.len() >= REMEMBERED {
            let now = Instant::now();
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
        let f = failures.entry(Self::key(username)).or_insert(Failures {
            count: 0,
            last: Instant::now(),
        });
        f.count = f.count.saturating_add(1);
        f.last = Instant::now();
        f.count
    }

    /// A successful sign-in at `username`: its count starts again.
    pub fn succeeded(&self, username: &str) {
        lock(&self.failures).remove(&Self::key(username));
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
            sign_in_delay_s: delay_s,
            sign_in_max_delay_s: max_s,
            sign_in_max_concurrent: concurrent,
            ..ReviewSettings::default()
        })
    }

    #[test]
    fn the_wait_doubles_after_the_free_attempts_up_to_the_cap() {
        let t = throttle(3, 2, 60, 1);
        let waits: Vec<u64> = (0..10).map(|n| t.wait_after(n).as_secs()).collect();
        assert_eq!(waits, [0, 0, 0, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(t.wait_after(u32::MAX), Duration::from_secs(60));
    }

    #[test]
    fn a_name_that_failed_too_often_waits_whoever_it_is_and_a_success_clears_it() {
        let t = throttle(2, 30, 600, 4);
        for _ in 0..2 {
            assert!(t.admit("Nobody").is_ok());
            t.failed("nobody");
        }
        // Any spelling of the same name waits; another name does not.
        assert!(matches!(t.admit(" NOBODY"), Err(Refusal::Wait(w)) if w > Duration::from_secs(29)));
        assert!(t.admit("reviewer").is_ok());
        t.succeeded("nobody");
        assert!(t.admit("nobody").is_ok());
    }

    #[test]
    fn passwords_beyond_the_cap_are_refused_not_queued() {
        let t = throttle(3, 2, 60, 2);
        let a = t.admit("a").expect("first");
        let _b = t.admit("b").expect("second");
        assert_eq!(t.admit("c").err(), Some(Refusal::Busy));
        drop(a);
        assert!(t.admit("c").is_ok());
    }
}
