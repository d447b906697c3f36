//! Waits between attempts of work that is tried again until it succeeds (outbox relays,
//! deliveries).

use std::time::Duration;

/// After attempt number `attempts` (from 1): 2, 4, 8 … seconds, at most `max_s` (and at least 1).
pub fn backoff(attempts: u32, max_s: u64) -> Duration {
    let exp = attempts.clamp(1, 20);
    Duration::from_secs(2u64.saturating_pow(exp).min(max_s.max(1)))
}

#[cfg(test)]
mod tests {
    use super::backoff;

    #[test]
    fn waits_grow_and_stop_growing() {
        let secs: Vec<u64> = (1..=10).map(|n| backoff(n, 300).as_secs()).collect();
        assert_eq!(secs, [2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(backoff(0, 300).as_secs(), 2);
        assert_eq!(backoff(5, 0).as_secs(), 1);
    }
}
